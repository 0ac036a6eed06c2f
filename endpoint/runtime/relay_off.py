"""``sip-endpoint relay-off``: drive the door relay inactive after the service stopped or died.

The unit runs it as ``ExecStopPost=``, which systemd runs after *any* end of the main process:
a clean stop, a crash, the watchdog's SIGABRT or a SIGKILL. A clean stop already releases the
relay (``GPIOBoard.close``, the board's ``RELEASE``); after a crash nothing did, and a GPIO
output keeps the level it had, so a door opened a moment before the crash would stay open
until the next start. This command opens ONLY the configured relay output (no buttons, LEDs or
sensors, which a restarting service will claim again) and drives it to its inactive level,
honouring ``[door] relay_active``:

- GPIO: a gpiozero ``OutputDevice`` created with ``initial_value=False`` through ``GPIOBoard``
  (the same pin factory choice as ``run``), then released.
- Serial board: HELLO (the firmware releases every relay and floats its pins), then a wiring
  of the relay alone, which the board applies by driving the pin to its inactive level, then
  ``RELEASE``. The board's own 3 s host-silence watchdog would release it too, but later.

No relay configured is not an error: one line says so and the exit status is 0.
"""

from __future__ import annotations

import time
from typing import TextIO

from endpoint.config import Config
from endpoint.hardware.factory import HardwareError
from endpoint.hardware.factory import open_board as open_adapter
from endpoint.runtime.wiring import board_spec
from endpoint.ua.io import BoardSpec, HardwareEvent

SERIAL_READY_S = 5.0
"""How long to wait for the serial board's handshake: a HELLO is answered at once; a board
that is still booting after a USB reset needs about a second."""


def relay_off(config: Config, out: TextIO, err: TextIO) -> int:
    """Drive the configured door relay inactive; 0 on success or when there is no relay."""
    hw = config.hardware
    relays = board_spec(hw, config.door).relays
    if hw.board in ("none", "simulated") or not relays:
        why = "no board" if hw.board == "none" else f'board = "{hw.board}"'
        if hw.board != "none" and not relays:
            why += ", no [door] relay_pin"
        print(f"sip-endpoint relay-off: no door relay to release ({why})", file=out)
        return 0
    relay = relays[0]
    level = "high" if relay.active_high else "low"
    where = f"GPIO{relay.pin}" if hw.board == "gpio" else f"{hw.serial_port} pin {relay.pin}"
    try:
        board = open_adapter(
            hw.board,
            BoardSpec(relays=relays),
            serial_port=hw.serial_port,
            pin_factory=hw.pin_factory,
        )
    except HardwareError as exc:
        print(f"sip-endpoint relay-off: cannot open the relay on {where}: {exc}", file=err)
        return 1
    if board is None:  # unreachable: "none" returned above; keeps the type checker honest
        return 0
    if hw.board == "serial":

        def ignore(event: HardwareEvent) -> None:
            """Button and sensor events are not ours to act on here."""

        board.start(ignore)
        deadline = time.monotonic() + SERIAL_READY_S
        while board.status().get("link") != "ready" and time.monotonic() < deadline:
            time.sleep(0.02)
        ready = board.status().get("link") == "ready"
        board.close()  # queues RELEASE and flushes it before the port is closed
        if not ready:
            print(
                f"sip-endpoint relay-off: the serial board on {hw.serial_port} did not answer "
                f"within {SERIAL_READY_S:g} s; its own watchdog releases the relay 3 s after "
                "the endpoint fell silent",
                file=err,
            )
            return 1
    else:
        board.close()  # the relay was created inactive; close() releases it once more
    print(
        f"sip-endpoint relay-off: door relay on {where} driven inactive (active {level})",
        file=out,
    )
    return 0
