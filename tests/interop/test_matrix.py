"""Peer x scenario matrix: PJSIP, baresip and SIPp against one ``sip-endpoint run`` process per
(peer, path) group, directly and through Kamailio (which challenges our INVITEs with 407 and
record-routes). Every scenario runs three times in a row in the same endpoint process, because
defects such as "only the first call through a challenging PBX works" or "a re-INVITE resets
the receive counters" hide behind a test that proves a behaviour once per process.

After each cell the SIP on our port (captured on ``lo``) is checked against the rules that hold
across a dialog (``sipcheck.check_dialogs``), and every call's audio is checked both ways. The
table of results is printed at the end of the run and written to ``$MATRIX_REPORT`` when set
(``docs/interop-matrix.md`` is such a run).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.interop.matrix import (
    OUR_TONE,
    PACKETS_PER_SECOND,
    PEER_TONE,
    RESULTS,
    BaresipDriver,
    Driver,
    Endpoint,
    PjsuaDriver,
    tone_ok,
)
from tests.interop.peers import LOOPBACK, Baresip, Kamailio, PeerError, Sipp
from tests.interop.pjsua import Pjsua, require_pjsua
from tests.interop.sipcheck import Sip, SipCapture, check_dialogs

pytestmark = pytest.mark.interop

RUNS = 3  # each scenario, in a row, in the same endpoint process
TALK = 1.2  # seconds of audio per call

GROUPS = ["pjsua/direct", "pjsua/kamailio", "baresip/direct", "baresip/kamailio", "sipp/direct"]
SCENARIOS = [
    "register",
    "call in, peer hangs up",
    "call in, we hang up",
    "call out, we hang up",
    "call out, peer hangs up",
    "CANCEL by peer",
    "CANCEL by us",
    "DTMF to us (RFC 4733)",
    "DTMF to us (INFO)",
    "DTMF from us (RFC 4733)",
    "hold/resume by peer",
    "hold/resume by us",
    "re-INVITE by peer",
    "session refresh by peer",
    "session refresh by us",
]
#: Cells that cannot run, with the reason the table shows.
NOT_APPLICABLE = {
    "register": "direct paths have no registrar (the Kamailio groups register the endpoint "
    "and the peer)",
    "session refresh by us": "RFC 4028's smallest interval (Min-SE 90 s) puts our refresh "
    "45 s into a call, x3 x5 groups; proven once in test_calls_sipp",
    "DTMF to us (INFO) [baresip]": "baresip 1.0 sends RFC 4733 only",
    "session refresh by peer [baresip]": "baresip 1.0 has no session timers",
    "sipp": "SIPp plays one fixed script per scenario: the ones it has are run (call in/out, "
    "CANCEL both ways, hold/resume); a SIPp script that would BYE on cue or send DTMF "
    "would only re-test what baresip and PJSIP do for real; through Kamailio the two real "
    "UAs cover the proxy path",
}
SIPP_SCENARIOS = {
    "call in, peer hangs up",
    "call out, we hang up",
    "CANCEL by peer",
    "CANCEL by us",
    "hold/resume by peer",
    "hold/resume by us",
}


def applicable(group: str, scenario: str) -> bool:
    peer, path = group.split("/")
    if scenario == "session refresh by us":
        return False
    if scenario == "register":
        return path == "kamailio"
    if peer == "sipp":
        return scenario in SIPP_SCENARIOS
    if peer == "baresip":
        return scenario not in ("DTMF to us (INFO)", "session refresh by peer")
    return True


CELLS = [(g, s) for g in GROUPS for s in SCENARIOS if applicable(g, s)]


@dataclass
class Group:
    """One (peer, path): the endpoint, the peer (None for SIPp, run per call), the capture."""

    name: str
    tmp: Path
    endpoint: Endpoint
    capture: SipCapture
    kamailio: Kamailio | None
    driver: Driver | None
    stack: ExitStack

    @property
    def door_uri(self) -> str:
        """Where the peer calls the door: the door itself, or its AOR at Kamailio."""
        if self.kamailio is not None:
            return f"sip:door@{LOOPBACK}:{self.kamailio.port}"
        return f"sip:door@{LOOPBACK}:{self.endpoint.port}"

    @property
    def peer_target(self) -> str:
        """What ``ctl call`` is given: the peer's URI, or a user name via the registrar."""
        assert self.driver is not None
        uri, user = self.driver.target
        return user if self.kamailio is not None else uri


