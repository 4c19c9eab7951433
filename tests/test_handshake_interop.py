"""Real clients against ServerHandshake over TCP on 127.0.0.1.

Telethon's ``authenticator.do_authentication`` and Pyrogram's ``Auth.create()``
run unmodified, through their own transports (abridged and intermediate),
against a minimal asyncio server that frames packets and hands them to a
ServerHandshake. Both sides must hold the same 256-byte key. Both clients
send the legacy SHA-1 RSA padding and ``p_q_inner_data`` without a dc.

Their randomness is pinned (the modules' ``urandom`` is replaced by a seeded
stream) and so is the server's, so every run creates the same keys: Telethon
drops a leading zero byte of the key and then fails its own hash check (about
1 run in 256), and the seeds below are chosen on either side of that.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import types
from collections.abc import Callable, Iterator

import pytest
from conftest import require
from test_handshake_support import SeededRng, server_key

from mtcrypt.errors import HandshakeError
from mtcrypt.handshake import ClientHandshake, ServerHandshake

telethon = require("telethon")
pyrogram = require("pyrogram")

pytestmark = pytest.mark.interop

TIMEOUT = 20.0
# Seeds (client, server) whose key starts with a non-zero byte, and one whose key
# starts with 0x00 (Telethon then fails), found by search with the streams below.
TELETHON_SEEDS = [2, 3, 4]
TELETHON_ZERO_LEAD_SEED = 1


class _Loggers(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> logging.Logger:
        return logging.getLogger(key)


LOGGERS = _Loggers()


class LoopbackServer:
    """Accepts MTProto TCP connections (abridged ``ef`` or intermediate
    ``eeeeeeee``) and runs one ServerHandshake per connection."""

    def __init__(self, make: Callable[[], ServerHandshake]) -> None:
        self.make = make
        self.handshakes: list[ServerHandshake] = []
        self.errors: list[HandshakeError] = []
        self.framings: list[str] = []
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> LoopbackServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @staticmethod
    async def _read(reader: asyncio.StreamReader, framing: str) -> bytes:
        if framing == "intermediate":
            (length,) = struct.unpack("<i", await reader.readexactly(4))
        else:
            length = (await reader.readexactly(1))[0]
            if length == 0x7F:
                length = int.from_bytes(await reader.readexactly(3), "little")
            length *= 4
        if not 0 < length <= 1 << 16:
            raise ConnectionError("bad frame length")
        return await reader.readexactly(length)

    @staticmethod
    def _frame(data: bytes, framing: str) -> bytes:
        if framing == "intermediate":
            return struct.pack("<i", len(data)) + data
        n = len(data) // 4
        return (bytes([n]) if n < 0x7F else b"\x7f" + n.to_bytes(3, "little")) + data

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await reader.readexactly(1)
            if first == b"\xef":
                framing = "abridged"
            elif first + await reader.readexactly(3) == b"\xee" * 4:
                framing = "intermediate"
            else:
                return
            self.framings.append(framing)
            server = self.make()
            self.handshakes.append(server)
            while True:
                packet = await self._read(reader, framing)
                try:
                    answer = server.receive(packet)
                except HandshakeError as exc:
                    self.errors.append(exc)
                    writer.write(self._frame(struct.pack("<i", -404), framing))
                    await writer.drain()
                    return
                writer.write(self._frame(answer, framing))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()


def _server_factory(seed: object) -> Callable[[], ServerHandshake]:
    return lambda: ServerHandshake(server_key(), rng=SeededRng(("interop-server", seed)))


@pytest.fixture
def telethon_trusts_our_key() -> Iterator[None]:
    from telethon.crypto import rsa as t_rsa

    key = server_key().public_key
    t_rsa.add_key(key.to_pem(), old=False)
    assert t_rsa._compute_fingerprint(t_rsa._server_keys[key.fingerprint][0]) == key.fingerprint
    yield
    t_rsa._server_keys.pop(key.fingerprint, None)


@pytest.fixture
def pyrogram_trusts_our_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from pyrogram.crypto import rsa as p_rsa
    from pyrogram.session.auth import Auth

    key = server_key().public_key
    p_rsa.server_public_keys[key.fingerprint] = p_rsa.PublicKey(m=key.n, e=key.e)
    monkeypatch.setattr(Auth, "MAX_RETRIES", 0)  # surface failures instead of retrying
    yield
    p_rsa.server_public_keys.pop(key.fingerprint, None)


async def _telethon(port: int, transport: str) -> tuple[bytes, int]:
    from telethon.network import authenticator
    from telethon.network.connection import ConnectionTcpAbridged, ConnectionTcpIntermediate
    from telethon.network.mtprotoplainsender import MTProtoPlainSender

    cls = ConnectionTcpIntermediate if transport == "intermediate" else ConnectionTcpAbridged
    conn = cls("127.0.0.1", port, 2, loggers=LOGGERS)
    await conn.connect(timeout=5)
    try:
        sender = MTProtoPlainSender(conn, loggers=LOGGERS)
        auth_key, offset = await asyncio.wait_for(authenticator.do_authentication(sender), TIMEOUT)
    finally:
        await conn.disconnect()
    return auth_key.key, offset


def _pin_telethon(monkeypatch: pytest.MonkeyPatch, seed: object) -> None:
    from telethon.network import authenticator

    monkeypatch.setattr(
        authenticator, "os", types.SimpleNamespace(urandom=SeededRng(("telethon", seed)))
    )


@pytest.mark.parametrize("transport", ["intermediate", "abridged"])
@pytest.mark.parametrize("seed", TELETHON_SEEDS)
def test_telethon_creates_the_same_key(
    telethon_trusts_our_key: None, monkeypatch: pytest.MonkeyPatch, seed: int, transport: str
) -> None:
    _pin_telethon(monkeypatch, seed)

    async def main() -> tuple[LoopbackServer, bytes, int]:
        async with LoopbackServer(_server_factory(seed)) as srv:
            key, offset = await _telethon(srv.port, transport)
            await asyncio.sleep(0)
            return srv, key, offset

    srv, key, offset = asyncio.run(main())
    assert srv.errors == [] and srv.framings == [transport]
    (server,) = srv.handshakes
    assert server.done
    assert key == server.result.auth_key.key and len(key) == 256
    assert server.result.rsa_scheme == "legacy"
    assert server.result.inner_data == "p_q_inner_data"
    assert server.request_name == "req_pq_multi"
    assert abs(offset) <= 2


def test_telethon_fails_on_a_key_with_a_leading_zero_byte(
    telethon_trusts_our_key: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our server is right (256-byte key); Telethon shortens it and fails its own check."""
    from telethon.errors import SecurityError

    seed = TELETHON_ZERO_LEAD_SEED
    _pin_telethon(monkeypatch, seed)

    async def main() -> LoopbackServer:
        async with LoopbackServer(_server_factory(seed)) as srv:
            with pytest.raises(SecurityError):
                await _telethon(srv.port, "intermediate")
            return srv

    srv = asyncio.run(main())
    (server,) = srv.handshakes
    assert server.done and server.result.auth_key.key[0] == 0


