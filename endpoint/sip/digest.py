"""Digest authentication, client side (RFC 2617, RFC 7616, RFC 8760 for SIP).

A 401 or 407 carries one or more challenges; we answer the strongest we support (SHA-512-256 >
SHA-256 > MD5, "-sess" variants by their base), with qop=auth (or auth-int when it is the only
one offered), a cnonce from the injected random source, and nc counted per nonce. ``stale=true``
means our password was right and only the nonce expired, so the retry does not count as a
failure; the same nonce challenged again after we answered means the password is wrong, and the
caller must stop instead of looping (``DigestError``); so must it after a few stale nonces in a
row, or a stale challenge that repeats the nonce we just answered. The password and everything
derived from it stay out of ``repr`` and error messages.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field

from endpoint.sip.errors import ParseError, SipError

_ALGORITHMS = {
    "MD5": (hashlib.md5, 1),
    "SHA-256": (hashlib.sha256, 2),
    "SHA-512-256": (lambda data=b"": hashlib.new("sha512_256", data), 3),
}

#: Stale-nonce retries in a row (without a success in between) before we give up: a server that
#: calls every nonce stale would otherwise keep us re-sending for ever.
MAX_STALE_RETRIES = 3

_PARAM_RE = re.compile(
    r'[ \t]*([A-Za-z0-9\-_.!%*+`\'~]+)[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|[^, \t"]+)[ \t]*(,|$)'
)


class DigestError(SipError):
    """The server rejected our credentials (or offered nothing we support): stop retrying."""


@dataclass(frozen=True, slots=True)
class Challenge:
    """One ``Digest`` challenge from a WWW-Authenticate or Proxy-Authenticate value."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    session: bool = False
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False
    userhash: bool = False

    @property
    def strength(self) -> int:
        return _ALGORITHMS[self.algorithm][1]


def parse_challenge(value: str) -> Challenge | None:
    """Parse a challenge; None for a scheme other than Digest or an unsupported algorithm.

    Raises ParseError for a malformed Digest challenge.
    """
    # RFC 3261 §25.1: the scheme is followed by LWS, which may be a tab as well as a space.
    text = value.strip()
    cut = min((i for i in (text.find(" "), text.find("\t")) if i >= 0), default=len(text))
    if text[:cut].lower() != "digest":
        return None
    params: dict[str, str] = {}
    pos = 0
    rest = text[cut:].strip()
    while pos < len(rest):
        m = _PARAM_RE.match(rest, pos)
        if m is None:
            raise ParseError(f"malformed Digest challenge near {rest[pos : pos + 30]!r}")
        raw = m.group(2)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[m.group(1).lower()] = raw
        pos = m.end()
        if len(params) > 32:
            raise ParseError("too many Digest parameters")
    if "realm" not in params or "nonce" not in params:
        raise ParseError("Digest challenge without realm or nonce")
    algorithm = params.get("algorithm", "MD5").upper()
    session = algorithm.endswith("-SESS")
    base = algorithm[: -len("-SESS")] if session else algorithm
    if base not in _ALGORITHMS:
        return None
    qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
    return Challenge(
        realm=params["realm"],
        nonce=params["nonce"],
        algorithm=base,
        session=session,
        qop=qop,
        opaque=params.get("opaque"),
        stale=params.get("stale", "").lower() == "true",
        userhash=params.get("userhash", "").lower() == "true",
    )


