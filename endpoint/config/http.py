"""``[http]``: the HTTP API, its page and webhooks (issue 18). Without the section: no server.

With it, the API listens on ``127.0.0.1:8080`` unless ``listen`` says otherwise (configured, but
not exposed), and ``token_file`` is required: every API request carries that bearer token.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from endpoint.config.reader import Document, HostPort, Section, parse_host_port
from endpoint.config.secret_file import read_secret_file


@functools.cache
def _url_re() -> re.Pattern[str]:
    """Compiled at first use: only configured webhooks need it (issue 19)."""
    return re.compile(r"^https?://[^\s/]+(/\S*)?$")


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """The ``[http]`` section: the local HTTP API and the webhooks it posts events to."""

    listen: HostPort | None = None
    #: The bearer token every API request must carry (read from ``token_file``).
    token: str = field(default="", repr=False)
    webhooks: tuple[str, ...] = ()
    #: Event names the webhooks receive; empty: every event.
    webhook_events: tuple[str, ...] = ()


def _listen(value: Any) -> HostPort | None:
    return parse_host_port(value) if isinstance(value, str) else None


def _urls(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    if not all(isinstance(url, str) and _url_re().match(url) for url in value):
        return None
    return tuple(value)


def _names(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return None
    return tuple(value)


def read(doc: Document) -> HttpSettings:
    if not doc.has("http"):
        return HttpSettings()
    r = doc.reader("http")
    listen = r.get(
        "listen",
        HostPort("127.0.0.1", 8080),
        _listen,
        'host:port to serve on, e.g. listen = "127.0.0.1:8080"',
    )
    token = read_secret_file(r, doc, "token_file", "a long random token")
    if "token_file" not in r.table:
        r.problems.append(
            "[http] has no token_file: create a file with a long random token "
            '(e.g. "openssl rand -hex 32 > /etc/sip-endpoint/http-token") and set token_file'
        )
    if token and len(token) < 16:
        r.problems.append(
            f"[http] token_file: the token has {len(token)} characters; use at least 16 "
            "(e.g. openssl rand -hex 32)"
        )
    return HttpSettings(
        listen=listen,
        token=token,
        webhooks=r.get(
            "webhooks", (), _urls, 'a list of URLs, e.g. webhooks = ["http://10.0.0.5/hook"]'
        ),
        webhook_events=r.get(
            "webhook_events",
            (),
            _names,
            'a list of event names, e.g. webhook_events = ["call-incoming", "door-opened"]',
        ),
    )


HTTP = Section("http", ("listen", "token_file", "webhooks", "webhook_events"), HttpSettings(), read)
