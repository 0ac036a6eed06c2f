"""The ``sip-endpoint`` command line: ``main(argv) -> int``, so tests call it without a process.

Expected failures (a bad config file, a port in use) print one clear message and return a
non-zero status; only a bug produces a traceback.

Each command imports what it uses, when it runs (issue 19): ``ctl`` talks to the socket without
loading the configuration reader or SQLite, and ``run`` loads the engine but no subcommand's
code (doctor, install, demo).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from endpoint import __version__
from endpoint.control_client import DEFAULT_SOCKET, ControlError
from endpoint.control_client import events as control_events
from endpoint.control_client import request as control_request
from endpoint.service import commands as service_commands

if TYPE_CHECKING:
    from endpoint.config import Config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sip-endpoint",
        description="Headless SIP/RTP endpoint for door intercoms and auto-answer phones.",
    )
    parser.add_argument("--version", action="version", version=f"sip-endpoint {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = commands.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("file", help="the TOML configuration file")
    run = commands.add_parser("run", help="run the endpoint in the foreground (logs to stderr)")
    run.add_argument("--config", required=True, help="the TOML configuration file")
    commands.add_parser("demo", help="run a self-contained demonstration on 127.0.0.1")
    relay = commands.add_parser(
        "relay-off", help="drive the door relay inactive (the unit's ExecStopPost, after a crash)"
    )
    relay.add_argument("--config", required=True, help="the TOML configuration file")
    ctl = commands.add_parser("ctl", help="control a running endpoint through its socket")
    ctl.add_argument("--socket", type=Path, default=DEFAULT_SOCKET, help="control socket path")
    actions = ctl.add_subparsers(dest="action", metavar="ACTION", required=True)
    call = actions.add_parser("call", help="call a SIP URI (several: a call group)")
    call.add_argument("uri", nargs="+", help="sip:user@host, or a user name at our domain")
    call.add_argument(
        "--sequential", action="store_true", help="ring one target after another, not all at once"
    )
    call.add_argument("--timeout", type=float, help="seconds each target rings (sequential)")
    per_call = [
        actions.add_parser("hangup", help="end (or cancel) the active call"),
        actions.add_parser("hold", help="put the call on hold (re-INVITE a=sendonly, no audio)"),
        actions.add_parser("resume", help="take the call off hold (re-INVITE a=sendrecv)"),
    ]
    actions.add_parser("answer", help="answer the ringing call")
    dtmf = actions.add_parser("dtmf", help="send DTMF digits in the call")
    dtmf.add_argument("digits")
    for sub in (*per_call, dtmf):
        sub.add_argument(
            "--call",
            metavar="CALL_ID",
            help="this call (ctl status lists them) instead of the active one; during an "
            "attended transfer the active call is the consultation call",
        )
    message = actions.add_parser("message", help="send a text (SIP MESSAGE, RFC 3428)")
    message.add_argument("to", help="sip:user@host, or a user name at our domain")
    message.add_argument("text", help="the text (UTF-8, at most 1300 bytes)")
    transfer = actions.add_parser(
        "transfer", help="transfer the answered call (blind REFER); watch ctl events for the result"
    )
    transfer.add_argument("uri", nargs="?", help="sip:user@host, or a user name at our domain")
    step = transfer.add_mutually_exclusive_group()
    step.add_argument(
        "--attended", action="store_true", help="hold the call and call URI first (consult)"
    )
    step.add_argument(
        "--complete", action="store_true", help="attended: hand the held call to the consulted"
    )
    step.add_argument(
        "--cancel", action="store_true", help="attended: end the consultation, resume the call"
    )
    actions.add_parser("open-door", help="pulse the door relay")
    volume = actions.add_parser(
        "volume", help="speaker volume / microphone gain in dB, now and for the next calls"
    )
    volume.add_argument("--speaker", type=float, help="speaker volume, dB (-60 to 12)")
    volume.add_argument("--mic", type=float, help="microphone gain, dB (-20 to 40)")
    register = actions.add_parser("register", help="register again now")
    switch = register.add_mutually_exclusive_group()
    switch.add_argument("--off", action="store_true", help="un-register: out of service")
    switch.add_argument("--on", action="store_true", help="back in service: register")
    status = actions.add_parser("status", help="registration and call state")
    status.add_argument("--json", action="store_true", help="print JSON")
    actions.add_parser("events", help="print events as JSON lines until interrupted")
    hist = actions.add_parser("history", help="the last calls (or door events), newest first")
    hist.add_argument("--door", action="store_true", help="the door log instead of calls")
    hist.add_argument("--limit", type=int, default=20, help="how many rows (default 20)")
    hist.add_argument("--json", action="store_true", help="print JSON")
    service_commands.add_commands(commands)
    return parser


def _transfer_payload(args: argparse.Namespace, payload: dict[str, Any]) -> None:
    """``transfer URI`` (blind), ``transfer --attended URI``, ``--complete``, ``--cancel``."""
    if args.complete or args.cancel:
        payload["attended"] = "complete" if args.complete else "cancel"
        return
    if not args.uri:
        raise SystemExit("ctl transfer: a URI is needed (sip:user@host, or a user name)")
    payload["uri"] = args.uri
    if args.attended:
        payload["attended"] = "start"


def _payload(args: argparse.Namespace) -> dict[str, Any]:
    """The control request for ``ctl ACTION ...`` (the socket's JSON command)."""
    payload: dict[str, Any] = {"cmd": args.action}
    if args.action in ("hangup", "hold", "resume", "dtmf") and args.call:
        payload["call_id"] = args.call
    if args.action == "call" and len(args.uri) == 1:
        payload["uri"] = args.uri[0]
    elif args.action == "call":
        payload["uris"] = args.uri
        payload["mode"] = "sequential" if args.sequential else "parallel"
        if args.timeout is not None:
            payload["timeout"] = args.timeout
    elif args.action == "message":
        payload["to"] = args.to
        payload["text"] = args.text
    elif args.action == "dtmf":
        payload["digits"] = args.digits
    elif args.action == "transfer":
        _transfer_payload(args, payload)
    elif args.action == "volume":
        if args.speaker is not None:
            payload["speaker"] = args.speaker
        if args.mic is not None:
            payload["mic"] = args.mic
    elif args.action == "register" and (args.off or args.on):
        payload["enabled"] = bool(args.on)
    elif args.action == "history":
        payload["kind"] = "door" if args.door else "calls"
        payload["limit"] = args.limit
    return payload


def _ctl(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    path: Path = args.socket
    try:
        if args.action == "events":
            for event in control_events(path):
                print(json.dumps(event), file=out, flush=True)
            return 0
        answer = control_request(path, _payload(args))
    except ControlError as exc:
        print(f"sip-endpoint ctl: {exc}", file=err)
        return 1
    except KeyboardInterrupt:
        return 0
    if not answer.get("ok"):
        print(f"sip-endpoint ctl {args.action}: {answer.get('error', 'failed')}", file=err)
        return 1
    if args.action == "status" and not args.json:
        for key, value in answer.items():
            if key != "ok":
                print(f"{key}: {value}", file=out)
    elif args.action == "history" and not args.json:
        # Here: the history module brings sqlite3, which no other ctl action needs.
        from endpoint.integration.history import history_lines

        for line in history_lines(answer["kind"], answer["rows"]):
            print(line, file=out)
    else:
        print(json.dumps(answer), file=out)
    return 0


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
    hw, door = config.hardware, config.door
    if hw.board != "none":
        relay = f"door relay GPIO{door.relay_pin}" if door.relay_pin is not None else "no door"
        lines.append(
            f"hardware: {hw.board}, {len(hw.buttons)} button(s), {len(hw.leds)} LED(s), {relay}"
            + (", DTMF code set" if door.code else "")
        )
    lines.append(
        f"history: kept {config.history.retention_days} days, at most {config.history.max_mb} MiB"
    )
    if config.http.listen is not None:
        scheme = "https" if config.tls.cert_file is not None else "http"
        hooks = f", {len(config.http.webhooks)} webhook(s)" if config.http.webhooks else ""
        lines.append(f"HTTP API: {scheme}://{config.http.listen}/ (bearer token){hooks}")
    if config.mqtt.broker is not None:
        commands = "commands on" if config.mqtt.commands else "commands off"
        lines.append(f"MQTT: {config.mqtt.broker} under {config.mqtt.topic_prefix}/, {commands}")
    return lines


def _load(path: str, err: TextIO) -> Config | None:
    """The configuration, or None after printing every problem (never a traceback)."""
    # Here: the TOML reader and every section's module serve the commands that read a file.
    from endpoint.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"{path}: {len(exc.problems)} problem(s):", file=err)
        for problem in exc.problems:
            print(f"  {problem}", file=err)
        return None


def _check_config(path: str, out: TextIO, err: TextIO) -> int:
    config = _load(path, err)
    if config is None:
        return 1
    from endpoint.config import security_warnings  # loaded by _load already

    print(f"{path}: OK", file=out)
    for line in describe(config):
        print(f"  {line}", file=out)
    for warning in (*security_warnings(config), *config.media.unavailable):
        print(f"warning: {warning}", file=out)
    return 0


def _run(path: str, err: TextIO) -> int:
    # The configuration first: whether it needs TLS decides whether asyncio gets ``ssl`` (and
    # OpenSSL's 4.6 MB) before anything imports asyncio (issue 19, import_gate.py).
    config = _load(path, err)
    if config is None:
        return 2
    from endpoint.config import needs_tls
    from endpoint.import_gate import import_asyncio

    import_asyncio(needs_tls(config))
    import asyncio

    from endpoint.hardware.factory import HardwareError
    from endpoint.logs import secrets, setup_logging
    from endpoint.runtime.engine import Engine

    setup_logging(config.log_level)
    for account in (config.account, config.backup_account):
        if account is not None:
            secrets.add(account.password)
    for secret in (config.http.token, config.mqtt.password):  # issue 18
        if secret:
            secrets.add(secret)
    try:
        return asyncio.run(Engine(config, config_path=Path(path)).run())
    except OSError as exc:
        print(
            f"sip-endpoint: cannot start: {exc.strerror or exc} "
            f"(is another program using {config.sip.listen}?)",
            file=err,
        )
        return 1
    except HardwareError as exc:
        print(f"sip-endpoint: cannot start the hardware: {exc}", file=err)
        return 1


def _relay_off(path: str, out: TextIO, err: TextIO) -> int:
    from endpoint.runtime.relay_off import relay_off

    config = _load(path, err)
    if config is None:
        return 2
    return relay_off(config, out, err)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return the process exit status."""
    parser = _parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.command == "check-config":
        return _check_config(args.file, sys.stdout, sys.stderr)
    if args.command == "run":
        return _run(args.config, sys.stderr)
    if args.command == "relay-off":
        return _relay_off(args.config, sys.stdout, sys.stderr)
    if args.command == "ctl":
        return _ctl(args, sys.stdout, sys.stderr)
    if args.command in service_commands.NAMES:
        return service_commands.run(args, sys.stdout, sys.stderr)
    if args.command == "demo":
        from endpoint.demo import run_demo

        return run_demo(sys.stdout)
    parser.print_help()
    return 2
