"""``[history]``: call and door history in SQLite under the service's ``StateDirectory``."""

from __future__ import annotations

from dataclasses import dataclass

from endpoint.config.reader import Document, Section, int_in


@dataclass(frozen=True, slots=True)
class HistorySettings:
    """The ``[history]`` section: how long and how much call history is kept."""

    retention_days: int = 90
    #: The database is trimmed (oldest rows first) when it grows past this many MiB.
    max_mb: int = 50


def read(doc: Document) -> HistorySettings:
    r = doc.reader("history")
    return HistorySettings(
        retention_days=r.get(
            "retention_days", 90, int_in(1, 3650), "days between 1 and 3650, e.g. 90"
        ),
        max_mb=r.get("max_mb", 50, int_in(1, 10000), "MiB between 1 and 10000, e.g. 50"),
    )


HISTORY = Section("history", ("retention_days", "max_mb"), HistorySettings(), read)
