"""MQTT: state and events under ``[mqtt] topic_prefix``, Home Assistant discovery, commands.

paho-mqtt runs its own network thread (``loop_start``): connecting, DNS, TLS handshakes and
reconnecting with backoff (``reconnect_delay_set``) all happen there, never on the SIP loop.
From the loop we only call ``publish``, which queues the message (QoS 1) and returns. While the
broker is away paho keeps at most ``QUEUE`` messages and sends them in order on reconnect;
beyond that new messages are dropped and counted (``dropped``). The broker announces us
offline through the last will on ``<prefix>/availability``.

Topics (``P`` = topic_prefix): ``P/availability`` (online/offline, retained), ``P/event`` (every
event as JSON, in order), retained states ``P/state/registration`` (ON/OFF), ``P/state/call``
(idle/ringing/calling/in-call), ``P/state/last_caller``, ``P/state/door`` (LOCKED/UNLOCKED),
``P/doorbell`` (Home Assistant ``event``: ``{"event_type": "press"}`` for the bell button,
``"ring"`` for an incoming call). Commands (``[mqtt] commands = true`` only; off by default):
``P/command/open-door`` (``UNLOCK`` or ``PRESS``), ``P/command/call`` (payload: the URI),
``P/command/hangup``; each answer goes to ``P/command/result``. Who may publish there is the
broker's ACL to decide: the endpoint only listens under its own prefix.

Door-code digits never leave (issue 13 rule 5): with a door code configured the event stream
already hides every digit, and those DTMF events are not published at all, not even as a count.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from endpoint import __version__
from endpoint.config import MqttSettings, TlsSettings

log = logging.getLogger("endpoint.mqtt")

QUEUE = 1000
KEEPALIVE = 30
DISCOVERY_PREFIX = "homeassistant"
Command = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

_REGISTERED = frozenset({"registered", "registration-refreshed", "in-service", "ready"})
_UNREGISTERED = frozenset(
    {"unregistered", "registration-failed", "out-of-service", "registration-flow-lost"}
)
_CALL_OVER = frozenset({"call-ended", "call-failed", "call-rejected"})


def node_id(topic_prefix: str) -> str:
    """The Home Assistant node and device id: the prefix with anything else than letters,
    digits, ``_`` and ``-`` replaced (discovery topics allow no more)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", topic_prefix)