def start_group(name: str, tmp: Path) -> Group:
    peer, path = name.split("/")
    stack = ExitStack()
    try:
        kamailio = None
        if path == "kamailio":
            kamailio = Kamailio(tmp / "kamailio").start()
            stack.callback(kamailio.stop)
        registrar = f"{LOOPBACK}:{kamailio.port}" if kamailio else None
        driver: Driver | None = None
        if peer == "pjsua":
            require_pjsua()
            pj = Pjsua(tmp / "pjsua", user="alice", password="alicepw", registrar=registrar)
            driver = PjsuaDriver(pj.start())
        elif peer == "baresip":
            driver = BaresipDriver(
                Baresip(tmp / "baresip", user="flat", registrar=registrar).start()
            )
        if driver is not None:
            stack.callback(driver.stop)
        endpoint = Endpoint(tmp / "endpoint", kamailio)
        stack.callback(endpoint.stop)
        capture = SipCapture(endpoint.port).start()
        stack.callback(capture.stop)
    except BaseException:
        stack.close()
        raise
    return Group(name, tmp, endpoint, capture, kamailio, driver, stack)


class Pool:
    """At most one live group; cells come sorted by group, so each group starts once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.current: Group | None = None

    def get(self, name: str) -> Group:
        if self.current is not None and self.current.name != name:
            self.close()
        if self.current is None:
            self.current = start_group(name, self.root / name.replace("/", "-"))
        return self.current

    def close(self) -> None:
        if self.current is not None:
            self.current.stack.close()
            self.current = None


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    p = Pool(tmp_path_factory.mktemp("matrix"))
    try:
        yield p
    finally:
        p.close()


# ---- the scenarios: one run each; the cell repeats it RUNS times -----------------------------


def talk(seconds: float = TALK) -> float:
    time.sleep(seconds)
    return seconds


def check_call(g: Group, call_id: str, reason: str, talked: float, *, peer_audio: bool) -> None:
    """The call's end: the reason, our receive count for the time audio flowed, our speaker
    heard the peer's tone, the peer heard ours."""
    got_reason, sent, received = g.endpoint.report(call_id)
    assert reason in got_reason, f"{call_id}: reason {got_reason!r}, expected {reason!r}"
    least = int(0.6 * PACKETS_PER_SECOND * talked)
    assert received >= least, f"{call_id}: received {received} RTP packets, expected >= {least}"
    assert sent >= least, f"{call_id}: sent {sent} RTP packets, expected >= {least}"
    assert tone_ok(g.endpoint.heard(call_id), PEER_TONE), (
        f"{call_id}: we did not hear the peer's tone"
    )
    if peer_audio:
        assert g.driver is not None
        audio, rate = g.driver.recording()
        assert tone_ok(audio, OUR_TONE, rate), f"{call_id}: the peer did not hear our tone"


def peer_calls(g: Group) -> str:
    assert g.driver is not None
    mark = g.endpoint.mark()
    g.driver.dial(g.door_uri)
    g.driver.wait_established()
    return g.endpoint.new_call_id(mark)


def peer_hangs_up(g: Group, call_id: str, talked: float, *, peer_audio: bool = True) -> None:
    assert g.driver is not None
    g.driver.hangup()
    g.driver.wait_closed()
    check_call(g, call_id, "hung up by the caller", talked, peer_audio=peer_audio)


def call_in(g: Group, peer_bye: bool) -> None:
    assert g.driver is not None
    call_id = peer_calls(g)
    talked = talk()
    if peer_bye:
        peer_hangs_up(g, call_id, talked)
        return
    g.endpoint.ctl("hangup")
    g.driver.wait_closed()
    check_call(g, call_id, "hung up locally", talked, peer_audio=True)


