"""MTProto 2.0 encryption of secret-chat messages (core.telegram.org/api/end-to-end).

Wire form: ``key_fingerprint (8) | msg_key (16) | AES-256-IGE(plaintext)`` where
``plaintext = int32 length | payload | 12..1024 random padding bytes`` (a
multiple of 16), ``payload`` the serialized ``decryptedMessageLayer``,
``msg_key = SHA256(key[88+x : 120+x] + plaintext)[8:24]`` and the AES key and IV
come from the MTProto 2.0 KDF (:func:`mtcrypt.mtproto.kdf2`).

Direction: ``x = 0`` for messages *from the chat's creator* (the side that
called ``messages.requestEncryption``), ``x = 8`` for the other direction.
Both functions take it as ``from_creator``: a creator writes with
``from_creator=True`` and reads with ``from_creator=False``, like tdlib
("reading: x = 8 iff we are the creator; writing: x = 0 iff we are the creator").

Both directions are one native call each, the same audited C code as
MTProto 2.0 messages (``mtc_e2e_seal``/``mtc_e2e_open`` share ``message.c``
with ``mtc_msg_seal``/``mtc_msg_open``; only the 4-byte header differs).
Receive order (security checklist C1-C4, as tdlib's Transport.cpp): public
checks only on the packet length and the key fingerprint, then IGE decryption
of the whole ciphertext, the msg_key over the whole buffer compared in
constant time, and the length and padding checks without an early exit; every
failure raises the same :class:`~mtcrypt.errors.DecryptionFailed`.
"""

from __future__ import annotations

import struct

from .._native import lib
from .._native.status import check
from .._random import random_bytes
from .._validation import BytesLike, Rng, draw, finish_output, new_output, readable
from ..errors import DecryptionFailed, InvalidArgument, InvalidLength
from ..mtproto import AuthKey
from ..mtproto.authkey import require_auth_key

__all__ = [
    "E2E_HEADER_SIZE",
    "MAX_E2E_PACKET",
    "MAX_PADDING",
    "MIN_PADDING",
    "decrypt_e2e",
    "encrypt_e2e",
    "padding_length",
]

E2E_HEADER_SIZE = 24
"""key_fingerprint (8) + msg_key (16)."""
MIN_PADDING = 12
MAX_PADDING = 1024
MAX_E2E_PACKET = 1 << 24
"""Largest packet accepted (far above any secret-chat message)."""

_LEN = struct.Struct("<i")
_SEAL = lib.mtc_e2e_seal
_OPEN = lib.mtc_e2e_open
_BUCKETS = (64, 128, 192, 256, 384, 512, 768, 1024, 1280)


def padding_length(size: int) -> int:
    """Padding for ``size`` bytes (length prefix + payload), tdlib's way: the
    encrypted part is rounded up to 64, 128, 192, 256, 384, 512, 768, 1024 or
    1280 bytes, then to 1280 + a multiple of 448, hiding the exact length.
    The result is always in 12..1024 and makes the total a multiple of 16."""
    if size < 0:
        raise InvalidArgument("size must be non-negative")
    total = (size + 12 + 15) & ~15
    for bucket in _BUCKETS:
        if total <= bucket:
            return bucket - size
    return (total - 1280 + 447) // 448 * 448 + 1280 - size


def encrypt_e2e(
    key: AuthKey,
    payload: BytesLike,
    *,
    from_creator: bool,
    rng: Rng = random_bytes,
    padding: int | None = None,
) -> bytes:
    """Seal one secret-chat message.

    ``payload`` is the serialized ``decryptedMessageLayer`` (a multiple of 4
    bytes). ``padding`` forces a padding length (12..1024, total a multiple of
    16); by default :func:`padding_length` chooses. The padding bytes come
    from ``rng``.
    """
    require_auth_key(key, "key")
    _, n = readable(payload, "payload")
    if n & 3:
        raise InvalidLength("payload must be a multiple of 4 bytes (TL-serialized)")
    if n > MAX_E2E_PACKET:
        raise InvalidLength(f"payload is larger than {MAX_E2E_PACKET} bytes")
    size = 4 + n
    pad = padding_length(size) if padding is None else padding
    if not MIN_PADDING <= pad <= MAX_PADDING or (size + pad) % 16:
        raise InvalidArgument("padding must be 12..1024 bytes and make the total a multiple of 16")
    filler = draw(rng, pad)
    plaintext = _LEN.pack(n) + bytes(payload)
    total = E2E_HEADER_SIZE + size + pad
    out, finish = new_output(total)
    rc = _SEAL(
        key._key, key.key_id_bytes, 0 if from_creator else 8, plaintext, size, filler, pad, out
    )
    check(rc, "secret-chat seal")  # the arguments were checked above: a bug guard
    return finish_output(finish, total)


def decrypt_e2e(key: AuthKey, packet: BytesLike, *, from_creator: bool) -> bytes:
    """Open one secret-chat message and return the payload (the serialized
    ``decryptedMessageLayer``). Raises :class:`DecryptionFailed` for every
    kind of failure, indistinguishably."""
    require_auth_key(key, "key")
    src, n = readable(packet, "packet")
    # Public checks: the length is visible to anyone on the wire (the C core
    # checks it again, with the key fingerprint).
    if n < E2E_HEADER_SIZE + 16 or n > MAX_E2E_PACKET:
        raise DecryptionFailed()
    out, finish = new_output(n - E2E_HEADER_SIZE)
    length = _OPEN(key._key, key.key_id_bytes, 0 if from_creator else 8, src, n, out)
    if length < 0:
        raise DecryptionFailed()
    return finish_output(finish, n - E2E_HEADER_SIZE)[4 : 4 + length]
