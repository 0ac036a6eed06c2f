"""``sip-endpoint doctor``: can this box work as a door? One line per check, with the fix.

An installer on a ladder reads this over the phone, so each check prints one line — ``OK``,
``WARN`` or ``FAIL``, what was found, and for anything but OK the fix — and the exit status is
non-zero when the endpoint could not work (any FAIL). Checks, in order: the configuration
(``load_config``), the audio devices (listed, then the configured ones opened for real), the
I/O hardware (GPIO chip or serial port), the SIP port (bound for UDP and TCP), our own
certificate when one is configured (its dates, and that the key matches), the registrar
(OPTIONS, then REGISTER with the configured credentials: "wrong password" when they are
refused; over TLS the handshake first, with the certificate checked as the service checks it:
wrong CA, expired, name mismatch), and clock synchronisation (digest nonces and TLS need a
sane clock).
"""

from __future__ import annotations

import datetime
import errno
import glob
import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from endpoint.audio.devices import DeviceInfo, DeviceSpec, Direction, choose_format, find_device
from endpoint.config import (
    AccountSettings,
    AudioSettings,
    Config,
    ConfigError,
    SipSettings,
    load_config,
)
from endpoint.service.certificate_check import check_certificate
from endpoint.service.findings import Finding, Level, ok
from endpoint.service.nat_check import check_nat
from endpoint.service.probe import ProbeError, ProbeResult, RegistrarProbe
from endpoint.tls import client_context, describe_failure

if TYPE_CHECKING:
    import numpy as np

    from endpoint.audio.echo_path import EchoPath
    from endpoint.audio.port import AudioPort
    from endpoint.audio.registry import PortAudioHost

DEFAULT_CONFIG = Path("/etc/sip-endpoint/config.toml")


# -- configuration ---------------------------------------------------------------------------


def check_config(path: Path) -> tuple[Config | None, list[Finding]]:
    try:
        config = load_config(path)
    except ConfigError as exc:
        findings = [
            Finding(Level.FAIL, "config", f"{path}: {problem}")  # the problem names its fix
            for problem in exc.problems
        ]
        return None, findings
    if config.account is None:
        what = "peer-to-peer (no [account])"
    else:
        what = (
            f"account {config.account.user}@{config.account.domain} via {config.account.registrar}"
        )
    return config, [ok("config", f"{path}: valid; {what}")]


# -- audio -----------------------------------------------------------------------------------


def check_audio(audio: AudioSettings) -> list[Finding]:
    if audio.backend == "alsa":
        return _check_alsa(audio)
    if audio.backend == "file":
        findings = []
        if audio.input_file is not None:
            readable = os.access(audio.input_file, os.R_OK)
            findings.append(
                ok("audio", f"input_file {audio.input_file} readable")
                if readable
                else Finding(
                    Level.FAIL,
                    "audio",
                    f"input_file {audio.input_file} cannot be read",
                    "give [audio] input_file the path of a WAV file the service user can read",
                )
            )
        if audio.output_file is not None:
            folder = audio.output_file.parent
            findings.append(
                ok("audio", f"output_file folder {folder} writable")
                if os.access(folder, os.W_OK)
                else Finding(
                    Level.FAIL,
                    "audio",
                    f"cannot write {audio.output_file}",
                    "point [audio] output_file into a writable folder, e.g. /var/lib/sip-endpoint/",
                )
            )
        return findings
    return [
        Finding(
            Level.WARN,
            "audio",
            f'backend "{audio.backend}": no sound device is used',
            'set [audio] backend = "alsa" for a real microphone and speaker',
        )
    ]


