"""TLS contexts for SIP over TLS (RFC 3261 §26.2.1, RFC 5630) and readable handshake failures.

Only the runtime touches ``ssl``: the core knows the transport by its name ("tls") alone. Both
sides insist on TLS 1.2 or newer. The client checks the server's chain against ``[tls] ca_file``
(the system store without it) and its host name against the name the registrar was configured
with (sent as SNI), because an IP address we resolved it to proves nothing about who answers.
An installer reading the log must see *why* a handshake failed (wrong CA, expired, wrong name)
and which key to change, not an OpenSSL error code.
"""

from __future__ import annotations

import ssl

from endpoint.config import TlsSettings


def client_context(settings: TlsSettings) -> ssl.SSLContext:
    """The context for connections we open (to a registrar, a proxy, a peer).

    Raises ``ssl.SSLError`` or ``OSError`` for unreadable or mismatched files."""
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH,
        cafile=str(settings.ca_file) if settings.ca_file is not None else None,
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not settings.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if settings.certificate is not None:
        cert, key = settings.certificate
        context.load_cert_chain(str(cert), str(key))
    return context


def server_context(settings: TlsSettings) -> ssl.SSLContext | None:
    """The context of the TLS listener (peer-to-peer mode), or None without our certificate.

    Clients are not asked for a certificate: callers are admitted by ``[sip] accept_from`` and
    the call policy, as over the other transports."""
    if settings.certificate is None:
        return None
    cert, key = settings.certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    return context


#: OpenSSL's verify codes (``X509_V_ERR_*``) an installer meets, with the fix.
_VERIFY_FIXES: dict[int, str] = {
    10: "the server's certificate has expired: renew it on the server (or fix this clock)",
    9: "the server's certificate is not valid yet: check this device's clock",
    18: "the server's certificate is self-signed: put it in [tls] ca_file",
    19: "the server's chain ends in a CA we do not trust: put that CA in [tls] ca_file",
    20: "the server's certificate was signed by a CA we do not trust: put that CA in [tls] ca_file",
    21: "the server's certificate was signed by a CA we do not trust: put that CA in [tls] ca_file",
    62: "the server's certificate is not for the name we called: use the name in its "
    "certificate in [account] registrar, or get a certificate for this name",
    64: "the server's certificate is not for the address we called: use the name in its "
    "certificate in [account] registrar",
}


def describe_failure(exc: BaseException) -> str:
    """One line saying why a TLS handshake failed and what to change."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        fix = _VERIFY_FIXES.get(code, "check [tls] ca_file and the server's certificate")
        return f"certificate refused ({exc.verify_message}): {fix}"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        if "VERSION" in reason.upper() or "PROTOCOL" in reason.upper():
            return f"TLS handshake failed ({reason}): the server must offer TLS 1.2 or newer"
        return f"TLS handshake failed ({reason})"
    return f"{type(exc).__name__}: {exc}"
