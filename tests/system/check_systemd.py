"""The service under a real systemd (pid 1 of a booted container), checked from the host.

Run by ``.ci/systemd-container.sh``, which boots the container (sharing the host's network, so
SIP and RTP stay on 127.0.0.1) with the checkout at ``/mnt/src``, the pinned dependencies' wheels
at ``/mnt/wheels`` and the checkout's wheel (``--wheel``); the first step installs it the
device's way, with ``install-device.sh``.
Commands run inside with ``nsenter`` into the container's pid 1 namespaces; files are read and
written through the container's root directory. SIPp runs on the host as in the interop tests.

Each step prints ``PASS``/``FAIL``/``NOTE`` with its time; the exit status is 1 if any failed.
Not collected by pytest (it needs the booted container and root).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.interop.door import read_wav, tone_share, tone_wav
from tests.interop.peers import LOOPBACK, PeerError, Sipp, free_port, sip_options_ping

UNIT = "sip-endpoint.service"
VENV = "/opt/sip-endpoint/venv"  # install-device.sh's default, where the unit template points
CLI = f"{VENV}/bin/sip-endpoint"
CONFIG = "/etc/sip-endpoint/config.toml"
MIC = "/etc/sip-endpoint/mic.wav"
HEARD = "/var/lib/sip-endpoint/heard.wav"
#: ``systemd-analyze security`` exposure of the unit as recorded (lower is better; systemd 252,
#: Debian bookworm). A change that weakens the hardening raises it and fails the check; one that
#: improves it should lower this number with it.
MAX_EXPOSURE = 1.7
#: The settings ``systemd-analyze security`` marks ✗ for the unit, each one a deliberate choice
#: (network and devices are the job; SCHED_FIFO needs @resources and realtime; the groups grant
#: the devices). The score is rounded to 0.1, so one lost directive may not move it: any ✗ not
#: listed here fails the check too.
ACCEPTED_EXPOSURES = frozenset(
    {
        "SystemCallFilter=~@resources",
        "RootDirectory=/RootImage=",
        "SupplementaryGroups=",
        "PrivateDevices=",
        "RestrictAddressFamilies=~AF_UNIX",
        "RestrictAddressFamilies=~AF_(INET|INET6)",
        "RestrictRealtime=",
        "ProcSubset=",
        "PrivateNetwork=",
        "PrivateUsers=",
        "DeviceAllow=",
        "IPAddressDeny=",
        "UMask=",
    }
)


class CheckError(Exception):
    """One step's expectation did not hold; the message says what was seen."""


