"""Small helpers shared by the transport modules: unbiased draws from an
injected byte source, and argument checks."""

from __future__ import annotations

from collections.abc import MutableSequence
from typing import TypeVar

from .._random import Rng
from ..crypto._buffers import BytesLike
from ..errors import InvalidArgument, InvalidType

T = TypeVar("T")


def rng_bytes(rng: Rng, n: int) -> bytes:
    """``rng(n)``, checked: an injected source that returns the wrong thing is
    reported instead of silently weakening a header."""
    out = rng(n)
    if not isinstance(out, bytes | bytearray) or len(out) != n:
        raise InvalidArgument(f"rng({n}) must return {n} bytes")
    return bytes(out)


def randbelow(rng: Rng, n: int) -> int:
    """A uniform integer in ``[0, n)`` from ``rng`` (rejection sampling)."""
    if n <= 1:
        return 0
    nbytes = ((n - 1).bit_length() + 7) // 8
    span = 1 << (8 * nbytes)
    limit = span - span % n
    while True:
        value = int.from_bytes(rng_bytes(rng, nbytes), "little")
        if value < limit:
            return value % n


def shuffle(items: MutableSequence[T], rng: Rng) -> None:
    """Fisher-Yates shuffle in place, driven by ``rng``."""
    for i in range(len(items) - 1, 0, -1):
        j = randbelow(rng, i + 1)
        items[i], items[j] = items[j], items[i]


def as_bytes(data: object, what: str) -> bytes:
    """``bytes(data)`` for any bytes-like object; anything else is a type error."""
    if type(data) is bytes:
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise InvalidType(f"{what} must be a bytes-like object, not {type(data).__name__}")


def check_int(value: object, what: str, lo: int, hi: int) -> int:
    """``value`` as an int within ``[lo, hi]`` (bool is refused)."""
    if type(value) is not int:
        raise InvalidType(f"{what} must be an int, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise InvalidArgument(f"{what} must be in [{lo}, {hi}], got {value}")
    return value


__all__ = ["BytesLike", "as_bytes", "check_int", "randbelow", "rng_bytes", "shuffle"]
