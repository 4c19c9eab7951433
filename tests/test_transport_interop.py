"""Real clients' transport code against mtcrypt's, without sockets.

Telethon's connection classes and Pyrogram's (kurigram) TCP classes are driven
through an in-memory pipe whose far end is a :class:`ServerTransport`: their
bytes are parsed by our server (with autodetection), and our server's bytes by
their decoders.  Where both sides draw the same randomness, their obfuscated2
headers and ours are compared byte for byte.  Covers plain, obfuscated2,
MTProxy plain and ``dd`` secrets, and (kurigram only: Telethon has no ``ee``
support) fake-TLS.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import require
from test_transport_framing import encrypted_message, plain_message
from test_transport_obfuscation import valid_init

from mtcrypt.transport import (
    ClientTransport,
    Frame,
    Framing,
    ProxySecret,
    ServerTransport,
    TransportDetected,
    TransportInfo,
    make_client_header,
    strip_padding,
)
from mtcrypt.transport.events import Event

pytestmark = pytest.mark.interop
telethon_conn = require("telethon.network.connection")
pyro_tcp = require("pyrogram.connection.transport.tcp")
from pyrogram.connection.proxy import MTProxy  # noqa: E402

KEY = bytes.fromhex("7fe1a2b3c4d5e6f708192a3b4c5d6e7f")
# Long and short abridged lengths, plain and encrypted messages.
PADDED, INTERMEDIATE = Framing.PADDED_INTERMEDIATE, Framing.INTERMEDIATE
MESSAGES = [plain_message(5), encrypted_message(1), encrypted_message(40), plain_message(300)]


class _Loggers(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> logging.Logger:
        return logging.getLogger(key)


class Pipe:
    """A fake StreamWriter whose bytes go straight into a ServerTransport;
    whatever the server has to say lands in ``reader``."""

    def __init__(self, server: ServerTransport) -> None:
        self.server = server
        self.reader = asyncio.StreamReader()
        self.events: list[Event] = []
        self.transport = None

    def write(self, data: bytes) -> None:
        self.events += self.server.receive(bytes(data))
        self.reply(b"")

    def reply(self, data: bytes) -> None:
        out = self.server.data_to_send() + data
        if out:
            self.reader.feed_data(out)

    async def drain(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    async def wait_closed(self) -> None:
        pass

    def get_extra_info(self, name: str) -> None:
        return None

    def frames(self) -> list[bytes]:
        return [e.payload for e in self.events if isinstance(e, Frame)]

    def info(self) -> TransportInfo:
        first = self.events[0]
        assert isinstance(first, TransportDetected)
        return first.info


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ---- Telethon --------------------------------------------------------------------

TELETHON_CASES = [
    ("ConnectionTcpFull", None, Framing.FULL, False),
    ("ConnectionTcpAbridged", None, Framing.ABRIDGED, False),
    ("ConnectionTcpIntermediate", None, Framing.INTERMEDIATE, False),
    ("ConnectionTcpObfuscated", None, Framing.ABRIDGED, True),
    ("ConnectionTcpMTProxyAbridged", KEY.hex(), Framing.ABRIDGED, True),
    ("ConnectionTcpMTProxyIntermediate", KEY.hex(), Framing.INTERMEDIATE, True),
    ("ConnectionTcpMTProxyRandomizedIntermediate", KEY.hex(), PADDED, True),
    ("ConnectionTcpMTProxyRandomizedIntermediate", "dd" + KEY.hex(), PADDED, True),
    # Telethon drops the ee marker and the domain and speaks plain MTProxy:
    ("ConnectionTcpMTProxyIntermediate", "ee" + KEY.hex() + b"t.me".hex(), INTERMEDIATE, True),
]


@pytest.mark.parametrize(
    ("cls_name", "secret", "framing", "obfuscated"),
    TELETHON_CASES,
    ids=[f"{c[0]}-{(c[1] or 'none')[:2]}" for c in TELETHON_CASES],
)
def test_telethon_connections(
    cls_name: str, secret: str | None, framing: Framing, obfuscated: bool
) -> None:
    cls = getattr(telethon_conn, cls_name)
    kw: dict[str, Any] = {"loggers": _Loggers()}
    if secret is not None:
        kw["proxy"] = ("127.0.0.1", 443, secret)
    secrets = [] if secret is None else [ProxySecret.parse(secret)]
    # Telethon's padded reader strips len % 4: it survives 0-3 bytes of padding only.
    server = ServerTransport(secrets=secrets, max_padding=3)

    async def go() -> list[bytes]:
        conn = cls("127.0.0.1", 443, 2, **kw)
        pipe = Pipe(server)
        conn._reader, conn._writer = pipe.reader, pipe
        conn._codec = conn.packet_codec(conn)
        conn._init_conn()
        for message in MESSAGES:
            conn._send(message)
        assert pipe.frames() == MESSAGES
        info = pipe.info()
        assert (info.framing, info.obfuscated) == (framing, obfuscated)
        if secret is not None:
            assert (info.secret_index, info.dc_id) == (0, 2)
        for message in MESSAGES:
            pipe.reply(server.send(message))
        pipe.reply(server.send_error(-404))
        return [await conn._recv() for _ in range(len(MESSAGES) + 1)]

    received = run(go())
    assert received[:-1] == MESSAGES
    assert received[-1] == struct.pack("<i", -404)  # Telethon reports it as InvalidBufferError


def test_telethon_padded_reader_needs_max_padding_3() -> None:
    """Why ``max_padding`` exists: with more than 3 padding bytes Telethon's
    RandomizedIntermediate reader hands garbage to its MTProto layer."""
    secret = "dd" + KEY.hex()
    server = ServerTransport(secrets=[secret], rng=lambda n: b"\x05" * n)  # 5 bytes of padding

    async def go() -> bytes:
        conn = telethon_conn.ConnectionTcpMTProxyRandomizedIntermediate(
            "127.0.0.1", 443, 2, loggers=_Loggers(), proxy=("127.0.0.1", 443, secret)
        )
        pipe = Pipe(server)
        conn._reader, conn._writer = pipe.reader, pipe
        conn._codec = conn.packet_codec(conn)
        conn._init_conn()
        conn._send(MESSAGES[1])
        pipe.reply(server.send(MESSAGES[1]))
        result: bytes = await conn._recv()
        return result

    assert run(go()) != MESSAGES[1]


def scripted_urandom(blocks: list[bytes]) -> Callable[[int], bytes]:
    it: Iterator[bytes] = iter(blocks)

    def urandom(n: int) -> bytes:
        block = next(it)
        assert len(block) == n
        return block

    return urandom


def constant(block: bytes) -> Callable[[int], bytes]:
    return lambda n: block


def test_telethon_obfuscated_header_is_byte_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    from telethon.network.connection import tcpmtproxy, tcpobfuscated
    from telethon.network.connection.tcpabridged import AbridgedPacketCodec
    from telethon.network.connection.tcpintermediate import RandomizedIntermediatePacketCodec

    for _ in range(20):
        init = valid_init()  # allowed by both (mtcrypt's list is a superset of Telethon's)
        ours = make_client_header(b"\xef" * 4, rng=constant(init))
        with monkeypatch.context() as m:  # tcpobfuscated.os is the os module itself
            m.setattr(tcpobfuscated.os, "urandom", scripted_urandom([init]))
            header, encrypt, _decrypt = tcpobfuscated.ObfuscatedIO.init_header(AbridgedPacketCodec)
        assert bytes(header) == ours.wire
        data = os.urandom(300)
        assert encrypt.encrypt(data) == ours.encryptor.update(data)

        secret = ProxySecret.parse("dd" + KEY.hex())
        ours = make_client_header(b"\xdd" * 4, secret=secret.key, dc_id=-2, rng=constant(init))
        with monkeypatch.context() as m:
            m.setattr(tcpmtproxy.os, "urandom", scripted_urandom([init]))
            header, encrypt, decrypt = tcpmtproxy.MTProxyIO.init_header(
                bytes(secret), -2, RandomizedIntermediatePacketCodec
            )
        assert bytes(header) == ours.wire
        assert encrypt.encrypt(data) == ours.encryptor.update(data)
        assert decrypt.decrypt(data) == ours.decryptor.update(data)


def test_our_client_framing_matches_telethon_codecs() -> None:
    """Unobfuscated, the framing is symmetric: Telethon's decoders read what our
    client writes, and our client's bytes equal Telethon's encoders' bytes."""
    from telethon.network.connection.tcpabridged import AbridgedPacketCodec
    from telethon.network.connection.tcpfull import FullPacketCodec
    from telethon.network.connection.tcpintermediate import IntermediatePacketCodec

    for framing, codec_cls in (
        ("abridged", AbridgedPacketCodec),
        ("intermediate", IntermediatePacketCodec),
        ("full", FullPacketCodec),
    ):
        ours = ClientTransport(framing)
        theirs = codec_cls(None)
        wire = b"".join(ours.send(m) for m in MESSAGES)
        assert wire == (codec_cls.tag or b"") + b"".join(theirs.encode_packet(m) for m in MESSAGES)

        async def read(wire: bytes = wire, codec_cls: Any = codec_cls) -> list[bytes]:
            reader = asyncio.StreamReader()
            reader.feed_data(wire[len(codec_cls.tag or b"") :])
            codec = codec_cls(None)
            return [await codec.read_packet(reader) for _ in MESSAGES]

        assert run(read()) == MESSAGES


