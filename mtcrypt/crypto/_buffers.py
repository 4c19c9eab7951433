"""Argument checking for the native calls: every length is validated here,
in Python, before any C code runs."""

from __future__ import annotations

import platform
from typing import Any

from .._native import ffi
from ..errors import InvalidArgument, InvalidLength, InvalidType

BytesLike = bytes | bytearray | memoryview

# On CPython a freshly created bytes object of two or more bytes is a private,
# unshared allocation whose hash is not yet computed, so native code may fill
# it before it is returned: one allocation instead of a buffer plus a copy.
# cffi passes a bytes argument to a uint8_t* parameter as a pointer to its
# storage.  Elsewhere (PyPy copies bytes arguments) use a cffi buffer.
FILL_FRESH_BYTES = platform.python_implementation() == "CPython"


def new_output(n: int) -> tuple[Any, Any]:
    """Storage for ``n`` output bytes: (pointer for C, object to finish)."""
    if FILL_FRESH_BYTES and n >= 2:
        out = bytes(n)
        return out, out
    buf = ffi.new("uint8_t[]", max(n, 1))
    return buf, buf


def finish_output(obj: Any, n: int) -> bytes:
    if type(obj) is bytes:
        return obj
    return ffi.buffer(obj, n)[:]  # type: ignore[no-any-return]


def readable(obj: object, what: str) -> tuple[Any, int]:
    """A pointer-compatible view of ``obj`` and its length in bytes."""
    if type(obj) is bytes:
        return obj, len(obj)
    try:
        view = memoryview(obj)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidType(f"{what} must be a bytes-like object, not {type(obj).__name__}") from None
    if not view.c_contiguous:
        raise InvalidArgument(f"{what} must be a C-contiguous buffer")
    return ffi.from_buffer(view), view.nbytes


def writable(obj: object, what: str) -> tuple[Any, int]:
    """A writable pointer into ``obj`` and its length in bytes."""
    try:
        view = memoryview(obj)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidType(
            f"{what} must be a writable bytes-like object, not {type(obj).__name__}"
        ) from None
    if view.readonly:
        raise InvalidArgument(f"{what} must be a writable buffer (got a read-only one)")
    if not view.c_contiguous:
        raise InvalidArgument(f"{what} must be a C-contiguous buffer")
    return ffi.from_buffer(view, require_writable=True), view.nbytes


def fixed(obj: object, size: int, what: str) -> Any:
    """A buffer that must be exactly ``size`` bytes long (keys and IVs)."""
    ptr, n = readable(obj, what)
    if n != size:
        raise InvalidLength(f"{what} must be {size} bytes long, got {n}")
    return ptr


def block_multiple(n: int, what: str = "data") -> None:
    if n & 15:
        raise InvalidLength(f"{what} length must be a multiple of 16 bytes, got {n}")


def check_overlap(src: Any, dst: Any, n: int) -> None:
    """Allow exact in-place operation, refuse partial overlap.

    The chained modes read each input block after writing earlier output
    blocks, so a shifted overlap would silently corrupt the result.
    """
    if n == 0 or type(src) is bytes:
        return
    a = int(ffi.cast("uintptr_t", src))
    b = int(ffi.cast("uintptr_t", dst))
    if a != b and a < b + n and b < a + n:
        raise InvalidArgument("out overlaps data; only exact in-place operation is supported")
