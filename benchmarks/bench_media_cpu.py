"""CPU per call: our media engine against baresip, in the same call, over the same seconds.

The benchmark calls a real baresip 1.0 (peer-to-peer, auto-answer, echo mode: it decodes what it
receives, runs its jitter buffer, and encodes it back, so both ends do codec + jitter buffer in
both directions) using the endpoint's own SIP core for INVITE/ACK/BYE and its media thread for
PCMU both ways. It then reports the CPU time each process used during the media phase, as a
percentage of one core, and the ratio. Goal: no more CPU than baresip.

``--srtp`` runs two more calls right after the first, in the same run: SRTP with SDES keys
(baresip ``mediaenc=srtp-mand``, our offer RTP/SAVP) and SRTP keyed by DTLS (baresip
``mediaenc=dtls_srtp``, our offer UDP/TLS/RTP/SAVP, the handshake timed from the first tick),
and prints what each added to each process. The bench's own SIP goes over UDP on loopback: the
device only sends SDES keys over TLS.

``--codec G722`` runs every call in wideband G.722 instead of PCMU (baresip with its ``g722``
module; our stream, tone and processing at 16 kHz): compare its CPU with a PCMU run.
``--codec OPUS`` the same in Opus (baresip's ``opus`` module, which runs at 48 kHz stereo; ours
at 16 kHz mono).

Every call also prints our send pacing: the instant of each outgoing RTP audio packet's
``sendto`` (after SRTP protection), as |interval - 20 ms| p99 and max; and where it comes from:
the media thread's wake-up lateness and the time from its wake-up to the ``sendto`` (frame,
codec, RTP header, SRTP). Next to the process's CPU it prints the media thread's own (from
/proc/self/task), which is where SRTP's cost lands.

``--audio pulse`` puts both ends on a sound device instead of a tone and an echo: a private
PulseAudio daemon with a null sink (it paces like a card), our port on ALSA's ``pulse`` device
(the ``alsa`` backend through PortAudio, ``--duplex`` as ``[audio] duplex = true``), baresip's
``alsa`` module on the same device at 8 kHz. Each side then hears the null sink's monitor (both
sides' speakers), so the audio is not an echo of the other's, but the CPU is a device call's.

Run: .venv/bin/python benchmarks/bench_media_cpu.py [--seconds 60] [--srtp] [--codec G722|OPUS]
[--audio pulse [--duplex]] [--rounds N]
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import datetime
import itertools
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from endpoint.audio import open_audio
from endpoint.media.dtls import DtlsIdentity, DtlsSrtp
from endpoint.media.stream import MediaStream, StreamConfig
from endpoint.runtime.call_media import protection_for
from endpoint.runtime.call_steps import CallMedia
from endpoint.runtime.media_loop import MediaLoop
from endpoint.runtime.rtp_transport import Address, RtpSockets, allocate
from endpoint.sip import Headers, Request, Response, parse, parse_uri
from endpoint.sip.dialog import Dialog
from endpoint.sip.headers import Via
from endpoint.sip.offer_answer import LocalMedia, SdpSession, make_offer, process_answer
from endpoint.sip.sdp import parse_sdp
from endpoint.sip.transaction import new_branch
from tests.interop.peers import Baresip

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


#: Our codec name -> baresip's ``audio_codecs`` entry.
BARESIP_CODECS = {"PCMU": "PCMU", "G722": "G722/16000/1", "OPUS": "opus/48000/2"}


def process_cpu(pid: int | str) -> float:
    """utime + stime of a process in seconds, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def thread_cpu(native_id: int | None) -> float:
    """CPU time of one of our threads (the media thread) in seconds, from its ``schedstat``:
    nanoseconds, where ``stat`` counts 10 ms clock ticks (0.05 % of a core over a 20 s call,
    the size of the differences SRTP's figures are about)."""
    on_cpu = Path(f"/proc/{os.getpid()}/task/{native_id}/schedstat").read_text().split()[0]
    return int(on_cpu) / 1e9


