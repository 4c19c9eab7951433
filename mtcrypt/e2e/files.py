"""Encrypted files of secret chats (core.telegram.org/api/end-to-end, "Sending Encrypted Files").

Each file gets its own random 32-byte AES key and 32-byte IV, unrelated to the
chat key, and is encrypted with AES-256-IGE; key and IV travel inside the
encrypted message (``DecryptedMessageMedia.key``/``.iv``), the 32-bit
fingerprint travels outside (``inputEncryptedFileUploaded.key_fingerprint``)::

    digest      = MD5(key + iv)
    fingerprint = int32_LE(digest[0:4]) XOR int32_LE(digest[4:8])

(tdlib td/telegram/files/FileEncryptionKey.cpp ``calc_fingerprint``.) The file
is padded to a multiple of 16 bytes; its true size is in the media's ``size``.

Note: IGE file encryption has no MAC. The receiver checks the fingerprint of
the key it was given and the size; a modified file on the server decrypts to
garbage, which nothing here can detect.

Files are uploaded in parts (multiples of 16 bytes except the last), so
:class:`FileEncryptor`/:class:`FileDecryptor` carry the IGE state across calls;
the one-shot functions are built on them.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

from .._random import random_bytes
from .._validation import BytesLike, Rng, draw, is_int
from ..crypto import ige256_decrypt, ige256_encrypt
from ..errors import InvalidArgument, InvalidLength
from ..tl import TLObject
from .errors import E2EError

__all__ = [
    "FileDecryptor",
    "FileEncryptor",
    "FileKey",
    "decrypt_file",
    "encrypt_file",
    "file_key_fingerprint",
]


def file_key_fingerprint(key: bytes, iv: bytes) -> int:
    """The signed 32-bit fingerprint of a file key and IV."""
    digest = hashlib.md5(key + iv, usedforsecurity=False).digest()
    a, b = struct.unpack_from("<ii", digest)
    value: int = a ^ b
    return value


class FileKey:
    """A file's AES key and IV (secret: not shown in the repr)."""

    __slots__ = ("iv", "key")

    def __init__(self, key: bytes, iv: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != 32:
            raise InvalidLength("file key must be 32 bytes")
        if not isinstance(iv, bytes) or len(iv) != 32:
            raise InvalidLength("file iv must be 32 bytes")
        self.key = key
        self.iv = iv

    @classmethod
    def generate(cls, rng: Rng = random_bytes) -> FileKey:
        """A fresh random key and IV."""
        raw = draw(rng, 64)
        return cls(raw[:32], raw[32:])

    @classmethod
    def from_media(cls, media: TLObject) -> FileKey:
        """The key and IV of a received ``DecryptedMessageMedia`` with a file."""
        key, iv = media.fields.get("key"), media.fields.get("iv")
        if not isinstance(key, bytes) or not isinstance(iv, bytes):
            raise InvalidArgument(f"{media.name} carries no file key")
        return cls(key, iv)

    @property
    def fingerprint(self) -> int:
        """:func:`file_key_fingerprint` of this key."""
        return file_key_fingerprint(self.key, self.iv)

    def check_fingerprint(self, fingerprint: int) -> None:
        """Raise :class:`E2EError` unless the file's ``key_fingerprint`` (from
        ``encryptedFile``) matches this key: the file was not encrypted with it."""
        ours = struct.pack("<i", self.fingerprint)
        if not is_int(fingerprint) or not -(2**31) <= fingerprint < 2**31:
            raise InvalidArgument("fingerprint must be a signed 32-bit int")
        if not hmac.compare_digest(ours, struct.pack("<i", fingerprint)):
            raise E2EError("the file's key_fingerprint does not match its key")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FileKey):
            return NotImplemented
        return hmac.compare_digest(self.key + self.iv, other.key + other.iv)

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return "FileKey(<secret>)"


class _IgeStream:
    """AES-256-IGE over consecutive chunks: the IV after a chunk is its last
    ciphertext block followed by its last plaintext block."""

    def __init__(self, file_key: FileKey) -> None:
        self._key = file_key.key
        self._iv = file_key.iv
        self._done = False

    def _check(self, chunk: BytesLike) -> bytes:
        if self._done:
            raise InvalidArgument("the stream is finished")
        data = bytes(chunk)
        if len(data) % 16:
            raise InvalidLength("chunks must be a multiple of 16 bytes (except the last)")
        return data

    def _step(self, chunk: BytesLike, *, decrypt: bool) -> tuple[bytes, bytes]:
        """One part through IGE, moving the IV on: returns ``(plaintext, ciphertext)``
        (both empty for an empty part)."""
        data = self._check(chunk)
        if not data:
            return b"", b""
        if decrypt:
            plain, cipher = ige256_decrypt(data, self._key, self._iv), data
        else:
            plain, cipher = data, ige256_encrypt(data, self._key, self._iv)
        self._iv = cipher[-16:] + plain[-16:]
        return plain, cipher


class FileEncryptor(_IgeStream):
    """Encrypt a file part by part (parts a multiple of 16 bytes); the last
    part goes to :meth:`finish`, which pads it."""

    def __init__(self, file_key: FileKey, *, rng: Rng = random_bytes) -> None:
        super().__init__(file_key)
        self._rng = rng
        self.size = 0

    def update(self, chunk: BytesLike) -> bytes:
        """Encrypt a part whose length is a multiple of 16."""
        plain, cipher = self._step(chunk, decrypt=False)
        self.size += len(plain)
        return cipher

    def finish(self, chunk: BytesLike = b"") -> bytes:
        """Encrypt the last part, padded with random bytes to a multiple of 16."""
        if self._done:
            raise InvalidArgument("the stream is finished")
        data = bytes(chunk)
        pad = -len(data) % 16
        filler = draw(self._rng, pad)
        out = self.update(data + filler) if data else b""
        self.size -= pad
        self._done = True
        return out


class FileDecryptor(_IgeStream):
    """Decrypt a file part by part; :meth:`finish` cuts the padding off by
    the media's ``size``."""

    def __init__(self, file_key: FileKey, size: int) -> None:
        super().__init__(file_key)
        if not is_int(size) or size < 0:
            raise InvalidArgument("size must be a non-negative int")
        self._size = size
        self._seen = 0

    def update(self, chunk: BytesLike) -> bytes:
        """Decrypt a part (a multiple of 16 bytes); returns plaintext up to ``size``."""
        plain, _ = self._step(chunk, decrypt=True)
        if not plain:
            return b""
        keep = max(0, min(len(plain), self._size - self._seen))
        self._seen += len(plain)
        if self._seen >= self._size + 16:
            raise InvalidLength("the encrypted file is longer than its size allows")
        return plain[:keep]

    def finish(self) -> None:
        """Check that the whole file was given."""
        self._done = True
        if self._seen < self._size:
            raise InvalidLength("the encrypted file is shorter than its size")


def encrypt_file(data: BytesLike, file_key: FileKey, *, rng: Rng = random_bytes) -> bytes:
    """Encrypt a whole file (random padding to a multiple of 16 bytes)."""
    return FileEncryptor(file_key, rng=rng).finish(data)


def decrypt_file(data: BytesLike, file_key: FileKey, size: int) -> bytes:
    """Decrypt a whole file and cut it to ``size`` bytes."""
    decryptor = FileDecryptor(file_key, size)
    out = decryptor.update(data)
    decryptor.finish()
    return out
