"""AES-256 in the modes MTProto uses: IGE (messages, handshake), CTR
(obfuscated transports) and CBC (secret-chat files in some clients).

All functions accept any contiguous buffer (``bytes``, ``bytearray``,
``memoryview``, slices) and release the GIL while the native code runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .._native import HOT, ffi, lib
from .._native.status import check
from .._validation import (
    FILL_FRESH_BYTES,
    BytesLike,
    block_multiple,
    check_overlap,
    finish_output,
    fixed,
    is_int,
    new_output,
    readable,
    writable,
)
from ..errors import InvalidArgument, InvalidLength, OutOfMemory

__all__ = [
    "Aes256",
    "Ctr256",
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
]


def _check(rc: int) -> None:
    check(rc, "AES")


# ---- IGE -------------------------------------------------------------------


def _ige(fn: Any, data: object, key: object, iv: object) -> bytes:
    src, n = readable(data, "data")
    k = fixed(key, 32, "key")
    v = fixed(iv, 32, "iv")
    block_multiple(n)
    if n == 0:
        return b""
    ptr, obj = new_output(n)
    _check(fn(k, v, src, ptr, n))
    return finish_output(obj, n)


def _ige_into(fn: Any, data: object, key: object, iv: object, out: object) -> None:
    src, n = readable(data, "data")
    k = fixed(key, 32, "key")
    v = fixed(iv, 32, "iv")
    block_multiple(n)
    dst, m = writable(out, "out")
    if m != n:
        raise InvalidLength(f"out must be as long as data ({n} bytes), got {m}")
    check_overlap(src, dst, n)
    if n:
        _check(fn(k, v, src, dst, n))


_HOT_IGE = HOT.ige256  # the plain case in one native call; None for anything else
_HOT_BATCH = HOT.ige256_batch
_HOT_BATCH_INTO = HOT.ige256_batch_into


def ige256_encrypt(data: BytesLike, key: BytesLike, iv: BytesLike) -> bytes:
    """AES-256-IGE encryption.

    ``iv`` is 32 bytes: the previous ciphertext block, then the previous
    plaintext block (Telegram's and OpenSSL's convention).  ``data`` must be a
    multiple of 16 bytes; nothing is padded silently.
    """
    out = _HOT_IGE(False, data, key, iv)
    return _ige(lib.mtc_ige256_encrypt_key, data, key, iv) if out is None else out


def ige256_decrypt(data: BytesLike, key: BytesLike, iv: BytesLike) -> bytes:
    """AES-256-IGE decryption; see :func:`ige256_encrypt`."""
    out = _HOT_IGE(True, data, key, iv)
    return _ige(lib.mtc_ige256_decrypt_key, data, key, iv) if out is None else out


def ige256_encrypt_into(data: BytesLike, key: BytesLike, iv: BytesLike, out: BytesLike) -> None:
    """Encrypt into ``out`` (same length as ``data``; ``out`` may be ``data``)."""
    _ige_into(lib.mtc_ige256_encrypt_key, data, key, iv, out)


def ige256_decrypt_into(data: BytesLike, key: BytesLike, iv: BytesLike, out: BytesLike) -> None:
    """Decrypt into ``out`` (same length as ``data``; ``out`` may be ``data``)."""
    _ige_into(lib.mtc_ige256_decrypt_key, data, key, iv, out)


# ---- batch IGE ---------------------------------------------------------------


def ige256_batch_into(
    data: BytesLike,
    keys: BytesLike,
    ivs: BytesLike,
    lengths: Sequence[int],
    out: BytesLike,
    *,
    decrypt: bool = False,
) -> None:
    """Encrypt or decrypt many independent IGE messages in one native call.

    The packed form: ``data`` holds the messages back to back, ``keys`` and
    ``ivs`` hold 32 bytes per message, ``lengths`` the message lengths (each a
    multiple of 16).  The chains are interleaved across the AES pipelines,
    which is several times faster than one call per message.
    """
    if _HOT_BATCH_INTO(decrypt, data, keys, ivs, lengths, out):
        return  # the plain case (bytes inputs, a list or tuple of ints), in one native call
    count = len(lengths)
    keys_ptr, nk = readable(keys, "keys")
    ivs_ptr, ni = readable(ivs, "ivs")
    if nk != 32 * count:
        raise InvalidLength(f"keys must be 32 bytes per message ({32 * count}), got {nk}")
    if ni != 32 * count:
        raise InvalidLength(f"ivs must be 32 bytes per message ({32 * count}), got {ni}")
    lens = ffi.new("uint64_t[]", max(count, 1))
    total = 0
    for i, length in enumerate(lengths):
        if (type(length) is not int and not is_int(length)) or length < 0:
            raise InvalidArgument(f"lengths[{i}] must be a non-negative int")
        block_multiple(length, f"message {i}")
        lens[i] = length
        total += length
    src, n = readable(data, "data")
    dst, m = writable(out, "out")
    if n != total:
        raise InvalidLength(f"data must hold sum(lengths) = {total} bytes, got {n}")
    if m != total:
        raise InvalidLength(f"out must hold sum(lengths) = {total} bytes, got {m}")
    check_overlap(src, dst, n)
    _check(lib.mtc_ige256_batch(1 if decrypt else 0, count, keys_ptr, ivs_ptr, lens, src, dst))


def _batch(items: Iterable[tuple[BytesLike, BytesLike, BytesLike]], decrypt: bool) -> list[bytes]:
    # Not the plain case (the callers tried that): validate and copy each item
    # to bytes, then the one native call (one pointer per message, each output
    # allocated once, no joining).
    plain: list[tuple[bytes, bytes, bytes]] = []
    for i, item in enumerate(items):
        try:
            d, k, v = item
        except (TypeError, ValueError):
            raise InvalidArgument(f"item {i} must be a (data, key, iv) tuple") from None
        key = _copy(k, f"key of item {i}", 32)
        iv = _copy(v, f"iv of item {i}", 32)
        data = _copy(d, f"data of item {i}")
        block_multiple(len(data), f"message {i}")
        plain.append((data, key, iv))
    # Empty messages are legal and need no work; the others are now plain.
    work = [t for t in plain if t[0]]
    done = _HOT_BATCH(decrypt, work) if work else []
    if done is None:  # every item is plain now: only memory can have run out
        raise OutOfMemory("batch IGE: out of memory")
    results = iter(done)
    return [next(results) if t[0] else b"" for t in plain]


def _copy(obj: object, what: str, size: int | None = None) -> bytes:
    """``obj`` as bytes (any readable buffer), optionally of exactly ``size`` bytes."""
    if type(obj) is bytes:
        data = obj
    else:
        ptr, n = readable(obj, what)
        data = ffi.buffer(ptr, n)[:] if n else b""
    if size is not None and len(data) != size:
        raise InvalidLength(f"{what} must be {size} bytes long, got {len(data)}")
    return data


def ige256_encrypt_batch(items: Iterable[tuple[BytesLike, BytesLike, BytesLike]]) -> list[bytes]:
    """Encrypt many ``(data, key, iv)`` items at once; returns the ciphertexts in order."""
    out = _HOT_BATCH(False, items)  # the plain case: a list of (bytes, bytes, bytes)
    return _batch(items, decrypt=False) if out is None else out


def ige256_decrypt_batch(items: Iterable[tuple[BytesLike, BytesLike, BytesLike]]) -> list[bytes]:
    """Decrypt many ``(data, key, iv)`` items at once; returns the plaintexts in order."""
    out = _HOT_BATCH(True, items)
    return _batch(items, decrypt=True) if out is None else out


# ---- expanded keys, CBC and CTR ---------------------------------------------


class Aes256:
    """An expanded AES-256 key for repeated IGE/CBC use with the same key.

    The round keys live in native memory and are wiped by :meth:`wipe` or when
    the object is collected.  The repr never shows key material.
    """

    __slots__ = ("_ctx",)

    def __init__(self, key: BytesLike) -> None:
        k = fixed(key, 32, "key")
        self._ctx: Any = ffi.new("mtc_aes256 *")
        _check(lib.mtc_aes256_init(self._ctx, k))

    def __repr__(self) -> str:
        return "<mtcrypt.crypto.Aes256 (key hidden)>"

    def wipe(self) -> None:
        """Erase the round keys; the object is unusable afterwards."""
        lib.mtc_aes256_wipe(self._ctx)

    def __del__(self) -> None:
        ctx = getattr(self, "_ctx", None)
        if ctx is not None:
            lib.mtc_aes256_wipe(ctx)

    def _run(self, fn: Any, data: object, iv: object, iv_size: int, out: object | None) -> Any:
        if not self._ctx.ready:
            raise InvalidArgument("this key has been wiped")
        src, n = readable(data, "data")
        block_multiple(n)
        ivbuf = ffi.new("uint8_t[]", iv_size)
        ffi.memmove(ivbuf, fixed(iv, iv_size, "iv"), iv_size)
        if out is None:
            dst = ffi.new("uint8_t[]", max(n, 1))
        else:
            dst, m = writable(out, "out")
            if m != n:
                raise InvalidLength(f"out must be as long as data ({n} bytes), got {m}")
            check_overlap(src, dst, n)
        if n:
            _check(fn(self._ctx, ivbuf, src, dst, n))
        return dst if out is None else None, n

    def _fresh(self, fn: Any, data: object, iv: object, iv_size: int) -> bytes:
        """:meth:`_run` into a fresh buffer, returned as ``bytes``."""
        dst, n = self._run(fn, data, iv, iv_size, None)
        return ffi.buffer(dst, n)[:]  # type: ignore[no-any-return]

    # duplicates: deliberate -- four public methods, one per mode and direction, each one call into
    # _fresh with its own native function and IV size.
    def ige_encrypt(self, data: BytesLike, iv: BytesLike) -> bytes:
        """AES-256-IGE encryption with this key (32-byte ``iv``)."""
        return self._fresh(lib.mtc_ige256_encrypt, data, iv, 32)

    def ige_decrypt(self, data: BytesLike, iv: BytesLike) -> bytes:
        """AES-256-IGE decryption with this key (32-byte ``iv``)."""
        return self._fresh(lib.mtc_ige256_decrypt, data, iv, 32)

    def cbc_encrypt(self, data: BytesLike, iv: BytesLike) -> bytes:
        """AES-256-CBC encryption with this key (16-byte ``iv``, no padding)."""
        return self._fresh(lib.mtc_cbc256_encrypt, data, iv, 16)

    def cbc_decrypt(self, data: BytesLike, iv: BytesLike) -> bytes:
        """AES-256-CBC decryption with this key (16-byte ``iv``, no padding)."""
        return self._fresh(lib.mtc_cbc256_decrypt, data, iv, 16)


def _cbc(decrypt: bool, data: object, key: object, iv: object, out: object | None) -> bytes | None:
    cipher = Aes256(key)  # type: ignore[arg-type]
    try:
        fn = lib.mtc_cbc256_decrypt if decrypt else lib.mtc_cbc256_encrypt
        dst, n = cipher._run(fn, data, iv, 16, out)
    finally:
        cipher.wipe()
    return None if out is not None else ffi.buffer(dst, n)[:]


def cbc256_encrypt(data: BytesLike, key: BytesLike, iv: BytesLike) -> bytes:
    """AES-256-CBC encryption without padding (``data`` a multiple of 16)."""
    result = _cbc(False, data, key, iv, None)
    assert result is not None
    return result


def cbc256_decrypt(data: BytesLike, key: BytesLike, iv: BytesLike) -> bytes:
    """AES-256-CBC decryption without padding (``data`` a multiple of 16)."""
    result = _cbc(True, data, key, iv, None)
    assert result is not None
    return result


def cbc256_encrypt_into(data: BytesLike, key: BytesLike, iv: BytesLike, out: BytesLike) -> None:
    """CBC-encrypt into ``out`` (same length as ``data``; may be ``data``)."""
    _cbc(False, data, key, iv, out)


def cbc256_decrypt_into(data: BytesLike, key: BytesLike, iv: BytesLike, out: BytesLike) -> None:
    """CBC-decrypt into ``out`` (same length as ``data``; may be ``data``)."""
    _cbc(True, data, key, iv, out)


class Ctr256:
    """AES-256-CTR as a stream: successive :meth:`update` calls continue the
    keystream, whatever the chunk sizes.  The 16-byte ``iv`` is the initial
    counter block, incremented as a 128-bit big-endian integer that wraps
    around modulo 2**128.  Encryption and decryption are the same operation.
    """

    __slots__ = ("_state",)

    def __init__(self, key: BytesLike, iv: BytesLike) -> None:
        k = fixed(key, 32, "key")
        counter = fixed(iv, 16, "iv")
        state: Any = ffi.new("mtc_ctr256_state *")
        _check(lib.mtc_aes256_init(ffi.addressof(state, "aes"), k))
        ffi.memmove(state.counter, counter, 16)
        state.offset = 16
        self._state = state

    def __repr__(self) -> str:
        return "<mtcrypt.crypto.Ctr256 (key hidden)>"

    def update(self, data: BytesLike) -> bytes:
        """Encrypt (or decrypt) the next ``len(data)`` bytes of the stream."""
        if type(data) is bytes and FILL_FRESH_BYTES:
            n = len(data)
            if n > 1:
                out = bytes(n)
                if _CTR_STREAM(self._state, data, out, n) == 0:
                    return out
        if not self._state.aes.ready:
            raise InvalidArgument("this stream has been wiped")
        src, n = readable(data, "data")
        if n == 0:
            return b""
        ptr, obj = new_output(n)
        _check(_CTR_STREAM(self._state, src, ptr, n))
        return finish_output(obj, n)

    def update_into(self, data: BytesLike, out: BytesLike) -> None:
        """Like :meth:`update`, writing into ``out`` (same length; may be ``data``)."""
        if not self._state.aes.ready:
            raise InvalidArgument("this stream has been wiped")
        if out is data and (
            type(data) is bytearray
            or (
                type(data) is memoryview
                and not data.readonly
                and data.c_contiguous
                and data.itemsize == 1
            )
        ):  # in place (the relay's every chunk): one pointer, no overlap to check
            n = data.nbytes if type(data) is memoryview else len(data)
            if n:
                ptr = ffi.from_buffer(data, require_writable=True)
                _check(_CTR_STREAM(self._state, ptr, ptr, n))
            return
        src, n = readable(data, "data")
        dst, m = writable(out, "out")
        if m != n:
            raise InvalidLength(f"out must be as long as data ({n} bytes), got {m}")
        check_overlap(src, dst, n)
        if n:
            _check(_CTR_STREAM(self._state, src, dst, n))

    @property
    def counter(self) -> bytes:
        """The next counter block (public state, useful for resuming)."""
        return bytes(ffi.buffer(self._state.counter, 16))

    def wipe(self) -> None:
        """Erase the key and keystream; the stream is unusable afterwards."""
        lib.mtc_aes256_wipe(ffi.addressof(self._state, "aes"))
        ffi.memmove(self._state.keystream, bytes(16), 16)

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state is not None:
            lib.mtc_aes256_wipe(ffi.addressof(state, "aes"))


_CTR_STREAM = lib.mtc_ctr256_stream