def own_cpu() -> float:
    t = os.times()
    return t.user + t.system


class TimedSockets(RtpSockets):
    """The call's sockets, noting when each RTP audio packet (of type ``audio_pt``) is handed to
    the kernel: the SRTP header stays readable, so plain and protected calls are timed alike."""

    sent_ns: list[int]
    audio_pt: int = 0

    def send(self, sock: socket.socket, data: bytes, destination: Address) -> bool:
        if sock is self.rtp:
            self._note(data)
        return super().send(sock, data, destination)

    def peer_send(self) -> Callable[[bytes], int]:
        """The fused tick's send (``RtpSockets.peer_send``, the hook for this), timed alike."""
        send = self.rtp.send

        def timed(data: bytes) -> int:
            self._note(data)
            return send(data)

        return timed

    def _note(self, data: bytes) -> None:
        if len(data) > 12 and data[0] >= 128 and data[1] & 0x7F == self.audio_pt:
            self.sent_ns.append(time.monotonic_ns())


class TimedLoop(MediaLoop):
    """The media thread, noting when each tick woke up (its first act is the call's send, in
    the fused tick and the generic one alike), so that the time from the wake-up to the
    ``sendto`` can be told apart from the wake-up's own lateness."""

    woke_ns: list[int]

    def _tick_all(self, now: float) -> bool:
        self.woke_ns.append(time.monotonic_ns())
        return super()._tick_all(now)


def percentile99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.99 * (len(ordered) - 1))]


def send_ticks(loop: TimedLoop, sent_ns: list[int]) -> list[tuple[int, float]]:
    """Each sent packet's tick (its index in ``loop.woke_ns``) and the ms from that tick's
    wake-up to the packet's ``sendto``."""
    ticks = []
    for sent in sent_ns:
        i = bisect.bisect_right(loop.woke_ns, sent) - 1
        if i >= 0:
            ticks.append((i, (sent - loop.woke_ns[i]) / 1e6))
    return ticks


def wake_to_send(loop: TimedLoop, sent_ns: list[int]) -> None:
    """Prints the wake-up lateness and the wake-up -> sendto time (p50 / p99 / max, ms)."""
    spans = sorted(span for _, span in send_ticks(loop, sent_ns))
    late = sorted(x * 1000 for x in loop.lateness or [0.0])
    if spans:
        print(
            f"media thread: wake-up lateness p50 {late[len(late) // 2]:.4f} p99 "
            f"{percentile99(late):.4f} ms; wake-up -> sendto p50 "
            f"{spans[len(spans) // 2]:.4f} p99 {percentile99(spans):.4f} "
            f"max {spans[-1]:.4f} ms"
        )


def pacing(sent_ns: list[int]) -> float:
    """p99 of |interval - 20 ms| between consecutive audio packets, in ms (NaN: too few)."""
    deviation = sorted(abs((b - a) / 1e6 - 20.0) for a, b in itertools.pairwise(sent_ns))
    if not deviation:
        return float("nan")
    p99 = deviation[int(0.99 * (len(deviation) - 1))]
    print(
        f"our send pacing: {len(sent_ns)} packets, |interval - 20 ms| p99 {p99:.4f} ms, "
        f"max {deviation[-1]:.4f} ms"
    )
    return p99


