"""The one-line ``STATUS=`` text ``systemctl status sip-endpoint`` shows, built from UA events.

An installer standing at the door runs ``systemctl status`` first; that line should say at a
glance whether the box is registered and whether a call is up ("registered door@example.com;
idle", "registered door@example.com; in call with sip:concierge@example.com"). Pure: events
in, the new text out (or None when nothing visible changed, so systemd is not flooded).
"""

from __future__ import annotations

from endpoint.ua.events import (
    CallAnswered,
    CallIncoming,
    CallOutgoing,
    CallOver,
    Notice,
    Ready,
    Registered,
    Registering,
    RegistrationContactChanged,
    RegistrationFailed,
    RegistrationFlowLost,
    RegistrationNotice,
    RegistrationRefreshed,
    Unregistered,
)

_REGISTRATION: dict[type[RegistrationNotice], str] = {
    Registering: "registering",
    Registered: "registered",
    RegistrationRefreshed: "registered",
    RegistrationContactChanged: "registering",
    RegistrationFlowLost: "registering",
    RegistrationFailed: "registration failed",
    Unregistered: "unregistered",
}


def _aor(text: str) -> str:
    return text.split(":", 1)[1] if text.startswith(("sip:", "sips:")) else text


class ServiceStatus:
    """Registration and call state, as one line; ``update`` returns the text when it changed."""

    def __init__(self) -> None:
        #: account name ("account", "backup") -> "registered door@example.com" etc.
        self._accounts: dict[str, str] = {}
        self._peer_to_peer = False
        self._call: tuple[str, str] | None = None  # (call_id, what)
        self._shown = ""

    @property
    def text(self) -> str:
        if self._accounts:
            registration = ", ".join(self._accounts.values())
        elif self._peer_to_peer:
            registration = "peer-to-peer"
        else:
            registration = "starting"
        call = self._call[1] if self._call is not None else "idle"
        return f"{registration}; {call}"

    def update(self, notice: Notice) -> str | None:
        """Take one event; the new line, if it changed."""
        if isinstance(notice, Ready):
            self._peer_to_peer = True
        elif isinstance(notice, RegistrationNotice):
            self._registration(notice)
        else:
            self._call_notice(notice)
        text = self.text
        if text == self._shown:
            return None
        self._shown = text
        return text

    def _registration(self, notice: RegistrationNotice) -> None:
        line = f"{_REGISTRATION[type(notice)]} {_aor(notice.aor)}".strip()
        if isinstance(notice, RegistrationFailed) and notice.reason:
            line += f" ({notice.reason})"
        if isinstance(notice, Unregistered) and notice.account == "backup":
            self._accounts.pop(notice.account, None)  # the backup is only shown while it is used
        else:
            self._accounts[notice.account] = line

    def _call_notice(self, notice: Notice) -> None:
        match notice:
            case CallIncoming():
                self._call = (notice.call_id, f"ringing: call from {notice.caller}")
            case CallOutgoing():
                self._call = (notice.call_id, f"calling {notice.callee}")
            case CallAnswered():
                peer = notice.caller or notice.callee or "?"
                self._call = (notice.call_id, f"in call with {peer}")
            case CallOver() if self._call is not None and self._call[0] == notice.call_id:
                self._call = None
            case _:
                pass
