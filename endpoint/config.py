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

from endpoint.hardware.pico_pins import PICO_GPIO_MAX, PICO_PIN_RANGES, PICO_RESERVED
from endpoint.sip.grammar import is_ip_literal

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
    #: Sources trusted with new requests: "*", "registrar", addresses, networks. None: the
    #: registrar when an account is configured, anyone in peer-to-peer mode.
    accept_from: tuple[str, ...] | None = None
    #: DNS servers (IP or IP:port) for the registrar's and proxy's names (RFC 3263 NAPTR, SRV,
    #: A/AAAA); empty: the system's (/etc/resolv.conf).
    dns_servers: tuple[HostPort, ...] = ()


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """SIP over TLS (RFC 3261 §26, RFC 5630). ``ca_file`` None: the system's trust store.

    ``cert_file``/``key_file`` are our certificate: the client certificate a registrar may ask
    for, and the one a TLS listener (peer-to-peer mode) presents; without them nothing listens
    for TLS and calls arrive over the registration's own connection (RFC 5626 flow reuse).
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    #: Check the server's certificate chain and host name. False is for a lab bench only.
    verify: bool = True


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
    #: Seconds before the first retry of a failed registration (doubling up to 30 min).
    retry_interval: int = 30


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
    #: Seconds of silence from the peer (no RTP, no RTCP) before we hang up; 0 = never.
    rtp_timeout: int = 60
    #: SRTP with SDES keys: "off", "optional" (offer SRTP, accept RTP) or "mandatory" (refuse
    #: plain RTP with 488). Needs [sip] transport = "tls": keys never travel in the clear.
    encryption: str = "off"
    #: Keys heard as tones in the audio (ITU-T Q.24): "auto" listens when the call negotiated
    #: no RFC 4733 telephone-event, "always" listens on every call, "off" never.
    inband_dtmf: str = "auto"


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


#: What a ``[[hardware.led]]`` shows in each device state unless its ``show`` says otherwise.
DEFAULT_LED_SHOW: dict[str, str] = {
    "unregistered": "fast",
    "idle": "on",
    "calling": "slow",
    "ringing": "slow",
    "in_call": "on",
    "door_open": "double",
}
LED_PATTERNS = ("off", "on", "slow", "fast", "double")
BUTTON_ACTIONS = ("call", "hangup", "call-or-hangup", "answer", "open-door", "register")


@dataclass(frozen=True, slots=True)
class ButtonSettings:
    """One ``[[hardware.button]]``: its wiring and what a press does."""

    name: str
    pin: int
    pull: str = "up"
    active: str = "low"
    bounce_ms: int = 30
    hold_s: float = 2.0
    action: str = "call"
    #: Whom ``call`` / ``call-or-hangup`` rings: user names at our domain or SIP URIs.
    targets: tuple[str, ...] = ()
    mode: str = "parallel"
    target_timeout: float = 20.0


@dataclass(frozen=True, slots=True)
class LedSettings:
    """One ``[[hardware.led]]``; ``show`` maps every device state to a pattern name."""

    name: str
    pin: int
    active: str = "high"
    show: tuple[tuple[str, str], ...] = tuple(DEFAULT_LED_SHOW.items())

    def pattern(self, state: str) -> str:
        return dict(self.show).get(state, "off")


@dataclass(frozen=True, slots=True)
class HardwareSettings:
    board: str = "none"
    serial_port: str = "/dev/ttyACM0"
    #: A gpiozero pin factory name; None leaves the choice to gpiozero (GPIOZERO_PIN_FACTORY).
    pin_factory: str | None = None
    buttons: tuple[ButtonSettings, ...] = ()
    leds: tuple[LedSettings, ...] = ()


@dataclass(frozen=True, slots=True)
class DoorSettings:
    """The door relay, its DTMF code and the door sensor. ``code`` never reaches a log."""

    relay_pin: int | None = None
    relay_active: str = "high"
    pulse_s: float = 3.0
    code: str = field(default="", repr=False)
    code_timeout_s: float = 5.0
    max_wrong: int = 3
    lockout_minutes: float = 5.0
    hangup_after_open_s: float = 0.0
    sensor_pin: int | None = None
    sensor_active: str = "low"
    sensor_pull: str = "up"
    left_open_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Config:
    sip: SipSettings = SipSettings()
    tls: TlsSettings = TlsSettings()
    account: AccountSettings | None = None
    backup_account: AccountSettings | None = None
    calls: CallSettings = CallSettings()
    media: MediaSettings = MediaSettings()
    audio: AudioSettings = AudioSettings()
    control: ControlSettings = ControlSettings()
    log_level: str = "info"
    hardware: HardwareSettings = HardwareSettings()
    door: DoorSettings = DoorSettings()


_SECTIONS: dict[str, tuple[str, ...]] = {
    "sip": ("listen", "transport", "user_agent", "advertise", "accept_from", "dns_servers"),
    "tls": ("ca_file", "cert_file", "key_file", "verify"),
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
        "retry_interval",
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
    "media": (
        "rtp_ports",
        "codecs",
        "ptime",
        "telephone_event",
        "jitter_min_ms",
        "jitter_max_ms",
        "rtp_timeout",
        "encryption",
        "inband_dtmf",
    ),
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
    "hardware": ("board", "serial_port", "pin_factory", "button", "led"),
    "door": (
        "relay_pin",
        "relay_active",
        "pulse_s",
        "code",
        "code_timeout_s",
        "max_wrong",
        "lockout_minutes",
        "hangup_after_open_s",
        "sensor_pin",
        "sensor_active",
        "sensor_pull",
        "left_open_s",
    ),
}
_BUTTON_KEYS = (
    "name",
    "pin",
    "pull",
    "active",
    "bounce_ms",
    "hold_s",
    "action",
    "targets",
    "mode",
    "target_timeout",
)
_LED_KEYS = ("name", "pin", "active", "show")
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


def _sources(value: Any) -> tuple[str, ...] | None:
    """``accept_from``: "*", "registrar", IP addresses and networks (CIDR)."""
    if not isinstance(value, list) or not value:
        return None
    out = []
    for item in value:
        if not isinstance(item, str):
            return None
        if item not in ("*", "registrar"):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                return None
        out.append(item)
    return tuple(out)


def _off_or_int_in(lo: int, hi: int) -> Callable[[Any], int | None]:
    """0 (the feature is off) or an integer in [lo, hi]."""
    in_range = _int_in(lo, hi)

    def convert(value: Any) -> int | None:
        return 0 if value == 0 and not isinstance(value, bool) else in_range(value)

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


def _dns_servers(value: Any) -> tuple[HostPort, ...] | None:
    if not isinstance(value, list) or len(value) > 8:
        return None
    servers = []
    for item in value:
        hp = parse_host_port(item, 53) if isinstance(item, str) else None
        if hp is None or not is_ip_literal(hp.host):
            return None
        servers.append(hp)
    return tuple(servers)


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
        retry_interval=r.get(
            "retry_interval", 30, _int_in(1, 3600), "seconds between 1 and 3600, e.g. 30"
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


# -- [hardware] and [door] -------------------------------------------------------------

_PIN_FIX = "a BCM GPIO number 0-27 (the Pi header's GPIOn), e.g. pin = 17"
_PICO_PIN_FIX = (
    f"a Pico GPIO number {PICO_PIN_RANGES} (GPn on the board's silk screen), e.g. pin = 15"
)


def _pin_fix(board: str, key: str) -> str:
    """How to write ``key`` right on ``board``: the Pi header's BCM numbers or the Pico's GPn."""
    fix = _PICO_PIN_FIX if board == "serial" else _PIN_FIX
    return fix.replace("pin =", f"{key} =")


def _read_pin(r: _Reader, key: str, board: str, default: T) -> int | T:
    """``key`` as a pin of ``board``: the Pi header's BCM 0-27 (gpio, and simulated/none as
    if it were one) or a Pico GPIO the firmware accepts (serial), reserved ones with why."""
    value = r.table.get(key)
    fallback: int | T = default
    if board == "serial" and isinstance(value, int) and value in PICO_RESERVED:
        r.problem(key, value, f"GP{value} is {PICO_RESERVED[value]}; use {PICO_PIN_RANGES}")
        return fallback
    highest = PICO_GPIO_MAX if board == "serial" else 27
    return r.get(key, fallback, _int_in(0, highest), _pin_fix(board, key))


_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_CODE_RE = re.compile(r"^[0-9*#]{4,16}$")
_PIN_FACTORIES = ("lgpio", "rpigpio", "pigpio", "native", "mock")


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and _NAME_RE.match(value) else None


def _targets(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(v, str) and v.strip() and not any(c.isspace() for c in v) for v in value):
        return None
    return tuple(value)


def _show_map(value: Any) -> tuple[tuple[str, str], ...] | None:
    if not isinstance(value, dict):
        return None
    merged = dict(DEFAULT_LED_SHOW)
    for state, pattern in value.items():
        if state not in DEFAULT_LED_SHOW or not isinstance(pattern, str):
            return None
        if pattern.lower() not in LED_PATTERNS:
            return None
        merged[state] = pattern.lower()
    return tuple(merged.items())


def _read_button(index: int, table: Any, board: str, problems: list[str]) -> ButtonSettings | None:
    label = f"hardware.button #{index}"
    if not isinstance(table, dict):
        problems.append(f"[{label}]: must be a table, e.g. [[hardware.button]] with name and pin")
        return None
    _check_keys(label, table, _BUTTON_KEYS, problems)
    r = _Reader(label, table, problems)
    before = len(problems)
    name = r.required("name", _name, 'letters, digits, "-" or "_", e.g. name = "call"')
    pin = _read_pin(r, "pin", board, -1)
    if "pin" not in table:
        problems.append(f"[{label}] pin is missing: {_pin_fix(board, 'pin')}")
    pull = r.get("pull", "up", _choice("up", "down", "none"), 'one of "up", "down", "none"')
    active = r.get(
        "active", "high" if pull == "down" else "low", _choice("low", "high"), '"low" or "high"'
    )
    if board == "gpio" and pull != "none" and (pull == "up") == (active == "high"):
        problems.append(
            f'[{label}] pull = "{pull}" with active = "{active}": on the Pi header a pull-{pull} '
            f"button is active {'low' if pull == 'up' else 'high'} (wire it to "
            f'{"GND" if pull == "up" else "3V3"}), or use pull = "none" with an external resistor'
        )
    action = r.get(
        "action",
        "call",
        _choice(*BUTTON_ACTIONS),
        "one of " + ", ".join(f'"{a}"' for a in BUTTON_ACTIONS),
    )
    no_targets: tuple[str, ...] = ()
    targets = r.get(
        "targets",
        no_targets,
        _targets,
        'a list of user names or SIP URIs, e.g. targets = ["flat12", "sip:concierge@example.com"]',
    )
    calls = action in ("call", "call-or-hangup")
    if calls and not targets and "targets" not in table:
        problems.append(
            f'[{label}] targets is missing: action = "{action}" needs whom to call, e.g. '
            'targets = ["flat12"]'
        )
    if not calls and "targets" in table:
        problems.append(
            f'[{label}] targets is set but action = "{action}" calls no one: remove targets or '
            'use action = "call"'
        )
    button = ButtonSettings(
        name=name,
        pin=pin,
        pull=pull,
        active=active,
        bounce_ms=r.get(
            "bounce_ms", 30, _int_in(0, 1000), "milliseconds between 0 and 1000, e.g. 30"
        ),
        hold_s=r.get("hold_s", 2.0, _number_in(0.1, 60), "seconds between 0.1 and 60, e.g. 2"),
        action=action,
        targets=targets,
        mode=r.get(
            "mode", "parallel", _choice("parallel", "sequential"), '"parallel" or "sequential"'
        ),
        target_timeout=r.get(
            "target_timeout", 20.0, _number_in(1, 600), "seconds between 1 and 600, e.g. 20"
        ),
    )
    return button if len(problems) == before else None


def _read_led(index: int, table: Any, board: str, problems: list[str]) -> LedSettings | None:
    label = f"hardware.led #{index}"
    if not isinstance(table, dict):
        problems.append(f"[{label}]: must be a table, e.g. [[hardware.led]] with name and pin")
        return None
    _check_keys(label, table, _LED_KEYS, problems)
    r = _Reader(label, table, problems)
    before = len(problems)
    name = r.required("name", _name, 'letters, digits, "-" or "_", e.g. name = "status"')
    if "pin" not in table:
        problems.append(f"[{label}] pin is missing: {_pin_fix(board, 'pin')}")
    led = LedSettings(
        name=name,
        pin=_read_pin(r, "pin", board, -1),
        active=r.get("active", "high", _choice("low", "high"), '"high" or "low"'),
        show=r.get(
            "show",
            tuple(DEFAULT_LED_SHOW.items()),
            _show_map,
            "a table of state = pattern; states: "
            + ", ".join(DEFAULT_LED_SHOW)
            + "; patterns: "
            + ", ".join(LED_PATTERNS)
            + ', e.g. show = { idle = "on", ringing = "fast" }',
        ),
    )
    return led if len(problems) == before else None


def _read_door(table: Mapping[str, Any], board: str, problems: list[str]) -> DoorSettings:
    r = _Reader("door", table, problems)
    code = r.get(
        "code",
        "",
        lambda v: v if isinstance(v, str) and (v == "" or _CODE_RE.match(v)) else None,
        '4 to 16 DTMF keys (0-9, * and #) in quotes, e.g. code = "4711" (empty: no DTMF '
        "opening; fewer than 4 keys are guessed in minutes)",
    )
    return DoorSettings(
        relay_pin=_read_pin(r, "relay_pin", board, None),
        relay_active=r.get("relay_active", "high", _choice("low", "high"), '"high" or "low"'),
        pulse_s=r.get("pulse_s", 3.0, _number_in(0.1, 30), "seconds between 0.1 and 30, e.g. 3"),
        code=code,
        code_timeout_s=r.get(
            "code_timeout_s", 5.0, _number_in(1, 60), "seconds between 1 and 60, e.g. 5"
        ),
        max_wrong=r.get("max_wrong", 3, _int_in(1, 100), "a count between 1 and 100, e.g. 3"),
        lockout_minutes=r.get(
            "lockout_minutes",
            5.0,
            _number_in(1, 1440),
            "minutes between 1 and 1440, e.g. 5 (without a lockout a code is guessed at last)",
        ),
        hangup_after_open_s=r.get(
            "hangup_after_open_s",
            0.0,
            _number_in(0, 600),
            "seconds between 0 (stay in the call) and 600, e.g. 2",
        ),
        sensor_pin=_read_pin(r, "sensor_pin", board, None),
        sensor_active=r.get("sensor_active", "low", _choice("low", "high"), '"low" or "high"'),
        sensor_pull=r.get(
            "sensor_pull", "up", _choice("up", "down", "none"), 'one of "up", "down", "none"'
        ),
        left_open_s=r.get(
            "left_open_s", 60.0, _number_in(0, 86400), "seconds (0 = no alarm), e.g. 60"
        ),
    )


def _read_hardware(
    table: Mapping[str, Any], door_table: Mapping[str, Any], problems: list[str]
) -> tuple[HardwareSettings, DoorSettings]:
    r = _Reader("hardware", table, problems)
    board = r.get(
        "board",
        "none",
        _choice("none", "gpio", "serial", "simulated"),
        'one of "none", "gpio", "serial", "simulated"',
    )
    serial_port = r.get(
        "serial_port", "/dev/ttyACM0", _str, 'the board\'s serial device, e.g. "/dev/ttyACM0"'
    )
    pin_factory = r.get(
        "pin_factory",
        None,
        _choice(*_PIN_FACTORIES),
        "a gpiozero pin factory: " + ", ".join(f'"{f}"' for f in _PIN_FACTORIES),
    )
    if pin_factory is not None and board != "gpio":
        problems.append(
            f'[hardware] pin_factory = "{pin_factory}" is only used with board = "gpio": remove '
            "it or set the board"
        )
    tables: dict[str, list[Any]] = {}
    for key, example in (("button", "[[hardware.button]]"), ("led", "[[hardware.led]]")):
        value = table.get(key, [])
        if not isinstance(value, list):
            r.problem(key, value, f"write each one as its own {example} table")
            value = []
        tables[key] = value
    buttons = [_read_button(i, t, board, problems) for i, t in enumerate(tables["button"], 1)]
    leds = [_read_led(i, t, board, problems) for i, t in enumerate(tables["led"], 1)]
    door = _read_door(door_table, board, problems)
    hardware = HardwareSettings(
        board=board,
        serial_port=serial_port,
        pin_factory=pin_factory,
        buttons=tuple(b for b in buttons if b is not None),
        leds=tuple(led for led in leds if led is not None),
    )
    wired = bool(tables["button"] or tables["led"]) or door.relay_pin is not None
    if board == "none" and (wired or door.sensor_pin is not None):
        problems.append(
            '[hardware] board = "none" but buttons, LEDs or a door relay/sensor are configured: '
            'set board = "gpio", "serial" or "simulated"'
        )
    _check_wiring(hardware, door, problems)
    return hardware, door


def _check_wiring(hardware: HardwareSettings, door: DoorSettings, problems: list[str]) -> None:
    """Pins and names must be unique: two devices on one pin is a wiring error, not a choice."""
    users: dict[int, list[str]] = {}
    for kind, items in (("button", hardware.buttons), ("led", hardware.leds)):
        names: dict[str, int] = {}
        for item in items:
            users.setdefault(item.pin, []).append(f'{kind} "{item.name}"')
            names[item.name] = names.get(item.name, 0) + 1
        for name, count in names.items():
            if count > 1:
                problems.append(
                    f'[hardware.{kind}] name = "{name}" is used {count} times: give each '
                    f"{kind} its own name"
                )
    if door.relay_pin is not None:
        users.setdefault(door.relay_pin, []).append("[door] relay_pin")
    if door.sensor_pin is not None:
        users.setdefault(door.sensor_pin, []).append("[door] sensor_pin")
    for pin, who in sorted(users.items()):
        if len(who) > 1:
            problems.append(f"GPIO{pin} is used by {' and '.join(who)}: give each its own pin")
    if door.relay_pin is None:
        for button in hardware.buttons:
            if button.action == "open-door":
                problems.append(
                    f'[hardware.button] "{button.name}" has action = "open-door" but [door] has '
                    "no relay_pin: set [door] relay_pin = 27 (the relay's GPIO)"
                )
        if door.code:
            problems.append(
                "[door] code is set but there is no relay_pin to open: set relay_pin = 27 (the "
                "relay's GPIO) or remove code"
            )


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
        transport=r.get(
            "transport", "udp", _choice("udp", "tcp", "tls"), 'one of "udp", "tcp", "tls"'
        ),
        user_agent=r.get("user_agent", "sip-endpoint", _str, "a non-empty product name"),
        advertise=r.get(
            "advertise",
            None,
            lambda v: v if isinstance(v, str) and _host(v) else None,
            'the address peers should reach us at, e.g. advertise = "192.168.1.20"',
        ),
        accept_from=r.get(
            "accept_from",
            None,
            _sources,
            'a list of "*", "registrar", addresses or networks, '
            'e.g. accept_from = ["registrar", "192.168.1.0/24"]',
        ),
        dns_servers=r.get(
            "dns_servers",
            (),
            _dns_servers,
            'a list of IP addresses, optionally with a port, e.g. dns_servers = ["192.168.1.1", '
            '"127.0.0.53:5353"]',
        ),
    )
    tls = _read_tls(section("tls"), base, problems)
    account = None
    if "account" in data and isinstance(data["account"], dict):
        account = _read_account("account", data["account"], base, problems)
    if sip.accept_from and "registrar" in sip.accept_from and "account" not in data:
        problems.append(
            '[sip] accept_from = "registrar" needs an [account]: in peer-to-peer mode list '
            'addresses or networks, or "*"'
        )
    backup = None
    if "backup_account" in data and isinstance(data["backup_account"], dict):
        if "account" not in data:
            problems.append("[backup_account] is set without [account]: add the primary [account]")
        backup = _read_account("backup_account", data["backup_account"], base, problems)

    for name, acct in (("account", account), ("backup_account", backup)):
        if acct is not None:
            _check_transport(name, acct, sip.transport, problems)

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
            _off_or_int_in(90, 86400),  # RFC 4028 §4: at least Min-SE
            "0 (no timer unless the peer asks) or seconds between 90 (RFC 4028 minimum) "
            "and 86400, e.g. 1800",
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
        rtp_timeout=r.get(
            "rtp_timeout",
            60,
            _off_or_int_in(5, 3600),
            "0 (never) or seconds between 5 and 3600, e.g. rtp_timeout = 60",
        ),
        jitter_max_ms=r.get(
            "jitter_max_ms", 200, _int_in(20, 2000), "milliseconds between 20 and 2000, e.g. 200"
        ),
        encryption=r.get(
            "encryption",
            "off",
            _choice("off", "optional", "mandatory"),
            'one of "off", "optional", "mandatory"',
        ),
        inband_dtmf=r.get(
            "inband_dtmf",
            "auto",
            _choice("auto", "always", "off"),
            'one of "auto" (when RFC 4733 was not negotiated), "always", "off"',
        ),
    )
    if media.encryption != "off" and sip.transport != "tls":
        problems.append(
            f'[media] encryption = "{media.encryption}" needs [sip] transport = "tls": the SRTP '
            "keys travel in the SDP and are never sent over UDP or TCP in the clear"
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
    hardware, door = _read_hardware(section("hardware"), section("door"), problems)
    if problems:
        raise ConfigError(source, problems)
    return Config(
        sip=sip,
        tls=tls,
        account=account,
        backup_account=backup,
        calls=calls,
        media=media,
        audio=audio,
        control=control,
        log_level=level,
        hardware=hardware,
        door=door,
    )


_URI_TRANSPORT_RE = re.compile(r";transport=([A-Za-z]+)", re.IGNORECASE)


def _check_transport(
    section: str, account: AccountSettings, transport: str, problems: list[str]
) -> None:
    """The registrar's and proxy's transport must be ours: our Via and Contact name the
    transport we send on, and keys for SRTP may only travel where TLS protects them."""
    for key, uri in (("registrar", account.registrar), ("outbound_proxy", account.outbound_proxy)):
        if not uri:
            continue
        m = _URI_TRANSPORT_RE.search(uri)
        wanted = m.group(1).lower() if m else ("tls" if uri.lower().startswith("sips:") else None)
        if wanted is not None and wanted != transport:
            problems.append(
                f"[{section}] {key} = {_show(uri)} uses {wanted.upper()} but [sip] transport = "
                f'"{transport}": set [sip] transport = "{wanted}" or change the URI'
            )


def _read_tls(table: Mapping[str, Any], base: Path, problems: list[str]) -> TlsSettings:
    r = _Reader("tls", table, problems)
    files: dict[str, Path | None] = {}
    for key, what in (
        ("ca_file", "CA certificates (PEM) that signed the registrar's certificate"),
        ("cert_file", "our certificate chain (PEM)"),
        ("key_file", "the private key (PEM) of cert_file"),
    ):
        path = _relative(r.get(key, None, _path, f"the path of a file with {what}"), base)
        if path is not None and not path.is_file():
            problems.append(
                f"[tls] {key} = {_show(str(path))}: no such file; give the path of {what}"
            )
        files[key] = path
    if (files["cert_file"] is None) != (files["key_file"] is None):
        problems.append("[tls] cert_file and key_file go together: set both or neither")
    return TlsSettings(
        ca_file=files["ca_file"],
        cert_file=files["cert_file"],
        key_file=files["key_file"],
        verify=r.get("verify", True, _bool, "true (check the certificate) or false"),
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


def security_warnings(config: Config) -> list[str]:
    """Settings that are valid but leave the door open (issue 13 rule 11): ``check-config``
    prints them and ``run`` logs them, so an installer sees them before a stranger does."""
    out: list[str] = []
    calls = config.calls
    if config.account is not None and calls.auto_answer and "*" in calls.allow:
        out.append(
            '[calls] auto_answer = true with allow = ["*"]: every caller the PBX routes hears '
            'the street; list the allowed callers, e.g. allow = ["concierge@example.com"]'
        )
    if config.account is not None and "*" in (config.sip.accept_from or ()):
        out.append(
            '[sip] accept_from includes "*": anyone on the network can call the door '
            "directly, bypassing the PBX; list the PBX's addresses instead"
        )
    if config.door.code and calls.auto_answer and "*" in calls.allow:
        out.append(
            "[door] code is set and every caller is auto-answered: the code alone keeps the "
            "door shut; restrict [calls] allow"
        )
    return out
