"""Whether a configuration needs TLS in the process at all (issue 19: no OpenSSL otherwise).

``sip-endpoint run`` imports asyncio without ``ssl`` when this is false, which keeps libssl and
libcrypto (about 4.6 MB of a Pi Zero's RSS) out of the process. Every feature that opens a TLS
connection or listener must therefore be named here; ``TLS_KEYS`` lists the keys read, so that a
SIGHUP reload that turns one of them on can ask for a restart instead (``service/reload.py``).
SRTP and DTLS do not count: pylibsrtp and cryptography bring their own OpenSSL at the first
encrypted call, without Python's ``ssl``.
"""

from __future__ import annotations

from endpoint.config.loader import Config

#: The ``(section, key)`` pairs whose values decide ``needs_tls``.
TLS_KEYS = frozenset(
    {
        ("sip", "transport"),
        ("tls", "ca_file"),
        ("tls", "cert_file"),
        ("tls", "key_file"),
        ("http", "webhooks"),
        ("mqtt", "broker"),
    }
)


def needs_tls(config: Config) -> bool:
    """True for SIP over TLS, any ``[tls]`` file (the HTTP API serves https with cert_file, an
    mqtts broker is checked against ca_file), an ``mqtts://`` broker or an https webhook."""
    tls = config.tls
    return (
        config.sip.transport == "tls"
        or any(file is not None for file in (tls.ca_file, tls.cert_file, tls.key_file))
        or (config.mqtt.broker or "").lower().startswith("mqtts:")
        or any(url.lower().startswith("https:") for url in config.http.webhooks)
    )
