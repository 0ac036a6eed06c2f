"""Scenarios run in a child process against real PortAudio/ALSA, one per process.

PortAudio reads the ALSA configuration when it initialises, and ALSA reads ALSA_CONFIG_PATH /
HOME at that moment too, so each scenario runs in its own process with its own environment (set
by test_alsa.py). Usage: python alsa_scenarios.py <scenario> <directory> [args...]. A scenario
leaves its observations in <directory> (result.json, *.npy); the test process asserts on them.
These are integration helpers: waiting here polls with short sleeps under a deadline.
"""

import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from endpoint.audio.alsa import AlsaPort
from endpoint.audio.port import AudioStatus, DeviceState
from endpoint.audio.registry import DeviceRegistry
from endpoint.audio.tone import ToneGenerator
from endpoint.media.frame import FRAME_SAMPLES, SAMPLE_RATE, Frame
from tests.pcm import samples

DEADLINE = 20.0


def wait(predicate: Callable[[], bool], timeout: float = DEADLINE) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def status_dict(status: AudioStatus) -> dict[str, object]:
    data = asdict(status)
    data["state"] = status.state.value
    return data


def playback(directory: Path, rate: int) -> dict[str, object]:
    """Queue one second of a 440 Hz + 1 kHz tone, start, wait until it has all been taken."""
    registry = DeviceRegistry()
    port = testcard_player(registry, rate)
    generator = ToneGenerator((440.0, 1000.0), 0.6)
    source = [generator.next_frame() for _ in range(50)]
    for frame in source:
        port.write_frame(frame)
    result = play_out(port, registry)
    np.save(directory / "source.npy", samples(b"".join(source)))
    return result


def wide_playback(directory: Path, rate: int) -> dict[str, object]:
    """A G.722 call's port: 16 kHz frames of 320 samples, a 6 kHz tone, on a device at `rate`."""
    registry = DeviceRegistry()
    port = testcard_player(registry, rate, 320, 16000)
    generator = ToneGenerator((6000.0,), 0.6, rate=16000)
    for _ in range(50):
        port.write_frame(generator.next_frame(320))
    return play_out(port, registry)


def testcard_player(
    registry: DeviceRegistry,
    device_rate: int,
    frame_samples: int = FRAME_SAMPLES,
    rate: int = SAMPLE_RATE,
) -> AlsaPort:
    """A playback-only port on testcard at ``device_rate``, its ring large enough (100 frames,
    2 s) for all a scenario queues before the start and released after one frame; the port's
    own ``frame_samples`` and ``rate`` are a call's (G.722: 320 at 16 kHz)."""
    return AlsaPort(
        playback_device="TESTcard",
        capture=False,
        registry=registry,
        rates=(device_rate,),
        playback_frames=100,
        prime=1,
        frame_samples=frame_samples,
        rate=rate,
    )


def play_out(port: AlsaPort, registry: DeviceRegistry) -> dict[str, object]:
    """Start ``port`` with its queue filled, wait until the device has taken all of it, stop;
    whether it ran and drained, and its status then."""
    port.start()
    running = port.wait_running(DEADLINE)
    drained = wait(lambda: port.status().playback_fill == 0)
    status = port.status()
    port.stop()
    registry.shutdown()
    return {"running": running, "drained": drained, "status": status_dict(status)}


def capture(directory: Path, rate: int) -> dict[str, object]:
    """Feed a known signal at the device rate through a FIFO; collect what read_frame() gives.

    The FIFO is what paces the capture: ALSA's file plugin reads from it, so the capture stream
    waits for our writes instead of racing through the ring buffer.
    """
    fifo = directory / "in.raw"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)
    # The whole second fits in the FIFO: ALSA's file plugin pads a short read from its infile
    # with silence, so a reader that catches up with the writer at the default 64 KiB
    # boundary would lose samples that no device would lose.
    fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, 1 << 18)
    t = np.arange(rate) / rate
    chirp = 0.5 * np.sin(2 * np.pi * (200 * t + 1400 * t * t))
    signal_in = np.rint(chirp * 32767).astype("<i2")
    registry = DeviceRegistry()
    port = AlsaPort(
        capture_device="testcard",
        playback=False,
        registry=registry,
        rates=(rate,),
        capture_frames=100,
        stall_timeout=None,
    )
    port.start()
    running = port.wait_running(DEADLINE)
    feeder = threading.Thread(target=os.write, args=(writer, signal_in.tobytes()))
    feeder.start()
    frames: list[Frame] = []
    expected = 45

    def collect() -> bool:
        while (frame := port.read_frame()) is not None:
            frames.append(frame)
        return len(frames) >= expected

    collected = wait(collect)
    feeder.join()
    status = port.status()
    os.close(writer)  # end of file: the capture thread stops waiting and can be stopped
    port.stop()
    registry.shutdown()
    np.save(directory / "source.npy", signal_in)
    np.save(directory / "captured.npy", samples(b"".join(frames)) if frames else np.zeros(0))
    return {"running": running, "collected": collected, "status": status_dict(status)}


