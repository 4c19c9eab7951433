"""Randomness for padding, nonces and keys: the OS CSPRNG, through the core.

``random_bytes`` draws from the native per-thread generator (drbg.c): an
AES-256-CTR stream with fast key erasure, seeded from ``getrandom()`` and
reseeded in a forked child, so that small draws (message padding) do not pay
for a system call each.  Every API that consumes randomness takes an ``rng``
parameter (default: this function) so tests can inject their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ._native import lib

__all__ = ["Rng", "random_bytes"]

Rng = Callable[[int], bytes]
"""A source of random bytes: ``rng(n)`` returns ``n`` bytes."""

_RANDOM = lib.mtc_random_bytes


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the OS-seeded native generator."""
    if n <= 0:
        return b""
    # A fresh bytes object of two or more bytes is private (see
    # crypto/_buffers.py); a single byte is taken from a two-byte draw.
    size = max(n, 2)
    out = bytes(size)
    if _RANDOM(out, size) != 0:  # no kernel randomness source: ask Python's
        return os.urandom(n)
    return out if size == n else out[:n]
