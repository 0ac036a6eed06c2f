"""Line framing of the board protocol (board/PROTOCOL.md, "Framing"): sequence, verb, checksum.

Pure and CPython-agnostic MicroPython: the host has its own implementation
(endpoint/hardware/serial_codec.py) and the tests run one against the other, so a drift in
either shows up as a checksum or parse error instead of a silent misunderstanding.
"""

MAX_LINE = 160
"""Longest line either side sends or accepts, newline included; CONFIG lines fit in it."""

SEQ_MOD = 65536


class FrameError(Exception):
    """A line that cannot be trusted; ``code`` is the ERR code the board answers with."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): ``crc16(b"123456789") == 0x29B1``.

    Bitwise rather than table-driven: lines are short and 512 bytes of table are worth more
    than the microseconds on an RP2040.
    """
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def encode(seq: int, verb: str, args: list[str]) -> bytes:
    """``<seq> <VERB> <args...> *<CRC16 hex>\\n`` as bytes."""
    body = " ".join([str(seq % SEQ_MOD), verb] + args).encode()
    return body + (" *%04X\n" % crc16(body)).encode()


def _printable(raw: bytes) -> bool:
    return all(0x20 <= byte <= 0x7E for byte in raw)


def decode(raw: bytes) -> tuple[int, str, list[str]]:
    """Split one received line (newline already removed) into ``(seq, verb, args)``.

    Raises ``FrameError`` for anything that is not a well-formed, correctly checksummed line;
    the checksum is verified before any field is believed.
    """
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if len(raw) + 1 > MAX_LINE:
        raise FrameError("toolong", "line longer than %d bytes" % MAX_LINE)
    if not _printable(raw):
        raise FrameError("frame", "line holds bytes outside printable ASCII")
    star = raw.rfind(b" *")
    if star < 0 or len(raw) - star != 6:
        raise FrameError("frame", "line does not end in ' *' and 4 hex digits")
    body = raw[:star]
    try:
        got = int(raw[star + 2 :].decode(), 16)
    except ValueError:
        raise FrameError("frame", "checksum is not 4 hex digits") from None
    want = crc16(body)
    if got != want:
        raise FrameError("crc", "checksum %04X does not match the line (want %04X)" % (got, want))
    fields = body.decode().split(" ")
    if len(fields) < 2 or "" in fields:
        raise FrameError("frame", "want '<seq> <VERB> [args]' separated by single spaces")
    seq_text = fields[0]
    if not seq_text.isdigit() or len(seq_text) > 5 or int(seq_text) >= SEQ_MOD:
        raise FrameError("frame", "sequence number %s is not 0..65535" % seq_text)
    verb = fields[1]
    if not verb.isalpha() or not verb.isupper():
        raise FrameError("frame", "verb %s is not upper-case letters" % verb)
    return int(seq_text), verb, fields[2:]


class LineSplitter:
    """Cuts a byte stream into lines of at most ``MAX_LINE`` bytes.

    An over-long line is dropped up to its newline and reported once as ``None`` so the caller
    answers ``ERR - toolong`` instead of buffering without bound.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> list[bytes | None]:
        lines: list[bytes | None] = []
        for byte in data:
            if byte == 0x0A:
                if self._overflow:
                    self._overflow = False
                else:
                    lines.append(bytes(self._buf))
                self._buf = bytearray()
            elif self._overflow:
                continue
            elif len(self._buf) + 1 >= MAX_LINE:
                self._overflow = True
                self._buf = bytearray()
                lines.append(None)
            else:
                self._buf.append(byte)
        return lines
