"""What the building services read events from: the engine's event hub, seen as a protocol.

The services sit beside the control socket as adapters the runtime starts, so they depend on
this narrow face rather than on the runtime (imports point one way: runtime -> integration).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol


class EventSource(Protocol):
    """A fan-out of ``{"event": name, ...}`` dicts: one bounded queue per subscriber."""

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]: ...

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None: ...
