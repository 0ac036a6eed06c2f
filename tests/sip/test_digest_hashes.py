"""Digest's hashes come from CPython's built-in ``_md5``/``_sha2`` (no OpenSSL, issue 19), with
``hashlib`` as the fallback: both branches give the RFCs' own answers."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from endpoint.sip.digest_hashes import hexdigest
from tests.fresh import run_python
from tests.sip import test_digest as rfc

BUILT_IN = ("_md5", "_sha2", "_sha256")


def rfc_examples() -> None:
    """RFC 2617 §3.5 (MD5), RFC 7616 §3.9.1 (MD5, SHA-256), §3.9.2 (SHA-512-256, hashlib)."""
    rfc.test_rfc2617_section_3_5_example()
    for algorithm, expected in (
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ):
        rfc.test_rfc7616_section_3_9_1_examples(algorithm, expected)
    rfc.test_rfc7616_section_3_9_2_sha512_256_userhash_with_errata_4897()


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    hexdigest.cache_clear()
    yield
    hexdigest.cache_clear()


def test_the_rfc_examples_with_the_built_in_hashes(fresh_cache: None) -> None:
    rfc_examples()


def test_the_rfc_examples_with_hashlib_when_the_built_ins_are_missing(
    fresh_cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in BUILT_IN:
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError, like a FIPS build
    rfc_examples()
    assert hexdigest("md5")(b"") == "d41d8cd98f00b204e9800998ecf8427e"


def test_md5_and_sha256_answers_load_neither_hashlib_nor_openssl() -> None:
    script = (
        "import random, sys\n"
        "from endpoint.sip.digest import DigestClient\n"
        "client = DigestClient('door', 'secret', random.Random(1))\n"
        "for algorithm in ('MD5', 'SHA-256'):\n"
        '    value = f\'Digest realm="r", nonce="n", qop="auth", algorithm={algorithm}\'\n'
        "    (field,) = client.answer([value], 401, 'REGISTER', 'sip:r')\n"
        "    assert 'response=' in field[1], field\n"
        "print(sorted({'hashlib', '_hashlib', 'ssl'} & set(sys.modules)))\n"
    )
    out = run_python(script)
    assert out.strip() == "[]", out
