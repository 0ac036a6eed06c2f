"""``ctl hangup|hold|resume|dtmf --call ID``: the id reaches the control request, and the
engine takes only a short string (the UA then checks it names one of our calls)."""

from __future__ import annotations

import pytest

from endpoint.cli import _parser, _payload
from endpoint.runtime.engine import _call_id


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["hangup"], {"cmd": "hangup"}),
        (["hangup", "--call", "abc@h"], {"cmd": "hangup", "call_id": "abc@h"}),
        (["hold", "--call", "abc"], {"cmd": "hold", "call_id": "abc"}),
        (["resume", "--call", "abc"], {"cmd": "resume", "call_id": "abc"}),
        (["dtmf", "5#", "--call", "abc"], {"cmd": "dtmf", "digits": "5#", "call_id": "abc"}),
    ],
)
def test_the_call_id_goes_in_the_request(argv: list[str], expected: dict[str, object]) -> None:
    assert _payload(_parser().parse_args(["ctl", *argv])) == expected


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ({}, None),
        ({"call_id": "abc"}, "abc"),
        ({"call_id": ""}, False),
        ({"call_id": 5}, False),
        ({"call_id": ["abc"]}, False),
        ({"call_id": "x" * 257}, False),
    ],
)
def test_the_engine_takes_a_short_string_only(
    request_: dict[str, object], expected: object
) -> None:
    assert _call_id(request_) == expected
