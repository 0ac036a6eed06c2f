"""The watchdog decision (pure, on a fake clock): ping while both loops beat, say once which
loop stalled, and once that it recovered."""

import logging

from endpoint.runtime.sdnotify import WatchdogGate
from endpoint.runtime.watchdog import WatchdogPolicy


def test_stall_and_recovery_are_each_said_once() -> None:
    now = [100.0]
    beats: dict[str, float | None] = {"SIP": 100.0, "media": 100.0}
    gate = WatchdogGate(max_silence=5.0, clock=lambda: now[0])
    sources = {name: (lambda n=name: beats[n]) for name in beats}
    for name, beat in sources.items():
        gate.watch(name, beat)
    policy = WatchdogPolicy(gate)
    assert policy.step(sources).ping and policy.step(sources).message is None

    now[0] = 107.5
    beats["SIP"] = 107.4  # the media thread froze at 100.0
    step = policy.step(sources)
    assert not step.ping and step.level == logging.ERROR
    assert step.message is not None
    assert step.message.startswith("watchdog: the media loop has not run for 7.5 s")
    assert "SIP" not in step.message
    assert policy.step(sources) == type(step)(ping=False)  # said once, still no ping

    beats["media"] = 107.5
    step = policy.step(sources)
    assert step.ping and step.message == "watchdog: the media loop runs again; pings resume"
    assert policy.step(sources).message is None


def test_a_loop_that_never_beat_is_named() -> None:
    gate = WatchdogGate(max_silence=5.0, clock=lambda: 10.0)
    sources: dict[str, object] = {"SIP": lambda: 9.0, "media": lambda: None}
    for name, beat in sources.items():
        gate.watch(name, beat)  # type: ignore[arg-type]
    step = WatchdogPolicy(gate).step(sources)  # type: ignore[arg-type]
    assert not step.ping and step.message is not None
    assert "the media loop never ran" in step.message