@dataclass
class Container:
    """A booted container: its pid 1 as the host sees it, and its root directory."""

    leader: int
    root: Path

    def run(self, *command: str, check: bool = True, timeout: float = 60) -> str:
        """Run ``command`` inside (all of pid 1's namespaces, a clean environment)."""
        result = subprocess.run(
            [
                "nsenter",
                "-t",
                str(self.leader),
                "-m",
                "-u",
                "-i",
                "-n",
                "-p",
                "--",
                "env",
                "-i",
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                "SYSTEMD_COLORS=0",
                "SYSTEMD_PAGER=",
                *command,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise CheckError(
                f"{' '.join(command)} exited {result.returncode}: "
                f"{(result.stderr or result.stdout).strip()[-2000:]}"
            )
        return result.stdout + result.stderr if not check else result.stdout

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def show(self, prop: str) -> str:
        return self.run("systemctl", "show", "-p", prop, "--value", UNIT).strip()

    def journal(self) -> list[str]:
        """The unit's journal (its own lines and systemd's about it), oldest first."""
        return self.run("journalctl", "-u", UNIT, "-o", "cat", "--no-pager").splitlines()


def wait_until(what: str, probe: Callable[[], bool], timeout: float) -> float:
    """Poll ``probe`` until true (bounded by ``timeout``); returns the seconds it took."""
    start = time.monotonic()
    while not probe():
        if time.monotonic() - start > timeout:
            raise CheckError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - start


def config_text(port: int, level: str = "info", auto_answer: str = "true") -> str:
    return (
        f'[sip]\nlisten = "{LOOPBACK}:{port}"\n[calls]\nauto_answer = {auto_answer}\n'
        f'[audio]\nbackend = "file"\ninput_file = "{MIC}"\noutput_file = "{HEARD}"\n'
        f'[log]\nlevel = "{level}"\n'
    )


@dataclass
class Checker:
    box: Container
    variant: str
    wheel: str
    port: int = field(default_factory=lambda: free_port(both=True))
    failures: int = 0
    figures: list[str] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        except (CheckError, PeerError, subprocess.TimeoutExpired, OSError) as exc:
            self.failures += 1
            print(f"FAIL [{self.variant}] {name} ({time.monotonic() - start:.1f} s): {exc}")
        else:
            print(f"PASS [{self.variant}] {name} ({time.monotonic() - start:.1f} s)")
        sys.stdout.flush()

    def note(self, text: str) -> None:
        print(f"NOTE [{self.variant}] {text}")
        sys.stdout.flush()

    def journal_after(self, mark: int, text: str, timeout: float = 10) -> list[str]:
        """The journal lines after line ``mark``, once one of them contains ``text``."""
        lines: list[str] = []

        def seen() -> bool:
            nonlocal lines
            lines = self.box.journal()[mark:]
            return any(text in line for line in lines)

        try:
            wait_until(f"journal line {text!r}", seen, timeout)
        except CheckError as exc:
            raise CheckError(f"{exc}; the journal said:\n  " + "\n  ".join(lines[-15:])) from None
        return lines

    # -- the steps -------------------------------------------------------------------------------

    def install_device(self, wheel: str) -> None:
        """The production path: the wheel and the pinned dependencies, no test tools; it ends
        with ``sip-endpoint install``, which writes the example config."""
        box = self.box
        out = box.run(
            "env", "SKIP_APT=1", "PIP_NO_INDEX=1", "PIP_FIND_LINKS=/mnt/wheels",
            "/mnt/src/install-device.sh", "--wheel", wheel, timeout=300,
        )  # fmt: skip
        if "wrote /etc/sip-endpoint/config.toml" not in out:
            raise CheckError(f"install did not write the example config:\n{out}")
        tools = box.run(f"{VENV}/bin/python", "-c", "import pytest", check=False)
        if "No module named 'pytest'" not in tools:
            raise CheckError(f"the service's venv has test tools: {tools!r}")

    def install(self) -> None:
        """The operator edits the example config; ``install --now``."""
        box = self.box
        config = box.path(CONFIG)
        config.write_text(config_text(self.port))  # in place: keeps 0640 root:sip-endpoint
        tone_wav(box.path(MIC), 440, 10)
        box.path(MIC).chmod(0o644)
        # systemd logs each notify datagram at debug level: the order READY/Started is provable.
        box.run("systemd-analyze", "log-level", "debug")
        mark = len(box.journal())
        start = time.monotonic()
        out = box.run(CLI, "install", "--now")
        self.figures.append(f"install --now returned after {time.monotonic() - start:.2f} s")
        box.run("systemd-analyze", "log-level", "info")
        if box.show("ActiveState") != "active":
            raise CheckError(f"not active after install --now:\n{out}")
        # Nothing answered before READY; the port answers the moment systemctl returns.
        if not sip_options_ping(self.port, timeout=2).startswith("SIP/2.0 200"):
            raise CheckError("OPTIONS not answered 200 right after install --now")
        lines = self.journal_after(mark, "Started ")
        ready = [
            i
            for i, line in enumerate(lines)
            if "notification message" in line and "READY=1" in line
        ]
        started = [i for i, line in enumerate(lines) if line.startswith("Started ")]
        if not ready or not started or ready[0] > started[0]:
            raise CheckError("READY=1 does not precede Started:\n  " + "\n  ".join(lines[-30:]))
        user = box.run("ps", "-o", "user=", "-p", box.show("MainPID")).strip()
        if user != "sip-endpoint":
            raise CheckError(f"the service runs as {user!r}, not sip-endpoint")

    def status_idle(self) -> None:
        status = self.box.show("StatusText")
        if status != "peer-to-peer; idle":
            raise CheckError(f"StatusText={status!r}")
        shown = self.box.run("systemctl", "status", "--no-pager", UNIT, check=False)
        if 'Status: "peer-to-peer; idle"' not in shown:
            raise CheckError(f"systemctl status does not show the STATUS line:\n{shown}")

    def call_with_audio(self, work: Path) -> None:
        """SIPp calls, sends its 1000 Hz tone for 3 s, hangs up; the endpoint heard it."""
        mark = len(self.box.journal())
        sipp = Sipp(
            work / "call",
            "uac_pcmu.xml",
            [f"{LOOPBACK}:{self.port}", "-s", "door", "-key", "from_user", "sipp", "-d", "3000"],
        ).start()
        statuses: set[str] = set()

        def in_call() -> bool:
            statuses.add(self.box.show("StatusText"))
            return any("; in call with" in s for s in statuses)

        try:
            try:
                wait_until("StatusText '…; in call with …'", in_call, 10)
            except CheckError as exc:
                raise CheckError(f"{exc}: saw {sorted(statuses)}\n{sipp.report()}") from None
            code = sipp.wait(30)
        finally:
            sipp.stop()
        if code != 0:
            raise CheckError(f"SIPp exited {code}:\n{sipp.report()}")
        lines = self.journal_after(mark, "call-report")
        if not any("call-answered" in line for line in lines):
            raise CheckError("no call-answered in the journal")
        heard = read_wav(self.box.path(HEARD))
        share = tone_share(heard[4000:], 1000) if len(heard) > 2 * 8000 else 0.0
        self.figures.append(f"heard {len(heard) / 8000:.1f} s of audio, 1000 Hz share {share:.3f}")
        if share <= 0.9:
            raise CheckError(
                f"the endpoint did not hear SIPp's tone ({len(heard)} samples, share {share:.3f})"
            )
        self.realtime(self.box.journal())

    def realtime(self, lines: list[str]) -> None:
        """SCHED_FIFO for the media thread, asserted where the host permits it.

        The unit grants it with ``LimitRTPRIO=`` alone (no capability), so the question is
        whether any unit can get it that way here: a transient one with the same limit, as an
        unprivileged user, tries ``chrt -f 1``. In a container whose host caps the hard
        RLIMIT_RTPRIO at 0 without CAP_SYS_RESOURCE to lift it, it cannot; that is reported.
        """
        granted = [line for line in lines if "media thread: SCHED_FIFO priority" in line]
        refused = [
            line
            for line in lines
            if "media thread: " in line
            and ("not permitted" in line or "cannot use SCHED_FIFO" in line)
        ]
        probe = self.box.run(
            "systemd-run",
            "--wait",
            "--pipe",
            "--quiet",
            "--property=LimitRTPRIO=20",
            "--property=User=nobody",
            "chrt",
            "-f",
            "1",
            "true",
            check=False,
        ).strip()
        limits = Path(f"/proc/{self.box.leader}/limits").read_text().splitlines()
        pid1 = next(
            (" ".join(line.split()[3:5]) for line in limits if "realtime priority" in line), "?"
        )
        detail = f"RLIMIT_RTPRIO (soft hard) of the container's pid 1: {pid1}"
        if probe == "":
            if not granted:
                raise CheckError(
                    f"a unit may use SCHED_FIFO here but the media thread did not: {refused}"
                )
            self.note(f"real-time: granted and asserted ({granted[0]}); {detail}")
        else:
            self.note(
                "real-time: NOT PERMITTED by this host, so not asserted: a unit with "
                f"LimitRTPRIO=20 cannot use SCHED_FIFO (chrt -f 1: {probe!r}); {detail}; "
                f"the endpoint said: {refused[0] if refused else 'nothing'}"
            )

    def reload(self) -> None:
        """A broken file is kept out (same process, still serving); a good one is applied."""
        box = self.box
        pid = box.show("MainPID")
        config = box.path(CONFIG)
        try:
            config.write_text(config_text(self.port, auto_answer='"yes"'))
            mark = len(box.journal())
            box.run("systemctl", "reload", UNIT)
            self.journal_after(mark, "still running on the previous configuration")
            if box.show("MainPID") != pid or box.show("ActiveState") != "active":
                raise CheckError("a broken file on reload stopped or restarted the service")
            if not sip_options_ping(self.port, timeout=5).startswith("SIP/2.0 200"):
                raise CheckError("OPTIONS not answered after the broken reload")
            config.write_text(config_text(self.port, level="debug"))
            mark = len(box.journal())
            box.run("systemctl", "reload", UNIT)
            self.journal_after(mark, "reload: applied [log] level")
            if box.show("MainPID") != pid:
                raise CheckError("reload restarted the service")
        finally:
            # A good file again, whatever happened: the later steps restart the service.
            config.write_text(config_text(self.port))
            box.run("systemctl", "reload", UNIT, check=False)

    def watchdog(self) -> None:
        """SIGSTOP freezes both loops: systemd's watchdog kills and restarts the service."""
        box = self.box
        pid = box.show("MainPID")
        mark = len(box.journal())
        start = time.monotonic()
        box.run("kill", "-STOP", pid)

        def restarted() -> bool:
            new = box.show("MainPID")
            return new not in ("0", pid) and box.show("ActiveState") == "active"

        wait_until("a restart after SIGSTOP", restarted, 40)
        took = time.monotonic() - start
        self.figures.append(f"SIGSTOP -> watchdog restart, active again: {took:.1f} s")
        self.journal_after(mark, "Watchdog timeout")
        if not sip_options_ping(self.port, timeout=5).startswith("SIP/2.0 200"):
            raise CheckError("the restarted service does not answer OPTIONS")

    def sigkill_releases_relay(self) -> None:
        """SIGKILL leaves no chance to clean up: ``ExecStopPost=`` drives the relay inactive.

        The relay is on gpiozero's mock pin factory (the container has no GPIO chip), so what
        is shown is that relay-off ran after the kill, opened the configured relay under the
        unit's sandbox and drove it to its inactive level; the pin itself is tested in
        tests/security/test_rule11_relay_off.py.
        """
        box = self.box
        config = box.path(CONFIG)
        try:
            config.write_text(
                config_text(self.port)
                + '[hardware]\nboard = "gpio"\npin_factory = "mock"\n[door]\nrelay_pin = 27\n'
            )
            box.run("systemctl", "restart", UNIT, timeout=30)
            pid = box.show("MainPID")
            mark = len(box.journal())
            box.run("kill", "-KILL", pid)
            lines = self.journal_after(mark, "sip-endpoint relay-off: door relay on GPIO27")
            seen = next(line for line in lines if "relay-off" in line)
            if "driven inactive (active high)" not in seen:
                raise CheckError(f"relay-off said: {seen}")

            def restarted() -> bool:
                return box.show("MainPID") not in ("0", pid) and box.show("ActiveState") == "active"

            wait_until("a restart after SIGKILL", restarted, 30)
        finally:
            config.write_text(config_text(self.port))
            box.run("systemctl", "restart", UNIT, check=False, timeout=30)

    def sigterm_ends_call_with_bye(self, work: Path) -> None:
        """``systemctl stop`` during a call: the endpoint says BYE, then exits 0."""
        box = self.box
        sipp = Sipp(
            work / "stop", "uac_timer_silent.xml", [f"{LOOPBACK}:{self.port}", "-s", "door"]
        ).start()
        try:
            wait_until(
                "StatusText 'in call with …'",
                lambda: "; in call with" in box.show("StatusText"),
                10,
            )
            start = time.monotonic()
            box.run("systemctl", "stop", UNIT, timeout=30)
            self.figures.append(f"systemctl stop during a call: {time.monotonic() - start:.2f} s")
            code = sipp.wait(15)  # the scenario's last message is our BYE
        finally:
            sipp.stop()
        if code != 0:
            raise CheckError(f"SIPp exited {code} (no BYE?):\n{sipp.report()}")
        result, status = box.show("Result"), box.show("ExecMainStatus")
        if (result, status) != ("success", "0"):
            raise CheckError(f"stopped with Result={result} ExecMainStatus={status}")
        box.run("systemctl", "start", UNIT)

    def security(self) -> None:
        out = self.box.run("systemd-analyze", "security", "--no-pager", UNIT)
        match = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", out)
        if match is None:
            raise CheckError(f"no exposure level in:\n{out[-1500:]}")
        score = float(match.group(1))
        self.figures.append(
            f"systemd-analyze security: {score} {match.group(2)} (recorded {MAX_EXPOSURE})"
        )
        crosses = {line.split()[1]: line for line in out.splitlines() if line.startswith("✗ ")}
        new = [
            " ".join(crosses[name].split()) for name in sorted(crosses.keys() - ACCEPTED_EXPOSURES)
        ]
        if score > MAX_EXPOSURE or new:
            raise CheckError(
                f"exposure {score} (recorded {MAX_EXPOSURE}); newly exposed:\n  " + "\n  ".join(new)
            )

    def uninstall(self) -> None:
        box = self.box
        box.run(CLI, "uninstall")
        if box.path(f"/etc/systemd/system/{UNIT}").exists():
            raise CheckError("the unit file is still there")
        state = box.show("LoadState")
        if state != "not-found" or box.show("ActiveState") != "inactive":
            raise CheckError(
                f"after uninstall: LoadState={state} ActiveState={box.show('ActiveState')}"
            )
        try:
            sip_options_ping(self.port, timeout=1)
        except PeerError:
            return
        raise CheckError("something still answers on the service's port")

    def run_all(self) -> int:
        cgroup = self.box.run("stat", "-fc", "%T", "/sys/fs/cgroup").strip()
        systemd = self.box.run("systemctl", "--version").splitlines()[0]
        self.note(f"{systemd}; /sys/fs/cgroup is {cgroup}")
        with tempfile.TemporaryDirectory(prefix="sip-systemd-") as tmp:
            work = Path(tmp)
            with self.step("install-device.sh: the wheel and constraints.txt, no test tools"):
                self.install_device(self.wheel)
            with self.step("install --now: READY=1 before Started, runs as sip-endpoint"):
                self.install()
            with self.step("STATUS= shown by systemctl status"):
                self.status_idle()
            with self.step("SIPp call with audio, every hardening directive on"):
                self.call_with_audio(work)
            with self.step("reload: a broken file kept out, a good one applied"):
                self.reload()
            with self.step("watchdog restarts the service after SIGSTOP"):
                self.watchdog()
            with self.step("SIGKILL: ExecStopPost relay-off drives the relay inactive"):
                self.sigkill_releases_relay()
            with self.step("SIGTERM ends a call with BYE, exit 0"):
                self.sigterm_ends_call_with_bye(work)
            with self.step(f"systemd-analyze security: at most {MAX_EXPOSURE}, no new exposure"):
                self.security()
            with self.step("uninstall"):
                self.uninstall()
        for figure in self.figures:
            print(f"FIGURE [{self.variant}] {figure}")
        return 1 if self.failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--leader", type=int, required=True, help="the container's pid 1 (host pid)"
    )
    parser.add_argument("--root", type=Path, required=True, help="the container's root directory")
    parser.add_argument("--variant", default="", help="a label for the output (cgroup hierarchy)")
    parser.add_argument(
        "--wheel", required=True, help="the checkout's wheel, as the container sees it"
    )
    args = parser.parse_args(argv)
    return Checker(Container(args.leader, args.root), args.variant, args.wheel).run_all()


if __name__ == "__main__":
    sys.exit(main())
