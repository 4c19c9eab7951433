"""The MTProto 2.0 message layer: vectors, real clients both ways, and the
receive-side checks of the security checklist (C1-C6, S1)."""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import time
from io import BytesIO

import pytest
from conftest import load_vectors, require
from hypothesis import assume, given
from hypothesis import strategies as st
from oracle import ige_decrypt, open2, seal2

import mtcrypt.crypto as mc
from mtcrypt._native import ffi, lib
from mtcrypt.errors import DecryptionFailed, InvalidArgument, InvalidLength
from mtcrypt.mtproto import (
    AuthKey,
    InnerMessage,
    decrypt_message,
    decrypt_message_v1,
    decrypt_messages,
    encrypt_message,
    encrypt_message_quick_ack,
    encrypt_message_v1,
    encrypt_messages,
    kdf2,
    pack_plain,
    padding_length,
    unpack_plain,
)

auth_keys = st.binary(min_size=256, max_size=256).map(AuthKey)
bodies = st.integers(0, 300).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n))


def inner(body: bytes, msg_id: int = 0x6000000000000004, seq_no: int = 1) -> bytes:
    return InnerMessage(0x1122334455667788, -42, msg_id, seq_no, body).pack()


class _Loggers(dict):  # Telethon wants a mapping of loggers
    def __missing__(self, key: str) -> logging.Logger:
        return logging.getLogger(key)


# ---- vectors ------------------------------------------------------------------


@pytest.mark.parametrize(
    "vec",
    [v for v in load_vectors("mtproto2_kdf.json")["vectors"] if "msg_key" in v],
    ids=lambda v: v["name"],
)
def test_kdf_vectors(vec: dict[str, str]) -> None:
    key = AuthKey(bytes.fromhex(vec["auth_key"]))
    aes_key, aes_iv = kdf2(key, bytes.fromhex(vec["msg_key"]), from_server=int(vec["x"]) == 8)
    assert aes_key.hex() == vec["aes_key"]
    assert aes_iv.hex() == vec["aes_iv"]


def test_grammers_client_message_vector() -> None:
    vec = next(
        v
        for v in load_vectors("mtproto2_kdf.json")["vectors"]
        if v["name"].startswith("grammers encrypt_client_data_v2")
    )
    # The vector's plaintext is raw bytes without an MTProto header (which
    # encrypt_message would refuse), so check the pieces the seal is made of.
    key = AuthKey(bytes.fromhex(vec["auth_key"]))
    padded = bytes.fromhex(vec["plaintext_padded"])
    large = hashlib.sha256(key.key[88:120] + padded).digest()
    assert large.hex() == vec["msg_key_large"]
    aes_key, aes_iv = kdf2(key, large[8:24], from_server=False)
    assert (aes_key.hex(), aes_iv.hex()) == (vec["aes_key"], vec["aes_iv"])
    body = mc.ige256_encrypt(padded, aes_key, aes_iv)
    assert (key.key_id_bytes + large[8:24] + body).hex() == vec["encrypted_message"]


def test_grammers_server_message_vector() -> None:
    vec = next(
        v
        for v in load_vectors("mtproto2_kdf.json")["vectors"]
        if v["name"].startswith("grammers decrypt_server_data_v2")
    )
    key = AuthKey(bytes.fromhex(vec["auth_key"]))
    plain = decrypt_message(key, bytes.fromhex(vec["encrypted_message"]), from_server=True)
    padded = bytes.fromhex(vec["plaintext_padded"])
    assert padded.startswith(plain)
    assert 12 <= len(padded) - len(plain) <= 1024


# ---- round trips and the independent oracle ----------------------------------------


