"""State that several relay processes on one port share: the fake-TLS replay
cache, and a block of counters with one row per process.

The cache lives in :mod:`multiprocessing.shared_memory`, the counters in an
anonymous shared mapping.  Create them in the parent
before starting the workers (``fork``): the children inherit the mapping and
the lock.

**The replay cache** is a fixed-size hash table of the client randoms of
accepted ClientHellos.  A random is authenticated before it gets here (the
HMAC matched), so it is uniformly distributed and cannot be chosen by a
prober; its bytes 8..16 pick one bucket of :data:`BUCKET_SLOTS` slots and its
first 8 bytes are the tag kept there, with the time after which the entry may
be forgotten (``window`` seconds after it was added: the fake-TLS timestamp
window, ``max_past + max_future``, after which the hello is refused anyway).

* Memory: ``16 * entries`` bytes (16 MiB for the default 2**20 entries), fixed.
* False positives (a fresh hello refused as a replay): only when its 64-bit tag
  equals one of the at most 8 live tags in its bucket: probability at most
  ``8 / 2**64`` per hello.
* False negatives (a replay accepted): only if its entry was evicted: a bucket
  whose 8 slots are all live when a new random arrives gives up its oldest
  entry (counted in :attr:`SharedReplayCache.evictions`).  With ``entries``
  slots and ``n`` hellos per window, a bucket overflows with probability about
  ``P[Poisson(8 n / entries) > 8]``: at the default size and a 720 s window,
  below 0.03 % up to 360 new fake-TLS connections a second (mean 2 per
  bucket), about 10 % at 1000 a second.  Size it to at least
  ``4 * (hellos per second) * window``.
"""

from __future__ import annotations

import multiprocessing
import struct
import time
from multiprocessing.shared_memory import SharedMemory
from typing import Any, Final

from .._validation import Clock, check_int, check_seconds
from ..errors import InvalidArgument
from .stats import RelayStats, row_size

__all__ = ["BUCKET_SLOTS", "SharedReplayCache", "SharedStats"]

BUCKET_SLOTS: Final = 8
_SLOT: Final = struct.Struct("<Qd")  # tag, forget-after (clock seconds)
_HEADER: Final = struct.Struct("<QQ")  # buckets, evictions


class SharedReplayCache:
    """The fake-TLS replay cache in shared memory (see the module docs); a
    :class:`~mtcrypt.transport.ReplayCache` for
    :class:`~mtcrypt.transport.FakeTlsPolicy`.

    ``entries`` is rounded up to a whole number of buckets; ``window`` is
    how long (seconds of ``clock``) an entry must be kept.  :meth:`close` in
    every process, :meth:`unlink` once in the creator.
    """

    def __init__(
        self, entries: int = 1 << 20, *, window: float = 720.0, clock: Clock = time.time
    ) -> None:
        entries = check_int(entries, "entries", BUCKET_SLOTS, 1 << 28)
        check_seconds(window, "window")
        self.buckets = -(-entries // BUCKET_SLOTS)
        self.window = float(window)
        self._clock = clock
        size = _HEADER.size + self.buckets * BUCKET_SLOTS * _SLOT.size
        self._shm: SharedMemory | None = SharedMemory(create=True, size=size)
        buf = self._shm.buf
        assert buf is not None
        self._buf: memoryview = buf
        _HEADER.pack_into(self._buf, 0, self.buckets, 0)
        self._lock: Any = multiprocessing.get_context("fork").Lock()

    @property
    def memory(self) -> int:
        """Bytes of shared memory the table takes."""
        return _HEADER.size + self.buckets * BUCKET_SLOTS * _SLOT.size

    @property
    def evictions(self) -> int:
        """Live entries given up because their bucket was full (all processes)."""
        return int(_HEADER.unpack_from(self._buf, 0)[1])

    def check_and_add(self, client_random: bytes) -> bool:
        """Record ``client_random``; False if it is there and still live."""
        if len(client_random) < 16:
            raise InvalidArgument("a client random is 32 bytes")
        tag = int.from_bytes(client_random[:8], "little") or 1  # 0 marks an empty slot
        bucket = int.from_bytes(client_random[8:16], "little") % self.buckets
        base = _HEADER.size + bucket * BUCKET_SLOTS * _SLOT.size
        now = self._clock()
        buf = self._buf
        with self._lock:
            free = -1
            oldest, oldest_at = base, float("inf")
            for offset in range(base, base + BUCKET_SLOTS * _SLOT.size, _SLOT.size):
                seen, forget_at = _SLOT.unpack_from(buf, offset)
                live = seen != 0 and forget_at > now
                if live and seen == tag:
                    return False
                if not live:
                    if free < 0:
                        free = offset
                elif forget_at < oldest_at:
                    oldest, oldest_at = offset, forget_at
            if free < 0:
                free = oldest
                buckets, evictions = _HEADER.unpack_from(buf, 0)
                _HEADER.pack_into(buf, 0, buckets, evictions + 1)
            _SLOT.pack_into(buf, free, tag, now + self.window)
        return True

    def close(self) -> None:
        if self._shm is not None:
            self._buf = memoryview(b"")
            self._shm.close()

    def unlink(self) -> None:
        """Free the shared memory (the creating process, once every process closed)."""
        if self._shm is not None:
            self._shm.unlink()
            self._shm = None

    def __repr__(self) -> str:
        return f"SharedReplayCache({self.buckets * BUCKET_SLOTS} entries, {self.window:g} s)"


class SharedStats:
    """Counters for ``processes`` relay processes, one :class:`RelayStats` row
    each (:meth:`row`), readable together (:attr:`rows`) by whoever serves
    ``--stats``.  An anonymous shared mapping (``multiprocessing.RawArray``):
    nothing to unlink, gone with the last process."""

    def __init__(self, names: tuple[str, ...] | list[str], processes: int) -> None:
        self.names = tuple(names)
        self.processes = check_int(processes, "processes", 1, 1024)
        self._size = row_size(len(self.names))
        array = multiprocessing.get_context("fork").RawArray("b", self._size * self.processes)
        self._bytes = memoryview(array).cast("B")

    def row(self, index: int) -> RelayStats:
        """Process ``index``'s counters."""
        check_int(index, "index", 0, self.processes - 1)
        return RelayStats(self.names, self._bytes[index * self._size : (index + 1) * self._size])

    @property
    def rows(self) -> list[memoryview]:
        """Every process's counters, as 64-bit integers."""
        return [self.row(i).values for i in range(self.processes)]
