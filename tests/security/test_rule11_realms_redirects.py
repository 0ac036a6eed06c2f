"""Issue 13 rule 11 against the real process: a digest challenge for a realm the configuration
does not name gets no hash, and a 3xx to a host it does not name is not followed.

The "registrar" and the "flat" are plain UDP sockets on other loopback addresses, scripted
here, so what the door sends (or does not send) is seen byte for byte.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from endpoint.sip import Request, make_response, parse
from tests.interop.peers import free_port
from tests.security.attacker import p2p_config, running_door


@contextmanager
def udp_peer(host: str) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    try:
        yield sock
    finally:
        sock.close()


def next_request(
    sock: socket.socket, method: str, timeout: float = 10.0
) -> tuple[Request, tuple[str, int]]:
    """The next ``method`` request that arrives on ``sock`` and where it came from."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        data, source = sock.recvfrom(65535)
        message = parse(data)
        if isinstance(message, Request) and message.method == method:
            return message, source
    raise AssertionError(f"no {method} within {timeout} s")


def pending(sock: socket.socket) -> list[bytes]:
    """What has arrived on ``sock`` so far (nothing is waited for)."""
    sock.setblocking(False)
    out = []
    try:
        while True:
            out.append(sock.recv(65535))
    except BlockingIOError:
        pass
    finally:
        sock.setblocking(True)
    return out


def account_config(path: Path, port: int, registrar: tuple[str, int], extra: str = "") -> None:
    path.write_text(
        f'[sip]\nlisten = "127.0.0.1:{port}"\n'
        f'[account]\nregistrar = "sip:{registrar[0]}:{registrar[1]}"\nuser = "door"\n'
        f'password = "secret"\nretry_interval = 60\n{extra}'
        f'[audio]\nbackend = "null"\n[control]\nsocket = "{path.parent / "ctl.sock"}"\n'
    )


def challenged_register(tmp_path: Path, realm: str, extra: str = "") -> tuple[list[bytes], str]:
    """A door registering at a PBX that challenges for ``realm``: what it sent next, its log."""
    with udp_peer("127.0.0.7") as pbx:
        port = free_port(both=True)
        config = tmp_path / "door.toml"
        account_config(config, port, pbx.getsockname(), extra)
        with running_door(tmp_path, port, config) as door:
            register, source = next_request(pbx, "REGISTER")
            challenge = make_response(
                register,
                401,
                to_tag="pbx",
                headers=[("WWW-Authenticate", f'Digest realm="{realm}", nonce="n1", qop="auth"')],
            )
            pbx.sendto(bytes(challenge), source)
            door.wait_until(lambda: "registration-failed" in door.log or bool(pending_peek(pbx)))
            time.sleep(0.2)  # let a (wrong) re-sent REGISTER arrive before looking
            return pending(pbx), door.log


def pending_peek(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)
        return True
    except BlockingIOError:
        return False
    finally:
        sock.setblocking(True)


def test_a_challenge_for_a_foreign_realm_gets_no_hash(tmp_path: Path) -> None:
    after, log = challenged_register(tmp_path, "evil.example")
    assert not any(b"Authorization:" in data for data in after), after
    assert "realm 'evil.example', which is not configured" in log
    assert "secret" not in log


def test_a_realm_listed_in_account_realms_is_answered(tmp_path: Path) -> None:
    after, _ = challenged_register(tmp_path, "asterisk", 'realms = ["asterisk"]\n')
    registers = [parse(data) for data in after]
    assert any(
        isinstance(m, Request) and 'realm="asterisk"' in (m.headers.get("Authorization") or "")
        for m in registers
    ), after


def test_a_redirect_to_a_stranger_is_not_followed(tmp_path: Path) -> None:
    with udp_peer("127.0.0.5") as flat, udp_peer("127.0.0.66") as premium:
        port = free_port(both=True)
        config = tmp_path / "door.toml"
        p2p_config(config, port)
        with running_door(tmp_path, port, config) as door:
            flat_port = flat.getsockname()[1]
            assert door.ctl("call", f"sip:flat@127.0.0.5:{flat_port}").returncode == 0
            invite, source = next_request(flat, "INVITE")
            premium_port = premium.getsockname()[1]
            moved = make_response(
                invite,
                302,
                to_tag="flat",
                headers=[("Contact", f"<sip:0900123@127.0.0.66:{premium_port}>")],
            )
            flat.sendto(bytes(moved), source)
            door.wait_until(lambda: "refused: not a configured domain or peer" in door.log)
            assert pending(premium) == []
            assert "302 redirect to 127.0.0.66 refused" in door.log
            assert door.alive()
