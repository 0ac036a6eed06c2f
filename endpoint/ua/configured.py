"""Which realms get our digest credentials, and which hosts a 3xx redirect may send us to.

Both answer one question for issue 13 rule 11: does the configuration name this party? A
password hashed for a realm the account does not belong to hands a stranger something to
crack offline; a redirect followed to any Contact lets whoever answers an INVITE (or spoofs a
3xx) make the door dial a premium number through our PBX account (toll fraud) or ring a
stranger. So only what the operator wrote down counts:

- realms: the account's domain, its registrar's host, its outbound proxy's host and
  ``[account] realms`` (for a PBX whose realm is not its domain, e.g. Asterisk's "asterisk");
- redirect hosts: the same hosts of every account, the hosts named by ``[calls] allow``
  patterns (a pattern whose host is ``*`` names no host), the hosts of the buttons' call
  targets, and the host the call was going to already (a phone that moves the call to
  another of its own lines or ports);
- transfer targets (a REFER's Refer-To): the redirect hosts except the current one.

Hosts compare without case (RFC 3261 §19.1.4); ``allow`` host patterns are shell wildcards,
as in ``Allowlist``.
"""

from __future__ import annotations

import random
from fnmatch import fnmatchcase

from endpoint.config import AccountSettings, Config
from endpoint.sip.digest import DigestClient
from endpoint.sip.errors import ParseError
from endpoint.sip.uri import SipURI, parse_uri


def _host(text: str | None) -> str | None:
    if not text:
        return None
    try:
        uri = parse_uri(text)
    except ParseError:
        return None
    return uri.bare_host.lower() if isinstance(uri, SipURI) else None


def account_hosts(account: AccountSettings) -> set[str]:
    """The domain, registrar host and outbound proxy host of ``account`` (lower case)."""
    hosts = {account.domain.lower()}
    for text in (account.registrar, account.outbound_proxy):
        host = _host(text)
        if host is not None:
            hosts.add(host)
    return hosts


def account_realms(account: AccountSettings) -> frozenset[str]:
    """The digest realms ``account``'s password is answered for. An IPv6 host counts in both
    spellings: a registrar names its realm after the domain as written in a URI, with brackets
    (Kamailio's ``[::1]``), or bare."""
    hosts = account_hosts(account)
    bracketed = {f"[{h}]" for h in hosts if ":" in h and not h.startswith("[")}
    bare = {h.strip("[]") for h in hosts if h.startswith("[")}
    return frozenset(hosts | bracketed | bare | set(account.realms))


def account_digest(account: AccountSettings | None, rng: random.Random) -> DigestClient | None:
    """Our credentials for ``account`` (None without one), handed only to its configured
    realms (issue 13 rule 11): one place, so every sender of ours answers challenges alike."""
    if account is None:
        return None
    return DigestClient(
        account.auth_user, account.password, rng, allowed_realms=account_realms(account)
    )


def _named_hosts(config: Config) -> set[str]:
    """Every account's hosts and the buttons' call targets' hosts (lower case)."""
    named: set[str] = set()
    for account in (config.account, config.backup_account):
        if account is not None:
            named |= account_hosts(account)
    for button in config.hardware.buttons:
        for text in button.targets:
            found = _host(text)
            if found is not None:
                named.add(found)
    return named


def peer_hosts(config: Config) -> set[str]:
    """The hosts of the parties the configuration names: every account's domain, registrar
    and proxy, the buttons' call targets, and the ``[calls] allow`` patterns whose host is
    written out (no wildcard). Their addresses get the larger transaction budget (rule 9)."""
    named = _named_hosts(config)
    for pattern in config.calls.allow:
        host = pattern.rpartition("@")[2] if "@" in pattern else ""
        if host and not any(c in host for c in "*?["):
            named.add(host.lower())
    return named


def redirect_allowed(config: Config, current: SipURI, target: SipURI) -> bool:
    """Whether a 3xx from the call to ``current`` may move it to ``target``."""
    return target.bare_host.lower() == current.bare_host.lower() or named_host(config, target)


def named_host(config: Config, target: SipURI) -> bool:
    """Is ``target``'s host one the configuration names (accounts, buttons, ``allow``)? The
    only places a REFER may send the door (RFC 3515 transfer): the peer's own host is not
    enough, unlike a redirect, since the transfer target is the peer's free choice."""
    host = target.bare_host.lower()
    if host in _named_hosts(config):
        return True
    for pattern in config.calls.allow:
        pattern_host = pattern.rpartition("@")[2] if "@" in pattern else "*"
        if pattern_host.strip("*") and fnmatchcase(host, pattern_host.lower()):
            return True
    return False
