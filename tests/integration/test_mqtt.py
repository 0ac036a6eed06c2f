"""MQTT against a real Mosquitto: Home Assistant discovery, states and events in order from a
real call (baresip), door-code digits never published, commands honoured only when enabled,
availability by last will, and a broker restart survived with the queued events delivered."""

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from endpoint.config import MqttSettings, TlsSettings
from endpoint.integration.mqtt import QUEUE, MqttBridge
from tests.certs import Authority
from tests.integration.broker import Broker, Subscriber
from tests.integration.web import BOARD
from tests.interop.door import Door
from tests.interop.peers import Baresip

pytestmark = [pytest.mark.interop, pytest.mark.mosquitto]
P = "door/test"
NODE = "door_test"
# Eight keys: "1234" once turned up by chance inside a call-report's numbers, failing the
# check that the code never reaches the broker.
CODE = "86429731"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker").start()
    try:
        yield b
    finally:
        b.stop()


def mqtt_door(tmp: Path, broker: Broker, commands: bool = False, door: str = "") -> Door:
    mqtt = (
        f'[mqtt]\nbroker = "{broker.url}"\ntopic_prefix = "{P}"\n'
        f"commands = {'true' if commands else 'false'}\n"
    )
    return Door(tmp, extra=BOARD + door + mqtt)


def call_and_hang_up(door: Door, flat: Baresip) -> str:
    """A short call from the door to ``flat`` (it auto-answers), hung up by the door."""
    answer = door.ctl("call", flat.uri)
    assert answer.returncode == 0, answer.stderr
    flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
    assert door.ctl("hangup").returncode == 0
    flat.ctrl.wait_event("CALL_CLOSED", 10)
    return str(json.loads(answer.stdout)["call_id"])


def relay(door: Door) -> str:
    return str(json.loads(door.ctl("status", "--json").stdout)["hardware"]["relays"]["door"])


def test_discovery_events_in_order_no_code_digits_and_no_commands(
    tmp_path: Path, broker: Broker
) -> None:
    sub = Subscriber(broker, f"{P}/#", "homeassistant/#")
    flat = Baresip(tmp_path / "flat", user="flat", tone_hz=1000).start()
    door = mqtt_door(tmp_path / "door", broker, door=f'code = "{CODE}"\n')
    try:
        sub.wait(f"{P}/availability", "online")
        configs = {}
        for component, key in (
            ("event", "doorbell"),
            ("sensor", "call"),
            ("binary_sensor", "registration"),
            ("sensor", "last_caller"),
        ):
            topic = f"homeassistant/{component}/{NODE}/{key}/config"
            configs[key] = json.loads(sub.wait(topic))
        assert configs["doorbell"]["event_types"] == ["press", "ring"]
        assert configs["doorbell"]["device_class"] == "doorbell"
        assert configs["doorbell"]["state_topic"] == f"{P}/doorbell"
        assert configs["registration"]["device_class"] == "connectivity"
        assert configs["registration"]["state_topic"] == f"{P}/state/registration"
        for config in configs.values():
            assert config["availability_topic"] == f"{P}/availability"
            assert config["device"]["identifiers"] == [f"sip-endpoint-{NODE}"]
        assert sub.wait(f"homeassistant/lock/{NODE}/door/config") == ""  # no commands: no lock
        assert sub.wait(f"{P}/state/registration") == "ON"  # peer-to-peer: ready

        flat.ctrl.command("dial", door.uri)
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        assert sub.wait(f"{P}/state/call", "in-call") == "in-call"
        time.sleep(0.5)
        flat.ctrl.command("sndcode", CODE)
        assert sub.wait(f"{P}/state/door", "UNLOCKED") == "UNLOCKED"
        sub.publish(f"{P}/command/open-door", "UNLOCK")  # commands are off: ignored
        sub.publish(f"{P}/command/hangup", "")
        time.sleep(1.0)
        still_up = door.ctl("status", "--json").stdout
        flat.ctrl.command("hangup")
        flat.ctrl.wait_event("CALL_CLOSED", 10)
        sub.wait(f"{P}/state/call", "idle", new=True)
        sub.wait(f"{P}/state/door", "LOCKED", timeout=10, new=True)
    finally:
        log = door.stop()
        flat.stop()
    assert sub.wait(f"{P}/availability", "offline") == "offline"
    seen = sub.drain()
    sub.close()
    assert '"state": "in_call"' in still_up or '"confirmed"' in still_up  # hangup not obeyed
    names = [e["event"] for e in sub.events(P)]
    order = ["call-incoming", "call-answered", "door-opened", "call-ended", "call-report"]
    assert [n for n in names if n in order] == order, names
    (incoming,) = [e for e in sub.events(P) if e["event"] == "call-incoming"]
    assert sub.wait(f"{P}/state/last_caller") == incoming["from"]
    assert json.loads(sub.wait(f"{P}/doorbell")) == {"event_type": "ring"}
    assert "dtmf" not in names and "door-code" not in " ".join(names)
    assert not [p for _, p, _ in seen if CODE in p]  # the code never reaches the broker
    assert [n for n in names if n == "door-opened"] == ["door-opened"]  # MQTT did not open it
    assert "MQTT command" not in log


