"""``[tls]``: SIP over TLS (RFC 3261 §26, RFC 5630): whom we trust and the certificate we show."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from endpoint.config.reader import Document, Section, boolean, path, show


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """SIP over TLS (RFC 3261 §26, RFC 5630). ``ca_file`` None: the system's trust store.

    ``cert_file``/``key_file`` are our certificate: the client certificate a registrar may ask
    for, and the one a TLS listener (peer-to-peer mode) presents; without them nothing listens
    for TLS and calls arrive over the registration's own connection (RFC 5626 flow reuse).
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    #: Check the server's certificate chain and host name. False is for a lab bench only.
    verify: bool = True

    @property
    def certificate(self) -> tuple[Path, Path] | None:
        """Our certificate and its key, when both are set: what a client certificate, the TLS
        listener and the HTTPS API need (and, without it, the reason not to load ``ssl``)."""
        if self.cert_file is None or self.key_file is None:
            return None
        return self.cert_file, self.key_file


_FILES = (
    ("ca_file", "CA certificates (PEM) that signed the registrar's certificate"),
    ("cert_file", "our certificate chain (PEM)"),
    ("key_file", "the private key (PEM) of cert_file"),
)


def read(doc: Document) -> TlsSettings:
    r = doc.reader("tls")
    files: dict[str, Path | None] = {}
    for key, what in _FILES:
        file = doc.relative(r.get(key, None, path, f"the path of a file with {what}"))
        if file is not None and not file.is_file():
            doc.problems.append(
                f"[tls] {key} = {show(str(file))}: no such file; give the path of {what}"
            )
        files[key] = file
    if (files["cert_file"] is None) != (files["key_file"] is None):
        doc.problems.append("[tls] cert_file and key_file go together: set both or neither")
    return TlsSettings(
        ca_file=files["ca_file"],
        cert_file=files["cert_file"],
        key_file=files["key_file"],
        verify=r.get("verify", True, boolean, "true (check the certificate) or false"),
    )


TLS = Section("tls", (*(key for key, _ in _FILES), "verify"), TlsSettings(), read)
