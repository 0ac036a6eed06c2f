"""What the intercom tells the world: one frozen dataclass per event.

The log, ``ctl events``, systemd's STATUS line, the LEDs, the door and (next) MQTT and HTTP all
read these same records. Each class carries its wire ``name`` (``call-ended``, ``door-opened``
...) and ``as_dict()`` gives the one payload the log and the control socket show, with the keys
they have always had; consumers branch on the class, never on the name, so a renamed or new
event is a type error and not a silently ignored string.

Field order is wire order. A field whose wire key is not a Python name (``from``, ``to``) says
so in its metadata, and an ``optional`` field that is None is left out of the payload (an
incoming call names its caller, an outgoing one its callee).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

_KEY = "key"
_OPTIONAL = "optional"


def _caller(*, optional: bool = False) -> Any:
    """The peer who called us: the wire key is ``from``."""
    if optional:
        return field(default=None, metadata={_KEY: "from", _OPTIONAL: True})
    return field(metadata={_KEY: "from"})


def _callee(*, optional: bool = False) -> Any:
    """The peer we called: the wire key is ``to``."""
    if optional:
        return field(default=None, metadata={_KEY: "to", _OPTIONAL: True})
    return field(metadata={_KEY: "to"})


def _optional() -> Any:
    return field(default=None, metadata={_OPTIONAL: True})


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """The base of every event: its wire ``name`` and the one payload built from its fields."""

    name: ClassVar[str] = ""
    #: Shown at WARNING in the log: an installer should see it even when all is calm.
    warning: ClassVar[bool] = False

    def as_dict(self) -> dict[str, Any]:
        """``{"event": name, ...fields}``: the log line's and ``ctl events``' payload."""
        return {"event": self.name, **self.detail}

    @property
    def detail(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.metadata.get(_OPTIONAL):
                continue
            out[f.metadata.get(_KEY, f.name)] = value
        return out


# -- registration (RFC 3261 §10) ------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrationNotice(Notice):
    """About one account's binding: which account and address-of-record."""

    account: str
    aor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Registering(RegistrationNotice):
    """A REGISTER for the account is on its way (``attempt`` counts the tries)."""

    name: ClassVar[str] = "registering"
    attempt: int
    registrar: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Registered(RegistrationNotice):
    """The registrar accepted the binding for ``expires`` seconds."""

    name: ClassVar[str] = "registered"
    expires: int
    contact: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrationRefreshed(RegistrationNotice):
    """The binding was renewed before it ran out."""

    name: ClassVar[str] = "registration-refreshed"
    expires: int
    contact: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrationContactChanged(RegistrationNotice):
    """The registrar saw us at another address (NAT): we register that Contact instead."""

    name: ClassVar[str] = "registration-contact-changed"
    contact: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrationFlowLost(RegistrationNotice):
    """The connection the registration lives on closed (RFC 5626 §4.4.1)."""

    name: ClassVar[str] = "registration-flow-lost"
    warning: ClassVar[bool] = True
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrationFailed(RegistrationNotice):
    """The registrar refused or did not answer; we try again in ``retry_in`` s."""

    name: ClassVar[str] = "registration-failed"
    warning: ClassVar[bool] = True
    reason: str
    retry_in: float
    fix: str | None = _optional()


@dataclass(frozen=True, slots=True, kw_only=True)
class Unregistered(RegistrationNotice):
    """The binding is gone: un-registered, or expired without a refresh."""

    name: ClassVar[str] = "unregistered"
    reason: str | None = _optional()


@dataclass(frozen=True, slots=True, kw_only=True)
class Ready(Notice):
    """Peer-to-peer mode (no account): ready for calls at once."""

    name: ClassVar[str] = "ready"
    mode: str = "peer-to-peer"


@dataclass(frozen=True, slots=True, kw_only=True)
class InService(Notice):
    """Back in service: the accounts register again (``ctl register --on``)."""

    name: ClassVar[str] = "in-service"


@dataclass(frozen=True, slots=True, kw_only=True)
class OutOfService(Notice):
    """Out of service: every account un-registers (``ctl register --off``)."""

    name: ClassVar[str] = "out-of-service"


