"""``sip-endpoint install`` / ``uninstall``: the system user, the unit, the config, systemctl.

What install does, in order (each step is skipped when already done, so it can be re-run after
an upgrade):

1. create the system user ``sip-endpoint`` (``useradd --system``) and add it to those of the
   groups ``audio gpio dialout`` that exist on this machine (``gpio`` only exists on
   Raspberry Pi OS);
2. render the unit from ``systemd/sip-endpoint.service``: ``ExecStart=`` gets the real entry
   point of the virtual environment we run from (``sys.prefix``, or ``--prefix``), and
   ``SupplementaryGroups=`` only the groups that exist (systemd refuses to start a unit naming
   a missing group); write it to ``/etc/systemd/system/``;
3. copy ``examples/config.toml`` to ``/etc/sip-endpoint/config.toml`` if there is none (mode
   0640, owner root:sip-endpoint: the service may read it, nobody else);
4. write the cache of the code dataclasses generate beside the package's .pyc files
   (``endpoint.dataclass_cache``), as root: the service may not write into the venv, and
   without the cache every start compiles that code again;
5. ``systemctl daemon-reload`` and ``systemctl enable [--now] sip-endpoint.service``. Where
   systemd is not running (an image being built, a chroot, a container: no
   ``/run/systemd/system``, the test of sd_booted(3)) there is no manager to reload or to start
   the service: ``systemctl enable`` alone links the unit for the next boot, and ``--now`` is
   refused with that reason.

``--root DIR`` writes every file under DIR instead of ``/`` and prints the commands instead of
running them (no useradd, no chown, no systemctl): that is how the tests run it, and how an
image builder can stage the files.

The unit template and the example configuration travel inside the package
(``endpoint/service/data/``, links to ``systemd/`` and ``examples/`` in the checkout that the
wheel build turns into copies), so install works the same from a developer's editable checkout
and from a device's virtual environment holding only the wheel (``install-device.sh``).

The service runs with ``ProtectHome=yes``: a virtual environment (or an editable checkout)
under /home or /root is invisible to it, so install refuses such a prefix with the fix.
"""

from __future__ import annotations

import grp
import os
import pwd
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import endpoint

USER = "sip-endpoint"
GROUPS = ("audio", "gpio", "dialout")
UNIT_NAME = "sip-endpoint.service"
CONFIG = Path("/etc/sip-endpoint/config.toml")
UNIT_DIR = Path("/etc/systemd/system")
STATE_DIR = Path("/var/lib/sip-endpoint")
#: Exists only while systemd is the running init (sd_booted(3)).
SYSTEMD_RUNTIME = Path("/run/systemd/system")
#: Hidden from the service by ProtectHome=yes.
HIDDEN = (Path("/home"), Path("/root"), Path("/run/user"))

#: Where the code runs from: the checkout (editable install) or the venv's site-packages.
CODE = Path(endpoint.__file__).resolve().parent
DATA = Path(__file__).resolve().parent / "data"


class InstallError(Exception):
    """Install cannot go on; the message says why and what to do."""


def packaged_file(name: str) -> Path:
    """A file shipped in the package: ``sip-endpoint.service`` (the template) or ``config.toml``.

    A file on disk rather than importlib.resources' traversable: both install paths (editable
    checkout, wheel) keep the package as plain files, and shutil copies the example from a path.
    """
    path = DATA / name
    if not path.is_file():
        raise InstallError(
            f"{path} not found: this installation of sip-endpoint is incomplete; reinstall it "
            "(a checkout: ./setup.sh; a device: sudo ./install-device.sh)"
        )
    return path