def test_commands_when_enabled(tmp_path: Path, broker: Broker) -> None:
    sub = Subscriber(broker, f"{P}/#", "homeassistant/#")
    flat = Baresip(tmp_path / "flat", user="flat", tone_hz=1000).start()
    door = mqtt_door(tmp_path / "door", broker, commands=True)
    try:
        sub.wait(f"{P}/availability", "online")
        lock = json.loads(sub.wait(f"homeassistant/lock/{NODE}/door/config"))
        assert lock["command_topic"] == f"{P}/command/open-door"
        assert lock["payload_unlock"] == "UNLOCK"
        time.sleep(0.5)  # the door's subscription is in place once it is online and settled
        sub.publish(lock["command_topic"], "UNLOCK")
        result = json.loads(sub.wait(f"{P}/command/result"))
        assert result["command"] == "open-door" and result["ok"] is True, result
        assert sub.wait(f"{P}/state/door", "UNLOCKED")
        assert relay(door) == "energised"
        sub.publish(f"{P}/command/call", flat.uri)
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        assert sub.wait(f"{P}/state/call", "in-call")
        sub.publish(f"{P}/command/hangup", "")
        flat.ctrl.wait_event("CALL_CLOSED", 10)
        assert sub.wait(f"{P}/state/call", "idle", new=True)
        sub.publish(f"{P}/command/reboot", "")
        results = [json.loads(p) for t, p, _ in sub.drain(1.0) if t == f"{P}/command/result"]
    finally:
        log = door.stop()
        flat.stop()
        sub.close()
    assert [r["command"] for r in results] == ["open-door", "call", "hangup", "reboot"]
    assert results[-1]["ok"] is False and "unknown command" in results[-1]["error"]
    assert "MQTT command open-door: ok" in log
    assert "door-opened via=mqtt" in log  # the door log names the face that opened it


def test_broker_restart_survived_and_queued_events_delivered_in_order(
    tmp_path: Path, broker: Broker
) -> None:
    first = Subscriber(broker, f"{P}/#")
    flat = Baresip(tmp_path / "flat", user="flat", tone_hz=1000).start()
    door = mqtt_door(tmp_path / "door", broker)
    try:
        first.wait(f"{P}/availability", "online")
        calls = [call_and_hang_up(door, flat)]
        first.wait(f"{P}/state/call", "idle", new=True)
        first.close()  # its session stays on the broker (and on disk over the restart)
        broker.stop()
        calls += [call_and_hang_up(door, flat) for _ in range(5)]  # the broker is away
        broker.start()
        sub = Subscriber(broker, f"{P}/#")
        sub.wait(f"{P}/availability", "online", timeout=90)
        calls.append(call_and_hang_up(door, flat))
        sub.wait(f"{P}/state/call", "idle", new=True)
        sub.drain(1.0)
    finally:
        door.proc.send_signal(signal.SIGKILL)  # no goodbye: the broker's last will speaks
        door.proc.wait(10)
        assert door.proc.stderr is not None
        door.proc.stderr.close()
        flat.stop()
    assert sub.wait(f"{P}/availability", "offline", timeout=90, new=True) == "offline"
    sub.close()
    events = first.events(P) + sub.events(P)
    outgoing = [e["call_id"] for e in events if e["event"] == "call-outgoing"]
    assert outgoing == calls  # every call, in order, none twice
    ended = [e["call_id"] for e in events if e["event"] == "call-ended"]
    assert ended == calls


