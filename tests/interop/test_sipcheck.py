"""The matrix's dialog checker on hand-written traffic: it passes a correct dialog and names
each broken rule, so a green matrix means the rules held, not that the checker saw nothing."""

from tests.interop.sipcheck import Sip, check_dialogs, parse_sip

US, PROXY = 5070, 5060
RR = "<sip:127.0.0.1:5060;lr;ftag=abc>"


def msg(src: int, dst: int, text: str) -> Sip:
    data = text.strip().replace("\n", "\r\n").encode() + b"\r\n\r\n"
    parsed = parse_sip(data, 0.0, src, dst)
    assert parsed is not None
    return parsed


def dialog(*, copy_rr: bool = True, route_bye: bool = True, bye_cseq: int = 1) -> list[Sip]:
    rr = f"Record-Route: {RR}\n" if copy_rr else ""
    route = f"Route: {RR}\n" if route_bye else ""
    return [
        msg(
            PROXY,
            US,
            f"""INVITE sip:door@127.0.0.1:{US} SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{PROXY};branch=z9hG4bKa
Record-Route: {RR}
From: <sip:flat@127.0.0.1>;tag=abc
To: <sip:door@127.0.0.1>
Call-ID: c1
CSeq: 10 INVITE
Contact: <sip:flat@127.0.0.1:5080>""",
        ),
        msg(
            US,
            PROXY,
            f"""SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:{PROXY};branch=z9hG4bKa
{rr}From: <sip:flat@127.0.0.1>;tag=abc
To: <sip:door@127.0.0.1>;tag=xyz
Call-ID: c1
CSeq: 10 INVITE
Contact: <sip:door@127.0.0.1:{US}>""",
        ),
        msg(
            PROXY,
            US,
            f"""ACK sip:door@127.0.0.1:{US} SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{PROXY};branch=z9hG4bKb
From: <sip:flat@127.0.0.1>;tag=abc
To: <sip:door@127.0.0.1>;tag=xyz
Call-ID: c1
CSeq: 10 ACK""",
        ),
        msg(
            US,
            PROXY,
            f"""BYE sip:flat@127.0.0.1:5080 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{US};branch=z9hG4bKc
{route}From: <sip:door@127.0.0.1>;tag=xyz
To: <sip:flat@127.0.0.1>;tag=abc
Call-ID: c1
CSeq: {bye_cseq} BYE""",
        ),
        msg(
            US,
            PROXY,
            f"""BYE sip:flat@127.0.0.1:5080 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{US};branch=z9hG4bKd
{route}From: <sip:door@127.0.0.1>;tag=xyz
To: <sip:flat@127.0.0.1>;tag=abc
Call-ID: c1
CSeq: {bye_cseq + 1} BYE""",
        ),
    ]


def test_a_correct_dialog_passes() -> None:
    assert check_dialogs(dialog(), US, PROXY) == []


def test_each_broken_rule_is_named() -> None:
    (problem,) = check_dialogs(dialog(copy_rr=False), US, PROXY)
    assert "200 OK" in problem and "Record-Route []" in problem
    problems = check_dialogs(dialog(route_bye=False), US, PROXY)
    assert len(problems) == 2 and all("has Route []" in p for p in problems)
    reordered = dialog()
    reordered[3], reordered[4] = reordered[4], reordered[3]
    (problem,) = check_dialogs(reordered, US, PROXY)
    assert "our CSeq went from 2 to 1" in problem
