"""A secret kept in a file of its own (a token, a broker password): the config can then be
world-readable, and the secret itself never appears in a problem line."""

from __future__ import annotations

from endpoint.config.reader import Document, Reader, path, show


def read_secret_file(r: Reader, doc: Document, key: str, what: str) -> str:
    """The first line of the file ``key`` names; "" and a problem if it cannot be read or is
    empty."""
    file = doc.relative(r.get(key, None, path, f'a file path, e.g. "/etc/sip-endpoint/{key}"'))
    if file is None:
        return ""
    try:
        secret = file.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not text"
        r.problems.append(
            f"[{r.section}] {key} = {show(str(file))}: cannot be read ({reason}); create it "
            f"with {what} on one line, readable by the service user"
        )
        return ""
    if not secret:
        r.problems.append(
            f"[{r.section}] {key} = {show(str(file))}: the file is empty; put {what} on its "
            "first line"
        )
    return secret