async def test_the_queue_is_bounded_while_the_broker_is_away(tmp_path: Path) -> None:
    """Nothing reaches the broker while it is away; the first ``QUEUE`` events are kept and
    arrive in order when it is back, the rest are dropped and counted."""
    broker = Broker(tmp_path / "broker").start()
    sub = Subscriber(broker, f"{P}/event", client_id="queue-test")
    for _ in range(20):  # until its subscription is in place
        sub.publish(f"{P}/event", '{"event": "probe"}')
        if any(t == f"{P}/event" for t, _, _ in await asyncio.to_thread(sub.drain, 0.5)):
            break
    assert sub.events(P), "the subscriber never got its own probe"
    sub.close()
    broker.stop()

    async def command(request: dict[str, Any]) -> dict[str, Any]:
        return {"ok": False, "error": "not in this test"}

    settings = MqttSettings(broker=broker.url, topic_prefix=P, discovery=False)
    bridge = MqttBridge(settings, TlsSettings(), command)
    bridge.start()
    try:
        for n in range(QUEUE + 50):
            bridge.offer({"event": "door-left-open", "n": n})
        assert bridge.dropped == 50 and not bridge.connected
        broker.start()
        sub = Subscriber(broker, f"{P}/event", client_id="queue-test")
        deadline = time.monotonic() + 90
        while len(sub.events(P)) < QUEUE and time.monotonic() < deadline:
            await asyncio.to_thread(sub.drain, 0.5)
        numbers = [e["n"] for e in sub.events(P) if e["event"] == "door-left-open"]
        assert bridge.connected
        assert numbers == list(range(QUEUE))
    finally:
        await bridge.close()
        sub.close()
        broker.stop()


def test_tls_a_login_and_the_broker_acl_decide_who_may_command(tmp_path: Path) -> None:
    """mqtts:// checked against [tls] ca_file, a password from password_file, and the
    broker's ACL: a visitor who may only read cannot open the door; Home Assistant can."""
    ca = Authority(tmp_path / "pki")
    cert = ca.issue("broker", ("127.0.0.1",))
    acl = (
        f"user door\ntopic readwrite {P}/#\ntopic write homeassistant/#\n\n"
        f"user ha\ntopic readwrite {P}/#\ntopic read homeassistant/#\n\n"
        f"user visitor\ntopic read {P}/#\n"
    )
    users = {"door": "door-pw-123", "ha": "ha-pw-456", "visitor": "visitor-pw-789"}
    broker = Broker(tmp_path / "broker", users=users, acl=acl, tls=(cert.cert, cert.key)).start()
    (tmp_path / "mqtt-pw").write_text("door-pw-123\n")
    mqtt = (
        f'[mqtt]\nbroker = "{broker.url}"\ntopic_prefix = "{P}"\ncommands = true\n'
        f'username = "door"\npassword_file = "{tmp_path / "mqtt-pw"}"\n'
        f'[tls]\nca_file = "{ca.files.cert}"\n'
    )
    door = Door(tmp_path / "door", extra=BOARD + mqtt)
    tls = {"ca_file": ca.files.cert}
    ha = Subscriber(
        broker, f"{P}/#", "homeassistant/#", client_id="ha", login=("ha", users["ha"]), **tls
    )
    visitor = Subscriber(
        broker, f"{P}/#", client_id="visitor", login=("visitor", users["visitor"]), **tls
    )
    try:
        assert broker.url.startswith("mqtts://")
        ha.wait(f"{P}/availability", "online")
        assert json.loads(ha.wait(f"homeassistant/lock/{NODE}/door/config"))["name"] == "Door"
        visitor.wait(f"{P}/availability", "online")
        time.sleep(0.5)
        visitor.publish(f"{P}/command/open-door", "UNLOCK")  # the broker drops it (ACL)
        time.sleep(1.5)
        assert relay(door) == "idle"
        ha.publish(f"{P}/command/open-door", "UNLOCK")
        result = json.loads(ha.wait(f"{P}/command/result"))
        assert result["ok"] is True and relay(door) == "energised"
        results = [p for t, p, _ in ha.drain(0.5) if t == f"{P}/command/result"]
    finally:
        log = door.stop()
        ha.close()
        visitor.close()
        broker.stop()
    assert len(results) == 1  # only Home Assistant's command was answered
    assert "door-pw-123" not in log and "MQTT: connected to 127.0.0.1" in log
