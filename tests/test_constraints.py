"""constraints.txt, the device's lock: every runtime dependency pinned, in range, transitively.

install-device.sh installs the wheel with ``--constraint constraints.txt`` and then refuses a
venv holding anything not pinned there; these tests catch a dependency added to pyproject.toml
(or pulled in by a new version of one) before a device does.
"""

import re
import tomllib
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
TEST_TOOLS = {"pytest", "pytest-asyncio", "hypothesis", "mypy", "ruff", "pyvoip"}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, Version]:
    result: dict[str, Version] = {}
    for raw in (ROOT / "constraints.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"{line}: a lock pins with =="
        assert norm(requirement.name) not in result, f"{requirement.name} pinned twice"
        result[norm(requirement.name)] = Version(spec.version)
    return result


def runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]]


def test_every_runtime_dependency_is_pinned_within_its_range() -> None:
    locked = pins()
    for requirement in runtime_requirements():  # markers aside: the lock serves every platform
        name = norm(requirement.name)
        assert name in locked, f"{requirement.name} (pyproject.toml) is not in constraints.txt"
        assert requirement.specifier.contains(locked[name]), (
            f"constraints.txt pins {name}=={locked[name]}, outside pyproject's {requirement}"
        )


def test_the_device_extras_are_pinned_within_their_range() -> None:
    """``pip install 'sip-endpoint[mqtt]' --constraint constraints.txt`` must find its pins."""
    locked = pins()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for text in extras["optional-dependencies"]["mqtt"]:
        requirement = Requirement(text)
        name = norm(requirement.name)
        assert name in locked, f"{requirement.name} ([mqtt] extra) is not in constraints.txt"
        assert requirement.specifier.contains(locked[name])


def test_the_lock_holds_no_test_tools() -> None:
    assert not TEST_TOOLS & set(pins())


def test_what_the_dependencies_need_here_is_pinned_too() -> None:
    """Walk the installed dependencies' own requirements (markers evaluated on this machine)."""
    locked = pins()
    todo = [r for r in runtime_requirements() if r.marker is None or r.marker.evaluate()]
    seen: set[str] = set()
    for _ in range(1000):  # bounded: a dependency graph of a handful of packages
        if not todo:
            break
        requirement = todo.pop()
        name = norm(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        assert name in locked, f"{name} (needed here) is not in constraints.txt"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"constraints.txt pins {name}=={locked[name]}, outside {requirement}"
        )
        try:
            needs = requires(requirement.name) or []
        except PackageNotFoundError:
            continue  # not installed on this platform (lgpio off the Pi): its range was checked
        for text in needs:
            sub = Requirement(text)
            if sub.marker is None or sub.marker.evaluate({"extra": ""}):
                todo.append(sub)
    assert {"numpy", "gpiozero", "colorzero"} <= seen
