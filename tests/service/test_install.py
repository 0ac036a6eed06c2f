"""``sip-endpoint install`` / ``uninstall`` against a temporary root (``--root``): files written
where systemd expects them, commands printed instead of run, the real /etc never touched."""

import io
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from endpoint.cli import main
from endpoint.service.install import Installer, InstallError

VENV_ENTRY = Path(sys.prefix) / "bin" / "sip-endpoint"


def staged_root(tmp_path: Path, groups: str = "audio:x:29:\ndialout:x:20:\n") -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "group").write_text(groups)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    return root


def test_install_writes_unit_and_config_and_prints_the_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = staged_root(tmp_path)
    assert main(["install", "--root", str(root), "--now"]) == 0
    out = capsys.readouterr().out
    unit = (root / "etc/systemd/system/sip-endpoint.service").read_text()
    assert f"ExecStart={VENV_ENTRY} run --config /etc/sip-endpoint/config.toml\n" in unit
    assert "SupplementaryGroups=audio dialout\n" in unit  # no gpio group on this "machine"
    assert "/opt/sip-endpoint/venv" not in unit
    config = root / "etc/sip-endpoint/config.toml"
    assert config.read_text() == (Path("examples/config.toml")).read_text()
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o750
    for command in (
        "would run: useradd --system --user-group --home-dir /var/lib/sip-endpoint "
        "--no-create-home --shell /usr/sbin/nologin --comment 'SIP intercom endpoint' "
        "sip-endpoint",
        "would run: usermod --append --groups audio,dialout sip-endpoint",
        "would run: chown root:sip-endpoint /etc/sip-endpoint/config.toml",
        "would write the dataclass code cache beside the package's .pyc files",
        "would run: systemctl daemon-reload",
        "would run: systemctl enable --now sip-endpoint.service",
    ):
        assert command in out
    assert "gpio do not exist here: skipped" in out


@pytest.mark.systemd_analyze
def test_the_rendered_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    root = staged_root(tmp_path)
    assert main(["install", "--root", str(root)]) == 0
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None
    unit = root / "etc/systemd/system/sip-endpoint.service"
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "sip-endpoint.service" not in result.stderr


def test_reinstall_keeps_an_edited_config_and_an_existing_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = staged_root(tmp_path, groups="audio:x:29:\ngpio:x:997:\ndialout:x:20:\n")
    assert main(["install", "--root", str(root)]) == 0
    config = root / "etc/sip-endpoint/config.toml"
    config.write_text("# edited by the installer\n")
    with (root / "etc/passwd").open("a") as passwd:
        passwd.write("sip-endpoint:x:998:998::/var/lib/sip-endpoint:/usr/sbin/nologin\n")
    capsys.readouterr()
    assert main(["install", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert config.read_text() == "# edited by the installer\n"
    assert "kept the existing /etc/sip-endpoint/config.toml" in out
    assert "useradd" not in out and "user sip-endpoint exists" in out
    assert "would run: usermod --append --groups audio,gpio,dialout sip-endpoint" in out
    unit = (root / "etc/systemd/system/sip-endpoint.service").read_text()
    assert "SupplementaryGroups=audio gpio dialout\n" in unit


def test_uninstall_keeps_the_config_unless_purged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = staged_root(tmp_path)
    assert main(["install", "--root", str(root)]) == 0
    capsys.readouterr()
    assert main(["uninstall", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert not (root / "etc/systemd/system/sip-endpoint.service").exists()
    assert (root / "etc/sip-endpoint/config.toml").exists()
    assert "would run: systemctl disable --now sip-endpoint.service" in out
    assert "would run: systemctl daemon-reload" in out
    (root / "var/lib/sip-endpoint").mkdir(parents=True)
    with (root / "etc/passwd").open("a") as passwd:
        passwd.write("sip-endpoint:x:998:998::/var/lib/sip-endpoint:/usr/sbin/nologin\n")
    assert main(["uninstall", "--root", str(root), "--purge"]) == 0
    out = capsys.readouterr().out
    assert not (root / "etc/sip-endpoint").exists()
    assert not (root / "var/lib/sip-endpoint").exists()
    assert "would run: userdel sip-endpoint" in out


def test_a_prefix_under_home_is_refused_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = staged_root(tmp_path)
    assert main(["install", "--root", str(root), "--prefix", "/home/pi/venv"]) == 1
    err = capsys.readouterr().err
    assert "ProtectHome=yes" in err and "/opt/sip-endpoint" in err
    assert not (root / "etc/systemd/system").exists()


def test_without_root_privileges_install_says_to_use_sudo() -> None:
    with pytest.raises(InstallError, match=r"install needs root: run sudo .*sip-endpoint install"):
        Installer.for_root(None, io.StringIO(), euid=1000)


def test_where_systemd_is_not_running_the_unit_is_enabled_for_the_next_boot(
    tmp_path: Path,
) -> None:
    """An image build, a chroot or a container: nothing to reload, nothing to start now."""
    root = staged_root(tmp_path)
    out = io.StringIO()
    installer = Installer(root, out, dry=True, systemd=False)
    steps = installer.install(Path(sys.prefix))
    text = out.getvalue()
    assert "would run: systemctl enable sip-endpoint.service\n" in text
    assert "daemon-reload" not in text.replace("no daemon-reload", "")
    assert "it starts at the next boot under systemd" in steps
    assert not any(step.startswith("start it") for step in steps)
    with pytest.raises(InstallError, match=r"systemd is not running here .* without --now"):
        installer.install(Path(sys.prefix), now=True)
    installer.out = out = io.StringIO()
    installer.uninstall()
    assert "would run: systemctl disable sip-endpoint.service\n" in out.getvalue()
    assert "--now" not in out.getvalue()
