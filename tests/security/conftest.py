"""Fixtures of the security tests: the real endpoint process in peer-to-peer mode, and (from
the interop fixtures) a real Kamailio for account mode."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.conftest import kamailio
from tests.interop.peers import free_port
from tests.security.attacker import Door, p2p_config, running_door

__all__ = ["kamailio", "p2p_door"]


@pytest.fixture
def p2p_door(tmp_path: Path) -> Iterator[Door]:
    port = free_port(both=True)
    config = tmp_path / "door.toml"
    p2p_config(config, port)
    with running_door(tmp_path, port, config) as door:
        yield door