@given(key=auth_keys, body=bodies, from_server=st.booleans(), extra=st.integers(0, 60))
def test_roundtrip_and_oracle(key: AuthKey, body: bytes, from_server: bool, extra: int) -> None:
    assume(key.key[:128] != key.key[8:136])  # else both directions derive the same keys
    plaintext = inner(body)
    packet = encrypt_message(key, plaintext, from_server=from_server, extra_padding_blocks=extra)
    x = 8 if from_server else 0
    padded = open2(key.key, packet, x)  # pycryptodome + hashlib agree on msg_key
    assert padded.startswith(plaintext)
    assert 12 + 16 * extra <= len(padded) - len(plaintext) < 28 + 16 * extra
    assert packet[:8] == key.key_id_bytes
    assert decrypt_message(key, packet, from_server=from_server) == plaintext
    with pytest.raises(DecryptionFailed):
        decrypt_message(key, packet, from_server=not from_server)  # C6: wrong x


@given(key=auth_keys, body=bodies, data=st.data())
def test_any_byte_change_fails_uniformly(key: AuthKey, body: bytes, data: st.DataObject) -> None:
    packet = bytearray(encrypt_message(key, inner(body), from_server=True))
    pos = data.draw(st.integers(0, len(packet) - 1))
    packet[pos] ^= data.draw(st.integers(1, 255))
    with pytest.raises(DecryptionFailed) as info:
        decrypt_message(key, bytes(packet), from_server=True)
    assert str(info.value) == DecryptionFailed.MESSAGE


@given(key=auth_keys, body=bodies, cut=st.integers(1, 64), grow=st.binary(min_size=1, max_size=64))
def test_truncation_and_extension_fail(key: AuthKey, body: bytes, cut: int, grow: bytes) -> None:
    packet = encrypt_message(key, inner(body), from_server=False)
    for bad in (
        packet[:-cut],
        packet + grow,
        packet[: len(packet) - 16] if len(packet) > 72 else b"",
    ):
        with pytest.raises(DecryptionFailed):
            decrypt_message(key, bad, from_server=False)


def test_other_key_fails() -> None:
    a, b = AuthKey(os.urandom(256)), AuthKey(os.urandom(256))
    packet = encrypt_message(a, inner(b"abcd"), from_server=False)
    forged = b.key_id_bytes + packet[8:]
    with pytest.raises(DecryptionFailed):
        decrypt_message(b, forged, from_server=False)


# ---- checks after the MAC (C3): authentic messages with bad fields ---------------


def _authentic(key: AuthKey, padded: bytes, x: int = 0) -> bytes:
    return seal2(key.key, padded, x)  # the oracle seals anything with a valid msg_key


@pytest.mark.parametrize(
    ("length_field", "body_len", "pad_len", "why"),
    [
        (8, 8, 24, None),  # control: valid
        (40, 8, 24, "length field exceeds the plaintext"),
        (24, 8, 24, "length field leaves under 12 bytes of padding"),
        (7, 8, 24, "length field not a multiple of 4"),
        (-4, 8, 24, "negative length"),
        (2**31 - 4, 8, 24, "huge length"),
        (8, 8, 8, "padding under 12 bytes"),
        (8, 8, 1032, "padding over 1024 bytes"),
        (0, 0, 1040, "padding over 1024 with an empty body"),
    ],
)
def test_length_and_padding_checks(
    length_field: int, body_len: int, pad_len: int, why: str | None
) -> None:
    key = AuthKey(os.urandom(256))
    header = struct.pack("<qqqii", 1, 2, 0x6000000000000004, 1, length_field)
    padded = header + os.urandom(body_len) + os.urandom(pad_len)
    assert len(padded) % 16 == 0
    packet = _authentic(key, padded)
    if why is None:
        assert decrypt_message(key, packet, from_server=False) == padded[: 32 + body_len]
    else:
        with pytest.raises(DecryptionFailed) as info:
            decrypt_message(key, packet, from_server=False)
        assert str(info.value) == DecryptionFailed.MESSAGE, why


def test_failed_open_leaves_no_plaintext_behind() -> None:
    key = AuthKey(os.urandom(256))
    good = encrypt_message(key, inner(b"secret!!" * 8), from_server=False)
    bad = good[:-1] + bytes([good[-1] ^ 1])
    out = bytearray(len(bad) - 24)
    rc = lib.mtc_msg_open(key.key, key.key_id_bytes, 0, bad, len(bad), ffi.from_buffer(out))
    assert rc == lib.MTC_ERR_DECRYPT
    assert out == bytearray(len(out))