def starved_capture(directory: Path) -> tuple[int, DeviceRegistry, AlsaPort, bool, bool]:
    """A capture port on ``testcard`` whose FIFO nobody writes to, started and left to stall:
    the FIFO's writer, the registry, the port, whether it ran and whether it was then lost."""
    fifo = directory / "in.raw"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)
    registry = DeviceRegistry()
    port = AlsaPort(
        capture_device="testcard",
        playback=False,
        registry=registry,
        stall_timeout=0.3,
        startup_grace=0.3,
        backoff_initial=0.05,
    )
    port.start()
    running = port.wait_running(DEADLINE)
    lost = wait(lambda: port.status().state is DeviceState.LOST)
    return writer, registry, port, running, lost


def frames_come_out(port: AlsaPort, count: int = 5) -> bool:
    """Whether ``count`` captured frames come out of ``port`` before the scenarios' deadline."""
    frames = 0

    def enough() -> bool:
        nonlocal frames
        while port.read_frame() is not None:
            frames += 1
        return frames >= count

    return wait(enough)


def stalled_capture(directory: Path) -> dict[str, object]:
    """A capture device that stops delivering (nothing comes out of the FIFO) is declared lost,
    its stream is closed and the device reopened; frames come out again.

    PortAudio's abort does not interrupt the file plugin's blocked read(), so the close only
    completes when data arrives: the scenario feeds the FIFO once the loss has been reported.
    """
    writer, registry, port, running, lost = starved_capture(directory)
    os.write(writer, np.ones(1600, dtype="<i2").tobytes())
    back = wait(lambda: port.status().state is DeviceState.RUNNING)
    reopens = port.status().reopens
    got_frames = frames_come_out(port)
    os.close(writer)
    port.stop()
    registry.shutdown()
    return {
        "running": running,
        "lost": lost,
        "back": back,
        "reopens": reopens,
        "got_frames": got_frames,
    }


def missing_card(directory: Path) -> dict[str, object]:
    """The configured card does not exist at start-up (hw:9); later it appears.

    ~/.asoundrc first names a card that is not there; the scenario then rewrites it to the
    file plugin, as if the USB card had been plugged in. The adapter keeps retrying, and its
    PortAudio re-initialisation (nothing else is open) enumerates the card anew.
    """
    asoundrc = Path(os.environ["HOME"]) / ".asoundrc"
    asoundrc.write_text("pcm.usbcard { type hw card 9 }\n")
    registry = DeviceRegistry()
    port = AlsaPort(
        playback_device="usbcard",
        capture=False,
        registry=registry,
        backoff_initial=0.05,
        backoff_max=0.2,
    )
    port.start()
    starting = wait(lambda: port.status().last_error is not None)
    status_missing = port.status()
    port.write_frame(bytes(320))  # the media thread carries on meanwhile
    asoundrc.write_text(
        f'pcm.usbcard {{ type file slave.pcm null format raw file "{directory}/out.raw" }}\n'
    )
    running = port.wait_running(DEADLINE)
    status_back = port.status()
    port.stop()
    registry.shutdown()
    return {
        "starting": starting,
        "missing": status_dict(status_missing),
        "running": running,
        "back": status_dict(status_back),
    }


def audio_threads() -> list[str]:
    """The blocking streams' threads alive now (blocking.py), by name."""
    names = (t.name for t in threading.enumerate())
    return sorted(n for n in names if n in ("audio-capture", "audio-playback"))


