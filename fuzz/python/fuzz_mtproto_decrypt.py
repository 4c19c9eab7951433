"""Atheris harness: ``decrypt_message``, ``decrypt_messages`` and
``decrypt_message_v1`` with a fixed auth key.

Input: flags(1) | rest
  bit 0:    from_server
  bit 1:    0: raw mode, the rest is a packet
            1: forge mode, the rest is a plaintext the harness encrypts with a
               valid msg_key (MTProto 2.0, or 1.0 with bit 6), so that the
               checks behind the MAC are reached
  bit 2:    raw mode: prepend the key's auth_key_id
  bit 3:    forge mode: the next 2 bytes pick a padding length and the length
            field is set to match it
  bits 4-5: pass bytes, bytearray or memoryview
  bit 6:    raw mode: also decrypt_message_v1; forge mode: forge MTProto 1.0

Contract: every call returns or raises
:class:`mtcrypt.errors.DecryptionFailed` (``decrypt_messages`` returns
instances of it in place of failed packets).
Oracles: a success is a well-formed inner message (length field equal to the
body, a multiple of 4) that ``InnerMessage.parse`` accepts and that does not
open in the other direction; the batch agrees with single calls; in forge
mode the packet opens exactly when the spec's length and padding rules hold.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fuzz_common import AUTH_KEY_BYTES, Input, as_buffer, check, le32, main

from mtcrypt.crypto import ige256_encrypt
from mtcrypt.errors import DecryptionFailed
from mtcrypt.mtproto import (
    AuthKey,
    InnerMessage,
    decrypt_message,
    decrypt_message_v1,
    decrypt_messages,
    kdf2,
    kdf_v1,
)

KEY = AuthKey(AUTH_KEY_BYTES)
JUNK = b"0123456789"


def _open(packet: bytes | bytearray | memoryview, from_server: bool) -> bytes | None:
    try:
        plain = decrypt_message(KEY, packet, from_server=from_server)
    except DecryptionFailed:
        return None
    check(len(plain) >= 32, "opened message shorter than its header")
    check(le32(plain, 28) == len(plain) - 32, "length field does not match the result")
    check(le32(plain, 28) % 4 == 0, "length field not a multiple of 4")
    check(InnerMessage.parse(plain).pack() == plain, "InnerMessage round trip failed")
    return plain


def _check_packet(buf: bytes | bytearray | memoryview, from_server: bool) -> bytes | None:
    plain = _open(buf, from_server)
    if plain is not None:
        check(_open(buf, not from_server) is None, "packet opened in both directions")
    results = decrypt_messages(KEY, [buf, JUNK, buf], from_server=from_server)
    check(len(results) == 3, "decrypt_messages returned the wrong count")
    check(isinstance(results[1], DecryptionFailed), "decrypt_messages accepted junk")
    for result in (results[0], results[2]):
        if plain is None:
            check(isinstance(result, DecryptionFailed), "batch opened what single refused")
        else:
            check(result == plain, "batch plaintext differs from single")
    return plain


def _forge_v2(plain: bytes, from_server: bool) -> bytes:
    x = 8 if from_server else 0
    msg_key = hashlib.sha256(AUTH_KEY_BYTES[88 + x : 120 + x] + plain).digest()[8:24]
    aes_key, aes_iv = kdf2(KEY, msg_key, from_server=from_server)
    return KEY.key_id_bytes + msg_key + ige256_encrypt(plain, aes_key, aes_iv)


def _v1_length_ok(plain: bytes) -> bool:
    length = int.from_bytes(plain[28:32], "little", signed=True)
    total = 32 + length
    return 0 <= length and length % 4 == 0 and len(plain) - 16 < total <= len(plain)


def _forge_v1(plain: bytes, from_server: bool) -> bytes:
    covered = plain[: 32 + le32(plain, 28)] if _v1_length_ok(plain) else plain
    msg_key = hashlib.sha1(covered).digest()[4:20]
    aes_key, aes_iv = kdf_v1(AUTH_KEY_BYTES, msg_key, 8 if from_server else 0)
    return KEY.key_id_bytes + msg_key + ige256_encrypt(plain, aes_key, aes_iv)


def test_one_input(data: bytes) -> None:
    inp = Input(data)
    flags = inp.u8()
    from_server = bool(flags & 1)
    kind = (flags >> 4) & 3

    if not flags & 2:
        packet = (KEY.key_id_bytes if flags & 4 else b"") + inp.rest()
        buf = as_buffer(packet, kind)
        _check_packet(buf, from_server)
        if flags & 64:
            try:
                plain = decrypt_message_v1(KEY, buf, from_server=from_server)
                check(len(plain) >= 32, "v1 result shorter than its header")
                check(le32(plain, 28) == len(plain) - 32, "v1 length field does not match")
            except DecryptionFailed:
                pass
        return

    pad_pick = inp.u16() if flags & 8 else 0
    total = max(32, inp.remaining & ~15)
    plain = bytearray(inp.take_exact(total))
    if flags & 8:
        plain[28:32] = ((total - 32 - pad_pick % 1040) & 0xFFFFFFFF).to_bytes(4, "little")
    plain_b = bytes(plain)
    length = le32(plain_b, 28)

    if flags & 64:
        packet = _forge_v1(plain_b, from_server)
        ok = _v1_length_ok(plain_b)
        try:
            got = decrypt_message_v1(KEY, as_buffer(packet, kind), from_server=from_server)
        except DecryptionFailed:
            check(not ok, f"valid v1 message refused (length {length}, total {total})")
        else:
            check(ok, f"v1 accepted length {length} of {total}")
            check(got == plain_b[: 32 + length], "v1 plaintext differs")
        return

    ok = length % 4 == 0 and length <= total - 32 and 12 <= total - 32 - length <= 1024
    got = _check_packet(as_buffer(_forge_v2(plain_b, from_server), kind), from_server)
    if ok:
        check(got == plain_b[: 32 + length], f"valid message refused (length {length}, {total})")
    else:
        check(got is None, f"accepted length {length} in {total} bytes")


if __name__ == "__main__":
    main(test_one_input)