# ---- real clients --------------------------------------------------------------------


def _pong(ping_id: int) -> bytes:
    return struct.pack("<Iqq", 0x347773C5, 0x6000000000000004, ping_id)


@given(body=bodies, ping_id=st.integers(-(2**63), 2**63 - 1), extra=st.integers(0, 40))
def test_telethon_both_directions(body: bytes, ping_id: int, extra: int) -> None:
    mtprotostate = require("telethon.network.mtprotostate")
    from telethon.crypto import AuthKey as TelethonKey

    raw = os.urandom(256)
    key = AuthKey(raw)
    state = mtprotostate.MTProtoState(TelethonKey(raw), loggers=_Loggers())
    # Telethon encrypts (client to server), mtcrypt decrypts.
    data = struct.pack("<qii", 0x6000000000000004, 1, len(body)) + body
    plain = decrypt_message(key, state.encrypt_message_data(data), from_server=False)
    assert plain == struct.pack("<qq", state.salt, state.id) + data
    # mtcrypt encrypts (server to client), Telethon decrypts and parses.
    msg_id = (int(time.time()) << 32) | 1
    packet = encrypt_message(
        key,
        InnerMessage(state.salt, state.id, msg_id, 1, _pong(ping_id)).pack(),
        from_server=True,
        extra_padding_blocks=extra,
    )
    message = state.decrypt_message_data(packet)
    assert message.msg_id == msg_id and message.obj.ping_id == ping_id


@given(ping_id=st.integers(-(2**63), 2**63 - 1), extra=st.integers(0, 40))
def test_pyrogram_both_directions(ping_id: int, extra: int) -> None:
    mtproto = require("pyrogram.crypto.mtproto")
    from pyrogram import raw
    from pyrogram.raw.core import Message

    raw_key = os.urandom(256)
    key = AuthKey(raw_key)
    session_id = os.urandom(8)
    salt = struct.unpack("<q", os.urandom(8))[0]
    ping = raw.functions.Ping(ping_id=ping_id)
    msg_id = (int(time.time()) << 32) & ~3
    packet = mtproto.pack(
        Message(ping, msg_id, 1, len(ping.write())), salt, session_id, raw_key, key.key_id_bytes
    )
    message = InnerMessage.parse(decrypt_message(key, packet, from_server=False))
    assert (message.salt, message.msg_id, message.body) == (salt, msg_id, ping.write())
    pong = raw.types.Pong(msg_id=msg_id, ping_id=ping_id).write()
    reply = encrypt_message(
        key,
        InnerMessage(salt, struct.unpack("<q", session_id)[0], msg_id | 1, 1, pong).pack(),
        from_server=True,
        extra_padding_blocks=extra,
    )
    got = mtproto.unpack(BytesIO(reply), session_id, raw_key, key.key_id_bytes)
    assert got.body.ping_id == ping_id


# ---- batches, quick ack, padding ---------------------------------------------------------


@given(key=auth_keys, items=st.lists(bodies, max_size=30), from_server=st.booleans())
def test_batches_match_single_calls(key: AuthKey, items: list[bytes], from_server: bool) -> None:
    plaintexts = [inner(b) for b in items]
    packets = encrypt_messages(key, plaintexts, from_server=from_server)
    assert [decrypt_message(key, p, from_server=from_server) for p in packets] == plaintexts
    assert decrypt_messages(key, packets, from_server=from_server) == plaintexts


def test_batch_open_reports_bad_packets_in_place() -> None:
    key = AuthKey(os.urandom(256))
    packets = encrypt_messages(key, [inner(b"ab" * 2 * i) for i in range(6)], from_server=True)
    packets[2] = packets[2][:-1] + b"\x00"
    packets[4] = b"short"
    result = decrypt_messages(key, packets, from_server=True)
    assert isinstance(result[2], DecryptionFailed) and isinstance(result[4], DecryptionFailed)
    assert [r for i, r in enumerate(result) if i not in (2, 4)] == [
        inner(b"ab" * 2 * i) for i in (0, 1, 3, 5)
    ]


