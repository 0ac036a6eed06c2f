"""The harness's port allocator: a port it hands out is never handed out again in the same
process. In CI the kernel once gave baresip's ``ctrl_tcp`` and its ``cons`` console the same
port; our JSON commands then reached the console, which echoed them back as keystrokes."""

import socket

from tests.interop import peers


def test_ports_handed_out_never_repeat_across_the_three_allocators() -> None:
    seen: list[int] = []
    for _ in range(100):
        seen.append(peers.free_port())
        seen.append(peers.free_port(socket.SOCK_STREAM, both=True))
        sip = peers._baresip_sip_port()
        seen += [sip, sip + 1]
        low, high = peers.free_port_range(4)
        seen += range(low, high + 1)
    assert len(seen) == len(set(seen))


def test_a_port_already_handed_out_is_not_claimed_twice() -> None:
    port = peers.free_port()
    assert not peers._claim(port)
    _low, high = peers.free_port_range(2)
    assert not peers._claim(high)