def check_echo_path(audio: AudioSettings, settle_s: float = 1.0) -> list[Finding]:
    """`doctor --audio`: play a chirp, find it in the microphone, report the echo path.

    Runs what an installer needs after mounting the box: the speaker and microphone really
    work, and how loud and how late the speaker reaches the microphone (the echo canceller's
    job). Paced on absolute 20 ms deadlines like the media thread; captured frames are drained
    every tick, so the capture timeline is known exactly from the moment the chirp starts.
    """
    from endpoint.audio.echo_path import chirp, measure
    from endpoint.media.frame import SAMPLE_RATE

    check = "acoustic test"
    if audio.backend != "alsa":
        return [
            Finding(
                Level.WARN,
                check,
                f'backend "{audio.backend}" has no speaker or microphone to test',
                'set [audio] backend = "alsa"',
            )
        ]
    port = _running_port(audio, check)
    if isinstance(port, Finding):
        return [port]
    sweep = chirp(SAMPLE_RATE)
    try:
        mic = _play_and_record(port, sweep, settle_s)
    finally:
        port.stop()
    result = measure(sweep, mic, SAMPLE_RATE)
    finding = _echo_finding(result, check)
    if finding.level is not Level.OK:
        return [finding]
    return [finding, _keep_echo_delay(_canceller_delay_ms(result))]


def _canceller_delay_ms(result: EchoPath) -> int:
    """The canceller's fixed delay: the measured path less one frame of its own buffering."""
    return max(0, int(result.delay_s * 1000) - 20)


def _keep_echo_delay(delay_ms: int) -> Finding:
    """Store the delay where the service finds it (issue 17: ``endpoint.audio.echo_state``)."""
    import datetime

    from endpoint.audio import echo_state

    path = echo_state.state_file(default=True)
    assert path is not None
    try:
        echo_state.save(path, delay_ms, datetime.datetime.now(datetime.UTC))
    except OSError as exc:
        return Finding(
            Level.WARN,
            "echo delay",
            f"cannot keep {delay_ms} ms in {path}: {exc.strerror or exc}",
            "run doctor --audio as root or as sip-endpoint, or set [audio] echo_delay_ms",
        )
    return ok(
        "echo delay",
        f"{delay_ms} ms kept in {path}: calls use it while [audio] echo_delay_ms is not set",
    )


def _running_port(audio: AudioSettings, check: str) -> AudioPort | Finding:
    """The ALSA port started and delivering captured frames, or why it is not."""
    import time

    from endpoint.audio import open_audio
    from endpoint.audio.port import AudioError, DeviceState

    try:
        port = open_audio(
            "alsa",
            capture_device=audio.capture_device,
            playback_device=audio.playback_device,
            duplex=audio.duplex,
        )
        port.start()
    except (AudioError, OSError, ValueError) as exc:
        return Finding(Level.FAIL, check, f"cannot open the sound devices: {exc}", "see above")
    deadline = time.monotonic() + 5.0
    while port.status().state is not DeviceState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.02)
    if port.status().state is not DeviceState.RUNNING:
        error = port.status().last_error
        port.stop()
        return Finding(
            Level.FAIL,
            check,
            f"the sound devices did not start: {error}",
            "check [audio] capture_device and playback_device",
        )
    # A sound server may run the streams a while before the first captured frame arrives.
    deadline = time.monotonic() + 5.0
    while port.read_frame() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return port


def _play_and_record(port: AudioPort, sweep: np.ndarray, settle_s: float) -> np.ndarray:
    """Silence for ``settle_s``, the sweep, one second of silence; what the microphone heard
    from the moment the sweep started."""
    import time

    import numpy as np

    from endpoint.media.frame import FRAME_SAMPLES

    silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)
    lead = int(settle_s * 50)
    frames = [silence] * lead + [
        sweep[i : i + FRAME_SAMPLES] for i in range(0, len(sweep), FRAME_SAMPLES)
    ]
    frames += [silence] * 50  # one second for the echo to come back
    recorded: list[bytes] = []  # frames are bytes (endpoint/media/frame.py)
    chirp_at = 0
    tick = time.monotonic()
    for index, frame in enumerate(frames):
        tick += 0.02
        time.sleep(max(0.0, tick - time.monotonic()))
        for _ in range(50):  # drain what the microphone has: bounded
            got = port.read_frame()
            if got is None:
                break
            recorded.append(got)
        if index == lead:
            chirp_at = sum(len(r) for r in recorded) // 2
        padded = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        padded[: len(frame)] = frame
        port.write_frame(padded.tobytes())
    mic = np.frombuffer(b"".join(recorded), dtype=np.int16)
    return mic[chirp_at:]


