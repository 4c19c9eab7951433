"""Writing a connection's output to an asyncio transport in bounded pieces."""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["PacedWriter"]

CHUNK = 64 * 1024
"""Most bytes handed to the transport at once (its default high-water mark)."""


class PacedWriter:
    """Hands the transport at most :data:`CHUNK` bytes at a time, and nothing
    while the transport has paused the protocol (``pause_writing``).

    Why: a server that answers eight 512 KiB requests at once writes 4 MiB.
    Python 3.11's asyncio keeps what the socket did not take in a
    ``bytearray`` and shifts it after every partial send, so such a write is
    copied many times over, into fresh memory (page faults), while the socket
    drains.  Bytes waiting here are not copied at all, and asyncio's buffer
    stays near its high-water mark.  Small writes with nothing waiting go
    straight through.
    """

    __slots__ = ("_close_when_done", "_paused", "_pending", "_queue", "_transport")

    def __init__(self, transport: asyncio.WriteTransport) -> None:
        self._transport = transport
        self._queue: deque[memoryview] = deque()
        self._pending = 0
        self._paused = False
        self._close_when_done = False

    @property
    def buffered(self) -> int:
        """Bytes written but not yet on the socket: waiting here or in asyncio's buffer."""
        return self._pending + self._transport.get_write_buffer_size()

    def write(self, data: bytes) -> None:
        if not self._queue and not self._paused and len(data) <= CHUNK:
            self._transport.write(data)
            return
        self._queue.append(memoryview(data))
        self._pending += len(data)
        self._drain()

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self._drain()

    def close(self) -> None:
        """Close the transport once everything written so far is handed over
        (asyncio then flushes its own buffer before closing the socket)."""
        if self._queue:
            self._close_when_done = True
        else:
            self._transport.close()

    def _drain(self) -> None:
        queue = self._queue
        # transport.write() calls pause() synchronously once its buffer passes
        # the high-water mark, which ends this loop.
        while queue and not self._paused and not self._transport.is_closing():
            head = queue[0]
            if len(head) > CHUNK:
                piece, queue[0] = head[:CHUNK], head[CHUNK:]
            else:
                piece = queue.popleft()
            self._pending -= len(piece)
            self._transport.write(piece)
        if not queue and self._close_when_done:
            self._close_when_done = False
            self._transport.close()
