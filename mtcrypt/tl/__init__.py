"""A minimal TL codec for the MTProto handshake, key binding and service messages.

The schema lives in ``schema.tl`` next to this file; every constructor id in
it is re-derived (CRC32 of the normalized combinator) when it is loaded.

>>> from mtcrypt import tl
>>> ping = tl.make("ping", ping_id=1)
>>> tl.serialize(ping).hex()
'ec77be7a0100000000000000'
>>> tl.deserialize(tl.serialize(ping)) == ping
True

Decoding untrusted bytes raises only :class:`mtcrypt.errors.TLError`, within
the bounds of :class:`Limits`. This package imports only the standard library
and :mod:`mtcrypt.errors`.
"""

from __future__ import annotations

from .._validation import BytesLike
from . import codec, schema
from .codec import *  # noqa: F403
from .codec import Codec, Limits, TLObject

# duplicates: deliberate -- primitives is re-exported without its wire constants
# (BOOL_*_ID, VECTOR_ID, MAX_BYTES_LENGTH), so its names are listed here again.
from .primitives import (
    Reader,
    Writer,
    pack_bool,
    pack_bytes,
    pack_double,
    pack_int,
    pack_int128,
    pack_int256,
    pack_long,
    pack_string,
    pack_uint,
    pack_vector,
)
from .schema import *  # noqa: F403

# A long submodule list re-exported whole is imported with ``*`` and added with
# ``__all__ +=`` (forms mypy and ruff read), so its names are written once.
__all__ = [
    "BytesLike",
    "Reader",
    "Writer",
    "default_codec",
    "deserialize",
    "deserialize_body",
    "gzip_pack",
    "make",
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
    "read_object",
    "serialize",
]
__all__ += codec.__all__
__all__ += schema.__all__

_default_codec: Codec | None = None


def default_codec() -> Codec:
    """The shared :class:`Codec` over the built-in schema and default limits."""
    global _default_codec
    if _default_codec is None:
        _default_codec = Codec()
    return _default_codec


def make(name: str, /, **fields: object) -> TLObject:
    """Build a validated, canonical :class:`TLObject` (see :meth:`Codec.make`)."""
    return default_codec().make(name, **fields)


def serialize(obj: TLObject, *, boxed: bool = True) -> bytes:
    """Encode ``obj``; ``boxed=False`` omits the constructor id."""
    return default_codec().serialize(obj, boxed=boxed)


def deserialize(
    data: BytesLike,
    *,
    bare: str | None = None,
    unpack_gzip: bool = False,
    allow_trailing: bool = False,
    limits: Limits | None = None,
) -> TLObject:
    """Decode one known object filling ``data`` (see :meth:`Codec.deserialize`)."""
    return default_codec().deserialize(
        data, bare=bare, unpack_gzip=unpack_gzip, allow_trailing=allow_trailing, limits=limits
    )


def deserialize_body(
    data: BytesLike, *, unpack_gzip: bool = False, limits: Limits | None = None
) -> TLObject | bytes:
    """Decode a message body; unknown objects come back as raw bytes."""
    return default_codec().deserialize_body(data, unpack_gzip=unpack_gzip, limits=limits)


def read_object(
    reader: Reader,
    *,
    bare: str | None = None,
    unpack_gzip: bool = False,
    limits: Limits | None = None,
) -> TLObject:
    """Decode one known object from ``reader``, leaving the rest unread."""
    return default_codec().read_object(reader, bare=bare, unpack_gzip=unpack_gzip, limits=limits)


def gzip_pack(body: TLObject | BytesLike) -> TLObject:
    """Wrap an object (or its serialized bytes) in ``gzip_packed``."""
    return default_codec().gzip_pack(body)
