"""MTProto 2.0 message encryption: one native call per message.

``encrypt_message`` takes the inner plaintext
``salt | session_id | msg_id | seq_no | length | body``, appends 12..1024
random padding bytes, computes msg_key and the KDF and encrypts with IGE, all
in C.  ``decrypt_message`` does the reverse and checks, in this order and
without an early exit: msg_key (constant time, over the whole decrypted
buffer), then the length field and the padding length.  Every failure raises
the same :class:`~mtcrypt.errors.DecryptionFailed`.

Direction is always explicit: ``from_server=False`` for client-to-server
messages (x = 0 in the spec), ``True`` for server-to-client (x = 8).
"""

from __future__ import annotations

import struct
import threading
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from .._native import HOT, ffi, lib
from .._native.status import check
from .._random import random_bytes
from .._validation import (
    BytesLike,
    Rng,
    draw,
    finish_output,
    is_int,
    new_output,
    readable,
)
from ..errors import DecryptionFailed, InvalidArgument, InvalidLength
from .authkey import AuthKey, require_auth_key

__all__ = [
    "HEADER_SIZE",
    "MAX_PADDING",
    "MIN_PADDING",
    "InnerMessage",
    "decrypt_message",
    "decrypt_messages",
    "encrypt_message",
    "encrypt_message_quick_ack",
    "encrypt_messages",
    "kdf2",
    "padding_length",
]

HEADER_SIZE = 32
"""salt(8) + session_id(8) + msg_id(8) + seq_no(4) + length(4)."""
MIN_PADDING = 12
MAX_PADDING = 1024
MAX_PACKET = 1 << 30
_EXTERNAL = 24  # auth_key_id + msg_key

_MIN_PACKET = _EXTERNAL + HEADER_SIZE + 16
_NULL = ffi.NULL
_SEAL = lib.mtc_msg_seal
_HOT_SEAL = HOT.msg_seal_random  # the plain cases in one native call (or None)
_HOT_OPEN = HOT.msg_open
_HOT_OPEN_PADDED = HOT.msg_open_padded
_HOT_SEAL_BATCH = HOT.msg_seal_batch
_HOT_OPEN_BATCH = HOT.msg_open_batch
_OPEN = lib.mtc_msg_open
_HEADER = struct.Struct("<qqqii")


@dataclass(frozen=True, slots=True)
class InnerMessage:
    """The fields of a decrypted message (``body`` is the TL-serialized data)."""

    salt: int
    session_id: int
    msg_id: int
    seq_no: int
    body: bytes

    @classmethod
    def parse(cls, plaintext: bytes) -> InnerMessage:
        """Split ``decrypt_message`` output into its fields."""
        if len(plaintext) < HEADER_SIZE:
            raise InvalidLength(f"inner message must be at least {HEADER_SIZE} bytes")
        salt, session_id, msg_id, seq_no, length = _HEADER.unpack_from(plaintext)
        if length != len(plaintext) - HEADER_SIZE:
            raise InvalidArgument("inner message length field does not match its size")
        return cls(salt, session_id, msg_id, seq_no, plaintext[HEADER_SIZE:])

    def pack(self) -> bytes:
        """The plaintext ``encrypt_message`` expects."""
        return (
            _HEADER.pack(self.salt, self.session_id, self.msg_id, self.seq_no, len(self.body))
            + self.body
        )


def kdf2(auth_key: AuthKey, msg_key: BytesLike, *, from_server: bool) -> tuple[bytes, bytes]:
    """The MTProto 2.0 KDF: ``(aes_key, aes_iv)`` for ``msg_key`` under ``auth_key``."""
    key = require_auth_key(auth_key)
    mk, n = readable(msg_key, "msg_key")
    if n != 16:
        raise InvalidLength(f"msg_key must be 16 bytes long, got {n}")
    out = ffi.new("uint8_t[64]")
    check(lib.mtc_kdf2(key._key, 8 if from_server else 0, mk, out, out + 32), "KDF")
    raw = ffi.buffer(out, 64)[:]
    return raw[:32], raw[32:]


