"""Advice on a valid configuration: settings the checks allow that still leave the door open."""

from __future__ import annotations

from endpoint.config.loader import Config


def security_warnings(config: Config) -> list[str]:
    """Settings that are valid but leave the door open (issue 13 rule 11): ``check-config``
    prints them and ``run`` logs them, so an installer sees them before a stranger does."""
    out: list[str] = []
    calls = config.calls
    if config.account is not None and calls.auto_answer and "*" in calls.allow:
        out.append(
            '[calls] auto_answer = true with allow = ["*"]: every caller the PBX routes hears '
            'the street; list the allowed callers, e.g. allow = ["concierge@example.com"]'
        )
    if config.account is not None and "*" in (config.sip.accept_from or ()):
        out.append(
            '[sip] accept_from includes "*": anyone on the network can call the door '
            "directly, bypassing the PBX; list the PBX's addresses instead"
        )
    if config.door.code and calls.auto_answer and "*" in calls.allow:
        out.append(
            "[door] code is set and every caller is auto-answered: the code alone keeps the "
            "door shut; restrict [calls] allow"
        )
    return out
