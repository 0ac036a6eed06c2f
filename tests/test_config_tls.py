"""The [tls] section and transport = "tls": files that must exist, keys that go together, and a
registrar whose transport contradicts ours."""

from pathlib import Path

import pytest

from endpoint.config import ConfigError, TlsSettings, needs_tls, parse_config

ACCOUNT = '[account]\nregistrar = "{uri}"\nuser = "door"\npassword = "pw"\n'


def problems_of(text: str, base: Path = Path(".")) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="door.toml", base=base)
    return info.value.problems


def test_tls_defaults_verify_with_the_system_store() -> None:
    config = parse_config('[sip]\ntransport = "tls"\n')
    assert config.sip.transport == "tls"
    assert config.tls == TlsSettings(ca_file=None, cert_file=None, key_file=None, verify=True)


def test_tls_files_are_taken_relative_to_the_config(tmp_path: Path) -> None:
    for name in ("ca.pem", "door.crt", "door.key"):
        (tmp_path / name).write_text("-----BEGIN-----\n")
    config = parse_config(
        '[sip]\ntransport = "tls"\n[tls]\nca_file = "ca.pem"\ncert_file = "door.crt"\n'
        'key_file = "door.key"\nverify = false\n',
        base=tmp_path,
    )
    assert config.tls.ca_file == tmp_path / "ca.pem"
    assert config.tls.cert_file == tmp_path / "door.crt"
    assert config.tls.key_file == tmp_path / "door.key"
    assert config.tls.verify is False


def test_a_missing_file_and_a_lone_certificate_are_named(tmp_path: Path) -> None:
    (tmp_path / "door.crt").write_text("x")
    found = problems_of(
        '[tls]\nca_file = "nope.pem"\ncert_file = "door.crt"\nverify = "yes"\n', tmp_path
    )
    assert any(p.startswith('[tls] ca_file = "') and "no such file" in p for p in found), found
    assert "[tls] cert_file and key_file go together: set both or neither" in found
    assert any(p.startswith('[tls] verify = "yes"') for p in found), found


def test_unknown_transport_lists_tls() -> None:
    (line,) = problems_of('[sip]\ntransport = "sctp"\n')
    assert '"udp", "tcp", "tls"' in line


@pytest.mark.parametrize(
    ("transport", "uri", "wanted"),
    [
        ("udp", "sip:pbx.example.com;transport=tls", "tls"),
        ("udp", "sips:pbx.example.com", "tls"),
        ("tls", "sip:pbx.example.com;transport=udp", "udp"),
    ],
)
def test_registrar_transport_must_match_ours(transport: str, uri: str, wanted: str) -> None:
    (line,) = problems_of(f'[sip]\ntransport = "{transport}"\n' + ACCOUNT.format(uri=uri))
    assert line.startswith(f'[account] registrar = "{uri}" uses {wanted.upper()}'), line
    assert f'set [sip] transport = "{wanted}"' in line


def test_a_tls_registrar_with_tls_transport_is_fine() -> None:
    config = parse_config(
        '[sip]\ntransport = "tls"\n' + ACCOUNT.format(uri="sips:pbx.example.com:5061")
    )
    assert config.account is not None and config.account.registrar == "sips:pbx.example.com:5061"


def test_encryption_needs_tls_because_keys_travel_in_the_sdp() -> None:
    (line,) = problems_of('[media]\nencryption = "mandatory"\n')
    assert line.startswith('[media] encryption = "mandatory" needs [sip] transport = "tls"')
    config = parse_config('[sip]\ntransport = "tls"\n[media]\nencryption = "optional"\n')
    assert config.media.encryption == "optional"
    assert parse_config("").media.encryption == "off"
    (bad,) = problems_of('[sip]\ntransport = "tls"\n[media]\nencryption = "srtp"\n')
    assert bad.startswith('[media] encryption = "srtp"') and '"mandatory"' in bad


HTTP = '[http]\ntoken_file = "token"\nwebhooks = ["{}://10.0.0.5/hook"]\n'


@pytest.mark.parametrize(
    ("text", "tls"),
    [
        ("", False),
        ('[sip]\ntransport = "tcp"\n' + HTTP.format("http"), False),
        ('[mqtt]\nbroker = "mqtt://10.0.0.6"\n', False),
        ('[sip]\ntransport = "tls"\n', True),
        ('[tls]\nca_file = "ca.pem"\n', True),
        (
            '[tls]\ncert_file = "door.crt"\nkey_file = "door.key"\n[http]\ntoken_file = "token"\n',
            True,
        ),
        ('[mqtt]\nbroker = "mqtts://10.0.0.6"\n', True),
        (HTTP.format("https"), True),
    ],
)
def test_needs_tls_names_every_feature_that_opens_tls(tmp_path: Path, text: str, tls: bool) -> None:
    """Issue 19: false keeps ssl out of ``run``, so every TLS user must make it true."""
    for name in ("ca.pem", "door.crt", "door.key"):
        (tmp_path / name).write_text("-----BEGIN-----\n")
    (tmp_path / "token").write_text("t" * 32)
    assert needs_tls(parse_config(text, base=tmp_path)) is tls