def padding_length(plain_len: int, extra_blocks: int = 0) -> int:
    """The padding for a plaintext of ``plain_len`` bytes: the least of
    12..27 that reaches a multiple of 16, plus ``extra_blocks`` * 16 (to hide
    lengths); never more than 1024."""
    base = MIN_PADDING + (-(plain_len + MIN_PADDING) % 16)
    if not is_int(extra_blocks) or extra_blocks < 0:
        raise InvalidArgument("extra_blocks must be a non-negative int")
    total = base + 16 * extra_blocks
    if total > MAX_PADDING:
        raise InvalidArgument(
            f"extra_blocks={extra_blocks} makes the padding {total} bytes; the maximum is 1024"
        )
    return total


def _check_plaintext(plaintext: object) -> tuple[object, int]:
    src, n = readable(plaintext, "plaintext")
    if n < HEADER_SIZE:
        raise InvalidLength(f"plaintext must hold the {HEADER_SIZE}-byte header, got {n} bytes")
    if n > MAX_PACKET:
        raise InvalidLength(f"plaintext is larger than {MAX_PACKET} bytes")
    view = plaintext if type(plaintext) is bytes else memoryview(plaintext)  # type: ignore[arg-type]
    (length,) = struct.unpack_from("<i", view, 28)
    if length != n - HEADER_SIZE or length & 3:
        raise InvalidArgument(
            "plaintext length field must equal the body size, a multiple of 4 "
            f"(field says {length}, body is {n - HEADER_SIZE} bytes)"
        )
    return src, n


# duplicates: deliberate -- encrypt_message_quick_ack takes the same public signature and both
# seal through _seal; only what they return differs.
def encrypt_message(
    auth_key: AuthKey,
    plaintext: BytesLike,
    *,
    from_server: bool,
    extra_padding_blocks: int = 0,
    rng: Rng = random_bytes,
) -> bytes:
    """Seal one message: ``auth_key_id | msg_key | AES-IGE(plaintext | padding)``.

    ``plaintext`` is ``salt | session_id | msg_id | seq_no | length | body``
    (see :meth:`InnerMessage.pack`); its length field must match the body.
    Padding is random, 12..27 bytes plus ``extra_padding_blocks`` * 16.
    """
    # The common call in one native call: padding comes from the native
    # generator (seeded from the OS CSPRNG).  The core re-checks the header;
    # anything else (or a refusal) takes the slow path, which explains it.
    if type(auth_key) is AuthKey and rng is random_bytes:
        out = _HOT_SEAL(
            auth_key._key,
            auth_key.key_id_bytes,
            8 if from_server else 0,
            plaintext,
            extra_padding_blocks,
        )
        if out is not None:
            return out  # type: ignore[no-any-return]
    return _seal(auth_key, plaintext, from_server, extra_padding_blocks, rng, None)


def _seal_parts(
    auth_key: AuthKey, head: bytes, tail: bytes, *, from_server: bool, rng: Rng
) -> bytes:
    """:func:`encrypt_message` of ``head + tail`` without joining them first: the
    session's large bodies are copied once, into the packet."""
    if type(auth_key) is AuthKey and rng is random_bytes:
        x = 8 if from_server else 0
        out = _HOT_SEAL(auth_key._key, auth_key.key_id_bytes, x, head, 0, tail)
        if out is not None:
            return out  # type: ignore[no-any-return]
    return encrypt_message(auth_key, head + tail, from_server=from_server, rng=rng)


def _sealed_size(plain_len: int) -> int:
    """The size of the packet :func:`_seal_parts_into` makes of ``plain_len`` bytes."""
    return _EXTERNAL + plain_len + padding_length(plain_len)


def _seal_parts_into(
    auth_key: AuthKey, head: bytes, tail: bytes, out: memoryview, *, from_server: bool, rng: Rng
) -> None:
    """:func:`_seal_parts` into ``out`` (a writable view of exactly
    ``_sealed_size(len(head) + len(tail))`` bytes, e.g. inside a transport
    frame): the packet is made where it is sent from, with no copy after the
    seal.  The same bytes as :func:`encrypt_message` for the same padding."""
    key = require_auth_key(auth_key)
    n = len(head) + len(tail)
    if out.nbytes != _sealed_size(n):
        raise InvalidLength(f"a sealed {n}-byte plaintext takes {_sealed_size(n)} bytes")
    dst = ffi.from_buffer(out, require_writable=True)
    x = 8 if from_server else 0
    if rng is random_bytes:  # padding from the native generator, the pieces read in place
        rc = lib.mtc_msg_seal_random_parts(
            key._key, key.key_id_bytes, x, head, len(head), tail, len(tail), 0, dst
        )
    else:  # the plaintext laid out where it is encrypted, the padding from rng (drawn
        # first: a failing rng leaves no plaintext behind in the buffer)
        pad_len = padding_length(n)
        padding = draw(rng, pad_len)
        start = _EXTERNAL + len(head)
        out[_EXTERNAL:start] = head
        out[start : start + len(tail)] = tail
        rc = _SEAL(key._key, key.key_id_bytes, x, dst + _EXTERNAL, n, padding, pad_len, dst, _NULL)
    if rc != 0:
        lib.mtc_wipe(dst, out.nbytes)
        _check_plaintext(head + tail)  # names what is wrong with it
        check(rc, "message seal")


