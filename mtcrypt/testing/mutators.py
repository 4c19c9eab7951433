"""Structured mutations that target the checks an MTProto implementation must make.

Each mutator is a small pure function (no randomness of its own unless it
takes ``rng``) whose docstring names the check it targets, by its item in the
hardening checklist (C = record layer, H = handshake, T = transport; the
items are listed in ``docs/guides/fuzzing.md``).  They are the building blocks of the
conformance scenarios (:mod:`mtcrypt.testing.conformance`) and of the
regression tests that show mtcrypt's own implementation rejects every one.

Record layer, as a wire attacker without the key would do it (C1/C2):
:func:`flip_bit`, :func:`flip_msg_key`, :func:`flip_auth_key_id`,
:func:`truncate`, :func:`extend`, :func:`forge_msg_key`.

Record layer, **authentic** packets (valid msg_key: only the checks made
after the MAC can catch them, C3): :func:`seal_raw` seals any plaintext
bytes, :func:`seal_with` seals an :class:`~mtcrypt.mtproto.InnerMessage`
with a chosen padding length and length field, and :func:`padding_too_long`,
:func:`padding_too_short`, :func:`length_not_multiple_of_4`,
:func:`length_exceeds_plaintext`, :func:`length_negative` and
:func:`length_short_of_body` are the named attacks.

Session fields (authentic, C7-C9): :func:`other_session_id`,
:func:`wrong_parity_msg_id`, :func:`too_old_msg_id`, :func:`too_new_msg_id`,
:func:`reuse_msg_id`, :func:`window_filler`, :func:`below_window_msg_id`,
:func:`other_salt`, :func:`unsolicited_bad_server_salt`.  Replay and
reordering need no mutator: deliver a packet twice, or in another order.

Handshake (H1-H5): :func:`tl_replace`, :func:`wrong_nonce`,
:func:`wrong_server_nonce`, :func:`unknown_fingerprints`, :func:`seal_answer`
/ :func:`open_answer` (``server_DH_inner_data`` and ``client_DH_inner_data``
with any hash and padding), :func:`bad_sha1`, :func:`bad_new_nonce_hash`,
:func:`dh_gen_answer`, :func:`dh_params_fail`, the DH parameter sets
:data:`NON_SAFE_PRIME`, :data:`SHORT_SAFE_PRIME`, :func:`non_residue_generator`
and :func:`dh_value_out_of_range`.

Transport (T1-T3): :func:`bad_crc`, :func:`with_seqno`,
:func:`oversized_length`, :func:`forbidden_header`, :func:`bad_hello_hmac`.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import zlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Final, Literal
from zlib import crc32

from .. import tl
from .._random import random_bytes
from .._validation import Rng
from ..crypto import Ctr256, ige256_decrypt, ige256_encrypt, sha1, sha256
from ..e2e import mutators as _e2e_mutators
from ..errors import InvalidArgument
from ..handshake import dh_params_fail_hash, new_nonce_hash, tmp_aes_key_iv
from ..handshake.dh import DH_SAFETY_MARGIN, TELEGRAM_DH_PRIME, g_is_valid_for
from ..mtproto import HEADER_SIZE, MAX_PADDING, MIN_PADDING, AuthKey, InnerMessage, kdf2
from ..transport.events import Framing
from ..transport.faketls import RANDOM_OFFSET as FAKE_TLS_RANDOM_OFFSET
from ..transport.faketls import server_hello_length
from ..transport.framing import DEFAULT_MAX_FRAME
from ..transport.obfuscation import HEADER_SIZE as OBFUSCATION_HEADER_SIZE
from ..transport.obfuscation import derive_keys, is_forbidden_header

__all__ = [
    "CONTAINER_ATTACKS",
    "FORBIDDEN_PREFIXES",
    "GZIP_BOMB_SIZE",
    "LONG_PQ",
    "NON_SAFE_PRIME",
    "SHORT_SAFE_PRIME",
    "bad_crc",
    "bad_hello_hmac",
    "bad_new_nonce_hash",
    "bad_sha1",
    "below_window_msg_id",
    "check_container_attack",
    "dh_gen_answer",
    "dh_params_fail",
    "dh_value_legal_end",
    "dh_value_out_of_range",
    "extend",
    "flip_auth_key_id",
    "flip_bit",
    "flip_msg_key",
    "forbidden_header",
    "forge_msg_key",
    "header_with_tag",
    "length_exceeds_plaintext",
    "length_negative",
    "length_not_multiple_of_4",
    "length_short_of_body",
    "long_pq",
    "malformed_container",
    "msg_key_for",
    "non_residue_generator",
    "open_answer",
    "other_salt",
    "other_session_id",
    "oversized_length",
    "padding_too_long",
    "padding_too_short",
    "reuse_msg_id",
    "seal_answer",
    "seal_raw",
    "seal_with",
    "server_hello_bad_layout",
    "tl_replace",
    "too_new_msg_id",
    "too_old_msg_id",
    "truncate",
    "unknown_fingerprints",
    "unsolicited_bad_server_salt",
    "window_filler",
    "with_seqno",
    "wrong_nonce",
    "wrong_parity_msg_id",
    "wrong_server_nonce",
]

_EXTERNAL = 24  # auth_key_id + msg_key
_HEADER = struct.Struct("<qqqii")

# ---- record layer: a wire attacker (no key) ----------------------------------------


def flip_bit(data: bytes, bit: int) -> bytes:
    """``data`` with bit number ``bit`` (mod its length in bits) inverted.

    Anywhere in an encrypted packet this must fail the msg_key check (C1).
    """
    if not data:
        raise InvalidArgument("cannot flip a bit of empty data")
    return _e2e_mutators.flip_bit(data, bit)


def flip_msg_key(packet: bytes, bit: int = 0) -> bytes:
    """A bit of the msg_key (bytes 8..24) inverted: the receiver derives a
    different AES key, and the MAC over the result must fail (C1, C2)."""
    return flip_bit(packet, 64 + bit % 128)


def flip_auth_key_id(packet: bytes, bit: int = 0) -> bytes:
    """A bit of the auth_key_id (bytes 0..8) inverted: an unknown key, which a
    client must refuse and a server answers with transport error -404 (C1)."""
    return flip_bit(packet, bit % 64)


def truncate(packet: bytes, n: int = 16) -> bytes:
    """``packet`` without its last ``n`` bytes (one IGE block by default; any
    other count leaves a partial block).  Targets the length pre-check
    ``(len - 24) % 16 == 0`` and the MAC over the whole buffer (C1)."""
    if n < 0:
        raise InvalidArgument("n must not be negative")
    return packet[: max(0, len(packet) - n)]


def extend(packet: bytes, extra: bytes = bytes(16)) -> bytes:
    """``packet`` with ``extra`` appended (one more ciphertext block by
    default): the MAC covers the whole decrypted buffer, so it must fail (C1)."""
    return packet + extra


def msg_key_for(auth_key: AuthKey, padded_plaintext: bytes, *, from_server: bool) -> bytes:
    """The MTProto 2.0 msg_key of ``padded_plaintext`` (the spec's formula)."""
    x = 8 if from_server else 0
    large = sha256(auth_key.key[88 + x : 120 + x] + padded_plaintext)
    return large[8:24]


def _encrypt_under(
    auth_key: AuthKey, padded_plaintext: bytes, msg_key: bytes, from_server: bool
) -> bytes:
    if len(padded_plaintext) % 16 or not padded_plaintext:
        raise InvalidArgument("the padded plaintext must be a positive multiple of 16 bytes")
    aes_key, aes_iv = kdf2(auth_key, msg_key, from_server=from_server)
    return auth_key.key_id_bytes + msg_key + ige256_encrypt(padded_plaintext, aes_key, aes_iv)


def forge_msg_key(
    auth_key: AuthKey, padded_plaintext: bytes, *, from_server: bool, msg_key: bytes | None = None
) -> bytes:
    """A packet that decrypts to a well-formed ``padded_plaintext`` but whose
    msg_key is not the MAC of it: ``msg_key`` (default: the right one with a bit
    flipped) is used as the KDF input, so decryption with it yields exactly
    the plaintext.  A receiver that parses or checks any field before the MAC
    sees a valid message; one that checks the MAC first sees only a failure
    (C1, C4, C5)."""
    right = msg_key_for(auth_key, padded_plaintext, from_server=from_server)
    key = flip_bit(right, 0) if msg_key is None else msg_key
    if len(key) != 16:
        raise InvalidArgument("msg_key must be 16 bytes")
    if key == right:
        raise InvalidArgument("the forged msg_key equals the real one")
    return _encrypt_under(auth_key, padded_plaintext, key, from_server)


# ---- record layer: authentic packets (the key holder) --------------------------------


def seal_raw(auth_key: AuthKey, padded_plaintext: bytes, *, from_server: bool) -> bytes:
    """Encrypt ``padded_plaintext`` (any bytes, a multiple of 16) with its
    correct msg_key and **no** check of the fields inside.  Whatever the
    plaintext's length field and padding say, the packet is authentic: only
    the checks made after the MAC can refuse it (C3)."""
    key = msg_key_for(auth_key, padded_plaintext, from_server=from_server)
    return _encrypt_under(auth_key, padded_plaintext, key, from_server)


def _aligned_padding(plain_len: int, minimum: int) -> int:
    """The least padding >= ``minimum`` that makes ``plain_len + padding`` a multiple of 16."""
    pad = -(plain_len) % 16
    while pad < minimum:
        pad += 16
    return pad


def seal_with(
    auth_key: AuthKey,
    message: InnerMessage,
    *,
    from_server: bool,
    padding: int | None = None,
    length: int | None = None,
    rng: Rng = random_bytes,
) -> bytes:
    """Seal ``message`` with ``padding`` random bytes (default: the honest
    12..27) and its length field set to ``length`` (default: the body size).

    The padding must keep the plaintext a multiple of 16 bytes; nothing else
    is checked, so any combination of length field and padding can be sent
    authentically.
    """
    body_len = len(message.body)
    plain_len = HEADER_SIZE + body_len
    pad = _aligned_padding(plain_len, MIN_PADDING) if padding is None else padding
    if pad < 0 or (plain_len + pad) % 16:
        raise InvalidArgument(f"padding {pad} does not align {plain_len} bytes to 16")
    field = body_len if length is None else length
    header = _HEADER.pack(message.salt, message.session_id, message.msg_id, message.seq_no, field)
    return seal_raw(auth_key, header + message.body + rng(pad), from_server=from_server)


def padding_too_long(
    auth_key: AuthKey, message: InnerMessage, *, from_server: bool, rng: Rng = random_bytes
) -> bytes:
    """Authentic packet with more than 1024 bytes of padding (the least aligned
    count above it).  Targets the padding window check after the MAC (C3)."""
    pad = _aligned_padding(HEADER_SIZE + len(message.body), MAX_PADDING + 1)
    return seal_with(auth_key, message, from_server=from_server, padding=pad, rng=rng)


def padding_too_short(
    auth_key: AuthKey, message: InnerMessage, *, from_server: bool, rng: Rng = random_bytes
) -> bytes:
    """Authentic packet with fewer than 12 bytes of padding (0, 4 or 8, as the
    body length allows).  Targets the padding window check after the MAC (C3).

    Raises ``InvalidArgument`` when the body length leaves exactly 12 bytes to
    the next block (``len(body) % 16 == 4``): then no shorter aligned padding
    exists; wrap the body (e.g. in ``rpc_result``) to change its length.
    """
    pad = -(HEADER_SIZE + len(message.body)) % 16
    if pad >= MIN_PADDING:
        raise InvalidArgument("no aligned padding under 12 bytes for this body length")
    return seal_with(auth_key, message, from_server=from_server, padding=pad, rng=rng)


def _roomy_padding(message: InnerMessage) -> int:
    # At least 12 + 16, so a length field a few bytes off still leaves a padding within 12..1024.
    return _aligned_padding(HEADER_SIZE + len(message.body), MIN_PADDING + 16)


def length_not_multiple_of_4(
    auth_key: AuthKey, message: InnerMessage, *, from_server: bool, rng: Rng = random_bytes
) -> bytes:
    """Authentic packet whose length field is the body size + 2: still within
    the plaintext and leaving 12..1024 bytes of padding, so only the
    ``length % 4 == 0`` check catches it (C3)."""
    return seal_with(
        auth_key,
        message,
        from_server=from_server,
        padding=_roomy_padding(message),
        length=len(message.body) + 2,
        rng=rng,
    )


def length_exceeds_plaintext(
    auth_key: AuthKey, message: InnerMessage, *, from_server: bool, rng: Rng = random_bytes
) -> bytes:
    """Authentic packet whose length field points 16 bytes past the end of the
    decrypted buffer (a multiple of 4).  Targets ``length <= total - 32`` (C3);
    a receiver that reads the body by the length field reads out of bounds."""
    pad = _aligned_padding(HEADER_SIZE + len(message.body), MIN_PADDING)
    too_long = len(message.body) + pad + 16
    return seal_with(
        auth_key, message, from_server=from_server, padding=pad, length=too_long, rng=rng
    )


def length_negative(
    auth_key: AuthKey, message: InnerMessage, *, from_server: bool, rng: Rng = random_bytes
) -> bytes:
    """Authentic packet whose length field is -4.  Targets ``0 <= length`` (C3)."""
    return seal_with(auth_key, message, from_server=from_server, length=-4, rng=rng)


def length_short_of_body(
    auth_key: AuthKey, message: InnerMessage, *, from_server: bool, rng: Rng = random_bytes
) -> bytes:
    """Authentic packet whose length field is 4 bytes shorter than the body.
    The length and padding checks pass (the extra 4 bytes count as padding),
    so the body as delimited by the length field is a truncated TL object: a
    receiver must parse exactly ``length`` bytes and drop it (C3, C8).  One
    that parses the object from the stream, ignoring the length, accepts it."""
    return seal_with(
        auth_key,
        message,
        from_server=from_server,
        padding=_roomy_padding(message),
        length=len(message.body) - 4,
        rng=rng,
    )


# ---- session fields --------------------------------------------------------------


def other_session_id(session_id: int) -> int:
    """A session_id that differs from ``session_id`` in one bit.  Targets the
    session_id equality check (C7)."""
    return session_id ^ 1


def other_salt(salt: int) -> int:
    """A salt that differs from ``salt``: a server enforcing salts answers
    ``bad_server_salt`` instead of processing the message (C9)."""
    return salt ^ 0x5A5A5A5A


def wrong_parity_msg_id(msg_id: int, *, from_server: bool) -> int:
    """``msg_id`` with its low bits wrong for the sender: a server's id made
    even (0 mod 4), a client's id made odd (1 mod 4).  Targets the parity
    check (C7)."""
    return (msg_id & ~3) if from_server else (msg_id & ~3) | 1


def _msg_id_at(unix_time: float, *, from_server: bool) -> int:
    low = 1 if from_server else 0
    return (int(unix_time * 4294967296.0) & ~3) | low


def too_old_msg_id(now: float, *, from_server: bool, seconds: float = 400.0) -> int:
    """A msg_id ``seconds`` (default 400, beyond the 300 s window) behind
    ``now`` with the right parity.  Targets the time window (C7)."""
    return _msg_id_at(now - seconds, from_server=from_server)


def too_new_msg_id(now: float, *, from_server: bool, seconds: float = 60.0) -> int:
    """A msg_id ``seconds`` (default 60, beyond the 30 s window) ahead of
    ``now`` with the right parity.  Targets the time window (C7)."""
    return _msg_id_at(now + seconds, from_server=from_server)


def reuse_msg_id(message: InnerMessage, msg_id: int) -> InnerMessage:
    """``message`` carrying the msg_id of a message already delivered: a
    replayed id.  Targets the duplicate check of the replay window (C7)."""
    return replace(message, msg_id=msg_id)


def window_filler(
    first_msg_id: int, count: int, *, container_msg_id: int, from_server: bool
) -> tuple[bytes, list[int]]:
    """A ``msg_container`` body of ``count`` empty ``msgs_ack`` messages with
    ids ``first_msg_id, +4, +8 ...`` (all below ``container_msg_id``), and the
    ids.  Delivered before a message with :func:`below_window_msg_id`, it fills
    a replay window of up to ``count + 1`` ids (C7)."""
    if not 1 <= count <= 1024:
        raise InvalidArgument("a container holds 1..1024 messages")
    low = 1 if from_server else 0
    ids = [((first_msg_id & ~3) + 4 * i) | low for i in range(count)]
    if ids[-1] >= container_msg_id:
        raise InvalidArgument("the inner msg_ids must stay below the container's")
    ack = tl.serialize(tl.make("msgs_ack", msg_ids=[]))
    parts = [struct.pack("<Ii", tl.default_schema()["msg_container"].id, count)]
    for msg_id in ids:
        parts.append(struct.pack("<qii", msg_id, 0, len(ack)) + ack)
    return b"".join(parts), ids


def below_window_msg_id(stored: Sequence[int]) -> int:
    """A fresh msg_id lower than every id in ``stored`` (same parity).
    Targets the "lower than all stored ids" rule of the replay window once it
    is full (C7)."""
    lowest = min(stored)
    return lowest - 4


CONTAINER_ATTACKS: Final = (
    "inner_parity",
    "duplicate_inner",
    "bytes_over",
    "bytes_under",
    "nested",
    "too_many",
    "gzip_bomb",
)
"""The kinds of :func:`malformed_container`."""

GZIP_BOMB_SIZE: Final = 32 * 1024 * 1024
"""What the ``gzip_bomb`` message inflates to: 32 MiB, from about 32 kB.  No
message of the API comes near it (file parts are at most 512 kB), so a
receiver that caps decompression anywhere below it refuses the message."""


_CONTAINER: Final = tl.default_schema()["msg_container"].id


def _gzip_bomb(body: bytes) -> bytes:
    """``gzip_packed`` whose content is ``body`` followed by zeros up to
    :data:`GZIP_BOMB_SIZE`, in one gzip stream."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    packed = packer.compress(body) + packer.compress(bytes(GZIP_BOMB_SIZE - len(body)))
    return tl.serialize(tl.make("gzip_packed", packed_data=packed + packer.flush()))


def _entry(msg_id: int, seq_no: int, body: bytes, length: int | None = None) -> bytes:
    return struct.pack("<qii", msg_id, seq_no, len(body) if length is None else length) + body


def check_container_attack(kind: str) -> str:
    """``kind`` if it names one of :data:`CONTAINER_ATTACKS`, else :class:`InvalidArgument`."""
    if kind not in CONTAINER_ATTACKS:
        raise InvalidArgument(f"kind must be one of {CONTAINER_ATTACKS}")
    return kind


def malformed_container(
    kind: str, message: InnerMessage, *, middle_msg_id: int, from_server: bool
) -> bytes:
    """A ``msg_container`` body that carries ``message`` in a way the receiver
    must refuse (C8): ``message`` must not be delivered.

    ``kind`` (:data:`CONTAINER_ATTACKS`): ``inner_parity`` (its msg_id with the
    other side's low bits), ``duplicate_inner`` (after an ack with the same
    msg_id), ``bytes_over``/``bytes_under`` (its ``bytes`` field 4 more or 4
    less than its body), ``nested`` (in a container in the container),
    ``too_many`` (after 1024 empty acks: 1025 messages), ``gzip_bomb`` (its body
    in a ``gzip_packed`` that goes on with zeros up to :data:`GZIP_BOMB_SIZE`:
    only a receiver that inflates it all, and then ignores what follows the
    object, delivers it; one that does not inflate gzip at all is not fooled).

    ``middle_msg_id`` is an id between ``message``'s and the container's (the
    nested container's); the other ids the attacks need are just below
    ``message``'s, fresh and of the sender's parity.
    """
    check_container_attack(kind)
    msg_id, seq_no, body = message.msg_id, message.seq_no, message.body
    if not msg_id < middle_msg_id:
        raise InvalidArgument("middle_msg_id must be above the message's")
    not_related = seq_no & ~1
    ack = tl.serialize(tl.make("msgs_ack", msg_ids=[]))
    entries = [_entry(msg_id, seq_no, body)]
    if kind == "inner_parity":
        entries = [_entry(wrong_parity_msg_id(msg_id, from_server=from_server), seq_no, body)]
    elif kind == "duplicate_inner":
        entries = [_entry(msg_id, not_related, ack), *entries]
    elif kind in ("bytes_over", "bytes_under"):
        entries = [_entry(msg_id, seq_no, body, len(body) + (4 if kind == "bytes_over" else -4))]
    elif kind == "nested":
        inner = struct.pack("<Ii", _CONTAINER, 1) + entries[0]
        entries = [_entry(middle_msg_id, not_related, inner)]
    elif kind == "too_many":
        fillers = [_entry(msg_id - 4 * (1024 - i), not_related, ack) for i in range(1024)]
        entries = [*fillers, *entries]
    else:  # gzip_bomb
        entries = [_entry(msg_id, seq_no, _gzip_bomb(body))]
    return struct.pack("<Ii", _CONTAINER, len(entries)) + b"".join(entries)


def unsolicited_bad_server_salt(bad_msg_id: int, new_salt: int) -> bytes:
    """A ``bad_server_salt`` naming ``bad_msg_id`` (a message the client never
    sent).  A client must not adopt ``new_salt`` from it (C9)."""
    return tl.serialize(
        tl.make(
            "bad_server_salt",
            bad_msg_id=bad_msg_id,
            bad_msg_seqno=0,
            error_code=48,
            new_server_salt=new_salt,
        )
    )


# ---- handshake ----------------------------------------------------------------------


def tl_replace(obj: tl.TLObject, **changes: object) -> tl.TLObject:
    """``obj`` with some fields changed (no validation: any value can be sent)."""
    fields: dict[str, object] = dict(obj.fields)
    unknown = set(changes) - set(fields)
    if unknown:
        raise InvalidArgument(f"{obj.name} has no field(s) {sorted(unknown)}")
    fields.update(changes)
    return tl.TLObject(obj.name, fields)  # type: ignore[arg-type]


def wrong_nonce(obj: tl.TLObject) -> tl.TLObject:
    """``obj`` with one bit of its ``nonce`` flipped.  Targets the nonce check
    every handshake message must pass (H2)."""
    return tl_replace(obj, nonce=flip_bit(obj.nonce, 0))


def wrong_server_nonce(obj: tl.TLObject) -> tl.TLObject:
    """``obj`` with one bit of its ``server_nonce`` flipped (H2)."""
    return tl_replace(obj, server_nonce=flip_bit(obj.server_nonce, 0))


def unknown_fingerprints(
    res_pq: tl.TLObject, fingerprints: Sequence[int] = (0x1234,)
) -> tl.TLObject:
    """``resPQ`` offering only keys the client does not hold: it must abort
    rather than encrypt to a key it does not trust (H2)."""
    return tl_replace(res_pq, server_public_key_fingerprints=list(fingerprints))


LONG_PQ: Final = 3 * (2**254 + 79)
"""A pq of 32 bytes that factors at once (3 times the first prime above
2^254): its p_q_inner_data is 148 bytes or more, over the 144 that RSA_PAD
can carry."""


def long_pq(res_pq: tl.TLObject) -> tl.TLObject:
    """``resPQ`` whose pq is :data:`LONG_PQ`: a client must stop before
    req_DH_params rather than send data RSA_PAD cannot carry (H1)."""
    return tl_replace(res_pq, pq=LONG_PQ.to_bytes(32, "big"))


def bad_sha1(data: bytes) -> bytes:
    """A 20-byte value that is not ``SHA1(data)`` (its first bit flipped), for
    :func:`seal_answer`'s ``digest``.  Targets the SHA1(answer) check (H2)."""
    return flip_bit(sha1(data), 0)


# duplicates: deliberate -- a public keyword-only signature shaped like seal_with's.
def seal_answer(
    answer: bytes,
    server_nonce: bytes,
    new_nonce: bytes,
    *,
    digest: bytes | None = None,
    padding: bytes | None = None,
    rng: Rng = random_bytes,
) -> bytes:
    """``AES-IGE(digest + answer + padding)`` under the handshake's temporary
    key: the ``encrypted_answer`` of ``server_DH_params_ok`` (or, from the
    client, the ``encrypted_data`` of ``set_client_DH_params``).

    ``digest`` defaults to ``SHA1(answer)`` (see :func:`bad_sha1`); ``padding``
    to the 0..15 random bytes that reach a multiple of 16 (give 16 or more to
    target the padding check, H2).  The result is padded with zero bytes to a
    multiple of 16 if the given padding leaves it short.
    """
    head = sha1(answer) if digest is None else digest
    data = head + answer
    data += rng(-len(data) % 16) if padding is None else padding
    data += bytes(-len(data) % 16)
    key, iv = tmp_aes_key_iv(server_nonce, new_nonce)
    return ige256_encrypt(data, key, iv)


def open_answer(encrypted: bytes, server_nonce: bytes, new_nonce: bytes) -> tuple[bytes, bytes]:
    """Undo :func:`seal_answer`: ``(digest, answer_with_padding)``."""
    key, iv = tmp_aes_key_iv(server_nonce, new_nonce)
    plain = ige256_decrypt(encrypted, key, iv)
    return plain[:20], plain[20:]


def bad_new_nonce_hash(obj: tl.TLObject) -> tl.TLObject:
    """A ``dh_gen_ok``/``retry``/``fail`` (or ``server_DH_params_fail``) with one
    bit of its ``new_nonce_hash*`` flipped.  Targets the new_nonce_hash check
    (H4, H5)."""
    name = next(f for f in obj.fields if f.startswith("new_nonce_hash"))
    return tl_replace(obj, **{name: flip_bit(obj[name], 0)})  # type: ignore[arg-type]


def dh_gen_answer(
    kind: Literal["ok", "retry", "fail"],
    nonce: bytes,
    server_nonce: bytes,
    new_nonce: bytes,
    auth_key: AuthKey,
) -> tl.TLObject:
    """The honest ``dh_gen_ok``/``dh_gen_retry``/``dh_gen_fail`` for ``auth_key``.
    ``retry`` must make the client start over with ``retry_id`` = the key's aux
    hash; ``fail`` must make it drop the key (H4)."""
    number = {"ok": 1, "retry": 2, "fail": 3}[kind]
    return tl.make(
        f"dh_gen_{kind}",
        nonce=nonce,
        server_nonce=server_nonce,
        **{f"new_nonce_hash{number}": new_nonce_hash(new_nonce, number, auth_key.aux_hash)},
    )


def dh_params_fail(nonce: bytes, server_nonce: bytes, new_nonce: bytes) -> tl.TLObject:
    """The honest ``server_DH_params_fail``: the client must verify its hash
    and abort (H5)."""
    return tl.make(
        "server_DH_params_fail",
        nonce=nonce,
        server_nonce=server_nonce,
        new_nonce_hash=dh_params_fail_hash(new_nonce),
    )


NON_SAFE_PRIME: Final = int(
    "d46f2696f9844f08f1372e1fdedac0d1568b5f62e55f822b53c985e54cad6953"
    "5c4a2251af2ef4e26b113ee3ab90f442fa08b75853d0099f6c5223c2808d667e"
    "e9162cd645f369702d64e24ae70d67c9fbb476f569e6cc05315cfbb879ebf286"
    "be45ad2467b181495bae0738cfe0cdba527dec05f599ea6e9c8dcb4723a25fb7"
    "98b96e0047a3582e9844bcbc344fb6ebfcb2cff653fd16e9957e96709746454b"
    "c910c04fbec5b4f760b28b5474ea64761336de9e9bfd1c17384baca1faab0196"
    "357bdd844c7535e5abc404a4835f540b339ba2a891a09a81defb7ed80bb76710"
    "e7a2e7ca1942e4aaa52ebf51613cfc07a365e8246dbac822cf2a18f118e51e33",
    16,
)
"""A 2048-bit prime that is **not** safe ((p-1)/2 is composite) and for which
g = 3 passes the residue rule (p = 11 mod 12: p mod 3 = 2, p mod 4 = 3), so only
the safe-prime check refuses it (H3).  Birth certificate: for i = 0, 1, 2, ...
take the 256 bytes ``SHA-256(seed || be32(8i)) || ... || SHA-256(seed || be32(8i+7))``
with seed ``b"mtcrypt conformance: a 2048-bit prime that is not safe"`` as a
big-endian x, set its top bit, and take ``x - (x mod 12) + 11``; the first
prime (i = 658) is this one.  ``tests/test_mutators.py`` re-checks the properties."""

SHORT_SAFE_PRIME: Final = int(
    "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74"
    "020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f1437"
    "4fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed"
    "ee386bfb5a899fa5ae9f24117c4b1fe649286651ece65381ffffffffffffffff",
    16,
)
"""The 1024-bit safe prime of RFC 2409 section 6.2 (Oakley group 2), generator
2: safe, but shorter than the 2048 bits the spec requires (H3)."""


def non_residue_generator(dh_prime: int = TELEGRAM_DH_PRIME) -> int:
    """The smallest g in 2..7 that fails the residue rule for ``dh_prime``
    (2 for Telegram's prime): it generates the whole group instead of the
    subgroup of prime order, leaking one bit of the exponent (H3)."""
    for g in range(2, 8):
        if not g_is_valid_for(g, dh_prime):
            return g
    raise InvalidArgument("every g in 2..7 is valid for this prime")


def dh_value_out_of_range(
    which: Literal["zero", "one", "p-1", "below", "above"], dh_prime: int = TELEGRAM_DH_PRIME
) -> int:
    """A g_a/g_b outside ``[2^1984, p - 2^1984]``: 0, 1, p - 1, or just below
    / just above the recommended bounds (H3)."""
    values = {
        "zero": 0,
        "one": 1,
        "p-1": dh_prime - 1,
        "below": DH_SAFETY_MARGIN - 1,
        "above": dh_prime - DH_SAFETY_MARGIN + 1,
    }
    if which not in values:
        raise InvalidArgument(f"which must be one of {sorted(values)}")
    return values[which]


def dh_value_legal_end(
    which: Literal["lowest", "highest"], dh_prime: int = TELEGRAM_DH_PRIME
) -> int:
    """The ends of ``[2^1984, p - 2^1984]`` themselves: legal g_a/g_b values a
    receiver must accept (H3)."""
    if which not in ("lowest", "highest"):
        raise InvalidArgument("which must be 'lowest' or 'highest'")
    return DH_SAFETY_MARGIN if which == "lowest" else dh_prime - DH_SAFETY_MARGIN


# ---- transport ------------------------------------------------------------------------


def bad_crc(frame: bytes) -> bytes:
    """A full-transport frame (``len | seqno | payload | crc32``) with one bit of
    its CRC32 flipped.  Targets the CRC check (T2)."""
    if len(frame) < 16:
        raise InvalidArgument("not a full-transport frame")
    return frame[:-4] + flip_bit(frame[-4:], 0)


def with_seqno(frame: bytes, seqno: int) -> bytes:
    """A full-transport frame renumbered to ``seqno`` with a **correct** CRC32,
    so only the per-connection seqno check catches it (T2)."""
    if len(frame) < 16:
        raise InvalidArgument("not a full-transport frame")
    head = frame[:4] + struct.pack("<I", seqno & 0xFFFFFFFF)
    payload = frame[8:-4]
    return head + payload + struct.pack("<I", crc32(payload, crc32(head)))


def oversized_length(framing: Framing | str, length: int = DEFAULT_MAX_FRAME + 4) -> bytes:
    """The length header of a frame claiming ``length`` payload bytes (16 MiB +
    4 by default, over the bound): a receiver must refuse it as soon as the
    header is complete instead of buffering (T2)."""
    kind = Framing(framing) if isinstance(framing, str) else framing
    if kind is Framing.ABRIDGED:
        return b"\x7f" + (length // 4).to_bytes(3, "little")
    if kind is Framing.FULL:
        return struct.pack("<iI", length + 12, 0)
    return struct.pack("<I", length)


FORBIDDEN_PREFIXES: Final[dict[str, bytes]] = {
    "ef": b"\xef",
    "HEAD": b"HEAD",
    "POST": b"POST",
    "GET": b"GET ",
    "OPTI": b"OPTI",
    "tls": b"\x16\x03\x01\x02",
    "dddddddd": b"\xdd\xdd\xdd\xdd",
    "eeeeeeee": b"\xee\xee\xee\xee",
    "zero-seq": b"",  # bytes 4..8 zero: looks like the full transport's seqno 0
}
"""What an obfuscated2 header must not start with (T1; tdlib's list), by name."""


def forbidden_header(name: str, rng: Rng = random_bytes) -> bytes:
    """A 64-byte obfuscated2 header candidate starting with the forbidden
    prefix ``name`` (a key of :data:`FORBIDDEN_PREFIXES`); for ``zero-seq``,
    bytes 4..8 are zero.  A client must draw another candidate (T1)."""
    if name not in FORBIDDEN_PREFIXES:
        raise InvalidArgument(f"unknown prefix {name!r}; one of {sorted(FORBIDDEN_PREFIXES)}")
    body = bytearray(rng(OBFUSCATION_HEADER_SIZE))
    if body[0] == 0xEF and name != "ef":
        body[0] = 0x01
    if body[4:8] == b"\x00\x00\x00\x00":
        body[4] = 1
    prefix = FORBIDDEN_PREFIXES[name]
    body[: len(prefix)] = prefix
    if name == "zero-seq":
        body[4:8] = bytes(4)
    return bytes(body)


def header_with_tag(
    tag: bytes, *, secret: bytes | None = None, rng: Rng = random_bytes
) -> tuple[bytes, Ctr256]:
    """An obfuscated2 client header carrying any 4-byte protocol ``tag`` (for
    example one no framing has), keyed with ``secret``: the header's wire
    bytes and the client-to-server cipher past it.  A server must not answer
    a connection whose tag it does not know, nor one keyed with a secret it
    does not hold (T1)."""
    if len(tag) != 4:
        raise InvalidArgument("tag must be 4 bytes")
    while True:
        candidate = bytearray(rng(OBFUSCATION_HEADER_SIZE))
        if not is_forbidden_header(bytes(candidate)):
            break
    candidate[56:60] = tag
    plain = bytes(candidate)
    (key, iv), _ = derive_keys(plain, secret)
    encryptor = Ctr256(key, iv)
    return plain[:56] + encryptor.update(plain)[56:], encryptor


def server_hello_bad_layout(answer: bytes, key: bytes, client_random: bytes) -> bytes:
    """The proxy's fake-TLS answer (and whatever follows it in ``answer``) with
    its change_cipher_spec record carrying 2 instead of 1, and the HMAC
    computed again over the changed answer, so that only a check of the
    layout can refuse it (T3)."""
    end = server_hello_length(answer)
    if not end:
        raise InvalidArgument("answer does not start with a whole fake-TLS ServerHello")
    hello = bytearray(answer[:end])
    ccs = 5 + int.from_bytes(hello[3:5], "big")  # the record after the ServerHello
    hello[ccs + 5] = 0x02
    hello[FAKE_TLS_RANDOM_OFFSET : FAKE_TLS_RANDOM_OFFSET + 32] = bytes(32)
    mac = hmac.new(key, client_random + bytes(hello), hashlib.sha256).digest()
    hello[FAKE_TLS_RANDOM_OFFSET : FAKE_TLS_RANDOM_OFFSET + 32] = mac
    return bytes(hello) + answer[end:]


def bad_hello_hmac(hello: bytes) -> bytes:
    """A fake-TLS ClientHello or ServerHello answer with one bit of its HMAC
    (bytes 11..43) flipped: the peer must refuse it (T3)."""
    if len(hello) < 43:
        raise InvalidArgument("not a TLS hello record")
    return hello[:11] + flip_bit(hello[11:43], 0) + hello[43:]
