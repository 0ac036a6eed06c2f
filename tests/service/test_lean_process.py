"""Issue 19: heavy libraries stay out of a process that does not use them.

dnspython is for configured names that need DNS records, pyOpenSSL and cryptography for
``keying = "dtls"``, pylibsrtp for encrypted calls, PyAudio for the alsa backend, paho for
``[mqtt]``, soxr for audio at another rate than 8 kHz, libopus (ctypes) for a call that
negotiated Opus, even with "opus" configured, numpy for audio analysis only (the frames of a
call are bytes through audioop). The first tests look at ``sys.modules``
of a fresh interpreter; the others at the shared libraries mapped into the real
``sip-endpoint run`` while it answers a PCMU call from SIPp or registers with Kamailio's digest
challenge (``/proc/PID/maps``: what is mapped is what costs memory). A configuration without
TLS has no OpenSSL at all: no ``ssl``, no ``hashlib`` (digest's MD5 and SHA-256 are CPython's
own), no libssl or libcrypto.

The call path (offer/answer and SDP, the calls and their sessions, transfers, the media
engine, the audio adapters, the media thread) is loaded by the first call, not at start: an
idle box has neither those modules nor a media thread, and after its first call it has both
and the call's audio flows (issue 19).

Every module is also time at start (issue 19: start -> ready < 300 ms): the building services
load with the setting that turns them on (SQLite with a StateDirectory, the HTTP server with
``[http] listen``, webhooks, MQTT), each subcommand's code with its subcommand, and ``ctl``
loads neither the configuration reader nor the engine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fresh import ROOT, run_python
from tests.interop.peers import Kamailio, Sipp, free_port, sip_options_ping
from tests.security.attacker import door_config
from tests.service.harness import NotifySocket, Service

OPTIONAL = {"dns", "OpenSSL", "cryptography", "pylibsrtp", "pyaudio", "soxr", "paho", "numpy"}
#: Native parts of the optional libraries, as their paths appear in /proc/PID/maps.
NATIVE = (
    "/cryptography/",
    "/pylibsrtp/",
    "_portaudio",
    "/OpenSSL/",
    "/soxr/",
    "/numpy/",
    "_sqlite3",
    "libopus",
)
#: Standard-library packages only some configurations use: SQLite keeps the history (under a
#: StateDirectory), ``http`` serves ``[http] listen``, ``difflib`` hints at a misspelt config
#: name.
ON_DEMAND_STDLIB = {"sqlite3", "http", "difflib"}
#: Our modules that a configuration or a subcommand loads when it needs them, not at start.
ON_DEMAND = {
    "endpoint.integration.history",
    "endpoint.integration.http_api",
    "endpoint.integration.webhooks",
    "endpoint.integration.mqtt",
    "endpoint.service.doctor",
    "endpoint.service.install",
    "endpoint.service.probe",
    "endpoint.demo",
    "endpoint.runtime.relay_off",
    "endpoint.runtime.dns_records",
    "endpoint.hardware.gpio",
    "endpoint.hardware.serial_board",
    "endpoint.hardware.simulated",
    "endpoint.media.dtls",
    "endpoint.media.srtp",
    # The UA's features that only a particular request loads: REFER and Replaces, reliable
    # provisionals (PRACK), an UPDATE in the early dialog, a PBX's auto-answer header, a
    # challenge to an in-dialog request.
    "endpoint.sip.refer",
    "endpoint.ua.reliable",
    "endpoint.ua.early_update",
    "endpoint.ua.pbx_answer",
    "endpoint.ua.dialog_auth",
    # What a SIGHUP reload plans.
    "endpoint.config.reload",
    # Our outgoing MESSAGEs (ctl message).
    "endpoint.ua.messages",
    # TLS contexts and handshake failures: only a configuration that needs TLS (issue 19).
    "endpoint.tls",
}
#: Shared libraries and modules of OpenSSL, which only a configuration with TLS loads.
OPENSSL_LIBS = ("libssl", "libcrypto")
OPENSSL_MODULES = {"ssl", "_ssl", "hashlib", "_hashlib", "hmac", "secrets"}
#: The call path: loaded by the first call (an INVITE, ``ctl call``), never before READY.
CALL_PATH = {
    *(
        f"endpoint.media.{name}"
        for name in [
            "stream",
            "rtp",
            "rtcp",
            "codecs",
            "dtmf",
            "jitterbuffer",
            "plc",
            "quality",
            "inband_dtmf",
            "dtmf_tones",
            "g711",
            "dtls_gate",
        ]
    ),
    *(
        f"endpoint.audio.{name}"
        for name in ["port", "null", "factory", "processing", "tone", "ring"]
    ),
    "endpoint.runtime.media_loop",
    "endpoint.runtime.call_steps",
    "endpoint.runtime.rtp_transport",
    "endpoint.runtime.call_media",
    "endpoint.sip.offer_answer",
    "endpoint.sip.sdp",
    "endpoint.sip.sdes",
    *(
        f"endpoint.ua.{name}"
        for name in [
            "call_path",
            "session",
            "calls",
            "outgoing",
            "attended",
            "transfer",
            "session_timer",
        ]
    ),
}
#: A fresh interpreter that starts the real Engine and, at each line on stdin (after the test's
#: OPTIONS, after its call), answers ``ctl status`` and says what it has loaded and which
#: threads run.
ENGINE_SNAPSHOTS = """
import asyncio, json, logging, sys, threading
from pathlib import Path
from endpoint.config import load_config
from endpoint.runtime.engine import Engine

