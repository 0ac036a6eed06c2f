"""The cache of the code ``dataclasses`` generates (``endpoint.dataclass_cache``, issue 19).

What must hold: the hook is where ``dataclasses`` looks (so a CPython that stops looking there
fails here instead of silently starting slower), a second start takes every method from the file,
the methods are the very same code with and without the cache for every dataclass of the
package, and a truncated, corrupt or untrusted file is not used: the classes compile as before.
The starts are real interpreters with their own PYTHONPYCACHEPREFIX and bytecode writing on.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from endpoint import dataclass_cache
from endpoint.dataclass_cache import HEADER, CodeCache
from tests.interop.peers import free_port
from tests.security.attacker import p2p_config
from tests.service.harness import NotifySocket, Service

ROOT = Path(__file__).resolve().parents[1]

SOURCE = "def __create_fn__():\n def f(self):\n  return 42\n return f"

#: A child interpreter: the hook's counters after the imports of ``sip-endpoint run``.
STATS = """
import json, endpoint.cli, endpoint.runtime.engine
from endpoint import dataclass_cache as c
print(json.dumps([c.active.hits, c.active.misses, c.active.path]))
"""

#: A child interpreter: every generated method of every dataclass in the package, as the
#: attributes of its code object, and the hook's counters. argv[1] == "plain": no hook at all.
METHODS = """
import dataclasses, importlib, json, pkgutil, sys, types
if sys.argv[1] == "plain":
    stub = types.ModuleType("endpoint.dataclass_cache")
    stub.install = lambda cached: None
    sys.modules["endpoint.dataclass_cache"] = stub
import endpoint

def const(value):  # a frozenset (3.13's __setattr__) iterates in insertion order: sorted
    if isinstance(value, types.CodeType):
        return describe(value)
    return repr(sorted(value)) if isinstance(value, frozenset) else repr(value)

def describe(code):
    return [repr(getattr(code, name)) for name in (
        "co_code", "co_names", "co_varnames", "co_freevars", "co_cellvars", "co_filename",
        "co_name", "co_qualname", "co_firstlineno", "co_flags", "co_argcount",
        "co_posonlyargcount", "co_kwonlyargcount", "co_stacksize", "co_linetable",
        "co_exceptiontable")] + [const(c) for c in code.co_consts]

found = {}
for info in pkgutil.walk_packages(endpoint.__path__, "endpoint."):
    if info.name.endswith("__main__"):
        continue
    module = importlib.import_module(info.name)
    for cls in vars(module).values():
        if (isinstance(cls, type) and dataclasses.is_dataclass(cls)
                and cls.__module__ == info.name):
            found[f"{info.name}.{cls.__qualname__}"] = {
                "fields": [f.name for f in dataclasses.fields(cls)],
                "match_args": repr(getattr(cls, "__match_args__", None)),
                **{name: describe(value.__code__) for name, value in sorted(vars(cls).items())
                   if isinstance(value, types.FunctionType)},
            }
active = getattr(sys.modules["endpoint.dataclass_cache"], "active", None)
print(json.dumps([found, active and [active.hits, active.misses]]))
"""


def child(program: str, pycache: Path, *args: str, bytecode: bool = True) -> object:
    """Run ``program`` in a fresh interpreter that keeps bytecode under ``pycache`` (and writes
    it, unless ``bytecode`` is false)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPYCACHEPREFIX=str(pycache), PYTHONPATH=str(ROOT))
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", program, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_the_hook_is_what_dataclasses_calls() -> None:
    assert dataclass_cache.active is not None
    assert dataclasses.exec is dataclass_cache._cached_exec  # type: ignore[attr-defined]
    before = (dataclass_cache.active.hits, dataclass_cache.active.misses)

    def make() -> type:
        return dataclasses.make_dataclass("Probe", [("field_only_this_test_has", int)])

    first = make()
    assert dataclass_cache.active.misses > before[1]
    hits = dataclass_cache.active.hits
    second = make()
    assert dataclass_cache.active.hits > hits
    assert second(1) == second(1) and repr(first(2)) == "Probe(field_only_this_test_has=2)"


