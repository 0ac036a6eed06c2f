"""The fused tick: one function for the media loop's common call (issue 19).

Why: on the small boards and VMs this runs on, a 20 ms tick runs cold (the caches are evicted
between ticks), and its cost follows how much distinct code and data it touches, not how many
instructions it runs. The generic tick (``MediaLoop._tick_generic``) serves any number of calls
in any state; for the common call it does work the call does not need: the source address of
every datagram (``recvfrom`` builds a tuple and formats the address; a connected socket's kernel
already drops other sources), ``send_frame``'s list of (datagram, destination), the dispatch
through ``_receive``/``_deliver``/``receive_rtp``, and ``_tick``'s per-call checks. Measured in
docs/research/media-cpu-session8.md: 15-19 % of the media thread.

When: exactly one call, its stream ``fused_ready`` (one frame a packet, sending, no digit being
sent), no rate bridge or alert, no DTLS or a settled one, and its RTP socket connected to the
latched peer since before a receive emptied every socket (``CallMedia.drained_peer``: what was
queued before the connect still carries its own source), or not latched at all (then the send
is fused and the receive is the generic one, which needs every datagram's source). Voice
processing is no obstacle: the microphone and the speaker then go through the generic tick's
own ``microphone`` and ``speaker``. Any command drops the closure (``MediaLoop._tick_all``
rebuilds it on the next tick that qualifies), and so does anything it sees change under it: a
re-latch, a DTLS record, a failure.

What it does is the generic tick's, step for step: send, receive, follow the latch, DTLS, play,
timer, events, and the next tick's packet when its frame is already there
(``CallMedia.prepared``: the send is then the first thing after the wake-up). Every protocol
decision stays in ``endpoint.media``: the stream's ``send_audio``, ``receive_media`` (an
already-parsed plain header of our audio type) and ``receive_clear_rtp`` (after our own
unprotect); any other datagram (DTLS-looking, RTCP, padding, extension or CSRC, RFC 4733,
another payload type) takes the generic ``MediaLoop._dispatch``. With SRTP the
session's methods are bound once, the inner SRTP session of a settled DTLS-SRTP call included
(``SrtpProtection`` calls libsrtp through pylibsrtp's own cffi binding).
tests/runtime/test_fused_tick.py drives random datagram sequences through both ticks and
compares what they send, count, report and play.
"""

from __future__ import annotations

import queue
import select
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Protocol

from endpoint.media.dtls_gate import DtlsSrtpProtection
from endpoint.media.frame import Frame, silence
from endpoint.media.rtp import HEADER
from endpoint.runtime.call_steps import (
    CallMedia,
    LoopEvent,
    frame_ready,
    microphone,
    speaker,
    timer_socket,
)
from endpoint.runtime.rtp_transport import MAX_DRAIN

if TYPE_CHECKING:
    from endpoint.media.stream import Datagram, PacketProtection
    from endpoint.runtime.rtp_transport import Address


class LoopSide(Protocol):
    """What the fused tick uses of the media loop that runs it
    (``endpoint.runtime.media_loop.MediaLoop``): the loop's own generic steps for what the
    fused tick leaves to them, and its state. Named here so that this module does not import
    the loop's, which imports this one."""

    period_ns: int
    _fused: Callable[[float], bool] | None
    _calls: dict[str, CallMedia]
    _events: queue.SimpleQueue[LoopEvent]
    _poll: select.poll
    _readers: dict[int, tuple[CallMedia, bool]]

    def _fail(self, call: CallMedia, exc: Exception) -> None: ...
    def _dtls(self, call: CallMedia, now: float) -> None: ...
    def _datagrams(self, call: CallMedia, now: float) -> list[Datagram]: ...
    def _receive(self, now: float) -> bool: ...
    def _deliver(self, call: CallMedia, rtcp: bool, now: float) -> None: ...
    def _dispatch(
        self, call: CallMedia, rtcp: bool, data: bytes, addr: Address, now: float
    ) -> None: ...


