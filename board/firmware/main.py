"""Entry point of the intercom I/O board firmware (copy board/firmware/*.py to the Pico's root).

The loop waits for host bytes at most until the controller's next deadline (1 ms while inputs
must be sampled or patterns run), then feeds lines and the time to the controller and writes
what it produced. A jumper from GP22 to GND at power-up skips all of this and leaves the REPL.
"""

import controller
import framing
import hw
import micropython


def run() -> None:
    # Bytes from the host are data: a stray 0x03 must not raise KeyboardInterrupt.
    micropython.kbd_intr(-1)
    clock = hw.Clock()
    port = hw.SerialPort()
    ctl = controller.Controller(hw.PinBank(), clock.now())
    splitter = framing.LineSplitter()
    while True:
        for line in ctl.take_output():
            port.write(line)
        data = port.read(ctl.deadline(clock.now()))
        now = clock.now()
        try:
            for received in splitter.feed(data):
                ctl.receive(received, now)
            ctl.tick(now)
        except Exception as exc:  # never die with a relay on
            ctl.fail_safe(type(exc).__name__)


if not hw.service_jumper():
    run()
