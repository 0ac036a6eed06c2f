"""Which callers may be auto-answered.

A door intercom that answers anyone is a microphone anyone on the network can open, so callers are
matched against the configured ``[calls] allow`` patterns before auto-answer. Patterns are shell
wildcards over ``user@host`` (``"concierge@example.com"``, ``"*@10.0.0.*"``, ``"*"``); a pattern
without ``@`` matches the user part at any host. Matching is case-insensitive for the host (RFC
3261 §19.1.4 compares hosts case-insensitively) and case-sensitive for the user, as SIP does.

The identity matched is the From URI: it is only as trustworthy as the network and the PBX that
authenticated the caller, which is why ``not_allowed = "reject"`` exists for exposed setups.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import unquote


@dataclass(frozen=True, slots=True)
class Allowlist:
    """Caller patterns (``user@host`` with wildcards) the door trusts."""

    patterns: tuple[str, ...] = ("*",)

    def allows(self, user: str | None, host: str) -> bool:
        """True if the caller ``user@host`` matches one of the patterns."""
        user_text = unquote(user or "")
        host_text = host.lower()
        for pattern in self.patterns:
            if pattern == "*":
                return True
            if "@" in pattern:
                pattern_user, _, pattern_host = pattern.rpartition("@")
            else:
                pattern_user, pattern_host = pattern, "*"
            if fnmatchcase(user_text, pattern_user) and fnmatchcase(
                host_text, pattern_host.lower()
            ):
                return True
        return False
