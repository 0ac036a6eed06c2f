"""The unit template and the example config ship inside the package, as the checkout has them.

``sip-endpoint install`` reads them from ``endpoint/service/data/`` so that it works from a
wheel-only venv (install-device.sh); in the checkout they are links, which the wheel build
turns into copies. CI (.ci/arm64-userland.sh) runs install from such a wheel.
"""

import tomllib
from pathlib import Path

from endpoint.service.install import DATA, packaged_file

ROOT = Path(__file__).resolve().parents[2]


def test_the_packaged_files_are_the_checkouts() -> None:
    assert (
        packaged_file("sip-endpoint.service").read_bytes()
        == (ROOT / "systemd" / "sip-endpoint.service").read_bytes()
    )
    assert (
        packaged_file("config.toml").read_bytes()
        == (ROOT / "examples" / "config.toml").read_bytes()
    )


def test_the_wheel_takes_them() -> None:
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["endpoint"]
    assert DATA.relative_to(ROOT / "endpoint").as_posix() + "/*" in package_data