def feed_forever(fd: int, stop: threading.Event) -> threading.Thread:
    """A thread that keeps the capture FIFO `fd` supplied with silence until `stop` (without
    blocking in a full FIFO, so that it sees `stop` when nothing reads any more)."""
    os.set_blocking(fd, False)

    def feed() -> None:
        while not stop.is_set():
            try:
                os.write(fd, bytes(3200))
            except BlockingIOError:
                time.sleep(0.005)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return thread


def closed_devices(directory: Path) -> int:
    """How many "closed" lines the supervisor has logged: it logs one per device stream once
    its close is over, the stream's thread stopped and joined (registry.py)."""
    lines = (directory / "audio.log").read_text().splitlines()
    return sum(1 for line in lines if line.endswith(" closed"))


def blocking_streams(directory: Path) -> dict[str, object]:
    """A call's port on testcard: each direction's stream is moved by its own thread, whose
    period count advances; closing the device ends both threads.

    `open_streams()` drops to 0 when the supervisor takes the streams to close them (what
    back_to_back waits for), before it has stopped their threads: the threads are looked at
    once both directions have logged that their close is over."""
    fifo = directory / "in.raw"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)
    stop = threading.Event()
    feeder = feed_forever(writer, stop)
    registry = DeviceRegistry()
    port = AlsaPort("testcard", "testcard", registry=registry, stall_timeout=None)
    port.start()
    running = port.wait_running(DEADLINE)
    first = registry.callbacks()
    advanced = wait(lambda: registry.callbacks() >= first + 20)
    threads = audio_threads()
    port.stop()
    closed = wait(lambda: registry.open_streams() == 0 and closed_devices(directory) == 2)
    after_close = audio_threads()
    registry.shutdown()
    stop.set()
    os.close(writer)
    feeder.join()
    return {
        "running": running,
        "advanced": advanced,
        "threads": threads,
        "closed": closed,
        "after_close": after_close,
    }


def stuck_capture(directory: Path) -> dict[str, object]:
    """A capture read that never returns (the FIFO stays empty) is left behind: the device is
    LOST and reopened without waiting for it; once data flows the stuck read returns, its
    thread closes its own stream, and shutdown leaves no stream thread behind."""
    writer, registry, port, running, lost = starved_capture(directory)
    left_behind = wait(lambda: bool(registry.host.lingering))
    stop = threading.Event()
    feeder = feed_forever(writer, stop)
    got_frames = frames_come_out(port)
    port.stop()
    registry.shutdown()
    after_shutdown = audio_threads()
    reinitializable = registry.host.may_reinitialize()
    stop.set()
    os.close(writer)
    feeder.join()
    return {
        "running": running,
        "lost": lost,
        "left_behind": left_behind,
        "got_frames": got_frames,
        "after_shutdown": after_shutdown,
        "reinitializable": reinitializable,
    }


def back_to_back(directory: Path) -> dict[str, object]:
    """A call's port stops and the next call's (G.722: another frame format, so another
    stream) starts at once, while the supervisor is still closing the first: the second must
    open without waiting for anything else to wake the supervisor."""
    registry = DeviceRegistry()
    first = testcard_player(registry, 48000)
    first.start()
    first_running = first.wait_running(DEADLINE)
    first.stop()
    wait(lambda: registry.open_streams() == 0)  # the supervisor has begun closing it
    second = testcard_player(registry, 48000, 320, 16000)
    second.start()
    second_running = second.wait_running(DEADLINE)
    second.stop()
    registry.shutdown()
    return {"first_running": first_running, "second_running": second_running}


def start_pulse(directory: Path) -> subprocess.Popen[bytes]:
    """A private PulseAudio daemon with a null sink (it paces like a real card, 20 ms) whose
    monitor is the default source: what is played comes back as the microphone (an echo path).
    Its HOME is ``directory``, so nothing of the user's PulseAudio state is read or written."""
    script = directory / "default.pa"
    script.write_text(
        "load-module module-null-sink sink_name=nullsink\n"
        f"load-module module-native-protocol-unix socket={directory}/pulse.sock "
        "auth-anonymous=1\n"
        "set-default-sink nullsink\n"
        "set-default-source nullsink.monitor\n"
    )
    (directory / "pulse.sock").unlink(missing_ok=True)
    with (directory / "pulse.log").open("ab") as log:  # the daemon keeps its own descriptor
        daemon = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "-F", str(script)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, "HOME": str(directory)},
        )
    if not wait((directory / "pulse.sock").exists, 10.0):
        daemon.kill()
        raise RuntimeError("pulseaudio did not start")
    return daemon