# ---- Pyrogram (kurigram) --------------------------------------------------------

EE = "ee" + KEY.hex() + b"www.example.com".hex()
PYRO_CASES = [
    ("TCPAbridged", None, Framing.ABRIDGED, False, False),
    ("TCPIntermediate", None, Framing.INTERMEDIATE, False, False),
    ("TCPFull", None, Framing.FULL, False, False),
    ("TCPIntermediatePadded", None, Framing.PADDED_INTERMEDIATE, False, False),
    ("TCPAbridgedO", None, Framing.ABRIDGED, True, False),
    ("TCPIntermediateO", None, Framing.INTERMEDIATE, True, False),
    ("TCPAbridged", KEY.hex(), Framing.ABRIDGED, True, False),
    ("TCPIntermediatePadded", KEY.hex(), Framing.PADDED_INTERMEDIATE, True, False),
    ("TCPIntermediatePadded", "dd" + KEY.hex(), Framing.PADDED_INTERMEDIATE, True, False),
    ("TCPIntermediatePadded", EE, Framing.PADDED_INTERMEDIATE, True, True),
]


@pytest.mark.parametrize(
    ("cls_name", "secret", "framing", "obfuscated", "fake_tls"),
    PYRO_CASES,
    ids=[f"{c[0]}-{(c[1] or 'none')[:2]}" for c in PYRO_CASES],
)
def test_pyrogram_transports(
    cls_name: str, secret: str | None, framing: Framing, obfuscated: bool, fake_tls: bool
) -> None:
    parsed = None if secret is None else ProxySecret.parse(secret)
    server = ServerTransport(secrets=[] if parsed is None else [parsed])
    proxy = None
    if parsed is not None:
        raw = bytes(parsed)
        proxy = MTProxy(
            hostname="127.0.0.1",
            port=443,
            secret=raw[1:17] if parsed.fake_tls else raw,
            sni_hostname=parsed.domain,
        )

    async def go() -> list[bytes | None]:
        pipe = Pipe(server)
        transport = getattr(pyro_tcp, cls_name)(ipv6=False, proxy=proxy, dc_id=2)

        async def fake_direct(*args: Any, **kwargs: Any) -> None:
            transport.reader, transport.writer = pipe.reader, pipe

        transport._connect_via_direct = fake_direct
        try:
            await transport.connect(("127.0.0.1", 443))
            for message in MESSAGES:
                await transport.send(message)
            assert pipe.frames() == MESSAGES
            info = pipe.info()
            assert (info.framing, info.obfuscated, info.fake_tls) == (framing, obfuscated, fake_tls)
            if parsed is not None:
                assert (info.dc_id, info.secret_index) == (2, 0)
            if fake_tls:
                assert info.sni == "www.example.com"
            for message in MESSAGES:
                pipe.reply(server.send(message))
            return [await transport.recv() for _ in MESSAGES]
        finally:
            transport.crypto_executor.shutdown(wait=False)

    received = run(go())
    if framing is Framing.PADDED_INTERMEDIATE:
        # Pyrogram strips padding from encrypted messages only; its unencrypted
        # message reader ignores trailing bytes.
        received = [strip_padding(r) for r in received]
    assert received == MESSAGES