def wait_final(sock: socket.socket, method: str) -> Response:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        message = parse(sock.recv(65535))
        if (
            isinstance(message, Response)
            and message.cseq.method == method
            and message.status >= 200
        ):
            return message
    raise TimeoutError(f"no final response to {method}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--srtp", action="store_true", help="also run an SRTP call and compare")
    ap.add_argument(
        "--aec",
        action="store_true",
        help="also a call with our AEC+NS+AGC against baresip with speex_pp (its preprocessor)",
    )
    ap.add_argument(
        "--pp",
        action="store_true",
        help="also a call with the same processing on both sides: speex's preprocessor (noise "
        "suppression + automatic gain, libspeexdsp) in ours and baresip's speex_pp",
    )
    ap.add_argument(
        "--codec", choices=("PCMU", "G722", "OPUS"), default="PCMU", help="every call's codec"
    )
    ap.add_argument("--audio", choices=("tone", "pulse"), default="tone", help="see above")
    ap.add_argument("--duplex", action="store_true", help="--audio pulse: one duplex stream")
    ap.add_argument(
        "--rounds", type=int, default=1, help="repeat the set of calls; medians of the rounds"
    )
    args = ap.parse_args()
    codec = args.codec
    with contextlib.ExitStack() as stack:
        device = None
        if args.audio == "pulse":
            from bench_audio_duplex import start_pulse

            pulse_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-pulse-"))
            daemon = start_pulse(Path(pulse_dir))
            stack.callback(daemon.wait)
            stack.callback(daemon.terminate)
            device = Device("pulse", args.duplex)
        kinds: list[tuple[str, dict[str, Any]]] = [("plain", {"keying": None})]
        if args.aec:
            kinds.append(("aec", {"keying": None, "aec": True}))
        if args.pp:
            kinds.append(("speex pp", {"keying": None, "pp": True}))
        if args.srtp:
            kinds += [("sdes", {"keying": "sdes"}), ("dtls", {"keying": "dtls"})]
        rounds = [
            {name: one_call(args.seconds, codec=codec, device=device, **kw) for name, kw in kinds}
            for _ in range(args.rounds)
        ]
    summarise(rounds)


def summarise(rounds: list[dict[str, tuple[float, float, float, float]]]) -> None:
    """Each kind of call against the plain one of the same round (what SRTP or processing
    adds, with the machine's drift between rounds left out), as the median over the rounds
    and its range when there is more than one."""

    def figure(values: list[float], form: str) -> str:
        text = format(statistics.median(values), form)
        if len(values) > 1:
            text += f" [{format(min(values), form)} to {format(max(values), form)}]"
        return text

    plain = [r["plain"] for r in rounds]

    def added(values: list[float], i: int, form: str) -> str:
        return figure([v - p[i] for v, p in zip(values, plain, strict=True)], form)

    many = f"median over {len(rounds)} rounds [range], " if len(rounds) > 1 else ""
    print(f"\nsummary ({many}each round's calls one after the other):")
    for name in rounds[0]:
        ours, theirs, p99, thread = ([r[name][i] for r in rounds] for i in range(4))
        line = (
            f"  {name:5}: sip-endpoint {figure(ours, '.2f')} % (media thread "
            f"{figure(thread, '.3f')} %), baresip {figure(theirs, '.2f')} % of one core; "
            f"send pacing p99 {figure(p99, '.4f')} ms"
        )
        if name != "plain":
            line += (
                f"; adds sip-endpoint {added(ours, 0, '+.2f')} %, media thread "
                f"{added(thread, 3, '+.3f')} %, baresip {added(theirs, 1, '+.2f')} %"
            )
        print(line)


@dataclass(frozen=True)
class Device:
    """The ALSA device both ends use instead of tone and echo (``--audio pulse``)."""

    name: str
    duplex: bool


