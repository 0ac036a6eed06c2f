"""The door's lockouts on disk: wall-clock ends, atomic writes, a broken file is empty."""

from pathlib import Path

from endpoint.runtime import door_state


def test_lockouts_round_trip_and_expire(tmp_path: Path) -> None:
    path = tmp_path / door_state.FILE_NAME
    door_state.save(path, {"sip:x@y": 120.0, "*": 30.0}, wall_now=1000.0)
    assert door_state.load(path, wall_now=1010.0) == {"sip:x@y": 110.0, "*": 20.0}
    assert door_state.load(path, wall_now=1100.0) == {"sip:x@y": 20.0}  # the global one ended
    path.write_text("{not json")
    assert door_state.load(path) == {}
    assert door_state.state_file({"STATE_DIRECTORY": "/var/lib/a:/var/lib/b"}) == Path(
        "/var/lib/a/door-lockout.json"
    )
    assert door_state.state_file({}) is None