def test_pyrogram_obfuscated_header_is_byte_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyrogram.connection.transport.tcp import tcp as pyro_tcp_module
    from pyrogram.crypto import aes

    for tag in (b"\xef" * 4, b"\xdd" * 4):
        for _ in range(10):
            init = valid_init()
            ours = make_client_header(tag, secret=KEY, dc_id=10002, rng=constant(init))
            with monkeypatch.context() as m:
                m.setattr(os, "urandom", scripted_urandom([init]))  # what tcp.py calls
                built = pyro_tcp_module.build_obfuscated2_header(
                    KEY, dc_id=10002, obfuscate_tag=tag
                )
            assert built.header == ours.wire
            data = os.urandom(500)
            assert aes.ctr256_encrypt(data, *built.encrypt) == ours.encryptor.update(data)
            assert aes.ctr256_decrypt(data, *built.decrypt) == ours.decryptor.update(data)


def test_pyrogram_reads_our_quick_acks_and_errors_on_padded() -> None:
    """Pyrogram's padded reader turns short packets into their first 4 or 8 bytes."""
    server = ServerTransport()

    async def go() -> tuple[bytes | None, bytes | None]:
        pipe = Pipe(server)
        transport = pyro_tcp.TCPIntermediatePadded(ipv6=False)

        async def fake_direct(*args: Any, **kwargs: Any) -> None:
            transport.reader, transport.writer = pipe.reader, pipe

        transport._connect_via_direct = fake_direct
        try:
            await transport.connect(("127.0.0.1", 443))
            await transport.send(MESSAGES[1])
            pipe.reply(server.send_quick_ack(0x1234))
            pipe.reply(server.send_error(-429))
            return await transport.recv(), await transport.recv()
        finally:
            transport.crypto_executor.shutdown(wait=False)

    ack, error = run(go())
    assert ack == b"\xff\xff\xff\xff" + struct.pack("<I", 0x80001234)
    assert error == struct.pack("<i", -429)