def _echo_finding(result: EchoPath, check: str) -> Finding:
    """The installer's verdict on the measured echo path."""
    if result.mic_rms < 3.0:
        return Finding(
            Level.FAIL,
            check,
            f"the microphone hears nothing (RMS {result.mic_rms:.1f} of 32767)",
            "check the microphone's cable and its ALSA capture volume (alsamixer), "
            "or [audio] capture_device",
        )
    if not result.found:
        return Finding(
            Level.FAIL,
            check,
            "the chirp played through the speaker is not in the microphone "
            f"(clarity {result.clarity:.1f})",
            "check the speaker's cable and its ALSA playback volume, or [audio] "
            "playback_device; the speaker must be within earshot of the microphone",
        )
    return ok(
        check,
        f"speaker -> microphone: delay {result.delay_s * 1000:.0f} ms, level "
        f"{result.level_db:.1f} dB (clarity {result.clarity:.0f}); with "
        f'processing_engine = "speex" set [audio] echo_delay_ms = '
        f"{_canceller_delay_ms(result)}",
    )


def _check_alsa(audio: AudioSettings) -> list[Finding]:
    from endpoint.audio.port import AudioError
    from endpoint.audio.registry import PortAudioHost

    host = PortAudioHost()
    try:
        try:
            devices = host.devices()
        except OSError as exc:
            return [
                Finding(
                    Level.FAIL,
                    "audio",
                    f"PortAudio cannot list devices: {exc}",
                    "install the ALSA libraries (./setup.sh) and check `aplay -l`",
                )
            ]
        names = ", ".join(
            f"#{d.index} {d.name!r} (in {d.max_input_channels}, out {d.max_output_channels})"
            for d in devices
        )
        findings = [ok("audio devices", names or "none")]
        wanted = [
            ("capture", audio.capture_device, Direction.CAPTURE),
            ("playback", audio.playback_device, Direction.PLAYBACK),
        ]
        if audio.alert_device is not None:
            wanted.append(("alert", audio.alert_device, Direction.PLAYBACK))
        for role, spec, direction in wanted:
            key = f"[audio] {role}_device"
            shown = "the default device" if spec is None else repr(spec)
            try:
                device, rate, channels = _open_and_close(host, devices, spec, direction)
            except (AudioError, OSError) as exc:
                choices = [repr(d.name) for d in devices if d.channels(direction) > 0] or [
                    "(none: is the card plugged in? `aplay -l`)"
                ]
                findings.append(
                    Finding(
                        Level.FAIL,
                        f"audio {role}",
                        f"{shown}: {exc}",
                        f"set {key} to one of {', '.join(choices)}",
                    )
                )
                continue
            findings.append(
                ok(f"audio {role}", f"{shown} -> {device.name!r} opens at {rate} Hz, {channels} ch")
            )
        return findings
    finally:
        host.terminate()


def _open_and_close(
    host: PortAudioHost, devices: list[DeviceInfo], spec: DeviceSpec, direction: Direction
) -> tuple[DeviceInfo, int, int]:
    """Find the device, choose its format, and really open the stream (a busy or broken device
    fails only here, not in is_format_supported); the device and the rate/channels used."""
    import pyaudio

    device = find_device(devices, spec, direction)
    rate, channels = choose_format(
        lambda r, c: host.supports(device, direction, r, c),
        device.channels(direction),
        device.default_rate,
    )
    capture = direction is Direction.CAPTURE
    with host.lock:
        stream = host.pyaudio().open(
            format=pyaudio.paInt16,
            channels=channels,
            rate=rate,
            input=capture,
            output=not capture,
            input_device_index=device.index if capture else None,
            output_device_index=None if capture else device.index,
            start=False,
        )
        stream.close()
    return device, rate, channels


# -- hardware --------------------------------------------------------------------------------


def check_hardware(config: Config) -> list[Finding]:
    hardware = getattr(config, "hardware", None)
    board = getattr(hardware, "board", None) if hardware is not None else None
    if board is None or board in ("none", "simulated"):
        return [ok("hardware", f"board {board or 'none'}: nothing to check")]
    if board == "gpio":
        return _check_gpio()
    if board == "serial":
        return _check_serial(getattr(hardware, "serial_port", None))
    return [ok("hardware", f"board {board}: no check for it")]


