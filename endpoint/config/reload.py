"""What a reloaded configuration changes, and how each change can be applied (SIGHUP).

The file is loaded and validated first (``load_config``); an invalid file changes nothing. A
valid one is compared with the running configuration key by key, and every difference falls in
one of three kinds:

* ``LIVE`` — read afresh for every new call: ``[calls]``, ``[media]`` (but ``ptime``), ``[audio]``,
  ``[log] level``. Applied at once; a call in progress keeps what it negotiated.
* ``NAT`` — ``[nat]``: STUN runs again for the SIP socket with the new server (a changed public
  address re-registers with the new Contact) and the next calls use the new ``stun_timeout`` and
  ``keepalive_s``; calls in progress keep theirs.
* ``REREGISTER`` — ``[account]`` / ``[backup_account]``: the old binding is removed and the new
  account registers (a controlled restart of registration only; calls are not touched).
* ``INTEGRATION`` — ``[history]``, ``[http]`` (with its webhooks), ``[mqtt]``: the building
  integration is closed (history flushed, MQTT offline, API and webhooks stopped) and started
  again with the new values; calls and registration are not touched.
* ``RESTART`` — everything bound at start: ``[sip]`` (sockets, Via/Contact), ``[control]`` (the
  socket), ``[media] ptime`` (the media thread's period) and any section this module does not
  know (hardware wiring). These keep their running value and are logged as
  "needs restart: [sip] listen changed"; ``systemctl restart sip-endpoint`` applies them.
  So is a change that newly needs TLS (an https webhook, an mqtts broker) in a process started
  without it: asyncio was imported without ``ssl`` (issue 19, ``import_gate.py``).

Pure: two ``Config`` values in, a list of changes and the configuration to run with out.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any

from endpoint.config import TLS_KEYS, Config, needs_tls


class ChangeKind(enum.Enum):
    LIVE = "applied"
    NAT = "re-running STUN for"
    REREGISTER = "re-registering"
    INTEGRATION = "restarting the integration for"
    RESTART = "needs restart"


@dataclass(frozen=True, slots=True)
class Change:
    """One changed key: ``section`` and ``key`` as the file spells them (never the value)."""

    section: str
    key: str
    kind: ChangeKind
    #: The attribute path in ``Config``: ("media", "ptime") or ("log_level",).
    path: tuple[str, ...]

    def __str__(self) -> str:
        return f"[{self.section}] {self.key}" if self.key else f"[{self.section}]"


_LIVE_SECTIONS = frozenset({"calls", "media", "audio"})
_REREGISTER_SECTIONS = frozenset({"account", "backup_account"})
#: The sections ``endpoint.integration.services.Integration`` is built from.
INTEGRATION_SECTIONS = frozenset({"history", "http", "mqtt"})
_RESTART_KEYS = frozenset({("media", "ptime")})
#: Config attributes that are one key of a section rather than a section.
_FLAT = {"log_level": ("log", "level")}


def _kind(section: str, key: str) -> ChangeKind:
    if (section, key) in _RESTART_KEYS:
        return ChangeKind.RESTART
    if section in _LIVE_SECTIONS or (section, key) == ("log", "level"):
        return ChangeKind.LIVE
    if section == "nat":
        return ChangeKind.NAT
    if section in _REREGISTER_SECTIONS:
        return ChangeKind.REREGISTER
    if section in INTEGRATION_SECTIONS:
        return ChangeKind.INTEGRATION
    return ChangeKind.RESTART


def plan_reload(old: Config, new: Config, tls_ready: bool = True) -> list[Change]:
    """Every key whose value differs, in the order of ``Config``'s fields.

    ``tls_ready`` False: this process has no TLS (``asyncio_has_ssl``); if ``new`` needs it,
    the keys that ask for it wait for a restart instead of failing at the first connection."""
    changes = _differences(old, new)
    if tls_ready or not needs_tls(new):
        return changes
    return [
        dataclasses.replace(c, kind=ChangeKind.RESTART) if (c.section, c.key) in TLS_KEYS else c
        for c in changes
    ]


def _differences(old: Config, new: Config) -> list[Change]:
    changes: list[Change] = []
    for field in dataclasses.fields(old):
        name = field.name
        before, after = getattr(old, name), getattr(new, name)
        if before == after:
            continue
        if name in _FLAT:
            section, key = _FLAT[name]
            changes.append(Change(section, key, _kind(section, key), (name,)))
        elif _is_section(before) and _is_section(after) and type(before) is type(after):
            for sub in dataclasses.fields(before):
                if getattr(before, sub.name) != getattr(after, sub.name):
                    changes.append(Change(name, sub.name, _kind(name, sub.name), (name, sub.name)))
        else:  # a section added or removed (an [account] appears: peer-to-peer -> registered)
            changes.append(Change(name, "", _kind(name, ""), (name,)))
    return changes


def effective_config(old: Config, new: Config, changes: list[Change]) -> Config:
    """``new``, but with every ``RESTART`` change kept at its running (``old``) value."""
    result = new
    for change in changes:
        if change.kind is not ChangeKind.RESTART:
            continue
        if len(change.path) == 1:
            (name,) = change.path
            result = dataclasses.replace(result, **{name: getattr(old, name)})
        else:
            name, sub = change.path
            section: Any = getattr(result, name)
            kept = dataclasses.replace(section, **{sub: getattr(getattr(old, name), sub)})
            result = dataclasses.replace(result, **{name: kept})
    return result


def _is_section(value: object) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def integration_changed(old: Config, new: Config) -> bool:
    """Whether ``[history]``, ``[http]`` or ``[mqtt]`` differ: the integration starts again."""
    return any(getattr(old, name) != getattr(new, name) for name in INTEGRATION_SECTIONS)
