"""The chirp measurement on made-up recordings: delay and level found, silence and noise not."""

import numpy as np

from endpoint.audio.echo_path import chirp, measure


def test_a_delayed_quieter_chirp_in_noise_is_found() -> None:
    sweep = chirp(8000)
    rng = np.random.default_rng(1)
    recorded = rng.standard_normal(8000 * 3) * 200
    recorded[1234 : 1234 + len(sweep)] += sweep * 0.25  # -12 dB
    result = measure(sweep, recorded.astype(np.int16), 8000)
    assert result.found
    assert result.delay_s == 1234 / 8000
    assert abs(result.level_db - 20 * np.log10(0.25)) < 0.5


def test_silence_and_noise_alone_are_not_a_chirp() -> None:
    sweep = chirp(8000)
    silent = measure(sweep, np.zeros(8000 * 3, dtype=np.int16), 8000)
    assert not silent.found and silent.mic_rms == 0
    noise = (np.random.default_rng(2).standard_normal(8000 * 3) * 300).astype(np.int16)
    assert not measure(sweep, noise, 8000).found
