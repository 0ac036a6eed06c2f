"""The whole configuration: ``Config``, one field per section, and the functions that read it.

Each ``Config`` field is declared with ``section(...)``, which ties the field to the section
that fills it; ``parse_config`` reads the sections in field order, so the problems of one file
come out in the order an installer reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from endpoint.config.account import ACCOUNT, BACKUP_ACCOUNT, AccountSettings
from endpoint.config.audio import AUDIO, AudioSettings
from endpoint.config.calls import CALLS, CallSettings
from endpoint.config.control import CONTROL, ControlSettings
from endpoint.config.door import DOOR, DoorSettings
from endpoint.config.hardware import HARDWARE, HardwareSettings
from endpoint.config.history import HISTORY, HistorySettings
from endpoint.config.http import HTTP, HttpSettings
from endpoint.config.log import LOG
from endpoint.config.media import MEDIA, MediaSettings
from endpoint.config.mqtt import MQTT, MqttSettings
from endpoint.config.nat import NAT, NatSettings
from endpoint.config.reader import (
    ConfigError,
    Document,
    Section,
    check_keys,
    parse_toml,
    read_text,
    show,
)
from endpoint.config.sip import SIP, SipSettings
from endpoint.config.tls import TLS, TlsSettings

T = TypeVar("T")


def section(part: Section[T]) -> T:
    """A ``Config`` field filled by ``part``: its default, and ``part`` for the loader to read."""
    value: T = field(default=part.default, metadata={"section": part})
    return value


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration, one frozen value per section, read once at start."""

    sip: SipSettings = section(SIP)
    tls: TlsSettings = section(TLS)
    account: AccountSettings | None = section(ACCOUNT)
    backup_account: AccountSettings | None = section(BACKUP_ACCOUNT)
    calls: CallSettings = section(CALLS)
    media: MediaSettings = section(MEDIA)
    nat: NatSettings = section(NAT)
    audio: AudioSettings = section(AUDIO)
    control: ControlSettings = section(CONTROL)
    log_level: str = section(LOG)
    hardware: HardwareSettings = section(HARDWARE)
    door: DoorSettings = section(DOOR)
    history: HistorySettings = section(HISTORY)
    http: HttpSettings = section(HTTP)
    mqtt: MqttSettings = section(MQTT)


def sections() -> dict[str, Section[Any]]:
    """Every section by its TOML name, in reading order."""
    parts = (f.metadata["section"] for f in fields(Config))
    return {part.name: part for part in parts}


def load_config(path: str | Path) -> Config:
    """Read and validate ``path``; raise ConfigError listing every problem found."""
    path = Path(path)
    return parse_config(read_text(path), source=str(path), base=path.parent)


def parse_config(text: str, *, source: str = "config", base: Path = Path(".")) -> Config:
    """Validate TOML ``text``. Relative paths are taken relative to ``base``."""
    doc = Document(parse_toml(text, source), base)
    known = sections()
    _check_names(doc, known)
    values = {f.name: doc.get(f.metadata["section"]) for f in fields(Config)}
    if doc.problems:
        raise ConfigError(source, doc.problems)
    return Config(**values)


def _check_names(doc: Document, known: dict[str, Section[Any]]) -> None:
    """Unknown sections and keys first: a misspelt name explains the problems that follow."""
    for name, table in doc.data.items():
        if name not in known:
            import difflib  # the error path only: not at every start (issue 19)

            near = difflib.get_close_matches(name, list(known), n=1)
            hint = f"did you mean [{near[0]}]?" if near else f"sections: {', '.join(known)}"
            doc.problems.append(f"[{name}]: unknown section; {hint}")
        elif not isinstance(table, dict):
            doc.problems.append(f"{name} = {show(table)}: must be a [{name}] section")
        else:
            check_keys(name, table, known[name].keys, doc.problems)
