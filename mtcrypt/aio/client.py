"""An asyncio MTProto client: a thin pump over
:class:`~mtcrypt.connection.ClientConnection`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from typing import Any, cast

from .._random import random_bytes
from .._validation import Rng
from ..connection import (
    ClientConnection,
    Closed,
    CloseReason,
    ConnectionEvent,
    ConnectionLimits,
    HandshakeComplete,
    PongReceived,
    Ready,
    RequestFailed,
    RequestTimedOut,
    ResultReceived,
    Timeouts,
)
from ..errors import HandshakeError, InvalidArgument, MtcryptError, SessionError, TransportError
from ..handshake.rsa import TELEGRAM_PRODUCTION_KEYS, RsaPublicKey
from ..mtproto import AuthKey
from ..transport import ClientTransport
from ._timer import DeadlineTimer

__all__ = ["Client", "RpcCallError"]


class RpcCallError(MtcryptError):
    """The server answered a request with ``rpc_error``."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"rpc_error {code}: {message}")


def _closed_error(event: Closed) -> MtcryptError:
    """The exception waiters get when the connection ends."""
    reason = event.reason
    if reason is CloseReason.TRANSPORT_ERROR_RECEIVED:
        return TransportError(event.detail, code=event.error_code or -404)
    if reason is CloseReason.BAD_TRANSPORT:
        return TransportError(f"bad transport data: {event.detail}")
    if reason is CloseReason.HANDSHAKE_FAILED:
        return HandshakeError(event.detail or "handshake", "the handshake failed")
    if reason is CloseReason.PEER_CLOSED:
        return TransportError("connection closed by the server", code=0)
    detail = f": {event.detail}" if event.detail else ""
    return SessionError(f"the connection is closed ({reason.value}{detail})")


