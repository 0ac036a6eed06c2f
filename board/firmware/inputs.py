"""Debounced inputs: buttons (down/up/held) and contacts (open/closed).

Leading-edge debounce, as gpiozero's ``bounce_time``: the first edge is reported at once (a
door button should ring without a 30 ms delay) and further edges are ignored for ``bounce_ms``;
when the lock-out ends the level is looked at again, so a bounce can never leave the reported
state wrong.
"""


class Debounced:
    """One input pin's state machine; ``update`` is fed the raw level and the time."""

    def __init__(self, active_level: int, bounce_ms: int, hold_ms: int, level: int, now: int):
        self.active_level = active_level
        self.bounce_ms = bounce_ms
        self.hold_ms = hold_ms
        self.active = level == active_level
        self.lock_until = now
        self.since = now
        # An input already active when configured was not pressed now: no HELD for it.
        self.held = self.active

    def update(self, level: int, now: int) -> list[str]:
        """Changes since the last call: ``"on"``, ``"off"`` and (buttons) ``"held"``."""
        out: list[str] = []
        active = level == self.active_level
        if active != self.active and now >= self.lock_until:
            self.active = active
            self.lock_until = now + self.bounce_ms
            out.append("on" if active else "off")
            if active:
                self.since = now
                self.held = False
        if self.hold_ms > 0 and self.active and not self.held and now - self.since >= self.hold_ms:
            self.held = True
            out.append("held")
        return out
