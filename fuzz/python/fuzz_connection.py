"""Atheris harness: the connection layer's receive paths (mtcrypt.connection),
fed in chunks, on both sides.

Input: mode(1) | nchunks(1) | nchunks x chunk(2) | data
  mode % 3:
    0  ServerConnection (every plain and obfuscated transport) whose key store
       holds the fixed auth key, so encrypted packets under it reach a session
    1  the same with a dd and an ee MTProxy secret
    2  ClientConnection (intermediate) with the fixed key, one request pending
  data is cut into the given chunks, each passed to one receive_data() call.

Contract: receive_data() never raises (the peer's bytes end in a Closed
event, not an exception); every event is a ConnectionEvent; nothing follows a
Closed event; on_timer() far in the future closes the connection.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fuzz_common import AUTH_KEY_BYTES, Input, check, chunks, main

from mtcrypt.connection import (
    ClientConnection,
    Closed,
    ConnectionEvent,
    MemoryKeyStore,
    ServerConnection,
    StoredKey,
)
from mtcrypt.handshake import generate_private_key
from mtcrypt.mtproto import AuthKey
from mtcrypt.transport import ClientTransport, ServerTransport

NOW = 1_700_000_000.0
KEY = AuthKey(AUTH_KEY_BYTES)
RSA = generate_private_key()
KEY16 = bytes(range(16))
SECRETS = ["dd" + KEY16.hex(), "ee" + KEY16.hex() + b"example.com".hex()]


def _rng(n: int) -> bytes:
    return bytes((i * 73 + 41) & 0xFF for i in range(n))


def _clock() -> float:
    return NOW


def _server(secrets: bool) -> ServerConnection:
    store = MemoryKeyStore()
    store.add(StoredKey(KEY, salt=0, created_at=NOW))
    transport = ServerTransport(
        secrets=SECRETS if secrets else (),
        allow_plain=True,
        allow_secretless=True,
        rng=_rng,
        clock=_clock,
    )
    return ServerConnection(RSA, keys=store, transport=transport, rng=_rng, clock=_clock)


def test_one_input(data: bytes) -> None:
    inp = Input(data)
    mode = inp.u8() % 3
    pieces = [c for c in chunks(inp) if c]  # b"" would mean end of stream
    conn: ServerConnection | ClientConnection
    if mode < 2:
        conn = _server(secrets=mode == 1)
    else:
        conn = ClientConnection(
            ClientTransport("intermediate", rng=_rng), auth_key=KEY, rng=_rng, clock=_clock
        )
        conn.start()
        conn.send_request(bytes(8))
        conn.data_to_send()
    for chunk in pieces:
        was_closed = conn.closed
        events = conn.receive_data(chunk)
        conn.data_to_send()
        check(all(isinstance(e, ConnectionEvent) for e in events), f"bad event in {events!r}")
        check(not (was_closed and events), "events after Closed")
        closes = [e for e in events if isinstance(e, Closed)]
        check(len(closes) <= 1 and (not closes or events[-1] is closes[0]), "Closed not last")
    conn.on_timer(NOW + 10**7)
    check(conn.closed, "a connection outlived every deadline")


if __name__ == "__main__":
    main(test_one_input)
