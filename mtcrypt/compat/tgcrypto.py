"""A drop-in for Pyrogram's ``tgcrypto`` module.

``import mtcrypt.compat.tgcrypto as tgcrypto`` gives the same functions with
the same semantics: IGE does not touch the IV; CTR updates ``iv`` (the counter)
and ``state`` (the offset into the current keystream block) in place, so
consecutive calls continue one stream; CBC writes the last ciphertext block
back into ``iv``.  Empty data is rejected, as tgcrypto does.
"""

from __future__ import annotations

from .._native import ffi, lib
from .._native.status import check
from .._validation import BytesLike, finish_output, fixed, new_output, readable, writable
from ..crypto import aes as _aes
from ..errors import InvalidArgument, InvalidLength

__all__ = [
    "cbc256_decrypt",
    "cbc256_encrypt",
    "ctr256_decrypt",
    "ctr256_encrypt",
    "ige256_decrypt",
    "ige256_encrypt",
]


def _nonempty(data: object) -> None:
    if readable(data, "data")[1] == 0:
        raise InvalidLength("Data must not be empty")


def ige256_encrypt(data: BytesLike, key: BytesLike, iv: BytesLike) -> bytes:
    """AES-256-IGE encryption (tgcrypto signature)."""
    _nonempty(data)
    return _aes.ige256_encrypt(data, key, iv)


def ige256_decrypt(data: BytesLike, key: BytesLike, iv: BytesLike) -> bytes:
    """AES-256-IGE decryption (tgcrypto signature)."""
    _nonempty(data)
    return _aes.ige256_decrypt(data, key, iv)


def _ctr(data: BytesLike, key: BytesLike, iv: BytesLike, state: BytesLike) -> bytes:
    src, n = readable(data, "data")
    if n == 0:
        raise InvalidLength("Data must not be empty")
    k = fixed(key, 32, "key")
    counter, niv = writable(iv, "iv")
    if niv != 16:
        raise InvalidLength(f"iv must be 16 bytes long, got {niv}")
    state_buf, nst = writable(state, "state")
    if nst != 1:
        raise InvalidLength(f"state must be 1 byte long, got {nst}")
    st = ffi.cast("uint8_t *", state_buf)
    offset = st[0]
    if offset > 15:
        raise InvalidArgument("State value must be in the range [0, 15]")
    ctx = ffi.new("mtc_aes256 *")
    check(lib.mtc_aes256_init(ctx, k), "CTR")
    # tgcrypto's iv is the counter block in use and state how much of its
    # keystream is consumed; the core keeps the *next* counter and a buffered
    # keystream block, so regenerate the partly used block first.
    keystream = ffi.new("uint8_t[16]")
    next_counter = ffi.new("uint8_t[16]")
    ffi.memmove(next_counter, counter, 16)
    pos = ffi.new("unsigned int *", 16)
    if offset:
        check(lib.mtc_ctr256(ctx, next_counter, keystream, pos, bytes(16), keystream, 16), "CTR")
        pos[0] = offset
    ptr, obj = new_output(n)
    try:
        check(lib.mtc_ctr256(ctx, next_counter, keystream, pos, src, ptr, n), "CTR")
    finally:
        lib.mtc_aes256_wipe(ctx)
    used = pos[0]
    # Translate back: the block in use is next_counter - 1 unless fully used.
    if used >= 16:
        ffi.memmove(counter, next_counter, 16)
        st[0] = 0
    else:
        prev = int.from_bytes(ffi.buffer(next_counter, 16), "big") - 1
        ffi.memmove(counter, (prev % (1 << 128)).to_bytes(16, "big"), 16)
        st[0] = used
    return finish_output(obj, n)


def ctr256_encrypt(data: BytesLike, key: BytesLike, iv: BytesLike, state: BytesLike) -> bytes:
    """AES-256-CTR (tgcrypto signature); ``iv`` and ``state`` are updated in place."""
    return _ctr(data, key, iv, state)


def ctr256_decrypt(data: BytesLike, key: BytesLike, iv: BytesLike, state: BytesLike) -> bytes:
    """Same as :func:`ctr256_encrypt` (CTR is symmetric)."""
    return _ctr(data, key, iv, state)


def _cbc(decrypt: bool, data: BytesLike, key: BytesLike, iv: BytesLike) -> bytes:
    src, n = readable(data, "data")
    if n == 0:
        raise InvalidLength("Data must not be empty")
    ivw, niv = writable(iv, "iv")
    if niv != 16:
        raise InvalidLength(f"iv must be 16 bytes long, got {niv}")
    cipher = _aes.Aes256(key)
    try:
        fn = lib.mtc_cbc256_decrypt if decrypt else lib.mtc_cbc256_encrypt
        if n & 15:
            raise InvalidLength(f"Data size must match a multiple of 16 bytes, got {n}")
        ptr, obj = new_output(n)
        chain = ffi.new("uint8_t[16]")
        ffi.memmove(chain, ivw, 16)
        check(fn(cipher._ctx, chain, src, ptr, n), "CBC")
        ffi.memmove(ivw, chain, 16)
        return finish_output(obj, n)
    finally:
        cipher.wipe()


def cbc256_encrypt(data: BytesLike, key: BytesLike, iv: BytesLike) -> bytes:
    """AES-256-CBC encryption (tgcrypto signature); ``iv`` receives the last block."""
    return _cbc(False, data, key, iv)


def cbc256_decrypt(data: BytesLike, key: BytesLike, iv: BytesLike) -> bytes:
    """AES-256-CBC decryption (tgcrypto signature); ``iv`` receives the last block."""
    return _cbc(True, data, key, iv)
