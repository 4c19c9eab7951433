"""An asyncio MTProto client: a thin pump over
:class:`~mtcrypt.connection.ClientConnection`.

When the server answers -404 where the spec says to start again (a refused
handshake query, a lost temporary key: :class:`~mtcrypt.connection.RestartReason`),
the client connects again as its :class:`~mtcrypt.connection.ReconnectPolicy`
says, on a connection built by
:meth:`~mtcrypt.connection.ClientConnection.restarted`, and sends the requests
still waiting again there.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from .._random import random_bytes
from .._validation import Rng, as_bytes
from ..connection import (
    ClientConnection,
    Closed,
    CloseReason,
    ConnectionEvent,
    ConnectionLimits,
    HandshakeComplete,
    PongReceived,
    Ready,
    ReconnectPolicy,
    RequestFailed,
    RequestTimedOut,
    ResultReceived,
    Timeouts,
)
from ..errors import (
    HandshakeError,
    InvalidArgument,
    MtcryptError,
    ReconnectFailed,
    SessionError,
    TransportError,
)
from ..handshake.rsa import TELEGRAM_PRODUCTION_KEYS, RsaPublicKey
from ..mtproto import AuthKey
from ..transport import ClientTransport
from ._timer import DeadlineTimer

__all__ = ["Client", "RpcCallError"]

DEFAULT_RECONNECT = ReconnectPolicy()
"""The policy :meth:`Client.connect` uses unless told otherwise."""


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


@dataclass(eq=False, slots=True, repr=False)
class _Call:
    """A request the caller waits for: its body (None for a ping) is kept so
    that it can be sent again on the connection that replaces a lost one."""

    body: bytes | None
    future: asyncio.Future[Any]
    request_id: int = 0


@dataclass(frozen=True, slots=True, repr=False)
class _Dial:
    """How to open another connection like the first one (no repr: it holds
    the MTProxy secret)."""

    host: str
    port: int
    framing: str
    obfuscated: bool
    secret: str | bytes | None
    dc_id: int | None
    max_frame: int
    timeout: float
    rng: Rng

    def transport(self) -> ClientTransport:
        return ClientTransport(
            self.framing,
            obfuscated=self.obfuscated,
            secret=self.secret,
            dc_id=self.dc_id,
            max_frame=self.max_frame,
            rng=self.rng,
        )


class Client:
    """One encrypted MTProto connection.  Create it with :meth:`connect`.

    ``invoke(request)`` sends a TL-serialized query and returns the
    serialized result; acks, salts, re-sends, keep-alive pings and deadlines
    are the connection's.
    """

    def __init__(self, conn: ClientConnection) -> None:
        self._conn = conn
        self._transport: asyncio.Transport | None = None
        self._calls: dict[int, _Call] = {}  # by the connection's request id
        self._slot_waiters: list[asyncio.Future[None]] = []
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._timer = DeadlineTimer(asyncio.get_running_loop(), time.time, self._on_timer)
        self._error: MtcryptError | None = None
        self._closed = False
        self._dial: _Dial | None = None
        self._policy: ReconnectPolicy | None = None
        self._restart_task: asyncio.Task[None] | None = None
        self._settled: asyncio.Future[MtcryptError | None] | None = None
        self.handshake_seconds = 0.0
        self.restarts = 0
        """New connections made after a -404 that called for one."""

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
        reconnect: ReconnectPolicy | None = DEFAULT_RECONNECT,
        rng: Rng = random_bytes,
    ) -> Client:
        """Open a connection, create an auth key (unless ``auth_key`` is given;
        with ``temp_key_expires_in`` also a temporary key bound to it) and
        start an encrypted session.

        ``reconnect``: when the server answers -404 to a handshake query, or
        under the temporary key, connect again and start over as the spec says
        (a new nonce; a new temporary key, bound before anything else is sent),
        as often and as late as the policy allows; then
        :class:`~mtcrypt.errors.ReconnectFailed`.  None: one attempt, and such a
        -404 is a :class:`~mtcrypt.errors.TransportError`.  ``timeout`` bounds
        each TCP connect, and the whole of ``connect()`` (restarts included)."""
        if auth_key is None and public_keys is None:
            raise InvalidArgument("public_keys are needed to create an auth key")
        if reconnect is not None and not isinstance(reconnect, ReconnectPolicy):
            raise InvalidArgument("reconnect must be a ReconnectPolicy or None")
        dial = _Dial(
            host,
            port,
            framing,
            obfuscated,
            secret,
            dc_id if (secret is not None or obfuscated) else None,
            (limits or ConnectionLimits()).max_frame,
            timeout,
            rng,
        )
        conn = ClientConnection(
            dial.transport(),
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
        client._dial, client._policy = dial, reconnect
        try:
            async with asyncio.timeout(timeout):
                await client._open(conn)
                await asyncio.shield(client._ready)
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

    # ---- (re)connecting ----------------------------------------------------------------

    async def _open(self, conn: ClientConnection) -> None:
        """Connect a socket for ``conn`` and start it."""
        assert self._dial is not None
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(
            loop.create_connection(
                lambda: _ClientProtocol(self, conn), self._dial.host, self._dial.port
            ),
            self._dial.timeout,
        )
        self._process(conn.start())

    def _may_restart(self) -> bool:
        return (
            self._policy is not None
            and self._dial is not None
            and not self._closed
            and self._conn.restart is not None
        )

    async def _restart(self, error: MtcryptError) -> None:
        """Start again on new connections until one is ready, as the policy
        allows; then fail everything with :class:`ReconnectFailed`."""
        try:
            await self._restarting(error)
        except MtcryptError as exc:  # e.g. too many calls waiting for the new connection
            self._on_closed(exc)
        finally:
            self._restart_task = None
        if self._error is not None and not self._conn.closed:
            self._process(self._conn.close())

    async def _restarting(self, error: MtcryptError) -> None:
        policy, dial = self._policy, self._dial
        assert policy is not None and dial is not None
        loop = asyncio.get_running_loop()
        first = loop.time()
        attempt = 0
        source = self._conn  # the last connection that ended calling for a restart
        while True:
            attempt += 1
            delay = policy.delay_before(attempt, loop.time() - first)
            if delay is None:
                failed = ReconnectFailed(
                    f"gave up starting again after {attempt - 1} new connections ({error})",
                    code=error.code if isinstance(error, TransportError) else -404,
                    attempts=attempt - 1,
                )
                failed.__cause__ = error
                self._on_closed(failed)
                return
            await asyncio.sleep(delay)
            if self._closed:
                return
            conn = source.restarted(dial.transport())
            self._adopt(conn)
            settled: asyncio.Future[MtcryptError | None] = loop.create_future()
            self._settled = settled
            try:
                await self._open(conn)
                outcome = await settled
            except (OSError, TimeoutError) as exc:
                # No socket: this attempt is spent; the reason to start again stands.
                conn.close("no socket")
                error = TransportError(f"cannot connect: {type(exc).__name__}", code=0)
                continue
            finally:
                self._settled = None
            if outcome is None:
                return
            error = outcome
            if conn.restart is None:  # it ended for another reason: that is the answer
                self._on_closed(outcome)
                return
            source = conn

    def _adopt(self, conn: ClientConnection) -> None:
        """Make ``conn`` the connection, and queue on it the calls still waiting."""
        self.restarts += 1
        self._conn = conn
        self._transport = None
        calls = [call for call in self._calls.values() if not call.future.done()]
        self._calls = {}
        for call in calls:
            if call.body is None:
                call.request_id = conn.send_ping()
            else:
                call.request_id = conn.send_request(call.body)
            self._calls[call.request_id] = call

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
                self._settle(None)
                if not self._ready.done():
                    self._ready.set_result(None)
            elif isinstance(event, Closed):
                self._on_conn_closed(_closed_error(event))
        data = self._conn.data_to_send()
        transport = self._transport
        if transport is not None and not transport.is_closing():
            if data:
                transport.write(data)
            if self._conn.closed:
                transport.close()
        if not self._conn.closed:
            self._reschedule()

    def _settle(self, outcome: MtcryptError | None) -> bool:
        """Tell a restart in progress how its connection came out."""
        settled = self._settled
        if settled is None or settled.done():
            return False
        settled.set_result(outcome)
        return True

    def _on_conn_closed(self, error: MtcryptError) -> None:
        self._timer.cancel()
        if self._settle(error):
            return  # the restart in progress decides
        if self._may_restart():
            self._restart_task = asyncio.get_running_loop().create_task(self._restart(error))
            return
        self._on_closed(error)

    def _on_closed(self, error: MtcryptError) -> None:
        if self._error is None:
            self._error = error
        if not self._ready.done():
            self._ready.set_exception(error)
            self._ready.exception()  # retrieved: connect() re-raises it
        for future in [*(c.future for c in self._calls.values()), *self._slot_waiters]:
            if not future.done():
                future.set_exception(error)
        self._calls.clear()
        self._slot_waiters.clear()
        self._timer.cancel()

    def _resolve(self, request_id: int, value: object) -> None:
        call = self._calls.pop(request_id, None)
        if call is not None and not call.future.done():
            call.future.set_result(value)

    def _fail(self, request_id: int, error: BaseException) -> None:
        call = self._calls.pop(request_id, None)
        if call is not None and not call.future.done():
            call.future.set_exception(error)

    def _reschedule(self) -> None:
        self._timer.update(self._conn.next_deadline())

    def _on_timer(self) -> None:
        self._process(self._conn.on_timer())

    # ---- API ---------------------------------------------------------------------

    async def _check_open(self, timeout: float) -> None:
        """Raise if the client is closed; wait (within ``timeout``) while it starts again."""
        task = self._restart_task
        if task is not None and not task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout)
        if self._error is not None:
            raise self._error
        if self._closed:
            raise SessionError("the connection is closed")

    async def _call(self, body: bytes | None, timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        call = _Call(body, loop.create_future())
        if body is None:
            call.request_id = self._conn.send_ping()
        else:
            call.request_id = self._conn.send_request(body)
        self._calls[call.request_id] = call
        # A timer on the future itself: cheaper than asyncio.wait_for's wrapper.
        timer = loop.call_later(timeout, self._time_out, call)
        self._process([])
        try:
            return await call.future
        finally:
            timer.cancel()
            if self._calls.get(call.request_id) is call:  # the caller was cancelled
                del self._calls[call.request_id]
                self._conn.cancel(call.request_id)
            while self._slot_waiters:
                waiter = self._slot_waiters.pop(0)
                if not waiter.done():
                    waiter.set_result(None)
                    break

    def _time_out(self, call: _Call) -> None:
        if self._calls.get(call.request_id) is call:
            self._conn.cancel(call.request_id)
            self._fail(call.request_id, TimeoutError("no answer in time"))
        elif not call.future.done():  # between connections
            call.future.set_exception(TimeoutError("no answer in time"))

    async def _slot(self, timeout: float) -> None:
        """Wait while ``limits.max_pending_requests`` requests are in flight
        (the wait counts against the caller's ``timeout``)."""
        limit = self._conn.limits.max_pending_requests
        async with asyncio.timeout(timeout):
            while len(self._calls) >= limit:
                await self._check_open(timeout)
                waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._slot_waiters.append(waiter)
                try:
                    await waiter
                finally:
                    if waiter in self._slot_waiters:
                        self._slot_waiters.remove(waiter)

    async def invoke(self, request: bytes, *, timeout: float = 10.0) -> bytes:
        """Send a TL-serialized RPC query; returns the serialized result.  With
        ``limits.max_pending_requests`` already in flight, waits for a slot.
        Still unanswered when the client starts again on a new connection
        (see :meth:`connect`), the query is sent again there, as tdlib does: a
        query the server had already run may run twice (Telegram's methods that
        must not, such as ``messages.sendMessage``, carry a ``random_id`` for it)."""
        if self._restart_task is not None or self._error is not None or self._closed:
            await self._check_open(timeout)
        if len(self._calls) >= self._conn.limits.max_pending_requests:
            await self._slot(timeout)
        result: bytes = await self._call(as_bytes(request, "request"), timeout)
        return result

    async def ping(self, *, timeout: float = 10.0) -> float:
        """An encrypted ping; returns the round-trip time in seconds."""
        await self._check_open(timeout)
        if len(self._calls) >= self._conn.limits.max_pending_requests:
            await self._slot(timeout)
        start = time.perf_counter()
        await self._call(None, timeout)
        return time.perf_counter() - start

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        task = self._restart_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        self._settle(SessionError("the client was closed"))
        if not self._conn.closed:
            self._process(self._conn.close())
        self._on_closed(SessionError("the connection is closed (local)"))
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
    """The socket of one :class:`ClientConnection`: once the client has moved
    on to another connection, what arrives here is no longer its business."""

    def __init__(self, client: Client, conn: ClientConnection) -> None:
        self.client = client
        self.conn = conn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, whatever the loop: uvloop's is not an asyncio.Transport
        # subclass, so this is a typing cast, not an isinstance check.
        stream = cast(asyncio.Transport, transport)
        if self.conn is not self.client._conn:
            stream.close()
            return
        self.client._transport = stream

    def data_received(self, data: bytes) -> None:
        if self.conn is self.client._conn:
            self.client._process(self.conn.receive_data(data))

    def eof_received(self) -> bool:
        if self.conn is self.client._conn:
            self.client._process(self.conn.receive_data(b""))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is self.client._conn and not self.conn.closed:
            self.client._process(self.conn.receive_data(b""))