def pulse_unplug(directory: Path) -> dict[str, object]:
    """Kill the sound server in the middle of a call, bring it back, watch the port recover.

    Killing PulseAudio makes ALSA's pulse plugin fail under PortAudio's callback thread, the way
    a USB card that is pulled out does: PortAudio ends the stream. Reopening fails until the
    server is back.
    """
    daemon = start_pulse(directory)
    registry = DeviceRegistry()
    port = AlsaPort("pulse", "pulse", registry=registry, backoff_initial=0.1, backoff_max=0.5)
    port.start()
    running = port.wait_running(DEADLINE)
    got_audio = wait(lambda: port.read_frame() is not None)
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()
    lost = wait(lambda: port.status().state is DeviceState.LOST)
    status_lost = port.status()
    for _ in range(10):  # the media thread keeps ticking: nothing blocks or raises
        port.read_frame()
        port.write_frame(bytes(320))
    daemon = start_pulse(directory)
    back = wait(lambda: port.status().state is DeviceState.RUNNING and port.status().reopens >= 2)
    got_audio_again = wait(lambda: port.read_frame() is not None)
    status_back = port.status()
    port.stop()
    registry.shutdown()
    daemon.terminate()
    daemon.wait()
    return {
        "running": running,
        "got_audio": got_audio,
        "lost": lost,
        "lost_status": status_dict(status_lost),
        "back": back,
        "got_audio_again": got_audio_again,
        "back_status": status_dict(status_back),
    }


def converse(
    call: AlsaPort, speakers: list[tuple[AlsaPort, ToneGenerator]], seconds: float
) -> np.ndarray:
    """The media thread's part for ``seconds``, on 20 ms deadlines: each port in ``speakers``
    queues a frame of its tone, the call's microphone frame is taken; the captured samples."""
    heard: list[Frame] = []
    deadline = time.monotonic()
    for _ in range(round(seconds / 0.02)):
        deadline += 0.02
        time.sleep(max(0.0, deadline - time.monotonic()))
        for port, tone in speakers:
            port.write_frame(tone.next_frame())
        while (frame := call.read_frame()) is not None:
            heard.append(frame)
    return samples(b"".join(heard)).astype(np.float64) if heard else np.zeros(1)


def tone_levels(heard: np.ndarray) -> dict[str, float]:
    """Level in dB of the 1 kHz (call) and 400 Hz (alert) tones in the last second heard,
    the delay through the sound server left behind."""
    last = heard[-SAMPLE_RATE:]
    spectrum = np.abs(np.fft.rfft(last * np.hanning(last.size))) + 1e-9
    hz = np.fft.rfftfreq(last.size, 1 / SAMPLE_RATE)
    return {
        f"{f}": float(20 * np.log10(spectrum[np.argmin(np.abs(hz - f))] / np.median(spectrum)))
        for f in (1000, 400)
    }


def pulse_duplex(directory: Path, alert_first: int, rate: int, duplex: int) -> dict[str, object]:
    """A call's port on the pulse device (capture and playback) and an alert port that only
    plays there, through one registry, the device opened at ``rate``: how many PortAudio
    streams are open in each phase, and what the microphone (the null sink's monitor: an echo
    path) hears. ``alert_first`` 0: the alert joins a running call and leaves; 1: the alert
    plays first and the call joins it. ``duplex`` 0: as ``[audio] duplex = false`` (the
    default), a stream per direction."""
    daemon = start_pulse(directory)
    registry = DeviceRegistry()
    call = AlsaPort("pulse", "pulse", registry=registry, rates=(rate,), duplex=bool(duplex))
    alert = AlsaPort(
        playback_device="pulse",
        capture=False,
        registry=registry,
        rates=(rate,),
        duplex=bool(duplex),
    )
    voice, ring = ToneGenerator((1000.0,), 0.3), ToneGenerator((400.0,), 0.3)
    first, second = (alert, call) if alert_first else (call, alert)
    first.start()
    running = first.wait_running(DEADLINE)
    streams = {"first": registry.open_streams()}
    second.start()
    running = second.wait_running(DEADLINE) and first.wait_running(DEADLINE) and running
    wait(lambda: call.read_frame() is not None)  # the sound server's streams have started
    if duplex and wait(lambda: registry.open_streams() == 2, 5.0):
        # The device gave up its duplex stream (registry.py): measure the streams that
        # replaced it, once they deliver, not the time it took to open them.
        wait(lambda: call.read_frame() is not None)
    streams["both"] = registry.open_streams()
    callbacks = registry.callbacks()
    levels = {"both": tone_levels(converse(call, [(call, voice), (alert, ring)], 2.0))}
    callbacks = registry.callbacks() - callbacks
    alert.stop()
    levels["call"] = tone_levels(converse(call, [(call, voice)], 3.0))
    streams["call"] = registry.open_streams()
    status = call.status()
    call.stop()
    registry.shutdown()
    daemon.terminate()
    daemon.wait()
    return {
        "running": running,
        "streams": streams,
        "levels": levels,
        "callbacks": callbacks,
        "status": status_dict(status),
    }


