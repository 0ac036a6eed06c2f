"""The adaptive jitter buffer: network packets in, one 20 ms frame out per playout tick.

Packets arrive early, late, out of order, twice or never; the sound card wants exactly one frame
every 20 ms by *its* clock. The buffer keys frames by RTP timestamp, holds them for a target
delay that follows the measured jitter within [min, max] (quick to grow on a spike, slow to
shrink), drops duplicates and packets that come after their playout time, and fills gaps with
loss concealment (plc.py). An underrun while the target asks for more delay than the buffer holds
is where it grows: the playout point waits for the late frame (concealing) instead of skipping it.
Two clocks never run at exactly the same rate: a sender 500 ppm fast
adds a frame of delay every 40 s, one 500 ppm slow drains the buffer. So when the buffered depth
drifts away from the target, one frame is dropped or a silent one inserted, preferably where
the audio is quiet; over a call of hours the delay neither grows nor underruns.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from endpoint.media.frame import FRAME_SAMPLES, SAMPLE_RATE, Frame, silence
from endpoint.media.pcm_ops import rms
from endpoint.media.plc import Concealer, LossConcealer

#: A frame quieter than this RMS (about -50 dBFS) is "silence" for drift compensation.
QUIET_RMS = 100.0
#: Packets over which the fastest transit time is remembered (10 s at 20 ms).
WINDOW = 500
#: A timestamp this many frames away from the playout point means the stream restarted.
RESYNC_FRAMES = 250
#: Consecutive frames beyond the maximum delay that mean a real timestamp jump (not a spoofed
#: packet among good ones): half a second of them and the buffer follows.
EARLY_RESYNC = 25
#: Frames of spread below which the target does not grow (20 ns at 20 ms: float rounding).
SPREAD_ROUNDING = 1e-6


@dataclass
class JitterStats:
    received: int = 0
    played: int = 0
    late: int = 0
    duplicates: int = 0
    overflow: int = 0
    #: Frames that would have put more than ``max_delay_ms`` in the buffer: dropped.
    too_early: int = 0
    concealed: int = 0
    drift_dropped: int = 0
    drift_inserted: int = 0
    resyncs: int = 0


class JitterBuffer:
    def __init__(
        self,
        min_delay_ms: int = 20,
        max_delay_ms: int = 200,
        frame_samples: int = FRAME_SAMPLES,
        clock_rate: int = SAMPLE_RATE,
        *,
        audio_samples: int | None = None,
        plc: LossConcealer | None = None,
    ) -> None:
        #: Timestamp ticks per frame (what RTP counts in).
        self.frame_samples = frame_samples
        #: PCM samples per frame: the ticks, except where the audio rate is not the clock
        #: rate (G.722: 320 samples of 16 kHz audio per 160 ticks of its 8 kHz clock).
        self.audio_samples = audio_samples or frame_samples
        self.frame_ms = frame_samples * 1000 / clock_rate
        self.clock_rate = clock_rate
        self.min_frames = max(1, round(min_delay_ms / self.frame_ms))
        self.max_frames = max(self.min_frames, round(max_delay_ms / self.frame_ms))
        self.stats = JitterStats()
        #: The codec's own concealment when it has one (Opus), else G.711 Appendix I's.
        self.plc: LossConcealer = plc or Concealer(self.audio_samples)
        self._frames: dict[int, Frame] = {}
        self._next: int | None = None  # extended frame index to play next
        self._last_index: int | None = None  # for unwrapping 32-bit timestamps
        self._transits: deque[tuple[int, float]] = deque()
        self._last_transit = 0.0
        self._count = 0
        self._spread = 0.0  # seconds: how late packets come relative to the earliest one
        self._last_quiet = True
        self._level = 0.0
        self._early_run = 0
        #: Frames the playout point has waited, in the current underrun, for a late frame.
        self._waited = 0

    # -- input -------------------------------------------------------------------------------

    def _index(self, timestamp: int) -> int:
        """Frame index from a 32-bit timestamp, unwrapped near the previous one."""
        raw = timestamp // self.frame_samples
        modulus = (1 << 32) // self.frame_samples
        if self._last_index is None:
            return raw
        last = self._last_index
        index = last - last % modulus + raw
        # Of index - modulus, index and index + modulus, the nearest to the last one (the
        # lower on a tie); |index - last| < modulus, so one comparison each way decides.
        if 2 * (index - last) >= modulus:
            return index - modulus
        if 2 * (index - last) < -modulus:
            return index + modulus
        return index

    def put(self, timestamp: int, pcm: Frame, arrival: float) -> None:
        """A decoded frame (``frame_samples`` long) with its RTP timestamp and arrival time."""
        index = self._index(timestamp)
        self._last_index = index
        self.stats.received += 1
        self._measure(timestamp, arrival)
        if self._next is not None and abs(index - self._next) > RESYNC_FRAMES:
            self._frames.clear()
            self._next = None
            self.stats.resyncs += 1
        if self._next is not None and index < self._next:
            self.stats.late += 1
            return
        if self._next is not None and index >= self._next + self.max_frames:
            # Issue 13 rule 4: whatever arrives, the delay stays within max_delay_ms. A frame
            # further ahead is a spoofed or broken packet, unless a run of them shows the
            # sender's timestamps really jumped: then start again from there.
            self._early_run += 1
            if self._early_run < EARLY_RESYNC:
                self.stats.too_early += 1
                return
            self._frames.clear()
            self._next = None
            self.stats.resyncs += 1
        self._early_run = 0
        if index in self._frames:
            self.stats.duplicates += 1
            return
        self._frames[index] = pcm
        while len(self._frames) > 2 * self.max_frames + 2:
            del self._frames[min(self._frames)]
            self.stats.overflow += 1

    def restart(self) -> None:
        """A new RTP source: its timestamps have nothing to do with the old ones."""
        self._frames.clear()
        self._next = None
        self._last_index = None
        self._transits.clear()
        self._spread = 0.0
        self._waited = 0
        self.stats.resyncs += 1

    def _measure(self, timestamp: int, arrival: float) -> None:
        """Track how late packets come relative to the fastest one of the last ~10 s.

        A sliding minimum, not an all-time one, so that clock drift between the sender and us
        (which makes transit times creep) is not mistaken for jitter.
        """
        transit = arrival - timestamp / self.clock_rate
        window = self._transits
        if window and abs(transit - self._last_transit) > 10.0:
            window.clear()  # a timestamp jump or wrap: start measuring afresh
            self._spread = 0.0
        self._last_transit = transit
        # Sliding minimum over the last WINDOW packets: a deque of (index, transit) with
        # increasing transits, so the minimum is always at the left (O(1) amortised).
        self._count += 1
        while window and window[-1][1] >= transit:
            window.pop()
        window.append((self._count, transit))
        if window[0][0] <= self._count - WINDOW:
            window.popleft()
        late = transit - window[0][1]
        # Peak tracker: a spike raises the estimate at once; it decays by ~1 % per packet.
        self._spread = max(late, self._spread * 0.99)

    # -- output ------------------------------------------------------------------------------

    @property
    def target_frames(self) -> int:
        # Less than a microsecond of spread is the float rounding of a steady stream's
        # transit times, not jitter: it must not ask for a whole frame more.
        wanted = 1 + math.ceil(self._spread * 1000 / self.frame_ms - SPREAD_ROUNDING)
        return min(max(wanted, self.min_frames), self.max_frames)

    @property
    def depth(self) -> int:
        """Frames buffered from the playout point to the newest frame."""
        if self._next is None or not self._frames:
            return 0
        return max(self._frames) - self._next + 1

    @property
    def delay_ms(self) -> float:
        return self.depth * self.frame_ms

    def get(self, now: float) -> Frame:
        """The next frame to play: real audio, concealment, or silence before the start."""
        if self._next is None:
            if not self._frames:
                return silence(self.audio_samples)
            span = max(self._frames) - min(self._frames) + 1
            if span < self.target_frames:
                return silence(self.audio_samples)
            self._next = min(self._frames)
            for index in [i for i in self._frames if i >= self._next + self.max_frames]:
                del self._frames[index]  # a far-ahead frame among the first ones
                self.stats.too_early += 1
            self._level = float(self.depth)
        depth, target = self.depth, self.target_frames
        # The smoothed depth separates a steady trend (clock drift, a lower jitter target)
        # from the tick-to-tick wobble of packet arrival phases.
        self._level += (depth - self._level) * 0.05
        if self._level > target + 1 and depth > target + 1 and self._next in self._frames:
            # Too much delay: skip a frame, a quiet one if the buffer allows waiting for it.
            if _quiet(self._frames[self._next]) or depth > target + 4:
                del self._frames[self._next]
                self._next += 1
                self._level -= 1
                self.stats.drift_dropped += 1
        elif self._level < target - 0.6 and depth < target and self._last_quiet:
            # Too little: play one silent frame without consuming, in a pause.
            self._level += 1
            self.stats.drift_inserted += 1
            self.stats.played += 1
            return self.plc.good(silence(self.audio_samples))
        frame = self._frames.pop(self._next, None)
        self.stats.played += 1
        if frame is None:
            self.stats.concealed += 1
            out = self.plc.conceal()
            if not self._frames and self._level < target - 0.6 and self._waited < target - 1:
                # An underrun while the measured jitter wants more delay: wait for the frame
                # instead of skipping it. Concealment plays either way, so this grows the
                # buffer where the listener cannot tell, whereas the quiet frame the silent
                # insertion above waits for never comes in a continuous sound: skipping threw
                # away every frame that came one tick late (issue 15). At most target - 1
                # frames per underrun, so a sender that pauses does not push the delay up.
                self._waited += 1
                self._level += 1
                self._last_quiet = _quiet(out)
                return out
        else:
            self._waited = 0
            out = self.plc.good(frame)
        self._next += 1
        self._last_quiet = _quiet(out)
        return out


def _quiet(frame: Frame) -> bool:
    return rms(frame) < QUIET_RMS
