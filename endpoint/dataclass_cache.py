"""The code that ``dataclasses`` compiles, compiled once and kept beside our ``.pyc`` files.

Why: ``@dataclass`` writes ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__`` and ``__delattr__`` of every class as source text and compiles it with ``exec``
when the class is created, that is at every start, for the ~1,100 methods of our frozen, slotted
dataclasses (DESIGN style 4). Compiling is about 75 % of creating such a class, and the texts are
the same at every start (issue 19: start -> ready < 300 ms on a Pi Zero 2 W). So the compiled
code objects are kept in one file, keyed by a BLAKE2b-128 digest of the source text, and a class
created again runs the stored code instead of compiling it: the classes stay real dataclasses,
with the very same methods, ``fields()``, ``replace()`` and frozen errors.

How: ``install()`` (the first thing ``endpoint/__init__.py`` does, before any of our classes
exists) sets the module global ``dataclasses.exec`` to a function that looks the code up here,
and compiles on a miss exactly as ``exec`` would (``dont_inherit=True``: dataclasses' own frame
has no ``from __future__`` flags, ours do). The file is ``mmap``-ed and each hit unmarshals
only its own entry.

The trade-off: this leans on a private detail of ``dataclasses``, that it looks ``exec`` up as a
module global (3.11 ``_create_fn``, 3.13 ``_FuncBuilder.add_fns_to_class``). Should a later
Python stop doing so, the hook is never called and every class compiles as before: slower, never
wrong (``tests/test_dataclass_cache.py`` then fails, so we notice).

Trust: the file holds code the process runs, so it gets exactly a ``.pyc``'s trust. It lives in
the ``__pycache__`` directory of this package (from ``__cached__``, so PYTHONPYCACHEPREFIX is
honoured), and it is read only when it is a regular file (no symlink) that belongs, like its
directory, to root or to us, and neither is writable by group or others. It is written, like a
``.pyc``, only when ``sys.dont_write_bytecode`` is false, atomically, after READY and at exit;
on a device the service cannot write there (ProtectSystem=strict), so ``sip-endpoint install``
and ``install-device.sh`` build it as root (``build()``) when they compile the venv.

Failure modes: a missing, foreign, stale, truncated or corrupt file means compiling as before.
A stale entry cannot be used by mistake: the key is the digest of the very text compiled, and
the file's name carries the interpreter's cache tag, bytecode magic and optimisation level.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import marshal
import mmap
import os
import stat
import struct
import sys
from importlib.util import MAGIC_NUMBER
from types import CodeType
from typing import Any

try:  # the built-in module: hashlib would load OpenSSL's libcrypto for nothing
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a build without it
    from hashlib import blake2b

#: File header: format tag, length of the marshalled index, length of the code that follows.
HEADER = struct.Struct("<4sII")
FORMAT = b"DCC1"
#: Above this many entries a save starts the file over with this process's new entries (stale
#: texts pile up only on a developer's machine; the package has ~1,100).
MAX_ENTRIES = 4096
_real_exec = exec


def key(source: str) -> bytes:
    """The index key of one generated source text."""
    return blake2b(source.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def cache_path(package_cached: str | None) -> str | None:
    """The cache file beside the package's ``__init__`` .pyc (``__cached__``; None without one)."""
    if not package_cached:
        return None
    opt = f".opt-{sys.flags.optimize}" if sys.flags.optimize else ""
    tag = sys.implementation.cache_tag
    name = f"dataclasses.{tag}{opt}.{MAGIC_NUMBER.hex()}.bin"
    return os.path.join(os.path.dirname(package_cached), name)


def _trusted(info: os.stat_result) -> bool:
    """Owned by root or by us, not writable by group or others: what a .pyc must be to us."""
    return info.st_uid in (0, os.geteuid()) and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


