"""When the device supervisor wakes: only when a device needs it, not on a fixed tick (issue 19:
a 20 Hz supervisor cost 0.4-0.5 % of a core per device call)."""

import time

from endpoint.audio.port import DeviceState
from endpoint.audio.registry import (
    WATCH_INTERVAL,
    DeviceStream,
    PortAudioHost,
    StreamOptions,
    _next_service,
)
from endpoint.audio.ring import FrameRing


def test_a_stopped_device_needs_no_wake_up() -> None:
    stream = DeviceStream("nosuchcard", StreamOptions(frame_samples=160))
    assert stream.next_service(time.monotonic()) is None
    assert _next_service([stream]) is None
    assert _next_service([]) is None


def test_a_device_that_failed_to_open_is_due_at_its_next_attempt() -> None:
    options = StreamOptions(frame_samples=160, backoff_initial=30.0, backoff_max=60.0)
    stream = DeviceStream("nosuchcard", options)
    stream.capture_rings = (FrameRing(4),)
    host = PortAudioHost()
    try:
        stream.service(host, time.monotonic(), others_open=True)  # real PortAudio: no such card
    finally:
        host.terminate()
    assert stream.state is DeviceState.STARTING
    assert "nosuchcard" in str(stream.last_error)
    due = stream.next_service(time.monotonic())
    assert due is not None and WATCH_INTERVAL < due <= 30.0
    soonest = _next_service([stream, DeviceStream("other", options)])
    assert soonest is not None and 0 < soonest <= due


def test_a_running_device_is_watched_every_half_stall_timeout_at_most_every_half_second() -> None:
    short = DeviceStream("a", StreamOptions(frame_samples=160, stall_timeout=0.3))
    default = DeviceStream("b", StreamOptions(frame_samples=160))
    never = DeviceStream("c", StreamOptions(frame_samples=160, stall_timeout=None))
    for stream in (short, default, never):
        stream.state = DeviceState.RUNNING
    assert short.next_service(0.0) == 0.15
    assert default.next_service(0.0) == WATCH_INTERVAL
    assert never.next_service(0.0) == WATCH_INTERVAL
