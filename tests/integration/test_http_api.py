"""The HTTP API of a real ``sip-endpoint run`` process, with real HTTP clients: tokens, the
rate limit, actions through the control command table, server-sent events, webhooks delivered
(and retried) to a receiver on 127.0.0.1, HTTPS, a call to a real baresip with live quality."""

import http.client
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest

from tests.certs import Authority
from tests.integration.web import Receiver, api_door, request
from tests.interop.peers import Baresip

pytestmark = pytest.mark.interop


def _relay(port: int, token: str) -> Any:
    status, answer, _ = request(port, "GET", "/api/status", token)
    assert status == 200 and isinstance(answer, dict)
    return answer["hardware"]["relays"]


def test_tokens_actions_events_and_a_webhook(tmp_path: Path) -> None:
    receiver = Receiver(fail_first=2)  # the first delivery is retried twice
    extra = f'webhooks = ["{receiver.url}"]\nwebhook_events = ["door-opened"]\n'
    door, port, token = api_door(tmp_path / "door", extra=extra)
    try:
        status, answer, headers = request(port, "GET", "/api/status")
        assert status == 401 and "bearer" in headers["www-authenticate"].lower()
        assert request(port, "GET", "/api/status", "wrong")[0] == 401
        status, answer, _ = request(port, "GET", "/api/status", token)
        assert status == 200 and isinstance(answer, dict) and answer["ok"]
        assert answer["calls"] == [] and answer["hardware"]["relays"] == {"door": "idle"}

        events = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        events.request("GET", "/api/events", headers={"Authorization": f"Bearer {token}"})
        stream = events.getresponse()
        assert stream.status == 200
        assert stream.getheader("Content-Type") == "text/event-stream"
        assert request(port, "GET", "/api/open-door", token)[0] == 405
        status, answer, _ = request(port, "POST", "/api/open-door", token)
        assert status == 200 and isinstance(answer, dict) and answer["ok"] is True, answer
        assert _relay(port, token) == {"door": "energised"}
        lines = []
        for _ in range(50):
            line = stream.fp.readline().decode().strip()
            lines.append(line)
            if line == "event: door-opened":
                break
        assert "event: door-opened" in lines, lines
        data = stream.fp.readline().decode()
        assert data.startswith("data: {") and '"via":"http"' in data  # the door log says who
        events.close()

        hook = receiver.next("door-opened", timeout=20)
        assert hook["via"] == "http" and hook["seconds"] == 3.0
        assert receiver.requests == 3  # two 500s, then delivered
        status, answer, _ = request(port, "POST", "/api/hangup", token)
        assert status == 409 and answer == {"ok": False, "error": "no call"}
        status, answer, _ = request(port, "POST", "/api/call", token, {"uri": "not a uri"})
        assert status == 409 and not answer["ok"]  # type: ignore[index]
    finally:
        log = door.stop()
        receiver.close()
    assert token not in log
    assert "wrong or missing token" in log


def test_wrong_tokens_are_rate_limited_and_bad_requests_answered(tmp_path: Path) -> None:
    door, port, token = api_door(tmp_path / "door")
    try:
        status, page, headers = request(port, "GET", "/")
        assert status == 200 and headers["content-type"].startswith("text/html")
        assert "<title>Door</title>" in str(page) and "://" not in str(page)  # no CDN
        assert request(port, "GET", "/nowhere")[0] == 404
        assert request(port, "POST", "/api/call", token, ["x"])[0] == 400
        assert request(port, "GET", "/api/history?limit=abc", token)[0] == 400
        for raw, code in (
            (b"GARBAGE\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 60 + b"\r\n", 431),
            (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
            (b"POST /api/call HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 400),
            (b"POST /api/call HTTP/1.1\r\nContent-Length: 20000\r\n\r\n", 413),
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(raw)
                answer = s.recv(4096).decode("latin-1")
            assert answer.startswith(f"HTTP/1.1 {code} "), (raw[:40], answer[:80])
        for _ in range(5):
            assert request(port, "GET", "/api/status", "guess")[0] == 401
        status, _, headers = request(port, "GET", "/api/status", token)
        assert status == 429 and headers["retry-after"] == "60"  # even the right token waits
        assert door.ctl("status").returncode == 0  # the endpoint kept serving
    finally:
        door.stop()


def test_https_when_a_certificate_is_configured(tmp_path: Path) -> None:
    ca = Authority(tmp_path / "pki")
    server = ca.issue("door", ("127.0.0.1",))
    tls = f'[tls]\ncert_file = "{server.cert}"\nkey_file = "{server.key}"\n'
    door, port, token = api_door(tmp_path / "door", extra=tls)
    try:
        context = ssl.create_default_context(cafile=str(ca.files.cert))
        status, answer, _ = request(port, "GET", "/api/config", token, https=context)
        assert status == 200 and isinstance(answer, dict)
        assert answer["config"]["http"]["token"] == "********"
        assert answer["config"]["http"]["listen"] == f"127.0.0.1:{port}"
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            request(port, "GET", "/api/status", token)  # plain HTTP is not served
    finally:
        door.stop()


def test_a_call_placed_through_the_api_shows_live_quality(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    flat = Baresip(tmp_path / "flat", user="flat", tone_hz=1000).start()
    door, port, token = api_door(tmp_path / "door")
    try:
        status, answer, _ = request(port, "POST", "/api/call", token, {"uri": flat.uri})
        assert status == 200 and answer["ok"], answer  # type: ignore[index]
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        quality = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            _, answer, _ = request(port, "GET", "/api/status", token)
            calls = answer["calls"]  # type: ignore[index]
            if calls and calls[0].get("quality", {}).get("received_packets", 0) > 50:
                quality = calls[0]["quality"]
                break
            time.sleep(0.3)
        assert quality is not None and 1.0 <= quality["mos"] <= 4.5
        assert calls[0]["direction"] == "out" and calls[0]["codec"] == "PCMU"
        status, answer, _ = request(port, "POST", "/api/hangup", token)
        assert status == 200 and answer["ok"]  # type: ignore[index]
        flat.ctrl.wait_event("CALL_CLOSED", 10)
    finally:
        door.stop()
        flat.stop()