def snapshot(engine):
    threads = sorted(t.name for t in threading.enumerate())
    return {"modules": sorted(sys.modules), "threads": threads, "media": engine.media is not None}

async def main(path):
    engine = Engine(load_config(path), config_path=path)
    await engine.start()
    try:
        for _ in range(2):
            await asyncio.to_thread(sys.stdin.readline)
            assert (await engine.command({"cmd": "status"}))["ok"]
            print(json.dumps(snapshot(engine)), flush=True)
    finally:
        await engine.close()

logging.basicConfig(level=logging.INFO, stream=sys.stderr)
asyncio.run(main(Path(sys.argv[1])))
"""
#: What ``ctl`` (a client of the control socket) has no use for.
NOT_FOR_CTL = {"asyncio", "tomllib", "sqlite3", "ssl", "numpy"}
NOT_FOR_CTL_ENDPOINT = {"endpoint.config", "endpoint.sip", "endpoint.ua", "endpoint.runtime"}


def all_modules_after(code: str) -> set[str]:
    """Every module name loaded by a fresh interpreter after running ``code``."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    return set(json.loads(run_python(script).splitlines()[-1]))


def modules_after(code: str) -> set[str]:
    """Top-level module names loaded by a fresh interpreter after running ``code``."""
    return {name.split(".")[0] for name in all_modules_after(code)}


def test_the_engine_and_cli_import_no_optional_library() -> None:
    loaded = all_modules_after("import endpoint.cli, endpoint.runtime.engine")
    top = {name.split(".")[0] for name in loaded}
    assert "endpoint.runtime.engine" in loaded
    assert not top & OPTIONAL, top & OPTIONAL
    assert not top & ON_DEMAND_STDLIB, top & ON_DEMAND_STDLIB
    assert not loaded & ON_DEMAND, loaded & ON_DEMAND
    assert not loaded & CALL_PATH, loaded & CALL_PATH