async def _pyrogram(port: int, transport: str) -> bytes:
    from pyrogram.connection.transport import TCPAbridged, TCPIntermediate
    from pyrogram.session.auth import Auth

    client = pyrogram.Client(
        "mtcrypt-interop",
        api_id=1,
        api_hash="0" * 32,
        in_memory=True,
        protocol_factory=TCPIntermediate if transport == "intermediate" else TCPAbridged,
        no_updates=True,
    )
    key: bytes = await asyncio.wait_for(
        Auth(client, 2, "127.0.0.1", port, False).create(),  # type: ignore[no-untyped-call]
        TIMEOUT,
    )
    return key


@pytest.mark.parametrize("transport", ["intermediate", "abridged"])
@pytest.mark.parametrize("seed", [1, 2])
def test_pyrogram_creates_the_same_key(
    pyrogram_trusts_our_key: None, monkeypatch: pytest.MonkeyPatch, seed: int, transport: str
) -> None:
    from pyrogram.session import auth as p_auth

    monkeypatch.setattr(p_auth, "urandom", SeededRng(("pyrogram", seed)))

    async def main() -> tuple[LoopbackServer, bytes]:
        async with LoopbackServer(_server_factory(seed)) as srv:
            key = await _pyrogram(srv.port, transport)
            await asyncio.sleep(0)
            return srv, key

    srv, key = asyncio.run(main())
    assert srv.errors == [] and srv.framings == [transport]
    (server,) = srv.handshakes
    assert server.done
    assert key == server.result.auth_key.key and len(key) == 256
    assert server.result.rsa_scheme == "legacy"
    assert server.result.inner_data == "p_q_inner_data"


def test_our_client_over_the_same_loopback_server() -> None:
    """ClientHandshake (RSA_PAD, p_q_inner_data_dc) driven over TCP by a few lines of asyncio."""

    async def main() -> tuple[LoopbackServer, ClientHandshake]:
        async with LoopbackServer(_server_factory("ours")) as srv:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(b"\xee" * 4)
            client = ClientHandshake(dc=2, public_keys=[server_key().public_key])
            packet: bytes | None = client.start()
            while packet is not None:
                writer.write(struct.pack("<i", len(packet)) + packet)
                await writer.drain()
                (length,) = struct.unpack("<i", await reader.readexactly(4))
                packet = client.receive(await reader.readexactly(length))
            writer.close()
            await writer.wait_closed()
            return srv, client

    srv, client = asyncio.run(main())
    (server,) = srv.handshakes
    assert client.result.auth_key == server.result.auth_key
    assert server.result.rsa_scheme == "rsa_pad" and server.result.inner_data == "p_q_inner_data_dc"


def test_telethon_rejected_by_a_strict_server(
    telethon_trusts_our_key: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that refuses the legacy padding answers -404; Telethon gives up."""
    _pin_telethon(monkeypatch, 2)

    async def main() -> LoopbackServer:
        make = lambda: ServerHandshake(server_key(), accept_legacy_rsa=False)  # noqa: E731
        async with LoopbackServer(make) as srv:
            with pytest.raises(Exception):  # noqa: B017 - Telethon raises its own types
                await _telethon(srv.port, "intermediate")
            return srv

    srv = asyncio.run(main())
    assert [e.check for e in srv.errors] == ["rsa_padding"]
