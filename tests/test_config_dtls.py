"""[media] keying: "sdes" (the default: keys in the SDP, so TLS only) or "dtls" (RFC 5763/5764:
no key in the SDP, so plain UDP signalling is allowed); anything else is named."""

import pytest

from endpoint.config import ConfigError, parse_config


def test_dtls_keying_runs_over_udp_signalling() -> None:
    config = parse_config('[media]\nencryption = "mandatory"\nkeying = "dtls"\n')
    assert (config.media.encryption, config.media.keying) == ("mandatory", "dtls")
    assert parse_config("").media.keying == "sdes"


def test_sdes_over_udp_points_to_dtls_and_a_bad_keying_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('[media]\nencryption = "optional"\n')
    (line,) = info.value.problems
    assert 'needs [sip] transport = "tls"' in line and 'keying = "dtls"' in line
    with pytest.raises(ConfigError) as info:
        parse_config('[sip]\ntransport = "tls"\n[media]\nkeying = "zrtp"\n')
    (bad,) = info.value.problems
    assert bad.startswith('[media] keying = "zrtp"') and '"sdes", "dtls"' in bad
