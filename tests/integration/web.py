"""Helpers of the HTTP tests: a door process with the API on, a real HTTP client, and a webhook
receiver the test runs on 127.0.0.1 (the standard library's HTTP server)."""

import http.client
import json
import queue
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.interop.door import Door
from tests.interop.peers import free_port

BOARD = '[hardware]\nboard = "simulated"\n[door]\nrelay_pin = 27\npulse_s = 3\n'


def api_door(tmp: Path, extra: str = "", sip: str = "", calls: str = "") -> tuple[Door, int, str]:
    """A door (simulated board, relay on 27) with ``[http]`` on a free port; its token."""
    tmp.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    (tmp / "http-token").write_text(token + "\n")
    port = free_port(both=True)
    http = f'[http]\nlisten = "127.0.0.1:{port}"\ntoken_file = "{tmp / "http-token"}"\n'
    door = Door(tmp, calls=calls, sip=sip, extra=BOARD + http + extra)
    return door, port, token


def request(
    port: int,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    *,
    https: Any = None,
) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
    """One request with http.client; the JSON answer (or text) and the headers."""
    conn: http.client.HTTPConnection
    if https is not None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=https)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        raw = r.read().decode()
        answer: dict[str, Any] | str = (
            json.loads(raw) if r.getheader("Content-Type") == "application/json" else raw
        )
        return r.status, answer, {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()


class Receiver:
    """A webhook receiver: records each POSTed JSON body; answers 500 to the first
    ``fail_first`` requests."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: queue.Queue[dict[str, Any]] = queue.Queue()
        self.requests = 0
        self.fail_first = fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                outer.requests += 1
                if outer.requests <= outer.fail_first:
                    self.send_response(500)
                else:
                    outer.bodies.put(body)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def next(self, name: str, timeout: float = 10) -> dict[str, Any]:
        """The next delivered event called ``name`` (others before it are skipped)."""
        for _ in range(1000):
            body = self.bodies.get(timeout=timeout)
            if body.get("event") == name:
                return body
        raise AssertionError(f"no {name} delivered")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
