"""A headless SIP/RTP endpoint for door intercoms and auto-answer IP phones.

Layers (see DESIGN.md): ``endpoint.sip`` and ``endpoint.media`` are the sans-IO protocol core,
``endpoint.ua`` the user agent state machine, ``endpoint.runtime`` the asyncio runtime and
``endpoint.audio`` / ``endpoint.hardware`` the adapters at the edges.

First of all, before any of our dataclasses exists, the cache of the code ``dataclasses``
generates (``endpoint.dataclass_cache``: a third of the start's CPU time).
"""

from endpoint import dataclass_cache

dataclass_cache.install(globals().get("__cached__"))

__version__ = "0.1.0"
