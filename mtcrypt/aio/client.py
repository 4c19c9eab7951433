"""An asyncio MTProto client connection: transport, handshake, session."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from typing import Any

from .._random import Rng, random_bytes
from ..errors import MtcryptError, SessionError, TransportError
from ..handshake.client import ClientHandshake
from ..handshake.rsa import RsaPublicKey
from ..mtproto import AuthKey
from ..mtproto.session import Role, Session
from ..mtproto.session_events import Pong, Resent, RpcError, RpcResult
from ..transport import ClientTransport
from ..transport.events import Frame, QuickAck, TransportErrorCode

__all__ = ["Client", "RpcCallError"]


class RpcCallError(MtcryptError):
    """The server answered a request with ``rpc_error``."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"rpc_error {code}: {message}")


class Client:
    """One encrypted MTProto connection.  Create it with :meth:`connect`.

    ``invoke(request)`` sends a TL-serialized query and returns the
    serialized result; acks, salts, resends and pings are handled by the
    session underneath.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        transport: ClientTransport,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._transport = transport
        self._session: Session | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._frames: asyncio.Queue[bytes] = asyncio.Queue()
        self._reader_task: asyncio.Task[None] | None = None
        self._closed = False
        self._error: BaseException | None = None
        self.auth_key: AuthKey | None = None
        self.handshake_seconds: float = 0.0
        self.server_salt = 0
        self.time_offset = 0.0

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
        timeout: float = 10.0,
        rng: Rng = random_bytes,
    ) -> Client:
        """Open a connection, create an auth key (unless ``auth_key`` is given)
        and start an encrypted session."""
        transport = ClientTransport(
            framing,
            obfuscated=obfuscated,
            secret=secret,
            dc_id=dc_id if (secret is not None or obfuscated) else None,
            rng=rng,
        )
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        client = cls(reader, writer, transport)
        client._reader_task = asyncio.create_task(client._read_loop())
        try:
            await client._write(transport.data_to_send())
            if auth_key is None:
                if public_keys is None:
                    raise SessionError("public_keys are needed to create an auth key")
                await asyncio.wait_for(client._handshake(public_keys, dc_id, rng), timeout)
            else:
                client.auth_key = auth_key
                client.server_salt = salt
                client.time_offset = time_offset or 0.0
            assert client.auth_key is not None
            client._session = Session(
                client.auth_key,
                Role.CLIENT,
                salt=client.server_salt,
                time_offset=client.time_offset if auth_key is None else time_offset,
                rng=rng,
            )
        except BaseException:
            await client.close()
            raise
        return client

    async def _handshake(self, public_keys: Iterable[RsaPublicKey], dc_id: int, rng: Rng) -> None:
        start = time.perf_counter()
        hs = ClientHandshake(dc=dc_id, public_keys=public_keys, rng=rng)
        packet: bytes | None = hs.start()
        while packet is not None:
            await self._send_payload(packet)
            packet = hs.receive(await self._next_frame())
        result = hs.result
        self.auth_key = result.auth_key
        self.server_salt = result.server_salt
        self.time_offset = float(result.time_offset)
        self.handshake_seconds = time.perf_counter() - start

    # ---- I/O plumbing ---------------------------------------------------------

    async def _write(self, data: bytes) -> None:
        if data:
            self._writer.write(data)
            await self._writer.drain()

    async def _send_payload(self, payload: bytes) -> None:
        await self._write(self._transport.send(payload))
        await self._write(self._transport.data_to_send())

    async def _next_frame(self) -> bytes:
        frame = await self._frames.get()
        if self._error is not None and not frame:
            raise self._error
        return frame

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    raise TransportError("connection closed by the server", code=0)
                for event in self._transport.receive(data):
                    if isinstance(event, Frame):
                        if self._session is None:
                            await self._frames.put(event.payload)
                        else:
                            self._dispatch(self._session.receive(event.payload))
                    elif isinstance(event, TransportErrorCode):
                        raise TransportError(
                            f"server sent transport error {event.code}", code=event.code
                        )
                    elif isinstance(event, QuickAck):
                        continue
                await self._write(self._transport.data_to_send())
                if self._session is not None:
                    await self._flush()
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except BaseException as exc:  # surface to every waiter
            self._error = exc
            await self._frames.put(b"")
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(exc)
            self._pending.clear()

    def _dispatch(self, events: list[Any]) -> None:
        for event in events:
            if isinstance(event, RpcResult):
                self._resolve(event.req_msg_id, event.result)
            elif isinstance(event, RpcError):
                future = self._pending.pop(event.req_msg_id, None)
                if future is not None and not future.done():
                    future.set_exception(RpcCallError(event.error_code, event.error_message))
            elif isinstance(event, Pong):
                self._resolve(event.ping_msg_id, event.ping_id)
            elif isinstance(event, Resent) and event.req_msg_id != event.new_msg_id:
                future = self._pending.pop(event.old_msg_id, None)
                if future is not None:
                    self._pending[event.new_msg_id] = future

    def _resolve(self, msg_id: int, value: object) -> None:
        future = self._pending.pop(msg_id, None)
        if future is not None and not future.done():
            future.set_result(value)

    async def _flush(self) -> None:
        assert self._session is not None
        for packet in self._session.data_to_send():
            await self._write(self._transport.send(packet))

    def _check_open(self) -> Session:
        if self._error is not None:
            raise self._error
        if self._closed or self._session is None:
            raise SessionError("the connection is closed")
        return self._session

    # ---- API ---------------------------------------------------------------------

    async def invoke(self, request: bytes, *, timeout: float = 10.0) -> bytes:
        """Send a TL-serialized RPC query; returns the serialized result."""
        session = self._check_open()
        msg_id = session.send(request)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        await self._flush()
        return await asyncio.wait_for(future, timeout)

    async def ping(self, *, timeout: float = 10.0) -> float:
        """An encrypted ping; returns the round-trip time in seconds."""
        session = self._check_open()
        start = time.perf_counter()
        msg_id = session.send_ping()
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        await self._flush()
        await asyncio.wait_for(future, timeout)
        return time.perf_counter() - start

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(BaseException):
                await self._reader_task
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
