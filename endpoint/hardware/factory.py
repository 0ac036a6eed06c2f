"""The one place that opens an I/O board, by kind, from its wiring (``BoardSpec``).

Like ``endpoint.audio.factory``: the adapters are imported only when used (gpiozero, pyserial),
and every way an adapter can fail to start becomes one ``HardwareError`` that names the board
and carries the adapter's own fix.
"""

from __future__ import annotations

from endpoint.ua.io import BoardSpec, IoBoard

#: The kinds ``[hardware] board`` may name; "none" opens nothing.
BOARDS = ("none", "gpio", "serial", "simulated")


class HardwareError(Exception):
    """The configured board cannot be used; the message says which and why."""


def open_board(
    kind: str, spec: BoardSpec, *, serial_port: str = "", pin_factory: str | None = None
) -> IoBoard | None:
    """The board of ``kind`` wired as ``spec`` (None for ``"none"``)."""
    try:
        if kind == "gpio":
            from endpoint.hardware.gpio import GPIOBoard

            return GPIOBoard(spec, pin_factory=pin_factory)
        if kind == "serial":
            from endpoint.hardware.serial_board import SerialBoard

            return SerialBoard(spec, serial_port)
        if kind == "simulated":
            from endpoint.hardware.simulated import SimulatedBoard

            return SimulatedBoard(spec)
    except (ImportError, OSError) as exc:
        raise HardwareError(f'[hardware] board = "{kind}" cannot start: {exc}') from exc
    except Exception as exc:  # the adapter's own error type carries the installer's fix
        raise HardwareError(f'[hardware] board = "{kind}": {exc}') from exc
    if kind != "none":
        raise HardwareError(f'[hardware] board = "{kind}" is not one of {", ".join(BOARDS)}')
    return None
