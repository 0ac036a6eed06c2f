"""Reading one TOML file into sections, collecting every mistake instead of stopping at the first.

Everything a section module needs is here: the error type whose lines name the key, the bad
value and the fix (``ConfigError``), the per-section ``Reader`` with its typed converters, and the
``Document`` that reads each ``Section`` once, in order, so a section may ask for one read
before it (``doc.get(SIP)``) without the loader passing it along.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` holds one readable line per mistake."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


def read_text(path: Path) -> str:
    """The file's text, or a ConfigError saying why it cannot be had (never a traceback)."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), ["the file is not UTF-8 text"]) from None


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """TOML ``text`` as tables; a syntax error is one problem line, as every other mistake."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None


def show(value: object) -> str:
    """``value`` as it would be written in TOML, so the installer recognises their own line."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


class Reader:
    """Reads one section, collecting every problem instead of stopping at the first."""

    def __init__(self, section: str, table: Mapping[str, Any], problems: list[str]) -> None:
        self.section = section
        self.table = table
        self.problems = problems

    def problem(self, key: str, value: object, fix: str) -> None:
        shown = "********" if "password" in key else show(value)
        self.problems.append(f"[{self.section}] {key} = {shown}: {fix}")

    def get(self, key: str, default: T, convert: Callable[[Any], T | None], fix: str) -> T:
        if key not in self.table:
            return default
        value = self.table[key]
        try:
            converted = convert(value)
        except (TypeError, ValueError):
            converted = None
        if converted is None:
            self.problem(key, value, fix)
            return default
        return converted

    def required(self, key: str, convert: Callable[[Any], str | None], fix: str) -> str:
        if key not in self.table:
            self.problems.append(f"[{self.section}] {key} is missing: {fix}")
            return ""
        return self.get(key, "", convert, fix)


def check_keys(
    section: str, table: Mapping[str, Any], allowed: tuple[str, ...], problems: list[str]
) -> None:
    """Unknown keys are mistakes: a misspelt ``auto_anwser`` ignored is a door never answering."""
    for key in table:
        if key not in allowed:
            import difflib  # the error path only: not at every start (issue 19)

            near = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {near[0]}?" if near else f"known keys: {', '.join(allowed)}"
            problems.append(f"[{section}] {key}: unknown key; {hint}")


@dataclass(frozen=True, slots=True)
class Section(Generic[T]):
    """One ``[name]`` of the file: the keys it allows, its value when absent, and its reader.

    ``read`` gets the whole ``Document``: its own table, the base for relative paths, the
    problem list, and (through ``Document.get``) the sections it depends on.
    """

    name: str
    keys: tuple[str, ...]
    default: T
    read: Callable[[Document], T]


class Document:
    """The parsed file: raw tables, where relative paths start, and every problem found so far."""

    def __init__(self, data: Mapping[str, Any], base: Path) -> None:
        self.data = data
        self.base = base
        self.problems: list[str] = []
        self._done: dict[str, Any] = {}
        self._reading: set[str] = set()

    def has(self, name: str) -> bool:
        """The file has a ``[name]`` table (not a stray ``name = value``)."""
        return isinstance(self.data.get(name), dict)

    def table(self, name: str) -> Mapping[str, Any]:
        table = self.data.get(name, {})
        return table if isinstance(table, dict) else {}

    def reader(self, name: str) -> Reader:
        return Reader(name, self.table(name), self.problems)

    def relative(self, path: Path | None) -> Path | None:
        """A relative path is taken from the config file's directory, not the service's cwd."""
        if path is None or path.is_absolute():
            return path
        return self.base / path

    def get(self, section: Section[T]) -> T:
        """``section`` read once: its problems are reported once however many sections ask."""
        if section.name not in self._done:
            if section.name in self._reading:
                raise RuntimeError(f"config sections depend on each other at [{section.name}]")
            self._reading.add(section.name)
            self._done[section.name] = section.read(self)
            self._reading.discard(section.name)
        value: T = self._done[section.name]
        return value


# -- typed converters: each returns None for a value it cannot use ----------------------------


def nonempty_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def string_list(value: Any) -> tuple[str, ...] | None:
    """A list of non-empty strings; one string alone counts as a list of one."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return None
    return tuple(value)


def boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def int_in(lo: int, hi: int) -> Callable[[Any], int | None]:
    def convert(value: Any) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        return value if lo <= value <= hi else None

    return convert


def off_or_int_in(lo: int, hi: int) -> Callable[[Any], int | None]:
    """0 (the feature is off) or an integer in [lo, hi]."""
    in_range = int_in(lo, hi)

    def convert(value: Any) -> int | None:
        return 0 if value == 0 and not isinstance(value, bool) else in_range(value)

    return convert


def number_in(lo: float, hi: float) -> Callable[[Any], float | None]:
    def convert(value: Any) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if lo <= value <= hi else None

    return convert


def choice(*choices: str) -> Callable[[Any], str | None]:
    def convert(value: Any) -> str | None:
        return value.lower() if isinstance(value, str) and value.lower() in choices else None

    return convert


def choice_int(*choices: int) -> Callable[[Any], int | None]:
    def convert(value: Any) -> int | None:
        return (
            value
            if isinstance(value, int) and not isinstance(value, bool) and value in choices
            else None
        )

    return convert


def path(value: Any) -> Path | None:
    return Path(value) if isinstance(value, str) and value else None


# -- hosts and ports --------------------------------------------------------------------------


@functools.cache
def _host_re() -> re.Pattern[str]:
    """Compiled at first use: only a configured host name, not an IP, needs it (issue 19)."""
    return re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")


@dataclass(frozen=True, slots=True)
class HostPort:
    """A host and a port as configured, validated once so that sockets get no surprises."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def is_host(value: str) -> bool:
    """An IP address or a DNS name (letters, digits, dots, hyphens; at most 253 characters)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return bool(_host_re().match(value)) and len(value) <= 253
    return True


def hostname(value: Any) -> str | None:
    return value if isinstance(value, str) and is_host(value) else None


def parse_host_port(text: str, default_port: int = 5060) -> HostPort | None:
    """``host``, ``host:port``, ``[v6]:port`` or ``v6`` → HostPort; None if malformed."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else ""
    elif text.count(":") > 1:
        host, port_text = text, ""
    else:
        host, _, port_text = text.partition(":")
    if not host or not is_host(host):
        return None
    if not port_text:
        return HostPort(host, default_port)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return None
    return HostPort(host, int(port_text))
