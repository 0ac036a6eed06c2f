"""The hands-free `[audio]` keys: defaults by backend, and errors that name key, value and fix."""

import pytest

from endpoint.config import ConfigError, parse_config


def test_processing_is_on_by_default_for_a_sound_card_only() -> None:
    alsa = parse_config('[audio]\nbackend = "alsa"\n').audio
    assert (alsa.echo_cancellation, alsa.noise_suppression, alsa.auto_gain) == (True,) * 3
    null = parse_config('[audio]\nbackend = "null"\n').audio
    assert (null.echo_cancellation, null.noise_suppression, null.auto_gain) == (False,) * 3
    off = parse_config('[audio]\nbackend = "alsa"\necho_cancellation = false\n').audio
    assert not off.echo_cancellation and off.noise_suppression


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('echo_cancellation = "yes"', '[audio] echo_cancellation = "yes": true or false'),
        ("speaker_volume = 20", "[audio] speaker_volume = 20: a level in dB from -60 to 12"),
        ("mic_gain = -30", "[audio] mic_gain = -30: a gain in dB from -20 to 40"),
        ('processing_engine = "aec9"', '[audio] processing_engine = "aec9": one of "auto"'),
        ("echo_delay_ms = 5000", "[audio] echo_delay_ms = 5000: milliseconds from 0 to 1000"),
        ("duplex = 1", "[audio] duplex = 1: true or false"),
    ],
)
def test_a_bad_value_is_named_with_its_fix(line: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(f'[audio]\nbackend = "alsa"\n{line}\n')
    assert message in str(error.value)


def test_a_full_duplex_stream_is_opt_in() -> None:
    """`[audio] duplex` reaches the ALSA port's stream options; off unless set."""
    from endpoint.audio.factory import open_audio

    assert not parse_config('[audio]\nbackend = "alsa"\n').audio.duplex
    audio = parse_config('[audio]\nbackend = "alsa"\nduplex = true\n').audio
    assert audio.duplex
    port = open_audio("alsa", capture_device="card", playback_device="card", duplex=audio.duplex)
    alert = open_audio("alsa", playback_device="card", role="alert", duplex=audio.duplex)
    assert port._options.duplex and alert._options.duplex
