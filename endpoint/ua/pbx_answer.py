"""PBX-driven auto-answer: the headers with which a PBX pages an intercom or a room phone.

A hotel or office PBX calls a door station with a request to pick up at once (paging,
intercom calls). There is no single standard; the forms phones accept are:

- ``Call-Info: <sip:pbx>;answer-after=0`` (RFC 7462's parameter as Polycom, baresip, Snom,
  Yealink and Grandstream read it; also on an ``Alert-Info`` element),
- ``Alert-Info: <http://x>;info=alert-autoanswer`` (Snom, Yealink), ``;info=alert-intercom``
  and ``;info=intercom`` (Yealink, Grandstream), with an optional ``;delay=N`` (Yealink),
- ``Alert-Info: Auto Answer`` / ``Alert-Info: Intercom`` (Grandstream's bare words).

These headers are claims anyone can write, so the caller (``IncomingCalls``) acts on them only
when ``[calls] pbx_auto_answer`` is on and the INVITE is proven to come from our registrar
(``UserAgent.from_registrar``). This module only reads them.
"""

from __future__ import annotations

from endpoint.sip import ParseError, Request
from endpoint.sip.grammar import parse_int
from endpoint.sip.headers import parse_params, split_list

#: The longest delay a PBX may ask for; a larger number is no paging request but a mistake.
MAX_DELAY_S = 60
#: ``info=`` values and bare Alert-Info words that ask for an answer without delay.
INFO_VALUES = frozenset({"alert-autoanswer", "alert-intercom", "intercom", "auto-answer"})
BARE_WORDS = frozenset({"auto answer", "intercom", "ring answer"})


def requested_delay(request: Request) -> int | None:
    """The seconds after which the PBX asks us to answer, or None when it does not ask (or
    asks in a malformed way: a bad header never answers a call)."""
    delays: list[int] = []
    for name in ("Call-Info", "Alert-Info"):
        for value in request.headers.get_all(name)[:8]:
            try:
                items = split_list(value)
            except ParseError:
                continue
            for item in items:
                delay = _element_delay(item, alert=name == "Alert-Info")
                if delay is not None:
                    delays.append(delay)
    return min(delays) if delays else None


def _element_delay(item: str, *, alert: bool) -> int | None:
    """One ``<uri>;params`` element's request, or None."""
    if alert and item.strip().lower() in BARE_WORDS:
        return 0
    _, bracket, rest = item.rpartition(">")
    if not bracket:
        rest = item[item.find(";") :] if ";" in item else ""
    try:
        params = {name.lower(): value for name, value in parse_params(rest.strip(), "Call-Info")}
    except ParseError:
        return None
    if "answer-after" in params:
        return _seconds(params["answer-after"])
    info = (params.get("info") or "").lower()
    if alert and info in INFO_VALUES:
        return _seconds(params["delay"]) if "delay" in params else 0
    return None


def _seconds(text: str | None) -> int | None:
    """ASCII digits, bounded (DESIGN "The network is hostile"), at most MAX_DELAY_S."""
    value = parse_int(text or "", 3)
    return value if value is not None and value <= MAX_DELAY_S else None
