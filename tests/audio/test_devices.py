"""Choosing a device by name or index, and the rate/channels to open it at."""

import pytest

from endpoint.audio.devices import DeviceInfo, Direction, choose_format, find_device
from endpoint.audio.port import AudioError

DEVICES = [
    DeviceInfo(0, "bcm2835 Headphones: - (hw:0,0)", 0, 8, 44100.0),
    DeviceInfo(1, "USB Audio Device: - (hw:1,0)", 1, 2, 48000.0),
    DeviceInfo(2, "sysdefault", 128, 128, 48000.0),
    DeviceInfo(3, "usb", 0, 2, 48000.0),
    DeviceInfo(4, "default", 128, 128, 44100.0, is_default_input=True, is_default_output=True),
]


def test_a_name_is_a_case_insensitive_substring() -> None:
    assert find_device(DEVICES, "usb audio", Direction.CAPTURE).index == 1


def test_an_exact_name_beats_a_substring() -> None:
    assert find_device(DEVICES, "USB", Direction.PLAYBACK).index == 3


def test_a_device_without_channels_in_that_direction_does_not_match() -> None:
    with pytest.raises(AudioError, match="no capture device whose name contains 'headphones'"):
        find_device(DEVICES, "headphones", Direction.CAPTURE)


def test_an_index_and_the_default() -> None:
    assert find_device(DEVICES, 1, Direction.PLAYBACK).name.startswith("USB Audio")
    assert find_device(DEVICES, None, Direction.CAPTURE).index == 4
    with pytest.raises(AudioError, match="index 7"):
        find_device(DEVICES, 7, Direction.PLAYBACK)


def test_8khz_mono_is_taken_when_offered() -> None:
    assert choose_format(lambda rate, ch: True, 2, 48000.0) == (8000, 1)


def test_a_48khz_stereo_only_card_is_opened_as_such() -> None:
    assert choose_format(lambda rate, ch: (rate, ch) == (48000, 2), 2, 48000.0) == (48000, 2)


def test_44100_comes_after_48000() -> None:
    assert choose_format(lambda rate, ch: rate in (44100, 48000), 1, 44100.0) == (48000, 1)


def test_the_device_default_rate_is_the_last_resort() -> None:
    assert choose_format(lambda rate, ch: rate == 11025, 1, 11025.0) == (11025, 1)
    with pytest.raises(AudioError, match="supports none of the rates"):
        choose_format(lambda rate, ch: False, 1, 48000.0)
