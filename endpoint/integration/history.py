"""Call and door history in SQLite, written off the event loop.

The database lives in the service's ``StateDirectory`` (``$STATE_DIRECTORY``, where the door
lockout is kept too) and survives restarts and power cuts: WAL journaling, and every batch of
events is one transaction, so a process killed mid-write leaves the last committed batch and
never a broken file (SQLite's atomic commit). ``synchronous=NORMAL`` in WAL mode may lose the
last batch on a power cut but never corrupts the database.

The event loop only puts events on a bounded queue (``record``); one writer thread turns them
into rows in batches. A slow SD card therefore never delays SIP or media, and when the card is
so slow that the queue fills, events are dropped and counted rather than blocking anything.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger("endpoint.history")

FILE_NAME = "history.sqlite3"
QUEUE_SIZE = 1024
BATCH = 256
#: Seconds between retention passes of the writer.
PRUNE_EVERY = 3600.0
#: Rows the query interface returns at most, whatever is asked.
MAX_ROWS = 1000

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL UNIQUE,
    started REAL NOT NULL,
    direction TEXT NOT NULL,
    peer TEXT NOT NULL,
    answered INTEGER NOT NULL DEFAULT 0,
    answered_at REAL,
    answered_by TEXT,
    ended REAL,
    duration REAL,
    codec TEXT,
    encrypted TEXT,
    mos REAL,
    ended_how TEXT
);
CREATE INDEX IF NOT EXISTS calls_started ON calls(started);
CREATE TABLE IF NOT EXISTS door (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    event TEXT NOT NULL,
    via TEXT,
    call_id TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS door_time ON door(time);
"""

#: Door events kept in the door log, and the name each is stored under.
DOOR_EVENTS = {
    "door-opened": "opened",
    "door-open-failed": "open-failed",
    "door-locked-out": "locked-out",
    "door-lockout-ended": "lockout-ended",
    "door-code-wrong": "code-wrong",
    "door-left-open": "left-open",
    "door-sensor": "sensor",
}
#: Fields of a door event that are not stored in ``detail`` (they have columns or no use).
_DOOR_COLUMNS = frozenset({"event", "via", "call_id"})
_ENDS = frozenset({"call-ended", "call-failed", "call-rejected", "call-busy"})