def _check_gpio() -> list[Finding]:
    """The header's character devices exist and the service user may open them."""
    chips = sorted(glob.glob("/dev/gpiochip*"))
    if not chips:
        return [
            Finding(
                Level.FAIL,
                "hardware",
                'board = "gpio" but there is no /dev/gpiochip*',
                "run on a Raspberry Pi (or a board with GPIO), or set [hardware] board to "
                '"serial" for the USB I/O board',
            )
        ]
    usable = [c for c in chips if os.access(c, os.R_OK | os.W_OK)]
    if not usable:
        return [
            Finding(
                Level.WARN,
                "hardware",
                f"{', '.join(chips)} present, not accessible to this user",
                "the service user is in group gpio; run doctor as root or as sip-endpoint",
            )
        ]
    return [ok("hardware", f"GPIO: {', '.join(chips)}")]


def _check_serial(port: object) -> list[Finding]:
    """The I/O board's serial port is named, plugged in, and open to the service user."""
    if port is None:
        return [
            Finding(
                Level.FAIL,
                "hardware",
                'board = "serial" without serial_port',
                'set [hardware] serial_port, e.g. "/dev/ttyACM0"',
            )
        ]
    path = Path(str(port))
    if not path.exists():
        present = sorted(glob.glob("/dev/ttyACM*") + glob.glob("/dev/ttyUSB*"))
        return [
            Finding(
                Level.FAIL,
                "hardware",
                f"serial port {path} does not exist",
                "plug the I/O board in; serial ports here: "
                + (", ".join(present) or "none")
                + " (a /dev/serial/by-id/ path survives re-plugging)",
            )
        ]
    if not os.access(path, os.R_OK | os.W_OK):
        return [
            Finding(
                Level.WARN,
                "hardware",
                f"{path} present, not accessible to this user",
                "the service user is in group dialout; run doctor as root or as sip-endpoint",
            )
        ]
    return [ok("hardware", f"serial board at {path}")]


# -- SIP port --------------------------------------------------------------------------------


