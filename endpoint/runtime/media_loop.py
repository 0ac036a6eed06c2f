"""The media thread: one per process, paced on absolute deadlines, serving every call.

While a call is up, each tick (20 ms by the monotonic clock, ``start + n * period``, never
``sleep(0.02)`` which drifts) it drains the calls' RTP/RTCP sockets, reads one frame from the
audio port, lets the call's ``MediaStream`` packetise it, sends, and hands the next frame to the
speaker. It runs at SCHED_FIFO priority when the process may, so SIP handling, logging or
garbage collection on the asyncio side cannot delay a packet. If it falls far behind (the
machine was suspended, a debugger stopped it) it resynchronises instead of sending a burst.
With no call it does not tick: it sleeps on its command queue, so an idle box costs no CPU.

The asyncio side talks to it only through a command queue and reads events back from another;
``last_tick`` is the heartbeat the systemd watchdog checks (a wedged media thread must stop the
pings). An exception in one call ends that call and is reported; the thread keeps serving.
"""

from __future__ import annotations

import logging
import queue
import select
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from endpoint.audio import AudioPort
from endpoint.audio.processing import VoiceProcessor
from endpoint.media.dtls_gate import AwaitingKeys, DtlsFailedError, DtlsSrtpProtection, is_dtls
from endpoint.media.frame import SAMPLE_RATE, Frame, silence
from endpoint.media.pcm_ops import WIDTH, gain, mix
from endpoint.media.quality import StreamStats
from endpoint.media.stream import Datagram, PacketProtection
from endpoint.runtime.call_steps import (
    CallFailed,
    CallMedia,
    LoopEvent,
    at_rate,
    frame_ready,
    microphone,
    send_rtp,
    speaker,
    switch_codec,
    timer_socket,
)
from endpoint.runtime.fused_tick import build_fused
from endpoint.runtime.realtime import Priority, favour_media_thread, make_current_thread_realtime
from endpoint.runtime.rtp_transport import MAX_DRAIN, Address

if TYPE_CHECKING:
    from endpoint.media.dtls import DtlsSrtp

log = logging.getLogger("endpoint.runtime.media")

#: Ticks behind schedule after which the loop resynchronises rather than catch up.
RESYNC_TICKS = 5


