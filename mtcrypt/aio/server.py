"""An asyncio MTProto server: a thin pump over
:class:`~mtcrypt.connection.ServerConnection`.

All protocol decisions are the connection's; this module moves bytes between
sockets and connections, sleeps until each connection's next deadline, runs
handshake crypto in a thread pool, calls the application's handler, enforces
the server-wide caps (connections, buffered bytes) and logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

from .._random import random_bytes
from .._validation import Clock, Rng, is_int
from ..connection import (
    BufferBudget,
    Closed,
    ConnectionEvent,
    ConnectionLimits,
    HandshakeComplete,
    HandshakeFailed,
    HandshakeWork,
    HandshakeWorkNeeded,
    IncomingRequest,
    KeyBound,
    KeyStore,
    LimitExceeded,
    MemoryKeyStore,
    MessageRejected,
    SeenRequests,
    ServerConnection,
    StoredKey,
    Timeouts,
    TransportReady,
)
from ..errors import InvalidArgument, MtcryptError
from ..handshake.rsa import RsaPrivateKey
from ..mtproto import AuthKey
from ..transport import ServerTransport
from ..transport.events import TransportInfo
from ._timer import DeadlineTimer
from ._workers import HandshakeProcesses, HandshakeWorkers

__all__ = ["ConnectionInfo", "HandshakeRecord", "RpcReply", "Server", "ServerStats"]

log = logging.getLogger("mtcrypt.server")

_CLOSE_GRACE = 2.0
"""Seconds a closed connection may take to flush its last bytes before it is aborted."""


@dataclass(frozen=True, slots=True)
class RpcReply:
    """What a handler returns: a serialized result, or an ``rpc_error``."""

    result: bytes | None = None
    error_code: int = 0
    error_message: str = ""

    @classmethod
    def error(cls, code: int, message: str) -> RpcReply:
        return cls(None, code, message)


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """Passed to the handler with each request."""

    peer: str
    transport: TransportInfo | None
    auth_key_id: int
    session_id: int | None
    layer: int | None = None
    api_id: int | None = None
    temporary: bool = False
    """The request came under a temporary key ..."""
    perm_key_id: int | None = None
    """... bound to this permanent key (None: not bound; Telegram answers
    ``401 AUTH_KEY_PERM_EMPTY`` to API calls under an unbound temporary key)."""


@dataclass(frozen=True, slots=True)
class HandshakeRecord:
    """One completed handshake (kept only with ``record_handshakes``)."""

    key_id: int
    transport: TransportInfo | None
    rsa_scheme: str
    inner_data: str
    temporary: bool
    seconds: float


@dataclass
class ServerStats:
    """Counters, readable at any time (``server.stats``)."""

    connections_opened: int = 0
    connections_refused: int = 0
    """Turned away at ``max_connections``."""
    connections_closed: Counter[str] = field(default_factory=Counter)
    """By :class:`~mtcrypt.connection.CloseReason` value."""
    handshakes_ok: int = 0
    handshakes_failed: Counter[str] = field(default_factory=Counter)
    """By the failed check."""
    requests: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    """Messages dropped by the sessions, by reason."""
    limits_exceeded: Counter[str] = field(default_factory=Counter)

    @property
    def connections_open(self) -> int:
        return self.connections_opened - sum(self.connections_closed.values())


Handler = Callable[[bytes, ConnectionInfo], Awaitable[RpcReply] | RpcReply]


def default_handler(query: bytes, info: ConnectionInfo) -> RpcReply:
    """Answer every query with ``rpc_error 401 AUTH_KEY_UNREGISTERED`` (what a
    real server says to a client that has not logged in)."""
    del query, info
    return RpcReply.error(401, "AUTH_KEY_UNREGISTERED")


class Server:
    """Accepts MTProto connections on ``host:port``.

    ``rsa_key`` is the server's private key (``python -m mtcrypt keygen``
    makes one).  ``handler(query, info)`` answers RPC queries (wrappers
    already removed; it may be a coroutine function); the default answers
    ``rpc_error 401``.  ``secrets`` enables MTProxy ``dd``/``ee`` secrets;
    plain and obfuscated transports are accepted too unless ``secrets_only``.
    ``enforce_salt`` makes sessions answer ``bad_server_salt`` to a wrong salt.

    Hardening: ``timeouts`` (handshake and idle deadlines), ``limits`` (per
    connection), ``max_connections`` (more are closed at once),
    ``max_buffered_bytes`` (one budget for the partial frames of all
    connections), ``handshake_workers`` threads for the handshakes' RSA and DH
    work (default 2; 0: on the event loop), or processes with
    ``handshake_processes=True`` (no GIL shared with the event loop, so honest
    traffic keeps flowing under a handshake flood; needs the default ``rng``
    and an ``if __name__ == "__main__":`` guard in the script),
    ``accept_legacy_rsa``, ``dc_id`` (the DC this server is: a handshake naming
    another gets transport error -444).  Keys live in ``keys``
    (a :class:`~mtcrypt.connection.KeyStore`; default a bounded in-memory
    store).  Randomness and time are injected (``rng``, ``clock``).
    """

    # duplicates: deliberate -- the documented keyword-only signature; it shares option names
    # with ServerConnection's, which it hands most of them on to.
    def __init__(
        self,
        rsa_key: RsaPrivateKey,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        handler: Handler | None = None,
        secrets: Sequence[str | bytes] = (),
        secrets_only: bool = False,
        enforce_salt: bool = False,
        max_padding: int = 3,
        keys: KeyStore | None = None,
        limits: ConnectionLimits | None = None,
        timeouts: Timeouts | None = None,
        max_connections: int | None = None,
        max_buffered_bytes: int | None = None,
        handshake_workers: int | None = None,
        handshake_processes: bool = False,
        accept_legacy_rsa: bool = True,
        dc_id: int | None = None,
        backlog: int = 1024,
        record_handshakes: bool = False,
        rng: Rng = random_bytes,
        clock: Clock = time.time,
    ) -> None:
        if max_connections is not None and (not is_int(max_connections) or max_connections < 1):
            raise InvalidArgument("max_connections must be a positive int or None")
        if handshake_workers is None:
            handshake_workers = 2
        if not is_int(handshake_workers) or handshake_workers < 0:
            raise InvalidArgument("handshake_workers must be a non-negative int")
        self.rsa_key = rsa_key
        self.host = host
        self._port = port
        self._handler: Handler = handler or default_handler
        self._secrets = list(secrets)
        self._secrets_only = secrets_only
        self._enforce_salt = enforce_salt
        self._max_padding = max_padding
        self.keys: KeyStore = keys if keys is not None else MemoryKeyStore()
        self.limits = limits or ConnectionLimits()
        self.timeouts = timeouts or Timeouts()
        self.max_connections = max_connections
        self._budget = None if max_buffered_bytes is None else BufferBudget(max_buffered_bytes)
        self.seen = SeenRequests()
        """Requests accepted on any connection: a replay on another is refused."""
        if handshake_processes and rng is not random_bytes:
            raise InvalidArgument("handshake_processes needs the default rng (random_bytes)")
        self._workers = handshake_workers
        self._processes = handshake_processes
        self._pool: HandshakeWorkers | HandshakeProcesses | None = None
        self._accept_legacy = accept_legacy_rsa
        self._dc_id = dc_id
        self._backlog = backlog
        self._record = record_handshakes
        self._rng = rng
        self._clock = clock
        self._server: asyncio.Server | None = None
        self._active: set[_ServerProtocol] = set()
        self.handshakes: list[HandshakeRecord] = []
        """Completed handshakes, when ``record_handshakes`` (tests, the demo)."""
        self.stats = ServerStats()
        # Fail now on a bad secret or transport option, not at the first connection.
        self._new_transport()

    @property
    def port(self) -> int:
        return listening_port(self._server, self._port)

    @property
    def requests_served(self) -> int:
        return self.stats.requests

    def add_auth_key(self, auth_key: AuthKey, salt: int = 0) -> None:
        """Trust an existing key (as if a handshake had created it)."""
        self.keys.add(StoredKey(auth_key, salt, created_at=self._clock()))

    async def start(self) -> Server:
        loop = asyncio.get_running_loop()
        if self._workers and self._pool is None:
            kind = HandshakeProcesses if self._processes else HandshakeWorkers
            self._pool = kind(self._workers, loop)
        self._server = await loop.create_server(
            lambda: _ServerProtocol(self), self.host, self._port, backlog=self._backlog
        )
        log.info("listening on %s:%d", self.host, self.port)
        return self

    async def close(self) -> None:
        """Stop listening and close every connection (graceful shutdown)."""
        await close_listener(self._server, self._active)
        self._server = None
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    async def __aenter__(self) -> Server:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    def _new_transport(self) -> ServerTransport:
        options: dict[str, object] = {}
        if self._secrets:
            options = {
                "secrets": self._secrets,
                "allow_plain": not self._secrets_only,
                "allow_secretless": not self._secrets_only,
            }
        return ServerTransport(
            max_padding=self._max_padding,
            max_frame=self.limits.max_frame,
            rng=self._rng,
            clock=self._clock,
            **options,  # type: ignore[arg-type]
        )

    # duplicates: deliberate -- the server's settings handed on to ServerConnection by keyword,
    # one per line (as the CLI builds its servers): alike other constructor calls by shape only.
    def _new_connection(self) -> ServerConnection:
        return ServerConnection(
            self.rsa_key,
            keys=self.keys,
            transport=self._new_transport(),
            limits=self.limits,
            timeouts=self.timeouts,
            budget=self._budget,
            seen=self.seen,
            accept_legacy_rsa=self._accept_legacy,
            dc_id=self._dc_id,
            check_salt=self._enforce_salt,
            offload_handshakes=self._pool is not None,
            rng=self._rng,
            clock=self._clock,
        )


class _ServerProtocol(asyncio.Protocol):
    """One accepted socket: bytes to the connection, its output to the socket."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.conn: ServerConnection | None = None
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.info: TransportInfo | None = None
        self.loop = asyncio.get_running_loop()
        self._timer = DeadlineTimer(self.loop, server._clock, self._on_timer)
        self._tasks: set[asyncio.Future[object]] = set()

    # ---- asyncio callbacks ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, whatever the loop: uvloop's is not an asyncio.Transport
        # subclass, so this is a typing cast, not an isinstance check.
        transport = cast(asyncio.Transport, transport)
        srv = self.server
        self.transport = transport
        self.peer = peer_name(transport)
        if srv.max_connections is not None and len(srv._active) >= srv.max_connections:
            srv.stats.connections_refused += 1
            log.warning("refused %s: max_connections (%d) reached", self.peer, srv.max_connections)
            transport.abort()
            return
        self.conn = srv._new_connection()
        srv._active.add(self)
        srv.stats.connections_opened += 1
        log.info("open %s", self.peer)
        self._reschedule()

    def data_received(self, data: bytes) -> None:
        if self.conn is not None:
            self._process(self.conn.receive_data(data))

    def eof_received(self) -> bool:
        if self.conn is not None:
            self._process(self.conn.receive_data(b""))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        conn = self.conn
        if conn is not None and not conn.closed:
            self._process(conn.close("connection lost" if exc is None else type(exc).__name__))
        self._cleanup()
        # Counted against max_connections until the socket is really gone.
        self.server._active.discard(self)

    def pause_writing(self) -> None:
        # The peer reads slower than we answer: stop reading its requests too.
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and self.conn is not None and not self.conn.closed:
            self.transport.resume_reading()

    def shutdown(self) -> None:
        """Close from our side (server shutdown)."""
        if self.conn is not None and not self.conn.closed:
            self._process(self.conn.close("server shutdown"))

    # ---- the pump ----------------------------------------------------------------------

    def _process(self, events: list[ConnectionEvent]) -> None:
        conn = self.conn
        assert conn is not None
        for event in events:
            if isinstance(event, IncomingRequest):
                self._dispatch(event)
            elif isinstance(event, HandshakeWorkNeeded):
                self._offload(event.work)
            else:
                self._note(event)
        data = conn.data_to_send()
        transport = self.transport
        if transport is not None and not transport.is_closing():
            if data:
                transport.write(data)
            if conn.closed:
                transport.close()  # after the buffered bytes (a -404) are written
                if transport.get_write_buffer_size():
                    # A peer that does not read would keep the socket forever.
                    self.loop.call_later(_CLOSE_GRACE, transport.abort)
        if conn.closed:
            self._cleanup()
        else:
            self._reschedule()

    def _note(self, event: ConnectionEvent) -> None:
        srv = self.server
        stats = srv.stats
        if isinstance(event, TransportReady):
            self.info = event.info
            log.debug("%s: transport %s", self.peer, event.info.framing.value)
        elif isinstance(event, HandshakeComplete):
            stats.handshakes_ok += 1
            log.info(
                "%s: handshake ok, key %016x%s, %s padding, %.1f ms",
                self.peer,
                event.key_id & (2**64 - 1),
                " (temporary)" if event.temporary else "",
                event.rsa_scheme,
                event.seconds * 1e3,
            )
            if srv._record:
                srv.handshakes.append(
                    HandshakeRecord(
                        event.key_id,
                        self.info,
                        event.rsa_scheme,
                        event.inner_data,
                        event.temporary,
                        event.seconds,
                    )
                )
        elif isinstance(event, HandshakeFailed):
            stats.handshakes_failed[event.check] += 1
            log.info("%s: handshake failed: %s", self.peer, event.check)
        elif isinstance(event, MessageRejected):
            stats.dropped[event.reason.value] += 1
            log.info("%s: message dropped: %s", self.peer, event.reason.value)
        elif isinstance(event, KeyBound):
            log.info("%s: temporary key bound", self.peer)
        elif isinstance(event, LimitExceeded):
            stats.limits_exceeded[event.limit] += 1
            log.warning("%s: limit exceeded: %s (%d)", self.peer, event.limit, event.value)
        elif isinstance(event, Closed):
            stats.connections_closed[event.reason.value] += 1
            detail = f" ({event.detail})" if event.detail else ""
            log.info("close %s: %s%s", self.peer, event.reason.value, detail)

    def _reschedule(self) -> None:
        assert self.conn is not None
        self._timer.update(self.conn.next_deadline())

    def _on_timer(self) -> None:
        if self.conn is not None and not self.conn.closed:
            self._process(self.conn.on_timer())

    # ---- requests and handshake work -----------------------------------------------------

    def _dispatch(self, request: IncomingRequest) -> None:
        info = ConnectionInfo(
            self.peer,
            self.info,
            request.key_id,
            request.session_id,
            request.layer,
            request.api_id,
            request.temporary,
            request.perm_key_id,
        )
        try:
            reply = self.server._handler(request.query, info)
        except Exception:  # a handler bug must not take the connection down
            log.exception("handler failed")
            reply = RpcReply.error(500, "INTERNAL")
        if isinstance(reply, RpcReply):
            self._reply(request, reply)
            return
        if not inspect.isawaitable(reply):
            log.error("handler returned %s, not RpcReply", type(reply).__name__)
            self._reply(request, RpcReply.error(500, "INTERNAL"))
            return
        task: asyncio.Future[object] = asyncio.ensure_future(self._await_reply(request, reply))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _await_reply(self, request: IncomingRequest, pending: Awaitable[RpcReply]) -> None:
        try:
            reply = await pending
            if not isinstance(reply, RpcReply):
                raise TypeError(f"the handler returned {type(reply).__name__}, not RpcReply")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handler failed")
            reply = RpcReply.error(500, "INTERNAL")
        if self.conn is not None and not self.conn.closed:
            self._reply(request, reply)
            self._process([])

    def _reply(self, request: IncomingRequest, reply: RpcReply) -> None:
        conn = self.conn
        assert conn is not None
        self.server.stats.requests += 1
        try:
            if reply.result is not None:
                conn.answer(request, reply.result)
            else:
                conn.answer_error(request, reply.error_code, reply.error_message)
        except MtcryptError as exc:  # not a TL object, say: the handler's bug
            log.error("handler reply refused: %s", exc)
            conn.answer_error(request, 500, "INTERNAL")

    def _offload(self, work: HandshakeWork) -> None:
        pool = self.server._pool
        if pool is None:
            work.run()
            self._finish(work)
            return
        pool.submit(work, lambda: self._finish(work))

    def _finish(self, work: HandshakeWork) -> None:
        conn = self.conn
        if conn is not None and not conn.closed and work.ran:
            self._process(conn.work_done(work))

    def _cleanup(self) -> None:
        self._timer.cancel()
        for task in list(self._tasks):
            task.cancel()


def listening_port(server: asyncio.Server | None, fallback: int) -> int:
    """The port ``server`` listens on (``fallback`` before it does)."""
    if server is None or not server.sockets:
        return fallback
    return int(server.sockets[0].getsockname()[1])


class _Closable(Protocol):
    def shutdown(self) -> None: ...


async def close_listener(
    server: asyncio.Server | None, active: Collection[_Closable], grace: float = 0.0
) -> None:
    """Stop ``server`` listening; give the connections in ``active`` ``grace``
    seconds to end on their own (they leave the collection as they close), shut the
    rest down, then wait (at most 5 s) for the listener to close."""
    if server is not None:
        server.close()
    if grace > 0:
        deadline = time.monotonic() + grace
        while active and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    for connection in list(active):
        connection.shutdown()
    if server is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)


def peer_name(transport: asyncio.BaseTransport) -> str:
    name = transport.get_extra_info("peername")
    if isinstance(name, tuple) and len(name) >= 2:
        return f"{name[0]}:{name[1]}"
    return str(name)
