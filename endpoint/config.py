"""Configuration: one TOML file, validated completely before anything starts.

An installer edits this file on a box on a wall, often over a serial console. Every mistake must
come back as one line that names the key, the bad value and the fix (``ConfigError``), never a
traceback, and all mistakes at once so that one edit fixes them all. Unknown keys are errors too
(with a "did you mean" hint), because a misspelt ``auto_anwser`` silently ignored is a door that
never answers.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` holds one readable line per mistake."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class SipSettings:
    listen: HostPort = HostPort("0.0.0.0", 5060)
    transport: str = "udp"
    user_agent: str = "sip-endpoint"
    #: Public address to put in Via/Contact/SDP when the listen address is a wildcard.
    advertise: str | None = None


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """A registrar account. ``password`` is kept out of ``repr`` so it never reaches a log."""

    registrar: str
    user: str
    password: str = field(repr=False)
    domain: str
    auth_user: str
    display_name: str | None = None
    expires: int = 600
    outbound_proxy: str | None = None
    keepalive: str = "crlf"
    keepalive_interval: int = 25


@dataclass(frozen=True, slots=True)
class CallSettings:
    auto_answer: bool = True
    answer_delay: float = 0.0
    allow: tuple[str, ...] = ("*",)
    #: What happens to a caller outside ``allow``: ``ring`` (ring only, never auto-answer) or
    #: ``reject`` (403 Forbidden).
    not_allowed: str = "ring"
    max_duration: int = 0
    ring_timeout: int = 60
    session_expires: int = 1800


@dataclass(frozen=True, slots=True)
class MediaSettings:
    rtp_ports: tuple[int, int] = (10000, 10099)
    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    ptime: int = 20
    telephone_event: bool = True
    jitter_min_ms: int = 40
    jitter_max_ms: int = 200


@dataclass(frozen=True, slots=True)
class AudioSettings:
    backend: str = "alsa"
    capture_device: str | int | None = None
    playback_device: str | int | None = None
    alert_device: str | int | None = None
    input_file: Path | None = None
    output_file: Path | None = None
    tone_hz: float = 440.0


@dataclass(frozen=True, slots=True)
class ControlSettings:
    socket: Path = Path("/run/sip-endpoint/control.sock")


@dataclass(frozen=True, slots=True)
class Config:
    sip: SipSettings = SipSettings()
    account: AccountSettings | None = None
    backup_account: AccountSettings | None = None
    calls: CallSettings = CallSettings()
    media: MediaSettings = MediaSettings()
    audio: AudioSettings = AudioSettings()
    control: ControlSettings = ControlSettings()
    log_level: str = "info"


_SECTIONS: dict[str, tuple[str, ...]] = {
    "sip": ("listen", "transport", "user_agent", "advertise"),
    "account": (
        "registrar",
        "user",
        "password",
        "password_file",
        "domain",
        "auth_user",
        "display_name",
        "expires",
        "outbound_proxy",
        "keepalive",
        "keepalive_interval",
    ),
    "calls": (
        "auto_answer",
        "answer_delay",
        "allow",
        "not_allowed",
        "max_duration",
        "ring_timeout",
        "session_expires",
    ),
    "media": ("rtp_ports", "codecs", "ptime", "telephone_event", "jitter_min_ms", "jitter_max_ms"),
    "audio": (
        "backend",
        "capture_device",
        "playback_device",
        "alert_device",
        "input_file",
        "output_file",
        "tone_hz",
    ),
    "control": ("socket",),
    "log": ("level",),
}
_SECTIONS["backup_account"] = _SECTIONS["account"]

_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
_USER_RE = re.compile(r"^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+$")


class _Reader:
    """Reads one section, collecting every problem instead of stopping at the first."""

    def __init__(self, section: str, table: Mapping[str, Any], problems: list[str]) -> None:
        self.section = section
        self.table = table
        self.problems = problems

    def problem(self, key: str, value: object, fix: str) -> None:
        shown = "********" if "password" in key else _show(value)
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


def _show(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _int_in(lo: int, hi: int) -> Callable[[Any], int | None]:
    def convert(value: Any) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        return value if lo <= value <= hi else None

    return convert


def _number_in(lo: float, hi: float) -> Callable[[Any], float | None]:
    def convert(value: Any) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if lo <= value <= hi else None

    return convert


def _choice(*choices: str) -> Callable[[Any], str | None]:
    def convert(value: Any) -> str | None:
        return value.lower() if isinstance(value, str) and value.lower() in choices else None

    return convert


def _host(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return bool(_HOST_RE.match(value)) and len(value) <= 253
    return True


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
    if not host or not _host(host):
        return None
    if not port_text:
        return HostPort(host, default_port)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return None
    return HostPort(host, int(port_text))


def _listen(value: Any) -> HostPort | None:
    return parse_host_port(value) if isinstance(value, str) else None


def _sip_target(value: Any) -> str | None:
    """A registrar or proxy: ``sip:host[:port][;transport=..]`` or a bare ``host[:port]``."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    lowered = text.lower()
    if lowered.startswith(("sip:", "sips:")):
        rest = text.split(":", 1)[1]
    else:
        rest, text = text, f"sip:{text}"
    hostport = rest.split(";", 1)[0]
    if "@" in hostport:
        return None
    return text if parse_host_port(hostport) is not None else None


