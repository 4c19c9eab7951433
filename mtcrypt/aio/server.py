"""An asyncio MTProto server: every transport, the handshake, sessions, and a
handler hook for RPCs.  The protocol work is done by the sans-I/O objects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from .._random import Rng, random_bytes
from ..errors import DecryptionFailed, MtcryptError
from ..handshake.rsa import RsaPrivateKey
from ..handshake.server import ServerHandshake
from ..mtproto import AuthKey
from ..mtproto.session import Role, Session
from ..mtproto.session_events import MessageDropped, Request
from ..transport import ServerTransport
from ..transport.events import Frame, TransportDetected, TransportInfo

__all__ = ["ConnectionInfo", "HandshakeRecord", "RpcReply", "Server"]

log = logging.getLogger("mtcrypt.server")

_INVOKE_WITH_LAYER = 0xDA9B0D0D
_INVOKE_WITHOUT_UPDATES = 0xBF9459B7
_INIT_CONNECTION = 0xC1CD5EA9


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


@dataclass(frozen=True, slots=True)
class HandshakeRecord:
    """One completed handshake, kept for tests and the demo."""

    key_id: int
    transport: TransportInfo | None
    rsa_scheme: str
    inner_data: str
    temporary: bool
    seconds: float


Handler = Callable[[bytes, ConnectionInfo], Awaitable[RpcReply] | RpcReply]


def unwrap_query(body: bytes) -> bytes:
    """Strip ``invokeWithLayer``, ``invokeWithoutUpdates`` and ``initConnection``
    wrappers (any nesting) and return the query inside."""
    from .. import tl

    while len(body) >= 4:
        (cid,) = struct.unpack_from("<I", body)
        if cid == _INVOKE_WITH_LAYER:
            body = body[8:]
        elif cid == _INVOKE_WITHOUT_UPDATES:
            body = body[4:]
        elif cid == _INIT_CONNECTION:
            query = tl.deserialize(body).query
            if isinstance(query, bytes):
                body = query
            elif isinstance(query, tl.TLObject):
                body = tl.serialize(query)
            else:
                break
        else:
            break
    return body


async def default_handler(query: bytes, info: ConnectionInfo) -> RpcReply:
    """Answer every query with ``rpc_error 401 AUTH_KEY_UNREGISTERED`` (what a
    real server says to a client that has not logged in)."""
    del query, info
    return RpcReply.error(401, "AUTH_KEY_UNREGISTERED")


@dataclass
class _Keys:
    """Auth keys the server knows, by key id, with their first salt."""

    by_id: dict[bytes, tuple[AuthKey, int]] = field(default_factory=dict)


class Server:
    """Accepts MTProto connections on ``host:port``.

    ``rsa_key`` is the server's private key (``python -m mtcrypt keygen``
    makes one).  ``handler(query, info)`` answers RPC queries (wrappers
    already removed); the default answers ``rpc_error 401``.  ``secrets``
    enables MTProxy ``dd``/``ee`` secrets; plain and obfuscated transports are
    accepted too unless ``secrets_only``.  ``enforce_salt`` makes sessions
    answer ``bad_server_salt`` to a wrong salt.  Randomness and time are
    injected (``rng``, ``clock``) so runs can be reproduced.
    """

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
        rng: Rng = random_bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rsa_key = rsa_key
        self.host = host
        self._port = port
        self._handler: Handler = handler or default_handler
        self._secrets = list(secrets)
        self._secrets_only = secrets_only
        self._enforce_salt = enforce_salt
        self._max_padding = max_padding
        self._rng = rng
        self._clock = clock
        self._keys = _Keys()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.handshakes: list[HandshakeRecord] = []
        self.requests_served = 0

    @property
    def port(self) -> int:
        if self._server is None:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    def add_auth_key(self, auth_key: AuthKey, salt: int = 0) -> None:
        """Trust an existing key (as if a handshake had created it)."""
        self._keys.by_id[auth_key.key_id_bytes] = (auth_key, salt)

    async def start(self) -> Server:
        self._server = await asyncio.start_server(self._on_connection, self.host, self._port)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(BaseException):
                await task

    async def __aenter__(self) -> Server:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    # ---- one connection -----------------------------------------------------------

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        peer = str(writer.get_extra_info("peername"))
        try:
            await _Connection(self, reader, writer, peer).run()
        except (asyncio.CancelledError, ConnectionError):
            pass
        except MtcryptError as exc:
            log.debug("connection %s closed: %s", peer, exc)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _new_transport(self) -> ServerTransport:
        if self._secrets:
            return ServerTransport(
                secrets=self._secrets,
                allow_plain=not self._secrets_only,
                allow_secretless=not self._secrets_only,
                max_padding=self._max_padding,
                rng=self._rng,
                clock=self._clock,
            )
        return ServerTransport(max_padding=self._max_padding, rng=self._rng, clock=self._clock)


class _Connection:
    def __init__(
        self, server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.peer = peer
        self.transport = server._new_transport()
        self.info: TransportInfo | None = None
        self.handshake: ServerHandshake | None = None
        self.handshake_started = 0.0
        self.sessions: dict[bytes, Session] = {}

    async def run(self) -> None:
        while True:
            data = await self.reader.read(65536)
            if not data:
                return
            try:
                events = self.transport.receive(data)
            except MtcryptError as exc:
                code = getattr(exc, "code", -404) or -404
                with contextlib.suppress(MtcryptError):
                    self.writer.write(self.transport.send_error(code))
                raise
            out = [self.transport.data_to_send()]
            for event in events:
                if isinstance(event, TransportDetected):
                    self.info = event.info
                elif isinstance(event, Frame):
                    out.extend(await self._on_frame(event.payload))
            self.writer.write(b"".join(out))
            await self.writer.drain()

    async def _on_frame(self, payload: bytes) -> list[bytes]:
        if payload[:8] == bytes(8):
            return self._on_plain(payload)
        return await self._on_encrypted(payload)

    def _on_plain(self, payload: bytes) -> list[bytes]:
        srv = self.server
        if self.handshake is None or self.handshake.done:
            self.handshake = ServerHandshake(srv.rsa_key, rng=srv._rng, clock=srv._clock)
            self.handshake_started = time.perf_counter()
        answer = self.handshake.receive(payload)
        if self.handshake.done:
            result = self.handshake.result
            key = result.auth_key
            srv._keys.by_id[key.key_id_bytes] = (key, result.server_salt)
            srv.handshakes.append(
                HandshakeRecord(
                    key_id=key.key_id,
                    transport=self.info,
                    rsa_scheme=str(result.rsa_scheme),
                    inner_data=str(result.inner_data),
                    temporary=result.expires_at is not None,
                    seconds=time.perf_counter() - self.handshake_started,
                )
            )
        return [self.transport.send(answer)]

    async def _on_encrypted(self, payload: bytes) -> list[bytes]:
        srv = self.server
        known = srv._keys.by_id.get(payload[:8])
        if known is None:
            # Unknown key: transport error -404, as Telegram answers.
            return [self.transport.send_error(-404)]
        key, salt = known
        session = self.sessions.get(key.key_id_bytes)
        if session is None:
            session = Session(
                key,
                Role.SERVER,
                salt=salt,
                rng=srv._rng,
                clock=srv._clock,
                check_salt=srv._enforce_salt,
            )
            self.sessions[key.key_id_bytes] = session
        try:
            events = session.receive(payload)
        except DecryptionFailed:
            return [self.transport.send_error(-404)]
        for event in events:
            if isinstance(event, Request):
                await self._answer(session, key, event)
            elif isinstance(event, MessageDropped) and event.notify_code is not None:
                session.notify_bad_message(event)
        return [self.transport.send(p) for p in session.data_to_send()]

    async def _answer(self, session: Session, key: AuthKey, request: Request) -> None:
        srv = self.server
        info = ConnectionInfo(self.peer, self.info, key.key_id, session.session_id)
        try:
            reply = srv._handler(unwrap_query(request.body), info)
            if not isinstance(reply, RpcReply):
                reply = await reply
        except Exception:  # a handler bug must not take the connection down
            log.exception("handler failed")
            reply = RpcReply.error(500, "INTERNAL")
        srv.requests_served += 1
        if reply.result is not None:
            session.send_result(request.msg_id, reply.result)
        else:
            session.send_error(request.msg_id, reply.error_code, reply.error_message)
