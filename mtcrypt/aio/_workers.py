"""Threads or processes for handshake work, lowest priority number first."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import multiprocessing
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ..connection import HandshakeWork, StepOutcome, run_handshake_step
from ..errors import HandshakeError

log = logging.getLogger("mtcrypt.server")

_Item = tuple[int, int, HandshakeWork | None, Callable[[], None] | None]


class HandshakeWorkers:
    """A fixed set of threads running :class:`~mtcrypt.connection.HandshakeWork`.

    A plain FIFO pool would run every connection's first expensive step
    before anyone's second, so under a flood of new connections no handshake
    would finish until the flood was through; here the step that completes a
    key (priority 0) goes first.  ``done`` callbacks run on the event loop."""

    def __init__(self, threads: int, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: queue.PriorityQueue[_Item] = queue.PriorityQueue()
        self._order = itertools.count()
        self._threads = [
            threading.Thread(target=self._run, name=f"mtcrypt-handshake-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, work: HandshakeWork, done: Callable[[], None]) -> None:
        self._queue.put((work.priority, next(self._order), work, done))

    def _run(self) -> None:
        while True:
            _, _, work, done = self._queue.get()
            if work is None or done is None:
                return
            work.run()
            try:
                self._loop.call_soon_threadsafe(done)
            except RuntimeError:  # the loop is closed: the server is gone
                return

    def shutdown(self) -> None:
        """Stop the threads once the work queued before now is done (queued
        work whose connection closed finishes harmlessly: ``work_done`` ignores it)."""
        for _ in self._threads:
            # Sorts after every real item (priority above any step's).
            self._queue.put((1 << 30, next(self._order), None, None))


class HandshakeProcesses:
    """Worker *processes* for handshake work: no event-loop thread ever waits
    for the GIL behind RSA and DH arithmetic (threads hold it between their
    native calls, and under a flood every socket call of the loop then waits
    its turn).  The handshake object travels to the worker and back pickled,
    with its secrets, over the pool's pipes.  Priorities as in
    :class:`HandshakeWorkers`: at most two steps per process are in the pool
    at once, the rest wait here in priority order.

    Spawned processes import ``__main__`` again: a script using this needs the
    ``if __name__ == "__main__":`` guard (``python -m mtcrypt serve`` has it)."""

    def __init__(self, processes: int, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._processes = processes
        self._pool = self._new_pool()
        self._limit = 2 * processes
        self._in_flight = 0
        self._heap: list[tuple[int, int, HandshakeWork, Callable[[], None]]] = []
        self._order = itertools.count()
        self._closed = False
        self.restarts = 0
        """How many times the pool was rebuilt after a worker died."""

    def _new_pool(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(self._processes, mp_context=multiprocessing.get_context("spawn"))
        for _ in range(self._processes):  # start them now, not at the first handshake
            pool.submit(_warm_up)
        return pool

    def _restart(self) -> None:
        """A worker died (killed, out of memory): the pool is broken for good,
        so replace it; the steps it held fail, their handshakes with them."""
        log.error("a handshake worker process died; starting new ones")
        self.restarts += 1
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def submit(self, work: HandshakeWork, done: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (work.priority, next(self._order), work, done))
        self._pump()

    def _pump(self) -> None:
        while self._in_flight < self._limit and self._heap:
            _, _, work, done = heapq.heappop(self._heap)
            if work.cancelled:  # its connection is gone
                continue
            try:
                future = self._pool.submit(run_handshake_step, *work.arguments())
            except BrokenProcessPool:
                self._restart()
                future = self._pool.submit(run_handshake_step, *work.arguments())
            except RuntimeError:  # shut down
                return
            self._in_flight += 1
            future.add_done_callback(self._callback(work, done, self._pool))

    def _callback(
        self, work: HandshakeWork, done: Callable[[], None], pool: ProcessPoolExecutor
    ) -> Callable[[Future[StepOutcome]], None]:
        def finished(future: Future[StepOutcome]) -> None:  # in the pool's thread
            with contextlib.suppress(RuntimeError):  # the loop is closed: the server is gone
                self._loop.call_soon_threadsafe(self._finished, future, work, done, pool)

        return finished

    def _finished(
        self,
        future: Future[StepOutcome],
        work: HandshakeWork,
        done: Callable[[], None],
        pool: ProcessPoolExecutor,
    ) -> None:
        self._in_flight -= 1
        try:
            work.adopt(future.result())
        except BaseException as exc:  # a worker died: the handshake fails, the server goes on
            if isinstance(exc, BrokenProcessPool) and not self._closed and pool is self._pool:
                self._restart()
            work.adopt((work.handshake, None, HandshakeError("worker", type(exc).__name__)))
        done()
        if not self._closed:
            self._pump()

    def shutdown(self) -> None:
        self._closed = True
        self._heap.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _warm_up() -> None:
    """Imports the handshake code in a fresh worker."""
    import mtcrypt.handshake  # noqa: F401