# -- requests -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestFailed(Notice):
    """Handling a request raised something that is our bug (answered 500)."""

    name: ClassVar[str] = "request-failed"
    warning: ClassVar[bool] = True
    error: str
    detail_text: str = field(metadata={_KEY: "detail"})


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageFailed(Notice):
    """Handling a response or transaction event raised something that is our bug."""

    name: ClassVar[str] = "message-failed"
    warning: ClassVar[bool] = True
    error: str
    detail_text: str = field(metadata={_KEY: "detail"})


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestDropped(Notice):
    """Requests from an untrusted source are dropped unanswered (reported every 10 s at most)."""

    name: ClassVar[str] = "request-dropped"
    warning: ClassVar[bool] = True
    method: str
    source: str
    dropped_total: int
    fix: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived(Notice):
    """A SIP MESSAGE (RFC 3428), in or out of a dialog."""

    name: ClassVar[str] = "message"
    caller: str = _caller()
    text: str


# -- calls ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CallNotice(Notice):
    """About one call."""

    call_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallIncoming(CallNotice):
    """A call arrived; ``allowed`` says whether the allowlist lets it ring."""

    name: ClassVar[str] = "call-incoming"
    caller: str = _caller()
    allowed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOutgoing(CallNotice):
    """We are calling ``callee``."""

    name: ClassVar[str] = "call-outgoing"
    callee: str = _callee()


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRinging(CallNotice):
    """The called party rings (a 180 arrived)."""

    name: ClassVar[str] = "call-ringing"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRedirected(CallNotice):
    """The call was redirected (3xx) and now goes to ``callee``."""

    name: ClassVar[str] = "call-redirected"
    callee: str = _callee()


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEarlyMedia(CallNotice):
    """Audio flows before the answer (a 183 with SDP)."""

    name: ClassVar[str] = "call-early-media"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRingTimeout(CallNotice):
    """Our call rang out; it is being cancelled (``call-ended`` or ``call-failed`` follows)."""

    name: ClassVar[str] = "call-ring-timeout"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAnswered(CallNotice):
    """Media flows: ``caller`` is set for a call we took, ``callee`` for one we placed."""

    name: ClassVar[str] = "call-answered"
    caller: str | None = _caller(optional=True)
    callee: str | None = _callee(optional=True)
    codec: str
    encryption: str
    #: ``"pbx"`` when the registrar's INVITE asked for the answer (``[calls] pbx_auto_answer``).
    answered_by: str | None = _optional()


@dataclass(frozen=True, slots=True, kw_only=True)
class CallBusy(CallNotice):
    """An INVITE refused with 486 while another call is up (no call was created)."""

    name: ClassVar[str] = "call-busy"
    caller: str = _caller()


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOver(CallNotice):
    """The one definition of "this call is over": every consumer that tracks calls (LEDs,
    STATUS, the door) forgets the call on any subclass, and on nothing else."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRejected(CallOver):
    """An incoming INVITE refused before it rang (not allowed, encryption refused)."""

    name: ClassVar[str] = "call-rejected"
    caller: str = _caller()

    @property
    def detail(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "from": self.caller, "reason": self.reason}


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnded(CallOver):
    """The call is over; ``reason`` says who ended it and how."""

    name: ClassVar[str] = "call-ended"
    caller: str | None = _caller(optional=True)
    callee: str | None = _callee(optional=True)
    duration: float

    @property
    def detail(self) -> dict[str, Any]:
        peer = {"from": self.caller} if self.caller is not None else {"to": self.callee}
        return {
            "call_id": self.call_id,
            **peer,
            "reason": self.reason,
            "duration": self.duration,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CallFailed(CallOver):
    """A call we placed that was never answered (and not cancelled by us)."""

    name: ClassVar[str] = "call-failed"
    warning: ClassVar[bool] = True
    callee: str = _callee()
    duration: float

    @property
    def detail(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "to": self.callee,
            "reason": self.reason,
            "duration": self.duration,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CallHeld(CallNotice):
    """The call is on hold; ``by`` says which side held it."""

    name: ClassVar[str] = "call-held"
    #: "peer": the peer put us on hold; "us": ``ctl hold``.
    by: str = "peer"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResumed(CallNotice):
    """The call is off hold again."""

    name: ClassVar[str] = "call-resumed"
    by: str = "peer"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallHoldFailed(CallNotice):
    """Our hold (or resume) re-INVITE did not take: ``ctl hold`` only said it was sent, so
    this is where the installer learns the call stays as it was, and why."""

    name: ClassVar[str] = "call-hold-failed"
    warning: ClassVar[bool] = True
    #: True for ``ctl hold``, False for ``ctl resume``.
    hold: bool
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TextMessageSent(Notice):
    """``ctl message`` was accepted by the peer (RFC 3428: 2xx means delivered or stored)."""

    name: ClassVar[str] = "text-message-sent"
    to: str
    status: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TextMessageFailed(Notice):
    """``ctl message`` was refused, unanswered, or challenged for a realm we do not answer."""

    name: ClassVar[str] = "text-message-failed"
    warning: ClassVar[bool] = True
    to: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallExtended(CallNotice):
    """``#`` after the length warning: the call may go on for ``until_s`` more seconds."""

    name: ClassVar[str] = "call-extended"
    until_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallTimeWarning(CallNotice):
    """The call will be ended in ``remaining_s`` seconds (its length limit)."""

    name: ClassVar[str] = "call-time-warning"
    remaining_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallReport(CallNotice):
    """The end-of-call media report; ``stats`` (``StreamStats.as_dict``) is spread flat."""

    name: ClassVar[str] = "call-report"
    reason: str
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def detail(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "reason": self.reason, **self.stats}