class Client:
    """One encrypted MTProto connection.  Create it with :meth:`connect`.

    ``invoke(request)`` sends a TL-serialized query and returns the
    serialized result; acks, salts, re-sends, keep-alive pings and deadlines
    are the connection's.
    """

    def __init__(self, conn: ClientConnection) -> None:
        self._conn = conn
        self._transport: asyncio.Transport | None = None
        self._futures: dict[int, asyncio.Future[Any]] = {}
        self._slot_waiters: list[asyncio.Future[None]] = []
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._timer = DeadlineTimer(asyncio.get_running_loop(), time.time, self._on_timer)
        self._error: MtcryptError | None = None
        self._closed = False
        self.handshake_seconds = 0.0

    # ---- setup ---------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        framing: str = "intermediate",
        obfuscated: bool = False,
        secret: str | bytes | None = None,
        dc_id: int = 2,
        public_keys: Iterable[RsaPublicKey] | None = None,
        auth_key: AuthKey | None = None,
        salt: int = 0,
        time_offset: float | None = None,
        temp_key_expires_in: int | None = None,
        timeouts: Timeouts | None = None,
        limits: ConnectionLimits | None = None,
        timeout: float = 10.0,
        rng: Rng = random_bytes,
    ) -> Client:
        """Open a connection, create an auth key (unless ``auth_key`` is given;
        with ``temp_key_expires_in`` also a temporary key bound to it) and
        start an encrypted session."""
        if auth_key is None and public_keys is None:
            raise InvalidArgument("public_keys are needed to create an auth key")
        transport = ClientTransport(
            framing,
            obfuscated=obfuscated,
            secret=secret,
            dc_id=dc_id if (secret is not None or obfuscated) else None,
            max_frame=(limits or ConnectionLimits()).max_frame,
            rng=rng,
        )
        conn = ClientConnection(
            transport,
            public_keys=TELEGRAM_PRODUCTION_KEYS if public_keys is None else public_keys,
            dc_id=dc_id,
            auth_key=auth_key,
            salt=salt,
            time_offset=time_offset,
            temp_key_expires_in=temp_key_expires_in,
            timeouts=timeouts,
            limits=limits,
            rng=rng,
        )
        client = cls(conn)
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: _ClientProtocol(client), host, port), timeout
            )
            client._process(conn.start())
            await asyncio.wait_for(asyncio.shield(client._ready), timeout)
        except BaseException:
            await client.close()
            raise
        return client

    # ---- state -------------------------------------------------------------------

    @property
    def connection(self) -> ClientConnection:
        """The sans-I/O connection underneath."""
        return self._conn

    @property
    def auth_key(self) -> AuthKey | None:
        """The permanent key (save it, with :attr:`server_salt`, to reconnect)."""
        return self._conn.perm_key

    @property
    def server_salt(self) -> int:
        session = self._conn.session
        return 0 if session is None else session.salt

    @property
    def time_offset(self) -> float:
        session = self._conn.session
        return 0.0 if session is None else session.time_offset

    # ---- the pump ----------------------------------------------------------------------

    def _process(self, events: list[ConnectionEvent]) -> None:
        for event in events:
            if isinstance(event, ResultReceived):
                self._resolve(event.request_id, event.result)
            elif isinstance(event, PongReceived):
                self._resolve(event.request_id, event.ping_id)
            elif isinstance(event, RequestFailed):
                self._fail(event.request_id, RpcCallError(event.error_code, event.error_message))
            elif isinstance(event, RequestTimedOut):
                self._fail(event.request_id, TimeoutError("no answer in time"))
            elif isinstance(event, HandshakeComplete):
                self.handshake_seconds += event.seconds
            elif isinstance(event, Ready):
                if not self._ready.done():
                    self._ready.set_result(None)
            elif isinstance(event, Closed):
                self._on_closed(_closed_error(event))
        data = self._conn.data_to_send()
        transport = self._transport
        if transport is not None and not transport.is_closing():
            if data:
                transport.write(data)
            if self._conn.closed:
                transport.close()
        if not self._conn.closed:
            self._reschedule()

    def _on_closed(self, error: MtcryptError) -> None:
        if self._error is None:
            self._error = error
        if not self._ready.done():
            self._ready.set_exception(error)
            self._ready.exception()  # retrieved: connect() re-raises it
        for future in [*self._futures.values(), *self._slot_waiters]:
            if not future.done():
                future.set_exception(error)
        self._futures.clear()
        self._slot_waiters.clear()
        self._timer.cancel()

    def _resolve(self, request_id: int, value: object) -> None:
        future = self._futures.pop(request_id, None)
        if future is not None and not future.done():
            future.set_result(value)

    def _fail(self, request_id: int, error: BaseException) -> None:
        future = self._futures.pop(request_id, None)
        if future is not None and not future.done():
            future.set_exception(error)

    def _reschedule(self) -> None:
        self._timer.update(self._conn.next_deadline())

    def _on_timer(self) -> None:
        self._process(self._conn.on_timer())

    # ---- API ---------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise SessionError("the connection is closed")

    async def _call(self, request_id: int, timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._futures[request_id] = future
        # A timer on the future itself: cheaper than asyncio.wait_for's wrapper.
        timer = loop.call_later(timeout, self._time_out, request_id)
        self._process([])
        try:
            return await future
        finally:
            timer.cancel()
            if self._futures.get(request_id) is future:  # the caller was cancelled
                del self._futures[request_id]
                self._conn.cancel(request_id)
            while self._slot_waiters:
                waiter = self._slot_waiters.pop(0)
                if not waiter.done():
                    waiter.set_result(None)
                    break

    def _time_out(self, request_id: int) -> None:
        if request_id in self._futures:
            self._conn.cancel(request_id)
            self._fail(request_id, TimeoutError("no answer in time"))

    async def _slot(self, timeout: float) -> None:
        """Wait while ``limits.max_pending_requests`` requests are in flight
        (the wait counts against the caller's ``timeout``)."""
        limit = self._conn.limits.max_pending_requests
        async with asyncio.timeout(timeout):
            while len(self._futures) >= limit:
                self._check_open()
                waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._slot_waiters.append(waiter)
                try:
                    await waiter
                finally:
                    if waiter in self._slot_waiters:
                        self._slot_waiters.remove(waiter)

    async def invoke(self, request: bytes, *, timeout: float = 10.0) -> bytes:
        """Send a TL-serialized RPC query; returns the serialized result.  With
        ``limits.max_pending_requests`` already in flight, waits for a slot."""
        self._check_open()
        if len(self._futures) >= self._conn.limits.max_pending_requests:
            await self._slot(timeout)
        result: bytes = await self._call(self._conn.send_request(request), timeout)
        return result

    async def ping(self, *, timeout: float = 10.0) -> float:
        """An encrypted ping; returns the round-trip time in seconds."""
        self._check_open()
        if len(self._futures) >= self._conn.limits.max_pending_requests:
            await self._slot(timeout)
        start = time.perf_counter()
        await self._call(self._conn.send_ping(), timeout)
        return time.perf_counter() - start

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if not self._conn.closed:
            self._process(self._conn.close())
        self._timer.cancel()
        transport = self._transport
        if transport is not None:
            transport.close()
            with contextlib.suppress(Exception):
                await asyncio.sleep(0)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _ClientProtocol(asyncio.Protocol):
    def __init__(self, client: Client) -> None:
        self.client = client

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, whatever the loop: uvloop's is not an asyncio.Transport
        # subclass, so this is a typing cast, not an isinstance check.
        transport = cast(asyncio.Transport, transport)
        self.client._transport = transport

    def data_received(self, data: bytes) -> None:
        self.client._process(self.client._conn.receive_data(data))

    def eof_received(self) -> bool:
        self.client._process(self.client._conn.receive_data(b""))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        conn = self.client._conn
        if not conn.closed:
            self.client._process(conn.receive_data(b""))
