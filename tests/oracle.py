"""Independent reference implementations built on pycryptodome and hashlib."""

from __future__ import annotations

import hashlib

from Crypto.Cipher import AES


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def ige_encrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
    ecb = AES.new(key, AES.MODE_ECB)
    y_prev, x_prev = iv[:16], iv[16:]
    out = bytearray()
    for i in range(0, len(data), 16):
        x = data[i : i + 16]
        y = _xor(ecb.encrypt(_xor(x, y_prev)), x_prev)
        out += y
        x_prev, y_prev = x, y
    return bytes(out)


def ige_decrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
    ecb = AES.new(key, AES.MODE_ECB)
    y_prev, x_prev = iv[:16], iv[16:]
    out = bytearray()
    for i in range(0, len(data), 16):
        y = data[i : i + 16]
        x = _xor(ecb.decrypt(_xor(y, x_prev)), y_prev)
        out += x
        x_prev, y_prev = x, y
    return bytes(out)


def kdf2(auth_key: bytes, msg_key: bytes, x: int) -> tuple[bytes, bytes]:
    a = hashlib.sha256(msg_key + auth_key[x : x + 36]).digest()
    b = hashlib.sha256(auth_key[40 + x : 76 + x] + msg_key).digest()
    return a[:8] + b[8:24] + a[24:32], b[:8] + a[8:24] + b[24:32]


def seal2(auth_key: bytes, padded: bytes, x: int) -> bytes:
    large = hashlib.sha256(auth_key[88 + x : 120 + x] + padded).digest()
    msg_key = large[8:24]
    key, iv = kdf2(auth_key, msg_key, x)
    key_id = hashlib.sha1(auth_key).digest()[12:20]
    return key_id + msg_key + ige_encrypt(padded, key, iv)


def open2(auth_key: bytes, packet: bytes, x: int) -> bytes:
    """Decrypt and check msg_key; returns the padded plaintext."""
    msg_key = packet[8:24]
    key, iv = kdf2(auth_key, msg_key, x)
    padded = ige_decrypt(packet[24:], key, iv)
    assert hashlib.sha256(auth_key[88 + x : 120 + x] + padded).digest()[8:24] == msg_key
    return padded