@dataclass(frozen=True, slots=True, kw_only=True)
class CallGroupStarted(Notice):
    """A call group rings its ``targets``, in parallel or in turn."""

    name: ClassVar[str] = "call-group"
    group_id: str
    targets: list[str]
    mode: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallGroupEnded(Notice):
    """The call group is over; ``answered`` says whether one of its targets took it."""

    name: ClassVar[str] = "call-group-ended"
    group_id: str
    answered: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferNotice(CallNotice):
    """About the transfer of call ``call_id`` (RFC 3515): where to, and our part in it:
    ``transferee`` (the peer's REFER moves us) or ``transferor`` (we move the peer)."""

    target: str
    role: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferRequested(TransferNotice):
    """A REFER was accepted (202) or sent: the new call is being placed."""

    name: ClassVar[str] = "transfer-requested"


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferSucceeded(TransferNotice):
    """The transfer target answered (a 2xx, or the peer's 200 sipfrag): the old call ends."""

    name: ClassVar[str] = "transfer-succeeded"


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferFailed(TransferNotice):
    """Refused (our 403/400, the peer's answer to our REFER) or the target did not answer;
    the old call goes on."""

    name: ClassVar[str] = "transfer-failed"
    warning: ClassVar[bool] = True
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsultationStarted(CallNotice):
    """``ctl transfer --attended``: call ``held_call_id`` is on hold and the consultation call
    ``call_id`` to ``target`` is being placed (RFC 5589 §7)."""

    name: ClassVar[str] = "consultation-started"
    held_call_id: str
    target: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsultationEnded(CallNotice):
    """The consultation is over: ``outcome`` is ``transferred`` (both calls ended, the peers
    talk to each other), ``cancelled`` or ``failed`` (the held call was resumed), or
    ``held-call-ended`` (the held peer hung up; the consultation call stays as a normal call)."""

    name: ClassVar[str] = "consultation-ended"
    held_call_id: str
    outcome: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfReceived(CallNotice):
    """A digit from the peer (RFC 4733 or SIP INFO). ``shown()`` hides it when a door code
    is configured: which digits were typed is the door's secret too."""

    name: ClassVar[str] = "dtmf"
    digit: str
    duration_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfRefused(CallNotice):
    """DTMF that did not come the way the config demands (SIP INFO under mandatory SRTP)."""

    name: ClassVar[str] = "dtmf-refused"
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfFailed(CallNotice):
    """Keys we sent as SIP INFO were refused (or got no answer): the rest are dropped."""

    name: ClassVar[str] = "dtmf-failed"
    warning: ClassVar[bool] = True
    status: int | str
    keys: int


