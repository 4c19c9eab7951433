"""The reference server over loopback: handshakes per second and encrypted
round trips per second on one connection (client and server share the one
process and event loop, so these figures include the client's work too)."""

from __future__ import annotations

import asyncio
import struct

import pytest

from mtcrypt.aio import Client
from mtcrypt.handshake.rsa import generate_private_key
from mtcrypt.testing import ReferenceServer, echo_handler

KEY = generate_private_key()
PAYLOAD = struct.pack("<I", 0x0D0E0D0E) + bytes(252)


def test_handshakes_over_loopback(benchmark) -> None:  # type: ignore[no-untyped-def]
    """One full connection + DH handshake (RSA_PAD) per round."""
    benchmark.group = "server-handshake-loopback"
    loop = asyncio.new_event_loop()
    server = ReferenceServer(KEY)
    loop.run_until_complete(server.start())

    async def one() -> None:
        client = await Client.connect("127.0.0.1", server.port, public_keys=[server.public_key])
        await client.close()

    try:
        benchmark.pedantic(lambda: loop.run_until_complete(one()), rounds=40, warmup_rounds=2)
    finally:
        loop.run_until_complete(server.close())
        loop.close()


def _new_loop(name: str) -> asyncio.AbstractEventLoop:
    if name == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        return uvloop.new_event_loop()  # type: ignore[no-any-return]
    return asyncio.new_event_loop()


LOOPS = ["asyncio", "uvloop"]
ROUNDS_PER_CALL = 50
"""Round trips per benchmark call, run in one coroutine: one ``run_until_complete``
per round trip would time the loop's start and stop (uvloop sets up its signal
wakeup on every start) rather than the round trip."""


@pytest.mark.parametrize("loop_name", LOOPS)
@pytest.mark.parametrize("mode", ["sequential", "pipelined-100"])
def test_round_trips_one_connection(  # type: ignore[no-untyped-def]
    benchmark, mode: str, loop_name: str
) -> None:
    """``extra_info["round_trips_per_second"]``; compare with ``test_echo_floor`` on the
    same loop (the same payload echoed by bare asyncio protocols)."""
    benchmark.group = f"server-rpc-round-trips-{loop_name}"
    loop = _new_loop(loop_name)
    server = ReferenceServer(KEY, handler=echo_handler)
    loop.run_until_complete(server.start())
    client = loop.run_until_complete(
        Client.connect("127.0.0.1", server.port, public_keys=[server.public_key])
    )

    async def sequential() -> None:
        for _ in range(ROUNDS_PER_CALL):
            await client.invoke(PAYLOAD)

    async def pipelined() -> None:
        await asyncio.gather(*(client.invoke(PAYLOAD) for _ in range(100)))

    run, per_call = (sequential, ROUNDS_PER_CALL) if mode == "sequential" else (pipelined, 100)
    try:
        loop.run_until_complete(run())  # warm
        benchmark(lambda: loop.run_until_complete(run()))
    finally:
        loop.run_until_complete(client.close())
        loop.run_until_complete(server.close())
        loop.close()
    benchmark.extra_info["round_trips_per_call"] = per_call
    benchmark.extra_info["round_trips_per_second"] = per_call / benchmark.stats.stats.median


class _EchoServer(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[attr-defined]


class _EchoClient(asyncio.Protocol):
    def __init__(self, size: int) -> None:
        self.size = size
        self.got = 0
        self.waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.got += len(data)
        if self.got >= self.size and self.waiter is not None:
            self.got = 0
            self.waiter.set_result(None)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_echo_floor(benchmark, loop_name: str) -> None:  # type: ignore[no-untyped-def]
    """The floor for the sequential RPC round trip: bare asyncio protocols echoing a
    packet of the same size (an abridged-framed 256-byte query: 24 + 32 + 256 +
    padding) over loopback, client and server in one loop, the client awaiting a
    future per round trip as ``Client.invoke`` does.  No cryptography, no parsing."""
    benchmark.group = f"server-rpc-round-trips-{loop_name}"
    loop = _new_loop(loop_name)
    packet = bytes(1 + 24 + 32 + len(PAYLOAD) + 16)

    async def setup() -> tuple[asyncio.Server, _EchoClient]:
        server = await loop.create_server(_EchoServer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _, proto = await loop.create_connection(
            lambda: _EchoClient(len(packet)), "127.0.0.1", port
        )
        return server, proto

    server, proto = loop.run_until_complete(setup())

    async def sequential() -> None:
        for _ in range(ROUNDS_PER_CALL):
            proto.waiter = loop.create_future()
            proto.transport.write(packet)  # type: ignore[attr-defined]
            await proto.waiter

    try:
        loop.run_until_complete(sequential())
        benchmark(lambda: loop.run_until_complete(sequential()))
    finally:
        proto.transport.close()
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()
    benchmark.extra_info["round_trips_per_call"] = ROUNDS_PER_CALL
    benchmark.extra_info["round_trips_per_second"] = ROUNDS_PER_CALL / benchmark.stats.stats.median