def call_out(g: Group, our_bye: bool) -> None:
    assert g.driver is not None
    mark = g.endpoint.mark()
    g.endpoint.ctl("call", g.peer_target)
    g.driver.wait_established()
    call_id = g.endpoint.new_call_id(mark)
    talked = talk()
    if our_bye:
        g.endpoint.ctl("hangup")
        reason = "hung up locally"
    else:
        g.driver.hangup()
        reason = "hung up by the callee"
    g.driver.wait_closed()
    check_call(g, call_id, reason, talked, peer_audio=True)


def cancel_by_peer(g: Group) -> None:
    assert g.driver is not None
    mark = g.endpoint.mark()
    g.driver.dial(g.door_uri)
    g.driver.wait_ringing()
    call_id = g.endpoint.new_call_id(mark)
    g.driver.hangup()
    g.driver.wait_closed()
    reason, _, _ = g.endpoint.report(call_id)
    assert reason == "cancelled by the caller", reason


def cancel_by_us(g: Group) -> None:
    assert g.driver is not None
    mark = g.endpoint.mark()
    g.endpoint.ctl("call", g.peer_target)
    g.driver.wait_incoming()
    call_id = g.endpoint.new_call_id(mark)
    g.endpoint.ctl("hangup")
    g.driver.wait_closed()
    reason, _, _ = g.endpoint.report(call_id)
    assert "cancelled" in reason, reason


def dtmf_to_us(g: Group, method: str) -> None:
    assert g.driver is not None
    call_id = peer_calls(g)
    talked = talk(0.6)
    g.driver.dtmf("19#", method)
    deadline = time.monotonic() + 5
    while g.endpoint.dtmf_digits(call_id) != "19#" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert g.endpoint.dtmf_digits(call_id) == "19#", f"{call_id}: {g.endpoint.tail()}"
    peer_hangs_up(g, call_id, talked + talk(1.2))  # RFC 4733 digits replace the audio


def dtmf_from_us(g: Group) -> None:
    assert g.driver is not None
    call_id = peer_calls(g)
    talked = talk(0.6)
    g.endpoint.ctl("dtmf", "5#")
    assert g.driver.received_dtmf(2) == "5#"
    peer_hangs_up(g, call_id, talked + talk(1.2))  # RFC 4733 digits replace the audio


def hold_by_peer(g: Group) -> None:
    """Two hold/resume rounds; the report must count the packets of all three talk spells."""
    assert g.driver is not None
    call_id = peer_calls(g)
    talked = talk(0.8)
    for _ in range(2):
        g.driver.hold()
        time.sleep(0.5)
        g.driver.resume()
        talked += talk(0.8)
    talked += talk(0.8)  # the audio check looks at the last second: all after the resume
    log = g.endpoint.log
    assert log.count(f"call-held call_id={call_id}") == 2, g.endpoint.tail()
    assert log.count(f"call-resumed call_id={call_id}") == 2, g.endpoint.tail()
    # baresip 1.0 closes its WAV dump of what it receives at the first hold for good; what we
    # sent after the resumes is then shown by our report's sent count alone.
    peer_hangs_up(g, call_id, talked, peer_audio=not isinstance(g.driver, BaresipDriver))
    # The peer holds with a=sendonly, so it sends whenever we do: a report that forgot the
    # packets before a re-INVITE shows far fewer received than sent.
    _, sent, received = g.endpoint.report(call_id)
    assert received >= 0.9 * sent, f"{call_id}: received {received} RTP packets, sent {sent}"


