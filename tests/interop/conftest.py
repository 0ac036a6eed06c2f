"""Fixtures starting real peers (see peers.py); each test gets its own instances and ports."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.peers import Kamailio


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[Kamailio]:
    k = Kamailio(tmp_path / "kamailio").start()
    try:
        yield k
    finally:
        k.stop()
