"""``[account]`` and ``[backup_account]``: the registrar accounts, their secrets and transports."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from endpoint.config.reader import (
    Document,
    Reader,
    Section,
    choice,
    hostname,
    int_in,
    nonempty_str,
    parse_host_port,
    path,
    show,
    string_list,
)
from endpoint.config.sip import SIP


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """A registrar account. ``password`` is kept out of ``repr`` so it never reaches a log."""

    registrar: str
    user: str
    password: str = field(repr=False)
    domain: str
    auth_user: str
    display_name: str | None = None
    expires: int = 600
    outbound_proxy: str | None = None
    keepalive: str = "crlf"
    keepalive_interval: int = 25
    #: Seconds before the first retry of a failed registration (doubling up to 30 min).
    retry_interval: int = 30
    #: Digest realms answered besides the domain and the registrar host (a PBX whose realm
    #: differs); a challenge for any other realm gets no credentials (issue 13 rule 11).
    realms: tuple[str, ...] = ()


KEYS = (
    "registrar",
    "user",
    "password",
    "password_file",
    "domain",
    "auth_user",
    "display_name",
    "expires",
    "outbound_proxy",
    "keepalive",
    "keepalive_interval",
    "retry_interval",
    "realms",
)


@functools.cache
def _user_re() -> re.Pattern[str]:
    """Compiled at first use: only a configuration with an account needs it (issue 19)."""
    return re.compile(r"^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+$")


@functools.cache
def _uri_transport_re() -> re.Pattern[str]:
    """Compiled at first use: only a configured proxy URI needs it (issue 19)."""
    return re.compile(r";transport=([A-Za-z]+)", re.IGNORECASE)


def _user(value: Any) -> str | None:
    return value if isinstance(value, str) and _user_re().match(value) else None


def _sip_target(value: Any) -> str | None:
    """A registrar or proxy: ``sip:host[:port][;transport=..]`` or a bare ``host[:port]``."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    lowered = text.lower()
    if lowered.startswith(("sip:", "sips:")):
        rest = text.split(":", 1)[1]
    else:
        rest, text = text, f"sip:{text}"
    hostport = rest.split(";", 1)[0]
    if "@" in hostport:
        return None
    return text if parse_host_port(hostport) is not None else None


def _registrar_host(registrar: str) -> str:
    """The host part of a checked registrar URI: the account's domain unless one is given."""
    if not registrar:
        return ""
    hostport = registrar.split(":", 1)[1].split(";", 1)[0]
    parsed = parse_host_port(hostport)
    return parsed.host if parsed else hostport


def _read_account(doc: Document, section: str) -> AccountSettings | None:
    r = doc.reader(section)
    before = len(doc.problems)
    registrar = r.required(
        "registrar", _sip_target, 'the registrar, e.g. registrar = "sip:pbx.example.com:5060"'
    )
    user = r.required("user", _user, 'the SIP user name, e.g. user = "door"')
    password = _read_password(r, doc)
    domain = r.get(
        "domain",
        _registrar_host(registrar),
        hostname,
        'the SIP domain of the account, e.g. domain = "example.com" (default: the registrar host)',
    )
    account = AccountSettings(
        registrar=registrar,
        user=user,
        password=password,
        domain=domain,
        auth_user=r.get("auth_user", user, _user, "the digest user name, if not the SIP user"),
        display_name=r.get(
            "display_name", None, nonempty_str, 'a name, e.g. display_name = "Front door"'
        ),
        expires=r.get(
            "expires", 600, int_in(30, 86400), "seconds between 30 and 86400, e.g. expires = 600"
        ),
        outbound_proxy=r.get(
            "outbound_proxy",
            None,
            _sip_target,
            'a proxy URI, e.g. outbound_proxy = "sip:proxy.example.com:5060"',
        ),
        keepalive=r.get(
            "keepalive", "crlf", choice("crlf", "options", "off"), 'one of "crlf", "options", "off"'
        ),
        keepalive_interval=r.get(
            "keepalive_interval", 25, int_in(5, 3600), "seconds between 5 and 3600, e.g. 25"
        ),
        retry_interval=r.get(
            "retry_interval", 30, int_in(1, 3600), "seconds between 1 and 3600, e.g. 30"
        ),
        realms=r.get(
            "realms",
            (),
            string_list,
            'digest realms besides the domain, e.g. realms = ["asterisk"]',
        ),
    )
    return account if len(doc.problems) == before else None


def _read_password(r: Reader, doc: Document) -> str:
    has_password = "password" in r.table
    has_file = "password_file" in r.table
    if has_password and has_file:
        r.problems.append(
            f"[{r.section}] password and password_file are both set: keep only one "
            "(password_file is better: the config can then be world-readable)"
        )
        return ""
    if has_file:
        return _read_password_file(r, doc)
    if has_password:
        return r.get("password", "", nonempty_str, "a non-empty string (or use password_file)")
    r.problems.append(
        f'[{r.section}] password is missing: set password = "..." or password_file = "PATH"'
    )
    return ""


def _read_password_file(r: Reader, doc: Document) -> str:
    file = doc.relative(
        r.get("password_file", None, path, 'a file path, e.g. "/etc/sip-endpoint/pw"')
    )
    if file is None:
        return ""
    try:
        secret = file.read_text().strip()
    except OSError as exc:
        r.problems.append(
            f"[{r.section}] password_file = {show(str(file))}: cannot be read "
            f"({exc.strerror}); create it with the password on one line, readable by the "
            "service user"
        )
        return ""
    if not secret:
        r.problems.append(
            f"[{r.section}] password_file = {show(str(file))}: the file is empty; put the "
            "password on its first line"
        )
    return secret


def _check_transport(doc: Document, section: str, account: AccountSettings | None) -> None:
    """The registrar's and proxy's transport must be ours: our Via and Contact name the
    transport we send on, and keys for SRTP may only travel where TLS protects them."""
    if account is None:
        return
    transport = doc.get(SIP).transport
    for key, uri in (("registrar", account.registrar), ("outbound_proxy", account.outbound_proxy)):
        if not uri:
            continue
        m = _uri_transport_re().search(uri)
        wanted = m.group(1).lower() if m else ("tls" if uri.lower().startswith("sips:") else None)
        if wanted is not None and wanted != transport:
            doc.problems.append(
                f"[{section}] {key} = {show(uri)} uses {wanted.upper()} but [sip] transport = "
                f'"{transport}": set [sip] transport = "{wanted}" or change the URI'
            )


def read_primary(doc: Document) -> AccountSettings | None:
    """``[account]``; None (peer-to-peer mode) when there is none or it has mistakes."""
    account = _read_account(doc, "account") if doc.has("account") else None
    accept_from = doc.get(SIP).accept_from
    if accept_from and "registrar" in accept_from and "account" not in doc.data:
        doc.problems.append(
            '[sip] accept_from = "registrar" needs an [account]: in peer-to-peer mode list '
            'addresses or networks, or "*"'
        )
    _check_transport(doc, "account", account)
    return account


def read_backup(doc: Document) -> AccountSettings | None:
    """``[backup_account]``: registered to when the primary registrar fails."""
    if not doc.has("backup_account"):
        return None
    if "account" not in doc.data:
        doc.problems.append("[backup_account] is set without [account]: add the primary [account]")
    backup = _read_account(doc, "backup_account")
    _check_transport(doc, "backup_account", backup)
    return backup


ACCOUNT: Section[AccountSettings | None] = Section("account", KEYS, None, read_primary)
BACKUP_ACCOUNT: Section[AccountSettings | None] = Section("backup_account", KEYS, None, read_backup)