def encrypt_message_quick_ack(
    auth_key: AuthKey,
    plaintext: BytesLike,
    *,
    from_server: bool,
    extra_padding_blocks: int = 0,
    rng: Rng = random_bytes,
) -> tuple[bytes, int]:
    """Like :func:`encrypt_message`, also returning the quick-ack token the
    receiver will answer with (``msg_key_large[0:4]`` as LE uint32, top bit set)."""
    large = ffi.new("uint8_t[32]")
    packet = _seal(auth_key, plaintext, from_server, extra_padding_blocks, rng, large)
    token = int.from_bytes(ffi.buffer(large, 4), "little") | 0x80000000
    return packet, token


def _seal(
    auth_key: AuthKey,
    plaintext: BytesLike,
    from_server: bool,
    extra_blocks: int,
    rng: Rng,
    large: object,
) -> bytes:
    key = require_auth_key(auth_key)
    src, n = _check_plaintext(plaintext)
    pad_len = padding_length(n, extra_blocks)
    padding = draw(rng, pad_len)
    size = _EXTERNAL + n + pad_len
    out, result = new_output(size)
    rc = _SEAL(
        key._key,
        key.key_id_bytes,
        8 if from_server else 0,
        src,
        n,
        padding,
        pad_len,
        out,
        ffi.NULL if large is None else large,
    )
    check(rc, "message seal")
    return finish_output(result, size)


def decrypt_message(auth_key: AuthKey, packet: BytesLike, *, from_server: bool) -> bytes:
    """Open one message; returns ``salt | session_id | msg_id | seq_no | length | body``
    (padding removed).  Raises :class:`DecryptionFailed` for every kind of
    failure, indistinguishably."""
    if type(auth_key) is AuthKey:  # the plain case in one native call
        plain = _HOT_OPEN(auth_key._key, auth_key.key_id_bytes, 8 if from_server else 0, packet)
        if type(plain) is bytes:
            return plain
        if plain is False:
            raise DecryptionFailed()
    plain, length = _open_padded(auth_key, packet, from_server=from_server)
    return plain[: HEADER_SIZE + length]


def _open_padded(auth_key: AuthKey, packet: BytesLike, *, from_server: bool) -> tuple[bytes, int]:
    """:func:`decrypt_message` without its final copy, for the session: the
    decrypted plaintext with its padding still at the end, and the data length
    (the message is the first ``HEADER_SIZE + length`` bytes).  For a large
    message that saves a copy and a fresh buffer's page faults."""
    key = require_auth_key(auth_key)
    x = 8 if from_server else 0
    opened = _HOT_OPEN_PADDED(key._key, key.key_id_bytes, x, packet)
    if type(opened) is tuple:
        return opened
    if opened is False:
        raise DecryptionFailed()
    src, n = readable(packet, "packet")  # not bytes: the validating path
    if n < _MIN_PACKET:
        raise DecryptionFailed()
    out, result = new_output(n - _EXTERNAL)
    rc = _OPEN(key._key, key.key_id_bytes, x, src, n, out)
    if rc < 0:
        raise DecryptionFailed()
    return finish_output(result, n - _EXTERNAL), rc


class _Scratch(threading.local):
    buf = bytearray()


_SCRATCH = _Scratch()


