"""The cffi twin of the fast entry (``_fastcall.c``): the same functions,
the same contract, through cffi.

It serves where the fast entry is not built (another interpreter, a build
without it) and under ``MTCRYPT_ENTRY=cffi``, which CI uses to run the whole
suite through this path as well.  The contract, as in ``_fastcall.c``: each
function handles the plain case (exact ``bytes`` of valid lengths) and
returns None for anything else, so the caller falls back to its fully
validating path, which raises the documented error.
"""

from __future__ import annotations

import platform
from typing import Any

from . import ffi, lib

__all__ = [
    "ige256",
    "ige256_batch",
    "ige256_batch_into",
    "msg_open",
    "msg_open_batch",
    "msg_open_padded",
    "msg_seal_batch",
    "msg_seal_random",
]

# The core writes into fresh ``bytes`` objects (CPython passes their storage to
# C); elsewhere it writes into cffi buffers that are copied out.
_FILL_FRESH_BYTES = platform.python_implementation() == "CPython"
_IGE = (lib.mtc_ige256_encrypt_key, lib.mtc_ige256_decrypt_key)
_SEAL_PARTS = lib.mtc_msg_seal_random_parts
_OPEN = lib.mtc_msg_open
_MAX_EXTRA_BLOCKS = 64  # as the fast entry; the padding limit (1024) is checked too
_MIN_PACKET = 24 + 32 + 16


def _fresh(n: int) -> tuple[Any, Any]:
    if _FILL_FRESH_BYTES:
        out = bytes(n)
        return out, out
    buf = ffi.new("uint8_t[]", n)
    return buf, buf


def _finish(obj: Any, n: int) -> bytes:
    return obj if type(obj) is bytes else ffi.buffer(obj, n)[:]


def _plain_ige(data: object, key: object, iv: object) -> bool:
    """bytes data (a non-empty multiple of 16) with a 32-byte bytes key and iv."""
    return (
        type(data) is bytes
        and type(key) is bytes
        and type(iv) is bytes
        and len(data) > 0
        and not len(data) & 15
        and len(key) == 32
        and len(iv) == 32
    )


def ige256(decrypt: object, data: object, key: object, iv: object) -> bytes | None:
    if not _plain_ige(data, key, iv):
        return None
    assert isinstance(data, bytes)
    n = len(data)
    ptr, obj = _fresh(n)
    rc = _IGE[1 if decrypt else 0](key, iv, data, ptr, n)
    return None if rc else _finish(obj, n)  # a refusal: the slow path explains it


def ige256_batch(decrypt: object, items: object) -> list[bytes] | None:
    if type(items) is not list or not items:  # exactly list (and tuple), as the fast entry
        return None
    snapshot = tuple(items)
    count = len(snapshot)
    keys = ffi.new("uint8_t *[]", count)
    ivs = ffi.new("uint8_t *[]", count)
    ins = ffi.new("uint8_t *[]", count)
    outs = ffi.new("uint8_t *[]", count)
    lens = ffi.new("uint64_t[]", count)
    keep = []  # the cffi views must outlive the call
    results = []
    for i, item in enumerate(snapshot):
        if type(item) is not tuple or len(item) != 3:
            return None
        data, key, iv = item
        if not _plain_ige(data, key, iv):
            return None
        n = len(data)
        ptr, obj = _fresh(n)
        views = (ffi.from_buffer(key), ffi.from_buffer(iv), ffi.from_buffer(data))
        out_view = ffi.from_buffer(ptr) if type(ptr) is bytes else ptr
        keep.append((views, out_view))
        keys[i], ivs[i], ins[i], outs[i] = views[0], views[1], views[2], out_view
        lens[i] = n
        results.append(obj)
    rc = lib.mtc_ige256_batch_ptrs(1 if decrypt else 0, count, keys, ivs, lens, ins, outs)
    if rc:
        return None
    return [_finish(obj, int(lens[i])) for i, obj in enumerate(results)]


def ige256_batch_into(
    decrypt: object, data: object, keys: object, ivs: object, lengths: object, out: object
) -> bool | None:
    if (
        type(data) is not bytes
        or type(keys) is not bytes
        or type(ivs) is not bytes
        or not (type(lengths) is list or type(lengths) is tuple)
    ):
        return None
    snapshot: tuple[object, ...] = tuple(lengths)
    count = len(snapshot)
    if not count or len(keys) != 32 * count or len(ivs) != 32 * count:
        return None
    sizes = [n for n in snapshot if type(n) is int and n >= 0 and not n & 15]
    if len(sizes) != count or sum(sizes) != len(data):
        return None
    try:
        dst = ffi.from_buffer(out, require_writable=True)
    except (TypeError, ValueError, BufferError):
        return None
    if len(dst) != len(data):
        return None
    src = ffi.from_buffer(data)
    a, b, n = int(ffi.cast("uintptr_t", src)), int(ffi.cast("uintptr_t", dst)), len(data)
    if n and a != b and a < b + n and b < a + n:  # shifted: the slow path refuses it
        return None
    lens = ffi.new("uint64_t[]", sizes)
    rc = lib.mtc_ige256_batch(1 if decrypt else 0, count, keys, ivs, lens, src, dst)
    return None if rc else True


