"""PJSIP (PJSUA2) as an interop peer, run as its own process by an interpreter that has the
``pjsua2`` module (the ``pjsua2-python`` wheels exist for CPython 3.11 only, so the tests, which
may run under 3.13, start this script with the peer venv's Python; see ``Pjsua`` in
``tests/interop/pjsua.py``).

Standard library and ``pjsua2`` only. One command per line on stdin, one JSON object per line on
stdout (replies carry the command's ``id``; everything else is an event); PJSIP's own log goes
to stderr. The null sound device keeps the conference bridge's clock; every call plays a tone
WAV into the call and records what it receives into ``<workdir>/rec-<n>.wav``.

Commands (``{"id": 1, "cmd": "call", "uri": "sip:door@127.0.0.1:5062"}``):
  register | call URI | answer [CALL] [code] | hangup [CALL] [code]
  | dtmf DIGITS [method rfc4733|info] | hold | unhold | reinvite | update | transfer URI
  | transfer_replaces [CALL] DEST (attended: REFER in CALL with Replaces naming call DEST)
  | autoanswer BOOL | stats [CALL] | quit
Events: ready, reg, incoming, transfer-request, replaced, state, media, dtmf, recorded, stream,
transfer.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import select
import struct
import sys
import wave
from typing import Any

import pjsua2 as pj  # type: ignore[import-not-found]

STATE_NAMES = {
    pj.PJSIP_INV_STATE_NULL: "NULL",
    pj.PJSIP_INV_STATE_CALLING: "CALLING",
    pj.PJSIP_INV_STATE_INCOMING: "INCOMING",
    pj.PJSIP_INV_STATE_EARLY: "EARLY",
    pj.PJSIP_INV_STATE_CONNECTING: "CONNECTING",
    pj.PJSIP_INV_STATE_CONFIRMED: "CONFIRMED",
    pj.PJSIP_INV_STATE_DISCONNECTED: "DISCONNECTED",
}
MEDIA_NAMES = {
    pj.PJSUA_CALL_MEDIA_NONE: "none",
    pj.PJSUA_CALL_MEDIA_ACTIVE: "active",
    pj.PJSUA_CALL_MEDIA_LOCAL_HOLD: "local_hold",
    pj.PJSUA_CALL_MEDIA_REMOTE_HOLD: "remote_hold",
    pj.PJSUA_CALL_MEDIA_ERROR: "error",
}
METHODS = {pj.PJSUA_DTMF_METHOD_RFC2833: "rfc4733", pj.PJSUA_DTMF_METHOD_SIP_INFO: "info"}


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def write_tone(path: str, hz: float, seconds: float = 4.0) -> None:
    """A mono 8 kHz tone for the player to loop (whole periods: the loop is seamless)."""
    n = int(8000 * seconds)
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * hz * i / 8000))) for i in range(n)
    )
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(frames)


class Peer:
    """The user agent: one account, any number of calls, the last one is "the" call."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.calls: dict[int, PeerCall] = {}
        #: Calls made by following a REFER, until PJSUA2 has given them an id.
        self.transferred: list[PeerCall] = []
        self.current: int | None = None
        self.autoanswer = args.autoanswer
        self.recordings = 0
        self.tone = os.path.join(args.workdir, "tone.wav")
        write_tone(self.tone, args.tone_hz)
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = "pjsua2-interop"
        cfg.logConfig.level = 5
        cfg.logConfig.consoleLevel = 5
        cfg.logConfig.msgLogging = 1
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.noVad = True
        cfg.medConfig.ecTailLen = 0
        self.ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = args.sip_port
        tcfg.boundAddress = "127.0.0.1"
        tcfg.publicAddress = "127.0.0.1"
        self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()
        for codec in self.ep.codecEnum2():
            keep = codec.codecId.startswith("PCMU/")
            self.ep.codecSetPriority(codec.codecId, 255 if keep else 0)
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{args.user}@{args.domain}"
        if args.registrar:
            acfg.regConfig.registrarUri = f"sip:{args.registrar}"
            acfg.regConfig.registerOnAdd = True
            acfg.regConfig.timeoutSec = 600
            acfg.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", "*", args.user, 0, args.password)
            )
        else:
            acfg.regConfig.registerOnAdd = False
        acfg.sipConfig.contactForced = f"<sip:{args.user}@127.0.0.1:{args.sip_port}>"
        acfg.natConfig.iceEnabled = False
        acfg.natConfig.sdpNatRewriteUse = 0
        acfg.natConfig.contactRewriteUse = 0
        acfg.natConfig.viaRewriteUse = 0
        acfg.mediaConfig.transportConfig.port = args.rtp_port
        acfg.mediaConfig.transportConfig.portRange = 40
        acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
        acfg.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
        acfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_OPTIONAL
        acfg.callConfig.timerSessExpiresSec = args.session_expires
        acfg.callConfig.timerMinSESec = 90
        if args.require_100rel:  # RFC 3262: Require: 100rel on INVITEs, reliable 18x as UAS
            acfg.callConfig.prackUse = pj.PJSUA_100REL_MANDATORY
        self.account = PeerAccount(self)
        self.account.create(acfg)

    # -- commands ---------------------------------------------------------------------------
    def call_of(self, cmd: dict[str, Any]) -> PeerCall:
        cid = cmd.get("call", self.current)
        if cid is None or cid not in self.calls:
            raise LookupError("no such call")
        return self.calls[cid]

    def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        name = cmd.get("cmd")
        if name == "register":
            self.account.setRegistration(True)
            return {}
        if name == "autoanswer":
            self.autoanswer = bool(cmd["value"])
            return {}
        if name == "call":
            call = PeerCall(self, self.account)
            prm = pj.CallOpParam(True)
            call.makeCall(str(cmd["uri"]), prm)
            self.adopt(call)
            return {"call": call.getId()}
        if name == "quit":
            raise SystemExit(0)
        call = self.call_of(cmd)
        prm = pj.CallOpParam(True)
        if name == "answer":
            prm.statusCode = int(cmd.get("code", 200))  # 183: early media (reliable with 100rel)
            call.answer(prm)
        elif name == "hangup":
            prm.statusCode = int(cmd.get("code", 0))
            call.hangup(prm)
        elif name == "dtmf":
            dprm = pj.CallSendDtmfParam()
            dprm.digits = str(cmd["digits"])
            method = cmd.get("method", "rfc4733")
            dprm.method = (
                pj.PJSUA_DTMF_METHOD_SIP_INFO if method == "info" else pj.PJSUA_DTMF_METHOD_RFC2833
            )
            dprm.duration = 160
            call.sendDtmf(dprm)
        elif name == "hold":
            call.setHold(prm)
        elif name == "unhold":
            prm.opt.flag = pj.PJSUA_CALL_UNHOLD
            call.reinvite(prm)
        elif name == "reinvite":
            call.reinvite(prm)
        elif name == "update":
            call.update(prm)
        elif name == "transfer":
            call.xfer(str(cmd["uri"]), prm)
        elif name == "transfer_replaces":
            call.xferReplaces(self.calls[int(cmd["dest"])], prm)
        elif name == "stats":
            return call.stats()
        else:
            raise ValueError(f"unknown command {name!r}")
        return {"call": call.getId()}

    def adopt(self, call: PeerCall) -> None:
        cid = call.getId()
        self.calls[cid] = call
        self.current = cid

    def run(self) -> None:
        emit({"event": "ready", "sip_port": self.args.sip_port})
        buf = b""
        fd = sys.stdin.fileno()
        while True:
            self.ep.libHandleEvents(10)
            readable, _, _ = select.select([fd], [], [], 0)
            if not readable:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return  # the test closed our stdin: it is gone
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    self.command_line(line)

    def command_line(self, line: bytes) -> None:
        cmd: dict[str, Any] = {}
        try:
            cmd = json.loads(line)
            reply = {"id": cmd.get("id"), "ok": True, **self.handle(cmd)}
        except SystemExit:
            raise
        except Exception as exc:
            reply = {"id": cmd.get("id"), "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        emit(reply)


class PeerAccount(pj.Account):  # type: ignore[misc]
    def __init__(self, peer: Peer) -> None:
        super().__init__()
        self.peer = peer

    def onRegState(self, prm: Any) -> None:
        emit({"event": "reg", "code": prm.code, "expiration": prm.expiration})

    def onIncomingCall(self, prm: Any) -> None:
        call = PeerCall(self.peer, self, prm.callId)
        self.peer.adopt(call)
        info = call.getInfo()
        emit({"event": "incoming", "call": prm.callId, "from": info.remoteUri})
        op = pj.CallOpParam(True)
        op.statusCode = 200 if self.peer.autoanswer else 180
        call.answer(op)


class PeerCall(pj.Call):  # type: ignore[misc]
    def __init__(self, peer: Peer, account: PeerAccount, call_id: int = -1) -> None:
        if call_id == -1:
            super().__init__(account)
        else:
            super().__init__(account, call_id)
        self.peer = peer
        self.player: Any = None
        self.recorder: Any = None
        self.rec_path = ""
        self.last_stats: dict[str, Any] = {}

    def stats(self) -> dict[str, Any]:
        try:
            st = self.getStreamStat(0)
        except Exception:
            return self.last_stats
        self.last_stats = {
            "rx_packets": st.rtcp.rxStat.pkt,
            "tx_packets": st.rtcp.txStat.pkt,
            "rx_lost": st.rtcp.rxStat.loss,
        }
        return self.last_stats

    def onCallState(self, prm: Any) -> None:
        info = self.getInfo()
        if self in self.peer.transferred and info.id not in self.peer.calls:
            self.peer.transferred.remove(self)
            self.peer.adopt(self)
        emit(
            {
                "event": "state",
                "call": info.id,
                "state": STATE_NAMES.get(info.state, str(info.state)),
                "code": info.lastStatusCode,
                "reason": info.lastReason,
                "call_id": info.callIdString,
            }
        )
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.close_media(info.id)

    def close_media(self, cid: int) -> None:
        if self.recorder is not None:
            self.recorder = None  # destroying the recorder writes the WAV header's sizes
            self.player = None
            emit({"event": "recorded", "call": cid, "path": self.rec_path, **self.last_stats})
        self.peer.calls.pop(cid, None)

    def onStreamDestroyed(self, prm: Any) -> None:
        self.stats()
        emit({"event": "stream", "call": self.getId(), **self.last_stats})

    def onCallMediaState(self, prm: Any) -> None:
        info = self.getInfo()
        for i, media in enumerate(info.media):
            if media.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            status = MEDIA_NAMES.get(media.status, str(media.status))
            emit({"event": "media", "call": info.id, "status": status})
            if media.status not in (pj.PJSUA_CALL_MEDIA_ACTIVE, pj.PJSUA_CALL_MEDIA_REMOTE_HOLD):
                continue
            audio = self.getAudioMedia(i)
            if self.player is None:
                self.player = pj.AudioMediaPlayer()
                self.player.createPlayer(self.peer.tone)
                self.peer.recordings += 1
                self.rec_path = os.path.join(
                    self.peer.args.workdir, f"rec-{self.peer.recordings}.wav"
                )
                self.recorder = pj.AudioMediaRecorder()
                self.recorder.createRecorder(self.rec_path)
            self.player.startTransmit(audio)
            audio.startTransmit(self.recorder)

    def onDtmfDigit(self, prm: Any) -> None:
        method = METHODS.get(prm.method, str(prm.method))
        emit({"event": "dtmf", "call": self.getId(), "digit": prm.digit, "method": method})

    def onCallTransferRequest(self, prm: Any) -> None:
        """We follow a REFER: the new call gets a Python object PJSUA2 calls back into (a
        call without one crashes the process when it ends); adopted once it has an id."""
        call = PeerCall(self.peer, self.peer.account)
        prm.newCall = call
        self.peer.transferred.append(call)
        emit({"event": "transfer-request", "call": self.getId(), "to": prm.dstUri})

    def onCallReplaced(self, prm: Any) -> None:
        """An INVITE with Replaces (RFC 3891) took this call over: adopt the new call."""
        call = PeerCall(self.peer, self.peer.account, prm.newCallId)
        prm.newCall = call
        self.peer.adopt(call)
        emit({"event": "replaced", "call": self.getId(), "new": prm.newCallId})

    def onCallTransferStatus(self, prm: Any) -> None:
        emit({"event": "transfer", "call": self.getId(), "code": prm.statusCode})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--sip-port", type=int, required=True)
    parser.add_argument("--rtp-port", type=int, required=True)
    parser.add_argument("--user", default="alice")
    parser.add_argument("--password", default="")
    parser.add_argument("--registrar", default="", help="host:port; empty: peer-to-peer")
    parser.add_argument("--tone-hz", type=float, default=1000.0)
    parser.add_argument("--session-expires", type=int, default=1800)
    parser.add_argument("--no-autoanswer", dest="autoanswer", action="store_false")
    parser.add_argument("--100rel", dest="require_100rel", action="store_true")
    args = parser.parse_args()
    args.domain = args.registrar or f"127.0.0.1:{args.sip_port}"
    peer = Peer(args)
    try:
        peer.run()
    except SystemExit:
        pass
    finally:
        peer.ep.hangupAllCalls()
        for _ in range(50):
            peer.ep.libHandleEvents(10)
        peer.account.shutdown()
        peer.ep.libDestroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
