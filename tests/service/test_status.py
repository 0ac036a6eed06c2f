"""The STATUS= line from the UA's notices (pure)."""

from endpoint.service.status import ServiceStatus

AOR = {"account": "account", "aor": "sip:door@example.com"}


def test_registration_and_call_state_in_one_line() -> None:
    status = ServiceStatus()
    assert (
        status.update("registering", {**AOR, "attempt": 1}) == "registering door@example.com; idle"
    )
    assert (
        status.update("registered", {**AOR, "expires": 600}) == "registered door@example.com; idle"
    )
    assert status.update("registration-refreshed", AOR) is None  # nothing visible changed
    assert (
        status.update("call-incoming", {"call_id": "c1", "from": "sip:concierge@example.com"})
        == "registered door@example.com; ringing: call from sip:concierge@example.com"
    )
    assert (
        status.update("call-answered", {"call_id": "c1", "from": "sip:concierge@example.com"})
        == "registered door@example.com; in call with sip:concierge@example.com"
    )
    assert status.update("call-ended", {"call_id": "other"}) is None  # not our call
    assert status.update("call-ended", {"call_id": "c1"}) == "registered door@example.com; idle"


def test_failures_show_the_reason_and_outgoing_calls_the_target() -> None:
    status = ServiceStatus()
    text = status.update("registration-failed", {**AOR, "reason": "401 Unauthorized"})
    assert text == "registration failed door@example.com (401 Unauthorized); idle"
    status.update("call-outgoing", {"call_id": "c2", "to": "sip:flat@example.com"})
    assert status.text.endswith("; calling sip:flat@example.com")
    assert status.update("call-failed", {"call_id": "c2"}) is not None
    assert status.text.endswith("; idle")


def test_peer_to_peer_and_the_backup_account() -> None:
    status = ServiceStatus()
    assert status.update("ready", {"mode": "peer-to-peer"}) == "peer-to-peer; idle"
    status = ServiceStatus()
    status.update("registration-failed", {**AOR, "reason": "timeout"})
    backup = {"account": "backup", "aor": "sip:door@backup.example.com"}
    text = status.update("registered", backup)
    assert text == (
        "registration failed door@example.com (timeout), registered door@backup.example.com; idle"
    )
    status.update("registered", AOR)
    assert status.update("unregistered", backup) == "registered door@example.com; idle"