def database_path(state_dir: Path | None) -> Path | None:
    return state_dir / FILE_NAME if state_dir is not None else None


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode with the schema in place (creating the file if needed)."""
    # Opened where start-up can report a failure, then used by the writer thread alone.
    db = sqlite3.connect(str(path), timeout=5.0, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect on a new file only
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
    except sqlite3.Error:
        db.close()
        raise
    return db


class HistoryStore:
    """The rows: how events become them (``apply``), trimming, and queries. Synchronous:
    called from the writer thread, or through ``asyncio.to_thread`` for reads."""

    def __init__(self, path: Path, retention_days: int, max_bytes: int) -> None:
        self.path = path
        self.retention_s = retention_days * 86400.0
        self.max_bytes = max_bytes
        self.db = connect(path)

    def close(self) -> None:
        self.db.close()

    def apply(self, batch: list[tuple[float, Mapping[str, Any]]]) -> None:
        """Store a batch of (wall time, event) in one transaction: all of it or none."""
        with contextlib.closing(self.db.cursor()) as cur:
            cur.execute("BEGIN IMMEDIATE")
            try:
                for when, event in batch:
                    self._apply_one(cur, when, event)
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def _apply_one(self, cur: sqlite3.Cursor, when: float, event: Mapping[str, Any]) -> None:
        name = event.get("event")
        call_id = _text(event.get("call_id"))
        if name in DOOR_EVENTS:
            _door_row(cur, when, str(name), call_id, event)
        elif call_id is not None:
            self._call_row(cur, when, name, call_id, event)

    @staticmethod
    def _call_row(
        cur: sqlite3.Cursor, when: float, name: object, call_id: str, event: Mapping[str, Any]
    ) -> None:
        """One call event: the call's row is made by its first event, filled in by the rest."""
        if name in ("call-incoming", "call-outgoing") or name in _ENDS:
            outgoing = name == "call-outgoing" or "to" in event
            peer = _text(event.get("to" if outgoing else "from")) or "?"
            cur.execute(
                "INSERT OR IGNORE INTO calls (call_id, started, direction, peer) "
                "VALUES (?, ?, ?, ?)",
                (call_id, when, "out" if outgoing else "in", peer),
            )
        if name == "call-answered":
            cur.execute(
                "UPDATE calls SET answered = 1, answered_at = ?, answered_by = ?, codec = ?, "
                "encrypted = ? WHERE call_id = ?",
                (
                    when,
                    _text(event.get("to")) or "door",
                    _text(event.get("codec")),
                    _text(event.get("encryption")),
                    call_id,
                ),
            )
        elif name in _ENDS or name == "transfer-succeeded":
            _ended(cur, when, str(name), call_id, event)
        elif name == "call-report":
            mos = event.get("mos")
            cur.execute(
                "UPDATE calls SET mos = ?, codec = COALESCE(?, codec), "
                "encrypted = COALESCE(?, encrypted) WHERE call_id = ?",
                (
                    float(mos)
                    if isinstance(mos, int | float) and event.get("received_packets")
                    else None,
                    _text(event.get("codec")),
                    _text(event.get("encryption")),
                    call_id,
                ),
            )

    def prune(self, wall_now: float) -> int:
        """Drop rows older than the retention, then the oldest until the file fits
        ``max_bytes``; returns the rows removed."""
        cutoff = wall_now - self.retention_s
        removed = self.db.execute("DELETE FROM calls WHERE started < ?", (cutoff,)).rowcount
        removed += self.db.execute("DELETE FROM door WHERE time < ?", (cutoff,)).rowcount
        for _ in range(20):  # bounded: each pass drops at least a tenth of the rows
            used = self.used_bytes()
            if used <= self.max_bytes:
                break
            removed += self._drop_oldest(max(0.1, (used - self.max_bytes) / used))
        if removed:
            self.db.execute("PRAGMA incremental_vacuum")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return removed

    def used_bytes(self) -> int:
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        free = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        size = self.db.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def _drop_oldest(self, share: float) -> int:
        removed = 0
        for table, column in (("calls", "started"), ("door", "time")):
            (count,) = self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            if count:
                removed += self.db.execute(
                    f"DELETE FROM {table} WHERE id IN "
                    f"(SELECT id FROM {table} ORDER BY {column} LIMIT ?)",
                    (max(1, int(count * share) + 1),),
                ).rowcount
        return removed


def _ended(
    cur: sqlite3.Cursor, when: float, name: str, call_id: str, event: Mapping[str, Any]
) -> None:
    """How a call ended: a transfer says so first, the end event keeps it (whoever sent the
    BYE afterwards); otherwise the end event's reason."""
    if name == "transfer-succeeded":
        target = _text(event.get("target")) or "?"
        cur.execute(
            "UPDATE calls SET ended_how = ? WHERE call_id = ? AND ended IS NULL",
            (f"transferred to {target}", call_id),
        )
        return
    duration = event.get("duration")
    cur.execute(
        "UPDATE calls SET ended = ?, duration = ?, ended_how = COALESCE(ended_how, ?) "
        "WHERE call_id = ? AND ended IS NULL",
        (
            when,
            float(duration) if isinstance(duration, int | float) else 0.0,
            _text(event.get("reason")) or name,
            call_id,
        ),
    )


def query(
    path: Path, kind: str = "calls", limit: int = 50, since: float | None = None
) -> list[dict[str, Any]]:
    """The newest ``limit`` rows of ``calls`` or ``door`` (newest first), on a connection of
    its own (readers never wait for the writer in WAL mode)."""
    table, column = ("calls", "started") if kind == "calls" else ("door", "time")
    limit = max(1, min(int(limit), MAX_ROWS))
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    try:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            f"SELECT * FROM {table} WHERE {column} >= ? ORDER BY {column} DESC, id DESC LIMIT ?",
            (since if since is not None else 0.0, limit),
        ).fetchall()
    finally:
        db.close()
    out = []
    for row in rows:
        item = dict(row)
        item.pop("id", None)
        if kind != "calls" and item.get("detail"):
            item["detail"] = json.loads(item["detail"])
        out.append(item)
    return out