def test_the_call_path_and_the_media_thread_come_with_the_first_call(tmp_path: Path) -> None:
    port = free_port(both=True)
    config = tmp_path / "door.toml"
    door_config(config, port)
    log = tmp_path / "engine.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", ENGINE_SNAPSHOTS, str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
        )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        answer = sip_options_ping(port, timeout=10)  # an idle box answers, loads no call
        assert answer.startswith("SIP/2.0 200 OK"), answer
        proc.stdin.write("\n")
        proc.stdin.flush()
        idle = json.loads(proc.stdout.readline())
        sipp = Sipp(
            tmp_path / "sipp",
            "uac_pcmu.xml",
            ["-s", "door", "-key", "from_user", "lean", "-d", "2000", f"127.0.0.1:{port}"],
        ).start()
        assert sipp.wait(timeout=30) == 0, sipp.report()
        deadline = time.monotonic() + 10
        while "call-report" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        proc.stdin.write("\n")
        proc.stdin.flush()
        after = json.loads(proc.stdout.readline())
    finally:
        proc.stdin.close()
        code = proc.wait(timeout=15)
        proc.stdout.close()
    assert code == 0, log.read_text()
    assert not set(idle["modules"]) & CALL_PATH, set(idle["modules"]) & CALL_PATH
    assert not idle["media"] and "media" not in idle["threads"], idle["threads"]
    assert set(after["modules"]) >= CALL_PATH, CALL_PATH - set(after["modules"])
    assert after["media"] and "media" in after["threads"], after["threads"]
    report = log.read_text().split("call-report", 1)[1].splitlines()[0]
    assert re.search(r"PCMU sent [1-9]\d* recv [1-9]", report), report


def test_ctl_loads_neither_the_config_reader_nor_the_engine(tmp_path: Path) -> None:
    loaded = all_modules_after(
        "from endpoint.cli import main\n"
        f"assert main(['ctl', '--socket', '{tmp_path / 'none.sock'}', 'status']) == 1"
    )
    assert "endpoint.control_client" in loaded
    top = {name.split(".")[0] for name in loaded}
    assert not top & NOT_FOR_CTL, top & NOT_FOR_CTL
    assert not loaded & NOT_FOR_CTL_ENDPOINT, loaded & NOT_FOR_CTL_ENDPOINT


def test_ip_literals_and_names_with_a_port_are_resolved_without_dnspython() -> None:
    loaded = modules_after(
        "import asyncio\n"
        "from endpoint.runtime.resolver import Lookup, Resolver\n"
        "r = Resolver(timeout=2.0)\n"
        "a = asyncio.run(r.target(Lookup('127.0.0.1', False, 'udp')))\n"
        "b = asyncio.run(r.target(Lookup('localhost', True, 'udp')))\n"
        "assert a is not None and a.address == '127.0.0.1', a\n"
        "assert b is not None, b"
    )
    assert "dns" not in loaded


def test_a_name_that_needs_srv_records_loads_dnspython() -> None:
    # A DNS server that is not there: the lookup fails fast, but it had to load dnspython.
    port = free_port()
    loaded = modules_after(
        "import asyncio\n"
        "from endpoint.config import HostPort\n"
        "from endpoint.runtime.resolver import Lookup, Resolver\n"
        f"r = Resolver(timeout=0.3, servers=(HostPort('127.0.0.1', {port}),))\n"
        "asyncio.run(r.target(Lookup('pbx.example.com', False, 'udp')))"
    )
    assert "dns" in loaded


@pytest.mark.parametrize("backend", ["null", "tone"])
def test_a_plain_pcmu_call_maps_no_optional_native_library(tmp_path: Path, backend: str) -> None:
    port = free_port(both=True)
    config = tmp_path / "door.toml"
    # Opus allowed, but SIPp offers PCMU only: libopus must stay unmapped.
    door_config(config, port, backend=backend, extra='[media]\ncodecs = ["opus", "PCMU"]\n')
    notify = NotifySocket(tmp_path / "notify")
    service = Service(config, notify)
    try:
        notify.wait_for(lambda d: d.get("READY") == "1", timeout=20)
        sipp = Sipp(
            tmp_path / "sipp",
            "uac_pcmu.xml",
            ["-s", "door", "-key", "from_user", "lean", "-d", "3000", f"127.0.0.1:{port}"],
        ).start()
        time.sleep(2)  # answered, media flowing both ways
        maps = Path(f"/proc/{service.proc.pid}/maps").read_text()
        assert sipp.wait(timeout=30) == 0, sipp.report()
        service.wait_log("call-report", timeout=10)
        report = service.log.split("call-report", 1)[1].splitlines()[0]
    finally:
        service.stop()
        notify.close()
    assert re.search(r"PCMU sent [1-9]\d* recv [1-9]", report), report
    assert "libpython" in maps or "python3" in maps
    assert not [part for part in NATIVE if part in maps]
    assert not [lib for lib in OPENSSL_LIBS if lib in maps]


