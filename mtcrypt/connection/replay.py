"""The requests a server has accepted, across its connections.

A session's replay window lives in its connection.  A packet recorded on the
wire can be sent again on a *new* connection, where a fresh session would
accept it: the server's handler would then run the same request twice.  One
:class:`SeenRequests` shared by a server's connections closes that hole for as
long as a replay could pass the time window.
"""

from __future__ import annotations

from collections import OrderedDict

from .._validation import is_int
from ..errors import InvalidArgument
from ..mtproto.session import MAX_FUTURE, MAX_PAST

__all__ = ["SeenRequests"]


class SeenRequests:
    """``(key_id, session_id, msg_id)`` of accepted requests, each kept until a
    message with that id would be refused as too old anyway (the sessions'
    time window: 300 s back, 30 s ahead).  At most ``max_entries`` are kept, the
    oldest forgotten first (size it to the request rate times 330 s).  Not
    thread-safe: share it among connections driven by one thread."""

    __slots__ = ("_seen", "evicted", "max_entries")

    def __init__(self, max_entries: int = 500_000) -> None:
        if not is_int(max_entries) or max_entries < 1:
            raise InvalidArgument("max_entries must be a positive int")
        self.max_entries = max_entries
        self._seen: OrderedDict[tuple[int, int, int], float] = OrderedDict()
        self.evicted = 0
        """Entries forgotten before their time because the cap was reached."""

    def __len__(self) -> int:
        return len(self._seen)

    def first_time(self, key_id: int, session_id: int, msg_id: int, now: float) -> bool:
        """Record a request; False if it was seen before (a replay)."""
        seen = self._seen
        while seen:  # entries expire in insertion order
            oldest = next(iter(seen.values()))
            if oldest > now:
                break
            seen.popitem(last=False)
        entry = (key_id, session_id, msg_id)
        if entry in seen:
            return False
        seen[entry] = now + MAX_PAST + MAX_FUTURE
        if len(seen) > self.max_entries:
            seen.popitem(last=False)
            self.evicted += 1
        return True

    def __repr__(self) -> str:
        return f"SeenRequests({len(self._seen)} of {self.max_entries})"
