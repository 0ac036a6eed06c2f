"""The audio frame every media and audio module exchanges: 20 ms of 8 kHz mono 16-bit PCM.

G.711 (ITU-T G.711) is defined at 8000 samples/s; the default RTP packetization time of
20 ms (RFC 3551 §4.5) gives 160 samples per frame.
"""

import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.int16]
SAMPLE_RATE = 8000
FRAME_SAMPLES = 160
