"""DTLS-SRTP keying (RFC 5763, RFC 5764) for one call, driven by bytes in and bytes out.

The DTLS handshake runs on the call's RTP socket: the media thread hands us every datagram whose
first byte is 20..63 (RFC 7983 §7: DTLS; 128..191 is RTP/RTCP) and sends what
``datagrams_to_send`` returns to the peer's RTP address. OpenSSL runs on memory BIOs
(``bio_write`` / ``bio_read``), so this object holds no socket; the retransmission timer is a
deadline (``get_timer`` / ``handle_timer``) the media loop executes, like every other timer.

Trust comes from the SDP, not from a CA (RFC 5763 §5): the peer's certificate is self-signed and
its SHA-256 fingerprint must be the ``a=fingerprint`` of the signalling; anything else fails the
handshake with a reason the call ends with. Once done, the SRTP master keys and salts are
exported with the ``EXTRACTOR-dtls_srtp`` label (RFC 5764 §4.2) and handed to libsrtp through
``SrtpProtection``, the same class SDES keys feed.

Our certificate is made once per process (ECDSA P-256, valid 30 days, ``DtlsIdentity``): DTLS-SRTP
binds it to the call through the fingerprint in our SDP, so nothing gains from keeping one on
disk, and a fresh one per start leaves no private key in the state directory to protect.
"""

from __future__ import annotations

import datetime
import hmac

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

from endpoint.media.srtp import SUITES, SrtpProtection

#: OpenSSL's DTLS-SRTP profile names (RFC 5764 §4.1.2, RFC 7714 §14.2) -> our suite names, in
#: our order of preference (AEAD AES-GCM first, as for SDES: ``endpoint.sip.sdes``).
PROFILES: dict[bytes, str] = {
    b"SRTP_AEAD_AES_128_GCM": "AEAD_AES_128_GCM",
    b"SRTP_AES128_CM_SHA1_80": "AES_CM_128_HMAC_SHA1_80",
    b"SRTP_AES128_CM_SHA1_32": "AES_CM_128_HMAC_SHA1_32",
}
#: The only hash we put in our SDP and the one we check (RFC 8122 §5: SHA-256 is a MUST).
FINGERPRINT_HASH = "sha-256"
#: DTLS records that are too large for one UDP datagram are split by OpenSSL under this MTU.
MTU = 1200
#: A handshake flight bigger than this is not a DTLS-SRTP peer's: refuse to buffer more.
MAX_PENDING = 16
#: Seconds from the start of the call's media to a finished handshake before the call ends
#: (OpenSSL alone would keep doubling its retransmission timer for minutes).
HANDSHAKE_LIMIT = 20.0


def format_fingerprint(digest: bytes) -> str:
    """``AB:CD:...``, upper-case hex pairs (RFC 8122 §5)."""
    return ":".join(f"{b:02X}" for b in digest)


