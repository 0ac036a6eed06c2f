"""The RFC 3261 §25 grammar, as character sets and compiled expressions, in one place.

Every parser in ``endpoint.sip`` takes its character classes from here, so a question such as
"may a branch contain %?" (yes: it is a token) is answered once.
"""

from __future__ import annotations

import re

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~")
TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
TOKEN_RE = re.compile(TOKEN)

# word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" / "(" / ")" /
#           "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}" )
WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"
# callid = word [ "@" word ]
CALL_ID_RE = re.compile(rf"{WORD}(?:@{WORD})?")

# LWS = [*WSP CRLF] 1*WSP; after unfolding only SP / HTAB remain.
WS = " \t"

# Request-Line = Method SP Request-URI SP SIP-Version CRLF   (exactly one SP each: RFC 4475
# §3.1.2.9/§3.1.2.10 say extra or trailing SP may be rejected, and we do).
REQUEST_LINE_RE = re.compile(rf"({TOKEN}) ([^\x00-\x20\x7f]+) ([Ss][Ii][Pp]/[0-9]+\.[0-9]+)")
# Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF; Status-Code = 3DIGIT.
STATUS_LINE_RE = re.compile(r"([Ss][Ii][Pp]/[0-9]+\.[0-9]+) ([1-6][0-9][0-9])(?: (.*))?")

# host = hostname / IPv4address / IPv6reference
HOSTNAME = (
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.?"
)
IPV4 = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
IPV6REF = r"\[[0-9A-Fa-f:.]+\]"
HOST = rf"(?:{IPV6REF}|{IPV4}|{HOSTNAME})"
HOST_RE = re.compile(HOST)
HOSTPORT_RE = re.compile(rf"({HOST})(?::([0-9]{{1,5}}))?")

# user = 1*( unreserved / escaped / user-unreserved ); user-unreserved = & = + $ , ; ? /
# unreserved = alphanum / mark; mark = - _ . ! ~ * ' ( )
ESCAPED = r"%[0-9A-Fa-f]{2}"
USER_RE = re.compile(rf"(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|{ESCAPED})+")
PASSWORD_RE = re.compile(rf"(?:[A-Za-z0-9\-_.!~*'()&=+$,]|{ESCAPED})*")
# paramchar = param-unreserved / unreserved / escaped; param-unreserved = [ ] / : & + $
PARAMCHARS_RE = re.compile(rf"(?:[A-Za-z0-9\-_.!~*'()\[\]/:&+$]|{ESCAPED})+")
# hname / hvalue: hnv-unreserved = [ ] / ? : + $ ; plus unreserved / escaped
HNV_RE = re.compile(rf"(?:[A-Za-z0-9\-_.!~*'()\[\]/?:+$]|{ESCAPED})*")
# scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
# absoluteURI: hier-part / opaque-part, kept opaque; uric = reserved / unreserved / escaped
URIC_RE = re.compile(rf"(?:[A-Za-z0-9\-_.!~*'();/?:@&=+$,\[\]]|{ESCAPED})*")

# quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
# qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII ; quoted-pair = "\" (%x00-09 / %x0B-0C
# / %x0E-7F)
QUOTED_STRING = r'"(?:[^"\\\r\n]|\\[\x00-\x09\x0b\x0c\x0e-\x7f])*"'
QUOTED_STRING_RE = re.compile(QUOTED_STRING)

# generic-param = token [ EQUAL gen-value ]; gen-value = token / host / quoted-string
# (EQUAL and SEMI allow surrounding whitespace: SWS "=" SWS).
PARAM_RE = re.compile(
    rf"[ \t]*;[ \t]*({TOKEN})(?:[ \t]*=[ \t]*({TOKEN}|{IPV6REF}|{QUOTED_STRING}))?[ \t]*"
)

# Date: rfc1123-date = wkday "," SP date1 SP time SP "GMT"
DATE_RE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
    r"[0-9]{2}:[0-9]{2}:[0-9]{2} GMT"
)

MAGIC_COOKIE = "z9hG4bK"
