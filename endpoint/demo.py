"""``sip-endpoint demo``: a door and a flat on 127.0.0.1, talking real SIP over UDP.

The demo grows with the endpoint; today it shows the SIP core end to end over real sockets: the
door builds an OPTIONS request, the flat parses it, runs the request checks a user agent runs
before accepting anything, answers 200 with what it supports, and the door parses the answer.
"""

from __future__ import annotations

import secrets
import socket
from typing import TextIO

from endpoint import __version__
from endpoint.sip import Headers, NameAddr, Request, Via, check_request, make_response, parse
from endpoint.sip.checks import DEFAULT_METHODS
from endpoint.sip.uri import SipURI


def _udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    return sock


def run_demo(out: TextIO) -> int:
    door, flat = _udp(), _udp()
    try:
        door_port, flat_port = door.getsockname()[1], flat.getsockname()[1]
        print(f"door on 127.0.0.1:{door_port}, flat on 127.0.0.1:{flat_port}", file=out)
        branch = "z9hG4bK" + secrets.token_hex(8)
        request = Request(
            "OPTIONS",
            SipURI("sip", "127.0.0.1", user="flat", port=flat_port),
            Headers(
                [
                    ("Via", str(Via("UDP", "127.0.0.1", door_port, (("branch", branch),)))),
                    ("Max-Forwards", "70"),
                    (
                        "From",
                        str(
                            NameAddr(
                                SipURI("sip", "127.0.0.1", "door"),
                                '"Front door"',
                                (("tag", secrets.token_hex(4)),),
                            )
                        ),
                    ),
                    ("To", f"<sip:flat@127.0.0.1:{flat_port}>"),
                    ("Call-ID", secrets.token_hex(8) + "@127.0.0.1"),
                    ("CSeq", "1 OPTIONS"),
                    ("User-Agent", f"sip-endpoint/{__version__}"),
                ]
            ),
        )
        door.sendto(bytes(request), ("127.0.0.1", flat_port))
        data, source = flat.recvfrom(65535)
        received = parse(data)
        if not isinstance(received, Request):
            print("demo failed: the flat received a response instead of a request", file=out)
            return 1
        print(f"flat <- {received.method} from {received.from_addr.display} {source}", file=out)
        rejection = check_request(received)
        if rejection is None:
            answer = make_response(
                received,
                200,
                to_tag=secrets.token_hex(4),
                headers=[("Allow", ", ".join(DEFAULT_METHODS)), ("Accept", "application/sdp")],
            )
        else:
            answer = make_response(received, rejection.status, rejection.reason)
        flat.sendto(bytes(answer), source)
        reply = parse(door.recvfrom(65535)[0])
        print(
            f"door <- {reply.version} {getattr(reply, 'status', '?')} "
            f"{getattr(reply, 'reason', '')}, Allow: {reply.headers.get('Allow')}",
            file=out,
        )
        return 0 if getattr(reply, "status", 0) == 200 else 1
    except (OSError, TimeoutError) as exc:
        print(f"demo failed: {exc}", file=out)
        return 1
    finally:
        door.close()
        flat.close()
