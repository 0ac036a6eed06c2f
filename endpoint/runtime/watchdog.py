"""Honest ``WATCHDOG=1`` pings: sent only while the SIP loop and the media thread both run.

systemd restarts a ``WatchdogSec=`` service whose pings stop. A ping sent from a timer that
runs no matter what would keep a box alive whose media thread is wedged (a stuck ALSA read, a
deadlock): a door that rings but has no audio, for months. So the pinger runs in its own small
thread, independent of both loops, and pings only while each of them has shown a heartbeat:
after each look it asks both loops to beat (the asyncio loop through ``LoopHeartbeat``, a
callback queued onto it; the media thread through a no-op command, which moves
``MediaLoop.last_tick``), and the next look checks that they did. When one stalls it logs one error
naming the loop and stops pinging; systemd then restarts the service.

The decision (``WatchdogPolicy.step``) is pure: the clock is the gate's, the beats are
callables, and the thread around it only waits, asks and sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from endpoint.runtime.sdnotify import Notifier, WatchdogGate

log = logging.getLogger("endpoint.service.watchdog")


@dataclass(frozen=True, slots=True)
class WatchdogStep:
    """What one watchdog period decided: whether to ping, and a log line if something changed."""

    ping: bool
    level: int = logging.INFO
    message: str | None = None


class WatchdogPolicy:
    """Ping while every watched loop beats; say once when one stalls and once when it recovers."""

    def __init__(self, gate: WatchdogGate) -> None:
        self.gate = gate
        self._stalled: tuple[str, ...] = ()

    def step(self, beats: dict[str, Callable[[], float | None]]) -> WatchdogStep:
        stalled = tuple(self.gate.stalled())
        previous, self._stalled = self._stalled, stalled
        if stalled:
            if stalled == previous:
                return WatchdogStep(ping=False)
            now = self.gate.clock()
            parts = []
            for name in stalled:
                beat = beats[name]()
                parts.append(
                    f"the {name} loop has not run for {now - beat:.1f} s"
                    if beat is not None
                    else f"the {name} loop never ran"
                )
            return WatchdogStep(
                ping=False,
                level=logging.ERROR,
                message=(
                    f"watchdog: {'; '.join(parts)}: no more WATCHDOG=1 pings, systemd will "
                    "restart the service (if it keeps happening: journalctl -u sip-endpoint, "
                    "then sip-endpoint doctor)"
                ),
            )
        if previous:
            return WatchdogStep(
                ping=True,
                message=f"watchdog: the {', '.join(previous)} loop runs again; pings resume",
            )
        return WatchdogStep(ping=True)


class LoopHeartbeat:
    """The asyncio loop's heartbeat, given when the watchdog asks for it.

    ``Engine.last_step`` only moves when SIP traffic or a UA timer arrives; an idle
    peer-to-peer box may go minutes without either, so it cannot tell a quiet loop from a
    blocked one. A callback the pinger thread queues onto the loop can: it runs only while the
    loop runs callbacks. Asked once per watchdog period instead of re-armed every second, so an
    idle box wakes only for the watchdog itself (issue 19).
    """

    def __init__(self) -> None:
        self.last_beat: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._beat()

    def _beat(self) -> None:
        self.last_beat = time.monotonic()

    def probe(self) -> None:
        """From the pinger thread: beat when the loop next runs its callbacks."""
        loop = self._loop
        if loop is None:
            return
        # RuntimeError: the loop closed under a pinger that is being stopped.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._beat)

    def stop(self) -> None:
        self._loop = None


class WatchdogPinger:
    """The thread that asks the policy every ``interval`` seconds and pings when it may."""

    def __init__(
        self,
        notifier: Notifier,
        interval: float,
        policy: WatchdogPolicy,
        beats: dict[str, Callable[[], float | None]],
    ) -> None:
        self.notifier = notifier
        self.interval = interval
        self.policy = policy
        self.beats = beats
        self.pings = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_watchdog(
        cls,
        watchdog_usec: int,
        beats: dict[str, Callable[[], float | None]],
        probes: dict[str, Callable[[], None]],
    ) -> WatchdogPinger:
        """Ping at half of ``WATCHDOG_USEC`` (sd_watchdog_enabled(3)) and ask each loop to beat
        right after; a loop that has not answered by the next look, and has been silent for
        half of ``WATCHDOG_USEC``, counts as stalled: caught before systemd's own deadline."""
        half = watchdog_usec / 2e6
        gate = WatchdogGate(max_silence=half, clock=time.monotonic)
        for name, beat in beats.items():
            gate.watch(name, beat, probes.get(name))
        # Its own Notifier: the asyncio side's one is not shared across threads.
        return cls(Notifier(), half, WatchdogPolicy(gate), beats)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # The first look comes one interval after start, when both loops have had time to
        # answer the first probe.
        self.policy.gate.probe()
        while not self._stop.wait(self.interval):
            step = self.policy.step(self.beats)
            if step.message is not None:
                log.log(step.level, "%s", step.message)
            if step.ping and self.notifier.notify(WATCHDOG=1):
                self.pings += 1
            self.policy.gate.probe()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        self.notifier.close()
