"""``[nat]``: the STUN server and how long a call waits for it."""

import pytest

from endpoint.config import ConfigError, parse_config
from endpoint.config.reader import HostPort


def test_defaults_leave_stun_off() -> None:
    nat = parse_config("").nat
    assert nat.stun_server is None and nat.stun_timeout == 0.5 and nat.keepalive_s == 15


def test_server_port_defaults_to_3478_and_names_are_kept() -> None:
    assert parse_config('[nat]\nstun_server = "stun.example.net"\n').nat.stun_server == HostPort(
        "stun.example.net", 3478
    )
    assert parse_config('[nat]\nstun_server = "[2001:db8::1]:3479"\n').nat.stun_server == (
        HostPort("2001:db8::1", 3479)
    )


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('stun_server = "bad host!"', "stun_server"),
        ("stun_server = 3478", "stun_server"),
        ("stun_timeout = 10", "stun_timeout"),
        ("stun_timeout = 0", "stun_timeout"),
        ("keepalive_s = -1", "keepalive_s"),
        ("keepalive_s = 301", "keepalive_s"),
        ("stun_tmeout = 1", "stun_tmeout"),
    ],
)
def test_bad_values_name_the_key_and_the_fix(line: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(f"[nat]\n{line}\n")
    (problem,) = info.value.problems
    assert f"[nat] {key}" in problem or key in problem, problem
