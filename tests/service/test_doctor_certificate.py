"""``doctor`` on our own certificate (``[tls] cert_file``): the door presents it to its TLS
callers, to a registrar and to browsers, and only the doctor can say it is about to expire.
Certificates made here (tests/certs.py), valid from a day ago for 30 days."""

import datetime
from pathlib import Path

from endpoint.config import TlsSettings
from endpoint.service.certificate_check import RENEW_DAYS, check_certificate
from endpoint.service.findings import Level
from tests.certs import NOW, Authority
from tests.interop.peers import free_port
from tests.service.test_doctor import doctor, lines

DAY = datetime.timedelta(days=1)


def test_the_dates_of_our_certificate_against_the_clock(tmp_path: Path) -> None:
    ca = Authority(tmp_path / "pki")
    door = ca.issue("door", ("door.example.test",))
    tls = TlsSettings(cert_file=door.cert, key_file=door.key)
    end = NOW + 30 * DAY  # as tests/certs.py issues it, to the microsecond
    (fresh,) = check_certificate(tls, NOW)
    assert fresh.level is Level.OK
    assert fresh.detail == f"CN=door.example.test valid until {end:%Y-%m-%d}"
    (soon,) = check_certificate(tls, end - 5 * DAY + datetime.timedelta(hours=1))
    assert soon.level is Level.WARN and soon.detail.endswith("in 4 day(s)"), soon
    assert "renew" in soon.fix
    (not_soon,) = check_certificate(tls, end - (RENEW_DAYS + 1) * DAY)
    assert not_soon.level is Level.OK
    (expired,) = check_certificate(tls, end + DAY)
    assert expired.level is Level.FAIL
    assert expired.detail == f"CN=door.example.test expired on {end:%Y-%m-%d}"
    assert expired.fix.startswith(f"renew {door.cert}")
    (early,) = check_certificate(tls, NOW - 2 * DAY)
    assert early.level is Level.FAIL and "not valid before" in early.detail
    assert "clock" in early.fix


def test_a_key_that_is_not_the_certificates_is_named(tmp_path: Path) -> None:
    ca = Authority(tmp_path / "pki")
    door, other = ca.issue("door", ("door",)), ca.issue("other", ("other",))
    (finding,) = check_certificate(TlsSettings(cert_file=door.cert, key_file=other.key), NOW)
    assert finding.level is Level.FAIL
    assert finding.detail.startswith(f"{door.cert} with {other.key} cannot be used (")
    assert "key_file its unencrypted private key" in finding.fix
    assert check_certificate(TlsSettings(), NOW) == []  # no certificate: nothing to say


def test_the_doctor_fails_an_expired_listener_certificate(tmp_path: Path) -> None:
    """The whole report of a peer-to-peer TLS door whose certificate has expired."""
    ca = Authority(tmp_path / "pki")
    door = ca.issue("door", ("127.0.0.1",), expired=True)
    result = doctor(
        tmp_path,
        f'[sip]\nlisten = "127.0.0.1:{free_port(both=True)}"\ntransport = "tls"\n'
        f'[tls]\ncert_file = "{door.cert}"\nkey_file = "{door.key}"\n'
        '[audio]\nbackend = "null"\n',
    )
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = lines(result, "FAIL certificate [tls] cert_file: ")
    assert "CN=127.0.0.1 expired on " in line and f"fix: renew {door.cert}" in line
    assert "Traceback" not in result.stderr
