"""TL primitive encodings: a bounds-checked :class:`Reader` and the packers.

Layouts (core.telegram.org/mtproto/serialize): ``int`` is 4 bytes and ``long``
8 bytes, both signed little-endian; ``int128``/``int256`` are 16/32 raw bytes
(kept as :class:`bytes`, never converted to integers, because the protocol
hashes and compares them byte-wise); ``double`` is an IEEE-754 little-endian
binary64; ``string`` and ``bytes`` share one encoding (a 1-byte length up to
253, else ``0xfe`` and a 3-byte length, then the data, then zero padding to a
multiple of 4); ``Bool`` is the boxed ``boolTrue``/``boolFalse``; a boxed
``Vector`` is ``0x1cb5c415``, an ``int`` count and the elements, a bare
``vector`` omits the id.

Every read is bounds-checked and raises :class:`~mtcrypt.errors.TLError` on
truncation; nothing is allocated from a length or count before it has been
checked against the bytes that remain.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import TypeVar

from mtcrypt._validation import BytesLike, is_int
from mtcrypt.errors import InvalidArgument, InvalidType, TLError

# What :mod:`mtcrypt.tl` re-exports (it adds this list to its own). The wire
# constants below stay public here, imported by name, outside the package API.
__all__ = [
    "Reader",
    "Writer",
    "pack_bool",
    "pack_bytes",
    "pack_double",
    "pack_int",
    "pack_int128",
    "pack_int256",
    "pack_long",
    "pack_string",
    "pack_uint",
    "pack_vector",
]

VECTOR_ID = 0x1CB5C415
BOOL_TRUE_ID = 0x997275B5
BOOL_FALSE_ID = 0xBC799737

#: The largest length the 3-byte length prefix can express.
MAX_BYTES_LENGTH = (1 << 24) - 1

_INT = struct.Struct("<i")
_UINT = struct.Struct("<I")
_LONG = struct.Struct("<q")
_DOUBLE = struct.Struct("<d")

_T = TypeVar("_T")


def _as_memoryview(data: object) -> memoryview:
    if isinstance(data, memoryview):
        view = data
    elif isinstance(data, bytes | bytearray):
        view = memoryview(data)
    else:
        raise InvalidType(f"expected a bytes-like object, got {type(data).__name__}")
    if not view.c_contiguous:
        raise InvalidType("expected a contiguous buffer")
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    return view


class Reader:
    """A forward-only, bounds-checked reader over a TL buffer.

    ``strict_padding`` additionally rejects non-zero padding after a
    ``string``/``bytes`` and the long length form used for fewer than 254
    bytes. Both are accepted by default, as tdlib, Telethon and Pyrogram do:
    they are outside the authenticated-encryption boundary's concern and only
    the canonical form is ever produced by :class:`Writer`.

    ``max_bytes_length`` bounds every ``string``/``bytes`` read.
    """

    __slots__ = ("_end", "_pos", "_view", "max_bytes_length", "strict_padding")

    def __init__(
        self,
        data: BytesLike,
        *,
        strict_padding: bool = False,
        max_bytes_length: int = MAX_BYTES_LENGTH,
    ) -> None:
        # duplicates: deliberate -- stored attributes and one-line read-only properties.
        self._view = _as_memoryview(data)
        self._pos = 0
        self._end = len(self._view)
        self.strict_padding = strict_padding
        self.max_bytes_length = max_bytes_length

    @property
    def offset(self) -> int:
        """Bytes consumed so far."""
        return self._pos

    @property
    def remaining(self) -> int:
        """Bytes left to read."""
        return self._end - self._pos

    def _take(self, n: int) -> memoryview:
        if n < 0 or n > self._end - self._pos:
            raise TLError(
                f"truncated TL data: need {n} bytes at offset {self._pos}, have {self.remaining}"
            )
        start = self._pos
        self._pos = start + n
        return self._view[start : start + n]

    def read_raw(self, n: int) -> bytes:
        """Read exactly ``n`` bytes."""
        return bytes(self._take(n))

    def read_rest(self) -> bytes:
        """Read every remaining byte."""
        return bytes(self._take(self.remaining))

    def sub_reader(self, n: int) -> Reader:
        """Consume ``n`` bytes and return a reader confined to them (no copy)."""
        sub = Reader(
            self._take(n),
            strict_padding=self.strict_padding,
            max_bytes_length=self.max_bytes_length,
        )
        return sub

    def peek_uint32(self) -> int:
        """Return the next ``uint32`` (a constructor id) without consuming it."""
        if self.remaining < 4:
            raise TLError(
                f"truncated TL data: need 4 bytes at offset {self._pos}, have {self.remaining}"
            )
        value: int = _UINT.unpack_from(self._view, self._pos)[0]
        return value

    def read_int32(self) -> int:
        """Read a signed 32-bit ``int``."""
        value: int = _INT.unpack(self._take(4))[0]
        return value

    def read_uint32(self) -> int:
        """Read an unsigned 32-bit value (constructor ids)."""
        value: int = _UINT.unpack(self._take(4))[0]
        return value

    def read_int64(self) -> int:
        """Read a signed 64-bit ``long``."""
        value: int = _LONG.unpack(self._take(8))[0]
        return value

    def read_int64s(self, count: int) -> list[int]:
        r"""Read ``count`` signed 64-bit ``long``\ s at once (a ``Vector<long>``'s
        items: one unpack instead of one call per item)."""
        return list(struct.unpack(f"<{count}q", self._take(8 * count)))

    def read_int32s(self, count: int) -> list[int]:
        r"""Read ``count`` signed 32-bit ``int``\ s at once."""
        return list(struct.unpack(f"<{count}i", self._take(4 * count)))

    def read_int128(self) -> bytes:
        """Read an ``int128`` as its 16 raw bytes."""
        return bytes(self._take(16))

    def read_int256(self) -> bytes:
        """Read an ``int256`` as its 32 raw bytes."""
        return bytes(self._take(32))

    def read_double(self) -> float:
        """Read an IEEE-754 little-endian ``double``."""
        value: float = _DOUBLE.unpack(self._take(8))[0]
        return value

    def read_bytes(self) -> bytes:
        """Read a TL ``bytes``/``string`` value and its padding."""
        first = self._take(1)[0]
        if first == 255:
            raise TLError(f"invalid TL string length prefix 0xff at offset {self._pos - 1}")
        if first == 254:
            b = self._take(3)
            length = b[0] | (b[1] << 8) | (b[2] << 16)
            if self.strict_padding and length < 254:
                raise TLError("non-canonical long form for a short TL string")
            header = 4
        else:
            length = first
            header = 1
        if length > self.max_bytes_length:
            raise TLError(
                f"TL string of {length} bytes exceeds the bound of {self.max_bytes_length}"
            )
        value = bytes(self._take(length))
        padding = self._take(-(header + length) % 4)
        if self.strict_padding and any(padding):
            raise TLError("non-zero TL string padding")
        return value

    read_string = read_bytes

    def read_bool(self) -> bool:
        """Read a boxed ``Bool``."""
        constructor = self.read_uint32()
        if constructor == BOOL_TRUE_ID:
            return True
        if constructor == BOOL_FALSE_ID:
            return False
        raise TLError(f"expected Bool, got constructor 0x{constructor:08x}")

    def read_vector_count(self, *, boxed: bool = True, min_item_size: int = 4) -> int:
        """Read a vector header and return its element count.

        The count is checked against the remaining bytes, assuming every
        element takes at least ``min_item_size`` bytes, so a forged count can
        never trigger a large allocation.
        """
        if boxed:
            constructor = self.read_uint32()
            if constructor != VECTOR_ID:
                raise TLError(f"expected Vector, got constructor 0x{constructor:08x}")
        count = self.read_int32()
        if count < 0:
            raise TLError(f"negative vector length {count}")
        if count * max(min_item_size, 1) > self.remaining:
            raise TLError(f"vector of {count} elements exceeds the {self.remaining} bytes left")
        return count

    def read_vector(
        self,
        read_item: Callable[[Reader], _T],
        *,
        boxed: bool = True,
        min_item_size: int = 4,
    ) -> list[_T]:
        """Read a vector whose elements ``read_item(self)`` decodes."""
        count = self.read_vector_count(boxed=boxed, min_item_size=min_item_size)
        return [read_item(self) for _ in range(count)]

    def expect_end(self) -> None:
        """Raise :class:`TLError` if any byte is left unread."""
        if self._pos != self._end:
            raise TLError(f"{self.remaining} trailing bytes after TL object")


def _check_int(value: object, bits: int, what: str) -> int:
    if type(value) is not int and not is_int(value):
        raise InvalidType(f"{what} must be an int, got {type(value).__name__}")
    bound = 1 << (bits - 1)
    if not -bound <= value < bound:
        raise InvalidArgument(f"{what} out of range for a signed {bits}-bit integer")
    return value


def _check_raw(value: object, size: int, what: str) -> bytes:
    if not isinstance(value, BytesLike):
        raise InvalidType(f"{what} must be {size} bytes, got {type(value).__name__}")
    raw = bytes(value)
    if len(raw) != size:
        raise InvalidArgument(f"{what} must be exactly {size} bytes, got {len(raw)}")
    return raw


def pack_int(value: int) -> bytes:
    """Encode a signed 32-bit ``int``."""
    return _INT.pack(_check_int(value, 32, "int"))


def pack_uint(value: int) -> bytes:
    """Encode an unsigned 32-bit value (a constructor id)."""
    if type(value) is not int and not is_int(value):
        raise InvalidType(f"uint must be an int, got {type(value).__name__}")
    if not 0 <= value < 1 << 32:
        raise InvalidArgument("uint out of range for an unsigned 32-bit integer")
    return _UINT.pack(value)


def pack_long(value: int) -> bytes:
    """Encode a signed 64-bit ``long``."""
    return _LONG.pack(_check_int(value, 64, "long"))


def pack_int128(value: BytesLike) -> bytes:
    """Encode an ``int128`` given as its 16 raw bytes."""
    return _check_raw(value, 16, "int128")


def pack_int256(value: BytesLike) -> bytes:
    """Encode an ``int256`` given as its 32 raw bytes."""
    return _check_raw(value, 32, "int256")


def pack_double(value: float) -> bytes:
    """Encode a ``double``."""
    if not (isinstance(value, float) or is_int(value)):
        raise InvalidType(f"double must be a float, got {type(value).__name__}")
    return _DOUBLE.pack(float(value))


def pack_bytes(value: BytesLike) -> bytes:
    """Encode a TL ``bytes`` value with its length prefix and zero padding."""
    if not isinstance(value, BytesLike):
        raise InvalidType(f"bytes value must be bytes-like, got {type(value).__name__}")
    data = bytes(value)
    length = len(data)
    if length <= 253:
        header = bytes((length,))
    elif length <= MAX_BYTES_LENGTH:
        header = bytes((254, length & 0xFF, (length >> 8) & 0xFF, length >> 16))
    else:
        raise InvalidArgument(f"TL bytes value of {length} bytes exceeds {MAX_BYTES_LENGTH}")
    padding = -(len(header) + length) % 4
    return header + data + b"\x00" * padding


def pack_string(value: str | BytesLike) -> bytes:
    """Encode a TL ``string``; a :class:`str` is encoded as UTF-8 first."""
    if isinstance(value, str):
        return pack_bytes(value.encode("utf-8"))
    return pack_bytes(value)


def pack_bool(value: bool) -> bytes:
    """Encode a boxed ``Bool``."""
    if not isinstance(value, bool):
        raise InvalidType(f"Bool must be a bool, got {type(value).__name__}")
    return _UINT.pack(BOOL_TRUE_ID if value else BOOL_FALSE_ID)


def pack_vector(items: Iterable[bytes], *, boxed: bool = True) -> bytes:
    """Encode a vector from already-encoded elements."""
    encoded = list(items)
    head = _UINT.pack(VECTOR_ID) if boxed else b""
    return head + _INT.pack(len(encoded)) + b"".join(encoded)


class Writer:
    """An append-only TL output buffer mirroring :class:`Reader`."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def __len__(self) -> int:
        return len(self._buffer)

    def getvalue(self) -> bytes:
        """Return everything written so far."""
        return bytes(self._buffer)

    # duplicates: deliberate -- one typed, documented method per TL type, each one pack_* call.
    def write_raw(self, data: BytesLike) -> None:
        """Append bytes as they are."""
        self._buffer += data

    def write_int32(self, value: int) -> None:
        """Append a signed 32-bit ``int``."""
        self._buffer += pack_int(value)

    def write_uint32(self, value: int) -> None:
        """Append an unsigned 32-bit value (a constructor id)."""
        self._buffer += pack_uint(value)

    def write_int64(self, value: int) -> None:
        """Append a signed 64-bit ``long``."""
        self._buffer += pack_long(value)

    def write_int128(self, value: BytesLike) -> None:
        """Append an ``int128`` (16 raw bytes)."""
        self._buffer += pack_int128(value)

    def write_int256(self, value: BytesLike) -> None:
        """Append an ``int256`` (32 raw bytes)."""
        self._buffer += pack_int256(value)

    def write_double(self, value: float) -> None:
        """Append a ``double``."""
        self._buffer += pack_double(value)

    def write_bytes(self, value: BytesLike) -> None:
        """Append a TL ``bytes`` value."""
        self._buffer += pack_bytes(value)

    def write_string(self, value: str | BytesLike) -> None:
        """Append a TL ``string`` (UTF-8 for :class:`str`)."""
        self._buffer += pack_string(value)

    def write_bool(self, value: bool) -> None:
        """Append a boxed ``Bool``."""
        self._buffer += pack_bool(value)

    def write_vector_header(self, count: int, *, boxed: bool = True) -> None:
        """Append a vector header (id if boxed, then the count)."""
        if boxed:
            self._buffer += _UINT.pack(VECTOR_ID)
        self._buffer += pack_int(count)
