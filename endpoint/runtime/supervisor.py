"""The engine's service side: STATUS lines, the honest watchdog, and reload on SIGHUP.

``Engine`` creates one ``ServiceSupervisor`` and calls it from a few hooks (start, every UA
notice, SIGHUP, close); everything systemd-specific lives here so the engine stays the thin
runtime of DESIGN principle 2. The supervisor sees the engine only through ``Supervised``: the
notifier, the configuration and one way to apply a new one.

Reload (``systemctl reload sip-endpoint`` sends SIGHUP): ``RELOADING=1`` with
``MONOTONIC_USEC`` (sd_notify(3)), load and validate the file; on any problem log one line per
problem (key, value, fix) and keep running on the old configuration; otherwise apply what can
change live, re-register a changed account, log "needs restart: ..." for the rest
(``endpoint.config.reload``), then ``READY=1`` again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from endpoint.config import Config, ConfigError, load_config
from endpoint.logs import secrets
from endpoint.runtime.sdnotify import Notifier
from endpoint.runtime.service_status import ServiceStatus
from endpoint.runtime.watchdog import LoopHeartbeat, WatchdogPinger
from endpoint.ua.events import Notice

log = logging.getLogger("endpoint.service")


class Ticking(Protocol):
    """The media thread as the watchdog sees it (``MediaLoop``)."""

    @property
    def last_tick(self) -> float | None:
        """When it last ran (monotonic; None: never)."""

    def submit(self, command: Callable[[], None]) -> None:
        """Run ``command`` on the media thread."""


class Supervised(Protocol):
    """What the supervisor needs of the runtime, and no more."""

    notifier: Notifier
    config: Config
    #: The file SIGHUP re-reads (None: started from a Config, reload has nothing to read).
    config_path: Path | None

    async def apply_config(self, config: Config) -> None:
        """Run on ``config`` from now on (resolve its hosts, reconfigure the UA)."""


class ServiceSupervisor:
    def __init__(self, engine: Supervised) -> None:
        self.engine = engine
        self.status = ServiceStatus()
        self.heartbeat: LoopHeartbeat | None = None
        self.pinger: WatchdogPinger | None = None
        self._reload_task: asyncio.Task[None] | None = None

    # -- hooks -------------------------------------------------------------------------------

    def start(self, media: Callable[[], Ticking | None]) -> None:
        """After READY=1: start the watchdog when systemd asked for one (WATCHDOG_USEC);
        ``media`` is the media thread, None until the first call starts it (issue 19)."""
        usec = self.engine.notifier.watchdog_usec
        if not usec or not self.engine.notifier.enabled:
            return
        heartbeat = LoopHeartbeat()
        heartbeat.start()
        self.heartbeat = heartbeat
        self.pinger = WatchdogPinger.for_watchdog(
            usec,
            {"SIP": lambda: heartbeat.last_beat, "media": lambda: _last_tick(media())},
            {"SIP": heartbeat.probe, "media": lambda: _probe(media())},
        )
        self.pinger.start()
        log.debug("watchdog: pinging every %.1f s while both loops run", usec / 2e6)

    def notice(self, notice: Notice) -> None:
        text = self.status.update(notice)
        if text is not None:
            self.engine.notifier.notify(STATUS=text)

    def reload(self) -> None:
        """The SIGHUP handler: one reload at a time (a second SIGHUP meanwhile is logged)."""
        if self._reload_task is not None and not self._reload_task.done():
            log.warning("reload: already reloading; this SIGHUP is ignored")
            return
        self._reload_task = asyncio.get_running_loop().create_task(self._reload())

    def close(self) -> None:
        if self.pinger is not None:
            self.pinger.stop()
            self.pinger = None
        if self.heartbeat is not None:
            self.heartbeat.stop()
            self.heartbeat = None

    # -- reload ------------------------------------------------------------------------------

    async def _reload(self) -> None:
        engine, notifier = self.engine, self.engine.notifier
        path = engine.config_path
        if path is None:
            log.warning("reload: started without a configuration file; nothing to re-read")
            return
        notifier.notify(
            RELOADING=1,
            MONOTONIC_USEC=time.monotonic_ns() // 1000,
            STATUS=f"reloading {path}",
        )
        try:
            await self._apply(path, await asyncio.to_thread(load_config, path))
        except ConfigError as exc:
            log.error(
                "reload: %s has %d problem(s); still running on the previous configuration",
                path,
                len(exc.problems),
            )
            for problem in exc.problems:
                log.error("reload: %s", problem)
        finally:
            notifier.notify(READY=1, STATUS=self.status.text)

    async def _apply(self, path: Path, new: Config) -> None:
        # Only a SIGHUP needs the reload planner: not loaded at start (issue 19).
        from endpoint.config.reload import ChangeKind, effective_config, plan_reload
        from endpoint.import_gate import asyncio_has_ssl

        engine = self.engine
        old = engine.config
        changes = plan_reload(old, new, tls_ready=asyncio_has_ssl())
        if not changes:
            log.info("reload: %s has no changes", path)
            return
        for account in (new.account, new.backup_account):
            if account is not None:
                secrets.add(account.password)
        running = effective_config(old, new, changes)
        for change in changes:
            if change.kind is ChangeKind.RESTART:
                log.warning(
                    "reload: needs restart: %s changed (systemctl restart sip-endpoint); "
                    "the running value stays until then",
                    change,
                )
            else:
                log.info("reload: %s %s", change.kind.value, change)
        if running.log_level != old.log_level:
            logging.getLogger().setLevel(running.log_level.upper())
        await engine.apply_config(running)


def _probe(media: Ticking | None) -> None:
    """Ask the media thread to beat: any command wakes an idle thread and moves its
    ``last_tick``; in a call it moves every tick anyway."""
    if media is not None:
        media.submit(_nothing)


def _nothing() -> None:
    """The watchdog's probe: a command whose only effect is that the thread ran it."""


def _last_tick(media: Ticking | None) -> float | None:
    """When the media thread last ran. No thread yet (no call so far) counts as running now:
    there is nothing to wedge, and an idle box must not be restarted for its absence."""
    return time.monotonic() if media is None else media.last_tick