def test_a_second_start_takes_every_method_from_the_file(tmp_path: Path) -> None:
    hits, misses, path = child(STATS, tmp_path)  # type: ignore[misc]
    assert misses > 15 and Path(path).is_file()  # 3.11: one text per method, 3.13 per class
    assert Path(path).is_relative_to(tmp_path)  # beside the .pyc files, under the prefix
    assert child(STATS, tmp_path) == [hits + misses, 0, path]


def test_generated_methods_are_the_same_code_with_and_without_the_cache(tmp_path: Path) -> None:
    plain, no_hook = child(METHODS, tmp_path / "plain", "plain")  # type: ignore[misc]
    assert no_hook is None and len(plain) > 150
    child(METHODS, tmp_path / "cached", "cached")  # writes the file
    cached, (hits, misses) = child(METHODS, tmp_path / "cached", "cached")  # type: ignore[misc]
    assert misses == 0 and hits >= len(plain)  # 3.11: one text per method, 3.13 per class
    assert cached == plain


def test_build_writes_the_file_even_where_bytecode_is_not_written(tmp_path: Path) -> None:
    program = "import json\nfrom endpoint import dataclass_cache as c\n" + (
        "cache = c.build()\nprint(json.dumps([cache.pending, cache.path]))"
    )
    assert child(STATS, tmp_path, bytecode=False)[1] > 0  # type: ignore[index]
    pending, path = child(program, tmp_path, bytecode=False)  # type: ignore[misc]
    assert pending == 0 and Path(path).is_file()
    assert child(STATS, tmp_path, bytecode=False)[1] == 0  # type: ignore[index]


def test_install_builds_the_file(tmp_path: Path) -> None:
    program = (
        "import sys\nfrom pathlib import Path\nfrom endpoint.service.install import Installer\n"
        "Installer(Path('/'), sys.stdout, dry=False)._dataclass_cache()\nprint(0)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPYCACHEPREFIX=str(tmp_path), PYTHONPATH=str(ROOT))
    said = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert f"dataclass code cache: {tmp_path}" in said
    assert child(STATS, tmp_path)[1] == 0  # type: ignore[index]


def test_without_a_file_nothing_is_kept(tmp_path: Path) -> None:
    cache = CodeCache(None)
    cache.code_for(SOURCE)
    assert cache.pending == 0 and not cache.save(force=True)


def test_the_service_writes_the_file_once_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path / "pyc"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # this checkout, whatever the venv points at
    config = tmp_path / "door.toml"
    p2p_config(config, free_port(both=True))
    notify = NotifySocket(tmp_path / "notify")
    service = Service(config, notify)
    here = tmp_path / "pyc" / ROOT.relative_to("/") / "endpoint"
    try:
        notify.wait_for(lambda d: d.get("READY") == "1", timeout=30)
        deadline = time.monotonic() + 20
        while not list(here.glob("dataclasses.*.bin")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        service.stop()  # SIGKILL: no exit handler wrote it
        notify.close()
    assert child(STATS, tmp_path / "pyc")[1] == 0  # type: ignore[index]


def written(path: Path) -> CodeCache:
    """A cache file holding ``SOURCE`` only."""
    cache = CodeCache(str(path))
    cache.code_for(SOURCE)
    assert cache.save(force=True)
    return cache


def compiles(path: Path) -> bool:
    """True when ``SOURCE`` had to be compiled (the file was not used), and its code works."""
    cache = CodeCache(str(path))
    namespace: dict[str, object] = {}
    exec(cache.code_for(SOURCE), {}, namespace)
    assert namespace["__create_fn__"]()(None) == 42  # type: ignore[operator]
    return cache.misses == 1


def test_a_written_file_is_used(tmp_path: Path) -> None:
    path = tmp_path / "cache.bin"
    written(path)
    assert not compiles(path)
    assert stat.S_IMODE(path.stat().st_mode) & 0o022 == 0


def corrupt_tag(data: bytes) -> bytes:
    return b"XXXX" + data[4:]


def corrupt_index(data: bytes) -> bytes:
    return data[: HEADER.size] + b"\xff" * 8 + data[HEADER.size + 8 :]


def corrupt_entry(data: bytes) -> bytes:
    _, index_len, _ = HEADER.unpack_from(data)
    start = HEADER.size + index_len
    return data[:start] + b"\xff" + data[start + 1 :]


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-10],  # truncated
        lambda data: data[: HEADER.size - 1],
        lambda data: b"",
        lambda data: data + b"\0",
        corrupt_tag,
        corrupt_index,
        corrupt_entry,
    ],
    ids=["truncated", "short-header", "empty", "trailing", "tag", "index", "entry"],
)
def test_a_damaged_file_means_compiling(tmp_path: Path, damage: object) -> None:
    path = tmp_path / "cache.bin"
    written(path)
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    assert compiles(path)


