"""Padding randomness from the OS CSPRNG, drawn in blocks.

A getrandom() call costs about as much as sealing a small message, so padding
bytes come from a per-thread buffer refilled 4 KiB at a time from
``os.urandom``.  Each byte is handed out once; the buffers are dropped in a
forked child so parent and child never share bytes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

__all__ = ["Rng", "random_bytes"]

Rng = Callable[[int], bytes]
"""A source of random bytes: ``rng(n)`` returns ``n`` bytes."""

_REFILL = 4096


class _Pool(threading.local):
    def __init__(self) -> None:
        self.buf = b""
        self.pos = 0


_pool = _Pool()


def _reset_after_fork() -> None:
    global _pool
    _pool = _Pool()


os.register_at_fork(after_in_child=_reset_after_fork)


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the OS CSPRNG (buffered; never the same byte twice)."""
    pool = _pool
    pos = pool.pos
    end = pos + n
    if end > len(pool.buf):
        if n > _REFILL // 4:
            return os.urandom(n)
        pool.buf = os.urandom(_REFILL)
        pos, end = 0, n
    pool.pos = end
    return pool.buf[pos:end]
