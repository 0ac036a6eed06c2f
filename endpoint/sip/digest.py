"""Digest authentication, client side (RFC 2617, RFC 7616, RFC 8760 for SIP).

A 401 or 407 carries one or more challenges; we answer the strongest we support (SHA-512-256 >
SHA-256 > MD5, "-sess" variants by their base), with qop=auth (or auth-int when it is the only
one offered), a cnonce from the injected random source, and nc counted per nonce.

Whether a challenge means "wrong password" depends only on the request it answers (RFC 3261
§22.2): a request that carried no credentials for the realm gets an ordinary challenge, however
many other requests of the account were answered before (call after call, parallel calls,
registration beside calls); a request that did carry them and is challenged again was refused,
unless the server says ``stale=true`` (our password was right, only the nonce expired). The
caller then stops instead of looping (``DigestError``); so does it after a few stale nonces in
a row, or a stale challenge that repeats the nonce we just used. The password and everything
derived from it stay out of ``repr`` and error messages.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from endpoint.sip.digest_hashes import hexdigest
from endpoint.sip.errors import ParseError, SipError

#: RFC 7616's name -> (hashlib's name, strength): MD5 and SHA-256 come without OpenSSL.
_ALGORITHMS = {"MD5": ("md5", 1), "SHA-256": ("sha256", 2), "SHA-512-256": ("sha512_256", 3)}

#: Stale-nonce retries in a row (without a success in between) before we give up: a server that
#: calls every nonce stale would otherwise keep us re-sending for ever.
MAX_STALE_RETRIES = 3


@functools.cache
def _param_re() -> re.Pattern[str]:
    """Compiled at first use: only a challenge (401/407) or credentials need it (issue 19)."""
    return re.compile(
        r'[ \t]*([A-Za-z0-9\-_.!%*+`\'~]+)[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|[^, \t"]+)[ \t]*(,|$)'
    )


class DigestError(SipError):
    """The server rejected our credentials (or offered nothing we support): stop retrying."""


@dataclass(frozen=True, slots=True)
class Challenge:
    """One ``Digest`` challenge from a WWW-Authenticate or Proxy-Authenticate value."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    session: bool = False
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False
    userhash: bool = False

    @property
    def strength(self) -> int:
        return _ALGORITHMS[self.algorithm][1]


def _auth_params(rest: str, what: str) -> dict[str, str]:
    """The ``name=value`` list after the scheme (RFC 7616 §3.3/§3.4 share the grammar)."""
    params: dict[str, str] = {}
    pos, param_re = 0, _param_re()
    while pos < len(rest):
        m = param_re.match(rest, pos)
        if m is None:
            raise ParseError(f"malformed Digest {what} near {rest[pos : pos + 30]!r}")
        raw = m.group(2)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[m.group(1).lower()] = raw
        pos = m.end()
        if len(params) > 32:
            raise ParseError(f"too many Digest {what} parameters")
    return params


def _scheme_and_rest(value: str) -> tuple[str, str]:
    # RFC 3261 §25.1: the scheme is followed by LWS, which may be a tab as well as a space.
    text = value.strip()
    cut = min((i for i in (text.find(" "), text.find("\t")) if i >= 0), default=len(text))
    return text[:cut].lower(), text[cut:].strip()


def sent_credentials(values: Sequence[str]) -> dict[str, str]:
    """realm -> nonce of the Digest credentials a request carried (ours, so well-formed)."""
    sent: dict[str, str] = {}
    for value in values:
        scheme, rest = _scheme_and_rest(value)
        if scheme != "digest":
            continue
        try:
            params = _auth_params(rest, "credentials")
        except ParseError:
            continue
        if "realm" in params:
            sent[params["realm"]] = params.get("nonce", "")
    return sent


