"""In-band DTMF detector: false keys in ten minutes of synthesised speech, and its CPU cost.

Prints the number of keys the detector reports on speech through PCMU (every one is false: the
speech has no keys), the seconds of speech, and the CPU time per 20 ms frame. Needs espeak-ng.

    .venv/bin/python benchmarks/bench_inband_dtmf.py [minutes]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from endpoint.media.g711 import CODECS
from endpoint.media.inband_dtmf import InbandDtmfDetector
from tests.media.dtmf_signals import frames
from tests.media.speech import speech


def main(argv: list[str]) -> int:
    minutes = float(argv[0]) if argv else 10.0
    encode, decode = CODECS[0]
    talk = speech(minutes * 60, seed=11)
    heard = [decode(encode(f)) for f in frames(talk)]
    detector = InbandDtmfDetector()
    start = time.process_time()
    keys = [d.digit for f in heard for d in detector.feed(f)]
    cpu = time.process_time() - start
    print(f"speech: {len(talk) / 8000:.0f} s through PCMU, {len(heard)} frames")
    print(f"false keys: {len(keys)} {''.join(keys)!r}")
    print(f"cpu per 20 ms frame: {cpu / len(heard) * 1e6:.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
