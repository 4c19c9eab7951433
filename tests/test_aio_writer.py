"""PacedWriter: bounded pieces to the transport, nothing while paused, close
after everything, against a model transport and over real sockets."""

from __future__ import annotations

import asyncio
import os
import struct

from mtcrypt.aio._writer import CHUNK, PacedWriter
from mtcrypt.handshake.rsa import RsaPrivateKey


class FakeTransport(asyncio.WriteTransport):
    """Records writes; pauses its writer past a high-water mark, like asyncio."""

    def __init__(self, high: int = 2 * CHUNK) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.buffer = 0
        self.high = high
        self.closed = False
        self.writer: PacedWriter | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed
        self.written.append(bytes(data))
        self.buffer += len(data)
        if self.buffer > self.high and self.writer is not None:
            self.writer.pause()

    def get_write_buffer_size(self) -> int:
        return self.buffer

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def drain(self) -> None:
        self.buffer = 0
        assert self.writer is not None
        self.writer.resume()


def test_large_writes_go_in_bounded_pieces_and_wait_while_paused() -> None:
    t = FakeTransport()
    w = PacedWriter(t)
    t.writer = w
    small = b"s" * 100
    w.write(small)
    assert t.written == [small]  # straight through
    big = os.urandom(10 * CHUNK + 5)
    w.write(big)
    assert all(len(p) <= CHUNK for p in t.written)
    assert t.buffer <= t.high + CHUNK  # stopped once paused
    assert w.buffered == len(small) + len(big)
    w.write(b"after")  # queued behind the big one, order kept
    w.close()
    assert not t.closed  # not before everything is handed over
    while not t.closed:
        t.drain()
    assert b"".join(t.written) == small + big + b"after"


def test_close_with_nothing_waiting_closes_at_once() -> None:
    t = FakeTransport()
    w = PacedWriter(t)
    t.writer = w
    w.write(b"x" * 10)
    w.close()
    assert t.closed


def test_server_and_client_move_megabytes_both_ways(server_key: RsaPrivateKey) -> None:
    """Eight 512 KiB answers at once through real sockets, with a reader slow
    enough that the writer pauses: every byte arrives, in order."""
    from mtcrypt.aio import Client
    from mtcrypt.testing import ReferenceServer, echo_handler

    async def run() -> None:
        async with ReferenceServer(server_key, handler=echo_handler, seed=3) as server:
            client = await Client.connect(
                "127.0.0.1", server.port, public_keys=[server.public_key],
                limits=None,
            )
            try:
                payloads = [
                    struct.pack("<I", 0x0D0E0D0E) + os.urandom(512 * 1024 - 4 + 4 * i)
                    for i in range(8)
                ]
                results = await asyncio.gather(*(client.invoke(p) for p in payloads))
                assert results == payloads
            finally:
                await client.close()

    asyncio.run(run())
