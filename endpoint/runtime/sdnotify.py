"""systemd's notify protocol (sd_notify(3)), written against the documented socket protocol.

The service manager passes ``NOTIFY_SOCKET`` (a filesystem path, or ``@name`` for the abstract
namespace); each state update is one datagram of ``KEY=VALUE`` lines. Outside systemd the variable
is absent and every call is a cheap no-op, so the same code runs in a terminal and in tests.

``WATCHDOG=1`` must only be sent while the endpoint really works: ``WatchdogGate`` lets the
runtime ping only when both the SIP loop and the media thread have shown a heartbeat recently, so
a wedged media thread makes systemd restart us instead of leaving a silent box on the wall.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger("endpoint.service.sdnotify")


class Notifier:
    """Sends state datagrams to systemd; silent no-op when not started by systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = None
        if address.startswith("@"):
            self._address = "\0" + address[1:]
        elif address.startswith("/"):
            self._address = address
        self._sock: socket.socket | None = None
        #: Datagrams dropped because the notify socket's queue was full.
        self.dropped = 0
        self.watchdog_usec = _int(env.get("WATCHDOG_USEC"))
        if self.watchdog_usec and env.get("WATCHDOG_PID", str(os.getpid())) != str(os.getpid()):
            self.watchdog_usec = None

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, **fields: str | int) -> bool:
        """Send ``KEY=value`` lines, e.g. ``notify(READY=1, STATUS="registered")``."""
        if self._address is None:
            return False
        payload = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            if self._sock is None:
                # Non-blocking: a notify socket nobody drains must never stall the SIP loop
                # (a full queue blocked sendto() for good); such a datagram is dropped.
                self._sock = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
                )
            self._sock.sendto(payload, self._address)
        except BlockingIOError:
            self.dropped += 1
            return False
        except OSError as exc:
            log.warning("cannot notify systemd at %s: %s", os.environ.get("NOTIFY_SOCKET"), exc)
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


@dataclass
class WatchdogGate:
    """Decides whether a watchdog ping is honest: every registered loop beat recently.

    A loop may beat on its own (the media thread's ``last_tick`` moves every 20 ms in a call)
    or only when asked: a loop with a ``probe`` is asked once per watchdog period to beat soon
    (issue 19: an idle box must not wake every second just to say it is alive). A loop that
    answered the last probe runs, however old its beat; one that has not is judged by how long
    it has been silent.
    """

    max_silence: float
    clock: Callable[[], float]
    _beats: dict[str, Callable[[], float | None]] = field(default_factory=dict)
    _probes: dict[str, Callable[[], None]] = field(default_factory=dict)
    _asked: dict[str, float] = field(default_factory=dict)

    def watch(
        self,
        name: str,
        last_beat: Callable[[], float | None],
        probe: Callable[[], None] | None = None,
    ) -> None:
        """``last_beat`` returns the monotonic time of the loop's last heartbeat (None = never);
        ``probe`` asks the loop, from any thread, to beat soon."""
        self._beats[name] = last_beat
        if probe is not None:
            self._probes[name] = probe

    def probe(self) -> None:
        """Ask every loop that has a probe to beat; the next ``stalled()`` looks for the answer."""
        for name, probe in self._probes.items():
            self._asked[name] = self.clock()
            probe()

    def stalled(self) -> list[str]:
        """Names of the loops that have not beaten within ``max_silence`` and have not
        answered the last probe."""
        now = self.clock()
        out = []
        for name, last_beat in self._beats.items():
            beat = last_beat()
            asked = self._asked.get(name)
            answered = asked is not None and beat is not None and beat >= asked
            if beat is None or (now - beat > self.max_silence and not answered):
                out.append(name)
        return out


def _int(text: str | None) -> int | None:
    if text is None or not text.isdigit():
        return None
    return int(text)
