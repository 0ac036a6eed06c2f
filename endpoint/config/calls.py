"""``[calls]``: whom we answer, after how long, and how long a call may last."""

from __future__ import annotations

from dataclasses import dataclass

from endpoint.config.reader import (
    Document,
    Section,
    boolean,
    choice,
    int_in,
    number_in,
    off_or_int_in,
    string_list,
)


@dataclass(frozen=True, slots=True)
class CallSettings:
    """The ``[calls]`` section: who may call and whether the door answers by itself."""

    auto_answer: bool = True
    answer_delay: float = 0.0
    allow: tuple[str, ...] = ("*",)
    #: What happens to a caller outside ``allow``: ``ring`` (ring only, never auto-answer) or
    #: ``reject`` (403 Forbidden).
    not_allowed: str = "ring"
    max_duration: int = 0
    ring_timeout: int = 60
    session_expires: int = 1800
    #: Answer when the registrar's INVITE asks for it (``Call-Info: ...;answer-after=N``,
    #: ``Alert-Info: ...;info=alert-autoanswer``): paging from the building's PBX.
    pbx_auto_answer: bool = False
    #: Follow a REFER (RFC 3515) from the peer of a trusted call to a configured host.
    accept_transfer: bool = True
    #: While an incoming call rings, send our SDP answer in a (reliable, with 100rel) 183 and
    #: play a ring-back tone to the caller (never the microphone) until we answer.
    early_media: bool = False


def read(doc: Document) -> CallSettings:
    r = doc.reader("calls")
    calls = CallSettings(
        auto_answer=r.get("auto_answer", True, boolean, "true or false"),
        answer_delay=r.get(
            "answer_delay", 0.0, number_in(0, 300), "seconds between 0 and 300, e.g. 0 or 2.5"
        ),
        allow=r.get(
            "allow",
            ("*",),
            string_list,
            'a list of caller patterns, e.g. allow = ["concierge@example.com", "*@10.0.0.*"]',
        ),
        not_allowed=r.get(
            "not_allowed", "ring", choice("ring", "reject"), 'one of "ring", "reject"'
        ),
        max_duration=r.get(
            "max_duration",
            0,
            int_in(0, 86400),
            "seconds (0 = unlimited, otherwise at least 30), e.g. max_duration = 120",
        ),
        ring_timeout=r.get(
            "ring_timeout", 60, int_in(5, 600), "seconds between 5 and 600, e.g. 60"
        ),
        session_expires=r.get(
            "session_expires",
            1800,
            off_or_int_in(90, 86400),  # RFC 4028 §4: at least Min-SE
            "0 (no timer unless the peer asks) or seconds between 90 (RFC 4028 minimum) "
            "and 86400, e.g. 1800",
        ),
        pbx_auto_answer=r.get("pbx_auto_answer", False, boolean, "true or false"),
        accept_transfer=r.get(
            "accept_transfer",
            True,
            boolean,
            "true (follow a transfer by the peer of a trusted call) or false (refuse it, 403)",
        ),
        early_media=r.get(
            "early_media",
            False,
            boolean,
            "true (a ringing caller gets a 183 with SDP and hears a ring-back tone) or false",
        ),
    )
    if 0 < calls.max_duration < 30:
        doc.problems.append(
            f"[calls] max_duration = {calls.max_duration}: use 0 (unlimited) or at least 30 "
            "seconds (the warning tone plays 10 s before the end)"
        )
    return calls


CALLS = Section(
    "calls",
    (
        "auto_answer",
        "answer_delay",
        "allow",
        "not_allowed",
        "max_duration",
        "ring_timeout",
        "session_expires",
        "pbx_auto_answer",
        "accept_transfer",
        "early_media",
    ),
    CallSettings(),
    read,
)