def echo_path(directory: Path, cancel: int) -> dict[str, object]:
    """The media thread's processing step (`media_loop.exchange`) over a real echo path.

    ALSA's pulse device plays into a PulseAudio null sink and captures from its monitor, so
    what the speaker plays comes back in the microphone after the real buffering delays. Once
    capture flows, a speech-like far end is played for 9 s with 20 ms deadlines; the
    microphone's power is recorded as it would be sent to the peer, with processing off
    (``cancel`` 0) or with echo cancellation (1).
    """
    from endpoint.audio.processing import ProcessingSettings, VoiceProcessor
    from endpoint.runtime.call_steps import exchange

    daemon = start_pulse(directory)
    port = AlsaPort("pulse", "pulse")
    processor = VoiceProcessor(ProcessingSettings(echo_cancellation=bool(cancel)))
    port.start()
    running = port.wait_running(DEADLINE)
    wait(lambda: port.read_frame() is not None)  # the sound server's streams have started
    rng = np.random.default_rng(5)
    sent: list[Frame] = []
    deadline = time.monotonic()
    for tick in range(450):
        deadline += 0.02
        time.sleep(max(0.0, deadline - time.monotonic()))
        x = np.convolve(rng.standard_normal(160), np.hanning(9), mode="same")
        syllable = np.sin(2 * np.pi * 3 * tick * 0.02) > -0.3
        far = np.clip(x * 1200 * syllable, -32768, 32767).astype(np.int16)
        out = exchange(port, processor, far.tobytes())
        if out is not None:
            sent.append(out)
    port.stop()
    daemon.terminate()
    daemon.wait()
    heard = samples(b"".join(sent)).astype(np.float64) if sent else np.zeros(1)
    last = heard[-3 * 8000 :]
    return {"running": running, "frames": len(sent), "power": float(np.mean(last**2))}


def devices(directory: Path) -> dict[str, object]:
    """What `list_devices()` (for the doctor command) reports.

    PortAudio lists testcard as a capture device only if its infile can be opened.
    """
    (directory / "in.raw").touch()
    from endpoint.audio.registry import default_registry, list_devices

    found = [asdict(d) for d in list_devices()]
    default_registry().shutdown()
    return {"devices": found}


