"""Logging set-up: readable on a terminal, priority-tagged under journald, secrets masked.

Under systemd, stderr goes to the journal; the ``<N>`` prefix (sd-daemon(3)) sets each line's
priority so ``journalctl -p warning`` works, and journald adds its own timestamps. On a terminal
we print a timestamp instead. Secrets (the account password, digest responses) are registered with
``SecretFilter`` and replaced by ``********`` in every record as a last line of defence: code must
not log them in the first place, but a password in the journal of a door on a shared network is a
break-in, so we check twice.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import TextIO

_SYSLOG_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


#: Digest parameters whose values must never reach a log (RFC 7616 §3.4): the response is
#: an offline-guessable hash of the password, and with the nonce it can be replayed while the
#: nonce lives. A logged Authorization header (a debug dump of a REGISTER) is masked by this.
_DIGEST_SECRETS = re.compile(r'\b(response|nonce|cnonce)=("[^"]*"|[^\s,;"]+)', re.IGNORECASE)


#: C0 controls (CR, LF, ESC...), DEL, C1 controls and the Unicode line/paragraph separators:
#: none may reach a log line from the network (a CR LF and ``<0>`` would fake a journald line of
#: emergency priority; ESC sequences repaint a terminal).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape(text: str) -> str:
    """``text`` with every control character written as ``\\xNN`` (``\\uNNNN``): one log
    line stays one line whatever a peer put in a header, a MESSAGE or a display name."""
    return _CONTROL.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )


class SecretFilter(logging.Filter):
    """Masks registered secret strings and digest response/nonce values in every record, and
    escapes control characters (issue 13 rule 5) so no remote string can forge a log line."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if len(secret) >= 3:
            self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = escape(_DIGEST_SECRETS.sub(r'\1="********"', message))
        for secret in self._secrets:
            masked = masked.replace(secret, "********")
        if masked != message:
            record.msg, record.args = masked, None
        return True


class JournalFormatter(logging.Formatter):
    """``<priority>logger: message`` — the journal adds time, host and unit."""

    def format(self, record: logging.LogRecord) -> str:
        priority = _SYSLOG_PRIORITY.get(record.levelno, 6)
        return f"<{priority}>{record.name}: {super().format(record)}"


secrets = SecretFilter()


def under_journald(stream: TextIO) -> bool:
    """True when ``stream`` is the journal (systemd sets JOURNAL_STREAM=dev:inode)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    if not value or ":" not in value:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    dev, _, ino = value.partition(":")
    return f"{st.st_dev}:{st.st_ino}" == f"{dev}:{ino}"


def setup_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """Configure the root logger once for the process."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    if under_journald(stream):
        handler.setFormatter(JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    handler.addFilter(secrets)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