def test_quick_ack_token() -> None:
    key = AuthKey(os.urandom(256))
    plaintext = inner(b"abcd")
    packet, token = encrypt_message_quick_ack(key, plaintext, from_server=False)
    padded = open2(key.key, packet, 0)
    large = hashlib.sha256(key.key[88:120] + padded).digest()
    assert token == struct.unpack("<I", large[:4])[0] | 0x80000000


def test_padding_is_random_and_in_range() -> None:
    key = AuthKey(os.urandom(256))
    seen = set()
    for _ in range(20):
        padded = open2(key.key, encrypt_message(key, inner(b""), from_server=False), 0)
        seen.add(padded[32:])
    assert len(seen) == 20
    assert all(12 <= padding_length(n) <= 27 for n in range(32, 200, 4))
    with pytest.raises(InvalidArgument):
        padding_length(32, 64)


def test_injected_rng_makes_sealing_deterministic() -> None:
    key = AuthKey(bytes(range(256)))
    a = encrypt_message(key, inner(b"abcd"), from_server=False, rng=lambda n: b"\x07" * n)
    b = encrypt_message(key, inner(b"abcd"), from_server=False, rng=lambda n: b"\x07" * n)
    assert a == b


# ---- argument errors ---------------------------------------------------------------------


def test_bad_arguments() -> None:
    key = AuthKey(os.urandom(256))
    with pytest.raises(InvalidLength):
        AuthKey(os.urandom(255))
    with pytest.raises(InvalidLength):
        encrypt_message(key, b"short", from_server=False)
    with pytest.raises(InvalidArgument, match="length field"):
        encrypt_message(key, inner(b"abcd")[:-4] + b"xxxxxxxx", from_server=False)
    with pytest.raises(InvalidArgument):
        encrypt_message(b"\x00" * 256, inner(b""), from_server=False)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="rng"):
        encrypt_message(key, inner(b""), from_server=False, rng=lambda n: b"x")
    with pytest.raises(DecryptionFailed):
        decrypt_message(key, b"", from_server=False)


def test_auth_key_identity() -> None:
    telethon_crypto = require("telethon.crypto")
    raw = os.urandom(256)
    key = AuthKey(raw)
    assert struct.unpack("<Q", key.key_id_bytes)[0] == telethon_crypto.AuthKey(raw).key_id
    assert key.aux_hash == hashlib.sha1(raw).digest()[:8]
    assert raw.hex() not in repr(key)
    small = AuthKey.from_int(5)
    assert small.key == bytes(255) + b"\x05"
    assert AuthKey(raw) == key and hash(AuthKey(raw)) == hash(key)


# ---- MTProto 1.0 and plain messages ---------------------------------------------------------


@given(key=auth_keys, body=bodies, from_server=st.booleans())
def test_v1_roundtrip_and_tamper(key: AuthKey, body: bytes, from_server: bool) -> None:
    assume(key.key[:128] != key.key[8:136])
    plaintext = inner(body)
    packet = encrypt_message_v1(key, plaintext, from_server=from_server)
    assert packet[8:24] == hashlib.sha1(plaintext).digest()[4:20]
    assert decrypt_message_v1(key, packet, from_server=from_server) == plaintext
    tampered = packet[:-1] + bytes([packet[-1] ^ 1])
    if len(plaintext) % 16 == 0:  # the last block holds message bytes, not padding
        with pytest.raises(DecryptionFailed):
            decrypt_message_v1(key, tampered, from_server=from_server)
    with pytest.raises(DecryptionFailed):
        decrypt_message_v1(key, packet, from_server=not from_server)