class CodeCache:
    """The index of one cache file (mapped read-only) and the code compiled since."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.hits = 0
        self.misses = 0
        self._mapping: mmap.mmap | None = None
        self._view: memoryview | None = None
        #: False without a file or once a save was refused: nothing is kept for a save then.
        self._collect = path is not None
        self._index: dict[bytes, int] = {}
        self._new: dict[bytes, CodeType] = {}
        if path is not None:
            self._map(path)

    def _map(self, path: str) -> None:
        """Map ``path`` if it is trusted and whole; otherwise stay empty (compile as before)."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return
        try:
            info = os.fstat(fd)
            if not (
                stat.S_ISREG(info.st_mode)
                and _trusted(info)
                and _trusted(os.stat(os.path.dirname(path)))
                and info.st_size >= HEADER.size
            ):
                return
            mapping = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
            view = memoryview(mapping)
            tag, index_len, data_len = HEADER.unpack_from(view)
            start = HEADER.size + index_len
            if tag != FORMAT or start + data_len != len(view):
                return
            index = marshal.loads(view[HEADER.size : start])
            if type(index) is not dict:
                return
        except (OSError, ValueError, EOFError, TypeError, struct.error):
            return
        finally:
            os.close(fd)
        self._mapping, self._view, self._index = mapping, view[start:], index

    def code_for(self, source: str) -> CodeType:
        """The code of ``source``: from the file, from this process, or compiled now."""
        digest = key(source)
        code = self._new.get(digest) or self._stored(digest)
        if code is not None:
            self.hits += 1
            return code
        self.misses += 1
        code = compile(source, "<string>", "exec", dont_inherit=True)
        if self._collect:
            self._new[digest] = code
        return code

    def _stored(self, digest: bytes) -> CodeType | None:
        """One entry of the file; None when absent or unreadable (then it is compiled)."""
        offset = self._index.get(digest)
        view = self._view
        if view is None or type(offset) is not int or offset < 0:
            return None
        try:
            code = marshal.loads(view[offset:])  # marshal ignores the entries that follow
        except (ValueError, EOFError, TypeError):
            return None
        return code if type(code) is CodeType else None

    @property
    def pending(self) -> int:
        """Entries compiled by this process and not yet in the file."""
        return len(self._new)

    def save(self, *, force: bool = False) -> bool:
        """Write the file again with this process's new entries; True when written.

        Only when ``.pyc`` files are written too (``sys.dont_write_bytecode``), unless ``force``
        (``build()``); a read-only or foreign directory is no error, as for a ``.pyc``. A
        refused save drops the new entries and keeps no more: ~1 MB of code objects on a
        device whose file is missing and cannot be written.
        """
        if self.path is None or not self._new:
            return False
        if sys.dont_write_bytecode and not force:
            self._collect = False
            self._new.clear()
            return False
        new = dict(self._new)
        blobs = self._kept_entries(len(new))
        blobs.update((digest, marshal.dumps(code)) for digest, code in new.items())
        index, offset = {}, 0
        for digest, blob in blobs.items():
            index[digest] = offset
            offset += len(blob)
        head = marshal.dumps(index)
        content = HEADER.pack(FORMAT, len(head), offset) + head + b"".join(blobs.values())
        written = self._write(content)
        for digest in new:
            del self._new[digest]
        if not written:
            self._collect = False
            return False
        self._mapping, self._view, self._index = None, None, {}
        self._map(self.path)
        return True

    def release(self) -> None:
        """Give back the file's pages read so far (they count in RSS): the mapping stays, so a
        later import faults in only the entries it needs."""
        if self._mapping is not None and hasattr(mmap, "MADV_DONTNEED"):
            self._mapping.madvise(mmap.MADV_DONTNEED)

    def _kept_entries(self, adding: int) -> dict[bytes, bytes]:
        """The file's entries to write again: all, or none when the file would grow too big."""
        view = self._view
        if view is None or len(self._index) + adding > MAX_ENTRIES:
            return {}
        ordered = sorted((offset, digest) for digest, offset in self._index.items())
        ends = [offset for offset, _ in ordered[1:]] + [len(view)]
        return {
            digest: bytes(view[offset:end])
            for (offset, digest), end in zip(ordered, ends, strict=True)
        }

    def _write(self, content: bytes) -> bool:
        """Atomically, never through a symlink, mode 0644: what ``_map`` will trust."""
        assert self.path is not None
        temporary = f"{self.path}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            try:
                os.write(fd, content)
            finally:
                os.close(fd)
            os.replace(temporary, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            return False
        return True


#: The process's cache once ``install()`` has run.
active: CodeCache | None = None


def _cached_exec(source: Any, globals: Any = None, locals: Any = None, /, **kwargs: Any) -> None:
    """``exec`` for ``dataclasses``: a source text runs its cached code, anything else as is."""
    if type(source) is str and active is not None:
        source = active.code_for(source)
    _real_exec(source, globals, locals, **kwargs)


def install(package_cached: str | None) -> None:
    """Hook ``dataclasses`` (once) and save what is new when the process exits."""
    global active
    if active is not None:
        return
    active = CodeCache(cache_path(package_cached))
    dataclasses.exec = _cached_exec  # type: ignore[attr-defined]
    atexit.register(save)


def save() -> bool:
    """Write what this process compiled (after READY, at exit), as a ``.pyc`` would be, and
    give back the pages of the file read so far."""
    if active is None:
        return False
    written = active.save()
    active.release()
    return written


def release() -> None:
    """Give back the pages of the file read so far (``CodeCache.release``)."""
    if active is not None:
        active.release()


def build() -> CodeCache | None:
    """Import every module of the package and write the cache even if ``.pyc`` writing is off:
    ``sip-endpoint install`` and ``install-device.sh`` run this (as root) after compiling the
    venv. A module that cannot be imported here (an optional dependency missing, a library
    that fails to load) is skipped: the service cannot import it either, and install goes on.
    The cache, whose ``pending`` is 0 when the file holds everything; None without a hook."""
    import importlib
    import pkgutil

    import endpoint

    for module in pkgutil.walk_packages(endpoint.__path__, "endpoint."):
        if not module.name.endswith(".__main__"):
            try:
                importlib.import_module(module.name)
            except Exception:  # whatever it is, the service meets it and reports it itself
                continue
    if active is not None:
        active.save(force=True)
    return active