def check_sip_port(sip: SipSettings, control_socket: Path | None = None) -> list[Finding]:
    """Bind the listen address for UDP and TCP. In use by our own running service (its control
    socket answers and reports that address) is fine: doctor is often run beside it."""
    listen = sip.listen
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    for kind, name in ((socket.SOCK_DGRAM, "udp"), (socket.SOCK_STREAM, "tcp")):
        try:
            with socket.socket(family, kind) as s:
                if kind == socket.SOCK_STREAM:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((listen.host, listen.port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE and _served_by_us(control_socket, listen.port):
                return [ok("sip port", f"{listen} is held by the running sip-endpoint")]
            if exc.errno == errno.EADDRINUSE:
                fix = (
                    "another program holds the port: if it is this service, that is fine "
                    "(systemctl status sip-endpoint); otherwise find it with "
                    f"`ss -lunp 'sport = :{listen.port}'` and stop it, or change [sip] listen"
                )
                detail = f"{name} {listen} is in use"
            else:
                fix = "change [sip] listen to an address of this machine"
                detail = f"cannot bind {name} {listen}: {exc.strerror or exc}"
            return [Finding(Level.FAIL, "sip port", detail, fix)]
    return [ok("sip port", f"udp and tcp {listen} free")]


def _served_by_us(control_socket: Path | None, port: int) -> bool:
    from endpoint.control_client import ControlError, request

    if control_socket is None:
        return False
    try:
        answer = request(control_socket, {"cmd": "status"}, timeout=2.0)
    except (ControlError, OSError, ValueError):
        return False
    return bool(answer.get("ok")) and str(answer.get("listen", "")).endswith(f":{port}")


# -- registrar -------------------------------------------------------------------------------


def check_registrar(config: Config, timeout: float = 5.0) -> list[Finding]:
    findings = []
    for section, account in (
        ("account", config.account),
        ("backup_account", config.backup_account),
    ):
        if account is not None:
            findings += _check_account(config, section, account, timeout)
    return findings


def _check_account(
    config: Config, section: str, account: AccountSettings, timeout: float
) -> list[Finding]:
    """One account's registrar: reachable (OPTIONS), and does it take our credentials?"""
    name = f"registrar [{section}]"
    try:
        tls = client_context(config.tls) if config.sip.transport == "tls" else None
    except (ssl.SSLError, OSError, ValueError) as exc:
        return [
            Finding(
                Level.FAIL,
                name,
                f"[tls] files cannot be used: {describe_failure(exc)}",
                "check [tls] ca_file, cert_file and key_file (PEM; the key must match)",
            )
        ]
    try:
        result = RegistrarProbe(account, config.sip, timeout, tls).run()
    except ProbeError as exc:
        fix = (
            "the line says which [tls] or [account] key to change"
            if str(exc).startswith("TLS to")
            else f"check [{section}] registrar and the network"
        )
        return [Finding(Level.FAIL, name, str(exc), fix)]
    where = account.outbound_proxy or account.registrar
    if result.options is None and result.register is None:
        return [
            Finding(
                Level.FAIL,
                name,
                f"no answer from {where} within {timeout:g} s",
                f"check [{section}] registrar (host, port, transport), the network and "
                "the firewall",
            )
        ]
    findings = []
    if result.options is not None:
        findings.append(ok(name, f"{where} answers OPTIONS: {result.options}"))
    return [*findings, _register_verdict(name, section, account, result)]


def _register_verdict(
    name: str, section: str, account: AccountSettings, result: ProbeResult
) -> Finding:
    if result.verdict == "accepted":
        return ok(
            name, f"{account.user}@{account.domain}: credentials accepted ({result.register})"
        )
    if result.verdict == "rejected":
        return Finding(
            Level.FAIL,
            name,
            f"wrong password: {account.auth_user} was refused ({result.register})",
            f"check [{section}] user, auth_user and password (or password_file)",
        )
    return Finding(
        Level.FAIL if result.register is None else Level.WARN,
        name,
        f"REGISTER answered {result.register or 'nothing'}",
        f"check [{section}] user and domain with the PBX administrator",
    )


# -- clock -----------------------------------------------------------------------------------


def check_clock(
    run: Callable[[list[str]], str | None] | None = None,
    marker: Path = Path("/run/systemd/timesync/synchronized"),
) -> list[Finding]:
    """NTPSynchronized from timedatectl, else timesyncd's marker file, else unknown."""
    answer = (run or _timedatectl)(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
    if answer == "yes" or (answer is None and marker.exists()):
        return [ok("clock", "synchronised (NTP)")]
    fix = "enable time sync: timedatectl set-ntp true (systemd-timesyncd), check the network"
    if answer == "no":
        return [Finding(Level.WARN, "clock", "not synchronised", fix)]
    return [Finding(Level.WARN, "clock", "synchronisation unknown", fix)]


def _timedatectl(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None:
        return None
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = result.stdout.strip()
    return value if result.returncode == 0 and value in ("yes", "no") else None


# -- the report ------------------------------------------------------------------------------


def run_doctor(path: Path, out: TextIO, *, timeout: float = 5.0, acoustic: bool = False) -> int:
    """Print the report; 0 when nothing FAILed, else 1."""
    findings: list[Finding] = []

    def report(new: list[Finding]) -> None:
        for finding in new:
            print(finding, file=out, flush=True)
        findings.extend(new)

    config, config_findings = check_config(path)
    report(config_findings)
    if config is not None:
        report(check_audio(config.audio))
        if acoustic:
            report(check_echo_path(config.audio))
        report(check_hardware(config))
        report(check_sip_port(config.sip, config.control.socket))
        report(check_certificate(config.tls, datetime.datetime.now(datetime.UTC)))
        report(check_registrar(config, timeout))
        report(check_nat(config))
    report(check_clock())
    failed = sum(f.level is Level.FAIL for f in findings)
    warned = sum(f.level is Level.WARN for f in findings)
    if failed:
        print(f"doctor: {failed} check(s) failed: the endpoint cannot work until fixed", file=out)
        return 1
    print(f"doctor: all checks passed{f' ({warned} warning(s))' if warned else ''}", file=out)
    return 0
