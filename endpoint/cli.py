"""The ``sip-endpoint`` command line: ``main(argv) -> int``, so tests call it without a process.

Expected failures (a bad config file, a port in use) print one clear message and return a
non-zero status; only a bug produces a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from endpoint import __version__
from endpoint.config import Config, ConfigError, load_config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sip-endpoint",
        description="Headless SIP/RTP endpoint for door intercoms and auto-answer phones.",
    )
    parser.add_argument("--version", action="version", version=f"sip-endpoint {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = commands.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("file", help="the TOML configuration file")
    commands.add_parser("demo", help="run a self-contained demonstration on 127.0.0.1")
    return parser


def describe(config: Config) -> list[str]:
    """A short summary of what a configuration will do (never the password)."""
    lines = [f"listen: {config.sip.transport} {config.sip.listen}"]
    if config.account is None:
        lines.append("account: none (peer-to-peer: callable at this host's address)")
    else:
        a = config.account
        lines.append(f"account: {a.user}@{a.domain} via {a.registrar} (expires {a.expires} s)")
        if config.backup_account is not None:
            lines.append(f"backup account: {config.backup_account.registrar}")
    calls = config.calls
    answer = f"auto-answer after {calls.answer_delay:g} s" if calls.auto_answer else "ring only"
    lines.append(f"calls: {answer}, allow {', '.join(calls.allow)}")
    lines.append(f"media: {', '.join(config.media.codecs)}, RTP ports {config.media.rtp_ports}")
    lines.append(f"audio: {config.audio.backend}")
    lines.append(f"control socket: {config.control.socket}")
    return lines


def _check_config(path: str, out: TextIO, err: TextIO) -> int:
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"{path}: {len(exc.problems)} problem(s):", file=err)
        for problem in exc.problems:
            print(f"  {problem}", file=err)
        return 1
    print(f"{path}: OK", file=out)
    for line in describe(config):
        print(f"  {line}", file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return the process exit status."""
    parser = _parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.command == "check-config":
        return _check_config(args.file, sys.stdout, sys.stderr)
    if args.command == "demo":
        from endpoint.demo import run_demo

        return run_demo(sys.stdout)
    parser.print_help()
    return 2