def _scratch(size: int) -> bytearray:
    """A per-thread buffer of at least ``size`` bytes, reused across calls."""
    buf = _SCRATCH.buf
    if len(buf) < size:
        buf = _SCRATCH.buf = bytearray(size + size // 4)
    return buf


def encrypt_messages(
    auth_key: AuthKey,
    plaintexts: Sequence[BytesLike],
    *,
    from_server: bool,
    rng: Rng = random_bytes,
) -> list[bytes]:
    """Seal many messages under one key in a single native call; the AES work
    of all of them is interleaved across the AES pipelines."""
    # The common call in one native call (a list of bytes, the native generator's padding);
    # anything else, or a refusal, takes the path below, which explains it.
    if type(auth_key) is AuthKey and rng is random_bytes:
        sealed = _HOT_SEAL_BATCH(
            auth_key._key, auth_key.key_id_bytes, 8 if from_server else 0, plaintexts
        )
        if sealed is not None:
            return sealed  # type: ignore[no-any-return]
    key = require_auth_key(auth_key)
    parts = [
        p if type(p) is bytes else ffi.buffer(*readable(p, "plaintext"))[:] for p in plaintexts
    ]
    if not parts:
        return []
    plain_lens = array("Q", map(len, parts))
    pad_lens = array("Q", [12 + (-(n + 12) & 15) for n in plain_lens])
    total_pad = sum(pad_lens)
    padding = draw(rng, total_pad)
    total_plain = sum(plain_lens)
    # Reused per-thread buffers: fresh megabyte-sized allocations cost a page
    # fault per 4 KiB, which in a VM is more than the cryptography.
    scratch = _scratch(2 * total_plain + 24 * len(parts) + total_pad)
    view = memoryview(scratch)
    pos = 0
    for part in parts:
        end = pos + len(part)
        view[pos:end] = part
        pos = end
    out = view[total_plain:]
    rc = lib.mtc_msg_seal_batch(
        key._key,
        key.key_id_bytes,
        8 if from_server else 0,
        len(parts),
        ffi.from_buffer(view[:total_plain]),
        ffi.from_buffer("uint64_t[]", plain_lens),
        padding,
        ffi.from_buffer("uint64_t[]", pad_lens),
        ffi.from_buffer(out),
    )
    if rc != 0:
        for plaintext in parts:  # name the offending plaintext
            _check_plaintext(plaintext)
        check(rc, "batch message seal")
    result = []
    pos = 0
    for n, pad in zip(plain_lens, pad_lens, strict=True):
        end = pos + 24 + n + pad
        result.append(bytes(out[pos:end]))
        pos = end
    return result


def decrypt_messages(
    auth_key: AuthKey, packets: Sequence[BytesLike], *, from_server: bool
) -> list[bytes | DecryptionFailed]:
    """Open many messages under one key in a single native call.

    Returns, per packet, the plaintext (as :func:`decrypt_message`) or a
    :class:`DecryptionFailed` instance in its place; a bad packet does not
    stop the others.
    """
    if type(auth_key) is AuthKey:
        x = 8 if from_server else 0
        opened = _HOT_OPEN_BATCH(auth_key._key, auth_key.key_id_bytes, x, packets, None)
        if type(opened) is int:  # too large for the entry's own room: lend it the scratch
            opened = _HOT_OPEN_BATCH(
                auth_key._key, auth_key.key_id_bytes, x, packets, _scratch(opened)
            )
        if type(opened) is list:  # else not the plain case, or the list changed meanwhile
            if False in opened:
                return [p if p is not False else DecryptionFailed() for p in opened]
            return opened
    key = require_auth_key(auth_key)
    blobs = [p if type(p) is bytes else ffi.buffer(*readable(p, "packet"))[:] for p in packets]
    if not blobs:
        return []
    lens = array("Q", map(len, blobs))
    total_in = sum(lens)
    scratch = memoryview(_scratch(2 * total_in))
    pos = 0
    for blob in blobs:
        end = pos + len(blob)
        scratch[pos:end] = blob
        pos = end
    plains = scratch[total_in:]
    results = array("i", bytes(4 * len(blobs)))
    rc = lib.mtc_msg_open_batch(
        key._key,
        key.key_id_bytes,
        8 if from_server else 0,
        len(blobs),
        ffi.from_buffer(scratch[:total_in]),
        ffi.from_buffer("uint64_t[]", lens),
        ffi.from_buffer(plains),
        ffi.from_buffer("int[]", results),
    )
    check(rc, "batch message open")
    view = plains
    out: list[bytes | DecryptionFailed] = []
    pos = 0
    for n, status in zip(lens, results, strict=True):
        if status >= 0:
            out.append(bytes(view[pos : pos + HEADER_SIZE + status]))
        else:
            out.append(DecryptionFailed())
        if n >= _EXTERNAL:
            pos += n - _EXTERNAL
    lib.mtc_wipe(ffi.from_buffer(plains), pos)  # no plaintext left in the scratch buffer
    return out