class DtlsIdentity:
    """Our self-signed certificate and key, and its fingerprint for ``a=fingerprint``."""

    def __init__(self, now: datetime.datetime) -> None:
        """``now``: the wall clock, from the runtime (the core reads no clock)."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sip-endpoint")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256())
        )
        self.certificate = cert
        self.key = key
        #: ``sha-256 AB:CD:...``, the value of our ``a=fingerprint`` attribute.
        digest = cert.fingerprint(hashes.SHA256())
        self.fingerprint = f"{FINGERPRINT_HASH} {format_fingerprint(digest)}"


def _accept_any(*_: object) -> bool:
    # The chain is self-signed by design; who the peer is, the SDP fingerprint decides.
    return True


class DtlsSrtp:
    """One call's DTLS handshake; ``protection()`` gives the SRTP session once it is done."""

    def __init__(
        self,
        identity: DtlsIdentity,
        *,
        client: bool,
        remote_fingerprint: str,
        profiles: tuple[bytes, ...] = tuple(PROFILES),
    ) -> None:
        """``client``: we send the ClientHello (our ``a=setup:active``, RFC 5763 §5);
        ``remote_fingerprint``: the peer's ``a=fingerprint`` (``sha-256 AB:CD:...``);
        ``profiles``: the use_srtp profiles we agree to, in our order (all of ``PROFILES``)."""
        if not profiles or any(p not in PROFILES for p in profiles):
            raise ValueError(f"SRTP profiles must be a choice of {sorted(PROFILES)}")
        context = SSL.Context(SSL.DTLS_METHOD)
        context.use_certificate(identity.certificate)
        context.use_privatekey(identity.key)
        context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, _accept_any)
        context.set_tlsext_use_srtp(b":".join(profiles))
        self._conn = SSL.Connection(context)
        if client:
            self._conn.set_connect_state()
        else:
            self._conn.set_accept_state()
        self.client = client
        self._expected = _parse_fingerprint(remote_fingerprint)
        self._deadline: float | None = None
        self._give_up: float | None = None
        self._started = False
        self.done = False
        #: Why the handshake failed (the call ends with it), else None.
        self.failure: str | None = None
        self._protection: SrtpProtection | None = None
        #: DTLS datagrams dropped: after the handshake, or before we were ready.
        self.ignored = 0

    def start(self, now: float) -> None:
        """Begin: a client sends its ClientHello; a server waits for one."""
        if self._started:
            return
        self._started = True
        self._give_up = now + HANDSHAKE_LIMIT
        if self.client:
            self._step(now)

    def receive(self, data: bytes, now: float) -> None:
        """A DTLS datagram from the call's RTP socket."""
        if self.failure is not None:
            self.ignored += 1
            return
        self.start(now)
        self._conn.bio_write(data)
        if not self.done:
            self._step(now)
            return
        # The peer repeats its last flight when our Finished was lost (RFC 6347 §4.2.4):
        # reading lets OpenSSL answer it. The keys are fixed; application data has no use here.
        try:
            self._conn.recv(2048)
        except SSL.Error:
            self.ignored += 1

    def _step(self, now: float) -> None:
        try:
            self._conn.do_handshake()
        except SSL.WantReadError:
            self._arm(now)
            return
        except SSL.Error as exc:
            self._fail(f"DTLS handshake failed: {_reason(exc)}")
            return
        self._finish()

    def _arm(self, now: float) -> None:
        timeout = self._conn.DTLSv1_get_timeout()
        self._deadline = None if timeout is None else now + timeout

    def _finish(self) -> None:
        self._deadline = None
        cert = self._conn.get_peer_certificate(as_cryptography=True)
        if cert is None:
            self._fail("the peer presented no DTLS certificate")
            return
        got = cert.fingerprint(hashes.SHA256())
        if not hmac.compare_digest(got, self._expected):
            self._fail(
                "the peer's DTLS certificate does not match the a=fingerprint of its SDP "
                f"(got sha-256 {format_fingerprint(got)[:23]}...)"
            )
            return
        profile = self._conn.get_selected_srtp_profile()
        suite = PROFILES.get(profile)
        if suite is None:
            self._fail("the peer agreed on no SRTP protection profile (use_srtp, RFC 5764)")
            return
        _, key, salt = SUITES[suite]
        material = self._conn.export_keying_material(b"EXTRACTOR-dtls_srtp", 2 * (key + salt))
        # RFC 5764 §4.2: client key, server key, client salt, server salt.
        client_key = material[:key] + material[2 * key : 2 * key + salt]
        server_key = material[key : 2 * key] + material[2 * key + salt :]
        local, remote = (client_key, server_key) if self.client else (server_key, client_key)
        self._protection = SrtpProtection(suite, local, remote, keying="dtls-srtp")
        self.done = True

    def _fail(self, reason: str) -> None:
        self._deadline = None
        self.failure = reason

    def datagrams_to_send(self) -> list[bytes]:
        """DTLS records to send to the peer's RTP address, one datagram each."""
        out: list[bytes] = []
        for _ in range(MAX_PENDING):
            try:
                data = self._conn.bio_read(MTU * 4)
            except SSL.WantReadError:
                break
            if not data:
                break
            out.append(data)
        return out

    def get_timer(self) -> float | None:
        """When the current flight must be retransmitted (RFC 6347 §4.2.4), or when we give
        up on the handshake; None once it is done or failed."""
        if self.done or self.failure is not None:
            return None
        times = [t for t in (self._deadline, self._give_up) if t is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        if self.done or self.failure is not None:
            return
        if self._give_up is not None and now >= self._give_up:
            self._fail(f"no DTLS handshake with the peer within {HANDSHAKE_LIMIT:g} s")
            return
        if self._deadline is None or now < self._deadline:
            return
        try:
            self._conn.DTLSv1_handle_timeout()
        except SSL.Error as exc:
            self._fail(f"DTLS handshake failed: {_reason(exc)}")
            return
        self._arm(now)

    def protection(self) -> SrtpProtection | None:
        """The SRTP session keyed by the handshake, once it is done."""
        return self._protection


def _parse_fingerprint(value: str) -> bytes:
    """``sha-256 AB:CD:...`` -> the 32 digest bytes; ValueError for anything else."""
    parts = value.split()
    if len(parts) != 2 or parts[0].lower() != FINGERPRINT_HASH:
        raise ValueError(f"not a {FINGERPRINT_HASH} fingerprint")
    pairs = parts[1].split(":")
    if len(pairs) != 32 or any(len(p) != 2 for p in pairs):
        raise ValueError("a sha-256 fingerprint has 32 hex pairs")
    return bytes.fromhex("".join(pairs))


def valid_fingerprint(value: str) -> bool:
    try:
        _parse_fingerprint(value)
    except ValueError:
        return False
    return True


def _reason(exc: SSL.Error) -> str:
    details = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
    texts = [str(d[2]) for d in details if isinstance(d, tuple) and len(d) == 3]
    return ", ".join(texts) or type(exc).__name__