def _systemd_quote(text: str) -> str:
    """A word for ExecStart= (systemd.service(5) "Command lines"): quoted if it needs it."""
    if text and all(c.isalnum() or c in "/._-+:@=," for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exec_start(prefix: Path, config: Path = CONFIG, command: str = "run") -> str:
    """The command the unit runs: the venv's entry point, else its interpreter with -m.

    ``command`` is ``run`` for ``ExecStart=`` and ``relay-off`` for ``ExecStopPost=``.
    """
    script = prefix / "bin" / "sip-endpoint"
    if script.is_file():
        words = [str(script)]
    else:
        words = [str(prefix / "bin" / "python3"), "-m", "endpoint"]
    words += [command, "--config", str(config)]
    return " ".join(_systemd_quote(w) for w in words)


def render_unit(
    template: str, command: str, groups: Sequence[str], stop_post: str | None = None
) -> str:
    """The template with ``ExecStart=``, ``ExecStopPost=`` and ``SupplementaryGroups=`` set.

    ``ExecStopPost=`` keeps the template's ``-`` prefix: a relay that cannot be reached must not
    change how systemd judges (and restarts) the service; its line is in the journal.
    """
    lines = []
    for line in template.splitlines():
        if line.startswith("ExecStart="):
            lines.append(f"ExecStart={command}")
        elif line.startswith("ExecStopPost=") and stop_post is not None:
            prefix = "-" if line.startswith("ExecStopPost=-") else ""
            lines.append(f"ExecStopPost={prefix}{stop_post}")
        elif line.startswith("SupplementaryGroups="):
            if groups:
                lines.append(f"SupplementaryGroups={' '.join(groups)}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


@dataclass
class Installer:
    """Install or uninstall into ``root`` ("/" for real); ``dry`` prints commands instead."""

    root: Path
    out: TextIO
    dry: bool
    #: A running systemd to reload and to start the service; staged installs print the commands
    #: for the machine the files are for, which boots with systemd.
    systemd: bool = True

    @classmethod
    def for_root(cls, root: Path | None, out: TextIO, euid: int | None = None) -> Installer:
        """The real install (``root`` None: needs root, i.e. ``euid`` 0) or a staged one."""
        if root is None:
            if (os.geteuid() if euid is None else euid) != 0:
                raise InstallError(
                    "install needs root: run sudo "
                    f"{Path(sys.prefix) / 'bin' / 'sip-endpoint'} install (or use --root DIR "
                    "to stage the files in a directory)"
                )
            return cls(Path("/"), out, dry=False, systemd=SYSTEMD_RUNTIME.is_dir())
        return cls(root.resolve(), out, dry=True)

    # -- helpers -----------------------------------------------------------------------------

    def path(self, absolute: Path) -> Path:
        return self.root / absolute.relative_to("/")

    def say(self, text: str) -> None:
        print(text, file=self.out)

    def run(self, command: list[str]) -> None:
        if self.dry:
            self.say(f"would run: {shlex.join(command)}")
            return
        self.say(f"running: {shlex.join(command)}")
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise InstallError(
                f"{shlex.join(command)} failed ({result.returncode}): "
                f"{detail[-1] if detail else 'no output'}"
            )

    def _group_names(self) -> set[str]:
        if not self.dry:
            return {g.gr_name for g in grp.getgrall()}
        return _names(self.path(Path("/etc/group")))

    def _user_exists(self) -> bool:
        if not self.dry:
            try:
                pwd.getpwnam(USER)
            except KeyError:
                return False
            return True
        return USER in _names(self.path(Path("/etc/passwd")))

    def _chown(self, path: Path) -> None:
        if self.dry:
            self.say(f"would run: chown root:{USER} /{path.relative_to(self.root)}")
            return
        os.chown(path, 0, grp.getgrnam(USER).gr_gid)

    # -- install -----------------------------------------------------------------------------

    def install(self, prefix: Path, *, now: bool = False) -> list[str]:
        """Install; returns the lines of "what to do next"."""
        prefix = prefix.resolve()
        if now and not self.systemd:
            raise InstallError(
                f"systemd is not running here (no {SYSTEMD_RUNTIME}), so the service cannot be "
                "started now: install without --now (the unit is enabled for the next boot)"
            )
        for where in (prefix, CODE):
            for hidden in HIDDEN:
                if where.is_relative_to(hidden):
                    raise InstallError(
                        f"{where} is under {hidden}, which the service cannot see "
                        "(ProtectHome=yes): install it for the service with sudo "
                        "./install-device.sh (a venv in /opt/sip-endpoint/venv), or clone the "
                        "project to /opt/sip-endpoint, run ./setup.sh there and install from "
                        "/opt/sip-endpoint/.venv"
                    )
        groups = sorted(self._group_names() & set(GROUPS), key=GROUPS.index)
        self._user(groups)
        unit = render_unit(
            packaged_file("sip-endpoint.service").read_text(),
            exec_start(prefix),
            groups,
            stop_post=exec_start(prefix, command="relay-off"),
        )
        unit_path = self.path(UNIT_DIR / UNIT_NAME)
        unit_path.parent.mkdir(parents=True, exist_ok=True)
        unit_path.write_text(unit)
        unit_path.chmod(0o644)
        self.say(f"wrote {UNIT_DIR / UNIT_NAME} (ExecStart={exec_start(prefix)})")
        next_steps = self._config()
        self._dataclass_cache()
        self._daemon_reload()
        self.run(["systemctl", "enable", *(["--now"] if now else []), UNIT_NAME])
        if not self.systemd:
            next_steps.append("it starts at the next boot under systemd")
        elif not now:
            next_steps.append("start it: systemctl start sip-endpoint")
        next_steps += [
            "self-test: sip-endpoint doctor --config /etc/sip-endpoint/config.toml",
            "watch it: systemctl status sip-endpoint; journalctl -u sip-endpoint -f",
        ]
        return next_steps

    def _dataclass_cache(self) -> None:
        """Compile the code dataclasses generate into the venv now, as root: the service cannot
        write there (``endpoint.dataclass_cache``), so without it every start compiles it."""
        if self.dry:
            self.say("would write the dataclass code cache beside the package's .pyc files")
            return
        from endpoint import dataclass_cache

        cache = dataclass_cache.build()
        if cache is None or cache.path is None:
            self.say("no dataclass code cache: this Python keeps no bytecode for the package")
        elif cache.pending:
            self.say(f"could not write {cache.path}: each start compiles dataclasses' methods")
        else:
            self.say(f"dataclass code cache: {cache.path}")

    def _daemon_reload(self) -> None:
        if self.systemd:
            self.run(["systemctl", "daemon-reload"])
        else:
            self.say(f"systemd is not running here (no {SYSTEMD_RUNTIME}): no daemon-reload")

    def _user(self, groups: list[str]) -> None:
        missing = [g for g in GROUPS if g not in groups]
        if missing:
            self.say(
                f"group(s) {', '.join(missing)} do not exist here: skipped "
                "(gpio exists on Raspberry Pi OS; dialout and audio on Debian)"
            )
        if self._user_exists():
            self.say(f"user {USER} exists")
        else:
            self.run(
                [
                    "useradd",
                    "--system",
                    "--user-group",
                    "--home-dir",
                    str(STATE_DIR),
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    "--comment",
                    "SIP intercom endpoint",
                    USER,
                ]
            )
        if groups:
            self.run(["usermod", "--append", "--groups", ",".join(groups), USER])

    def _config(self) -> list[str]:
        config = self.path(CONFIG)
        config.parent.mkdir(parents=True, exist_ok=True)
        config.parent.chmod(0o750)
        self._chown(config.parent)
        if config.exists():
            self.say(f"kept the existing {CONFIG}")
            return []
        shutil.copyfile(packaged_file("config.toml"), config)
        config.chmod(0o640)
        self._chown(config)
        self.say(f"wrote {CONFIG} (mode 0640, root:{USER}) from examples/config.toml")
        return [
            f"edit {CONFIG}: [account] registrar, user, and the password "
            f"(password_file = /etc/sip-endpoint/password, mode 0640 root:{USER})",
            f"check it: sip-endpoint check-config {CONFIG}",
        ]

    # -- uninstall ---------------------------------------------------------------------------

    def uninstall(self, *, purge: bool = False) -> None:
        unit_path = self.path(UNIT_DIR / UNIT_NAME)
        if unit_path.exists():
            self.run(["systemctl", "disable", *(["--now"] if self.systemd else []), UNIT_NAME])
            unit_path.unlink()
            self.say(f"removed {UNIT_DIR / UNIT_NAME}")
            self._daemon_reload()
        else:
            self.say(f"{UNIT_DIR / UNIT_NAME} is not installed")
        if not purge:
            self.say(
                f"kept {CONFIG.parent} and the user {USER} (uninstall --purge removes them "
                f"and {STATE_DIR})"
            )
            return
        for directory in (CONFIG.parent, STATE_DIR):
            target = self.path(directory)
            if target.exists():
                shutil.rmtree(target)
                self.say(f"removed {directory}")
        if self._user_exists():
            self.run(["userdel", USER])


def _names(path: Path) -> set[str]:
    """The first field of every line of an /etc/passwd or /etc/group style file."""
    try:
        text = path.read_text()
    except OSError:
        return set()
    return {line.split(":", 1)[0] for line in text.splitlines() if line and ":" in line}


def install_command(
    root: Path | None, prefix: Path | None, now: bool, out: TextIO, err: TextIO
) -> int:
    try:
        installer = Installer.for_root(root, out)
        steps = installer.install(prefix or Path(sys.prefix), now=now)
    except (InstallError, OSError) as exc:
        print(f"sip-endpoint install: {exc}", file=err)
        return 1
    if steps:
        print("next:", file=out)
        for step in steps:
            print(f"  {step}", file=out)
    return 0


def uninstall_command(root: Path | None, purge: bool, out: TextIO, err: TextIO) -> int:
    try:
        Installer.for_root(root, out).uninstall(purge=purge)
    except (InstallError, OSError) as exc:
        print(f"sip-endpoint uninstall: {exc}", file=err)
        return 1
    return 0