def one_call(
    seconds: float,
    *,
    keying: str | None,
    aec: bool = False,
    pp: bool = False,
    codec: str = "PCMU",
    device: Device | None = None,
) -> tuple[float, float, float, float]:
    """One call of ``seconds`` (plain RTP, or SRTP keyed by "sdes" or "dtls"); returns (our CPU
    %, baresip's CPU %, our send pacing p99 in ms, our media thread's CPU % from schedstat).
    With ``aec`` our call runs echo cancellation, noise suppression and gain, and baresip loads
    speex_pp (Debian's baresip has no echo canceller module: its speex preprocessor is the
    nearest). With ``pp`` both run the
    same processing: speex's preprocessor (noise suppression and automatic gain, libspeexdsp),
    ours through the ``speex`` engine, baresip's through speex_pp (issue 19: "the same audio
    processing on")."""
    rng = random.Random()
    work = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    mediaenc = {None: "", "sdes": "srtp-mand", "dtls": "dtls_srtp"}[keying]
    peer = Baresip(
        work / "baresip",
        user="echo",
        echo=device is None,
        alsa_device=device.name if device else None,
        mediaenc=mediaenc,
        modules=("speex_pp",) if aec or pp else (),
        record=False,  # its WAV recorder is no part of a call's cost
        codecs=BARESIP_CODECS[codec],
    ).start()
    identity = DtlsIdentity(datetime.datetime.now(datetime.UTC)) if keying == "dtls" else None
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip.bind(("127.0.0.1", 0))
    sip.settimeout(10)
    port = sip.getsockname()[1]
    plain_sockets = allocate("127.0.0.1", (20000, 60000), rng)
    sockets = TimedSockets(plain_sockets.rtp, plain_sockets.rtcp)
    sockets.sent_ns = []
    local = LocalMedia(
        "127.0.0.1",
        sockets.rtp_port,
        codecs=(codec,),
        rtcp_mux=False,
        encryption="off" if keying is None else "mandatory",
        keying=keying or "sdes",
        fingerprint=identity.fingerprint if identity else None,
    )
    offer = make_offer(local, SdpSession(rng, "127.0.0.1"))
    target = f"sip:echo@127.0.0.1:{peer.sip_port}"

    def via() -> Via:
        return Via("UDP", "127.0.0.1", port, (("branch", new_branch(rng)), ("rport", None)))

    invite = Request(
        "INVITE",
        parse_uri(target),
        Headers(
            [
                ("Via", str(via())),
                ("Max-Forwards", "70"),
                ("From", f"<sip:bench@127.0.0.1:{port}>;tag={rng.getrandbits(32):x}"),
                ("To", f"<{target}>"),
                ("Call-ID", f"{rng.getrandbits(64):x}@127.0.0.1"),
                ("CSeq", "1 INVITE"),
                ("Contact", f"<sip:bench@127.0.0.1:{port}>"),
                ("Content-Type", "application/sdp"),
            ]
        ),
        bytes(offer),
    )
    peer_addr = ("127.0.0.1", peer.sip_port)
    sip.sendto(bytes(invite), peer_addr)
    ok = wait_final(sip, "INVITE")
    if ok.status != 200:
        raise SystemExit(f"baresip answered {ok.status} {ok.reason}")
    dialog = Dialog.as_caller(invite, ok)
    sip.sendto(bytes(dialog.create_ack(1, via())), peer_addr)
    media = process_answer(offer, parse_sdp(ok.body), local)
    stream = MediaStream(
        StreamConfig(
            (media.remote_address, media.remote_port),
            (media.remote_address, media.remote_rtcp_port),
            payload_type=media.payload_type,
            codec=media.codec,
            telephone_event_pt=media.telephone_event_pt,
        ),
        rng,
        time.monotonic(),
        protection_for(media),
    )
    sockets.audio_pt = media.payload_type
    rate = stream.codec.audio_rate
    if device is None:
        audio = open_audio("tone", tone_hz=440, rate=rate, frame_samples=rate // 50)
    else:
        audio = open_audio(
            "alsa",
            capture_device=device.name,
            playback_device=device.name,
            rate=rate,
            frame_samples=rate // 50,
            duplex=device.duplex,
        )
    audio.start()
    if device is not None:
        from endpoint.audio.alsa import AlsaPort

        if not (isinstance(audio, AlsaPort) and audio.wait_running(20)):
            raise SystemExit(f"the {device.name} device did not open: {audio.status()}")
        time.sleep(3.0)  # the sound server's streams take a moment to flow
    loop = TimedLoop(record_lateness=True)
    loop.woke_ns = []
    loop.start()
    processor = None
    if aec:
        from endpoint.audio.processing import ProcessingSettings, VoiceProcessor

        processor = VoiceProcessor(ProcessingSettings(True, True, True), rate, rate // 50)
    elif pp:
        from endpoint.audio.processing import ProcessingSettings, VoiceProcessor

        settings = ProcessingSettings(noise_suppression=True, auto_gain=True, engine="speex")
        processor = VoiceProcessor(settings, rate, rate // 50)
    dtls = dtls_rtcp = None
    if media.dtls is not None and identity is not None:
        role = {"client": media.dtls.client, "remote_fingerprint": media.dtls.remote_fingerprint}
        dtls, dtls_rtcp = DtlsSrtp(identity, **role), DtlsSrtp(identity, **role)
    started = time.monotonic()
    loop.add_call(
        CallMedia(
            "bench", stream, sockets, audio, dtls=dtls, dtls_rtcp=dtls_rtcp, processor=processor
        )
    )
    if dtls is not None:
        while not dtls.done and dtls.failure is None and time.monotonic() - started < 10:
            time.sleep(0.005)
        if not dtls.done:
            raise SystemExit(f"no DTLS handshake with baresip: {dtls.failure}")
        print(f"DTLS handshake (RTP component): {1000 * (time.monotonic() - started):.0f} ms")
    time.sleep(1.0)  # let both jitter buffers settle before measuring
    sockets.sent_ns.clear()
    loop.woke_ns.clear()
    assert loop.lateness is not None
    loop.lateness.clear()
    assert peer.proc is not None
    media_id = next(t.native_id for t in threading.enumerate() if t.name == "media")
    ours0, theirs0, wall0 = own_cpu(), process_cpu(peer.proc.pid), time.monotonic()
    thread0 = thread_cpu(media_id)
    time.sleep(seconds)
    ours1, theirs1, wall1 = own_cpu(), process_cpu(peer.proc.pid), time.monotonic()
    thread1 = thread_cpu(media_id)
    stats = loop.remove_call("bench").result(5)
    loop.stop()
    audio.stop()
    sip.sendto(bytes(dialog.create_request("BYE", via())), peer_addr)
    bye = wait_final(sip, "BYE")
    peer.stop()
    wall = wall1 - wall0
    ours = 100 * (ours1 - ours0) / wall
    theirs = 100 * (theirs1 - theirs0) / wall
    kind = stats.encryption if stats is not None else "?"
    print(
        f"call: {media.codec} both ways, {kind}, {wall:.1f} s measured, 20 ms packets; "
        f"BYE -> {bye.status}"
        + (
            "; AEC+NS+AGC here, speex_pp in baresip"
            if aec
            else "; speex NS+AGC here, speex_pp in baresip"
            if pp
            else ""
        )
    )
    print(f"media thread: {loop.priority.detail if loop.priority else 'unknown'}")
    if stats is not None:
        print(f"our stream: {stats.summary()}")
    print(f"sip-endpoint process: {ours:.2f} % of one core")
    thread_share = 100 * (thread1 - thread0) / wall
    print(
        f"  of which media thread: {thread_share:.3f} % (schedstat), "
        f"{1e6 * (thread1 - thread0) / max(len(loop.woke_ns), 1):.1f} us a tick"
    )
    mode = "echo" if device is None else f"alsa,{device.name}"
    print(f"baresip 1.0 ({mode}):   {theirs:.2f} % of one core")
    if theirs > 0:
        print(f"ratio ours / baresip: {ours / theirs:.2f}")
    wake_to_send(loop, sockets.sent_ns)
    return ours, theirs, pacing(sockets.sent_ns), thread_share


if __name__ == "__main__":
    main()
