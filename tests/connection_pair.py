"""A ClientConnection and a ServerConnection wired back to back on a fake
clock: what the connection-layer tests share."""

from __future__ import annotations

import os
import struct
from typing import Any

from mtcrypt.connection import (
    ClientConnection,
    ConnectionEvent,
    IncomingRequest,
    KeyStore,
    MemoryKeyStore,
    ServerConnection,
)
from mtcrypt.handshake.rsa import RsaPrivateKey
from mtcrypt.transport import ClientTransport, ServerTransport

T0 = 1_700_000_000.0
ECHO = 0x0D0E0D0E


class FakeClock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def query(n: int = 0) -> bytes:
    return struct.pack("<I", ECHO) + os.urandom(4 * n)


class Pair:
    """A client and a server connection wired back to back."""

    def __init__(
        self,
        key: RsaPrivateKey,
        *,
        transport: ClientTransport | None = None,
        server_transport: ServerTransport | None = None,
        store: KeyStore | None = None,
        answer: bool = True,
        clock: FakeClock | None = None,
        server_options: dict[str, Any] | None = None,
        **client_options: Any,
    ) -> None:
        self.clock = clock or FakeClock()
        self.store = store if store is not None else MemoryKeyStore()
        self.server = ServerConnection(
            key,
            keys=self.store,
            transport=server_transport,
            clock=self.clock,
            **(server_options or {}),
        )
        client_options.setdefault("public_keys", [key.public_key])
        self.client = ClientConnection(
            transport or ClientTransport("intermediate"), clock=self.clock, **client_options
        )
        self.answer = answer
        self.client_events: list[ConnectionEvent] = []
        self.server_events: list[ConnectionEvent] = []
        self.client_events += self.client.start()

    def pump(self, rounds: int = 50) -> None:
        for _ in range(rounds):
            to_server = self.client.data_to_send()
            if to_server:
                for event in self.server.receive_data(to_server):
                    self.server_events.append(event)
                    if self.answer and isinstance(event, IncomingRequest):
                        self.server.answer(event, event.query)
            to_client = self.server.data_to_send()
            if to_client:
                self.client_events += self.client.receive_data(to_client)
            if not to_server and not to_client:
                return
        raise AssertionError("the connections did not settle")

    def of(self, kind: type[Any], side: str = "client") -> list[Any]:
        events = self.client_events if side == "client" else self.server_events
        return [e for e in events if isinstance(e, kind)]


def kinds(events: list[ConnectionEvent]) -> list[str]:
    return [type(e).__name__ for e in events]