class HistoryWriter:
    """The writer thread: events in from the loop (``record``), batches out to SQLite."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store
        self._queue: queue.Queue[tuple[float, Mapping[str, Any]] | None] = queue.Queue(QUEUE_SIZE)
        self._thread = threading.Thread(target=self._run, name="history", daemon=True)
        self.dropped = 0
        self.written = 0
        self.batches = 0
        self.failed = 0

    def start(self) -> None:
        self._thread.start()

    @property
    def pending(self) -> int:
        """Events queued and not yet written."""
        return self._queue.qsize()

    def record(self, event: Mapping[str, Any]) -> None:
        """From the event loop: never blocks; a full queue drops the event and counts it."""
        try:
            self._queue.put_nowait((time.time(), event))
        except queue.Full:
            self.dropped += 1

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued, then end the thread (bounded wait)."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)

    def _run(self) -> None:
        last_prune = 0.0
        running = True
        while running:
            batch, running = self._take()
            if batch:
                self._write(batch)
            now = time.time()
            if now - last_prune >= PRUNE_EVERY:
                last_prune = now
                self._prune(now)
        self.store.close()

    def _take(self) -> tuple[list[tuple[float, Mapping[str, Any]]], bool]:
        """The next batch (waiting up to a minute for its first event) and whether to go on."""
        batch: list[tuple[float, Mapping[str, Any]]] = []
        try:
            item = self._queue.get(timeout=60.0)
        except queue.Empty:
            return batch, True
        while item is not None:
            batch.append(item)
            if len(batch) >= BATCH:
                return batch, True
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, True
        return batch, False

    def _write(self, batch: list[tuple[float, Mapping[str, Any]]]) -> None:
        try:
            self.store.apply(batch)
        except sqlite3.Error as exc:
            self.failed += len(batch)
            log.error("history: %d event(s) not kept: %s", len(batch), exc)
            return
        self.written += len(batch)
        self.batches += 1

    def _prune(self, now: float) -> None:
        try:
            removed = self.store.prune(now)
        except sqlite3.Error as exc:
            log.error("history: retention pass failed: %s", exc)
            return
        if removed:
            log.info("history: %d old row(s) removed (retention)", removed)


def _text(value: object) -> str | None:
    return str(value)[:256] if value is not None and value != "" else None


def _door_row(
    cur: sqlite3.Cursor, when: float, name: str, call_id: str | None, event: Mapping[str, Any]
) -> None:
    """One door event; what has no column of its own is kept as JSON in ``detail``."""
    detail = {k: v for k, v in event.items() if k not in _DOOR_COLUMNS}
    cur.execute(
        "INSERT INTO door (time, event, via, call_id, detail) VALUES (?, ?, ?, ?, ?)",
        (
            when,
            DOOR_EVENTS[name],
            _text(event.get("via")),
            call_id,
            json.dumps(detail, default=str) if detail else None,
        ),
    )


def _when(wall: object) -> str:
    if not isinstance(wall, int | float):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall))


def history_lines(kind: str, rows: list[dict[str, Any]]) -> list[str]:
    """``ctl history`` as an installer reads it: one line per call or door event."""
    if not rows:
        return [f"no {'door events' if kind == 'door' else 'calls'} in the history"]
    lines = []
    for row in rows:
        if kind == "door":
            detail = row.get("detail") or {}
            extra = " ".join(f"{k}={v}" for k, v in detail.items())
            via = f" via {row['via']}" if row.get("via") else ""
            call = f" call {row['call_id']}" if row.get("call_id") else ""
            lines.append(f"{_when(row.get('time'))} {row.get('event')}{via}{call} {extra}".rstrip())
            continue
        answered = "answered" if row.get("answered") else "not answered"
        parts = [
            _when(row.get("started")),
            str(row.get("direction")),
            str(row.get("peer")),
            answered,
            f"{row.get('duration') or 0:.0f} s",
        ]
        if row.get("codec"):
            parts.append(str(row["codec"]))
        if row.get("encrypted") and row["encrypted"] != "none":
            parts.append(str(row["encrypted"]))
        if row.get("mos") is not None:
            parts.append(f"MOS {row['mos']:.2f}")
        parts.append(f"({row.get('ended_how') or 'in progress'})")
        lines.append(" ".join(parts))
    return lines
