"""The four MTProto framings as sans-I/O codecs (digest §6.1-6.3, checklist T2).

A codec belongs to one side of one connection.  ``encode()`` turns a payload
into envelope bytes; ``feed()`` takes any slice of the byte stream and returns
the events completed so far, keeping the rest for the next call, so every split
of the stream gives the same events.  Lengths are checked as soon as a length
field is complete (before the body arrives) and bounded by ``max_frame``.

Receiving, in the order the checks run:

* abridged: length byte (top bit = quick-ack request from a client, or a
  4-byte big-endian quick-ack token from a server), ``0x7f``/``0xff`` + 3-byte
  LE length (an overlong encoding of a length < 127 is refused, as MTProxy
  does); zero and oversized lengths are refused;
* intermediate / padded intermediate: 4-byte LE length, top bit = quick-ack
  request (client to server) or a bare quick-ack token (server to client);
  intermediate lengths must be multiples of 4;
* full: length, per-direction seqno (must equal the expected counter), CRC32
  over length+seqno+payload (checked first).  A negative length from a server
  is a raw transport error code; the stream is over after it.

On the client side, payloads shorter than 24 bytes are not MTProto messages
(the shortest one, an unencrypted message with a 4-byte body, is 24 bytes) and
are decoded as tdlib does: ``-1`` + token → :class:`QuickAck`, another negative
int32 → :class:`TransportErrorCode`, ``0`` → ignored.

Every malformed input raises :class:`~mtcrypt.errors.TransportError` (code -404)
and leaves the codec failed; argument errors raise ``InvalidArgument`` /
``InvalidLength``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import ClassVar, Final
from zlib import crc32

from .._random import random_bytes
from .._validation import (
    BytesLike,
    Rng,
    as_bytes,
    check_int,
    draw,
    finish_output,
    is_int,
    new_output_view,
    randbelow,
)
from ..errors import InvalidArgument, InvalidLength, TransportError
from ..mtproto.session_events import Role
from .events import Event, Frame, Framing, QuickAck, TransportErrorCode

__all__ = [
    "DEFAULT_MAX_FRAME",
    "MAX_PADDING",
    "TELETHON_MAX_PADDING",
    "AbridgedCodec",
    "FillPayload",
    "FrameCodec",
    "FullCodec",
    "IntermediateCodec",
    "PaddedIntermediateCodec",
    "make_codec",
    "strip_padding",
]


DEFAULT_MAX_FRAME: Final = 16 * 1024 * 1024
"""Largest payload accepted or sent by default (16 MiB; tdlib asserts < 2**24)."""

MAX_PADDING: Final = 15
"""Padded intermediate: at most 15 random bytes after the payload [TR]."""

TELETHON_MAX_PADDING: Final = 3
"""Telethon's padded-intermediate reader strips ``len % 4`` bytes, so it only
survives 0-3 bytes of padding: use ``max_padding=TELETHON_MAX_PADDING`` when
sending to Telethon."""

SHORT_PACKET: Final = 24
"""Received payloads shorter than this are transport signals, not messages."""

QUICK_ACK_BIT: Final = 0x80000000
_MAX_FRAME_LIMIT: Final = 0x7FFFFFFF - 16
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_FULL_HEAD = struct.Struct("<iI")

FillPayload = Callable[[memoryview], None]
"""Writes a payload into the view it is given (exactly the payload's size):
:meth:`FrameCodec.encode_into` frames a payload laid out in place."""


def _check_token(token: object) -> int:
    return check_int(token, "quick-ack token", 0, 0xFFFFFFFF) | QUICK_ACK_BIT


def _check_code(code: object) -> int:
    return check_int(code, "transport error code", -(1 << 31), -1)


class FrameCodec:
    """Shared machinery; use one of the four subclasses (or :func:`make_codec`)."""

    framing: ClassVar[Framing]
    tag: ClassVar[bytes]
    """What a client sends once, before anything else, on a plain connection."""
    obfuscation_tag: ClassVar[bytes | None]
    """The 4 bytes at ``header[56:60]`` when obfuscated (None: cannot be)."""

    __slots__ = ("_buf", "_closed", "_failed", "max_frame", "side")

    def __init__(self, side: Role, *, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        try:
            self.side: Role = Role(side)  # "client" / "server" are accepted too
        except ValueError:
            raise InvalidArgument("side must be Role.CLIENT or Role.SERVER") from None
        self.max_frame = check_int(max_frame, "max_frame", 4, _MAX_FRAME_LIMIT)
        self._buf = bytearray()
        self._closed = False
        self._failed = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} side={self.side} buffered={len(self._buf)}>"

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf)

    @property
    def closed(self) -> bool:
        """True once the peer ended the stream with a raw error code (full)."""
        return self._closed

    # ---- sending ------------------------------------------------------------

    def _check_payload(self, payload: object, quick_ack: bool = False) -> bytes:
        """The checks every ``encode`` starts with: the payload's length, then
        that only a client asks for a quick ack."""
        data = as_bytes(payload, "payload")
        n = len(data)
        if n == 0 or n & 3:
            raise InvalidLength(f"payload must be a non-empty multiple of 4 bytes, got {n}")
        if n > self.max_frame:
            raise InvalidLength(f"payload of {n} bytes exceeds max_frame ({self.max_frame})")
        if quick_ack and self.side is not Role.CLIENT:
            raise InvalidArgument("only a client requests quick acks")
        return data

    def _check_server(self, what: str) -> None:
        if self.side is not Role.SERVER:
            raise InvalidArgument(f"only a server sends {what}")

    def encode(self, payload: BytesLike, *, quick_ack: bool = False) -> bytes:
        """The envelope for one payload (a multiple of 4 bytes)."""
        raise NotImplementedError

    def encode_into(
        self, size: int, fill: FillPayload, *, then: FillPayload | None = None
    ) -> bytes:
        """The same bytes as ``encode(payload)`` for a ``size``-byte payload
        that ``fill`` writes in place, into a view of the frame's buffer: no
        copy of a large payload after it is made (the server seals a large
        result straight into its frame).  ``then`` is called with the whole
        finished frame, to transform it in place (obfuscation encrypts it
        there).  No quick ack.  If ``fill`` raises, the codec's state is
        unchanged (the full framing's seqno included; a padded intermediate
        codec has drawn its padding)."""
        if not is_int(size) or size <= 0 or size & 3:
            raise InvalidLength(f"payload must be a non-empty multiple of 4 bytes, got {size}")
        if size > self.max_frame:
            raise InvalidLength(f"payload of {size} bytes exceeds max_frame ({self.max_frame})")
        head, tail = self._envelope(size)
        start = len(head)
        total = start + size + len(tail)
        view, frame = new_output_view(total)
        with view:
            view[:start] = head
            fill(view[start : start + size])
            view[start + size :] = tail
            self._sealed(view)
            if then is not None:
                then(view)
        return finish_output(frame, total)

    def _envelope(self, size: int) -> tuple[bytes, bytes]:
        """``encode_into``: the bytes before and after a payload of ``size`` bytes."""
        raise NotImplementedError

    def _sealed(self, frame: memoryview) -> None:
        """``encode_into``: the frame is complete but for what depends on the payload."""

    def encode_quick_ack(self, token: int) -> bytes:
        """Server side: the quick-ack reply for ``token`` (top bit forced on)."""
        raise NotImplementedError

    def encode_error(self, code: int) -> bytes:
        """Server side: a transport error code (negative int32), framed."""
        self._check_server("transport error codes")
        return self._frame_error(_I32.pack(_check_code(code)))

    def _frame_error(self, body: bytes) -> bytes:
        return self.encode(body)

    # ---- receiving ----------------------------------------------------------

    def feed(self, data: BytesLike) -> list[Event]:
        """Add received bytes; return the events they complete."""
        if self._failed:
            raise TransportError("the transport has already failed")
        events: list[Event] = []
        if self._closed or not data:
            return events
        buf = self._buf
        # Fast path: with nothing buffered, parse straight from the new bytes
        # and keep only an incomplete tail.
        src: bytes | bytearray
        if buf:
            buf += data
            src = buf
        else:
            src = data if type(data) is bytes else bytes(data)
        pos = 0
        try:
            while True:
                step = self._parse(src, pos, events)
                if not step:
                    break
                pos += step
                if self._closed:
                    pos = len(src)
                    break
        except TransportError:
            self._failed = True
            buf.clear()
            raise
        if src is buf:
            if pos:
                del buf[:pos]
        elif pos < len(src):
            buf += memoryview(src)[pos:]
        return events

    def _parse(self, buf: bytes | bytearray, pos: int, events: list[Event]) -> int:
        """Parse one unit at ``pos``: bytes consumed, or 0 if more are needed."""
        raise NotImplementedError

    def _bad(self, message: str) -> TransportError:
        return TransportError(f"{self.framing.value}: {message}", code=-404)

    def _check_size(self, size: int) -> None:
        if size <= 0:
            raise self._bad("empty packet")
        if size > self.max_frame:
            raise self._bad(f"packet length {size} exceeds max_frame ({self.max_frame})")

    def _deliver(self, payload: bytes, quick_ack: bool, events: list[Event]) -> None:
        if self.side is Role.SERVER:
            events.append(Frame(payload, quick_ack))
        elif len(payload) >= SHORT_PACKET:
            events.append(Frame(payload))
        else:
            self._short_packet(payload, events)

    def _short_packet(self, payload: bytes, events: list[Event]) -> None:
        n = len(payload)
        if n < 4:
            raise self._bad(f"{n}-byte packet")
        (value,) = _I32.unpack_from(payload)
        if value == -1 and n >= 8:
            events.append(QuickAck(_U32.unpack_from(payload, 4)[0]))
        elif value < 0:
            events.append(TransportErrorCode(value))
        elif value != 0:  # int32 0 is a no-op (tdlib)
            raise self._bad(f"{n}-byte packet is neither a message nor a transport code")


def _take(buf: bytes | bytearray, start: int, end: int) -> bytes:
    """``bytes(buf[start:end])`` with one copy: slicing a bytearray copies it once
    and ``bytes()`` again, which for a 512 KiB frame is a fresh half megabyte
    too many (and its page faults)."""
    if type(buf) is bytes:
        return buf[start:end]
    with memoryview(buf) as view:  # released before the buffer is resized
        return bytes(view[start:end])


# duplicates: deliberate -- each codec declares its framing, tags and slots (class data the
# base class and make_codec read) and starts encode() with the base class's payload check.
class AbridgedCodec(FrameCodec):
    """Abridged: ``len/4`` in one byte (< 127) or ``0x7f`` + 3 bytes LE."""

    framing = Framing.ABRIDGED
    tag = b"\xef"
    obfuscation_tag = b"\xef\xef\xef\xef"
    __slots__ = ()

    def encode(self, payload: BytesLike, *, quick_ack: bool = False) -> bytes:
        data = self._check_payload(payload, quick_ack)
        words = len(data) >> 2
        flag = 0x80 if quick_ack else 0
        if words < 0x7F:
            return bytes((words | flag,)) + data
        if words >= 1 << 24:
            raise InvalidLength("payload too long for the abridged framing")
        return bytes((0x7F | flag,)) + words.to_bytes(3, "little") + data

    def _envelope(self, size: int) -> tuple[bytes, bytes]:
        words = size >> 2
        if words < 0x7F:
            return bytes((words,)), b""
        if words >= 1 << 24:
            raise InvalidLength("payload too long for the abridged framing")
        return b"\x7f" + words.to_bytes(3, "little"), b""

    def encode_quick_ack(self, token: int) -> bytes:
        self._check_server("quick acks")
        # Big-endian, so the first byte has its top bit set: a length byte never does.
        return _check_token(token).to_bytes(4, "big")

    def _parse(self, buf: bytes | bytearray, pos: int, events: list[Event]) -> int:
        avail = len(buf) - pos
        if avail < 1:
            return 0
        first = buf[pos]
        quick_ack = False
        if first & 0x80:
            if self.side is Role.CLIENT:  # a quick-ack token from the server
                if avail < 4:
                    return 0
                events.append(QuickAck(int.from_bytes(buf[pos : pos + 4], "big")))
                return 4
            quick_ack = True
            first &= 0x7F
        if first == 0x7F:
            if avail < 4:
                return 0
            words = buf[pos + 1] | buf[pos + 2] << 8 | buf[pos + 3] << 16
            if words < 0x7F:
                raise self._bad("overlong length encoding")
            head = 4
        else:
            words = first
            head = 1
        size = words << 2
        self._check_size(size)
        end = head + size
        if avail < end:
            return 0
        self._deliver(_take(buf, pos + head, pos + end), quick_ack, events)
        return end


class IntermediateCodec(FrameCodec):
    """Intermediate: 4-byte LE length, then the payload."""

    framing = Framing.INTERMEDIATE
    tag = b"\xee\xee\xee\xee"
    obfuscation_tag = b"\xee\xee\xee\xee"
    __slots__ = ()

    def encode(self, payload: BytesLike, *, quick_ack: bool = False) -> bytes:
        data = self._check_payload(payload, quick_ack)
        return _U32.pack(len(data) | (QUICK_ACK_BIT if quick_ack else 0)) + data

    def _envelope(self, size: int) -> tuple[bytes, bytes]:
        return _U32.pack(size), b""

    def encode_quick_ack(self, token: int) -> bytes:
        self._check_server("quick acks")
        # A bare token: its top bit tells it apart from a length.
        return _U32.pack(_check_token(token))

    def _check_length(self, size: int) -> None:
        self._check_size(size)
        if size & 3:
            raise self._bad(f"length {size} is not a multiple of 4")

    def _parse(self, buf: bytes | bytearray, pos: int, events: list[Event]) -> int:
        avail = len(buf) - pos
        if avail < 4:
            return 0
        size: int = _U32.unpack_from(buf, pos)[0]
        quick_ack = False
        if size & QUICK_ACK_BIT:
            if self.side is Role.CLIENT:
                events.append(QuickAck(size))
                return 4
            quick_ack = True
            size &= ~QUICK_ACK_BIT
        self._check_length(size)
        end = 4 + size
        if avail < end:
            return 0
        self._deliver(_take(buf, pos + 4, pos + end), quick_ack, events)
        return end


def strip_padding(payload: bytes) -> bytes:
    """Remove padded-intermediate padding from a received MTProto packet.

    The envelope only gives payload+padding, so the real length comes from the
    packet itself: an unencrypted message (auth_key_id 0) is ``20 + length``
    bytes; an encrypted one is ``24 + 16k`` bytes.  A packet shorter than 24
    bytes, or an unencrypted message whose length field runs past the packet,
    raises :class:`TransportError` (-404, as the spec asks for an MTProto
    length larger than the transport length).
    """
    n = len(payload)
    if n < SHORT_PACKET:
        raise TransportError(f"padded_intermediate: {n}-byte packet is too short", code=-404)
    if payload[:8] == b"\x00\x00\x00\x00\x00\x00\x00\x00":
        (length,) = _I32.unpack_from(payload, 16)
        end = 20 + length
        if length < 0 or end > n:
            raise TransportError(
                "padded_intermediate: message length exceeds the packet", code=-404
            )
    else:
        end = n - (n - SHORT_PACKET) % 16
    return payload if end == n else payload[:end]


class PaddedIntermediateCodec(IntermediateCodec):
    """Padded intermediate: length covers payload + 0..``max_padding`` random bytes.

    Received padding is stripped with :func:`strip_padding` (which also works
    for Telethon's 0-3 and Pyrogram's/tdlib's 0-15 bytes).  ``max_padding``
    defaults to 15; pass :data:`TELETHON_MAX_PADDING` when the peer is Telethon.
    """

    framing = Framing.PADDED_INTERMEDIATE
    tag = b"\xdd\xdd\xdd\xdd"
    obfuscation_tag = b"\xdd\xdd\xdd\xdd"
    __slots__ = ("_rng", "max_padding")

    def __init__(
        self,
        side: Role,
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
        max_padding: int = MAX_PADDING,
        rng: Rng = random_bytes,
    ) -> None:
        super().__init__(side, max_frame=max_frame)
        self.max_padding = check_int(max_padding, "max_padding", 0, MAX_PADDING)
        self._rng = rng

    def _padding(self, limit: int) -> bytes:
        count = randbelow(self._rng, limit + 1)
        return draw(self._rng, count)

    def encode(self, payload: BytesLike, *, quick_ack: bool = False) -> bytes:
        data = self._check_payload(payload, quick_ack)
        pad = self._padding(self.max_padding)
        size = len(data) + len(pad)
        return _U32.pack(size | (QUICK_ACK_BIT if quick_ack else 0)) + data + pad

    def _envelope(self, size: int) -> tuple[bytes, bytes]:
        pad = self._padding(self.max_padding)
        return _U32.pack(size + len(pad)), pad

    def encode_quick_ack(self, token: int) -> bytes:
        self._check_server("quick acks")
        # A framed ``ffffffff || token || padding`` packet [TR]; padding kept to
        # 0..7 bytes so the packet stays under tdlib's 16-byte signal threshold.
        body = b"\xff\xff\xff\xff" + _U32.pack(_check_token(token))
        body += self._padding(min(7, self.max_padding))
        return _U32.pack(len(body)) + body

    def _frame_error(self, body: bytes) -> bytes:
        # Unpadded, so every reader (tdlib's < 16-byte rule, Telethon's % 4) sees 4 bytes.
        return _U32.pack(len(body)) + body

    def _check_length(self, size: int) -> None:
        self._check_size(size)

    def _deliver(self, payload: bytes, quick_ack: bool, events: list[Event]) -> None:
        if self.side is Role.CLIENT and len(payload) < SHORT_PACKET:
            self._short_packet(payload, events)
        else:
            events.append(Frame(strip_padding(payload), quick_ack))


class FullCodec(FrameCodec):
    """Full: ``len | seqno | payload | crc32``, one seqno counter per direction.

    The full transport has no quick acks (the spec describes none), and it cannot
    be obfuscated (there is no tag for it in an obfuscated2 header).
    """

    framing = Framing.FULL
    tag = b""
    obfuscation_tag = None
    __slots__ = ("_recv_seq", "_send_seq")

    def __init__(self, side: Role, *, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        super().__init__(side, max_frame=max_frame)
        self._send_seq = 0
        self._recv_seq = 0

    # duplicates: deliberate -- read-only properties, alike other classes' by shape only.
    @property
    def send_seq(self) -> int:
        """Seqno of the next packet sent."""
        return self._send_seq

    @property
    def recv_seq(self) -> int:
        """Seqno expected on the next packet received."""
        return self._recv_seq

    def encode(self, payload: BytesLike, *, quick_ack: bool = False) -> bytes:
        data = self._check_payload(payload)
        if quick_ack:
            raise InvalidArgument("the full transport has no quick acks")
        head = _FULL_HEAD.pack(len(data) + 12, self._send_seq)
        self._send_seq = (self._send_seq + 1) & 0xFFFFFFFF
        return head + data + _U32.pack(crc32(data, crc32(head)))

    def _envelope(self, size: int) -> tuple[bytes, bytes]:
        return _FULL_HEAD.pack(size + 12, self._send_seq), bytes(4)

    def _sealed(self, frame: memoryview) -> None:
        end = len(frame) - 4
        _U32.pack_into(frame, end, crc32(frame[:end]))
        self._send_seq = (self._send_seq + 1) & 0xFFFFFFFF

    def encode_quick_ack(self, token: int) -> bytes:
        raise InvalidArgument("the full transport has no quick acks")

    def _parse(self, buf: bytes | bytearray, pos: int, events: list[Event]) -> int:
        avail = len(buf) - pos
        if avail < 4:
            return 0
        length: int = _I32.unpack_from(buf, pos)[0]
        if length < 0 and self.side is Role.CLIENT:
            # A raw error code instead of a packet (Telethon issue 4042): the
            # server closes the connection after it, so the stream ends here.
            events.append(TransportErrorCode(length))
            self._closed = True
            return avail
        if length < 12 + 4 or length & 3:
            raise self._bad(f"bad packet length {length}")
        if length - 12 > self.max_frame:
            raise self._bad(f"packet length {length - 12} exceeds max_frame ({self.max_frame})")
        if avail < length:
            return 0
        head = bytes(buf[pos : pos + 8])
        payload = _take(buf, pos + 8, pos + length - 4)
        (expected_crc,) = _U32.unpack_from(buf, pos + length - 4)
        if crc32(payload, crc32(head)) != expected_crc:
            raise self._bad("CRC32 mismatch")
        seq = _FULL_HEAD.unpack_from(head)[1]
        if seq != self._recv_seq:
            raise self._bad(f"seqno {seq}, expected {self._recv_seq}")
        self._recv_seq = (self._recv_seq + 1) & 0xFFFFFFFF
        self._deliver(payload, False, events)
        return length


_CODECS: Final[dict[Framing, type[FrameCodec]]] = {
    Framing.ABRIDGED: AbridgedCodec,
    Framing.INTERMEDIATE: IntermediateCodec,
    Framing.PADDED_INTERMEDIATE: PaddedIntermediateCodec,
    Framing.FULL: FullCodec,
}

CODEC_BY_OBFUSCATION_TAG: Final[dict[bytes, Framing]] = {
    b"\xef\xef\xef\xef": Framing.ABRIDGED,
    b"\xee\xee\xee\xee": Framing.INTERMEDIATE,
    b"\xdd\xdd\xdd\xdd": Framing.PADDED_INTERMEDIATE,
}


def coerce_framing(framing: Framing | str) -> Framing:
    if isinstance(framing, Framing):
        return framing
    try:
        return Framing(framing)
    except ValueError:
        names = ", ".join(f.value for f in Framing)
        raise InvalidArgument(f"unknown framing {framing!r} (one of: {names})") from None


def make_codec(
    framing: Framing | str,
    side: Role,
    *,
    max_frame: int = DEFAULT_MAX_FRAME,
    max_padding: int = MAX_PADDING,
    rng: Rng = random_bytes,
) -> FrameCodec:
    """A fresh codec for ``framing`` on ``side``."""
    kind = coerce_framing(framing)
    if kind is Framing.PADDED_INTERMEDIATE:
        return PaddedIntermediateCodec(side, max_frame=max_frame, max_padding=max_padding, rng=rng)
    return _CODECS[kind](side, max_frame=max_frame)
