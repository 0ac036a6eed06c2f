"""The one-line ``STATUS=`` text ``systemctl status sip-endpoint`` shows, built from UA notices.

An installer standing at the door runs ``systemctl status`` first; that line should say at a
glance whether the box is registered and whether a call is up ("registered door@example.com;
idle", "registered door@example.com; in call with sip:concierge@example.com"). Pure: notices
in, the new text out (or None when nothing visible changed, so systemd is not flooded).
"""

from __future__ import annotations

from collections.abc import Mapping

_REGISTRATION = {
    "registering": "registering",
    "registered": "registered",
    "registration-refreshed": "registered",
    "registration-contact-changed": "registering",
    "registration-flow-lost": "registering",
    "registration-failed": "registration failed",
    "unregistered": "unregistered",
}
_CALL_ENDS = ("call-ended", "call-failed", "call-ring-timeout")


def _aor(detail: Mapping[str, object]) -> str:
    text = str(detail.get("aor", ""))
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

    def update(self, event: str, detail: Mapping[str, object]) -> str | None:
        """Take one notice (``Notice.event`` / ``Notice.detail``); the new line, if it changed."""
        if event == "ready":
            self._peer_to_peer = True
        elif event in _REGISTRATION:
            self._registration(event, detail)
        else:
            self._call_notice(event, detail)
        text = self.text
        if text == self._shown:
            return None
        self._shown = text
        return text

    def _registration(self, event: str, detail: Mapping[str, object]) -> None:
        account = str(detail.get("account", "account"))
        state = _REGISTRATION[event]
        line = f"{state} {_aor(detail)}".strip()
        if event == "registration-failed" and detail.get("reason"):
            line += f" ({detail['reason']})"
        if event == "unregistered" and account == "backup":
            self._accounts.pop(account, None)  # the backup is only shown while it is used
        else:
            self._accounts[account] = line

    def _call_notice(self, event: str, detail: Mapping[str, object]) -> None:
        call_id = str(detail.get("call_id", ""))
        if event == "call-incoming":
            self._call = (call_id, f"ringing: call from {detail.get('from', '?')}")
        elif event == "call-outgoing":
            self._call = (call_id, f"calling {detail.get('to', '?')}")
        elif event == "call-answered":
            peer = detail.get("from") or detail.get("to") or "?"
            self._call = (call_id, f"in call with {peer}")
        elif event in _CALL_ENDS and self._call is not None and self._call[0] == call_id:
            self._call = None
