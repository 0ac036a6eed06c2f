"""A headless SIP/RTP endpoint for door intercoms and auto-answer IP phones.

Layers (see DESIGN.md): ``endpoint.sip`` and ``endpoint.media`` are the sans-IO protocol core,
``endpoint.ua`` the user agent state machine, ``endpoint.runtime`` the asyncio runtime and
``endpoint.audio`` / ``endpoint.hardware`` the adapters at the edges.
"""

__version__ = "0.1.0"
