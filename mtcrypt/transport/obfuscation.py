"""obfuscated2: the 64-byte header and the two AES-256-CTR streams (digest §6.4,
checklist T1).

Client: draw 64 random bytes until none of the forbidden prefixes appears,
write the protocol tag at [56:60] (and the DC id at [60:62] when given), derive
``c2s = (init[8:40], init[40:56])`` and ``s2c`` from the reversed header (with
an MTProxy secret, each key becomes ``SHA256(key || secret16)``), encrypt the
whole header with the c2s stream and send ``init[0:56] || encrypted[56:64]``.
The same c2s stream (now at offset 64) then carries every byte sent.

Server: derive the same keys from the received header, decrypt all 64 bytes
with the c2s stream (so it stays in step) and read the tag and the DC id.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from .._random import random_bytes
from .._validation import BytesLike, Rng, as_bytes, check_int, draw
from ..crypto import Ctr256, sha256
from ..errors import InvalidArgument, InvalidLength, TransportError
from .events import Framing
from .framing import CODEC_BY_OBFUSCATION_TAG

__all__ = [
    "FORBIDDEN_FIRST_INTS",
    "HEADER_SIZE",
    "ObfuscatedHeader",
    "ParsedHeader",
    "derive_keys",
    "is_forbidden_header",
    "make_client_header",
    "parse_client_header",
]

HEADER_SIZE: Final = 64
MAX_HEADER_ATTEMPTS: Final = 1000
"""With a working RNG a header is rejected with probability about 2**-24; a
source that keeps producing forbidden headers is broken, and is reported."""


def _le(word: bytes) -> int:
    return int.from_bytes(word, "little")


FORBIDDEN_FIRST_INTS: Final[frozenset[int]] = frozenset(
    {
        # The list tdlib checks (TcpTransport.cpp), required by checklist T1:
        _le(b"HEAD"),
        _le(b"POST"),
        _le(b"GET "),
        _le(b"OPTI"),
        0x02010316,  # 16 03 01 02: a TLS ClientHello record
        0xDDDDDDDD,  # padded intermediate tag
        0xEEEEEEEE,  # intermediate tag
        # Extra, so the header cannot look like other things a server sniffs
        # for: Telethon's "PVrG", the other HTTP methods, the HTTP/2 preface.
        _le(b"PVrG"),
        _le(b"PUT "),
        _le(b"DELE"),
        _le(b"PATC"),
        _le(b"CONN"),
        _le(b"TRAC"),
        _le(b"PRI "),
    }
)


def is_forbidden_header(header: BytesLike) -> bool:
    """Whether the first 8 bytes of a candidate header must be redrawn.

    Forbidden: first byte ``0xef`` (abridged tag); a first int in
    :data:`FORBIDDEN_FIRST_INTS`; any ``16 03 01`` TLS record prefix (a server
    with MTProxy secrets reads it as fake-TLS); ``header[4:8]`` all zero (the
    full transport's seqno 0).
    """
    head = bytes(header[:8])
    if len(head) < 8:
        raise InvalidLength("a header candidate needs at least 8 bytes")
    return (
        head[0] == 0xEF
        or _le(head[:4]) in FORBIDDEN_FIRST_INTS
        or head[:3] == b"\x16\x03\x01"
        or head[4:8] == b"\x00\x00\x00\x00"
    )


def derive_keys(
    header: bytes, secret: bytes | None = None
) -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:
    """``((c2s_key, c2s_iv), (s2c_key, s2c_iv))`` from a 64-byte plaintext header.

    ``secret`` is the 16-byte MTProxy key (``ProxySecret.key``), or None.
    """
    if len(header) != HEADER_SIZE:
        raise InvalidLength(f"an obfuscated2 header is {HEADER_SIZE} bytes")
    rev = header[55:7:-1]  # reversed header[8:56]
    c2s_key, c2s_iv = header[8:40], header[40:56]
    s2c_key, s2c_iv = rev[0:32], rev[32:48]
    if secret is not None:
        if len(secret) != 16:
            raise InvalidLength("an MTProxy secret key is 16 bytes")
        c2s_key = sha256(c2s_key + secret)
        s2c_key = sha256(s2c_key + secret)
    return (bytes(c2s_key), bytes(c2s_iv)), (bytes(s2c_key), bytes(s2c_iv))


@dataclass(eq=False)
class ObfuscatedHeader:
    """A client's header: ``wire`` is what goes on the network first;
    ``encryptor`` (c2s, already past the header) and ``decryptor`` (s2c)
    carry the rest of the connection."""

    wire: bytes
    encryptor: Ctr256 = field(repr=False)
    decryptor: Ctr256 = field(repr=False)


def make_client_header(
    tag: bytes,
    *,
    secret: bytes | None = None,
    dc_id: int | None = None,
    rng: Rng = random_bytes,
) -> ObfuscatedHeader:
    """Generate a client header for protocol ``tag`` (4 bytes: ``efefefef``,
    ``eeeeeeee`` or ``dddddddd``).

    ``dc_id`` (int16: +10000 for test DCs, negative for media DCs) is written at
    [60:62]; MTProxy needs it, plain obfuscation may omit it.
    """
    tag = as_bytes(tag, "tag")
    if tag not in CODEC_BY_OBFUSCATION_TAG:
        raise InvalidArgument("tag must be efefefef, eeeeeeee or dddddddd")
    dc = None if dc_id is None else check_int(dc_id, "dc_id", -0x8000, 0x7FFF)
    for _ in range(MAX_HEADER_ATTEMPTS):
        candidate = draw(rng, HEADER_SIZE)
        if not is_forbidden_header(candidate):
            break
    else:
        raise InvalidArgument("rng keeps producing forbidden obfuscation headers")
    init = bytearray(candidate)
    init[56:60] = tag
    if dc is not None:
        init[60:62] = struct.pack("<h", dc)
    plain = bytes(init)
    (ekey, eiv), (dkey, div) = derive_keys(plain, secret)
    encryptor = Ctr256(ekey, eiv)
    encrypted = encryptor.update(plain)
    return ObfuscatedHeader(plain[:56] + encrypted[56:], encryptor, Ctr256(dkey, div))


@dataclass(eq=False)
class ParsedHeader:
    """A header as the server sees it.  ``decryptor`` (c2s) has consumed the
    64 header bytes; ``encryptor`` (s2c) is fresh."""

    framing: Framing
    dc_id: int
    secret_index: int | None
    decryptor: Ctr256 = field(repr=False)
    encryptor: Ctr256 = field(repr=False)


def parse_client_header(
    header: BytesLike,
    secrets: Sequence[bytes | None] = (None,),
) -> ParsedHeader:
    """Identify a received 64-byte header.

    Each entry of ``secrets`` (16-byte keys, or None for no secret) is tried in
    order; the first one that decrypts to a known protocol tag wins and its
    index is returned as ``secret_index`` (None when the entry was None).  No
    match raises :class:`TransportError` (-404).
    """
    raw = bytes(header)
    if len(raw) != HEADER_SIZE:
        raise InvalidLength(f"an obfuscated2 header is {HEADER_SIZE} bytes")
    for index, secret in enumerate(secrets):
        (ckey, civ), (skey, siv) = derive_keys(raw, secret)
        decryptor = Ctr256(ckey, civ)
        plain = decryptor.update(raw)
        framing = CODEC_BY_OBFUSCATION_TAG.get(plain[56:60])
        if framing is None:
            decryptor.wipe()
            continue
        (dc_id,) = struct.unpack_from("<h", plain, 60)
        return ParsedHeader(
            framing,
            dc_id,
            None if secret is None else index,
            decryptor,
            Ctr256(skey, siv),
        )
    raise TransportError("unrecognised obfuscated2 header", code=-404)
