"""Constant-time modular exponentiation from the native core (``csrc/bn.c``).

:func:`modexp` is ``pow(base, exponent, modulus)`` for odd moduli of up to
4096 bits, computed by Montgomery multiplication over a fixed number of
exponent windows, with every table entry read for each one used: its time
depends on the byte lengths of the modulus and of the exponent, not on their
values or on the base.  The exponent's length is ``exponent_bytes`` when
given (a public bound, such as 256 for a Diffie-Hellman exponent or the
length of a public RSA exponent), else the modulus' length (or the
exponent's, if longer).

:func:`modexp_fixed_base` is the same for a base that recurs with one
modulus (the Diffie-Hellman generator ``g`` with ``dh_prime``): from a pair's
second use on, a table of ``base^(d * 16^i)`` (2 MiB for 2048 bits, kept for
the last :data:`FIXED_BASE_TABLES` pairs) turns the exponentiation into one
multiplication per 4-bit window and no squaring, about three times faster.

What is constant time is the native exponentiation.  The Python around it
converts ints to bytes and back and reduces ``base % modulus``, and CPython's
int arithmetic is not constant time in the values; so is the RSA CRT's
recombination in :mod:`mtcrypt.handshake.rsa` (as it was with pycryptodome).
Those are a handful of linear-time operations per call, not a loop over the
exponent's bits.

Python's ``pow`` takes 16-20 ms for a 2048-bit exponentiation and is not
constant time; this takes about 2-3 ms (1 ms with a fixed-base table) on a
current x86-64 core with MULX/ADX, which ``backend_info().cpu_features``
reports as ``"adx"`` (the portable backend uses the plain C code).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from .._native import ffi, lib
from .._native.status import check
from .._validation import is_int
from ..errors import InvalidArgument, InvalidType

__all__ = ["FIXED_BASE_TABLES", "MODEXP_MAX_BITS", "modexp", "modexp_fixed_base"]

MODEXP_MAX_BITS: int = 8 * lib.MTC_BN_MAX_BYTES
"""Largest modulus (and exponent length) :func:`modexp` takes, in bits (4096)."""

FIXED_BASE_TABLES = 4
"""How many (base, modulus, exponent length) tables :func:`modexp_fixed_base` keeps."""

_MAX_BYTES: int = lib.MTC_BN_MAX_BYTES


def _modulus_bytes(modulus: object) -> int:
    if not is_int(modulus):
        raise InvalidType("modulus must be an int")
    if modulus < 3 or not modulus & 1:
        raise InvalidArgument("modulus must be odd and at least 3")
    size = (modulus.bit_length() + 7) // 8
    if size > _MAX_BYTES:
        raise InvalidArgument(f"modulus must be at most {MODEXP_MAX_BITS} bits")
    return size


def _exponent_bytes(exponent: object, exponent_bytes: int | None, default: int) -> int:
    if not is_int(exponent):
        raise InvalidType("exponent must be an int")
    if exponent < 0:
        raise InvalidArgument("exponent must be non-negative")
    needed = (exponent.bit_length() + 7) // 8
    if exponent_bytes is None:
        size = max(default, needed)
    elif not is_int(exponent_bytes) or not needed <= exponent_bytes:
        raise InvalidArgument("exponent_bytes must be an int at least the exponent's length")
    else:
        size = exponent_bytes
    if size > _MAX_BYTES:
        raise InvalidArgument(f"exponent must be at most {MODEXP_MAX_BITS} bits")
    return size


def modexp(base: int, exponent: int, modulus: int, *, exponent_bytes: int | None = None) -> int:
    """``pow(base, exponent, modulus)`` in constant time (see the module text).

    ``modulus`` must be odd, at least 3 and at most 4096 bits; ``exponent``
    non-negative and, with ``exponent_bytes``, at most that many bytes long.
    ``base`` is any int (it is reduced modulo ``modulus`` first).  Raises
    :class:`~mtcrypt.errors.InvalidArgument` or :class:`~mtcrypt.errors.InvalidType`.
    """
    size = _modulus_bytes(modulus)
    elen = _exponent_bytes(exponent, exponent_bytes, size)
    if not is_int(base):
        raise InvalidType("base must be an int")
    out = ffi.new("uint8_t[]", size)
    rc = lib.mtc_modexp(
        (base % modulus).to_bytes(size, "big"),
        exponent.to_bytes(elen, "big"),
        elen,
        modulus.to_bytes(size, "big"),
        size,
        out,
    )
    check(rc, "modexp")
    return int.from_bytes(ffi.buffer(out, size), "big")


class _Tables:
    """Fixed-base tables by (base, modulus, exponent length), least recently
    used out; a pair gets its table on its second use (a one-off pair, e.g. a
    test's own prime, costs no table)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._tables: OrderedDict[tuple[int, int, int], tuple[Any, int]] = OrderedDict()
        self._seen: OrderedDict[tuple[int, int, int], None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int, int]) -> tuple[Any, int] | None:
        with self._lock:
            table = self._tables.get(key)
            if table is not None:
                self._tables.move_to_end(key)
                return table
            if key not in self._seen:
                self._seen[key] = None
                while len(self._seen) > 4 * self._size:
                    self._seen.popitem(last=False)
                return None
        base, modulus, elen = key
        size = (modulus.bit_length() + 7) // 8
        words = int(lib.mtc_modexp_fixed_words(size, elen))
        buf = ffi.new("uint64_t[]", words)
        rc = lib.mtc_modexp_fixed_init(
            buf, words, base.to_bytes(size, "big"), modulus.to_bytes(size, "big"), size, elen
        )
        check(rc, "modexp_fixed_init")
        with self._lock:
            self._seen.pop(key, None)
            self._tables[key] = (buf, words)
            while len(self._tables) > self._size:
                self._tables.popitem(last=False)
        return buf, words


_TABLES = _Tables(FIXED_BASE_TABLES)


def modexp_fixed_base(base: int, exponent: int, modulus: int, *, exponent_bytes: int) -> int:
    """:func:`modexp` for a base that recurs with this modulus (a DH generator).

    Same result and the same rules, with ``exponent_bytes`` (1 to 512)
    required: tables are per exponent length.  From the second call with the
    same ``(base, modulus, exponent_bytes)`` on, a cached table makes it one
    Montgomery multiplication per 4 exponent bits; the table holds nothing
    but powers of the (public) base.
    """
    size = _modulus_bytes(modulus)
    if not is_int(exponent_bytes) or not 0 < exponent_bytes <= _MAX_BYTES:
        raise InvalidArgument(f"exponent_bytes must be 1 to {_MAX_BYTES}")
    elen = _exponent_bytes(exponent, exponent_bytes, size)
    if not is_int(base):
        raise InvalidType("base must be an int")
    reduced = base % modulus
    table = _TABLES.get((reduced, modulus, elen))
    if table is None:
        return modexp(reduced, exponent, modulus, exponent_bytes=elen)
    buf, words = table
    out = ffi.new("uint8_t[]", size)
    rc = lib.mtc_modexp_fixed(buf, words, exponent.to_bytes(elen, "big"), elen, out, size)
    check(rc, "modexp_fixed")
    return int.from_bytes(ffi.buffer(out, size), "big")