def _user(value: Any) -> str | None:
    return value if isinstance(value, str) and _USER_RE.match(value) else None


def _patterns(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return None
    return tuple(value)


def _port_range(value: Any) -> tuple[int, int] | None:
    if isinstance(value, str) and "-" in value:
        lo_text, _, hi_text = value.partition("-")
        if lo_text.strip().isdigit() and hi_text.strip().isdigit():
            value = [int(lo_text), int(hi_text)]
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        lo, hi = value
        if 1024 <= lo < hi <= 65535 and hi - lo >= 3:
            return (lo, hi)
    return None


_CODECS = ("PCMU", "PCMA")


def _codecs(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not value:
        return None
    names = [v.upper() for v in value if isinstance(v, str)]
    if len(names) != len(value) or any(n not in _CODECS for n in names):
        return None
    return tuple(dict.fromkeys(names))


def _device(value: Any) -> str | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    return _str(value)


def _path(value: Any) -> Path | None:
    return Path(value) if isinstance(value, str) and value else None


def _check_keys(
    section: str, table: Mapping[str, Any], allowed: tuple[str, ...], problems: list[str]
) -> None:
    for key in table:
        if key not in allowed:
            near = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {near[0]}?" if near else f"known keys: {', '.join(allowed)}"
            problems.append(f"[{section}] {key}: unknown key; {hint}")


def _read_account(
    section: str, table: Mapping[str, Any], base: Path, problems: list[str]
) -> AccountSettings | None:
    r = _Reader(section, table, problems)
    before = len(problems)
    registrar = r.required(
        "registrar", _sip_target, 'the registrar, e.g. registrar = "sip:pbx.example.com:5060"'
    )
    user = r.required("user", _user, 'the SIP user name, e.g. user = "door"')
    password = _read_password(r, base)
    domain_default = ""
    if registrar:
        domain_default = registrar.split(":", 1)[1].split(";", 1)[0]
        hp = parse_host_port(domain_default)
        domain_default = hp.host if hp else domain_default
    domain = r.get(
        "domain",
        domain_default,
        lambda v: v if isinstance(v, str) and _host(v) else None,
        'the SIP domain of the account, e.g. domain = "example.com" (default: the registrar host)',
    )
    account = AccountSettings(
        registrar=registrar,
        user=user,
        password=password,
        domain=domain,
        auth_user=r.get("auth_user", user, _user, "the digest user name, if not the SIP user"),
        display_name=r.get("display_name", None, _str, 'a name, e.g. display_name = "Front door"'),
        expires=r.get(
            "expires", 600, _int_in(30, 86400), "seconds between 30 and 86400, e.g. expires = 600"
        ),
        outbound_proxy=r.get(
            "outbound_proxy",
            None,
            _sip_target,
            'a proxy URI, e.g. outbound_proxy = "sip:proxy.example.com:5060"',
        ),
        keepalive=r.get(
            "keepalive",
            "crlf",
            _choice("crlf", "options", "off"),
            'one of "crlf", "options", "off"',
        ),
        keepalive_interval=r.get(
            "keepalive_interval", 25, _int_in(5, 3600), "seconds between 5 and 3600, e.g. 25"
        ),
    )
    return account if len(problems) == before else None


def _read_password(r: _Reader, base: Path) -> str:
    has_password = "password" in r.table
    has_file = "password_file" in r.table
    if has_password and has_file:
        r.problems.append(
            f"[{r.section}] password and password_file are both set: keep only one "
            "(password_file is better: the config can then be world-readable)"
        )
        return ""
    if has_file:
        path = r.get("password_file", None, _path, 'a file path, e.g. "/etc/sip-endpoint/pw"')
        if path is None:
            return ""
        path = path if path.is_absolute() else base / path
        try:
            secret = path.read_text().strip()
        except OSError as exc:
            r.problems.append(
                f"[{r.section}] password_file = {_show(str(path))}: cannot be read "
                f"({exc.strerror}); create it with the password on one line, readable by the "
                "service user"
            )
            return ""
        if not secret:
            r.problems.append(
                f"[{r.section}] password_file = {_show(str(path))}: the file is empty; put the "
                "password on its first line"
            )
        return secret
    if has_password:
        return r.get("password", "", _str, "a non-empty string (or use password_file)")
    r.problems.append(
        f'[{r.section}] password is missing: set password = "..." or password_file = "PATH"'
    )
    return ""


def load_config(path: str | Path) -> Config:
    """Read and validate ``path``; raise ConfigError listing every problem found."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), ["the file is not UTF-8 text"]) from None
    return parse_config(text, source=str(path), base=path.parent)


def parse_config(text: str, *, source: str = "config", base: Path = Path(".")) -> Config:
    """Validate TOML ``text``. Relative paths are taken relative to ``base``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    problems: list[str] = []
    for name, table in data.items():
        if name not in _SECTIONS:
            near = difflib.get_close_matches(name, list(_SECTIONS), n=1)
            hint = f"did you mean [{near[0]}]?" if near else f"sections: {', '.join(_SECTIONS)}"
            problems.append(f"[{name}]: unknown section; {hint}")
        elif not isinstance(table, dict):
            problems.append(f"{name} = {_show(table)}: must be a [{name}] section")
        else:
            _check_keys(name, table, _SECTIONS[name], problems)

    def section(name: str) -> dict[str, Any]:
        table = data.get(name, {})
        return table if isinstance(table, dict) else {}

    r = _Reader("sip", section("sip"), problems)
    sip = SipSettings(
        listen=r.get(
            "listen",
            HostPort("0.0.0.0", 5060),
            _listen,
            'host:port to listen on, e.g. listen = "0.0.0.0:5060" or "[::]:5060"',
        ),
        transport=r.get("transport", "udp", _choice("udp", "tcp"), 'one of "udp", "tcp"'),
        user_agent=r.get("user_agent", "sip-endpoint", _str, "a non-empty product name"),
        advertise=r.get(
            "advertise",
            None,
            lambda v: v if isinstance(v, str) and _host(v) else None,
            'the address peers should reach us at, e.g. advertise = "192.168.1.20"',
        ),
    )
    account = None
    if "account" in data and isinstance(data["account"], dict):
        account = _read_account("account", data["account"], base, problems)
    backup = None
    if "backup_account" in data and isinstance(data["backup_account"], dict):
        if "account" not in data:
            problems.append("[backup_account] is set without [account]: add the primary [account]")
        backup = _read_account("backup_account", data["backup_account"], base, problems)

    r = _Reader("calls", section("calls"), problems)
    calls = CallSettings(
        auto_answer=r.get("auto_answer", True, _bool, "true or false"),
        answer_delay=r.get(
            "answer_delay", 0.0, _number_in(0, 300), "seconds between 0 and 300, e.g. 0 or 2.5"
        ),
        allow=r.get(
            "allow",
            ("*",),
            _patterns,
            'a list of caller patterns, e.g. allow = ["concierge@example.com", "*@10.0.0.*"]',
        ),
        not_allowed=r.get(
            "not_allowed", "ring", _choice("ring", "reject"), 'one of "ring", "reject"'
        ),
        max_duration=r.get(
            "max_duration",
            0,
            _int_in(0, 86400),
            "seconds (0 = unlimited, otherwise at least 30), e.g. max_duration = 120",
        ),
        ring_timeout=r.get(
            "ring_timeout", 60, _int_in(5, 600), "seconds between 5 and 600, e.g. 60"
        ),
        session_expires=r.get(
            "session_expires",
            1800,
            _int_in(90, 86400),
            "seconds between 90 (RFC 4028 minimum) and 86400, e.g. 1800",
        ),
    )
    if 0 < calls.max_duration < 30:
        problems.append(
            f"[calls] max_duration = {calls.max_duration}: use 0 (unlimited) or at least 30 "
            "seconds (the warning tone plays 10 s before the end)"
        )

    r = _Reader("media", section("media"), problems)
    media = MediaSettings(
        rtp_ports=r.get(
            "rtp_ports",
            (10000, 10099),
            _port_range,
            'a range of at least 4 ports within 1024-65535, e.g. rtp_ports = "10000-10099"',
        ),
        codecs=r.get(
            "codecs",
            ("PCMU", "PCMA"),
            _codecs,
            'a non-empty list from "PCMU", "PCMA", in order of preference',
        ),
        ptime=r.get("ptime", 20, _choice_int(10, 20, 30, 40, 60), "one of 10, 20, 30, 40, 60"),
        telephone_event=r.get("telephone_event", True, _bool, "true or false"),
        jitter_min_ms=r.get(
            "jitter_min_ms", 40, _int_in(0, 1000), "milliseconds between 0 and 1000, e.g. 40"
        ),
        jitter_max_ms=r.get(
            "jitter_max_ms", 200, _int_in(20, 2000), "milliseconds between 20 and 2000, e.g. 200"
        ),
    )
    if media.jitter_min_ms > media.jitter_max_ms:
        problems.append(
            f"[media] jitter_min_ms = {media.jitter_min_ms} is above jitter_max_ms = "
            f"{media.jitter_max_ms}: make jitter_min_ms <= jitter_max_ms"
        )

    r = _Reader("audio", section("audio"), problems)
    backend = r.get(
        "backend",
        "alsa",
        _choice("alsa", "file", "tone", "null"),
        'one of "alsa", "file", "tone", "null"',
    )
    device_fix = 'an ALSA device name (e.g. "USB Audio") or index (e.g. 1)'
    audio = AudioSettings(
        backend=backend,
        capture_device=r.get("capture_device", None, _device, device_fix),
        playback_device=r.get("playback_device", None, _device, device_fix),
        alert_device=r.get("alert_device", None, _device, device_fix),
        input_file=_relative(r.get("input_file", None, _path, "a WAV file path"), base),
        output_file=_relative(r.get("output_file", None, _path, "a WAV file path"), base),
        tone_hz=r.get("tone_hz", 440.0, _number_in(20, 3900), "Hz between 20 and 3900"),
    )
    if backend == "file" and audio.input_file is None and audio.output_file is None:
        problems.append(
            '[audio] backend = "file" needs input_file and/or output_file, e.g. '
            'input_file = "greeting.wav"'
        )
    if audio.input_file is not None and backend == "file" and not audio.input_file.is_file():
        problems.append(
            f"[audio] input_file = {_show(str(audio.input_file))}: no such file; give the path "
            "of a WAV file"
        )

    r = _Reader("control", section("control"), problems)
    control = ControlSettings(
        socket=_relative(
            r.get("socket", Path("/run/sip-endpoint/control.sock"), _path, "a socket file path"),
            base,
        )
        or Path("/run/sip-endpoint/control.sock"),
    )
    r = _Reader("log", section("log"), problems)
    level = r.get(
        "level",
        "info",
        _choice("debug", "info", "warning", "error"),
        'one of "debug", "info", "warning", "error"',
    )
    if problems:
        raise ConfigError(source, problems)
    return Config(
        sip=sip,
        account=account,
        backup_account=backup,
        calls=calls,
        media=media,
        audio=audio,
        control=control,
        log_level=level,
    )


def _choice_int(*choices: int) -> Callable[[Any], int | None]:
    def convert(value: Any) -> int | None:
        return (
            value
            if isinstance(value, int) and not isinstance(value, bool) and value in choices
            else None
        )

    return convert


def _relative(path: Path | None, base: Path) -> Path | None:
    if path is None or path.is_absolute():
        return path
    return base / path
