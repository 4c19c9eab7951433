"""MTProto message identifiers: generation, time conversion and the replay window.

A msg_id is approximately ``unixtime * 2**32``: the upper 32 bits are the whole
seconds, the lower 32 bits the fraction of the second when the message was
created [D].  The low two bits say who sent it: 0 for a client, 1 for a
server's response to a client message and 3 for any other server message.

Everything here is pure: the caller supplies the time and the random bits, so
a test can replay any sequence exactly (the "deterministic twin" habit).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from enum import Enum

from .._validation import is_int
from ..errors import InvalidArgument

__all__ = [
    "CLIENT",
    "NOISE_BITS",
    "SERVER_OTHER",
    "SERVER_RESPONSE",
    "ReplayVerdict",
    "ReplayWindow",
    "msg_id_time",
    "next_msg_id",
]

CLIENT = 0
"""Low two bits of a client msg_id."""
SERVER_RESPONSE = 1
"""Low two bits of a server msg_id answering a client message."""
SERVER_OTHER = 3
"""Low two bits of any other server msg_id."""

NOISE_BITS = 12
"""Random low bits mixed into each msg_id.  A float holding today's unix time
resolves about 2**-22 s, so the lowest ~10 bits of ``time * 2**32`` carry no
time information anyway; random bits there make ids unpredictable without
blurring the time fraction above them (tdlib randomizes 22 bits)."""

_TWO32 = float(1 << 32)
_INT64_MAX = (1 << 63) - 1
_NOISE_MASK = (1 << NOISE_BITS) - 1


def msg_id_time(msg_id: int) -> float:
    """The unix time a msg_id stands for (seconds, with the fraction)."""
    return msg_id / _TWO32


def next_msg_id(server_time: float, last: int, low_bits: int, noise: int = 0) -> int:
    """The msg_id to use at ``server_time`` after ``last`` (0 if none yet).

    ``server_time * 2**32`` with ``noise`` XORed into the low
    :data:`NOISE_BITS` bits and the low two bits set to ``low_bits``; if that
    would not exceed ``last`` (a clock that stood still or went back), the next
    id above ``last`` with the right low bits.  The result is strictly greater
    than ``last`` whatever the clock does.
    """
    if low_bits not in (CLIENT, SERVER_RESPONSE, SERVER_OTHER):
        raise InvalidArgument("low_bits must be 0, 1 or 3")
    return _next_msg_id(server_time, last, low_bits, noise)


def _next_msg_id(server_time: float, last: int, low_bits: int, noise: int) -> int:
    """:func:`next_msg_id` for callers whose ``low_bits`` is one of the constants."""
    if server_time >= 0.0:
        # time * 2**32 is exact in binary floating point: its integer part is the
        # whole seconds above the 32-bit fraction, in one operation.
        stamp = int(server_time * _TWO32)
    else:  # before 1970 (a broken clock): seconds and fraction truncated apart
        seconds = int(server_time)
        stamp = seconds << 32 | int((server_time - seconds) * _TWO32) & 0xFFFFFFFF
    candidate = (stamp ^ (noise & _NOISE_MASK)) & ~3
    floor = (last & ~3) + 4
    msg_id = (candidate if candidate > floor else floor) | low_bits
    if not 0 < msg_id <= _INT64_MAX:
        raise InvalidArgument("msg_id out of the int64 range (clock out of range?)")
    return msg_id


class ReplayVerdict(Enum):
    """Why :meth:`ReplayWindow.check` refuses an id."""

    DUPLICATE = "duplicate"
    """Equal to an id already stored."""
    BELOW_WINDOW = "below_window"
    """Lower than every stored id of a full window: it may have been seen
    and evicted, so it cannot be told apart from a replay."""


class ReplayWindow:
    """The last ``capacity`` msg_ids received, with tdlib's semantics.

    An id is refused if it equals a stored id, or if the window is full and
    the id is lower than all stored ids.  While the window is not full nothing
    has been evicted, so every earlier id is still stored and a lower id is
    only refused when it is a duplicate; this is what lets the messages of a
    container (whose ids are lower than the container's) through.  Adding an
    id to a full window evicts the lowest.

    ``check`` never changes the window; ``add`` does.
    """

    # The ids are kept ascending in ``_ids[_start:]``; the entries before
    # ``_start`` were evicted and are dropped in one slice once there are
    # ``capacity`` of them, instead of shifting the whole list on every add.
    # ``_start`` is 0 until the window is full, and it stays full from then on.
    __slots__ = ("_capacity", "_ids", "_start")

    def __init__(self, capacity: int = 1000) -> None:
        if not is_int(capacity) or capacity < 1:
            raise InvalidArgument("replay window capacity must be a positive int")
        self._capacity = capacity
        self._ids: list[int] = []
        self._start = 0

    @property
    def capacity(self) -> int:
        return self._capacity

    def check(self, msg_id: int) -> ReplayVerdict | None:
        """``None`` if ``msg_id`` may be accepted, else the reason it may not."""
        ids = self._ids
        if not ids or msg_id > ids[-1]:  # the common case: a newer id
            return None
        start = self._start
        i = bisect.bisect_left(ids, msg_id, start)
        if i < len(ids) and ids[i] == msg_id:
            return ReplayVerdict.DUPLICATE
        if i == start and len(ids) - start >= self._capacity:
            return ReplayVerdict.BELOW_WINDOW
        return None

    def add(self, msg_id: int) -> None:
        """Store ``msg_id`` (which :meth:`check` accepted), evicting the lowest."""
        ids = self._ids
        if not ids or msg_id > ids[-1]:
            ids.append(msg_id)
        else:
            bisect.insort(ids, msg_id, self._start)
        if len(ids) - self._start > self._capacity:
            self._evict_one()

    def add_newest(self, msg_id: int) -> bool:
        """:meth:`check` and :meth:`add` in one call for the common case, an id
        above every stored one: stores it and returns True.  Any other id
        returns False and leaves the window unchanged (the caller takes the
        general path, which explains it)."""
        ids = self._ids
        if ids and msg_id <= ids[-1]:
            return False
        ids.append(msg_id)
        if len(ids) - self._start > self._capacity:
            self._evict_one()
        return True

    def _evict_one(self) -> None:
        """Forget the lowest stored id (the window holds one more than its capacity)."""
        self._start += 1
        if self._start >= self._capacity:
            del self._ids[: self._start]
            self._start = 0

    def _stored(self) -> list[int]:
        return self._ids[self._start :]

    def __contains__(self, msg_id: object) -> bool:
        if not isinstance(msg_id, int):
            return False
        i = bisect.bisect_left(self._ids, msg_id, self._start)
        return i < len(self._ids) and self._ids[i] == msg_id

    def __len__(self) -> int:
        return len(self._ids) - self._start

    def __iter__(self) -> Iterator[int]:
        return iter(self._stored())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReplayWindow):
            return NotImplemented
        return self._capacity == other._capacity and self._stored() == other._stored()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ReplayWindow(capacity={self._capacity}, stored={len(self)})"
