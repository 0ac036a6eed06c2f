"""``doctor``'s look at our own certificate (``[tls] cert_file`` and ``key_file``).

The door presents it to every caller of its TLS listener, to a registrar that asks for a client
certificate and to the browsers of the HTTPS API. When it expires nothing on the door says so:
the peers refuse the handshake, and the door only sees handshakes fail. So the doctor reads the
dates (FAIL once expired or not yet valid, WARN within ``RENEW_DAYS``) and loads the pair as
the listener does (a key that does not match is a FAIL with OpenSSL's reason).
"""

from __future__ import annotations

import datetime
import ssl

from endpoint.config import TlsSettings
from endpoint.service.findings import Finding, Level, ok
from endpoint.tls import server_context

#: Warn this many days before our certificate expires: time to renew it on a door that is
#: looked at once a week.
RENEW_DAYS = 14

CHECK = "certificate [tls] cert_file"


def check_certificate(tls: TlsSettings, now: datetime.datetime) -> list[Finding]:
    """Nothing when no certificate is configured; else one finding. ``now``: aware, UTC."""
    if tls.certificate is None:
        return []
    cert_file, key_file = tls.certificate
    try:
        server_context(tls)  # the listener's own loading
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        return [
            Finding(
                Level.FAIL,
                CHECK,
                f"{cert_file} with {key_file} cannot be used ({reason})",
                "cert_file must be PEM (the certificate first, then any intermediates) and "
                "key_file its unencrypted private key",
            )
        ]
    from cryptography import x509  # only here: the doctor's one-shot process pays for it

    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except (ValueError, OSError) as exc:  # OpenSSL took the file; cryptography's reader may not
        return [Finding(Level.WARN, CHECK, f"{cert_file}: dates not readable ({exc})")]
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    subject = cert.subject.rfc4514_string() or "(no subject)"
    renew = f"renew {cert_file} (and key_file); TLS peers refuse an expired certificate"
    if now < start:
        return [
            Finding(
                Level.FAIL,
                CHECK,
                f"{subject} is not valid before {start:%Y-%m-%d %H:%M} UTC",
                "check this device's clock (timedatectl), or use a certificate valid now",
            )
        ]
    if now >= end:
        return [Finding(Level.FAIL, CHECK, f"{subject} expired on {end:%Y-%m-%d}", renew)]
    left = (end - now).days
    if left < RENEW_DAYS:
        return [
            Finding(
                Level.WARN,
                CHECK,
                f"{subject} expires on {end:%Y-%m-%d}, in {left} day(s)",
                renew,
            )
        ]
    return [ok(CHECK, f"{subject} valid until {end:%Y-%m-%d}")]