def msg_seal_random(
    auth_key: object,
    key_id: object,
    x: object,
    plain: object,
    extra_blocks: object,
    tail: object = b"",
) -> bytes | None:
    if (
        type(auth_key) is not bytes
        or type(key_id) is not bytes
        or type(plain) is not bytes
        or type(tail) is not bytes
        or type(x) is not int
        or type(extra_blocks) is not int
    ):
        return None
    n = len(plain) + len(tail)
    if len(auth_key) != 256 or len(key_id) != 8 or x not in (0, 8) or len(plain) < 32 or n & 3:
        return None
    if not 0 <= extra_blocks <= _MAX_EXTRA_BLOCKS:
        return None
    pad_len = 12 + (-(n + 12) & 15) + 16 * extra_blocks
    if pad_len > 1024:
        return None
    size = 24 + n + pad_len
    ptr, obj = _fresh(size)
    rc = _SEAL_PARTS(auth_key, key_id, x, plain, len(plain), tail, len(tail), extra_blocks, ptr)
    return _finish(obj, size) if rc == 0 else None


def _open(
    auth_key: object, key_id: object, x: object, packet: object
) -> tuple[bytes, int] | bool | None:
    """The decrypted plaintext with its padding and the data length, False for
    the one decryption failure, None when not the plain case."""
    if (
        type(auth_key) is not bytes
        or type(key_id) is not bytes
        or type(packet) is not bytes
        or type(x) is not int
    ):
        return None
    if len(auth_key) != 256 or len(key_id) != 8 or x not in (0, 8):
        return None
    n = len(packet)
    if n < _MIN_PACKET:
        return False
    ptr, obj = _fresh(n - 24)
    rc = _OPEN(auth_key, key_id, x, packet, n, ptr)
    if rc >= 0:
        return _finish(obj, n - 24), rc
    return False if rc == lib.MTC_ERR_DECRYPT else None


def msg_open(auth_key: object, key_id: object, x: object, packet: object) -> bytes | bool | None:
    opened = _open(auth_key, key_id, x, packet)
    if type(opened) is tuple:
        plain, length = opened
        message = plain[: 32 + length]
        # Our own fresh object, seen by nobody: no plaintext left behind in it.
        lib.mtc_wipe(ffi.from_buffer(plain), len(plain))
        return message
    return opened  # type: ignore[return-value]


def msg_open_padded(
    auth_key: object, key_id: object, x: object, packet: object
) -> tuple[bytes, int] | bool | None:
    return _open(auth_key, key_id, x, packet)


def _batch_key_args(auth_key: object, key_id: object, x: object, items: object) -> bool:
    """The arguments both message batches take, in the plain case."""
    return (
        type(auth_key) is bytes
        and type(key_id) is bytes
        and type(x) is int
        and type(items) is list
        and len(items) > 0
        and len(auth_key) == 256
        and len(key_id) == 8
        and x in (0, 8)
    )


def msg_seal_batch(
    auth_key: object, key_id: object, x: object, plains: object
) -> list[bytes] | None:
    if not _batch_key_args(auth_key, key_id, x, plains):
        return None
    assert isinstance(plains, list)
    snapshot = tuple(plains)
    if not all(type(p) is bytes and len(p) >= 32 and not len(p) & 3 for p in snapshot):
        return None
    count = len(snapshot)
    ins = ffi.new("uint8_t *[]", count)
    outs = ffi.new("uint8_t *[]", count)
    lens = ffi.new("uint64_t[]", [len(p) for p in snapshot])
    keep, results = [], []
    for i, plain in enumerate(snapshot):
        size = 24 + len(plain) + 12 + (-(len(plain) + 12) & 15)
        ptr, obj = _fresh(size)
        views = (ffi.from_buffer(plain), ffi.from_buffer(ptr) if type(ptr) is bytes else ptr)
        keep.append(views)
        ins[i], outs[i] = views
        results.append((obj, size))
    rc = lib.mtc_msg_seal_random_batch(auth_key, key_id, x, count, ins, lens, outs)
    return None if rc else [_finish(obj, size) for obj, size in results]


_OPEN_BATCH_STACK = 16384  # as the fast entry: small batches need no scratch


def msg_open_batch(
    auth_key: object, key_id: object, x: object, packets: object, scratch: object
) -> list[bytes | bool] | int | None:
    if not _batch_key_args(auth_key, key_id, x, packets):
        return None
    assert isinstance(packets, list)
    snapshot = tuple(packets)
    if not all(type(p) is bytes for p in snapshot):
        return None
    used = sum(len(p) - 24 for p in snapshot if len(p) >= 24)
    if scratch is None:
        if used > _OPEN_BATCH_STACK:
            return used
        buf = ffi.new("uint8_t[]", max(used, 1))
    else:
        try:
            buf = ffi.from_buffer(scratch, require_writable=True)
        except (TypeError, ValueError, BufferError):
            return None
        if used > len(buf):
            return used
    count = len(snapshot)
    ins = ffi.new("uint8_t *[]", count)
    outs = ffi.new("uint8_t *[]", count)
    lens = ffi.new("uint64_t[]", [len(p) for p in snapshot])
    status = ffi.new("int[]", count)
    keep, at = [], 0
    for i, packet in enumerate(snapshot):
        if len(packet) >= 24:
            outs[i] = buf + at
            at += len(packet) - 24
        ins[i] = ffi.from_buffer(packet)
        keep.append(ins[i])
    rc = lib.mtc_msg_open_batch_ptrs(auth_key, key_id, x, count, ins, lens, outs, status)
    out: list[bytes | bool] | None = None
    if rc == 0:  # the statuses mean something only then
        out = [
            ffi.buffer(outs[i], 32 + status[i])[:] if status[i] >= 0 else False
            for i in range(count)
        ]
    lib.mtc_wipe(buf, used)  # no plaintext left in the scratch
    return out