# -- door and hardware ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorOpened(Notice):
    """The door relay was pulsed for ``seconds``; ``via`` says who opened it."""

    name: ClassVar[str] = "door-opened"
    via: str
    call_id: str | None
    seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorPulseEnded(Notice):
    """The relay pulse is over: the door is locked again."""

    name: ClassVar[str] = "door-pulse-ended"


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorOpenFailed(Notice):
    """The relay did not switch; ``reason`` says why."""

    name: ClassVar[str] = "door-open-failed"
    warning: ClassVar[bool] = True
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorCodeWrong(Notice):
    """A wrong door code was keyed; ``left`` tries remain before a lockout."""

    name: ClassVar[str] = "door-code-wrong"
    warning: ClassVar[bool] = True
    call_id: str
    attempt: int
    left: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorLockedOut(Notice):
    """Too many wrong codes: code entry is locked for ``minutes``."""

    name: ClassVar[str] = "door-locked-out"
    warning: ClassVar[bool] = True
    call_id: str
    minutes: float
    wrong: int
    scope: str
    alarm: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorLockoutEnded(Notice):
    """A lockout ran out: everyone's (no scope) or one caller's (``scope="caller"``)."""

    name: ClassVar[str] = "door-lockout-ended"
    scope: str | None = _optional()


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorSensor(Notice):
    """The door sensor changed ``state`` (open or closed)."""

    name: ClassVar[str] = "door-sensor"
    state: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorLeftOpen(Notice):
    """The door has stood open for ``seconds``."""

    name: ClassVar[str] = "door-left-open"
    warning: ClassVar[bool] = True
    seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonChanged(Notice):
    """A button event as the board reported it (``kind``: press, long, double ...)."""

    name: ClassVar[str] = "button"
    button: str = field(metadata={_KEY: "name"})
    kind: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorChanged(Notice):
    """An input other than the door contact changed."""

    name: ClassVar[str] = "sensor"
    sensor: str = field(metadata={_KEY: "name"})
    active: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class HardwareOk(Notice):
    """The I/O board works (again)."""

    name: ClassVar[str] = "hardware-ok"
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HardwareFault(Notice):
    """The I/O board failed; ``reason`` says how."""

    name: ClassVar[str] = "hardware-fault"
    warning: ClassVar[bool] = True
    reason: str


Event = (
    Registering
    | Registered
    | RegistrationRefreshed
    | RegistrationContactChanged
    | RegistrationFlowLost
    | RegistrationFailed
    | Unregistered
    | Ready
    | InService
    | OutOfService
    | RequestFailed
    | MessageFailed
    | RequestDropped
    | MessageReceived
    | TextMessageSent
    | TextMessageFailed
    | CallIncoming
    | CallOutgoing
    | CallRinging
    | CallRedirected
    | CallEarlyMedia
    | CallRingTimeout
    | CallAnswered
    | CallBusy
    | CallRejected
    | CallEnded
    | CallFailed
    | CallHeld
    | CallResumed
    | CallHoldFailed
    | CallExtended
    | CallTimeWarning
    | CallReport
    | CallGroupStarted
    | CallGroupEnded
    | TransferRequested
    | TransferSucceeded
    | TransferFailed
    | ConsultationStarted
    | ConsultationEnded
    | DtmfReceived
    | DtmfRefused
    | DtmfFailed
    | DoorOpened
    | DoorPulseEnded
    | DoorOpenFailed
    | DoorCodeWrong
    | DoorLockedOut
    | DoorLockoutEnded
    | DoorSensor
    | DoorLeftOpen
    | ButtonChanged
    | SensorChanged
    | HardwareOk
    | HardwareFault
)
"""Every event there is; a consumer that must handle each one matches on this union and
``typing.assert_never`` makes mypy name the one it forgot."""

#: Registration states as STATUS shows them, one per registration event.
REGISTRATION_EVENTS = (
    Registering,
    Registered,
    RegistrationRefreshed,
    RegistrationContactChanged,
    RegistrationFlowLost,
    RegistrationFailed,
    Unregistered,
)