def hold_by_us(g: Group) -> None:
    """``ctl hold`` and ``ctl resume``, twice (the concierge parks the door while they answer
    another line): each is our re-INVITE in the dialog, a=sendonly then a=sendrecv, answered
    200 by the peer with its side (recvonly or inactive while held) and ACKed; the events say
    ``by=us``; audio flows both ways again after each resume."""
    assert g.driver is not None
    call_id = peer_calls(g)
    mark = g.capture.mark()
    talked = talk(0.8)
    for n in (1, 2):
        g.endpoint.ctl("hold")
        held = f"call-held call_id={call_id}"
        g.endpoint.wait_log(lambda t, n=n, held=held: t.count(held) == n, held)
        time.sleep(0.5)
        g.endpoint.ctl("resume")
        resumed = f"call-resumed call_id={call_id}"
        g.endpoint.wait_log(lambda t, n=n, resumed=resumed: t.count(resumed) == n, resumed)
        talked += talk(0.8)
    talked += talk(0.8)  # the audio check looks at the last second: all after the resume
    log = g.endpoint.log
    for event in ("call-held", "call-resumed"):
        # A space ends the Call-ID, not \b: PJSIP's may end in "." or "-", then \b never matches.
        lines = re.findall(rf"{event} call_id={re.escape(call_id)} .*", log)
        assert len(lines) == 2 and all("by=us" in x for x in lines), lines
    messages = [m for m in g.capture.since(mark) if m.call_id == call_id]
    ours: dict[str, Sip] = {}  # by branch: a retransmission is the same request
    for m in messages:
        if m.is_request and m.method == "INVITE" and m.src == g.endpoint.port:
            ours.setdefault(m.branch, m)
    offers = [direction(m.body) for m in ours.values()]
    assert offers == ["sendonly", "sendrecv"] * 2, [m.summary() for m in ours.values()]
    for m in ours.values():
        answer = [
            r
            for r in messages
            if not r.is_request
            and r.dst == g.endpoint.port
            and r.cseq == m.cseq
            and r.status == 200
        ]
        assert answer, f"no 200 to {m.summary()}"
        want = ("recvonly", "inactive") if direction(m.body) == "sendonly" else ("sendrecv",)
        assert direction(answer[0].body) in want, (m.summary(), answer[0].body)
        acks = [
            a
            for a in messages
            if a.is_request
            and a.method == "ACK"
            and a.src == g.endpoint.port
            and a.cseq[0] == m.cseq[0]
        ]
        assert acks, f"no ACK for the 200 to {m.summary()}"
    # baresip 1.0 closes its WAV dump of what it receives at a hold for good (see
    # hold_by_peer); our report's sent count shows what we sent after the resumes.
    peer_hangs_up(g, call_id, talked, peer_audio=not isinstance(g.driver, BaresipDriver))


def direction(sdp: str) -> str:
    """The SDP's audio direction attribute (RFC 3264 §6.1; sendrecv when none is given)."""
    found = re.findall(r"^a=(sendrecv|sendonly|recvonly|inactive)\s*$", sdp, re.M)
    return found[-1] if found else "sendrecv"


def reinvite_by_peer(g: Group) -> None:
    assert g.driver is not None
    call_id = peer_calls(g)
    talked = talk(0.8)
    g.driver.reinvite()
    talked += talk(1.5)
    peer_hangs_up(g, call_id, talked)


def refresh_by_peer(g: Group) -> None:
    assert g.driver is not None
    call_id = peer_calls(g)
    mark = g.capture.mark()
    talked = talk(0.5)
    g.driver.refresh()
    talked += talk(1.0)
    refreshes = [
        m
        for m in g.capture.since(mark)
        if m.call_id == call_id and m.method == "UPDATE" and m.dst == g.endpoint.port
    ]
    assert refreshes and "session-expires" in refreshes[0].headers, "the peer sent no refresh"
    answers = [
        m
        for m in g.capture.since(mark)
        if not m.is_request and m.method == "UPDATE" and m.src == g.endpoint.port
    ]
    assert answers and answers[0].status == 200, f"refresh answered {answers}"
    # RFC 4028 §9: a 2xx to a session refresh carries Session-Expires.
    assert "session-expires" in answers[0].headers, answers[0].headers
    peer_hangs_up(g, call_id, talked)


def register(g: Group) -> None:
    assert g.kamailio is not None
    g.endpoint.ctl("register", "--off")
    deadline = time.monotonic() + 10
    while g.kamailio.registrations("door") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not g.kamailio.registrations("door"), "the un-register left the binding"
    g.endpoint.ctl("register", "--on")
    g.endpoint.wait_registered()


# ---- SIPp: one scenario script per run ----------------------------------------------------


def run_sipp(g: Group, scenario: str, *args: str, timeout: float = 30) -> None:
    n = len(list(g.tmp.glob(f"sipp-{scenario}-*")))
    sipp = Sipp(
        g.tmp / f"sipp-{scenario}-{n}",
        f"{scenario}.xml",
        [f"{LOOPBACK}:{g.endpoint.port}", "-s", "door", *args],
    ).start()
    assert sipp.wait(timeout) == 0, sipp.report()