def test_v1_matches_independent_kdf() -> None:
    key = AuthKey(os.urandom(256))
    plaintext = inner(b"bind" * 10)
    packet = encrypt_message_v1(key, plaintext, from_server=False, rng=lambda n: bytes(n))
    msg_key, ak = packet[8:24], key.key
    a = hashlib.sha1(msg_key + ak[0:32]).digest()
    b = hashlib.sha1(ak[32:48] + msg_key + ak[48:64]).digest()
    c = hashlib.sha1(ak[64:96] + msg_key).digest()
    d = hashlib.sha1(msg_key + ak[96:128]).digest()
    aes_key = a[0:8] + b[8:20] + c[4:16]
    aes_iv = a[8:20] + b[0:8] + c[16:20] + d[0:8]
    assert ige_decrypt(packet[24:], aes_key, aes_iv).startswith(plaintext)


def test_plain_messages() -> None:
    packet = pack_plain(0x51E57AC42770964A, b"\xf1\x8e\x7e\xbe" + bytes(16))
    assert unpack_plain(packet) == (0x51E57AC42770964A, b"\xf1\x8e\x7e\xbe" + bytes(16))
    for bad in (packet[:-4], b"\x01" + packet[1:], packet + b"\x00" * 4, b"\x00" * 10):
        with pytest.raises(InvalidArgument):
            unpack_plain(bad)


# ---- sealing into a caller's buffer (the server's large results) -------------------------------


@pytest.mark.parametrize("body_len", [16 * 1024, 300 * 1024 + 4])
def test_seal_parts_into_gives_encrypt_message_bytes(body_len: int) -> None:
    """Into a view inside a larger buffer: the same packet as encrypt_message for the
    same padding (injected rng), and one that opens (native padding); the bytes
    around the view are untouched."""
    from mtcrypt._random import random_bytes
    from mtcrypt.mtproto.message import _seal_parts_into, _sealed_size

    key = AuthKey(os.urandom(256))
    plain = inner(os.urandom(body_len))
    head, tail = plain[:44], plain[44:]
    size = _sealed_size(len(plain))
    for from_server in (True, False):
        buf = bytearray(b"\xaa" * 3 + bytes(size) + b"\xbb" * 5)
        with memoryview(buf) as view:
            _seal_parts_into(key, head, tail, view[3 : 3 + size], from_server=from_server,
                             rng=lambda n: b"\x5a" * n)
        expected = encrypt_message(key, plain, from_server=from_server, rng=lambda n: b"\x5a" * n)
        assert bytes(buf[3 : 3 + size]) == expected
        assert buf[:3] == b"\xaa" * 3 and buf[3 + size :] == b"\xbb" * 5
        native = bytearray(size)
        with memoryview(native) as view:
            _seal_parts_into(key, head, tail, view, from_server=from_server, rng=random_bytes)
        assert decrypt_message(key, bytes(native), from_server=from_server) == plain


def test_seal_parts_into_refusals_leave_no_plaintext() -> None:
    """A view of the wrong size is refused before anything is written; a failing
    rng is refused before the plaintext is laid out; a bad header is refused and
    the buffer wiped."""
    from mtcrypt._random import random_bytes
    from mtcrypt.mtproto.message import _seal_parts_into, _sealed_size

    key = AuthKey(os.urandom(256))
    plain = inner(b"\x77" * 40000)
    size = _sealed_size(len(plain))
    buf = bytearray(size + 16)
    with pytest.raises(InvalidLength):
        _seal_parts_into(key, plain[:44], plain[44:], memoryview(buf), from_server=True,
                         rng=random_bytes)
    assert buf == bytes(size + 16)
    with pytest.raises(InvalidArgument):
        _seal_parts_into(key, plain[:44], plain[44:], memoryview(buf)[:size], from_server=True,
                         rng=lambda n: b"short")
    assert b"\x77" * 16 not in buf
    bad = plain[:28] + struct.pack("<i", 8) + plain[32:]  # the length field lies
    for rng in (random_bytes, lambda n: bytes(n)):
        with pytest.raises(InvalidArgument):
            _seal_parts_into(key, bad[:44], bad[44:], memoryview(buf)[:size], from_server=True,
                             rng=rng)
        assert b"\x77" * 16 not in buf
