"""A drop-in for Telethon's ``cryptg`` module.

Same names and arguments.  Unlike cryptg, data that is not a multiple of 16
bytes raises :class:`mtcrypt.errors.InvalidLength` (a ``ValueError``) instead
of being padded silently (encrypt) or panicking (decrypt).
"""

from __future__ import annotations

from .._validation import BytesLike, is_int
from ..crypto import aes as _aes
from ..errors import InvalidArgument

__all__ = ["decrypt_ige", "encrypt_ige", "factorize_pq_pair"]


def encrypt_ige(plain: BytesLike, key: BytesLike, iv: BytesLike) -> bytes:
    """AES-256-IGE encryption (cryptg signature)."""
    return _aes.ige256_encrypt(plain, key, iv)


def decrypt_ige(cipher: BytesLike, key: BytesLike, iv: BytesLike) -> bytes:
    """AES-256-IGE decryption (cryptg signature)."""
    return _aes.ige256_decrypt(cipher, key, iv)


def factorize_pq_pair(pq: int) -> tuple[int, int]:
    """Split ``pq`` into its two prime factors ``(p, q)`` with ``p <= q``."""
    if not is_int(pq):
        raise InvalidArgument("pq must be an int")
    from ..handshake.pq import factorize_pq  # the handshake owns pq

    return factorize_pq(pq)
