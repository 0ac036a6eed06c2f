"""A real Mosquitto broker for the tests (Debian ``mosquitto``), on a free loopback port with a
generated config; and a subscriber that records every message (paho-mqtt in its own thread).

The broker keeps its sessions on disk (``persistence true`` in the test's directory), so a
subscriber with a persistent session gets what was published while it (or the broker) was
away, as a Home Assistant with a persistent session would."""

import contextlib
import getpass
import json
import queue
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.interop.peers import free_port


def mosquitto() -> str:
    path = shutil.which("mosquitto", path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise RuntimeError("mosquitto is not installed (Debian package mosquitto)")
    return path


class Broker:
    """``users`` (name -> password) and ``acl`` (mosquitto acl_file text) turn anonymous access
    off; ``tls`` (certificate, key) makes the listener speak MQTT over TLS only."""

    def __init__(
        self,
        tmp: Path,
        port: int | None = None,
        *,
        users: dict[str, str] | None = None,
        acl: str = "",
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port(socket.SOCK_STREAM)
        self.tls = tls is not None
        self.conf = tmp / "mosquitto.conf"
        access = "allow_anonymous true\n"
        if users is not None:
            passwords = tmp / "passwords"
            passwords.write_text("")
            for user, password in users.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(passwords), user, password], check=True
                )
            (tmp / "acl").write_text(acl)
            access = f"allow_anonymous false\npassword_file {passwords}\nacl_file {tmp / 'acl'}\n"
        if tls is not None:
            access += f"certfile {tls[0]}\nkeyfile {tls[1]}\n"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n{access}persistence true\n"
            f"persistence_location {tmp}/\nlog_dest file {tmp / 'mosquitto.log'}\n"
            # Started as root, mosquitto would switch to the user "mosquitto", who cannot
            # write in the test's directory; as anyone else this is who it is already.
            f"log_type all\nuser {getpass.getuser()}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def start(self) -> "Broker":
        self.proc = subprocess.Popen([mosquitto(), "-c", str(self.conf)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def log(self) -> str:
        path = self.tmp / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""


class Subscriber:
    """Subscribes to ``topics`` (QoS 1, a persistent session) and records (topic, payload,
    retained) in arrival order."""

    def __init__(
        self,
        broker: Broker,
        *topics: str,
        client_id: str = "test-subscriber",
        login: tuple[str, str] | None = None,
        ca_file: Path | None = None,
    ) -> None:
        self.messages: queue.Queue[tuple[str, str, bool]] = queue.Queue()
        self.seen: list[tuple[str, str, bool]] = []
        self.topics = topics
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        self.client.on_message = lambda c, u, m: self.messages.put(
            (m.topic, m.payload.decode(), bool(m.retain))
        )
        self.client.on_connect = lambda c, u, f, r, p: [c.subscribe(t, qos=1) for t in topics]
        self.client.reconnect_delay_set(1, 2)
        if login is not None:
            self.client.username_pw_set(*login)
        if ca_file is not None:
            self.client.tls_set_context(ssl.create_default_context(cafile=str(ca_file)))
        self.client.connect("127.0.0.1", broker.port, keepalive=10)
        self.client.loop_start()

    def wait(
        self, topic: str, payload: str | None = None, timeout: float = 15, *, new: bool = False
    ) -> str:
        """The first message on ``topic`` (with ``payload``): among those already seen, or
        (``new``) only among those still to come."""
        for t, p, _ in [] if new else self.seen:
            if t == topic and payload in (None, p):
                return p
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                item = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(item)
            if item[0] == topic and payload in (None, item[1]):
                return item[1]
        raise AssertionError(f"nothing on {topic} ({payload}); got {self.seen[-20:]}")

    def drain(self, seconds: float = 0.5) -> list[tuple[str, str, bool]]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                self.seen.append(self.messages.get(timeout=0.05))
        return self.seen

    def events(self, prefix: str) -> list[dict[str, Any]]:
        return [json.loads(p) for t, p, _ in self.seen if t == f"{prefix}/event"]

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
