"""Argument checking shared by every layer, in one place.

* The callable types every API takes: :data:`Rng` (``rng(n)`` returns ``n``
  random bytes) and :data:`Clock` (``clock()`` returns Unix time in seconds).
* Draws from an injected ``rng``: :func:`draw` (the one check that ``rng(n)``
  returned ``n`` bytes), :func:`randbelow`, :func:`shuffle`.
* Integers: :func:`is_int` (the one rule: an ``int`` that is not a ``bool``)
  and :func:`check_int` (that rule plus a range).
* Bytes-like objects: :data:`BytesLike`, :func:`as_bytes`, and the buffers
  handed to the native calls (:func:`readable`, :func:`writable`,
  :func:`fixed`, :func:`new_output`/:func:`finish_output`, ...): every length
  is validated here, in Python, before any C code runs.

A root-level private module: it imports only :mod:`mtcrypt.errors`,
:mod:`mtcrypt._native` and the standard library, so every layer may use it.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Callable, MutableSequence
from typing import Any, TypeGuard, TypeVar

from ._native import ffi
from .errors import InvalidArgument, InvalidLength, InvalidType

__all__ = [
    "FILL_FRESH_BYTES",
    "BytesLike",
    "Clock",
    "Rng",
    "as_bytes",
    "block_multiple",
    "check_int",
    "check_overlap",
    "draw",
    "finish_output",
    "fixed",
    "is_int",
    "new_output",
    "randbelow",
    "readable",
    "shuffle",
    "writable",
]

T = TypeVar("T")

# ---- types -------------------------------------------------------------------------

Rng = Callable[[int], bytes]
"""A source of random bytes: ``rng(n)`` returns ``n`` bytes."""

Clock = Callable[[], float]
"""A source of Unix time in seconds (``time.time``)."""

BytesLike = bytes | bytearray | memoryview
"""What the functions taking bytes accept."""

# ---- draws from an injected rng ----------------------------------------------------


def draw(rng: Rng, n: int, what: str = "rng") -> bytes:
    """``rng(n)``, checked: an injected source that returns the wrong thing is
    reported instead of silently weakening a key, a nonce or padding.

    The result must be ``bytes`` or ``bytearray`` of exactly ``n`` bytes and is
    returned as ``bytes``; anything else raises :class:`InvalidArgument`.  For
    ``n == 0`` the result is ``b""`` and ``rng`` is not called."""
    if n == 0:
        return b""
    out = rng(n)
    if type(out) is bytes and len(out) == n:
        return out
    if not isinstance(out, bytes | bytearray) or len(out) != n:
        raise InvalidArgument(f"{what}({n}) must return {n} bytes")
    return bytes(out)


def randbelow(rng: Rng, n: int) -> int:
    """A uniform integer in ``[0, n)`` from ``rng`` (rejection sampling)."""
    if n <= 1:
        return 0
    nbytes = ((n - 1).bit_length() + 7) // 8
    span = 1 << (8 * nbytes)
    limit = span - span % n
    while True:
        value = int.from_bytes(draw(rng, nbytes), "little")
        if value < limit:
            return value % n


def shuffle(items: MutableSequence[T], rng: Rng) -> None:
    """Fisher-Yates shuffle in place, driven by ``rng``."""
    for i in range(len(items) - 1, 0, -1):
        j = randbelow(rng, i + 1)
        items[i], items[j] = items[j], items[i]


# ---- integers ----------------------------------------------------------------------


def is_int(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an ``int`` and not a ``bool``: the one integer rule.

    On a hot path, spell it ``type(value) is int or is_int(value)``: the same
    answer without a call for a plain ``int``."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(value: object, what: str, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as a plain ``int`` within ``[lo, hi]`` (a bound of ``None`` is
    open): :class:`InvalidType` unless :func:`is_int`, :class:`InvalidArgument`
    when out of range."""
    if type(value) is not int:
        if not is_int(value):
            raise InvalidType(f"{what} must be an int, not {type(value).__name__}")
        value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        if hi is None:
            raise InvalidArgument(f"{what} must be >= {lo}, got {value}")
        if lo is None:
            raise InvalidArgument(f"{what} must be <= {hi}, got {value}")
        raise InvalidArgument(f"{what} must be in [{lo}, {hi}], got {value}")
    return value


def check_seconds(value: object, what: str, *, optional: bool = False, zero: bool = False) -> None:
    """``value`` is a finite number of seconds (``int`` or ``float``, not
    ``bool``), positive, or ``>= 0`` with ``zero``; ``None`` passes with
    ``optional``.  :class:`InvalidArgument` otherwise: the one rule for every
    timeout, deadline, backoff and time window."""
    if value is None and optional:
        return
    if (
        not (isinstance(value, float) or is_int(value))
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not zero)
    ):
        bound = "a number of seconds >= 0" if zero else "a positive number of seconds"
        raise InvalidArgument(f"{what} must be {bound}" + (" or None" if optional else ""))


# ---- bytes-like objects ------------------------------------------------------------


def as_bytes(data: object, what: str) -> bytes:
    """``bytes(data)`` for any bytes-like object; anything else is a type error."""
    if type(data) is bytes:
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise InvalidType(f"{what} must be a bytes-like object, not {type(data).__name__}")


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


def new_output_view(n: int) -> tuple[memoryview, Any]:
    """Storage for ``n`` output bytes laid out from Python: (a writable view of
    it, object to finish).  Release the view before :func:`finish_output`."""
    ptr, obj = new_output(n)
    if type(ptr) is bytes:
        ptr = ffi.from_buffer(ptr)
    return memoryview(ffi.buffer(ptr, n)), obj


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