#: The first byte of a plain RTP header: version 2, no padding, extension or CSRC.
PLAIN = 0x80


def qualifies(call: CallMedia) -> bool:
    """The common call, as the module docstring says: latched and connected, or not latched
    yet (a send-only peer, or the first packets of a call), whose datagrams then take the
    generic receive with their source."""
    peer, latched = call.sockets.peer, call.stream.receiver.latched_address
    if peer is None:
        socket_ready = latched is None
    else:
        socket_ready = call.drained_peer == peer and latched == peer
    return (
        socket_ready
        and call.bridges is None
        and call.alert is None
        and (call.dtls is None or call.dtls_settled)
        and call.stream.fused_ready
    )


def build_fused(loop: LoopSide, call: CallMedia) -> Callable[[float], bool] | None:
    """The fused tick of ``call`` (True: it produced events), or None if it does not qualify."""
    if not qualifies(call):
        return None
    stream, sockets = call.stream, call.sockets
    packet, ready, write_frame = _audio_steps(call)
    receive = _receiver(loop, call)
    playout, receiver, peer = stream.playout, stream.receiver, sockets.peer
    events_put = loop._events.put
    # Where the generic tick would send this call's RTP (``send_frame``'s destination): the
    # latched and connected peer, or the signalled address before the latch.
    rtp_to = stream.config.remote_rtp if peer is None else peer
    period = loop.period_ns / 1e9
    transmit = _transmitter(call, packet, rtp_to)

    def tick(now: float) -> bool:
        try:
            transmit(now)
        except Exception as exc:
            loop._fused = None
            loop._fail(call, exc)
            return False
        receive(now)
        if loop._calls.get(call.call_id) is not call:
            loop._fused = None
            return False  # the call failed while receiving
        try:
            latched = receiver.latched_address
            if latched != peer:
                loop._fused = None
                sockets.follow(latched)
            if call.dtls_in:  # a record on a settled association: the generic way from here
                call.dtls_in = False
                loop._fused = None
                loop._dtls(call, now)
            write_frame(playout(now))
            timer = stream.get_timer()
            if timer is not None and timer <= now:
                for out, destination in stream.handle_timer(now):
                    if out:
                        sockets.send(timer_socket(sockets, out), out, destination)
            events = stream.events()
            for event in events:
                events_put((call.call_id, event))
            if ready():  # the next tick's packet; the generic way if this tick dropped us
                if loop._fused is tick:
                    call.prepared = [(packet(now + period), rtp_to)]
                else:
                    call.prepared = loop._datagrams(call, now + period)
        except Exception as exc:
            loop._fused = None
            loop._fail(call, exc)
            return True
        return bool(events)

    return tick


def _transmitter(
    call: CallMedia, packet: Callable[[float], bytes], rtp_to: Address
) -> Callable[[float], None]:
    """The fused tick's first step: send the packet made at the end of the last tick, or
    make this tick's now (``CallMedia.prepared``)."""
    send = _sender(call)

    def transmit(now: float) -> None:
        prepared = call.prepared  # see CallMedia.prepared
        if prepared is None:
            prepared = [(packet(now), rtp_to)]
        else:
            call.prepared = None
        for data, _to in prepared:  # made for rtp_to: nothing moved since, or no fused tick
            if data:  # (the generic tick's prepared: empty, no packet this time)
                try:  # noqa: SIM105 (contextlib.suppress: a context manager per packet)
                    send(data)
                except OSError:
                    pass  # as RtpSockets.send: the network's refusal is not the call's failure

    return transmit


