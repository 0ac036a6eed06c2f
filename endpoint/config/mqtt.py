"""``[mqtt]``: the MQTT publisher and Home Assistant discovery (issue 18). ``broker`` unset: off.

The key names are fixed by issue 18 (tools outside the project rely on them).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from endpoint.config.reader import Document, Section, boolean, nonempty_str, parse_host_port
from endpoint.config.secret_file import read_secret_file


@functools.cache
def _broker_re() -> re.Pattern[str]:
    """Compiled at first use: only a configuration with ``[mqtt]`` reads a broker (issue 19)."""
    return re.compile(r"^mqtts?://([^/@\s]+)/?$")


@functools.cache
def _topic_re() -> re.Pattern[str]:
    """Compiled at first use: only a configuration with ``[mqtt]`` has a topic (issue 19)."""
    return re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$")


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """The ``[mqtt]`` section: the broker that receives events and sends commands."""

    broker: str | None = None
    username: str | None = None
    password: str = field(default="", repr=False)
    topic_prefix: str = "sip-endpoint"
    discovery: bool = True
    #: Call, hang up and open the door from MQTT: off unless asked for.
    commands: bool = False


def _broker(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    m = _broker_re().match(value.strip())
    return value.strip() if m and parse_host_port(m.group(1), 1883) is not None else None


def _topic(value: Any) -> str | None:
    return value if isinstance(value, str) and _topic_re().match(value) else None


def read(doc: Document) -> MqttSettings:
    r = doc.reader("mqtt")
    return MqttSettings(
        broker=r.get(
            "broker",
            None,
            _broker,
            'mqtt://host:port or mqtts://host:port, e.g. broker = "mqtt://192.168.1.10:1883"',
        ),
        username=r.get("username", None, nonempty_str, 'a user name, e.g. username = "door"'),
        password=read_secret_file(r, doc, "password_file", "the broker password"),
        topic_prefix=r.get(
            "topic_prefix",
            "sip-endpoint",
            _topic,
            'letters, digits, "-", "_" and "/" (no wildcards), e.g. topic_prefix = "door/front"',
        ),
        discovery=r.get("discovery", True, boolean, "true or false"),
        commands=r.get("commands", False, boolean, "true or false"),
    )


MQTT = Section(
    "mqtt",
    ("broker", "username", "password_file", "topic_prefix", "discovery", "commands"),
    MqttSettings(),
    read,
)
