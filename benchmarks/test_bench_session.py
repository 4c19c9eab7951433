"""Session round trips in one process: client -> server -> client.

One round trip = the client queues a query, ``data_to_send`` seals it (with the
piggybacked ack of the previous result, in a container), the server ``receive`` s
it, answers with ``send_result``, seals, and the client ``receive`` s the
``RpcResult``: four passes through the session plus two seals and two opens.
``extra_info["round_trips_per_second"]`` carries the rate; the ``pipelined``
case sends 100 queries per flight (one container each way).
"""

from __future__ import annotations

import os

import pytest

from mtcrypt.mtproto import AuthKey
from mtcrypt.mtproto.session import Request, Role, RpcResult, Session

KEY = AuthKey(os.urandom(256))
QUERY = os.urandom(64)  # a small opaque query
RESULT = os.urandom(128)


def _pair() -> tuple[Session, Session]:
    client = Session(KEY, Role.CLIENT, salt=1, time_offset=0.0)
    server = Session(KEY, Role.SERVER, salt=1)
    return client, server


def _flight(client: Session, server: Session, n: int) -> int:
    for _ in range(n):
        client.send(QUERY)
    answered = 0
    for packet in client.data_to_send():
        for event in server.receive(packet):
            if type(event) is Request:
                server.send_result(event.msg_id, RESULT)
    for packet in server.data_to_send():
        for event in client.receive(packet):
            answered += type(event) is RpcResult
    return answered


@pytest.mark.parametrize("per_flight", [1, 100], ids=["one-at-a-time", "pipelined-100"])
def test_round_trip(benchmark, nbytes, per_flight: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = "session-round-trip"
    nbytes(per_flight * (len(QUERY) + len(RESULT)))
    client, server = _pair()
    assert _flight(client, server, per_flight) == per_flight  # warm: session set up
    result = benchmark(_flight, client, server, per_flight)
    assert result == per_flight
    benchmark.extra_info["round_trips_per_second"] = per_flight / benchmark.stats.stats.mean


def test_receive_only(benchmark) -> None:  # type: ignore[no-untyped-def]
    """The receive path alone (decrypt + all checks + parse) for one small update."""
    benchmark.group = "session-receive"
    client, server = _pair()
    _flight(client, server, 1)
    packets = []
    for _ in range(20000):
        server.send(QUERY)
        packets += server.data_to_send()
    it = iter(packets)
    benchmark.pedantic(lambda: client.receive(next(it)), rounds=20000, iterations=1)