def test_a_start_with_a_corrupt_file_compiles(tmp_path: Path) -> None:
    first = child(STATS, tmp_path)  # no file yet: hits are texts compiled twice in one start
    Path(first[2]).write_bytes(os.urandom(4000))  # type: ignore[index]
    assert child(STATS, tmp_path) == first


def test_a_file_others_may_write_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "cache.bin"
    written(path)
    path.chmod(0o666)
    assert compiles(path)
    path.chmod(0o644)
    tmp_path.chmod(0o777)
    assert compiles(path)
    tmp_path.chmod(0o755)
    assert not compiles(path)


def test_a_symlink_is_not_followed(tmp_path: Path) -> None:
    real = tmp_path / "real.bin"
    written(real)
    link = tmp_path / "cache.bin"
    link.symlink_to(real)
    assert compiles(link)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_file_of_another_user_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "cache.bin"
    written(path)
    os.chown(path, 65534, -1)
    assert compiles(path)


def test_nothing_is_written_where_bytecode_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cache.bin"
    cache = CodeCache(str(path))
    cache.code_for(SOURCE)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert not cache.save() and not path.exists()
    cache.code_for(SOURCE.replace("42", "43"))
    assert cache.pending == 0  # no save to come: nothing kept for one
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    cache = CodeCache(str(path))
    cache.code_for(SOURCE)
    assert cache.save() and cache.pending == 0
    assert not cache.save()  # nothing new


def test_released_pages_are_read_again(tmp_path: Path) -> None:
    path = tmp_path / "cache.bin"
    written(path)
    cache = CodeCache(str(path))
    cache.code_for(SOURCE)
    cache.release()
    namespace: dict[str, object] = {}
    exec(cache.code_for(SOURCE), {}, namespace)
    assert namespace["__create_fn__"]()(None) == 42  # type: ignore[operator]
    assert (cache.hits, cache.misses) == (2, 0)


def test_a_save_keeps_the_entries_already_there(tmp_path: Path) -> None:
    path = tmp_path / "cache.bin"
    written(path)
    other = "def __create_fn__():\n def g(self):\n  return 7\n return g"
    cache = CodeCache(str(path))
    cache.code_for(other)
    assert cache.save(force=True)
    again = CodeCache(str(path))
    again.code_for(SOURCE)
    again.code_for(other)
    assert (again.hits, again.misses) == (2, 0)


def test_a_file_grown_too_big_starts_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cache.bin"
    stale = CodeCache(str(path))
    for n in range(3):
        stale.code_for(f"def __create_fn__():\n def f(self):\n  return {n}\n return f")
    assert stale.save(force=True)
    monkeypatch.setattr(dataclass_cache, "MAX_ENTRIES", 3)
    cache = CodeCache(str(path))
    cache.code_for(SOURCE)  # new: 4 entries would be too many
    assert cache.save(force=True)
    again = CodeCache(str(path))
    again.code_for(SOURCE)
    again.code_for("def __create_fn__():\n def f(self):\n  return 0\n return f")
    assert (again.hits, again.misses) == (1, 1)
