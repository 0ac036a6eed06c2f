"""Call and door history: rows from real event dicts, retention, a SIGKILL mid-write, and a
real call from baresip to a real ``sip-endpoint run`` that ``ctl history`` then shows."""

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from endpoint.integration import history
from endpoint.integration.history import HistoryStore, HistoryWriter, history_lines, query
from tests.interop.door import Door, talk_then_hang_up
from tests.interop.peers import Baresip

INCOMING = [
    {"event": "call-incoming", "call_id": "c1", "from": "sip:flat@127.0.0.1", "allowed": True},
    {
        "event": "call-answered",
        "call_id": "c1",
        "from": "sip:flat@127.0.0.1",
        "codec": "PCMA",
        "encryption": "none",
    },
    {"event": "dtmf", "call_id": "c1", "digit": "hidden", "duration_ms": 100},
    {"event": "door-opened", "via": "dtmf", "call_id": "c1", "seconds": 3.0},
    {"event": "call-ended", "call_id": "c1", "from": "x", "reason": "hung up", "duration": 4.2},
    {"event": "call-report", "call_id": "c1", "codec": "PCMA", "mos": 4.3, "received_packets": 9},
]


def test_a_call_and_its_door_opening_become_rows(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.db", 90, 10 << 20)
    store.apply([(1000.0 + i, e) for i, e in enumerate(INCOMING)])
    store.close()
    (call,) = query(tmp_path / "h.db", "calls")
    assert call["direction"] == "in" and call["peer"] == "sip:flat@127.0.0.1"
    assert call["answered"] == 1 and call["answered_at"] == 1001.0
    assert (call["codec"], call["duration"], call["mos"]) == ("PCMA", 4.2, 4.3)
    assert call["ended_how"] == "hung up" and call["encrypted"] == "none"
    (door,) = query(tmp_path / "h.db", "door")
    assert (door["event"], door["via"], door["call_id"]) == ("opened", "dtmf", "c1")
    assert door["detail"] == {"seconds": 3.0}
    lines = history_lines("calls", [call])
    assert "in sip:flat@127.0.0.1 answered 4 s PCMA MOS 4.30 (hung up)" in lines[0]


def test_a_busy_caller_and_a_failed_outgoing_call_are_kept(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.db", 90, 10 << 20)
    store.apply(
        [
            (10.0, {"event": "call-busy", "call_id": "b", "from": "sip:x@h"}),
            (11.0, {"event": "call-outgoing", "call_id": "o", "to": "sip:flat@h"}),
            (12.0, {"event": "call-failed", "call_id": "o", "to": "sip:flat@h", "reason": "486"}),
        ]
    )
    store.close()
    rows = {r["call_id"]: r for r in query(tmp_path / "h.db", "calls")}
    assert rows["b"]["direction"] == "in" and rows["b"]["ended_how"] == "call-busy"
    assert rows["o"]["direction"] == "out" and rows["o"]["answered"] == 0
    assert rows["o"]["ended_how"] == "486"


def test_a_transferred_call_says_so(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.db", 90, 10 << 20)
    target = "sip:flat2@pbx"
    store.apply(
        [
            (1.0, INCOMING[0]),
            (2.0, {"event": "transfer-requested", "call_id": "c1", "target": target}),
            (3.0, {"event": "transfer-succeeded", "call_id": "c1", "target": target}),
            (4.0, {"event": "call-ended", "call_id": "c1", "reason": "hung up by the caller"}),
        ]
    )
    store.close()
    (call,) = query(tmp_path / "h.db", "calls")
    assert call["ended_how"] == "transferred to sip:flat2@pbx" and call["ended"] == 4.0


def test_retention_by_age_and_by_size(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.db", 1, 10 << 20)
    day = 86400.0
    events = [
        (t, {"event": "call-incoming", "call_id": f"c{t}", "from": "sip:a@b"})
        for t in (0.0, day, 2.5 * day)
    ]
    store.apply(events)
    assert store.prune(3 * day) == 2
    assert [r["call_id"] for r in query(tmp_path / "h.db")] == [f"c{2.5 * day}"]
    store.max_bytes = 64 * 1024
    big = [
        (3 * day + i, {"event": "door-sensor", "state": "open", "pad": "x" * 500})
        for i in range(1000)
    ]
    store.apply(big)
    assert store.used_bytes() > 64 * 1024
    removed = store.prune(3 * day + 1000)
    assert removed > 0 and store.used_bytes() <= 64 * 1024
    left = query(tmp_path / "h.db", "door", limit=1000)
    assert left and left[0]["time"] == 3 * day + 999  # the newest are the ones kept
    store.close()


def test_the_writer_thread_batches_and_keeps_everything_queued_at_stop(tmp_path: Path) -> None:
    writer = HistoryWriter(HistoryStore(tmp_path / "h.db", 90, 10 << 20))
    writer.start()
    for i in range(600):
        writer.record({"event": "door-code-wrong", "call_id": f"c{i}", "attempt": 1, "left": 2})
    writer.stop()
    assert writer.written == 600 and writer.dropped == 0 and writer.failed == 0
    assert writer.batches >= 3  # at most 256 per transaction
    assert len(query(tmp_path / "h.db", "door", limit=1000)) == 600


WRITER = """
import sys, time
from pathlib import Path
from endpoint.integration.history import HistoryStore
store = HistoryStore(Path(sys.argv[1]), 90, 1 << 30)
n = 0
while True:
    store.apply([(time.time(), {"event": "door-sensor", "state": "open", "n": n + i})
                 for i in range(100)])
    n += 100
"""


def test_sigkill_mid_write_leaves_the_database_intact(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)])
    try:
        seen = 0
        deadline = time.monotonic() + 30
        while seen < 2000 and time.monotonic() < deadline:
            time.sleep(0.1)
            if path.exists():
                try:
                    seen = _count(path)
                except sqlite3.Error:
                    seen = 0
        assert seen >= 2000, "the writer did not get going"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    (count,) = db.execute("SELECT COUNT(*) FROM door").fetchone()
    numbers = sorted(json.loads(d)["n"] for (d,) in db.execute("SELECT detail FROM door"))
    db.close()
    assert count >= seen and count % 100 == 0  # whole batches only: nothing half-written
    assert numbers == list(range(count))
    # And the killed database takes writes again.
    store = HistoryStore(path, 90, 1 << 30)
    store.apply([(time.time(), {"event": "door-left-open", "seconds": 60})])
    store.close()
    assert query(path, "door", limit=1)[0]["event"] == "left-open"


def _count(path: Path) -> int:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM door").fetchone()[0])
    finally:
        db.close()


def test_a_database_that_is_not_sqlite_leaves_history_off(tmp_path: Path) -> None:
    (tmp_path / history.FILE_NAME).write_bytes(b"not a database at all" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        HistoryStore(tmp_path / history.FILE_NAME, 90, 1 << 20)


@pytest.mark.interop
def test_ctl_history_shows_a_real_call_from_baresip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("STATE_DIRECTORY", str(state))
    flat = Baresip(tmp_path / "flat", user="flat", tone_hz=1000).start()
    door = Door(tmp_path / "door")
    try:
        flat.ctrl.command("dial", door.uri)
        talk_then_hang_up(flat, 2.0)
        deadline = time.monotonic() + 10
        shown = door.ctl("history")
        while "MOS" not in shown.stdout and time.monotonic() < deadline:
            time.sleep(0.2)
            shown = door.ctl("history")
        as_json = door.ctl("history", "--json")
        empty_door_log = door.ctl("history", "--door")
        bad = door.ctl("history", "--limit", "0")
    finally:
        door.stop()
        flat.stop()
    assert shown.returncode == 0, shown.stderr
    (line,) = shown.stdout.splitlines()
    assert " in sip:flat@127.0.0.1" in line and "answered" in line and "PCMU" in line
    assert "(hung up by the caller)" in line
    (row,) = json.loads(as_json.stdout)["rows"]
    assert row["duration"] >= 1.5 and 1.0 <= row["mos"] <= 4.5
    assert empty_door_log.stdout.strip() == "no door events in the history"
    assert bad.returncode == 1 and "limit a positive number" in bad.stderr
    assert "Traceback" not in bad.stderr
    # It survives the restart: a new process reads the same file.
    rows = query(state / history.FILE_NAME)
    assert [r["call_id"] for r in rows] == [row["call_id"]]


@pytest.mark.interop
def test_the_door_log_keeps_wrong_codes_a_lockout_and_an_opening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("STATE_DIRECTORY", str(state))
    board = (
        '[hardware]\nboard = "simulated"\n[door]\nrelay_pin = 27\ncode = "2468"\n'
        "max_wrong = 2\nlockout_minutes = 1\n"
    )
    flat = Baresip(tmp_path / "flat", user="flat", tone_hz=1000).start()
    door = Door(tmp_path / "door", extra=board)
    try:
        flat.ctrl.command("dial", door.uri)
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        time.sleep(0.5)
        for _ in range(2):
            flat.ctrl.command("sndcode", "1357#")
            time.sleep(1.5)
        assert door.ctl("open-door").returncode == 0  # the caretaker opens it by hand
        deadline = time.monotonic() + 10
        shown = door.ctl("history", "--door")
        while "locked-out" not in shown.stdout and time.monotonic() < deadline:
            time.sleep(0.2)
            shown = door.ctl("history", "--door")
        rows = json.loads(door.ctl("history", "--door", "--json").stdout)["rows"]
        flat.ctrl.command("hangup")
        flat.ctrl.wait_event("CALL_CLOSED", 10)
    finally:
        door.stop()
        flat.stop()
    events = [r["event"] for r in reversed(rows)]  # oldest first
    assert events[:4] == ["code-wrong", "code-wrong", "locked-out", "opened"], events
    locked = next(r for r in rows if r["event"] == "locked-out")
    assert locked["call_id"] and locked["detail"]["minutes"] == 1.0
    assert rows[0]["via"] == "ctl"
    shown_text = shown.stdout  # less the peer's random Call-IDs, where "1357" may turn up by chance
    for row in rows:
        shown_text = shown_text.replace(row["call_id"] or "", "")
    assert "1357" not in shown_text and "2468" not in shown_text
    assert "locked-out" in shown.stdout and "opened via ctl" in shown.stdout
