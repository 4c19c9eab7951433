"""Randomness for padding, nonces and keys: the OS CSPRNG, through the core.

``random_bytes`` draws from the native per-thread generator (drbg.c): an
AES-256-CTR stream with fast key erasure, seeded from ``getrandom()`` and
reseeded in a forked child, so that small draws (message padding) do not pay
for a system call each.  Every API that consumes randomness takes an ``rng``
parameter (an ``mtcrypt._validation.Rng``; default: this function) so tests
can inject their own.
"""

from __future__ import annotations

import os

from ._native import lib
from ._validation import FILL_FRESH_BYTES, finish_output, new_output

__all__ = ["random_bytes"]

_RANDOM = lib.mtc_random_bytes


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the OS-seeded native generator."""
    if n <= 0:
        return b""
    # The core writes into fresh storage (see FILL_FRESH_BYTES in _validation.py:
    # a fresh bytes object of two or more bytes on CPython); a single byte is
    # taken from a two-byte draw.
    if FILL_FRESH_BYTES and n >= 2:  # the common case, without the helpers' calls
        data = bytes(n)
        return data if _RANDOM(data, n) == 0 else os.urandom(n)
    size = max(n, 2)
    out, result = new_output(size)
    if _RANDOM(out, size) != 0:  # no kernel randomness source: ask Python's
        return os.urandom(n)
    data = finish_output(result, size)
    return data if size == n else data[:n]