def parse_challenge(value: str) -> Challenge | None:
    """Parse a challenge; None for a scheme other than Digest or an unsupported algorithm.

    Raises ParseError for a malformed Digest challenge.
    """
    scheme, rest = _scheme_and_rest(value)
    if scheme != "digest":
        return None
    params = _auth_params(rest, "challenge")
    if "realm" not in params or "nonce" not in params:
        raise ParseError("Digest challenge without realm or nonce")
    algorithm = params.get("algorithm", "MD5").upper()
    session = algorithm.endswith("-SESS")
    base = algorithm[: -len("-SESS")] if session else algorithm
    if base not in _ALGORITHMS:
        return None
    qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
    return Challenge(
        realm=params["realm"],
        nonce=params["nonce"],
        algorithm=base,
        session=session,
        qop=qop,
        opaque=params.get("opaque"),
        stale=params.get("stale", "").lower() == "true",
        userhash=params.get("userhash", "").lower() == "true",
    )


def _h(algorithm: str, text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hexdigest(_ALGORITHMS[algorithm][0])(data)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def digest_response(
    challenge: Challenge,
    username: str,
    password: str,
    method: str,
    uri: str,
    *,
    nc: str,
    cnonce: str,
    qop: str | None,
    body: bytes = b"",
) -> str:
    """The ``response`` value of RFC 7616 §3.4.1 (RFC 2069 form when ``qop`` is None)."""
    alg = challenge.algorithm
    ha1 = _h(alg, f"{username}:{challenge.realm}:{password}")
    if challenge.session:
        ha1 = _h(alg, f"{ha1}:{challenge.nonce}:{cnonce}")
    if qop == "auth-int":
        ha2 = _h(alg, f"{method}:{uri}:{_h(alg, body)}")
    else:
        ha2 = _h(alg, f"{method}:{uri}")
    if qop is None:
        return _h(alg, f"{ha1}:{challenge.nonce}:{ha2}")
    return _h(alg, f"{ha1}:{challenge.nonce}:{nc}:{cnonce}:{qop}:{ha2}")


@dataclass
class _NonceState:
    """A server's challenge and how often we used its nonce (RFC 7616 nc, stale retries)."""

    challenge: Challenge
    nc: int = 0
    stale_retries: int = 0


@dataclass
class DigestClient:
    """Answers digest challenges for one account; keeps per-realm nonce state.

    One client may serve many requests at once (a call group's INVITEs, REGISTER beside a
    call): nothing here remembers "we answered", which request a challenge belongs to is
    told by the caller through ``sent``.
    """

    username: str
    password: str = field(repr=False)
    rng: random.Random = field(repr=False)
    #: The realms this account's password is for (compared without case); None answers any
    #: realm. A challenge for another realm gets no hash: a stranger on the path (a redirect
    #: target, a spoofed response) could otherwise collect one to crack offline or replay.
    allowed_realms: frozenset[str] | None = field(default=None, repr=False)
    _realms: dict[tuple[int, str], _NonceState] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"DigestClient(username={self.username!r})"

    def answer(
        self,
        challenges: list[str],
        kind: int,
        method: str,
        uri: str,
        body: bytes = b"",
        *,
        sent: Sequence[str] = (),
    ) -> list[tuple[str, str]]:
        """Credentials for a 401 (``kind=401``) or 407 response's challenge values.

        ``sent`` are the Authorization (401) or Proxy-Authorization (407) values of the
        request that was challenged. Returns the ``(header name, value)`` fields for the
        re-sent request: one per realm that challenged, plus the realms the request already
        answered and that did not challenge again (a second proxy on the path challenges
        only after the first let us through; RFC 3261 §22.3). Raises DigestError when
        retrying cannot help, including when every challenge is malformed (a malformed one
        beside a usable one is skipped, so that a peer's bad header never escapes as
        anything but "stop").
        """
        header = "Authorization" if kind == 401 else "Proxy-Authorization"
        best = self._strongest(challenges)
        answered = sent_credentials(sent)
        fields = []
        for realm, challenge in best.items():
            old = self._realms.get((kind, realm))
            state = _NonceState(challenge)
            if realm in answered:
                # RFC 3261 §22.2: challenged again although this request answered the realm.
                self._check_stale(old, challenge, realm, answered[realm])
                state.stale_retries = (old.stale_retries if old is not None else 0) + 1
            if old is not None and old.challenge.nonce == challenge.nonce:
                state.nc = old.nc  # the same nonce again: nc goes on (RFC 7616 §3.4)
            self._realms[(kind, realm)] = state
            fields.append((header, self._credentials(state, method, uri, body)))
        for realm in answered.keys() - best.keys():
            kept = self._realms.get((kind, realm))
            if kept is not None:
                fields.append((header, self._credentials(kept, method, uri, body)))
        return fields

    def _strongest(self, challenges: list[str]) -> dict[str, Challenge]:
        """realm -> the strongest supported challenge, for the realms we answer; DigestError
        when none is left (every one malformed, unsupported or for a stranger's realm)."""
        best: dict[str, Challenge] = {}
        malformed: ParseError | None = None
        strangers: list[str] = []
        allowed = (
            None
            if self.allowed_realms is None
            else {realm.casefold() for realm in self.allowed_realms}
        )
        for value in challenges:
            try:
                challenge = parse_challenge(value)
            except ParseError as exc:
                malformed = exc
                continue
            if challenge is None:
                continue
            if allowed is not None and challenge.realm.casefold() not in allowed:
                strangers.append(challenge.realm)
                continue
            current = best.get(challenge.realm)
            if current is None or challenge.strength > current.strength:
                best[challenge.realm] = challenge
        if not best and strangers:
            raise DigestError(
                f"challenged for realm {strangers[0]!r}, which is not configured (the account's "
                "domain, its registrar or [account] realms): no credentials sent"
            )
        if not best:
            detail = f": {malformed.reason}" if malformed is not None else ""
            raise DigestError(f"no supported Digest challenge (MD5, SHA-256, SHA-512-256){detail}")
        return best

    def _check_stale(
        self, old: _NonceState | None, challenge: Challenge, realm: str, nonce_sent: str
    ) -> None:
        rejected = f"credentials for {self.username!r} rejected by realm {realm!r}"
        if not challenge.stale:
            # Not because the nonce went stale: the server refused the credentials
            # (RFC 7616 §3.3).
            raise DigestError(rejected)
        if challenge.nonce == nonce_sent:
            raise DigestError(f"{rejected} (stale, but the nonce we just used)")
        if old is not None and old.stale_retries >= MAX_STALE_RETRIES:
            raise DigestError(f"{rejected} ({MAX_STALE_RETRIES} stale nonces in a row)")

    def _credentials(self, state: _NonceState, method: str, uri: str, body: bytes) -> str:
        c = state.challenge
        alg = c.algorithm
        state.nc += 1
        nc = f"{state.nc:08x}"
        cnonce = f"{self.rng.getrandbits(64):016x}"
        qop = None
        if "auth" in c.qop:
            qop = "auth"
        elif "auth-int" in c.qop:
            qop = "auth-int"
        response = digest_response(
            c, self.username, self.password, method, uri, nc=nc, cnonce=cnonce, qop=qop, body=body
        )
        username = self.username
        if c.userhash:
            username = _h(alg, f"{self.username}:{c.realm}")
        algorithm = alg + ("-sess" if c.session else "")
        parts = [
            f"Digest username={_quote(username)}",
            f"realm={_quote(c.realm)}",
            f"nonce={_quote(c.nonce)}",
            f"uri={_quote(uri)}",
            f"response={_quote(response)}",
            f"algorithm={algorithm}",
        ]
        if c.opaque is not None:
            parts.append(f"opaque={_quote(c.opaque)}")
        if qop is not None:
            parts += [f"qop={qop}", f"nc={nc}", f"cnonce={_quote(cnonce)}"]
        elif c.session:
            # RFC 2617 §3.2.2.2: a -sess HA1 is computed over the cnonce, so the server needs
            # it even in the RFC 2069 form (where §3.2.2 otherwise leaves cnonce out).
            parts.append(f"cnonce={_quote(cnonce)}")
        if c.userhash:
            parts.append("userhash=true")
        return ", ".join(parts)
