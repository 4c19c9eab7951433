"""Typed cryptographic primitives over the native core.

Every function validates its arguments before any C code runs and raises
:mod:`mtcrypt.errors` exceptions (which also subclass ``ValueError`` or
``TypeError``) on bad input.
"""

from .aes import (
    Aes256,
    Ctr256,
    cbc256_decrypt,
    cbc256_decrypt_into,
    cbc256_encrypt,
    cbc256_encrypt_into,
    ige256_batch_into,
    ige256_decrypt,
    ige256_decrypt_batch,
    ige256_decrypt_into,
    ige256_encrypt,
    ige256_encrypt_batch,
    ige256_encrypt_into,
)
from .backend import BackendInfo, backend_info, select_backend
from .hashes import sha1, sha256

__all__ = [
    "Aes256",
    "BackendInfo",
    "Ctr256",
    "backend_info",
    "cbc256_decrypt",
    "cbc256_decrypt_into",
    "cbc256_encrypt",
    "cbc256_encrypt_into",
    "ige256_batch_into",
    "ige256_decrypt",
    "ige256_decrypt_batch",
    "ige256_decrypt_into",
    "ige256_encrypt",
    "ige256_encrypt_batch",
    "ige256_encrypt_into",
    "select_backend",
    "sha1",
    "sha256",
]
