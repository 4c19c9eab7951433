"""Unencrypted messages (the handshake): ``0 | msg_id | length | body``."""

from __future__ import annotations

import struct

from .._validation import BytesLike, is_int, readable
from ..errors import InvalidArgument, InvalidLength

__all__ = ["MAX_PLAIN_BODY", "pack_plain", "unpack_plain"]

MAX_PLAIN_BODY = 1 << 16
"""Handshake messages are small; anything larger is refused."""

_PLAIN = struct.Struct("<qqi")


def pack_plain(msg_id: int, body: BytesLike) -> bytes:
    """An unencrypted message carrying ``body`` (TL, a multiple of 4 bytes)."""
    _, n = readable(body, "body")
    if n & 3:
        raise InvalidLength(f"body must be a multiple of 4 bytes, got {n}")
    if n > MAX_PLAIN_BODY:
        raise InvalidLength(f"body larger than {MAX_PLAIN_BODY} bytes")
    if not is_int(msg_id) or not -(1 << 63) <= msg_id < 1 << 63:
        raise InvalidArgument("msg_id must be a signed 64-bit int")
    return _PLAIN.pack(0, msg_id, n) + bytes(body)


def unpack_plain(packet: BytesLike) -> tuple[int, bytes]:
    """``(msg_id, body)`` from an unencrypted message, checked strictly:
    auth_key_id zero, the length field equal to the rest of the packet."""
    _, n = readable(packet, "packet")
    data = bytes(packet)
    if n < _PLAIN.size:
        raise InvalidLength(f"unencrypted message shorter than {_PLAIN.size} bytes")
    key_id, msg_id, length = _PLAIN.unpack_from(data)
    if key_id != 0:
        raise InvalidArgument("not an unencrypted message (auth_key_id is not 0)")
    if length != n - _PLAIN.size or length & 3 or length > MAX_PLAIN_BODY:
        raise InvalidLength("unencrypted message length field does not match its size")
    return msg_id, data[_PLAIN.size :]
