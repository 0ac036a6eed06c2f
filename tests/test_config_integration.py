"""[history], [http] and [mqtt] (issue 18): defaults, good values, one clear line per mistake."""

from pathlib import Path

import pytest

from endpoint.config import ConfigError, HostPort, parse_config


def test_defaults_leave_everything_off() -> None:
    config = parse_config("")
    assert config.http.listen is None and config.mqtt.broker is None
    assert config.history.retention_days == 90 and config.mqtt.commands is False
    assert config.mqtt.discovery is True


def test_good_sections(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("0123456789abcdef0123\n")
    (tmp_path / "mqtt-pw").write_text("s3cret\n")
    config = parse_config(
        '[history]\nretention_days = 30\n[http]\nlisten = "127.0.0.1:8080"\n'
        'token_file = "token"\nwebhooks = ["http://10.0.0.5/hook"]\n'
        'webhook_events = ["door-opened"]\n[mqtt]\nbroker = "mqtts://broker.lan:8883"\n'
        'username = "door"\npassword_file = "mqtt-pw"\ntopic_prefix = "door/front"\n'
        "commands = true\n",
        base=tmp_path,
    )
    assert config.history.retention_days == 30
    assert config.http.listen == HostPort("127.0.0.1", 8080)
    assert config.http.token == "0123456789abcdef0123"
    assert config.http.webhooks == ("http://10.0.0.5/hook",)
    assert config.mqtt.password == "s3cret" and config.mqtt.topic_prefix == "door/front"
    assert "s3cret" not in repr(config) and "0123456789abcdef" not in repr(config)


def test_mistakes_are_named_with_their_fix(tmp_path: Path) -> None:
    (tmp_path / "short").write_text("abc\n")
    with pytest.raises(ConfigError) as caught:
        parse_config(
            '[history]\nretention_days = 0\n[http]\nlisten = "nowhere:x"\n'
            'webhooks = ["ftp://x"]\n[mqtt]\nbroker = "tcp://h"\ntopic_prefix = "a/#"\n'
            'password_file = "missing"\ncommand = true\n',
            base=tmp_path,
        )
    text = "\n".join(caught.value.problems)
    assert "[history] retention_days = 0: days between 1 and 3650" in text
    assert '[http] listen = "nowhere:x"' in text
    assert '[http] webhooks = ["ftp://x"]' in text or "[http] webhooks" in text
    assert '[mqtt] broker = "tcp://h": mqtt://host:port' in text
    assert '[mqtt] topic_prefix = "a/#"' in text
    assert "[mqtt] password_file" in text and "cannot be read" in text
    assert "[mqtt] command: unknown key; did you mean commands?" in text
    with pytest.raises(ConfigError) as caught:
        parse_config(
            '[http]\nlisten = "127.0.0.1:8080"\n[mqtt]\nbroker = "mqtt://h"\n', base=tmp_path
        )
    assert "[http] has no token_file" in caught.value.problems[0]
    with pytest.raises(ConfigError) as caught:
        parse_config('[http]\nlisten = "127.0.0.1:8080"\ntoken_file = "short"\n', base=tmp_path)
    assert "the token has 3 characters; use at least 16" in caught.value.problems[0]
    (tmp_path / "token").write_text("0123456789abcdef0123\n")
    config = parse_config('[http]\ntoken_file = "token"\n', base=tmp_path)
    assert config.http.listen == HostPort("127.0.0.1", 8080)  # on, but only on localhost
    assert "abc" not in caught.value.problems[0]


def test_check_config_says_what_the_integration_will_do(tmp_path: Path) -> None:
    from endpoint.cli import describe

    (tmp_path / "token").write_text("0123456789abcdef0123\n")
    config = parse_config(
        '[http]\ntoken_file = "token"\n[mqtt]\nbroker = "mqtt://10.0.0.2"\ntopic_prefix = "d/f"\n',
        base=tmp_path,
    )
    lines = describe(config)
    assert "HTTP API: http://127.0.0.1:8080/ (bearer token)" in lines
    assert "MQTT: mqtt://10.0.0.2 under d/f/, commands off" in lines
    assert "history: kept 90 days, at most 50 MiB" in lines
    assert not [line for line in lines if "0123456789abcdef" in line]
