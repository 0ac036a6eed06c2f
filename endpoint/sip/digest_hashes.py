"""The hash functions of digest authentication, without OpenSSL where Python has its own.

``hashlib`` imports ``_hashlib``, which maps libcrypto (about 3.5 MB of RSS on a Pi Zero, issue
19). MD5 and SHA-256 are also built into CPython as ``_md5`` and ``_sha256`` (3.11) or ``_sha2``
(3.12+), the modules hashlib itself falls back to: the same digests, the same ``hexdigest``.
They are private names, so ``hashlib`` stays the fallback (a build without them, e.g. a FIPS
one). SHA-512-256 (RFC 7616) exists only in OpenSSL and always comes from ``hashlib``.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

#: hashlib's name of each algorithm -> the built-in modules that may have it, newest first.
_BUILT_IN = {"md5": ("_md5",), "sha256": ("_sha2", "_sha256")}

HexDigest = Callable[[bytes], str]


@functools.cache
def hexdigest(name: str) -> HexDigest:
    """``data -> hex digest`` for hashlib's ``name`` ("md5", "sha256", "sha512_256").

    Resolved at first use: only a challenge (401/407) needs a hash."""
    for module_name in _BUILT_IN.get(name, ()):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        return _hexdigest_of(getattr(module, name))
    import hashlib

    return _hexdigest_of(functools.partial(hashlib.new, name))


def _hexdigest_of(constructor: Callable[[bytes], Any]) -> HexDigest:
    def digest(data: bytes) -> str:
        return str(constructor(data).hexdigest())

    return digest
