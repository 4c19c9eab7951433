"""Whole MTProto 2.0 messages: mtcrypt against Telethon (+cryptg) and Pyrogram (+tgcrypto)."""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
from io import BytesIO

import pytest
from conftest import optional

from mtcrypt.mtproto import (
    AuthKey,
    InnerMessage,
    decrypt_message,
    decrypt_messages,
    encrypt_message,
    encrypt_messages,
)

RAW_KEY = os.urandom(256)
KEY = AuthKey(RAW_KEY)
SIZES = {"256B": 256, "64KiB": 1 << 16}


class _Loggers(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> logging.Logger:
        return logging.getLogger(key)


def _plain(size: int) -> bytes:
    return InnerMessage(1, 2, 0x6000000000000004, 1, os.urandom(size - 32)).pack()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["mtcrypt", "telethon", "pyrogram"])
def test_encrypt(benchmark, nbytes, impl: str, size: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"message-encrypt-{size}"
    n = SIZES[size]
    nbytes(n)
    if impl == "mtcrypt":
        plain = _plain(n)
        benchmark(encrypt_message, KEY, plain, from_server=False)
    elif impl == "telethon" and optional("telethon"):
        from telethon.crypto import AuthKey as TKey
        from telethon.network.mtprotostate import MTProtoState

        state = MTProtoState(TKey(RAW_KEY), loggers=_Loggers())
        data = struct.pack("<qii", 0x6000000000000004, 1, n - 32) + os.urandom(n - 32)
        benchmark(state.encrypt_message_data, data)
    elif impl == "pyrogram" and optional("pyrogram"):
        from pyrogram.crypto import mtproto
        from pyrogram.raw.core import Message
        from pyrogram.raw.types import Pong

        body = Pong(msg_id=1, ping_id=2)

        # Pyrogram serializes a TL object; pad it with a raw blob of the same size.
        class Blob:
            def __init__(self, data: bytes) -> None:
                self.data = data

            def write(self) -> bytes:
                return self.data

        blob = Blob(os.urandom(n - 32))
        msg = Message(body, 0x6000000000000004, 1, n - 32)
        msg.body = blob  # type: ignore[assignment]
        benchmark(mtproto.pack, msg, 1, os.urandom(8), RAW_KEY, KEY.key_id_bytes)
    else:
        pytest.skip(f"{impl} not installed")


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["mtcrypt", "telethon", "pyrogram"])
def test_decrypt(benchmark, nbytes, impl: str, size: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"message-decrypt-{size}"
    n = SIZES[size]
    nbytes(n)
    session_id = os.urandom(8)
    sid = struct.unpack("<q", session_id)[0]
    # A real server-to-client message: a pong followed by an ignored tail so
    # peers that parse the body still succeed.
    pong = struct.pack("<Iqq", 0x347773C5, 1, 2)
    msg_id = (int(time.time()) << 32) | 1
    body = pong + os.urandom(n - 32 - len(pong)) if n > 64 else pong
    if impl == "mtcrypt":
        packet = encrypt_message(
            KEY, InnerMessage(1, sid, msg_id, 1, body).pack(), from_server=True
        )
        benchmark(decrypt_message, KEY, packet, from_server=True)
    elif impl == "telethon" and optional("telethon"):
        from telethon.crypto import AuthKey as TKey
        from telethon.network.mtprotostate import MTProtoState

        packet = encrypt_message(
            KEY, InnerMessage(1, sid, msg_id, 1, body).pack(), from_server=True
        )
        state = MTProtoState(TKey(RAW_KEY), loggers=_Loggers())
        state.id = sid

        def run() -> object:
            state._highest_remote_id = 0  # let the same packet be accepted again
            state._recent_remote_ids.clear()
            return state.decrypt_message_data(packet)

        benchmark(run)
    elif impl == "pyrogram" and optional("pyrogram"):
        from pyrogram.crypto import mtproto

        packet = encrypt_message(
            KEY, InnerMessage(1, sid, msg_id, 1, body).pack(), from_server=True
        )
        benchmark(lambda: mtproto.unpack(BytesIO(packet), session_id, RAW_KEY, KEY.key_id_bytes))
    else:
        pytest.skip(f"{impl} not installed")


# Batches of messages under one key: the list API against a loop of single calls, at
# several batch sizes (issue 14: the batch must beat the loop at every size).
MESSAGE_BATCHES = {
    "1x256B": (1, 256),
    "4x256B": (4, 256),
    "64x256B": (64, 256),
    "1000x1KiB": (1000, 1024),
    "16x64KiB": (16, 65536),
}


@pytest.mark.parametrize("batch", list(MESSAGE_BATCHES))
@pytest.mark.parametrize("impl", ["batch", "loop"])
def test_seal_batch(benchmark, nbytes, impl: str, batch: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"message-seal-batch-{batch}"
    count, size = MESSAGE_BATCHES[batch]
    plains = [_plain(size) for _ in range(count)]
    nbytes(size * count)
    if impl == "batch":
        benchmark(encrypt_messages, KEY, plains, from_server=False)
    else:
        benchmark(lambda: [encrypt_message(KEY, p, from_server=False) for p in plains])


@pytest.mark.parametrize("batch", list(MESSAGE_BATCHES))
@pytest.mark.parametrize("impl", ["batch", "loop"])
def test_open_batch(benchmark, nbytes, impl: str, batch: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"message-open-batch-{batch}"
    count, size = MESSAGE_BATCHES[batch]
    packets = [encrypt_message(KEY, _plain(size), from_server=True) for _ in range(count)]
    nbytes(size * count)
    if impl == "batch":
        benchmark(decrypt_messages, KEY, packets, from_server=True)
    else:
        benchmark(lambda: [decrypt_message(KEY, p, from_server=True) for p in packets])


@pytest.mark.parametrize("threads", [1, 2])
def test_seal_64k_threads(benchmark, nbytes, threads: int) -> None:  # type: ignore[no-untyped-def]
    """Each round seals 200 x 64 KiB messages, split over 1 or 2 threads."""
    benchmark.group = "message-seal-64KiB-threads"
    plain = _plain(1 << 16)
    total = 200
    nbytes(total * len(plain))

    def work(count: int) -> None:
        for _ in range(count):
            encrypt_message(KEY, plain, from_server=False)

    def run() -> None:
        pool = [threading.Thread(target=work, args=(total // threads,)) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()

    benchmark(run)