def sipp_uas(
    g: Group,
    scenario: str,
    hang_up_when: str,
    talked: float,
    during: Callable[[str], None] | None = None,
) -> str:
    """SIPp as the callee of ``ctl call``; ``during`` (given the Call-ID) runs before we hang
    up; returns the Call-ID."""
    n = len(list(g.tmp.glob(f"sipp-{scenario}-*")))
    sipp = Sipp(g.tmp / f"sipp-{scenario}-{n}", f"{scenario}.xml", []).start()
    try:
        time.sleep(0.3)  # SIPp binds its port
        mark = g.endpoint.mark()
        g.endpoint.ctl("call", f"sip:flat@{LOOPBACK}:{sipp.port}")
        call_id = g.endpoint.new_call_id(mark)
        g.endpoint.wait_log(lambda t: f"{hang_up_when} call_id={call_id}" in t, hang_up_when)
        time.sleep(talked)
        if during is not None:
            during(call_id)
        g.endpoint.ctl("hangup")
        assert sipp.wait(30) == 0, sipp.report()
    finally:
        sipp.stop()
    return call_id


def sipp_cell(g: Group, scenario: str) -> None:
    ep = g.endpoint
    if scenario == "call in, peer hangs up":
        mark = ep.mark()
        run_sipp(g, "uac_pcmu", "-key", "from_user", "sipp", "-d", str(int(TALK * 1000)))
        call_id = ep.new_call_id(mark)
        check_call(g, call_id, "hung up by the caller", TALK, peer_audio=False)
    elif scenario == "call out, we hang up":
        call_id = sipp_uas(g, "uas_pcmu", "call-answered", TALK)
        got, _, received = ep.report(call_id)
        assert got == "hung up locally" and received >= 0.6 * PACKETS_PER_SECOND * TALK
        assert tone_ok(ep.heard(call_id), OUR_TONE)  # uas_pcmu streams 440 Hz too
    elif scenario == "CANCEL by peer":
        mark = ep.mark()
        run_sipp(g, "uac_cancel", "-key", "from_user", "sipp", "-d", "300")
        reason, _, _ = ep.report(ep.new_call_id(mark))
        assert reason == "cancelled by the caller", reason
    elif scenario == "CANCEL by us":
        call_id = sipp_uas(g, "uas_ring_cancel", "call-ringing", 0.2)
        reason, _, _ = ep.report(call_id)
        assert "cancelled" in reason, reason
    elif scenario == "hold/resume by us":

        def hold_then_resume(call_id: str) -> None:  # SIPp pauses its stream while held
            for command, event in (("hold", "call-held"), ("resume", "call-resumed")):
                ep.ctl(command)
                ep.wait_log(lambda t, e=event: f"{e} call_id={call_id}" in t, event)
                time.sleep(1.5)  # then 1.5 s of its tone before our BYE

        call_id = sipp_uas(g, "uas_hold_pause", "call-answered", 1.5, during=hold_then_resume)
        reason, _, _ = ep.report(call_id)
        assert reason == "hung up locally", reason
        # uas_hold_pause checks our a=sendonly and a=sendrecv offers (SIPp fails without).
        for event in ("call-held", "call-resumed"):
            assert re.search(rf"{event} call_id={re.escape(call_id)} .*by=us", ep.log), event
        assert tone_ok(ep.heard(call_id), OUR_TONE)  # its 440 Hz stream, after the resume
    elif scenario == "hold/resume by peer":
        mark = ep.mark()
        run_sipp(g, "uac_hold")
        call_id = ep.new_call_id(mark)
        reason, _, _ = ep.report(call_id)
        assert reason == "hung up by the caller", reason
        assert f"call-held call_id={call_id}" in ep.log
        assert f"call-resumed call_id={call_id}" in ep.log