def _h(algorithm: str, text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return str(_ALGORITHMS[algorithm][0](data).hexdigest())


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def digest_response(
    challenge: Challenge,
    username: str,
    password: str,
    method: str,
    uri: str,
    *,
    nc: str,
    cnonce: str,
    qop: str | None,
    body: bytes = b"",
) -> str:
    """The ``response`` value of RFC 7616 §3.4.1 (RFC 2069 form when ``qop`` is None)."""
    alg = challenge.algorithm
    ha1 = _h(alg, f"{username}:{challenge.realm}:{password}")
    if challenge.session:
        ha1 = _h(alg, f"{ha1}:{challenge.nonce}:{cnonce}")
    if qop == "auth-int":
        ha2 = _h(alg, f"{method}:{uri}:{_h(alg, body)}")
    else:
        ha2 = _h(alg, f"{method}:{uri}")
    if qop is None:
        return _h(alg, f"{ha1}:{challenge.nonce}:{ha2}")
    return _h(alg, f"{ha1}:{challenge.nonce}:{nc}:{cnonce}:{qop}:{ha2}")


@dataclass
class _NonceState:
    challenge: Challenge
    nc: int = 0
    answered: bool = False
    stale_retries: int = 0


@dataclass
class DigestClient:
    """Answers digest challenges for one account; keeps per-realm nonce state."""

    username: str
    password: str = field(repr=False)
    rng: random.Random = field(repr=False)
    _realms: dict[tuple[int, str], _NonceState] = field(default_factory=dict, repr=False)
    _stale_retry: bool = field(default=False, repr=False)

    def __repr__(self) -> str:
        return f"DigestClient(username={self.username!r})"

    def answer(
        self, challenges: list[str], kind: int, method: str, uri: str, body: bytes = b""
    ) -> list[tuple[str, str]]:
        """Credentials for a 401 (``kind=401``) or 407 response's challenge values.

        Returns the ``(header name, value)`` fields to add to the re-sent request: one per
        realm that challenged. Raises DigestError when retrying cannot help, including when
        every challenge is malformed (a malformed one beside a usable one is skipped, so that a
        peer's bad header never escapes as anything but "stop").
        """
        header = "Authorization" if kind == 401 else "Proxy-Authorization"
        best: dict[str, Challenge] = {}
        malformed: ParseError | None = None
        for value in challenges:
            try:
                challenge = parse_challenge(value)
            except ParseError as exc:
                malformed = exc
                continue
            if challenge is None:
                continue
            current = best.get(challenge.realm)
            if current is None or challenge.strength > current.strength:
                best[challenge.realm] = challenge
        if not best:
            detail = f": {malformed.reason}" if malformed is not None else ""
            raise DigestError(f"no supported Digest challenge (MD5, SHA-256, SHA-512-256){detail}")
        fields = []
        stale_retry = True
        for realm, challenge in best.items():
            old = self._realms.get((kind, realm))
            self._check_not_rejected(old, challenge, realm)
            state = _NonceState(challenge)
            if old is not None and old.challenge.nonce == challenge.nonce:
                state.nc = old.nc  # the same nonce again: nc goes on (RFC 7616 §3.4)
            if old is not None and challenge.stale:
                state.stale_retries = old.stale_retries + 1
            else:
                stale_retry = False
            self._realms[(kind, realm)] = state
            fields.append((header, self._credentials(state, method, uri, body)))
        self._stale_retry = stale_retry
        return fields

    @property
    def is_stale_retry(self) -> bool:
        """The last ``answer`` only renewed stale nonces: not an authentication failure."""
        return self._stale_retry

    def _check_not_rejected(
        self, old: _NonceState | None, challenge: Challenge, realm: str
    ) -> None:
        if old is None or not old.answered:
            return
        rejected = f"credentials for {self.username!r} rejected by realm {realm!r}"
        if not challenge.stale:
            # Challenged again after we answered, and not because the nonce went stale:
            # the server refused the credentials (RFC 7616 §3.3).
            raise DigestError(rejected)
        if challenge.nonce == old.challenge.nonce:
            raise DigestError(f"{rejected} (stale, but the nonce we just used)")
        if old.stale_retries >= MAX_STALE_RETRIES:
            raise DigestError(f"{rejected} ({MAX_STALE_RETRIES} stale nonces in a row)")

    def authorize(self, method: str, uri: str, body: bytes = b"") -> list[tuple[str, str]]:
        """Pre-emptive credentials from the last challenges (next nc), as pjsip does.

        Marks them not-yet-answered, so that a new challenge after a pre-emptive attempt is
        treated as a nonce refresh rather than as wrong credentials.
        """
        fields = []
        for (kind, _realm), state in self._realms.items():
            header = "Authorization" if kind == 401 else "Proxy-Authorization"
            fields.append((header, self._credentials(state, method, uri, body)))
            state.answered = False
        return fields

    def succeeded(self) -> None:
        """The request was accepted: a later challenge is a fresh one, not a rejection."""
        for state in self._realms.values():
            state.answered = False
            state.stale_retries = 0

    def _credentials(self, state: _NonceState, method: str, uri: str, body: bytes) -> str:
        c = state.challenge
        alg = c.algorithm
        state.nc += 1
        state.answered = True
        nc = f"{state.nc:08x}"
        cnonce = f"{self.rng.getrandbits(64):016x}"
        qop = None
        if "auth" in c.qop:
            qop = "auth"
        elif "auth-int" in c.qop:
            qop = "auth-int"
        response = digest_response(
            c, self.username, self.password, method, uri, nc=nc, cnonce=cnonce, qop=qop, body=body
        )
        username = self.username
        if c.userhash:
            username = _h(alg, f"{self.username}:{c.realm}")
        algorithm = alg + ("-sess" if c.session else "")
        parts = [
            f"Digest username={_quote(username)}",
            f"realm={_quote(c.realm)}",
            f"nonce={_quote(c.nonce)}",
            f"uri={_quote(uri)}",
            f"response={_quote(response)}",
            f"algorithm={algorithm}",
        ]
        if c.opaque is not None:
            parts.append(f"opaque={_quote(c.opaque)}")
        if qop is not None:
            parts += [f"qop={qop}", f"nc={nc}", f"cnonce={_quote(cnonce)}"]
        elif c.session:
            # RFC 2617 §3.2.2.2: a -sess HA1 is computed over the cnonce, so the server needs
            # it even in the RFC 2069 form (where §3.2.2 otherwise leaves cnonce out).
            parts.append(f"cnonce={_quote(cnonce)}")
        if c.userhash:
            parts.append("userhash=true")
        return ", ".join(parts)
