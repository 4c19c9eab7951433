"""MTProto 1.0 (deprecated): SHA-1 msg_key and KDF.

Only two things still need it: the ``bind_auth_key_inner`` payload of
``auth.bindTempAuthKey`` (sealed by the client, opened by the server) and
secret chats of old layers.  Never use it for ordinary traffic: version 1's
msg_key does not cover the padding, which is what made it malleable
(Jakobsen-Orlandi, 2015).
"""

from __future__ import annotations

import hmac
import struct

from .._random import random_bytes
from .._validation import BytesLike, Rng, draw, readable
from ..crypto import sha1
from ..crypto.aes import ige256_decrypt, ige256_encrypt
from ..errors import DecryptionFailed, InvalidArgument, InvalidLength
from .authkey import AuthKey, require_auth_key

__all__ = ["decrypt_message_v1", "encrypt_message_v1", "kdf_v1"]


def kdf_v1(auth_key: bytes, msg_key: bytes, x: int) -> tuple[bytes, bytes]:
    """The version 1 KDF: (aes_key, aes_iv) from auth_key and msg_key."""
    if x not in (0, 8):
        raise InvalidArgument("x must be 0 (client to server) or 8 (server to client)")
    a = sha1(msg_key + auth_key[x : x + 32])
    b = sha1(auth_key[32 + x : 48 + x] + msg_key + auth_key[48 + x : 64 + x])
    c = sha1(auth_key[64 + x : 96 + x] + msg_key)
    d = sha1(msg_key + auth_key[96 + x : 128 + x])
    return a[0:8] + b[8:20] + c[4:16], a[8:20] + b[0:8] + c[16:20] + d[0:8]


def encrypt_message_v1(
    auth_key: AuthKey, plaintext: BytesLike, *, from_server: bool, rng: Rng = random_bytes
) -> bytes:
    """Seal with MTProto 1.0: msg_key = SHA1(plaintext)[4:20], 0..15 random
    padding bytes (not covered by msg_key), same outer layout as 2.0."""
    require_auth_key(auth_key)
    _, n = readable(plaintext, "plaintext")
    data = bytes(plaintext)
    if n < 32 or n & 3:
        raise InvalidLength("plaintext must be at least 32 bytes and a multiple of 4")
    msg_key = sha1(data)[4:20]
    pad = -n % 16
    padding = draw(rng, pad)
    key, iv = kdf_v1(auth_key.key, msg_key, 8 if from_server else 0)
    return auth_key.key_id_bytes + msg_key + ige256_encrypt(data + padding, key, iv)


def decrypt_message_v1(auth_key: AuthKey, packet: BytesLike, *, from_server: bool) -> bytes:
    """Open an MTProto 1.0 message; returns the unpadded plaintext.

    Version 1 must read the length field before it can check msg_key.  To
    keep the failure uniform, an out-of-range length is replaced by the whole
    buffer (so a hash is always computed) and every failure raises the same
    :class:`DecryptionFailed`.
    """
    require_auth_key(auth_key)
    _, n = readable(packet, "packet")
    data = bytes(packet)
    if n < 24 + 32 or (n - 24) & 15 or data[:8] != auth_key.key_id_bytes:
        raise DecryptionFailed()
    msg_key = data[8:24]
    key, iv = kdf_v1(auth_key.key, msg_key, 8 if from_server else 0)
    plain = ige256_decrypt(data[24:], key, iv)
    (length,) = struct.unpack_from("<i", plain, 28)
    total = 32 + length
    length_ok = 0 <= length and length % 4 == 0 and len(plain) - 16 < total <= len(plain)
    checked = plain[:total] if length_ok else plain
    mac_ok = hmac.compare_digest(sha1(checked)[4:20], msg_key)
    if not (mac_ok and length_ok):
        raise DecryptionFailed()
    return checked