RUNNERS: dict[str, Callable[[Group], None]] = {
    "register": register,
    "call in, peer hangs up": lambda g: call_in(g, peer_bye=True),
    "call in, we hang up": lambda g: call_in(g, peer_bye=False),
    "call out, we hang up": lambda g: call_out(g, our_bye=True),
    "call out, peer hangs up": lambda g: call_out(g, our_bye=False),
    "CANCEL by peer": cancel_by_peer,
    "CANCEL by us": cancel_by_us,
    "DTMF to us (RFC 4733)": lambda g: dtmf_to_us(g, "rfc4733"),
    "DTMF to us (INFO)": lambda g: dtmf_to_us(g, "info"),
    "DTMF from us (RFC 4733)": dtmf_from_us,
    "hold/resume by peer": hold_by_peer,
    "hold/resume by us": hold_by_us,
    "re-INVITE by peer": reinvite_by_peer,
    "session refresh by peer": refresh_by_peer,
}


def check_registers(messages: list[Sip], port: int) -> list[str]:
    """RFC 3261 §10.2: a UA keeps one Call-ID for its REGISTERs to a registrar, and their CSeq
    goes up by one at least for each new one."""
    ours = [m for m in messages if m.is_request and m.method == "REGISTER" and m.src == port]
    problems = []
    if len({m.call_id for m in ours}) > 1:
        problems.append(f"REGISTERs with {len({m.call_id for m in ours})} Call-IDs")
    last, branches = -1, set()
    for m in ours:
        if m.branch in branches:
            continue
        branches.add(m.branch)
        if m.cseq[0] <= last:
            problems.append(f"REGISTER CSeq went from {last} to {m.cseq[0]}")
        last = m.cseq[0]
    return problems


def end_any_call(g: Group) -> None:
    """After a failed run: hang up whatever call it left, so the group's next cell starts from
    an idle endpoint and peer and reports its own result rather than this one's leftovers."""
    with suppress(Exception):
        g.endpoint.ctl("hangup")
    if g.driver is not None:
        with suppress(Exception):
            g.driver.hangup()
        with suppress(Exception):
            g.driver.wait_closed()


@pytest.mark.parametrize(("group", "scenario"), CELLS, ids=[f"{g}:{s}" for g, s in CELLS])
def test_cell(pool: Pool, group: str, scenario: str) -> None:
    """One cell: the scenario RUNS times in the same endpoint process, then the SIP rules."""
    RESULTS.set(group, scenario, "FAIL")
    try:
        g = pool.get(group)
    except pytest.skip.Exception:
        RESULTS.set(group, scenario, "skipped")
        raise
    mark = g.capture.mark()
    peer = group.split("/", maxsplit=1)[0]
    with ExitStack() as restore:
        if scenario == "CANCEL by peer":
            g.endpoint.set_auto_answer(False)
            restore.callback(g.endpoint.set_auto_answer, True)
        if scenario == "CANCEL by us" and g.driver is not None:
            g.driver.set_autoanswer(False)
            restore.callback(g.driver.set_autoanswer, True)
        for _ in range(RUNS):
            try:
                if peer == "sipp":
                    sipp_cell(g, scenario)
                else:
                    RUNNERS[scenario](g)
            except (AssertionError, PeerError) as exc:
                log = g.endpoint.tail(12)
                end_any_call(g)
                raise AssertionError(f"{exc}\n--- endpoint log:\n{log}") from exc
    time.sleep(0.3)  # the last retransmission-free exchange has reached the capture
    messages = g.capture.since(mark)
    proxy = g.kamailio.port if g.kamailio is not None else None
    problems = check_dialogs(messages, g.endpoint.port, proxy)
    problems += check_registers(messages, g.endpoint.port)
    assert not problems, "\n".join(problems)
    calls = {m.call_id for m in messages if m.method == "INVITE" and m.is_request}
    assert scenario == "register" or len(calls) >= RUNS, f"only {len(calls)} calls captured"
    assert "Traceback" not in g.endpoint.log
    RESULTS.set(group, scenario, "pass")


def matrix_table() -> str:
    """The table of this run's cells (N/A cells and their reasons included)."""
    for g in GROUPS:
        for s in SCENARIOS:
            if not applicable(g, s):
                RESULTS.set(g, s, "N/A")
    return RESULTS.table(GROUPS, SCENARIOS, NOT_APPLICABLE)
