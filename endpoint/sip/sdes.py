"""SDES: SRTP keys in SDP ``a=crypto`` lines (RFC 4568), parsed and made, sans-IO.

``a=crypto:<tag> <suite> inline:<base64 key||salt>[|lifetime][|MKI:length] [session params]``.
We offer one line per suite we support, each with its own fresh key, and answer the offered
line ``choose`` picks (AEAD AES-GCM when listed, else the offerer's first) with the same tag and
a key of our own (§7.1.1). A line with an MKI, several keys or session parameters we do not
implement is skipped rather than half understood (§6.3: an answerer must not accept parameters
it does not support). The key's length is checked against its suite; a key never appears in a
log line or a ``repr``. Keys come from the random source the caller passes (``random.SystemRandom``
in production).
"""

from __future__ import annotations

import base64
import binascii
import random
from dataclasses import dataclass, field

from endpoint.sip.sdp import MediaDescription

#: Suite -> bytes of master key plus salt, in our order of preference (RFC 4568 §6.2, RFC 7714).
#: AEAD AES-GCM first: one pass that both encrypts and authenticates with a 128-bit tag, and
#: in a live call its cold protect (once per 20 ms, caches evicted) costs about 10 µs less than
#: AES-CM followed by HMAC-SHA1 (issue 15, ``benchmarks/bench_srtp_live.py``).
SUITE_KEY_BYTES: dict[str, int] = {
    "AEAD_AES_128_GCM": 28,
    "AES_CM_128_HMAC_SHA1_80": 30,
    "AES_CM_128_HMAC_SHA1_32": 30,
}


@dataclass(frozen=True, slots=True)
class Crypto:
    """One usable ``a=crypto`` line."""

    tag: int
    suite: str
    key: bytes = field(repr=False)

    def __str__(self) -> str:
        return f"{self.tag} {self.suite} inline:{base64.b64encode(self.key).decode()}"


@dataclass(frozen=True, slots=True)
class SrtpKeys:
    """What an offer/answer agreed for SRTP: the suite, our sending key, the peer's key."""

    suite: str
    local: bytes = field(repr=False)
    remote: bytes = field(repr=False)


def new_key(suite: str, rng: random.Random) -> bytes:
    return rng.getrandbits(8 * SUITE_KEY_BYTES[suite]).to_bytes(SUITE_KEY_BYTES[suite], "big")


def parse_crypto(value: str) -> Crypto | None:
    """One ``a=crypto`` value, or None when we cannot use it (unknown suite, MKI, params)."""
    parts = value.split()
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[0]) > 9:
        return None
    tag, suite, key_params = int(parts[0]), parts[1], parts[2]
    if suite not in SUITE_KEY_BYTES or not key_params.startswith("inline:"):
        return None
    key_info = key_params[len("inline:") :].split("|")
    if len(key_info) > 2 or (len(key_info) == 2 and ":" in key_info[1]):
        return None  # an MKI (n:len) we would have to put in every packet
    try:
        key = base64.b64decode(key_info[0], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(key) != SUITE_KEY_BYTES[suite]:
        return None
    return Crypto(tag, suite, key)


def offered(media: MediaDescription) -> list[Crypto]:
    """The usable ``a=crypto`` lines of an m= line, in the offerer's order of preference."""
    out: list[Crypto] = []
    for key, value in media.attributes:
        if key == "crypto" and value is not None:
            crypto = parse_crypto(value)
            if crypto is not None:
                out.append(crypto)
    return out


def choose(lines: list[Crypto]) -> Crypto | None:
    """The offered line we answer: AEAD AES-GCM when the offerer lists it (RFC 7714: a 128-bit
    tag, and the cheaper suite here, see ``SUITE_KEY_BYTES``), else the offerer's first line.
    RFC 4568 §7.1.1 leaves the pick among usable lines to the answerer."""
    for line in lines:
        if line.suite == "AEAD_AES_128_GCM":
            return line
    return lines[0] if lines else None


def our_offer(rng: random.Random, suites: tuple[str, ...] = tuple(SUITE_KEY_BYTES)) -> list[Crypto]:
    """A fresh line per suite, tags 1..n."""
    return [Crypto(n, suite, new_key(suite, rng)) for n, suite in enumerate(suites, start=1)]
