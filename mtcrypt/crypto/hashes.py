"""SHA-1 and SHA-256 from the native core (SHA extensions where present).

hashlib is just as fast for large inputs; these exist so the message layer can
hash from C without a round trip through Python, and are exported for
completeness and testing.
"""

from __future__ import annotations

from .._native import ffi, lib
from .._validation import BytesLike, readable

__all__ = ["sha1", "sha256"]


def sha256(data: BytesLike) -> bytes:
    """SHA-256 digest (32 bytes) of any bytes-like object."""
    src, n = readable(data, "data")
    out = ffi.new("uint8_t[32]")
    lib.mtc_sha256(src, n, out)
    return ffi.buffer(out, 32)[:]  # type: ignore[no-any-return]


def sha1(data: BytesLike) -> bytes:
    """SHA-1 digest (20 bytes); MTProto still uses it for key ids and the handshake."""
    src, n = readable(data, "data")
    out = ffi.new("uint8_t[20]")
    lib.mtc_sha1(src, n, out)
    return ffi.buffer(out, 20)[:]  # type: ignore[no-any-return]
