"""The reference server: :class:`mtcrypt.aio.Server` with test-friendly
defaults (loopback, seedable randomness, a generated key, handshake records)
and a thread-backed variant for synchronous tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

from .._validation import Clock
from ..aio.server import ConnectionInfo, Handler, HandshakeRecord, RpcReply, Server
from ..crypto import sha256
from ..handshake.rsa import RsaPrivateKey, RsaPublicKey, generate_private_key

__all__ = ["ReferenceServer", "SeededRng", "ThreadedReferenceServer", "echo_handler"]


class SeededRng:
    """Deterministic bytes: SHA-256 in counter mode over a seed.  For tests
    and reproducible runs only; never for real keys."""

    def __init__(self, seed: int | bytes) -> None:
        self._seed = seed if isinstance(seed, bytes) else str(seed).encode()
        self._counter = 0
        self._buf = b""
        self._lock = threading.Lock()

    def __call__(self, n: int) -> bytes:
        with self._lock:
            while len(self._buf) < n:
                self._buf += sha256(self._seed + self._counter.to_bytes(8, "little"))
                self._counter += 1
            out, self._buf = self._buf[:n], self._buf[n:]
            return out


def echo_handler(query: bytes, info: ConnectionInfo) -> RpcReply:
    """Answer each query with its own bytes (the demo's payload round trips)."""
    del info
    return RpcReply(query)


class _Views:
    """What both reference servers show of the :class:`~mtcrypt.aio.Server`
    underneath."""

    def _served(self) -> Server:
        raise NotImplementedError

    @property
    def public_key(self) -> RsaPublicKey:
        return self._served().rsa_key.public_key

    @property
    def port(self) -> int:
        return self._served().port

    @property
    def host(self) -> str:
        return self._served().host

    @property
    def handshakes(self) -> list[HandshakeRecord]:
        return self._served().handshakes


class ReferenceServer(_Views):
    """An MTProto server on 127.0.0.1 for tests, demos and conformance runs.

    ``async with ReferenceServer() as server:`` starts it on a free port
    (``server.port``); ``server.public_key`` is what clients must trust;
    ``server.handshakes`` records each completed handshake (key id, transport,
    RSA padding used).  ``seed`` makes the server's randomness reproducible.
    ``handler`` answers RPCs (default: ``rpc_error 401``).  Other keyword
    arguments go to :class:`~mtcrypt.aio.Server` (``timeouts``, ``limits``,
    ``max_connections``, ``max_buffered_bytes``, ``accept_legacy_rsa``,
    ``keys``...).  Handshakes run on the event loop unless
    ``handshake_workers`` is given, so that a seeded run is reproducible.
    """

    def __init__(
        self,
        rsa_key: RsaPrivateKey | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        handler: Handler | None = None,
        secrets: Sequence[str | bytes] = (),
        enforce_salt: bool = False,
        seed: int | bytes | None = None,
        max_padding: int = 3,
        clock: Clock = time.time,
        handshake_workers: int = 0,
        **options: Any,
    ) -> None:
        rng: Any = SeededRng(seed) if seed is not None else None
        self.rsa_key = rsa_key if rsa_key is not None else generate_private_key()
        kwargs: dict[str, Any] = {}
        if rng is not None:
            kwargs["rng"] = rng
        # duplicates: deliberate -- the named options are handed on to Server one by one (as
        # aio.Client.connect hands its own to ClientConnection): the signature documents them.
        self.server = Server(
            self.rsa_key,
            host=host,
            port=port,
            handler=handler,
            secrets=secrets,
            enforce_salt=enforce_salt,
            max_padding=max_padding,
            clock=clock,
            handshake_workers=handshake_workers,
            record_handshakes=True,
            **kwargs,
            **options,
        )

    def _served(self) -> Server:
        return self.server

    async def start(self) -> ReferenceServer:
        await self.server.start()
        return self

    async def close(self) -> None:
        await self.server.close()

    async def __aenter__(self) -> ReferenceServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class ThreadedReferenceServer(_Views):
    """:class:`ReferenceServer` on its own event loop in a background thread,
    for synchronous tests: ``with ThreadedReferenceServer() as server: ...``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.reference = ReferenceServer(*args, **kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def _served(self) -> Server:
        return self.reference.server

    def start(self) -> ThreadedReferenceServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.reference.start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.reference.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> ThreadedReferenceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