def _audio_steps(
    call: CallMedia,
) -> tuple[Callable[[float], bytes], Callable[[], bool], Callable[[Frame], None]]:
    """The call's audio side, bound once: the packet of the microphone's next frame
    (silence when it has none; protected), whether that frame is there yet, and the
    speaker. With hands-free processing: the generic tick's own ``microphone``,
    ``frame_ready`` and ``speaker``."""
    stream, port = call.stream, call.port
    read_frame: Callable[[], Frame | None] = port.read_frame
    write_frame: Callable[[Frame], None] = port.write_frame
    ready: Callable[[], bool] = port.frame_ready
    if call.processor is not None:
        read_frame, write_frame = partial(microphone, call), partial(speaker, call)
        ready = partial(frame_ready, call)
    protection = _protection(call)
    protect = None if protection is None else protection.protect_rtp
    send_audio, quiet = stream.send_audio, silence(stream.frame_samples)

    def packet(now: float) -> bytes:
        frame = read_frame()
        data = send_audio(quiet if frame is None else frame, now)
        return data if protect is None else protect(data)

    return packet, ready, write_frame


def _protection(call: CallMedia) -> PacketProtection | None:
    """What the fused tick binds its protect and unprotect on, once: the stream's protection,
    or the inner SRTP session of a settled DTLS-SRTP call (its RTP keys will not change under
    us): the tick's first SRTP call runs cold, and each frame around it costs."""
    protection = call.stream.protection
    if isinstance(protection, DtlsSrtpProtection):
        return protection.rtp
    return protection


def _sender(call: CallMedia) -> Callable[[bytes], object]:
    """Where the fused tick's RTP goes: the connected socket's own send (``peer_send``), or,
    before the latch, ``RtpSockets.send`` to the address the SDP gave (as ``send_frame``'s
    destination is then)."""
    sockets = call.sockets
    if sockets.peer is not None:
        return sockets.peer_send()
    rtp, send, destination = sockets.rtp, sockets.send, call.stream.config.remote_rtp
    return lambda data: send(rtp, data, destination)


def _receiver(loop: LoopSide, call: CallMedia) -> Callable[[float], object]:
    """The fused tick's receive: ``MediaLoop._receive`` for one call whose RTP socket is
    connected (``recv``, the source is the peer), a plain packet of our audio type straight to
    ``receive_media``, everything else the generic way. Before the latch every datagram
    needs its source: ``MediaLoop._receive`` itself."""
    stream, sockets = call.stream, call.sockets
    rtp, peer = sockets.rtp, sockets.peer
    if peer is None:
        return loop._receive
    rtp_fd, recv = rtp.fileno(), rtp.recv
    poll, readers, dispatch, deliver = loop._poll.poll, loop._readers, loop._dispatch, loop._deliver
    unpack, audio_pt = HEADER.unpack_from, stream.config.payload_type
    media, clear_rtp = stream.receive_media, stream.receive_clear_rtp
    protection = _protection(call)
    unprotect = None if protection is None else protection.unprotect_rtp

    def packet(data: bytes, now: float) -> None:
        # Not plain RTP (DTLS, padding, extension, CSRC, too short) or RTCP on the RTP port
        # (RFC 5761 §4 packet types 192-223): the generic way, source and all.
        if len(data) < 12 or data[0] != PLAIN or 191 < data[1] < 224:
            dispatch(call, False, data, peer, now)
            return
        if unprotect is not None:
            clear = unprotect(data)
            if clear is None:
                stream.unauthenticated += 1
                return
            data = clear  # SRTP leaves the header as it was: still plain, still 12+ bytes
        header = unpack(data)
        if header[1] & 0x7F == audio_pt:
            media(header, data, peer, now)
        else:
            clear_rtp(data, peer, now)

    def receive(now: float) -> None:
        for _ in range(MAX_DRAIN):
            ready = poll(0)
            if not ready:
                return
            for fd, _event in ready:
                try:
                    if fd != rtp_fd:
                        reader = readers.get(fd)
                        if reader is not None:
                            deliver(reader[0], reader[1], now)
                        continue
                    try:
                        data = recv(2048)
                    except OSError:  # as RtpSockets.read: nothing there, or a queued ICMP error
                        continue
                    packet(data, now)
                except Exception as exc:
                    loop._fail(call, exc)
                    return

    return receive
