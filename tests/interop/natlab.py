"""A real NAT for the tests: the door in a network namespace behind a router namespace that
masquerades (nftables), the STUN server and the peers in the root namespace on the router's
"internet" link. Root only; ``NatLab.create`` raises NatLabUnavailableError with the reason when
namespaces, veth pairs or nftables are missing, and the tests skip saying so.

    door ns  10.99.<n>.2 ──veth── 10.99.<n>.1  router ns  198.18.<n>.2 ──veth── 198.18.<n>.1  root
                                               (masquerade out of the right-hand link)
"""

import os
import shutil
import subprocess
from dataclasses import dataclass


class NatLabUnavailableError(RuntimeError):
    """This machine cannot build the namespaces (not root, no ip/nft, no kernel support)."""


def _run(*cmd: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    if result.returncode != 0:
        raise NatLabUnavailableError(f"{' '.join(cmd)}: {result.stderr.strip()}")


@dataclass
class NatLab:
    n: int
    door_ns: str
    router_ns: str

    #: The door's private address, the router's public one, and the peers' (root ns).
    @property
    def private(self) -> str:
        return f"10.99.{self.n}.2"

    @property
    def public(self) -> str:
        return f"198.18.{self.n}.2"

    @property
    def internet(self) -> str:
        return f"198.18.{self.n}.1"

    def exec_prefix(self) -> list[str]:
        """Run a command in the door's namespace."""
        return ["ip", "netns", "exec", self.door_ns]

    @classmethod
    def create(cls) -> "NatLab":
        if os.geteuid() != 0:
            raise NatLabUnavailableError("needs root (network namespaces)")
        for tool in ("ip", "nft"):
            if shutil.which(tool) is None:
                raise NatLabUnavailableError(f"{tool} is not installed (iproute2, nftables)")
        n = os.getpid() % 200 + 20
        lab = cls(n, f"natdoor{n}", f"natrouter{n}")
        try:
            lab._build()
        except NatLabUnavailableError:
            lab.destroy()
            raise
        return lab

    def _build(self) -> None:
        n, door, router = self.n, self.door_ns, self.router_ns
        _run("ip", "netns", "add", door)
        _run("ip", "netns", "add", router)
        _run("ip", "link", "add", f"nd{n}", "type", "veth", "peer", "name", f"nr{n}")
        _run("ip", "link", "set", f"nd{n}", "netns", door)
        _run("ip", "link", "set", f"nr{n}", "netns", router)
        _run("ip", "link", "add", f"nw{n}", "type", "veth", "peer", "name", f"ni{n}")
        _run("ip", "link", "set", f"nw{n}", "netns", router)
        in_door = ["ip", "netns", "exec", door]
        in_router = ["ip", "netns", "exec", router]
        _run(*in_door, "ip", "addr", "add", f"{self.private}/24", "dev", f"nd{n}")
        _run(*in_door, "ip", "link", "set", f"nd{n}", "up")
        _run(*in_door, "ip", "link", "set", "lo", "up")
        _run(*in_door, "ip", "route", "add", "default", "via", f"10.99.{n}.1")
        _run(*in_router, "ip", "addr", "add", f"10.99.{n}.1/24", "dev", f"nr{n}")
        _run(*in_router, "ip", "addr", "add", f"{self.public}/24", "dev", f"nw{n}")
        for link in (f"nr{n}", f"nw{n}", "lo"):
            _run(*in_router, "ip", "link", "set", link, "up")
        _run(*in_router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        _run(*in_router, "nft", "add", "table", "ip", "nat")
        _run(
            *in_router,
            "nft",
            "add chain ip nat post { type nat hook postrouting priority 100 ; }",
        )
        _run(
            *in_router, "nft", "add", "rule", "ip", "nat", "post", "oifname", f"nw{n}", "masquerade"
        )
        _run("ip", "addr", "add", f"{self.internet}/24", "dev", f"ni{n}")
        _run("ip", "link", "set", f"ni{n}", "up")

    def destroy(self) -> None:
        """Deleting the namespaces deletes their veth ends, and so the root's end too."""
        for ns in (self.door_ns, self.router_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", f"ni{self.n}"], capture_output=True, check=False)

    def in_router(self, *cmd: str) -> str:
        """Run a command in the router's namespace; its stdout."""
        result = subprocess.run(
            ["ip", "netns", "exec", self.router_ns, *cmd],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        return result.stdout

    def shorten_udp_timeouts(self, seconds: int) -> None:
        """The router forgets an idle UDP mapping after ``seconds`` (both the unreplied and the
        two-way "stream" timeout; the sysctls are per namespace), and counts packets per
        direction, so a test can watch a mapping live or die in seconds, not minutes."""
        self.in_router(
            "sysctl",
            "-q",
            "-w",
            f"net.netfilter.nf_conntrack_udp_timeout={seconds}",
            f"net.netfilter.nf_conntrack_udp_timeout_stream={seconds}",
            "net.netfilter.nf_conntrack_acct=1",
        )

    def udp_mapping(self, dport: int) -> tuple[int, int] | None:
        """The router's conntrack entry for UDP from the door to ``internet:dport``: packets
        out (door → peer) and back (peer → door), or None when the router has none."""
        for line in self.in_router("cat", "/proc/net/nf_conntrack").splitlines():
            words = line.split()
            if "udp" not in words or f"src={self.private}" not in words:
                continue
            if f"dst={self.internet}" in words and f"dport={dport}" in words:
                packets = [int(w.split("=")[1]) for w in words if w.startswith("packets=")]
                return packets[0], packets[1]
        return None
