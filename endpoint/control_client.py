"""The client side of the control socket, used by ``sip-endpoint ctl``."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_SOCKET = Path("/run/sip-endpoint/control.sock")


class ControlError(Exception):
    """The endpoint could not be reached or refused the command; the message says why."""


def _connect(path: Path, timeout: float | None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except FileNotFoundError:
        sock.close()
        raise ControlError(f"no control socket at {path}: is the endpoint running?") from None
    except PermissionError:
        sock.close()
        raise ControlError(
            f"permission denied on {path}: run as the service user or a member of its group"
        ) from None
    except OSError as exc:
        sock.close()
        raise ControlError(f"cannot connect to {path}: {exc.strerror or exc}") from None
    return sock


def _lines(sock: socket.socket) -> Iterator[dict[str, Any]]:
    buffer = b""
    while True:
        while b"\n" not in buffer:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                raise ControlError("the endpoint did not answer in time") from None
            if not chunk:
                return
            buffer += chunk
        line, buffer = buffer.split(b"\n", 1)
        payload: dict[str, Any] = json.loads(line)
        yield payload


def request(path: Path, payload: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """Send one command and return its answer (raises ControlError if unreachable)."""
    with _connect(path, timeout) as sock:
        sock.sendall(json.dumps(payload).encode() + b"\n")
        for answer in _lines(sock):
            return answer
    raise ControlError("the endpoint closed the connection without answering")


def events(path: Path) -> Iterator[dict[str, Any]]:
    """Yield events as the endpoint publishes them, until it goes away."""
    with _connect(path, None) as sock:
        sock.sendall(b'{"cmd":"events"}\n')
        lines = _lines(sock)
        first = next(lines, None)
        if first is None or not first.get("ok"):
            raise ControlError(str((first or {}).get("error", "events refused")))
        yield from lines
