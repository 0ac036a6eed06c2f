"""``[control]``: the local control socket (``sip-endpoint call/hangup/status``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from endpoint.config.reader import Document, Section, path

_SOCKET = Path("/run/sip-endpoint/control.sock")


@dataclass(frozen=True, slots=True)
class ControlSettings:
    """The ``[control]`` section: where the local control socket listens."""

    socket: Path = _SOCKET


def read(doc: Document) -> ControlSettings:
    r = doc.reader("control")
    socket = doc.relative(r.get("socket", _SOCKET, path, "a socket file path"))
    return ControlSettings(socket=socket or _SOCKET)


CONTROL = Section("control", ("socket",), ControlSettings(), read)
