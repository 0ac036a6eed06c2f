"""One call's media, sans-IO: frames and datagrams in, datagrams and frames out.

The media thread calls ``send_frame`` and ``playout`` once per packet time with its clock, hands
received datagrams to ``receive_rtp``/``receive_rtcp`` and sends what comes back; RTCP runs on
``get_timer``/``handle_timer``. Everything that decides (numbering, codec, DTMF replacing audio,
validation and latching, jitter buffering, reports) happens here, so the whole engine is tested
end to end without a socket or a clock.

Encryption is one injected step at the edge (``PacketProtection``: SRTP keyed from the SDP):
what we send is protected last, what arrives is unprotected first, and a packet that fails is
counted and dropped before validation, latching, DTMF or the jitter buffer see it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Protocol

from endpoint.media import rtcp
from endpoint.media.codecs import Codec, FollowsPeer, RecoversLoss, by_name, codec_for
from endpoint.media.dtmf import DtmfDigit, DtmfReceiver, DtmfSender
from endpoint.media.frame import Frame, silence
from endpoint.media.inband_dtmf import InbandDtmfDetector
from endpoint.media.jitterbuffer import JitterBuffer
from endpoint.media.pcm_ops import pair_average
from endpoint.media.plc import LossConcealer
from endpoint.media.quality import StreamStats, estimate_mos
from endpoint.media.rtp import Address, RtpPacket, RtpReceiver, RtpSender

Datagram = tuple[bytes, Address]
#: An unassigned static payload type (RFC 3551 table 4), never in our SDP: keep-alives use it.
KEEPALIVE_PT = 20


@dataclass(frozen=True, slots=True)
class StreamConfig:
    remote_rtp: Address
    remote_rtcp: Address
    payload_type: int = 0
    #: The negotiated codec's name (the SDP's rtpmap decides, whatever number the offerer
    #: gave it); None takes the codec of the static ``payload_type``.
    codec: str | None = None
    #: The peer's ``a=fmtp`` for that codec (Opus: its playback rate and FEC), or None.
    codec_fmtp: str | None = None
    telephone_event_pt: int | None = 101
    #: Listen for keys sent as tones in the audio (``endpoint.media.inband_dtmf``).
    inband_dtmf: bool = False
    ptime_ms: int = 20
    rtcp_mux: bool = False
    cname: str = "sip-endpoint"
    jitter_min_ms: int = 20
    jitter_max_ms: int = 200
    direction: str = "sendrecv"
    #: Unix time minus the monotonic clock, for the NTP timestamps of sender reports.
    wallclock_offset: float = 0.0
    #: Seconds without RTP or RTCP from the peer, while we expect media, before
    #: ``MediaTimeout`` (0 = never): the peer is gone even if it promised no session timer.
    rtp_timeout_s: float = 0.0
    #: Seconds between keep-alives on the RTP port while we send no audio (held, recvonly,
    #: inactive), so a NAT keeps the port open (RFC 6263 §4.6); 0 = none.
    keepalive_s: float = 0.0


class PacketProtection(Protocol):
    """SRTP for one call (``endpoint.media.srtp.SrtpProtection``); unprotect None = drop."""

    @property
    def description(self) -> str: ...

    def protect_rtp(self, packet: bytes) -> bytes: ...

    def protect_rtcp(self, packet: bytes) -> bytes: ...

    def unprotect_rtp(self, packet: bytes) -> bytes | None: ...

    def unprotect_rtcp(self, packet: bytes) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class SourceLatched:
    address: Address


@dataclass(frozen=True, slots=True)
class RemoteBye:
    reason: str


@dataclass(frozen=True, slots=True)
class MediaTimeout:
    """Nothing came from the peer for ``seconds`` while we expected its audio."""

    seconds: float


MediaEvent = DtmfDigit | SourceLatched | RemoteBye | MediaTimeout


@dataclass
class _Counters:
    received_octets: int = 0
    unknown_payload: int = 0
    #: Packets of our payload type the decoder refused (a malformed Opus packet).
    undecodable: int = 0
    rtcp_malformed: int = 0
    rtt: float | None = None
    remote_fraction_lost: float | None = None
    remote_jitter: float | None = None
    dtmf: int = 0
    last_sr_middle: int = 0
    last_sr_arrival: float | None = None
    end_of: int | None = None
    end_seq: int = 0


class MediaStream:
    def __init__(
        self,
        config: StreamConfig,
        rng: random.Random,
        now: float,
        protection: PacketProtection | None = None,
    ) -> None:
        codec = config.codec
        self.codec = codec_for(config.payload_type) if codec is None else by_name(codec)
        self.config = config
        self.rng = rng
        self.protection = protection
        self._direction_flags()
        #: Packets dropped because they failed SRTP/SRTCP authentication or replayed.
        self.unauthenticated = 0
        self._use_codec(self.codec)
        self.sender = RtpSender(rng, clock_rate=self.codec.clock_rate)
        self.receiver = RtpReceiver(clock_rate=self.codec.clock_rate)
        self.receiver.set_remote(config.remote_rtp)
        self.dtmf_out = (
            DtmfSender(config.telephone_event_pt, self.samples_per_packet, self.codec.clock_rate)
            if config.telephone_event_pt is not None
            else None
        )
        self.dtmf_in = DtmfReceiver(self.codec.clock_rate)
        self.dtmf_tones = InbandDtmfDetector() if config.inband_dtmf else None
        self._events: list[MediaEvent] = []
        self._marker = True
        self._rtcp_at = now + rtcp.interval(rng, initial=True)
        self._rtcp_source: Address | None = None
        self._c = _Counters()
        self._closed = False
        self._prior_expected = 0
        self._prior_received = 0
        #: When the peer was last heard from (None: restart the count at the next playout).
        self._heard_at: float | None = now
        self._timeout_reported = False
        #: When the last RTP packet left (audio, DTMF or keep-alive): keep-alives count from it.
        self._rtp_sent_at = now

    def _use_codec(self, codec: Codec) -> None:
        """Fresh codec state (G.722 and Opus adapt with every sample) and the frame sizes and
        jitter buffer of its rates; a decoder with its own loss concealment (Opus) serves
        the jitter buffer's gaps."""
        self.codec = codec
        self.encode, self.decode = codec.make()
        if isinstance(self.encode, FollowsPeer):
            self.encode.follow(self.config.codec_fmtp)
        #: PCM samples of one 20 ms frame at the codec's audio rate (320 for G.722).
        self.frame_samples = codec.frame_samples()
        #: RTP timestamp ticks of one 20 ms frame (160 for G.711 and G.722 alike).
        self.frame_ticks = codec.clock_ticks()
        #: Timestamp ticks of one packet (what RTP and RFC 4733 count in).
        self.samples_per_packet = codec.clock_ticks(self.config.ptime_ms)
        self.jitter = JitterBuffer(
            self.config.jitter_min_ms,
            self.config.jitter_max_ms,
            self.frame_ticks,
            codec.clock_rate,
            audio_samples=self.frame_samples,
            plc=self.decode if isinstance(self.decode, LossConcealer) else None,
        )
        self._pending: list[Frame] = []
        #: The sequence number of the last audio packet decoded (for FEC: one missing before).
        self._audio_seq: int | None = None
        #: The decoder rebuilds a lost packet from the next one's FEC (Opus); G.711 does not,
        #: and its packets skip that step.
        self._recovers = isinstance(self.decode, RecoversLoss)

    def set_codec(self, name: str, payload_type: int) -> None:
        """A re-INVITE changed the codec (or its number): new codec state and jitter buffer
        from the next frame on; the same codec again is nothing."""
        if (name, payload_type) == (self.codec.name, self.config.payload_type):
            return
        self.config = replace(self.config, codec=name, payload_type=payload_type)
        self._use_codec(by_name(name))
        self._marker = True
        self._use_clock(self.codec.clock_rate)

    def _use_clock(self, rate: int) -> None:
        """A switch between 8 kHz-clocked codecs and Opus's 48 kHz (RFC 7587 §4.1): the
        timestamps, jitter and RFC 4733 durations count in the new codec's clock from now on;
        the sequence numbers and SSRC carry on."""
        self.sender.clock_rate = self.receiver.clock_rate = self.dtmf_in.clock_rate = rate
        if self.dtmf_out is not None:
            self.dtmf_out.clock_rate = rate
            self.dtmf_out.samples_per_packet = self.samples_per_packet

    # -- sending -----------------------------------------------------------------------------

    @property
    def _rtp_destination(self) -> Address:
        # Symmetric RTP (RFC 4961): answer where the peer's media really comes from.
        return self.receiver.latched_address or self.config.remote_rtp

    @property
    def _rtcp_destination(self) -> Address:
        if self.config.rtcp_mux:
            return self._rtp_destination
        return self._rtcp_source or self.config.remote_rtcp

    def _direction_flags(self) -> None:
        """``sends`` and ``receives`` as attributes: the tick reads them four times, and the
        direction changes only by ``set_direction``."""
        self.sends = self.config.direction in ("sendrecv", "sendonly")
        self.receives = self.config.direction in ("sendrecv", "recvonly")

    def send_frame(self, pcm: Frame, now: float) -> list[Datagram]:
        """RTP for one 20 ms frame (accumulated to the ptime); DTMF replaces audio."""
        if self._closed or not self.sends:
            return []
        self._rtp_sent_at = now
        self._pending.append(pcm)
        if len(self._pending) * self.frame_ticks < self.samples_per_packet:
            return []
        audio = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending = []
        if self.dtmf_out is not None and self.dtmf_out.busy:
            packet = self.dtmf_out.tick(self.sender)
            if packet is not None:
                self._marker = True
                return [(self._protect(bytes(packet)), self._rtp_destination)]
        data = self.sender.datagram(
            self.config.payload_type, self.encode(audio), self.samples_per_packet, self._marker
        )
        self._marker = False
        return [(self._protect(data), self._rtp_destination)]

    @property
    def fused_ready(self) -> bool:
        """True while ``send_frame`` would make exactly one audio packet of this frame for the
        RTP destination and an audio packet of our type can never be an RFC 4733 one: one
        frame a packet, sending, no digit being sent, not closed. The media loop's fused tick
        (issue 19) runs only while this holds and calls ``send_audio``/``receive_media``."""
        dtmf_out = self.dtmf_out
        return (
            not self._closed
            and self.sends
            and self.samples_per_packet == self.frame_ticks
            and not self._pending
            and (dtmf_out is None or not dtmf_out.busy)
            and self.config.telephone_event_pt != self.config.payload_type
        )

    def send_audio(self, pcm: Frame, now: float) -> bytes:
        """``send_frame`` while ``fused_ready``: the one clear RTP packet of this frame, for
        the latched peer (the caller protects it: SRTP is bound once per call there), without
        the list of (datagram, destination) pairs."""
        self._rtp_sent_at = now
        data = self.sender.datagram(
            self.config.payload_type, self.encode(pcm), self.samples_per_packet, self._marker
        )
        self._marker = False
        return data

    def _protect(self, packet: bytes) -> bytes:
        return packet if self.protection is None else self.protection.protect_rtp(packet)

    def _protect_rtcp(self, packet: bytes) -> bytes:
        return packet if self.protection is None else self.protection.protect_rtcp(packet)

    def set_protection(self, protection: PacketProtection | None) -> None:
        """New keys from a re-INVITE (RFC 4568 §7.1.4): used from the next packet on."""
        self.protection = protection

    def send_dtmf(self, digits: str) -> str:
        """Queue digits for RFC 4733 sending; returns the characters refused."""
        if self.dtmf_out is None:
            return digits
        return self.dtmf_out.send(digits)

    # -- receiving ---------------------------------------------------------------------------

    def receive_rtp(self, data: bytes, address: Address, now: float) -> None:
        if self.config.rtcp_mux and rtcp.is_rtcp(data):
            self.receive_rtcp(data, address, now)
            return
        if self.protection is not None:
            clear = self.protection.unprotect_rtp(data)
            if clear is None:
                self.unauthenticated += 1
                return
            data = clear
        self.receive_clear_rtp(data, address, now)

    def receive_clear_rtp(self, data: bytes, address: Address, now: float) -> None:
        """An RTP packet already unprotected (or of a call without SRTP): the media loop's
        fused tick unprotects itself and hands what it does not take here, so no packet is
        unprotected twice (a second unprotect would be refused as a replay)."""
        receiver = self.receiver
        latched_before = receiver.latched_address
        changes_before = receiver.ssrc_changes
        received = receiver.receive_fast(data, address, now)
        if received is None:
            return
        payload_type, sequence, timestamp, payload = received
        self._admitted(latched_before, changes_before, len(payload), now)
        if payload_type == self.config.telephone_event_pt:
            # Rare (a key press): the frozen packet type the DTMF receiver reads; the data
            # parsed already, so this cannot fail.
            digits = self.dtmf_in.receive(RtpPacket.parse(data), now)
            self._c.dtmf += len(digits)
            self._events.extend(digits)
            self._silence_for_event(sequence, timestamp, payload, now)
            return
        if payload_type != self.config.payload_type:
            self._c.unknown_payload += 1
            return
        if self.receives:
            self._buffer(sequence, timestamp, payload, now)

    def receive_media(
        self, header: tuple[int, int, int, int, int], data: bytes, address: Address, now: float
    ) -> None:
        """``receive_clear_rtp``'s common case, its header parsed by the caller (the media
        loop's fused tick, issue 19) with ``rtp.HEADER.unpack_from``: clear RTP whose first
        byte is 0x80 (version 2, no padding, extension or CSRC) and whose payload type is the
        call's audio one (which ``fused_ready`` makes sure is not the RFC 4733 one). The same
        admission, counters, events and jitter buffer as ``receive_clear_rtp``, minus its
        parse and dispatch."""
        _, _, sequence, timestamp, ssrc = header
        receiver = self.receiver
        latched_before = receiver.latched_address
        changes_before = receiver.ssrc_changes
        if not receiver.admit(ssrc, sequence, timestamp, address, now):
            return
        payload = data[12:]
        self._admitted(latched_before, changes_before, len(payload), now)
        if self.receives:
            self._buffer(sequence, timestamp, payload, now)

    def _admitted(
        self, latched_before: Address | None, changes: int, octets: int, now: float
    ) -> None:
        """What every admitted packet does before its payload is looked at."""
        receiver = self.receiver
        if receiver.ssrc_changes != changes:
            self.jitter.restart()
        self._heard_at = now
        if latched_before is None and receiver.latched_address is not None:
            self._events.append(SourceLatched(receiver.latched_address))
        self._c.received_octets += octets
        if self.dtmf_in.pending:
            self._events.extend(self.dtmf_in.poll(now))

    def _silence_for_event(self, sequence: int, timestamp: int, payload: bytes, now: float) -> None:
        """An event packet stands in for the audio of its packet time: play silence there,
        not concealment (the sender muted its audio while the key was pressed)."""
        if not self.receives or len(payload) < 4:
            return
        duration = int.from_bytes(payload[2:4], "big")
        repeat = 0
        if payload[1] & 0x80:  # an end packet: its repeats cover the next packet times
            if self._c.end_of != timestamp:
                self._c.end_of, self._c.end_seq = timestamp, sequence
            repeat = (sequence - self._c.end_seq) % 65536
        spp = self.samples_per_packet
        start = (timestamp + max(duration - spp, 0) + repeat * spp) & 0xFFFFFFFF
        for k in range(self.samples_per_packet // self.frame_ticks):
            self.jitter.put((start + k * self.frame_ticks) & 0xFFFFFFFF, self._silence(), now)

    def _buffer(self, sequence: int, timestamp: int, payload: bytes, now: float) -> None:
        if self._recovers:
            self._recover_previous(sequence, timestamp, payload, now)
        try:
            pcm = self.decode(payload)
        except ValueError:  # the network's bytes: counted and dropped, never a crash
            self._c.undecodable += 1
            return
        if self.dtmf_tones is not None:
            # In arrival order, before the jitter buffer: a key is a few packets long and
            # reordering inside it moves no energy out of the tone pair.
            digits = self.dtmf_tones.feed(pcm if self.codec.audio_rate == 8000 else decimate(pcm))
            self._c.dtmf += len(digits)
            self._events.extend(digits)
        n, ticks = 2 * self.frame_samples, self.frame_ticks  # n: bytes of one frame
        if len(pcm) == n:  # one frame a packet: the usual 20 ms ptime
            self.jitter.put(timestamp, pcm, now)
            return
        for k in range(len(pcm) // n):
            frame = pcm[k * n : (k + 1) * n]
            self.jitter.put((timestamp + k * ticks) & 0xFFFFFFFF, frame, now)

    def _recover_previous(self, sequence: int, timestamp: int, payload: bytes, now: float) -> None:
        """Exactly one packet missing just before this one, and a decoder with in-band FEC:
        rebuild it from this packet (before this packet is decoded, as the decoder needs),
        so the jitter buffer plays it instead of concealing. Later losses are concealed."""
        last, self._audio_seq = self._audio_seq, sequence
        if last is None or (sequence - last) % 65536 != 2:
            return
        assert isinstance(self.decode, RecoversLoss)  # self._recovers
        try:
            pcm = self.decode.recover(payload)
        except ValueError:
            return  # counted when the packet itself fails to decode
        n, ticks = 2 * self.frame_samples, self.frame_ticks  # n: bytes of one frame
        frames = len(pcm) // n
        start = timestamp - frames * ticks
        for k in range(frames):
            self.jitter.put((start + k * ticks) & 0xFFFFFFFF, pcm[k * n : (k + 1) * n], now)

    def playout(self, now: float) -> Frame:
        """The next 20 ms for the speaker."""
        if self.dtmf_in.pending:
            self._events.extend(self.dtmf_in.poll(now))
        self._check_silence(now)
        if not self.receives:
            return self._silence()
        return self.jitter.get(now)

    def _silence(self) -> Frame:
        return silence(self.frame_samples)

    def _check_silence(self, now: float) -> None:
        timeout = self.config.rtp_timeout_s
        if timeout <= 0 or self._timeout_reported or not self.receives:
            return
        if self._heard_at is None:
            self._heard_at = now
        elif now - self._heard_at >= timeout:
            self._timeout_reported = True
            self._events.append(MediaTimeout(timeout))

    def receive_rtcp(self, data: bytes, address: Address, now: float) -> None:
        if self.protection is not None:
            clear = self.protection.unprotect_rtcp(data)
            if clear is None:
                self.unauthenticated += 1
                return
            data = clear
        try:
            packets = rtcp.parse_compound(data)
        except rtcp.RtcpError:
            self._c.rtcp_malformed += 1
            return
        self._rtcp_source = address
        latched = self.receiver.latched_address
        if latched is not None and address[0] == latched[0]:
            self._heard_at = now  # reports from the peer's host: it is alive (maybe on hold)
        arrival_ntp = rtcp.ntp_timestamp(now + self.config.wallclock_offset)
        for packet in packets:
            if isinstance(packet, rtcp.SenderReport):
                self._c.last_sr_middle = rtcp.middle32(packet.ntp)
                self._c.last_sr_arrival = now
            if isinstance(packet, rtcp.SenderReport | rtcp.ReceiverReport):
                for block in packet.blocks:
                    if block.ssrc != self.sender.ssrc:
                        continue
                    rtt = rtcp.round_trip(block, arrival_ntp)
                    if rtt is not None:
                        self._c.rtt = rtt
                    self._c.remote_fraction_lost = block.fraction_lost / 256
                    self._c.remote_jitter = block.jitter * 1000 / self.codec.clock_rate
            elif isinstance(packet, rtcp.Goodbye):
                self._events.append(RemoteBye(packet.reason))

    # -- RTCP --------------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        if self._closed:
            return None
        if self.config.keepalive_s <= 0:  # the usual case, asked every tick: no more calls
            return self._rtcp_at
        keepalive = self._keepalive_at()
        return self._rtcp_at if keepalive is None else min(self._rtcp_at, keepalive)

    def _keepalive_at(self) -> float | None:
        if self.config.keepalive_s <= 0 or self.sends:
            return None
        return self._rtp_sent_at + self.config.keepalive_s

    def handle_timer(self, now: float) -> list[Datagram]:
        if self._closed:
            return []
        out = []
        keepalive = self._keepalive_at()
        if keepalive is not None and now >= keepalive:
            out.append((self._protect(bytes(self._keepalive())), self._rtp_destination))
            self._rtp_sent_at = now
        if now >= self._rtcp_at:
            self._rtcp_at = now + rtcp.interval(self.rng, we_sent=self.sender.packets > 0)
            report = rtcp.encode_compound(self._report(now))
            out.append((self._protect_rtcp(report), self._rtcp_destination))
        return out

    def _keepalive(self) -> RtpPacket:
        """RFC 6263 §4.6: an RTP packet with no payload and a payload type the SDP did not
        name, which every receiver drops; it keeps the NAT binding of our RTP port alive."""
        return self.sender.packet(KEEPALIVE_PT, b"", 0)

    def _report(self, now: float) -> list[rtcp.RtcpPacket]:
        blocks: tuple[rtcp.ReportBlock, ...] = ()
        source = self.receiver.source
        if source is not None and source.received:
            expected = source.expected
            interval_expected = expected - self._prior_expected
            interval_received = source.received - self._prior_received
            self._prior_expected, self._prior_received = expected, source.received
            lost_interval = interval_expected - interval_received
            fraction = (
                (lost_interval << 8) // interval_expected
                if interval_expected > 0 and lost_interval > 0
                else 0
            )
            dlsr = 0
            if self._c.last_sr_arrival is not None:
                dlsr = int((now - self._c.last_sr_arrival) * 65536) & 0xFFFFFFFF
            blocks = (
                rtcp.ReportBlock(
                    source.ssrc,
                    min(fraction, 255),
                    max(min(source.lost, 0x7FFFFF), -0x800000),
                    source.extended_max & 0xFFFFFFFF,
                    int(source.jitter),
                    self._c.last_sr_middle,
                    dlsr,
                ),
            )
        sdes = rtcp.SourceDescription(self.sender.ssrc, self.config.cname)
        if self.sender.packets:
            sr = rtcp.SenderReport(
                self.sender.ssrc,
                rtcp.ntp_timestamp(now + self.config.wallclock_offset),
                self.sender.timestamp,
                self.sender.packets & 0xFFFFFFFF,
                self.sender.octets & 0xFFFFFFFF,
                blocks,
            )
            return [sr, sdes]
        return [rtcp.ReceiverReport(self.sender.ssrc, blocks), sdes]

    # -- control -----------------------------------------------------------------------------

    def set_remote(self, rtp_address: Address, rtcp_address: Address) -> None:
        """The remote addresses of a re-INVITE or UPDATE: latch anew if they moved.

        Every re-INVITE (hold, resume, session refresh) repeats them; only a real move may
        restart source validation, or the call loses packets and its counters.
        """
        if (rtp_address, rtcp_address) == (self.config.remote_rtp, self.config.remote_rtcp):
            return
        self.config = replace(self.config, remote_rtp=rtp_address, remote_rtcp=rtcp_address)
        self.receiver.set_remote(rtp_address)
        self._rtcp_source = None

    def set_direction(self, direction: str) -> None:
        """Hold and resume (sendonly, recvonly, inactive, sendrecv); the same again is nothing."""
        if direction == self.config.direction:
            return
        self.config = replace(self.config, direction=direction)
        self._direction_flags()
        self._marker = True
        self._heard_at = None  # a call taken off hold gets a full timeout again

    def events(self) -> list[MediaEvent]:
        out, self._events = self._events, []
        return out

    def close(self, now: float) -> list[Datagram]:
        """The final RTCP: a report and BYE (§6.6)."""
        if self._closed:
            return []
        packets = [*self._report(now), rtcp.Goodbye((self.sender.ssrc,))]
        self._closed = True
        return [(self._protect_rtcp(rtcp.encode_compound(packets)), self._rtcp_destination)]

    def stats(self) -> StreamStats:
        received = self.receiver.received_total
        lost = self.receiver.lost_total
        expected = received + lost
        fraction = max(lost, 0) / expected if expected > 0 else 0.0
        jb = self.jitter
        rtt_ms = self._c.rtt * 1000 if self._c.rtt is not None else None
        one_way = (rtt_ms or 0.0) / 2 + jb.delay_ms + self.config.ptime_ms
        concealed_share = jb.stats.concealed / jb.stats.played if jb.stats.played else 0.0
        return StreamStats(
            codec=self.codec.name,
            sent_packets=self.sender.packets,
            sent_octets=self.sender.octets,
            received_packets=received,
            received_octets=self._c.received_octets,
            lost=lost,
            fraction_lost=fraction,
            late=jb.stats.late,
            discarded=jb.stats.overflow
            + self._c.unknown_payload
            + self._c.undecodable
            + self.receiver.malformed,
            duplicates=jb.stats.duplicates,
            foreign=self.receiver.foreign,
            concealed=jb.stats.concealed,
            jitter_ms=self.receiver.jitter_ms,
            rtt_ms=rtt_ms,
            jitter_buffer_ms=jb.delay_ms,
            remote_fraction_lost=self._c.remote_fraction_lost,
            remote_jitter_ms=self._c.remote_jitter,
            dtmf_received=self._c.dtmf,
            mos=estimate_mos(max(fraction, concealed_share), one_way, codec=self.codec.name),
            encryption=self.protection.description if self.protection is not None else "none",
            unauthenticated=self.unauthenticated,
        )


def decimate(pcm: Frame) -> Frame:
    """16 kHz to 8 kHz for the in-band DTMF detector, which listens at 8 kHz: the mean of
    each pair is a low-pass (a zero at 8 kHz) good enough for tones below 1.7 kHz."""
    return pair_average(pcm)
