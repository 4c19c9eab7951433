"""Mutators for secret-chat packets: what an attacker on the wire, or a
malicious peer, can do. Pure functions, no randomness of their own; used by
the tests and by :mod:`mtcrypt.e2e.strategies`.

Wire attacker (no key): :func:`flip_bit`, :func:`truncate`, :func:`extend`,
:func:`swap_blocks`, :func:`replace_fingerprint`, :func:`splice`. Every one of
them must make ``decrypt_e2e``/``SecretChat.receive`` raise
:class:`~mtcrypt.errors.DecryptionFailed`. Replays and reordering need no
mutator (deliver a packet twice, or in another order).

Malicious peer (holds the key): :func:`forge` seals any ``decryptedMessageLayer``
with any sequence numbers, and :func:`reseal` re-encrypts a real packet with
its fields changed; the chat must then apply the sequence-number rules.
"""

from __future__ import annotations

from dataclasses import replace

from .._random import random_bytes
from .._validation import Rng
from ..errors import InvalidArgument
from ..mtproto import AuthKey
from ..tl import TLObject
from .crypto import E2E_HEADER_SIZE, decrypt_e2e, encrypt_e2e
from .legacy import encrypt_e2e_v1
from .tl import LAYER, decode_layer, encode_layer

__all__ = [
    "extend",
    "flip_bit",
    "forge",
    "replace_fingerprint",
    "reseal",
    "splice",
    "swap_blocks",
    "truncate",
]


def flip_bit(packet: bytes, bit: int) -> bytes:
    """``packet`` with bit number ``bit`` (mod its length in bits) inverted."""
    if not packet:
        raise InvalidArgument("empty packet")
    bit %= 8 * len(packet)
    out = bytearray(packet)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def truncate(packet: bytes, n: int) -> bytes:
    """The first ``n`` bytes (mod the length + 1)."""
    return packet[: n % (len(packet) + 1)]


def extend(packet: bytes, extra: bytes) -> bytes:
    """``packet`` with ``extra`` appended (e.g. one more IGE block)."""
    return packet + extra


def swap_blocks(packet: bytes, i: int, j: int) -> bytes:
    """Swap two 16-byte ciphertext blocks (indices mod the block count)."""
    body = bytearray(packet[E2E_HEADER_SIZE:])
    blocks = len(body) // 16
    if blocks < 2:
        return packet
    i, j = i % blocks, j % blocks
    a, b = body[16 * i : 16 * i + 16], body[16 * j : 16 * j + 16]
    body[16 * i : 16 * i + 16], body[16 * j : 16 * j + 16] = b, a
    return packet[:E2E_HEADER_SIZE] + bytes(body)


def replace_fingerprint(packet: bytes, fingerprint: bytes) -> bytes:
    """``packet`` claiming another key (8-byte fingerprint)."""
    if len(fingerprint) != 8:
        raise InvalidArgument("fingerprint must be 8 bytes")
    return fingerprint + packet[8:]


def splice(first: bytes, second: bytes, at_block: int) -> bytes:
    """Header and ciphertext blocks of ``first`` up to ``at_block``, then the
    rest of ``second``'s ciphertext: a cut-and-paste of two messages."""
    cut = E2E_HEADER_SIZE + 16 * max(0, at_block)
    return first[:cut] + second[cut:]


# duplicates: deliberate -- a public keyword-only signature, one override per field: it reads
# like the kit's other keyword-only signatures.
def forge(
    key: AuthKey,
    *,
    from_creator: bool,
    in_seq_no: int,
    out_seq_no: int,
    message: TLObject,
    layer: int = LAYER,
    random_bytes_: bytes | None = None,
    mtproto_version: int = 2,
    rng: Rng = random_bytes,
) -> bytes:
    """Seal an arbitrary ``decryptedMessageLayer`` under ``key``, as a peer
    holding the key could (``mtproto_version=1``: the LEGACY form, x = 0)."""
    payload = encode_layer(
        random_bytes=rng(31) if random_bytes_ is None else random_bytes_,
        layer=layer,
        in_seq_no=in_seq_no,
        out_seq_no=out_seq_no,
        message=message,
    )
    if mtproto_version == 1:
        return encrypt_e2e_v1(key, payload, rng=rng)
    return encrypt_e2e(key, payload, from_creator=from_creator, rng=rng)


def reseal(
    key: AuthKey,
    packet: bytes,
    *,
    from_creator: bool,
    rng: Rng = random_bytes,
    **changes: object,
) -> bytes:
    """Decrypt a real packet and seal it again with some of its layer fields
    (``in_seq_no``, ``out_seq_no``, ``layer``, ``random_bytes``, ``message``)
    changed."""
    decoded = decode_layer(decrypt_e2e(key, packet, from_creator=from_creator))
    if decoded.message is None:
        raise InvalidArgument("the packet's message cannot be decoded")
    changed = replace(decoded, **changes)  # type: ignore[arg-type]
    assert changed.message is not None
    return encrypt_e2e(
        key,
        encode_layer(
            random_bytes=changed.random_bytes,
            layer=changed.layer,
            in_seq_no=changed.in_seq_no,
            out_seq_no=changed.out_seq_no,
            message=changed.message,
        ),
        from_creator=from_creator,
        rng=rng,
    )