#: ``sip-endpoint run`` in a thread-watched interpreter: when the test creates ``TRIGGER``, the
#: process writes its module names and its /proc maps, so the test sees inside the real thing.
RUN_AND_REPORT = """
import json, sys, threading, time
from pathlib import Path
from endpoint.cli import main
trigger, out = Path(sys.argv[2]), Path(sys.argv[3])
def report():
    while not trigger.exists():
        time.sleep(0.05)
    maps = Path("/proc/self/maps").read_text()
    out.write_text(json.dumps({"modules": sorted(sys.modules), "maps": maps}))
threading.Thread(target=report, daemon=True).start()
sys.exit(main(["run", "--config", sys.argv[1]]))
"""


def registered_process_report(tmp_path: Path, kamailio: Kamailio, sip: str) -> dict[str, Any]:
    """The modules and maps of a real ``run`` registered at Kamailio (a digest challenge)."""
    config = tmp_path / "door.toml"
    door_config(config, free_port(both=True), registrar=f"sip:127.0.0.1:{kamailio.port}", sip=sip)
    notify = NotifySocket(tmp_path / "notify")
    trigger, out = tmp_path / "trigger", tmp_path / "report.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": str(notify.path)}
    with (tmp_path / "door.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN_AND_REPORT, str(config), str(trigger), str(out)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        notify.wait_for(lambda d: d.get("STATUS", "").startswith("registered"), timeout=20)
        assert kamailio.registrations("door")
        trigger.touch()
        deadline = time.monotonic() + 10
        while not out.exists() or not out.read_text().endswith("}"):
            assert time.monotonic() < deadline and proc.poll() is None, "no report"
            time.sleep(0.05)
        report: dict[str, Any] = json.loads(out.read_text())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        notify.close()
    return report


@pytest.mark.interop
def test_a_run_without_tls_loads_no_openssl(tmp_path: Path, kamailio: Kamailio) -> None:
    """Issue 19: ssl, hashlib and their 4.6 MB of libssl/libcrypto stay out of a UDP door."""
    report = registered_process_report(tmp_path, kamailio, sip="")
    loaded = set(report["modules"])
    assert "endpoint.runtime.engine" in loaded and "endpoint.sip.digest" in loaded
    assert not loaded & OPENSSL_MODULES, loaded & OPENSSL_MODULES
    assert not [lib for lib in OPENSSL_LIBS if lib in report["maps"]]


@pytest.mark.interop
def test_plain_http_and_webhooks_load_no_openssl(tmp_path: Path, kamailio: Kamailio) -> None:
    """The HTTP API on http and an http webhook keep the door free of OpenSSL: the API's token
    is compared without hmac (which maps libcrypto), and ``ssl`` is imported only for HTTPS."""
    (tmp_path / "http-token").write_text("0123456789abcdef0123456789abcdef\n")
    services = (
        f'[http]\nlisten = "127.0.0.1:{free_port(both=True)}"\n'
        f'token_file = "{tmp_path / "http-token"}"\n'
        'webhooks = ["http://127.0.0.1:9/door"]\n'
    )
    report = registered_process_report(tmp_path, kamailio, sip=services)
    loaded = set(report["modules"])
    wanted = {"endpoint.integration.http_api", "endpoint.integration.webhooks"}
    assert wanted <= loaded, wanted - loaded
    assert not loaded & OPENSSL_MODULES, loaded & OPENSSL_MODULES
    assert not [lib for lib in OPENSSL_LIBS if lib in report["maps"]]


@pytest.mark.interop
def test_an_mqtt_broker_does_not_load_dnspython(tmp_path: Path, kamailio: Kamailio) -> None:
    """paho imports dnspython when it finds it, for SRV lookups the bridge never makes: the
    bridge's door does without it (3.6 MB). (paho needs ssl even for ``mqtt://``: its reads
    name ``ssl.SSLWantReadError`` whatever the transport. No broker listens here: paho
    retries in its thread; what is loaded is what is measured.)"""
    services = f'[mqtt]\nbroker = "mqtt://127.0.0.1:{free_port(both=True)}"\n'
    report = registered_process_report(tmp_path, kamailio, sip=services)
    loaded = set(report["modules"])
    assert {"endpoint.integration.mqtt", "paho.mqtt.client"} <= loaded
    assert not [m for m in loaded if m == "dns" or m.startswith("dns.")]


@pytest.mark.interop
def test_a_run_with_a_tls_file_keeps_asyncio_tls(tmp_path: Path, kamailio: Kamailio) -> None:
    """The same door with a [tls] ca_file (it could serve https, reach an mqtts broker):
    asyncio has ssl, and OpenSSL is mapped. This is what makes the test above able to fail."""
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    report = registered_process_report(tmp_path, kamailio, sip=f'[tls]\nca_file = "{ca}"\n')
    assert {"ssl", "_ssl"} <= set(report["modules"])
    assert "libssl" in report["maps"]


def test_in_band_dtmf_loads_numpy_only_for_audio_loud_enough_to_hold_a_key() -> None:
    """The detector's Goertzel stage is numpy's; speech-quiet audio is ruled out by audioop."""
    feed = (
        "from endpoint.media.inband_dtmf import InbandDtmfDetector\n"
        "import math, array, sys\n"
        "d = InbandDtmfDetector()\n"
        "hiss = array.array('h', [(-1) ** n * 40 for n in range(160)]).tobytes()\n"
        "assert all(d.feed(hiss) == [] for _ in range(50))\n"
        "assert 'numpy' not in sys.modules, 'numpy for quiet audio'\n"
    )
    quiet = modules_after(feed)
    assert "numpy" not in quiet
    key = (
        "t = [n / 8000 for n in range(160 * 5)]\n"
        "five = [int(6000 * (math.sin(2 * math.pi * 770 * x) + math.sin(2 * math.pi * 1336 * x)))"
        " for x in t]\n"
        "keys = [k.digit for i in range(5)"
        " for k in d.feed(array.array('h', five[160 * i : 160 * (i + 1)]).tobytes())]\n"
        "assert keys == ['5'], keys\n"
    )
    assert "numpy" in modules_after(feed + key)


def test_the_sip_grammar_compiles_its_patterns_at_first_use_not_at_start() -> None:
    """Issue 19: 9-17 ms of ``re.compile`` moved from before READY to the first datagram."""
    script = (
        "import functools, json, endpoint.cli, endpoint.runtime.engine\n"
        "from endpoint.sip import grammar, headers\n"
        "getters = [v for v in (*vars(grammar).values(), *vars(headers).values())\n"
        "           if isinstance(getattr(v, '__wrapped__', None), functools.partial)]\n"
        "before = sum(g.cache_info().currsize for g in getters)\n"
        "from endpoint.sip.message import parse\n"
        "parse(b'OPTIONS sip:a@127.0.0.1 SIP/2.0\\r\\nVia: SIP/2.0/UDP 127.0.0.1;"
        "branch=z9hG4bK1\\r\\nFrom: <sip:b@127.0.0.1>;tag=1\\r\\nTo: <sip:a@127.0.0.1>\\r\\n"
        "Call-ID: x\\r\\nCSeq: 1 OPTIONS\\r\\nContent-Length: 0\\r\\n\\r\\n')\n"
        "print(json.dumps([len(getters), before, sum(g.cache_info().currsize for g in getters)]))"
    )
    getters, before, after = json.loads(run_python(script).splitlines()[-1])
    assert getters > 20 and before == 0 and after > 3
