"""One timer per connection, following the connection's ``next_deadline()``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .._validation import Clock


class DeadlineTimer:
    """Calls ``callback`` at the deadline last given to :meth:`update` (clock
    time).  Moving a deadline later keeps the earlier timer: it fires, the
    connection finds nothing due, and the next ``update`` sets the later one;
    so the common case (every frame pushes the idle deadline back) costs no
    timer churn."""

    __slots__ = ("_at", "_callback", "_clock", "_handle", "_loop")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        clock: Clock,
        callback: Callable[[], None],
    ) -> None:
        self._loop = loop
        self._clock = clock
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None
        self._at = 0.0

    def update(self, deadline: float | None) -> None:
        if deadline is None:
            self.cancel()
            return
        if self._handle is not None:
            if self._at <= deadline:
                return
            self._handle.cancel()
        self._at = deadline
        self._handle = self._loop.call_later(max(0.0, deadline - self._clock()), self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self._callback()
