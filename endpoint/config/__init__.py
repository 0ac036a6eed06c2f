"""Configuration: one TOML file, validated completely before anything starts.

An installer edits this file on a box on a wall, often over a serial console. Every mistake must
come back as one line that names the key, the bad value and the fix (``ConfigError``), never a
traceback, and all mistakes at once so that one edit fixes them all. Unknown keys are errors too
(with a "did you mean" hint), because a misspelt ``auto_anwser`` silently ignored is a door that
never answers.

The package, top-down:

- ``loader``: ``Config`` (one field per section), ``parse_config`` and ``load_config``.
- one module per section: ``sip``, ``tls``, ``account`` (``[account]`` and
  ``[backup_account]``), ``calls``, ``media``, ``audio``, ``control``, ``log``, ``hardware``
  (buttons, LEDs), ``door`` (relay, code, sensor, and the wiring checks across both),
  ``history``, ``http``, ``mqtt`` (building integration; ``secret_file`` reads their secrets);
  ``pins`` holds the GPIO numbering they share.
- ``reader``: the TOML reading, ``ConfigError``, the per-section ``Reader`` and the typed
  converters every section uses; ``security``: warnings about valid but risky settings.

**Adding a section** takes one new module and one line in the loader. The module defines the
frozen settings dataclass, a ``read(doc: Document) -> Settings`` that reads ``doc.reader(name)``
and appends its problems to ``doc.problems`` (asking ``doc.get(OTHER)`` for a section it
depends on, which must come earlier), and ``NAME = Section(name, keys, default, read)``. The
line is the ``Config`` field: ``name: Settings = section(NAME)``; the loader then
knows the section's name, its keys and where it goes in the order of reading. Re-export the
settings class here if other packages use it.
"""

from endpoint.config.account import AccountSettings
from endpoint.config.audio import AudioSettings
from endpoint.config.calls import CallSettings
from endpoint.config.control import ControlSettings
from endpoint.config.door import DoorSettings
from endpoint.config.hardware import (
    BUTTON_ACTIONS,
    DEFAULT_LED_SHOW,
    LED_PATTERNS,
    ButtonSettings,
    HardwareSettings,
    LedSettings,
)
from endpoint.config.history import HistorySettings
from endpoint.config.http import HttpSettings
from endpoint.config.loader import Config, load_config, parse_config
from endpoint.config.media import MediaSettings
from endpoint.config.mqtt import MqttSettings
from endpoint.config.reader import ConfigError, HostPort, parse_host_port
from endpoint.config.security import security_warnings
from endpoint.config.sip import SipSettings
from endpoint.config.tls import TlsSettings
from endpoint.config.tls_need import TLS_KEYS, needs_tls

__all__ = [
    "BUTTON_ACTIONS",
    "DEFAULT_LED_SHOW",
    "LED_PATTERNS",
    "TLS_KEYS",
    "AccountSettings",
    "AudioSettings",
    "ButtonSettings",
    "CallSettings",
    "Config",
    "ConfigError",
    "ControlSettings",
    "DoorSettings",
    "HardwareSettings",
    "HistorySettings",
    "HostPort",
    "HttpSettings",
    "LedSettings",
    "MediaSettings",
    "MqttSettings",
    "SipSettings",
    "TlsSettings",
    "load_config",
    "needs_tls",
    "parse_config",
    "parse_host_port",
    "security_warnings",
]
