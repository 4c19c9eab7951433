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
from . import codec, primitives, schema
from .codec import *  # noqa: F403
from .codec import Codec, Limits, TLObject
from .primitives import *  # noqa: F403
from .primitives import Reader
from .schema import *  # noqa: F403

# A long submodule list re-exported whole is imported with ``*`` and added with
# ``__all__ +=`` (forms mypy and ruff read), so its names are written once.
# duplicates: deliberate -- a list of names then the submodules' lists, as e2e's ends.
__all__ = [
    "BytesLike",
    "default_codec",
    "deserialize",
    "deserialize_body",
    "gzip_pack",
    "make",
    "read_object",
    "serialize",
]
__all__ += codec.__all__
__all__ += primitives.__all__
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


# duplicates: deliberate -- each shortcut repeats its Codec method's typed signature (the
# default codec is created lazily, so they cannot be its bound methods).
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
