"""Obfuscated (obfuscated2, abridged) framing of 1 KiB frames: mtcrypt against
the transport code of Telethon (pure-Python pyaes CTR) and Pyrogram (tgcrypto CTR).

* send: frame + encrypt one payload (client side);
* receive: decrypt + parse one frame (client side, server-to-client stream);
  setup (producing the next frame of the stream) is not timed;
* receive-batch: 64 frames arriving in one read (mtcrypt only: its parser
  takes any split of the stream; the peers read one frame at a time).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from conftest import optional

from mtcrypt.transport import ClientTransport, Frame, ServerTransport

SIZE = 1024
ROUNDS = 3000
PAYLOAD = b"\x11" * 8 + os.urandom(SIZE - 8)  # an encrypted-message-shaped payload


def _mtcrypt_pair() -> tuple[ClientTransport, ServerTransport]:
    client = ClientTransport("abridged", obfuscated=True)
    server = ServerTransport()
    events = server.receive(client.send(PAYLOAD))
    assert isinstance(events[-1], Frame)
    return client, server


def _receive(benchmark: Any, produce: Callable[[], bytes], consume: Callable[[bytes], Any]) -> None:
    benchmark.pedantic(
        consume, setup=lambda: ((produce(),), {}), rounds=ROUNDS, iterations=1, warmup_rounds=50
    )


@pytest.mark.parametrize("impl", ["mtcrypt", "telethon", "pyrogram"])
def test_obfuscated_send(benchmark: Any, nbytes: Any, impl: str) -> None:
    benchmark.group = "transport-obfuscated-send-1KiB"
    nbytes(SIZE)
    if impl == "mtcrypt":
        client, _ = _mtcrypt_pair()
        out = benchmark(client.send, PAYLOAD)
        assert len(out) == SIZE + 4
    elif impl == "telethon" and optional("telethon"):
        from telethon.network.connection.tcpabridged import AbridgedPacketCodec
        from telethon.network.connection.tcpobfuscated import ObfuscatedIO

        _, encryptor, _ = ObfuscatedIO.init_header(AbridgedPacketCodec)
        codec = AbridgedPacketCodec(None)
        out = benchmark(lambda: encryptor.encrypt(codec.encode_packet(PAYLOAD)))
        assert len(out) == SIZE + 4
    elif impl == "pyrogram" and optional("pyrogram"):
        from pyrogram.connection.transport.tcp.tcp import (
            ABRIDGED_OBFUSCATE_TAG,
            build_obfuscated2_header,
        )
        from pyrogram.crypto import aes

        built = build_obfuscated2_header(
            os.urandom(16), dc_id=2, obfuscate_tag=ABRIDGED_OBFUSCATE_TAG
        )

        def send() -> bytes:  # TCPAbridgedO.send without the socket
            words = len(PAYLOAD) // 4
            head = bytes([words]) if words <= 126 else b"\x7f" + words.to_bytes(3, "little")
            return aes.ctr256_encrypt(head + PAYLOAD, *built.encrypt)  # type: ignore[no-any-return]

        assert len(benchmark(send)) == SIZE + 4
    else:
        pytest.skip(f"{impl} not installed")


@pytest.mark.parametrize("impl", ["mtcrypt", "telethon", "pyrogram"])
def test_obfuscated_receive(benchmark: Any, nbytes: Any, impl: str) -> None:
    benchmark.group = "transport-obfuscated-receive-1KiB"
    nbytes(SIZE)
    if impl == "mtcrypt":
        client, server = _mtcrypt_pair()
        _receive(benchmark, lambda: server.send(PAYLOAD), client.receive)
    elif impl == "telethon" and optional("telethon"):
        from telethon.crypto import AESModeCTR
        from telethon.network.connection.tcpabridged import AbridgedPacketCodec
        from telethon.network.connection.tcpobfuscated import ObfuscatedIO

        header, _, decryptor = ObfuscatedIO.init_header(AbridgedPacketCodec)
        rev = bytes(header[55:7:-1])
        server_side = AESModeCTR(rev[:32], rev[32:48])
        codec = AbridgedPacketCodec(None)

        def consume(data: bytes) -> bytes:  # AbridgedPacketCodec.read_packet via ObfuscatedIO
            length = decryptor.encrypt(data[:1])[0]
            if length >= 127:
                length = int.from_bytes(decryptor.encrypt(data[1:4]), "little")
                return decryptor.encrypt(data[4 : 4 + 4 * length])  # type: ignore[no-any-return]
            return decryptor.encrypt(data[1 : 1 + 4 * length])  # type: ignore[no-any-return]

        _receive(benchmark, lambda: server_side.encrypt(codec.encode_packet(PAYLOAD)), consume)
    elif impl == "pyrogram" and optional("pyrogram"):
        from pyrogram.connection.transport.tcp.tcp import (
            ABRIDGED_OBFUSCATE_TAG,
            build_obfuscated2_header,
        )
        from pyrogram.crypto import aes

        built = build_obfuscated2_header(
            os.urandom(16), dc_id=2, obfuscate_tag=ABRIDGED_OBFUSCATE_TAG
        )
        server_side = (built.decrypt[0], bytearray(built.decrypt[1]), bytearray(1))
        words = len(PAYLOAD) // 4
        head = b"\x7f" + words.to_bytes(3, "little")

        def consume(data: bytes) -> bytes:  # TCPAbridgedO.recv without the socket
            length = aes.ctr256_decrypt(data[:1], *built.decrypt)
            if length == b"\x7f":
                length = aes.ctr256_decrypt(data[1:4], *built.decrypt)
                return aes.ctr256_decrypt(  # type: ignore[no-any-return]
                    data[4 : 4 + 4 * int.from_bytes(length, "little")], *built.decrypt
                )
            return aes.ctr256_decrypt(data[1 : 1 + 4 * length[0]], *built.decrypt)  # type: ignore[no-any-return]

        _receive(benchmark, lambda: aes.ctr256_encrypt(head + PAYLOAD, *server_side), consume)
    else:
        pytest.skip(f"{impl} not installed")


@pytest.mark.parametrize("impl", ["mtcrypt"])
def test_obfuscated_receive_batch(benchmark: Any, nbytes: Any, impl: str) -> None:
    benchmark.group = "transport-obfuscated-receive-64x1KiB"
    nbytes(64 * SIZE)
    client, server = _mtcrypt_pair()
    _receive(
        benchmark,
        lambda: b"".join(server.send(PAYLOAD) for _ in range(64)),
        client.receive,
    )
