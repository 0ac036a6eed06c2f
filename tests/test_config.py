"""Configuration validation: every mistake is named with its key, its value and the fix."""

import ctypes.util
from pathlib import Path

import pytest

from endpoint.config import ConfigError, HostPort, load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "config.toml"


def problems_of(text: str, base: Path = Path(".")) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="door.toml", base=base)
    return info.value.problems


def test_example_file_is_valid_apart_from_its_password_file(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("/etc/sip-endpoint/password", str(tmp_path / "pw"))
    (tmp_path / "pw").write_text("s3cret\n")
    config = parse_config(text)
    assert config.sip.listen == HostPort("0.0.0.0", 5060)
    assert config.account is not None
    assert config.account.registrar == "sip:pbx.example.com:5060"
    assert config.account.domain == "pbx.example.com"
    assert config.account.password == "s3cret"
    assert config.media.rtp_ports == (10000, 10099)
    assert config.calls.allow == ("*",)


def test_empty_file_is_peer_to_peer_with_defaults() -> None:
    config = parse_config("")
    assert config.account is None
    assert config.calls.auto_answer is True
    assert config.calls.answer_delay == 0.0
    assert config.audio.backend == "alsa"


def test_a_bad_value_names_key_value_and_fix() -> None:
    (line,) = problems_of("[calls]\nanswer_delay = -3\n")
    assert line == "[calls] answer_delay = -3: seconds between 0 and 300, e.g. 0 or 2.5"


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of(
        '[sip]\nlisten = "0.0.0.0:99999"\ntransport = "sctp"\n[media]\nptime = 25\n'
    )
    assert len(problems) == 3
    assert any(p.startswith('[sip] listen = "0.0.0.0:99999": host:port') for p in problems)
    assert any(p.startswith('[sip] transport = "sctp": one of "udp", "tcp"') for p in problems)
    assert any(p.startswith("[media] ptime = 25: one of 10, 20") for p in problems)


def test_misspelt_key_gets_a_suggestion() -> None:
    (line,) = problems_of("[calls]\nauto_anwser = true\n")
    assert line == "[calls] auto_anwser: unknown key; did you mean auto_answer?"


def test_misspelt_section_gets_a_suggestion() -> None:
    (line,) = problems_of("[acount]\nuser = 'door'\n")
    assert line == "[acount]: unknown section; did you mean [account]?"


def test_account_needs_registrar_user_and_password() -> None:
    problems = problems_of("[account]\n")
    assert [p.split(" is missing")[0] for p in problems] == [
        "[account] registrar",
        "[account] user",
        "[account] password",
    ]


def test_password_never_appears_in_errors_or_repr(tmp_path: Path) -> None:
    text = '[account]\nregistrar = "sip:pbx"\nuser = "door"\npassword = "hunter2"\nexpires = 5\n'
    problems = problems_of(text)
    assert problems == ["[account] expires = 5: seconds between 30 and 86400, e.g. expires = 600"]
    config = parse_config(text.replace("expires = 5", "expires = 60"))
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(config)


def test_bad_password_value_is_masked() -> None:
    text = '[account]\nregistrar = "sip:pbx"\nuser = "door"\npassword = ""\n'
    (line,) = problems_of(text)
    assert line.startswith("[account] password = ********:")


def test_password_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("from-file\n")
    (tmp_path / "door.toml").write_text(
        '[account]\nregistrar = "pbx.example.com"\nuser = "door"\npassword_file = "pw"\n'
    )
    config = load_config(tmp_path / "door.toml")
    assert config.account is not None
    assert config.account.password == "from-file"
    assert config.account.registrar == "sip:pbx.example.com"


def test_missing_password_file_says_how_to_fix(tmp_path: Path) -> None:
    text = '[account]\nregistrar = "sip:pbx"\nuser = "door"\npassword_file = "nope"\n'
    (line,) = problems_of(text, base=tmp_path)
    assert "password_file" in line
    assert "cannot be read" in line
    assert "create it" in line


def test_registrar_with_user_part_is_rejected() -> None:
    text = '[account]\nregistrar = "sip:door@pbx"\nuser = "door"\npassword = "x"\n'
    (line,) = problems_of(text)
    assert line.startswith('[account] registrar = "sip:door@pbx": the registrar, e.g.')


def test_ipv6_listen_address() -> None:
    config = parse_config('[sip]\nlisten = "[::1]:5070"\n')
    assert config.sip.listen == HostPort("::1", 5070)
    assert str(config.sip.listen) == "[::1]:5070"


def test_jitter_bounds_must_be_ordered() -> None:
    (line,) = problems_of("[media]\njitter_min_ms = 300\njitter_max_ms = 100\n")
    assert "make jitter_min_ms <= jitter_max_ms" in line


def test_file_backend_needs_a_file() -> None:
    (line,) = problems_of('[audio]\nbackend = "file"\n')
    assert "needs input_file" in line


def test_unreadable_file_and_bad_toml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[sip\n")


def test_rtp_ports_as_list_or_string() -> None:
    assert parse_config("[media]\nrtp_ports = [20000, 20010]\n").media.rtp_ports == (20000, 20010)
    (line,) = problems_of('[media]\nrtp_ports = "100-50"\n')
    assert line.startswith('[media] rtp_ports = "100-50": a range')


@pytest.mark.parametrize(("value", "ok"), [("0", True), ("89", False), ("90", True)])
def test_session_expires_is_off_or_at_least_the_rfc_4028_minimum(value: str, ok: bool) -> None:
    text = f"[calls]\nsession_expires = {value}\n"
    if ok:
        assert parse_config(text).calls.session_expires == int(value)
    else:
        with pytest.raises(ConfigError, match=r"\[calls\] session_expires = 89: 0 \(no timer"):
            parse_config(text)


def test_pbx_auto_answer_is_off_unless_set_and_a_boolean() -> None:
    assert parse_config("").calls.pbx_auto_answer is False
    assert parse_config("[calls]\npbx_auto_answer = true\n").calls.pbx_auto_answer is True
    (line,) = problems_of('[calls]\npbx_auto_answer = "yes"\n')
    assert line.startswith('[calls] pbx_auto_answer = "yes": true or false')


def test_reliable_provisional_is_one_of_three() -> None:
    assert parse_config("").sip.reliable_provisional == "supported"
    text = '[sip]\nreliable_provisional = "required"\n'
    assert parse_config(text).sip.reliable_provisional == "required"
    (line,) = problems_of('[sip]\nreliable_provisional = "always"\n')
    assert line.startswith('[sip] reliable_provisional = "always": one of "off"')


def test_media_codecs_accept_opus_in_any_case_and_name_it_in_the_fix() -> None:
    media = parse_config('[media]\ncodecs = ["opus", "G722", "PCMU"]\n').media
    assert media.codecs == ("OPUS", "G722", "PCMU") and media.unavailable == ()
    (line,) = problems_of('[media]\ncodecs = ["speex"]\n')
    assert "codecs" in line and "speex" in line and '"opus"' in line


def test_without_libopus_opus_is_not_offered_and_the_package_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Pi without libopus0 keeps serving calls with the other codecs; Opus alone is refused."""
    real = ctypes.util.find_library
    monkeypatch.setattr(ctypes.util, "find_library", lambda n: None if n == "opus" else real(n))
    media = parse_config('[media]\ncodecs = ["opus", "PCMU"]\n').media
    assert media.codecs == ("PCMU",)
    (why,) = media.unavailable
    assert "libopus0" in why and "offering PCMU" in why
    (line,) = problems_of('[media]\ncodecs = ["opus"]\n')
    assert "codecs" in line and "libopus0" in line and 'remove "opus"' in line


def test_media_codecs_accept_g722_and_name_it_in_the_fix() -> None:
    assert parse_config('[media]\ncodecs = ["g722", "PCMU"]\n').media.codecs == ("G722", "PCMU")
    (line,) = problems_of('[media]\ncodecs = ["G729"]\n')
    assert "codecs" in line and "G729" in line and '"G722"' in line


def test_early_media_is_off_unless_set_and_a_boolean() -> None:
    assert parse_config("").calls.early_media is False
    assert parse_config("[calls]\nearly_media = true\n").calls.early_media is True
    (line,) = problems_of("[calls]\nearly_media = 1\n")
    assert line.startswith("[calls] early_media = 1: true (a ringing caller gets a 183")
