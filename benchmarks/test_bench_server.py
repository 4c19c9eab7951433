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


@pytest.mark.parametrize("mode", ["sequential", "pipelined-100"])
def test_round_trips_one_connection(benchmark, mode: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = "server-rpc-round-trips"
    loop = asyncio.new_event_loop()
    server = ReferenceServer(KEY, handler=echo_handler)
    loop.run_until_complete(server.start())
    client = loop.run_until_complete(
        Client.connect("127.0.0.1", server.port, public_keys=[server.public_key])
    )

    async def sequential() -> None:
        await client.invoke(PAYLOAD)

    async def pipelined() -> None:
        await asyncio.gather(*(client.invoke(PAYLOAD) for _ in range(100)))

    run = sequential if mode == "sequential" else pipelined
    try:
        benchmark(lambda: loop.run_until_complete(run()))
    finally:
        loop.run_until_complete(client.close())
        loop.run_until_complete(server.close())
        loop.close()