def testcard_duplex(directory: Path, alert_first: int) -> dict[str, object]:
    """A call's port on duplexcard (testcard for duplex) with ``[audio] duplex = true`` and an
    alert port that joins it: one PortAudio stream; each period takes one microphone frame from
    the FIFO and plays the mix of the call's and the alert's frames into out.raw. The FIFO
    paces the stream: every frame written there is one period (the playback side's null slave
    never waits). ``alert_first`` 1: the alert port plays first (a playback stream) and the
    call's port joins it (the device is reopened as one duplex stream); both queue their frames
    once the duplex stream is open."""
    fifo = directory / "in.raw"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)
    registry = DeviceRegistry()
    kwargs: dict[str, Any] = {
        "registry": registry,
        "rates": (SAMPLE_RATE,),
        "playback_frames": 100,
        "prime": 1,
        "stall_timeout": None,
        "duplex": True,
    }
    call = AlsaPort("duplexcard", "duplexcard", capture_frames=100, **kwargs)
    alert = AlsaPort(playback_device="duplexcard", capture=False, **kwargs)
    first, second = (alert, call) if alert_first else (call, alert)
    first.start()
    running = first.wait_running(DEADLINE)
    second.start()
    running = running and wait(  # the device's rates name capture once the duplex stream opened
        lambda: (
            call.status().capture_rate == SAMPLE_RATE and call.status().state is DeviceState.RUNNING
        )
    )
    voice, ring = ToneGenerator((1000.0,), 0.3), ToneGenerator((400.0,), 0.3)
    spoken = [voice.next_frame() for _ in range(50)]
    rung = [ring.next_frame() for _ in range(25)]
    for frame in spoken:
        call.write_frame(frame)
    for frame in rung:
        alert.write_frame(frame)
    streams = {"both": registry.open_streams()}
    callbacks = registry.callbacks()  # the playback stream's, when the alert came first
    t = np.arange(80 * FRAME_SAMPLES) / SAMPLE_RATE
    mic = np.rint(0.5 * np.sin(2 * np.pi * 300 * t) * 32767).astype("<i2")
    heard: list[Frame] = []

    def hear(count: int) -> bool:
        while (frame := call.read_frame()) is not None:
            heard.append(frame)
        return len(heard) >= count

    os.write(writer, mic[: 60 * FRAME_SAMPLES].tobytes())
    got_first = wait(lambda: hear(55))
    alert.stop()
    os.write(writer, mic[60 * FRAME_SAMPLES :].tobytes())
    got_rest = wait(lambda: hear(75))
    streams["call"] = registry.open_streams()
    callbacks = registry.callbacks() - callbacks
    status = call.status()
    os.close(writer)  # end of file: the capture side stops waiting and the stream can stop
    call.stop()
    registry.shutdown()
    np.save(directory / "mic.npy", mic)
    np.save(directory / "heard.npy", samples(b"".join(heard)))
    np.save(directory / "spoken.npy", samples(b"".join(spoken)))
    np.save(directory / "rung.npy", samples(b"".join(rung)))
    return {
        "running": running,
        "got": got_first and got_rest,
        "streams": streams,
        "callbacks": callbacks,
        "status": status_dict(status),
    }


def testcard_duplex_stall(directory: Path) -> dict[str, object]:
    """A duplex stream (duplexcard with ``[audio] duplex = true``) whose device stops
    delivering is declared lost, closed and reopened as one duplex stream again."""
    fifo = directory / "in.raw"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)
    registry = DeviceRegistry()
    port = AlsaPort(
        "duplexcard",
        "duplexcard",
        registry=registry,
        rates=(SAMPLE_RATE,),
        stall_timeout=0.3,
        startup_grace=0.3,
        backoff_initial=0.05,
        duplex=True,
    )
    port.start()
    running = port.wait_running(DEADLINE)
    os.write(writer, bytes(40 * 320))  # it runs for 40 periods, then nothing comes
    lost = wait(lambda: port.status().state is DeviceState.LOST)
    # Audio flows again: the blocked read returns, the close completes, and the reopened
    # stream has data to run on (a single write could all go to the old stream's last read,
    # and then the new one waited for data that never came).
    stop = threading.Event()
    feeder = feed_forever(writer, stop)
    back = wait(lambda: port.status().state is DeviceState.RUNNING)
    got_frames = wait(lambda: registry.callbacks() >= 50)
    status = port.status()
    streams = registry.open_streams()
    port.stop()
    registry.shutdown()
    stop.set()
    os.close(writer)
    feeder.join()
    return {
        "running": running,
        "lost": lost,
        "back": back,
        "got_frames": got_frames,
        "streams": streams,
        "status": status_dict(status),
    }


SCENARIOS: dict[str, Callable[..., dict[str, object]]] = {
    "playback": playback,
    "wide_playback": wide_playback,
    "capture": capture,
    "missing_card": missing_card,
    "stalled_capture": stalled_capture,
    "blocking_streams": blocking_streams,
    "stuck_capture": stuck_capture,
    "back_to_back": back_to_back,
    "devices": devices,
    "pulse_unplug": pulse_unplug,
    "echo_path": echo_path,
    "pulse_duplex": pulse_duplex,
    "testcard_duplex": testcard_duplex,
    "testcard_duplex_stall": testcard_duplex_stall,
}


def main(argv: list[str]) -> int:
    logging.basicConfig(
        level=logging.INFO,
        filename=str(Path(argv[1]) / "audio.log"),
        format="%(name)s %(levelname)s %(message)s",
    )
    name, directory, *args = argv
    result = SCENARIOS[name](Path(directory), *(int(a) for a in args))
    (Path(directory) / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
