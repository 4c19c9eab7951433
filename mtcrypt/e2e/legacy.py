"""LEGACY: MTProto 1.0 secret-chat messages (layers below 73). Deprecated.

Only for peers still on layers 17..72 (core.telegram.org/api/end-to-end_v1):
``msg_key = SHA1(int32 length | payload)[4:20]`` (the padding is *not*
covered), 0..15 random padding bytes, the version 1 KDF
(:func:`mtcrypt.mtproto.kdf_v1`) with ``x = 0`` in *both* directions (tdlib
Transport.cpp: ``version == 1 ? 0 : ...``). Because the padding is not
authenticated and both directions share x, version 1 is malleable and open to
reflection; only the seq_no parity rules catch a mirrored message. Once a
chat reaches layer 73, or a version 2 message has been received, version 1
must no longer be accepted (:class:`~mtcrypt.e2e.SecretChat` enforces this).

Receiving must read the length before the MAC can be checked. As in tdlib the
hashed length is chosen without a branch on the outcome (the whole buffer when
the length is bad) and every failure raises the same
:class:`~mtcrypt.errors.DecryptionFailed`.
"""

from __future__ import annotations

import hmac
import struct

from .._random import random_bytes
from .._validation import BytesLike, Rng, draw, readable
from ..crypto import ige256_decrypt, ige256_encrypt, sha1
from ..errors import DecryptionFailed, InvalidLength
from ..mtproto import AuthKey, kdf_v1
from ..mtproto.authkey import require_auth_key
from .crypto import E2E_HEADER_SIZE, MAX_E2E_PACKET

__all__ = ["decrypt_e2e_v1", "encrypt_e2e_v1"]

_LEN = struct.Struct("<i")


def encrypt_e2e_v1(key: AuthKey, payload: BytesLike, *, rng: Rng = random_bytes) -> bytes:
    """LEGACY: seal a secret-chat message with MTProto 1.0 (for layer < 73 peers only)."""
    require_auth_key(key, "key")
    _, n = readable(payload, "payload")
    if n & 3 or n > MAX_E2E_PACKET:
        raise InvalidLength("payload must be a multiple of 4 bytes and not too large")
    plaintext = _LEN.pack(n) + bytes(payload)
    msg_key = sha1(plaintext)[4:20]
    pad = -len(plaintext) % 16
    filler = draw(rng, pad)
    aes_key, aes_iv = kdf_v1(key.key, msg_key, 0)
    return key.key_id_bytes + msg_key + ige256_encrypt(plaintext + filler, aes_key, aes_iv)


def decrypt_e2e_v1(key: AuthKey, packet: BytesLike) -> bytes:
    """LEGACY: open an MTProto 1.0 secret-chat message; returns the payload."""
    require_auth_key(key, "key")
    _, n = readable(packet, "packet")
    data = bytes(packet)
    if n < E2E_HEADER_SIZE + 16 or (n - E2E_HEADER_SIZE) & 15 or n > MAX_E2E_PACKET:
        raise DecryptionFailed()
    if not hmac.compare_digest(data[:8], key.key_id_bytes):
        raise DecryptionFailed()
    msg_key = data[8:24]
    aes_key, aes_iv = kdf_v1(key.key, msg_key, 0)
    plain = ige256_decrypt(data[24:], aes_key, aes_iv)
    (length,) = _LEN.unpack_from(plain, 0)
    size = 4 + length
    # The packet must be exactly the padded size (0..15 padding bytes).
    length_ok = (length >= 0) & (length & 3 == 0) & (((size + 15) & ~15) == len(plain))
    # Hash the claimed size when it is sane, else the whole buffer: a hash is
    # always computed and its length does not depend on the check's outcome.
    checked = size * length_ok + len(plain) * (1 - length_ok)
    mac_ok = hmac.compare_digest(sha1(plain[:checked])[4:20], msg_key)
    if not (mac_ok & length_ok):
        raise DecryptionFailed()
    return plain[4:size]
