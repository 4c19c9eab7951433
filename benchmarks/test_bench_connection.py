"""Connection round trips in one process: ClientConnection -> ServerConnection
-> ClientConnection, through the transport (intermediate framing) on both
sides: what the connection layer adds on top of the session round trip in
test_bench_session.py.  ``extra_info["round_trips_per_second"]`` carries the
rate; ``pipelined`` sends 100 requests per flight."""

from __future__ import annotations

import os
import struct

import pytest

from mtcrypt.connection import (
    ClientConnection,
    IncomingRequest,
    MemoryKeyStore,
    ServerConnection,
    StoredKey,
)
from mtcrypt.handshake.rsa import generate_private_key
from mtcrypt.mtproto import AuthKey
from mtcrypt.transport import ClientTransport

RSA = generate_private_key()
KEY = AuthKey(os.urandom(256))
QUERY = struct.pack("<I", 0x0D0E0D0E) + os.urandom(252)  # 256 bytes


def _pair() -> tuple[ClientConnection, ServerConnection]:
    store = MemoryKeyStore()
    store.add(StoredKey(KEY, salt=1, created_at=0.0))
    server = ServerConnection(RSA, keys=store)
    client = ClientConnection(ClientTransport("intermediate"), auth_key=KEY, salt=1)
    client.start()
    return client, server


def _flight(client: ClientConnection, server: ServerConnection, n: int) -> None:
    for _ in range(n):
        client.send_request(QUERY)
    for event in server.receive_data(client.data_to_send()):
        if type(event) is IncomingRequest:
            server.answer(event, event.query)
    client.receive_data(server.data_to_send())


@pytest.mark.parametrize("n", [1, 100], ids=["sequential", "pipelined"])
def test_connection_round_trip(benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = "connection-round-trip"
    client, server = _pair()
    for _ in range(50):
        _flight(client, server, n)
    assert not client.pending_requests
    benchmark(_flight, client, server, n)
    benchmark.extra_info["round_trips_per_second"] = n / benchmark.stats.stats.median
