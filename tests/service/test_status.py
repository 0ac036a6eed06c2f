"""The STATUS= line from the UA's events (pure)."""

from endpoint.runtime.service_status import ServiceStatus
from endpoint.ua.events import (
    CallAnswered,
    CallEnded,
    CallFailed,
    CallIncoming,
    CallOutgoing,
    Ready,
    Registered,
    Registering,
    RegistrationFailed,
    RegistrationRefreshed,
    Unregistered,
)

AOR = {"account": "account", "aor": "sip:door@example.com"}
BACKUP = {"account": "backup", "aor": "sip:door@backup.example.com"}
CONCIERGE = "sip:concierge@example.com"


def registered(who: dict[str, str]) -> Registered:
    return Registered(**who, expires=600, contact="sip:door@192.0.2.5")  # type: ignore[arg-type]


def failed(reason: str) -> RegistrationFailed:
    return RegistrationFailed(**AOR, reason=reason, retry_in=30.0)  # type: ignore[arg-type]


def test_registration_and_call_state_in_one_line() -> None:
    status = ServiceStatus()
    registering = Registering(**AOR, attempt=1, registrar="sip:pbx")  # type: ignore[arg-type]
    assert status.update(registering) == "registering door@example.com; idle"
    assert status.update(registered(AOR)) == "registered door@example.com; idle"
    refreshed = RegistrationRefreshed(**AOR, expires=600, contact="c")  # type: ignore[arg-type]
    assert status.update(refreshed) is None  # nothing visible changed
    assert (
        status.update(CallIncoming(call_id="c1", caller=CONCIERGE, allowed=True))
        == "registered door@example.com; ringing: call from sip:concierge@example.com"
    )
    assert (
        status.update(CallAnswered(call_id="c1", caller=CONCIERGE, codec="PCMU", encryption="none"))
        == "registered door@example.com; in call with sip:concierge@example.com"
    )
    other = CallEnded(call_id="other", caller=CONCIERGE, reason="bye", duration=1.0)
    assert status.update(other) is None  # not our call
    ours = CallEnded(call_id="c1", caller=CONCIERGE, reason="bye", duration=1.0)
    assert status.update(ours) == "registered door@example.com; idle"


def test_failures_show_the_reason_and_outgoing_calls_the_target() -> None:
    status = ServiceStatus()
    text = status.update(failed("401 Unauthorized"))
    assert text == "registration failed door@example.com (401 Unauthorized); idle"
    status.update(CallOutgoing(call_id="c2", callee="sip:flat@example.com"))
    assert status.text.endswith("; calling sip:flat@example.com")
    flat = "sip:flat@example.com"
    assert status.update(CallFailed(call_id="c2", callee=flat, reason="486", duration=0.0))
    assert status.text.endswith("; idle")


def test_peer_to_peer_and_the_backup_account() -> None:
    status = ServiceStatus()
    assert status.update(Ready()) == "peer-to-peer; idle"
    status = ServiceStatus()
    status.update(failed("timeout"))
    text = status.update(registered(BACKUP))
    assert text == (
        "registration failed door@example.com (timeout), registered door@backup.example.com; idle"
    )
    status.update(registered(AOR))
    assert status.update(Unregistered(**BACKUP)) == "registered door@example.com; idle"  # type: ignore[arg-type]
