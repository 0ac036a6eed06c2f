"""The service commands of the command line: ``install``, ``uninstall`` and ``doctor``.

``endpoint.cli`` adds them with ``add_commands`` and hands their parsed arguments to ``run``,
so the CLI module (shared by several features) only grows by two calls.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

NAMES = ("install", "uninstall", "doctor")


def add_commands(commands: Any) -> None:
    """Add the subcommands to ``commands`` (the ``argparse`` subparsers object)."""
    install = commands.add_parser(
        "install", help="install the systemd service (user, unit, config); run as root"
    )
    install.add_argument(
        "--prefix",
        type=Path,
        help="the virtual environment the service runs (default: the one running this command)",
    )
    install.add_argument("--now", action="store_true", help="also start the service")
    install.add_argument(
        "--root",
        type=Path,
        help="write the files under this directory and only print the commands (staging, tests)",
    )
    uninstall = commands.add_parser("uninstall", help="remove the systemd service; run as root")
    uninstall.add_argument(
        "--purge", action="store_true", help="also remove /etc/sip-endpoint and the user"
    )
    uninstall.add_argument("--root", type=Path, help="as for install")
    doctor = commands.add_parser(
        "doctor", help="check config, audio, hardware, port, registrar and clock"
    )
    doctor.add_argument(
        "--config",
        type=Path,
        default=Path("/etc/sip-endpoint/config.toml"),
        help="the TOML configuration file (default: /etc/sip-endpoint/config.toml)",
    )
    doctor.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for the registrar"
    )
    doctor.add_argument(
        "--audio",
        action="store_true",
        help="also play a chirp and find it in the microphone: echo delay and level, "
        "dead speaker or microphone",
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.command == "install":
        from endpoint.service.install import install_command

        return install_command(args.root, args.prefix, args.now, out, err)
    if args.command == "uninstall":
        from endpoint.service.install import uninstall_command

        return uninstall_command(args.root, args.purge, out, err)
    from endpoint.service.doctor import run_doctor

    return run_doctor(args.config, out, timeout=args.timeout, acoustic=args.audio)