class MediaLoop:
    def __init__(
        self,
        ptime_ms: int = 20,
        *,
        realtime_priority: int | None = 20,
        wake: Callable[[], None] | None = None,
        record_lateness: bool = False,
    ) -> None:
        self.period_ns = ptime_ms * 1_000_000
        self.realtime_priority = realtime_priority
        self.wake = wake
        self._calls: dict[str, CallMedia] = {}
        #: One poll over every call's sockets: a tick asks the kernel once which have data,
        #: instead of reading each until EAGAIN (an exception per socket per tick).
        self._poll = select.poll()
        #: Socket descriptor -> its call and whether it is the call's RTCP socket.
        self._readers: dict[int, tuple[CallMedia, bool]] = {}
        #: The fused tick of the only call (``endpoint.runtime.fused_tick``), or None: built
        #: when the call qualifies, dropped by any command and by what it cannot handle.
        self._fused: Callable[[float], bool] | None = None
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._events: queue.SimpleQueue[LoopEvent] = queue.SimpleQueue()
        #: What the tick loop reads to stop: a plain attribute costs nothing per tick, where
        #: ``Event.is_set()`` is a method call under a lock. ``stop()`` sets it before waking
        #: the thread.
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.priority: Priority | None = None
        self.last_tick: float | None = None
        self.ticks = 0
        self.resyncs = 0
        self.max_lateness = 0.0
        #: Wake-up lateness of every tick (seconds), kept only for benchmarks.
        self.lateness: list[float] | None = [] if record_lateness else None
        self._started = threading.Event()
        self._switch_interval: float | None = None

    # -- lifecycle (asyncio side) ------------------------------------------------------------

    def start(self) -> None:
        self._switch_interval = favour_media_thread()
        self._thread = threading.Thread(target=self._run, name="media", daemon=True)
        self._thread.start()
        self._started.wait(5)

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping = True
        self._commands.put(lambda: None)  # wakes an idle thread at once
        if self._thread is not None:
            self._thread.join(timeout)
        for call in list(self._calls.values()):
            self._close(call)
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, command: Callable[[], None]) -> None:
        """Run ``command`` on the media thread between two frames, as every change to a call's
        media is run: the thread owns the streams, so nothing else touches them."""
        self._commands.put(command)

    def add_call(self, call: CallMedia) -> None:
        self.submit(lambda: self._add(call))

    def _add(self, call: CallMedia) -> None:
        replaced = self._calls.get(call.call_id)
        if replaced is not None:
            self._unwatch(replaced)  # its sockets are no longer the call's
        self._calls[call.call_id] = call
        sockets = call.sockets
        for sock, rtcp in ((sockets.rtp, False), (sockets.rtcp, True)):
            if sock is not None:
                self._poll.register(sock, select.POLLIN)
                self._readers[sock.fileno()] = (call, rtcp)

    def remove_call(self, call_id: str) -> Future[StreamStats | None]:
        """End a call's media (RTCP BYE sent); resolves with its final statistics."""
        result: Future[StreamStats | None] = Future()

        def command() -> None:
            call = self._calls.pop(call_id, None)
            result.set_result(None if call is None else self._close(call))

        if not self.alive:
            command()
        else:
            self._commands.put(command)
        return result

    def send_dtmf(self, call_id: str, digits: str) -> None:
        self._commands.put(lambda: self._with(call_id, lambda c: c.stream.send_dtmf(digits)))

    def set_direction(self, call_id: str, direction: str) -> None:
        self._commands.put(lambda: self._with(call_id, lambda c: c.stream.set_direction(direction)))

    def set_protection(self, call_id: str, protection: PacketProtection | None) -> None:
        self._commands.put(
            lambda: self._with(call_id, lambda c: c.stream.set_protection(protection))
        )

    def set_dtls(self, call_id: str, dtls: DtlsSrtp, dtls_rtcp: DtlsSrtp | None) -> None:
        """A new DTLS association for the call (RFC 8842): its handshakes replace the old
        ones, and nothing passes until they have keyed SRTP again."""

        def renew(call: CallMedia) -> None:
            call.dtls, call.dtls_rtcp, call.dtls_settled = dtls, dtls_rtcp, False
            call.stream.set_protection(AwaitingKeys())

        self._commands.put(lambda: self._with(call_id, renew))

    def set_codec(self, call_id: str, name: str, payload_type: int) -> None:
        """A re-INVITE's codec: fresh codec state; its rate bridged to the open device."""
        self._commands.put(
            lambda: self._with(call_id, lambda c: switch_codec(c, name, payload_type))
        )

    def set_remote(self, call_id: str, rtp: tuple[str, int], rtcp: tuple[str, int]) -> None:
        self._commands.put(lambda: self._with(call_id, lambda c: c.stream.set_remote(rtp, rtcp)))

    def play_alert(self, call_id: str, samples: Frame) -> None:
        """Mix ``samples`` (int16, 8 kHz) into the call's outgoing audio, once."""

        def start(call: CallMedia) -> None:
            call.alert, call.alert_at = at_rate(samples, call.stream.codec.audio_rate), 0

        self._commands.put(lambda: self._with(call_id, start))

    def set_port(self, call_id: str, port: AudioPort, processor: VoiceProcessor | None) -> None:
        """Another audio source and sink for the call (early media's ring-back tone replaced
        by the door's device at the answer); the stream and its codec stay."""

        def swap(call: CallMedia) -> None:
            call.port, call.processor, call.processed = port, processor, None

        self._commands.put(lambda: self._with(call_id, swap))

    def port_rate(self, call_id: str) -> int:
        """The audio rate the call's port runs at (its first codec's)."""
        call = self._calls.get(call_id)
        return SAMPLE_RATE if call is None else call.port_rate

    def stats(self, call_id: str) -> StreamStats | None:
        call = self._calls.get(call_id)
        return None if call is None else call.stream.stats()

    def events(self) -> list[LoopEvent]:
        out = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    # -- the thread --------------------------------------------------------------------------

    def _with(self, call_id: str, action: Callable[[CallMedia], object]) -> None:
        call = self._calls.get(call_id)
        if call is not None:
            action(call)

    def _run(self) -> None:
        if self.realtime_priority is not None:
            self.priority = make_current_thread_realtime(self.realtime_priority)
        else:
            self.priority = Priority(False, "real-time priority not requested")
        self.last_tick = time.monotonic()
        self._started.set()
        self._pace()

    def _pace(self) -> None:
        """The absolute-deadline loop. Lean on purpose (issue 19: every wake-up is cold, and
        the bookkeeping around the sleep cost 30-60 us of it): the clock, the sleep and the
        tick as locals, one clock read after the sleep, lateness in integer nanoseconds."""
        period = self.period_ns
        resync = RESYNC_TICKS * period
        mono_ns, sleep, tick_all = time.monotonic_ns, time.sleep, self._tick_all
        deadline = mono_ns()
        max_late = int(self.max_lateness * 1e9)
        while not self._stopping:
            if not self._calls:
                self._idle()
                deadline = mono_ns()  # the first call's pacing starts now
                continue
            deadline += period
            now_ns = mono_ns()
            if now_ns < deadline:
                sleep((deadline - now_ns) / 1e9)
                now_ns = mono_ns()
            elif now_ns - deadline > resync:
                self.resyncs += 1
                deadline = now_ns
            late = now_ns - deadline
            if late > max_late:
                max_late = late
                self.max_lateness = late / 1e9
            if self.lateness is not None and len(self.lateness) < 1_000_000:
                self.lateness.append(late / 1e9)
            now = now_ns / 1e9
            produced = tick_all(now)
            self.ticks += 1
            self.last_tick = now
            if produced and self.wake is not None:
                self.wake()

    def _tick_all(self, now: float) -> bool:
        """One tick of every call; True if a call produced events for the asyncio side.

        The common call (one, plain 20 ms, no alert or rate bridge; latched or not yet) takes
        the fused tick, the same steps with fewer layers (issue 19: a cold tick costs what it
        touches); a command drops it, as a command may change what made the call qualify."""
        fused = self._fused
        if self._commands.empty():
            if fused is None and len(self._calls) == 1:
                fused = self._fused = build_fused(self, next(iter(self._calls.values())))
            if fused is not None:
                return fused(now)
        else:
            self._fused = None
        return self._tick_generic(now)

    def _tick_generic(self, now: float) -> bool:
        """Send first, then commands, receive, play and report, for any number of calls."""
        calls = list(self._calls.values())
        for call in calls:
            try:
                self._send(call, now)
            except Exception as exc:
                self._fail(call, exc)
        if not self._commands.empty():
            self._commands_now()
            calls = list(self._calls.values())
        if self._receive(now):
            for call in calls:
                call.drained_peer = call.sockets.peer
        produced = False
        for call in calls:
            if self._calls.get(call.call_id) is not call:
                continue  # ended while receiving
            try:
                produced = self._tick(call, now) or produced
            except Exception as exc:
                self._fail(call, exc)
                produced = True
        return produced

    def _idle(self) -> None:
        """No call: sleep on the command queue instead of ticking (no wake-up at all on a box
        that is idle all day, issue 19), then run the command and any queued behind it. The
        watchdog's probe is such a command: running it moves the heartbeat."""
        command = self._commands.get()
        command()
        self._commands_now()
        self.last_tick = time.monotonic()

    def _commands_now(self) -> None:
        commands = self._commands
        while not commands.empty():
            commands.get_nowait()()

    def _fail(self, call: CallMedia, exc: Exception) -> None:
        if isinstance(exc, DtlsFailedError):
            # The peer's doing, not our bug: its reason, without a traceback.
            reason = str(exc)
        else:
            log.exception("media of call %s failed; ending it", call.call_id)
            reason = f"{type(exc).__name__}: {exc}"
        if self._calls.pop(call.call_id, None) is not None:
            self._close(call)
            self._events.put((call.call_id, CallFailed(reason)))

    def _send(self, call: CallMedia, now: float) -> None:
        """First thing after waking: the packet leaves with the least possible delay, made
        at the end of the last tick when its frame was there (``CallMedia.prepared``).

        With a native processor the frame was read and processed in the previous tick's `_tick`, so
        the canceller's hundreds of microseconds never sit between the wake-up and the send
        (one frame, 20 ms, of added latency, only when processing is on).
        """
        prepared = call.prepared
        if prepared is None:
            prepared = self._datagrams(call, now)
        else:
            call.prepared = None
        send_rtp(call, prepared)

    def _datagrams(self, call: CallMedia, now: float) -> list[Datagram]:
        """The RTP of this tick's frame: the microphone's (through the rate bridge, under an
        alert), or silence when the device had none."""
        frame = microphone(call)
        if frame is not None and call.bridges is not None:
            frame = call.bridges[0].convert(frame)
        if frame is None:
            frame = silence(call.stream.frame_samples)
        if call.alert is not None:
            frame = self._mix_alert(call, frame)
        return call.stream.send_frame(frame, now)

    @staticmethod
    def _mix_alert(call: CallMedia, frame: Frame) -> Frame:
        """The alert over half-level audio, so the peer hears it above the street noise."""
        assert call.alert is not None
        n = len(frame)  # bytes
        part = call.alert[call.alert_at : call.alert_at + n]
        call.alert_at += n
        if call.alert_at >= len(call.alert):
            call.alert = None
        if len(part) < n:
            part += silence((n - len(part)) // WIDTH)
        return mix(gain(frame, 0.5), part)

    def _tick(self, call: CallMedia, now: float) -> bool:
        """What may wait a few hundred microseconds, after receiving: DTLS, play, report."""
        stream, sockets = call.stream, call.sockets
        latched = stream.receiver.latched_address
        if latched != sockets.peer:
            sockets.follow(latched)
        if call.dtls is not None and (call.dtls_in or not call.dtls_settled):
            call.dtls_in = False
            self._dtls(call, now)
        self._play(call, now)
        timer = stream.get_timer()
        if timer is not None and timer <= now:
            for data, destination in stream.handle_timer(now):
                if data:
                    sockets.send(timer_socket(sockets, data), data, destination)
        events = stream.events()
        for event in events:
            self._events.put((call.call_id, event))
        if frame_ready(call):
            call.prepared = self._datagrams(call, now + self.period_ns / 1e9)
        return bool(events)

    def _receive(self, now: float) -> bool:
        """Every datagram waiting on the calls' sockets, one per ready socket per round: one
        poll(0) a round, so a tick with one packet costs poll, recvfrom, poll. Bounded, so a
        flood cannot stall the media clock. True when every socket was emptied."""
        poll, readers = self._poll.poll, self._readers
        for _ in range(MAX_DRAIN):
            ready = poll(0)
            if not ready:
                return True
            for fd, _event in ready:
                reader = readers.get(fd)
                if reader is None:
                    continue  # its call ended earlier in this round
                call, rtcp = reader
                try:
                    self._deliver(call, rtcp, now)
                except Exception as exc:
                    self._fail(call, exc)
        return False

    def _deliver(self, call: CallMedia, rtcp: bool, now: float) -> None:
        """One datagram from one of the call's sockets to its stream, or to its DTLS
        handshake (RFC 7983: DTLS shares the port) if it comes from the address the SDP
        names: a stranger's records cannot break the handshake."""
        sockets = call.sockets
        if rtcp:
            assert sockets.rtcp is not None
            datagram = sockets.read(sockets.rtcp)
        else:
            datagram = sockets.read(sockets.rtp)
        if datagram is not None:
            self._dispatch(call, rtcp, *datagram, now)

    def _dispatch(
        self, call: CallMedia, rtcp: bool, data: bytes, addr: Address, now: float
    ) -> None:
        """``_deliver`` after the read (the fused tick reads itself and comes here with what
        it does not take)."""
        stream = call.stream
        dtls, remote = (
            (call.dtls_rtcp, stream.config.remote_rtcp)
            if rtcp
            else (call.dtls, stream.config.remote_rtp)
        )
        if dtls is not None and is_dtls(data):
            if addr == remote:
                dtls.receive(data, now)
                call.dtls_in = True
        elif rtcp:
            stream.receive_rtcp(data, addr, now)
        else:
            stream.receive_rtp(data, addr, now)

    def _dtls(self, call: CallMedia, now: float) -> None:
        """Drive the handshake: start it, run its timer, send its records; key SRTP when done,
        end the call when it failed (a wrong fingerprint says so)."""
        stream, sockets = call.stream, call.sockets
        components = [(call.dtls, sockets.rtp, stream.config.remote_rtp)]
        if call.dtls_rtcp is not None and sockets.rtcp is not None:
            components.append((call.dtls_rtcp, sockets.rtcp, stream.config.remote_rtcp))
        for dtls, sock, destination in components:
            if dtls is None:
                continue
            dtls.start(now)
            timer = dtls.get_timer()
            if timer is not None and timer <= now:
                dtls.handle_timer(now)
            for data in dtls.datagrams_to_send():
                sockets.send(sock, data, destination)
            if dtls.failure is not None:
                raise DtlsFailedError(dtls.failure)
        assert call.dtls is not None
        rtp = call.dtls.protection()
        if rtp is None:
            return
        if isinstance(stream.protection, AwaitingKeys):
            rtcp = rtp if call.dtls_rtcp is None else call.dtls_rtcp.protection()
            stream.set_protection(DtlsSrtpProtection(rtp, rtcp))
            log.info("call %s: DTLS-SRTP keyed (%s)", call.call_id, rtp.suite)
        current = stream.protection
        if isinstance(current, DtlsSrtpProtection) and current.rtcp is None:
            assert call.dtls_rtcp is not None
            current.rtcp = call.dtls_rtcp.protection()
        call.dtls_settled = isinstance(current, DtlsSrtpProtection) and current.rtcp is not None

    def _play(self, call: CallMedia, now: float) -> None:
        """Hand the next frame to the speaker; with a native processor, process the microphone
        against it too (sent at the next tick's start)."""
        frame = call.stream.playout(now)
        if call.bridges is not None:
            frame = call.bridges[1].convert(frame)
        speaker(call, frame)

    def set_volume(self, call_id: str, speaker_db: float | None, mic_db: float | None) -> None:
        """Change a call's speaker volume and/or microphone gain (`ctl volume`)."""

        def change(call: CallMedia) -> None:
            if call.processor is None:
                return
            if speaker_db is not None:
                call.processor.set_speaker_volume(speaker_db)
            if mic_db is not None:
                call.processor.set_mic_gain(mic_db)

        self._commands.put(lambda: self._with(call_id, change))

    def _unwatch(self, call: CallMedia) -> None:
        """The call's sockets out of the poll; before they close, as their numbers may be
        reused at once."""
        for sock in (call.sockets.rtp, call.sockets.rtcp):
            if sock is None:
                continue
            fd = sock.fileno()
            reader = self._readers.get(fd)
            if reader is not None and reader[0] is call:
                del self._readers[fd]
                self._poll.unregister(fd)

    def _close(self, call: CallMedia) -> StreamStats:
        self._unwatch(call)
        try:
            # A packet made for the next tick goes now: the stream has counted it as sent.
            prepared, call.prepared = call.prepared or [], None
            send_rtp(call, prepared)
            rtcp_socket = call.sockets.rtcp or call.sockets.rtp
            for data, destination in call.stream.close(time.monotonic()):
                if data:
                    call.sockets.send(rtcp_socket, data, destination)
            return call.stream.stats()
        finally:
            call.sockets.close()
