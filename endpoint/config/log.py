"""``[log]``: how much the service tells the journal."""

from __future__ import annotations

from endpoint.config.reader import Document, Section, choice


def read(doc: Document) -> str:
    return doc.reader("log").get(
        "level",
        "info",
        choice("debug", "info", "warning", "error"),
        'one of "debug", "info", "warning", "error"',
    )


LOG = Section("log", ("level",), "info", read)
