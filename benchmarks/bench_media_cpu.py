"""CPU per call: our media engine against baresip, in the same call, over the same seconds.

The benchmark calls a real baresip 1.0 (peer-to-peer, auto-answer, echo mode: it decodes what it
receives, runs its jitter buffer, and encodes it back, so both ends do codec + jitter buffer in
both directions) using the endpoint's own SIP core for INVITE/ACK/BYE and its media thread for
PCMU both ways. It then reports the CPU time each process used during the media phase, as a
percentage of one core, and the ratio. Goal: no more CPU than baresip.

``--srtp`` runs a second call right after the first, both ends on SRTP with SDES keys
(baresip ``mediaenc=srtp-mand``, our offer RTP/SAVP), and prints what SRTP added to each.
The bench's own SIP goes over UDP on loopback: the device only sends keys over TLS.

Run: .venv/bin/python benchmarks/bench_media_cpu.py [--seconds 60] [--srtp]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from endpoint.audio import open_audio
from endpoint.media.stream import MediaStream, StreamConfig
from endpoint.runtime.engine import protection_for
from endpoint.runtime.media_loop import CallMedia, MediaLoop
from endpoint.runtime.rtp_transport import allocate
from endpoint.sip import Headers, Request, Response, parse, parse_uri
from endpoint.sip.dialog import Dialog
from endpoint.sip.headers import Via
from endpoint.sip.offer_answer import LocalMedia, SdpSession, make_offer, process_answer
from endpoint.sip.sdp import parse_sdp
from endpoint.sip.transaction import new_branch
from tests.interop.peers import Baresip

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """utime + stime of a process in seconds, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def own_cpu() -> float:
    t = os.times()
    return t.user + t.system


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
    args = ap.parse_args()
    plain = one_call(args.seconds, srtp=False)
    if args.aec:
        processed = one_call(args.seconds, srtp=False, aec=True)
        print(
            f"hands-free processing adds: sip-endpoint {processed[0] - plain[0]:+.2f} %, "
            f"baresip speex_pp {processed[1] - plain[1]:+.2f} % of one core"
        )
    if args.srtp:
        secure = one_call(args.seconds, srtp=True)
        print(
            f"SRTP adds: sip-endpoint {secure[0] - plain[0]:+.2f} %, "
            f"baresip {secure[1] - plain[1]:+.2f} % of one core"
        )


def one_call(seconds: float, *, srtp: bool, aec: bool = False) -> tuple[float, float]:
    """One call of ``seconds``; returns (our CPU %, baresip's CPU %). With ``aec`` our call
    runs echo cancellation, noise suppression and gain, and baresip loads speex_pp (Debian's
    baresip has no echo canceller module: its speex preprocessor is the nearest)."""
    rng = random.Random()
    work = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    peer = Baresip(
        work / "baresip",
        user="echo",
        echo=True,
        mediaenc="srtp-mand" if srtp else "",
        modules=("speex_pp",) if aec else (),
    ).start()
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip.bind(("127.0.0.1", 0))
    sip.settimeout(10)
    port = sip.getsockname()[1]
    sockets = allocate("127.0.0.1", (20000, 60000), rng)
    local = LocalMedia(
        "127.0.0.1",
        sockets.rtp_port,
        codecs=("PCMU",),
        rtcp_mux=False,
        encryption="mandatory" if srtp else "off",
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
            telephone_event_pt=media.telephone_event_pt,
        ),
        rng,
        time.monotonic(),
        protection_for(media),
    )
    audio = open_audio("tone", tone_hz=440)
    audio.start()
    loop = MediaLoop()
    loop.start()
    processor = None
    if aec:
        from endpoint.audio.processing import ProcessingSettings, VoiceProcessor

        processor = VoiceProcessor(ProcessingSettings(True, True, True))
    loop.add_call(CallMedia("bench", stream, sockets, audio, processor=processor))
    time.sleep(1.0)  # let both jitter buffers settle before measuring
    assert peer.proc is not None
    ours0, theirs0, wall0 = own_cpu(), process_cpu(peer.proc.pid), time.monotonic()
    time.sleep(seconds)
    ours1, theirs1, wall1 = own_cpu(), process_cpu(peer.proc.pid), time.monotonic()
    stats = loop.remove_call("bench").result(5)
    loop.stop()
    sip.sendto(bytes(dialog.create_request("BYE", via())), peer_addr)
    bye = wait_final(sip, "BYE")
    peer.stop()
    wall = wall1 - wall0
    ours = 100 * (ours1 - ours0) / wall
    theirs = 100 * (theirs1 - theirs0) / wall
    kind = f"SRTP {media.srtp.suite}" if media.srtp else "plain RTP"
    print(
        f"call: PCMU both ways, {kind}, {wall:.1f} s measured, 20 ms packets; BYE -> {bye.status}"
        + ("; AEC+NS+AGC here, speex_pp in baresip" if aec else "")
    )
    print(f"media thread: {loop.priority.detail if loop.priority else 'unknown'}")
    if stats is not None:
        print(f"our stream: {stats.summary()}")
    print(f"sip-endpoint process: {ours:.2f} % of one core")
    print(f"baresip 1.0 (echo):   {theirs:.2f} % of one core")
    if theirs > 0:
        print(f"ratio ours / baresip: {ours / theirs:.2f}")
    return ours, theirs


if __name__ == "__main__":
    main()
