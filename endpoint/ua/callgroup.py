"""One button press, several flats: ring them all at once or one after another.

A door that serves a family rings every phone of the flat (``parallel``): the first to answer
gets the call and the others are cancelled, as a hunt group on a PBX does. A door with a
concierge and a fallback rings them in turn (``sequential``), each for ``target_timeout``
seconds. The group only decides; the user agent places and cancels the calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class GroupStep:
    """What the user agent does next: calls to cancel, targets to call, and whether it is over."""

    cancel: tuple[str, ...] = ()
    place: tuple[str, ...] = ()
    done: bool = False


@dataclass
class CallGroup:
    """Targets a button calls together or one after another, and who is still left."""

    group_id: str
    targets: tuple[str, ...]
    parallel: bool
    target_timeout: float
    #: Targets not called yet (sequential mode).
    waiting: list[str] = field(default_factory=list)
    #: Calls still ringing or answered: call id -> target.
    live: dict[str, str] = field(default_factory=dict)
    winner: str | None = None

    def start(self) -> tuple[str, ...]:
        """The targets to call now."""
        if self.parallel:
            return self.targets
        self.waiting = list(self.targets[1:])
        return self.targets[:1]

    def placed(self, call_id: str, target: str) -> None:
        self.live[call_id] = target

    def owns(self, call_id: str) -> bool:
        return call_id in self.live

    def answered(self, call_id: str) -> GroupStep:
        """The first answer wins; every other call of the group is cancelled."""
        if self.winner is not None or call_id not in self.live:
            return GroupStep()
        self.winner = call_id
        self.waiting = []
        return GroupStep(cancel=tuple(c for c in self.live if c != call_id))

    def ended(self, call_id: str) -> GroupStep:
        """A call of the group failed or hung up: call the next target, or finish."""
        if self.live.pop(call_id, None) is None:
            return GroupStep()
        if call_id == self.winner:
            return GroupStep(done=True)
        if self.winner is None and self.waiting:
            return GroupStep(place=(self.waiting.pop(0),))
        return GroupStep(done=not self.live)
