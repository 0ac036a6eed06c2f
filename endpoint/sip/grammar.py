"""The RFC 3261 §25 grammar in one place: character sets, and expressions compiled at first use.

Every parser in ``endpoint.sip`` takes its character classes from here, so a question such as
"may a branch contain %?" (yes: it is a token) is answered once.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable


def compiled(pattern: str) -> Callable[[], re.Pattern[str]]:
    """A getter of ``pattern`` compiled at its first call rather than at import: compiling
    these patterns took 9-17 ms of every start (issue 19: start -> ready < 300 ms), and the
    first datagram, not READY, can pay it. Cached for good: ``re``'s own cache may evict."""
    return functools.cache(functools.partial(re.compile, pattern))


# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~")
TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
token_re = compiled(TOKEN)

# word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" / "(" / ")" /
#           "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}" )
WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"
# callid = word [ "@" word ]
call_id_re = compiled(rf"{WORD}(?:@{WORD})?")


def parse_int(text: str, max_digits: int = 10) -> int | None:
    """A non-negative decimal of ASCII digits, at most ``max_digits`` long, or None.

    Every number taken from the wire goes through here (DESIGN "The network is hostile"):
    ``str.isdigit`` alone lets "²" through to ``int()`` (ValueError), and a peer's 5000-digit
    number trips Python's int-conversion limit (ValueError again); both must stay parse
    failures, never exceptions past the handler.
    """
    if not text or len(text) > max_digits or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def is_ip_literal(host: str) -> bool:
    """An IPv4 or IPv6 address (brackets allowed), not a name: names from the wire are never
    looked up (DESIGN "The network is hostile", issue 13 rule 3)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


# LWS = [*WSP CRLF] 1*WSP; after unfolding only SP / HTAB remain.
WS = " \t"

# Request-Line = Method SP Request-URI SP SIP-Version CRLF   (exactly one SP each: RFC 4475
# §3.1.2.9/§3.1.2.10 say extra or trailing SP may be rejected, and we do).
request_line_re = compiled(rf"({TOKEN}) ([^\x00-\x20\x7f]+) ([Ss][Ii][Pp]/[0-9]+\.[0-9]+)")
# Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF; Status-Code = 3DIGIT.
status_line_re = compiled(r"([Ss][Ii][Pp]/[0-9]+\.[0-9]+) ([1-6][0-9][0-9])(?: (.*))?")

# host = hostname / IPv4address / IPv6reference
HOSTNAME = (
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.?"
)
IPV4 = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
IPV6REF = r"\[[0-9A-Fa-f:.]+\]"
# via-received = "received" EQUAL (IPv4address / IPv6address): an IPv6 address without brackets
# (RFC 3261 §20.42, RFC 5118 §4.5); Kamailio writes ``received=::1``. Tried before token,
# which would stop at the first colon.
IPV6ADDR = r"[0-9A-Fa-f]*:[0-9A-Fa-f:.]+"
HOST = rf"(?:{IPV6REF}|{IPV4}|{HOSTNAME})"
host_re = compiled(HOST)
hostport_re = compiled(rf"({HOST})(?::([0-9]{{1,5}}))?")

# user = 1*( unreserved / escaped / user-unreserved ); user-unreserved = & = + $ , ; ? /
# unreserved = alphanum / mark; mark = - _ . ! ~ * ' ( )
ESCAPED = r"%[0-9A-Fa-f]{2}"
user_re = compiled(rf"(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|{ESCAPED})+")
password_re = compiled(rf"(?:[A-Za-z0-9\-_.!~*'()&=+$,]|{ESCAPED})*")
# paramchar = param-unreserved / unreserved / escaped; param-unreserved = [ ] / : & + $
paramchars_re = compiled(rf"(?:[A-Za-z0-9\-_.!~*'()\[\]/:&+$]|{ESCAPED})+")
# hname / hvalue: hnv-unreserved = [ ] / ? : + $ ; plus unreserved / escaped
hnv_re = compiled(rf"(?:[A-Za-z0-9\-_.!~*'()\[\]/?:+$]|{ESCAPED})*")
# scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
scheme_re = compiled(r"[A-Za-z][A-Za-z0-9+\-.]*")
# absoluteURI: hier-part / opaque-part, kept opaque; uric = reserved / unreserved / escaped
uric_re = compiled(rf"(?:[A-Za-z0-9\-_.!~*'();/?:@&=+$,\[\]]|{ESCAPED})*")

# quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
# qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII ; quoted-pair = "\" (%x00-09 / %x0B-0C
# / %x0E-7F)
QUOTED_STRING = r'"(?:[^"\\\r\n]|\\[\x00-\x09\x0b\x0c\x0e-\x7f])*"'
quoted_string_re = compiled(QUOTED_STRING)

# generic-param = token [ EQUAL gen-value ]; gen-value = token / host / quoted-string
# (EQUAL and SEMI allow surrounding whitespace: SWS "=" SWS).
param_re = compiled(
    rf"[ \t]*;[ \t]*({TOKEN})(?:[ \t]*=[ \t]*({IPV6ADDR}|{TOKEN}|{IPV6REF}|{QUOTED_STRING}))?[ \t]*"
)

# Date: rfc1123-date = wkday "," SP date1 SP time SP "GMT"
date_re = compiled(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
    r"[0-9]{2}:[0-9]{2}:[0-9]{2} GMT"
)

MAGIC_COOKIE = "z9hG4bK"

PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"

# --- Fast-path validators -------------------------------------------------------------------
# Whole header values in their common, whitespace-free form, checked in one C-level match. A
# value that does not match is not necessarily invalid: it goes to the full parser, which
# accepts every form the grammar allows (LWS around separators, folding) and raises otherwise.
_GEN_VALUE = rf"(?:{IPV6ADDR}|{TOKEN}|{IPV6REF}|{QUOTED_STRING})"
_HEADER_PARAMS = rf"(?:;{TOKEN}(?:={_GEN_VALUE})?)*"
_URI_PARAM = rf"(?:[A-Za-z0-9\-_.!~*'()\[\]/:&+$]|{ESCAPED})+"
_URI_HEADER = rf"(?:[A-Za-z0-9\-_.!~*'()\[\]/?:+$]|{ESCAPED})+"
SIP_URI_FAST = (
    rf"[Ss][Ii][Pp][Ss]?:"
    rf"(?:(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|{ESCAPED})+"
    rf"(?::(?:[A-Za-z0-9\-_.!~*'()&=+$,]|{ESCAPED})*)?@)?"
    rf"{HOST}(?::{PORT})?"
    rf"(?:;{_URI_PARAM}(?:={_URI_PARAM})?)*"
    rf"(?:\?{_URI_HEADER}={_URI_HEADER}?(?:&{_URI_HEADER}={_URI_HEADER}?)*)?"
)
_DISPLAY = rf"(?:{QUOTED_STRING} ?|{TOKEN}(?: {TOKEN})* ?)"
# addr-spec without <>: RFC 3261 §20.10 - no ";", "?" or "," in the URI; params are the header's.
_ADDR_SPEC_FAST = (
    rf"[Ss][Ii][Pp][Ss]?:(?:(?:[A-Za-z0-9\-_.!~*'()&=+$/]|{ESCAPED})+"
    rf"(?::(?:[A-Za-z0-9\-_.!~*'()&=+$]|{ESCAPED})*)?@)?{HOST}(?::{PORT})?"
)
NAME_ADDR_FAST = rf"(?:{_DISPLAY}?<{SIP_URI_FAST}>|{_ADDR_SPEC_FAST}){_HEADER_PARAMS}"
name_addr_fast_re = compiled(NAME_ADDR_FAST)
name_addr_list_fast_re = compiled(rf"{NAME_ADDR_FAST}(?:, ?{NAME_ADDR_FAST})*")
VIA_FAST = rf"SIP/2\.0/{TOKEN} {HOST}(?::{PORT})?{_HEADER_PARAMS}"
via_list_fast_re = compiled(rf"{VIA_FAST}(?:, ?{VIA_FAST})*")
cseq_fast_re = compiled(rf"[0-9]{{1,10}} {TOKEN}")