class MqttBridge:
    def __init__(self, settings: MqttSettings, tls: TlsSettings, command: Command) -> None:
        if settings.broker is None:
            raise ValueError("no [mqtt] broker")
        self.settings = settings
        self.command = command
        self.prefix = settings.topic_prefix
        self.node = node_id(self.prefix)
        url = urlsplit(settings.broker)
        self.secure = url.scheme == "mqtts"
        self.host = url.hostname or "localhost"
        self.port = url.port or (8883 if self.secure else 1883)
        self.dropped = 0
        self.published = 0
        self.connected = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: The retained states, re-published on every (re)connection.
        self.states: dict[str, str] = {
            "state/call": "idle",
            "state/door": "LOCKED",
        }
        self._calls: dict[str, str] = {}
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"sip-endpoint-{self.node}",
            protocol=paho.MQTTv311,
        )
        if settings.username is not None:
            self.client.username_pw_set(settings.username, settings.password or None)
        if self.secure:
            context = ssl.create_default_context(
                cafile=str(tls.ca_file) if tls.ca_file is not None else None
            )
            self.client.tls_set_context(context)
        self.client.will_set(self.topic("availability"), "offline", qos=1, retain=True)
        self.client.reconnect_delay_set(1, 60)
        self.client.max_queued_messages_set(QUEUE)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def topic(self, suffix: str) -> str:
        return f"{self.prefix}/{suffix}"

    def start(self) -> None:
        """Connect in paho's thread (the first attempt too: no DNS or TCP on the loop)."""
        self._loop = asyncio.get_running_loop()
        self.client.connect_async(self.host, self.port, keepalive=KEEPALIVE)
        self.client.loop_start()

    async def close(self) -> None:
        """Say offline (retained), then leave; bounded, in a thread (paho joins its own)."""
        info = self._publish("availability", "offline", retain=True)

        def leave() -> None:
            if self.connected and info is not None:
                with contextlib.suppress(RuntimeError, ValueError):
                    info.wait_for_publish(timeout=2)
            self.client.disconnect()
            self.client.loop_stop()

        await asyncio.to_thread(leave)

    # -- events in ---------------------------------------------------------------------------

    def offer(self, event: dict[str, Any]) -> None:
        """One event from the hub (on the loop): publish it and the states it changes."""
        name = str(event.get("event", ""))
        if name == "dtmf" and event.get("digit") == "hidden":
            return  # door-code entry: not even the count of key presses leaves
        self._publish("event", json.dumps(event, separators=(",", ":"), default=str))
        call_id = str(event.get("call_id", ""))
        if name in _REGISTERED:
            self._state("state/registration", "ON")
        elif name in _UNREGISTERED:
            self._state("state/registration", "OFF")
        elif name == "call-incoming":
            self._calls[call_id] = "ringing"
            self._state("state/last_caller", str(event.get("from", "")))
            self._publish("doorbell", json.dumps({"event_type": "ring"}))
        elif name == "call-outgoing":
            self._calls[call_id] = "calling"
        elif name == "call-answered":
            self._calls[call_id] = "in-call"
        elif name in _CALL_OVER or name == "call-busy":
            self._calls.pop(call_id, None)
        elif name == "button" and event.get("kind") == "pressed":
            self._publish("doorbell", json.dumps({"event_type": "press"}))
        elif name == "door-opened":
            self._state("state/door", "UNLOCKED")
        elif name in ("door-pulse-ended", "door-open-failed"):
            self._state("state/door", "LOCKED")
        if name.startswith("call-"):
            states = set(self._calls.values())
            call = next((s for s in ("in-call", "ringing", "calling") if s in states), "idle")
            self._state("state/call", call)

    def _state(self, suffix: str, value: str) -> None:
        if self.states.get(suffix) != value:
            self.states[suffix] = value
            self._publish(suffix, value, retain=True)

    def _publish(self, suffix: str, payload: str, *, retain: bool = False) -> Any:
        info = self.client.publish(self.topic(suffix), payload, qos=1, retain=retain)
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.warning("MQTT: broker away and the queue is full: %d dropped", self.dropped)
            return None
        self.published += 1
        return info

    # -- discovery -----------------------------------------------------------------------------

    def discovery(self) -> dict[str, dict[str, Any] | None]:
        """Home Assistant discovery: config topic -> payload (None: remove the entity)."""
        device = {
            "identifiers": [f"sip-endpoint-{self.node}"],
            "name": f"Door {self.prefix}",
            "manufacturer": "sip-endpoint",
            "model": "SIP door station",
            "sw_version": __version__,
        }
        common = {"availability_topic": self.topic("availability"), "device": device}

        def entity(component: str, key: str, **config: Any) -> tuple[str, dict[str, Any]]:
            topic = f"{DISCOVERY_PREFIX}/{component}/{self.node}/{key}/config"
            return topic, {"unique_id": f"{self.node}_{key}", **config, **common}

        entities = dict(
            [
                entity(
                    "event",
                    "doorbell",
                    name="Doorbell",
                    state_topic=self.topic("doorbell"),
                    event_types=["press", "ring"],
                    device_class="doorbell",
                ),
                entity("sensor", "call", name="Call", state_topic=self.topic("state/call")),
                entity(
                    "binary_sensor",
                    "registration",
                    name="Registration",
                    state_topic=self.topic("state/registration"),
                    device_class="connectivity",
                    payload_on="ON",
                    payload_off="OFF",
                ),
                entity(
                    "sensor",
                    "last_caller",
                    name="Last caller",
                    state_topic=self.topic("state/last_caller"),
                    icon="mdi:phone-incoming",
                ),
            ]
        )
        lock_topic, lock = entity(
            "lock",
            "door",
            name="Door",
            state_topic=self.topic("state/door"),
            command_topic=self.topic("command/open-door"),
            payload_unlock="UNLOCK",
            payload_lock="LOCK",
            state_locked="LOCKED",
            state_unlocked="UNLOCKED",
        )
        out: dict[str, dict[str, Any] | None] = dict(entities)
        # Without commands there is nothing to unlock with: no lock entity (and an old one
        # from a time commands were on is removed).
        out[lock_topic] = lock if self.settings.commands else None
        return out

    # -- paho's thread -> the loop -------------------------------------------------------------

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._connected, not reason.is_failure, str(reason))

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._disconnected, str(reason))

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        if self._loop is not None:
            payload = message.payload[:512].decode("utf-8", "replace")
            self._loop.call_soon_threadsafe(self._command, message.topic, payload)

    def _connected(self, ok: bool, reason: str) -> None:
        if not ok:
            log.warning("MQTT: %s:%d refused the connection: %s", self.host, self.port, reason)
            return
        self.connected = True
        log.info("MQTT: connected to %s:%d as %s", self.host, self.port, self.prefix)
        if self.settings.discovery:
            for topic, payload in self.discovery().items():
                text = json.dumps(payload, separators=(",", ":")) if payload is not None else ""
                self.client.publish(topic, text, qos=1, retain=True)
        for suffix, value in self.states.items():
            self._publish(suffix, value, retain=True)
        self._publish("availability", "online", retain=True)
        if self.settings.commands:
            self.client.subscribe(self.topic("command/+"), qos=1)

    def _disconnected(self, reason: str) -> None:
        if self.connected:
            log.warning("MQTT: lost %s:%d (%s); reconnecting", self.host, self.port, reason)
        self.connected = False

    def _command(self, topic: str, payload: str) -> None:
        if not self.settings.commands or not topic.startswith(self.topic("command/")):
            return
        name = topic[len(self.topic("command/")) :]
        request: dict[str, Any]
        if name == "open-door" and payload.strip().upper() in ("UNLOCK", "PRESS", ""):
            request = {"cmd": "open-door", "via": "mqtt"}
        elif name == "call" and payload.strip():
            request = {"cmd": "call", "uri": payload.strip()}
        elif name == "hangup":
            request = {"cmd": "hangup"}
        elif name == "result":
            return  # our own answers
        else:
            answer = {"ok": False, "error": f"unknown command {name!r} or payload"}
            self._publish("command/result", json.dumps({"command": name[:40], **answer}))
            return
        task = asyncio.ensure_future(self._run(name, request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, name: str, request: dict[str, Any]) -> None:
        try:
            answer = await self.command(request)
        except Exception as exc:  # principle 5: a bad command ends itself, not the bridge
            answer = {"ok": False, "error": f"internal error: {type(exc).__name__}"}
        log.info("MQTT command %s: %s", name, "ok" if answer.get("ok") else answer.get("error"))
        self._publish("command/result", json.dumps({"command": name, **answer}, default=str))
