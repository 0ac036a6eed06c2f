"""Imports that refuse what this process will not use (issue 19: memory on a Pi Zero): asyncio
without ``ssl`` when the configuration needs no TLS, and `import_refusing` for a library that
takes an optional package it finds (paho and dnspython).

Importing asyncio imports ``ssl``, and ``ssl`` maps libssl and libcrypto: about 4.6 MB of RSS in
a process that, with UDP or TCP SIP and no https anywhere, never opens a TLS connection.
asyncio is written to run without it: ``base_events``, ``selector_events`` and ``sslproto`` each
do ``try: import ssl`` / ``except ImportError: ssl = None`` (3.11 to 3.13). So ``sip-endpoint
run`` imports asyncio while a meta-path finder refuses ``ssl``, and removes the finder at once:
what asyncio bound stays None, every later ``import ssl`` (a subcommand, a library) works.
A process started that way cannot open TLS until it restarts, which is why a SIGHUP reload
that newly needs TLS is planned as a restart (``asyncio_has_ssl``, ``service/reload.py``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

_BLOCKED = frozenset({"ssl", "_ssl"})


class _Refuse:
    """A meta-path finder that makes ``import ssl`` (or another refused top-level package)
    fail like a Python built without it."""

    def __init__(self, refused: frozenset[str] = _BLOCKED) -> None:
        self.refused = refused

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name.partition(".")[0] in self.refused:
            raise ModuleNotFoundError(f"No module named {name!r} (not used here)", name=name)
        return None


def import_asyncio(tls: bool) -> None:
    """Import asyncio: with ``ssl`` when ``tls`` (``config.needs_tls``), else without it.

    Does nothing special when asyncio or ssl is already loaded: then it is too late to save
    anything, and asyncio has (or will keep) its TLS."""
    if tls or "asyncio" in sys.modules or "ssl" in sys.modules:
        importlib.import_module("asyncio")
        return
    finder = _Refuse()
    sys.meta_path.insert(0, finder)
    try:
        importlib.import_module("asyncio")
    finally:
        sys.meta_path.remove(finder)


def import_refusing(name: str, unused: frozenset[str]) -> ModuleType:
    """Import ``name`` while refusing ``unused``: top-level packages that ``name`` imports if
    it finds them (``try: import ...``) and that the caller knows it will never use. Modules
    already loaded are not affected."""
    finder = _Refuse(unused)
    sys.meta_path.insert(0, finder)
    try:
        return importlib.import_module(name)
    finally:
        sys.meta_path.remove(finder)


def asyncio_has_ssl() -> bool:
    """Whether this process's asyncio can open TLS connections and listeners."""
    sslproto = sys.modules.get("asyncio.sslproto")
    return sslproto is not None and getattr(sslproto, "ssl", None) is not None
