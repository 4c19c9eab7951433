"""Pieces both handshake roles share: derivations, message ids, TL parsing, the result."""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Literal, TypeVar

from .. import tl
from .._state_machine import StateMachine
from .._validation import BytesLike, Clock, Rng, draw
from ..crypto import sha1
from ..crypto.aes import ige256_decrypt, ige256_encrypt
from ..errors import HandshakeError, InvalidArgument, InvalidLength, SessionError, TLError
from ..mtproto import AuthKey, pack_plain, unpack_plain
from .dh import check_dh_value

__all__ = [
    "HandshakeMachine",
    "HandshakeResult",
    "MsgIdClock",
    "RsaScheme",
    "dh_params_fail_hash",
    "int_from_be",
    "int_to_be",
    "new_nonce_hash",
    "server_salt",
    "tmp_aes_key_iv",
]

RsaScheme = Literal["rsa_pad", "legacy"]
"""How ``p_q_inner_data`` was RSA-encrypted: RSA_PAD, or ``SHA1(data)+data+random``."""

# Handshake messages are canonical TL: no slack in string padding or length prefixes.
STRICT = tl.Limits(strict_padding=True, max_bytes_length=4096)


def int_to_be(value: int) -> bytes:
    """Minimal big-endian bytes of a natural number, as handshake strings carry
    them (``p``, ``q``, ``dh_prime``, ``g_a``, ``g_b``): ``b"\\x00"`` for zero."""
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def int_from_be(data: bytes) -> int:
    return int.from_bytes(data, "big")


def is_minimal_be(data: bytes) -> bool:
    """A non-empty big-endian natural number without leading zero bytes."""
    return len(data) > 0 and data[0] != 0


def tmp_aes_key_iv(server_nonce: bytes, new_nonce: bytes) -> tuple[bytes, bytes]:
    """The key and IV that protect ``server_DH_inner_data`` and ``client_DH_inner_data``."""
    ns = sha1(new_nonce + server_nonce)
    sn = sha1(server_nonce + new_nonce)
    nn = sha1(new_nonce + new_nonce)
    return ns + sn[:12], sn[12:20] + nn + new_nonce[:4]


def new_nonce_hash(new_nonce: bytes, number: int, aux_hash: bytes) -> bytes:
    """``new_nonce_hashN`` of ``dh_gen_ok`` (1), ``dh_gen_retry`` (2), ``dh_gen_fail`` (3)."""
    return sha1(new_nonce + bytes([number]) + aux_hash)[4:20]


def dh_params_fail_hash(new_nonce: bytes) -> bytes:
    """``new_nonce_hash`` of ``server_DH_params_fail``: SHA1(new_nonce)[4:20]."""
    return sha1(new_nonce)[4:20]


def server_salt(new_nonce: bytes, server_nonce: bytes) -> int:
    """The first server salt: ``new_nonce[0:8] XOR server_nonce[0:8]`` as a signed LE int64."""
    a: int = struct.unpack("<q", new_nonce[:8])[0]
    b: int = struct.unpack("<q", server_nonce[:8])[0]
    return a ^ b


def aux_hash_as_retry_id(aux_hash: bytes) -> int:
    """``retry_id`` (a TL long) from the auth_key_aux_hash bytes of the rejected key."""
    value: int = struct.unpack("<q", aux_hash)[0]
    return value


def equal(a: bytes, b: bytes) -> bool:
    """Constant-time equality (for nonces and hashes)."""
    return hmac.compare_digest(a, b)


class MsgIdClock:
    """Message ids for unencrypted handshake messages: ``time * 2^32`` with the low
    two bits set to ``low_bits`` (0 for a client, 1 for a server), strictly
    increasing even when the clock is not."""

    __slots__ = ("_last", "_low")

    def __init__(self, low_bits: int) -> None:
        self._low = low_bits
        self._last = 0

    def next(self, now: float) -> int:
        msg_id = (int(now * 4294967296.0) & ~3) | self._low
        if msg_id <= self._last:
            msg_id = self._last + 4
        if not 0 < msg_id < 1 << 63:
            raise InvalidArgument("clock out of range for a message id")
        self._last = msg_id
        return msg_id


def pack(msg_id: int, obj: tl.TLObject) -> bytes:
    return pack_plain(msg_id, tl.serialize(obj))


def unpack(packet: bytes, *, from_server: bool) -> tuple[int, bytes]:
    """``(msg_id, body)`` of an unencrypted message from the peer, or HandshakeError."""
    if not isinstance(packet, BytesLike):
        raise HandshakeError("plain_message", "packet is not bytes")
    try:
        msg_id, body = unpack_plain(packet)
    except (InvalidArgument, InvalidLength):
        raise HandshakeError("plain_message", "not a well-formed unencrypted message") from None
    # Clients' ids are multiples of 4; servers' are odd (1 or 3 mod 4).
    if msg_id <= 0 or (msg_id & 1 if from_server else msg_id & 3) != (1 if from_server else 0):
        raise HandshakeError("msg_id", "wrong message id parity for the sender")
    return msg_id, body


def parse(body: bytes, expected: tuple[str, ...], check: str) -> tl.TLObject:
    """Decode ``body`` as one of the ``expected`` constructors (canonical TL, no
    trailing bytes) or raise HandshakeError(check)."""
    try:
        obj = tl.deserialize(body, limits=STRICT)
    except TLError:
        raise HandshakeError(check, "malformed TL") from None
    return _expected(obj, expected, check)


def parse_prefix(data: bytes, expected: tuple[str, ...], check: str) -> tuple[tl.TLObject, int]:
    """Decode one of ``expected`` at the start of ``data``; return it and its length."""
    reader = tl.Reader(data, strict_padding=True, max_bytes_length=STRICT.max_bytes_length)
    try:
        obj = tl.read_object(reader, limits=STRICT)
    except TLError:
        raise HandshakeError(check, "malformed TL") from None
    return _expected(obj, expected, check), reader.offset


def _expected(obj: tl.TLObject, expected: tuple[str, ...], check: str) -> tl.TLObject:
    if obj.name not in expected:
        raise HandshakeError(check, f"unexpected {obj.name}")
    return obj


def dh_value(data: bytes, dh_prime: int, name: str) -> int:
    """``g_a`` or ``g_b`` (named ``name``) from its string: at most 256 bytes and
    within the safety margin of ``dh_prime``."""
    if len(data) > 256:
        raise HandshakeError(name, "longer than 256 bytes")
    value = int_from_be(data)
    check_dh_value(value, dh_prime, name)
    return value


def seal_inner(data: bytes, key: bytes, iv: bytes, rng: Rng) -> bytes:
    """``server_DH_inner_data``/``client_DH_inner_data`` as sent: ``SHA1(data) + data``,
    random padding to a multiple of 16, AES-256-IGE under the temporary key."""
    with_hash = sha1(data) + data
    with_hash += draw(rng, -len(with_hash) % 16)
    return ige256_encrypt(with_hash, key, iv)


def open_inner(
    encrypted: bytes, key: bytes, iv: bytes, name: str, what: str, hashed: str
) -> tl.TLObject:
    """Decrypt and check what :func:`seal_inner` made: the ``name`` constructor, less
    than 16 padding bytes, the SHA1 prefix.  ``what`` names the checks
    (``encrypted_<what>``, ``<what>_padding``, ``<what>_hash``), ``hashed`` the
    hash's detail."""
    if not encrypted or len(encrypted) % 16:
        raise HandshakeError(f"encrypted_{what}", "length is not a positive multiple of 16")
    with_hash = ige256_decrypt(encrypted, key, iv)
    inner, length = parse_prefix(with_hash[20:], (name,), name)
    if len(with_hash) - 20 - length >= 16:
        raise HandshakeError(f"{what}_padding", "16 or more padding bytes")
    if not equal(sha1(with_hash[20 : 20 + length]), with_hash[:20]):
        raise HandshakeError(f"{what}_hash", f"SHA1({hashed}) mismatch")
    return inner


@dataclass(frozen=True, slots=True, repr=False)
class HandshakeResult:
    """What a completed handshake yields (the same on both sides, except
    ``time_offset``, ``rsa_scheme`` and ``inner_data`` which only the side that
    knows them fills in).

    * ``auth_key``: the 256-byte key (left-padded; a leading zero byte stays);
    * ``server_salt``: the first salt, ``new_nonce[0:8] XOR server_nonce[0:8]``
      as a signed little-endian int64;
    * ``time_offset``: server time minus local time in whole seconds (client; 0
      on the server);
    * ``expires_at``: Unix time (server clock) when a temporary key expires,
      ``None`` for a permanent key;
    * ``dc``: the ``dc`` field the client sent (``None`` for the legacy
      constructors without it);
    * ``retries``: how many ``dh_gen_retry`` rounds it took;
    * ``rsa_scheme``: on the server, the RSA padding the client used;
    * ``inner_data``: the ``p_q_inner_data*`` constructor name the client used.
    """

    auth_key: AuthKey
    server_salt: int
    time_offset: int
    expires_at: int | None
    dc: int | None
    retries: int
    rsa_scheme: RsaScheme
    inner_data: str

    @property
    def temporary(self) -> bool:
        """Whether this is a temporary (PFS) key."""
        return self.expires_at is not None

    def __repr__(self) -> str:
        return (
            f"HandshakeResult(auth_key={self.auth_key!r}, temporary={self.temporary}, "
            f"dc={self.dc}, retries={self.retries}, rsa_scheme={self.rsa_scheme!r}, "
            f"inner_data={self.inner_data!r})"
        )


StateT = TypeVar("StateT", bound=StrEnum)
InputT = TypeVar("InputT", bound=Enum)


class HandshakeMachine(StateMachine[StateT, InputT]):
    """What both roles' machines hold: where they are, the key once made, their
    message-id clock, the injected randomness and time, and the two nonces
    that every message after the first carries."""

    def __init__(self, state: StateT, *, low_bits: int, rng: Rng, clock: Clock) -> None:
        self._state = state
        self._result: HandshakeResult | None = None
        self._msg_ids = MsgIdClock(low_bits)
        self._rng = rng
        self._clock = clock
        self._nonce = b""
        self._server_nonce = b""

    @property
    def state(self) -> StateT:
        """Where the handshake is: a :class:`~mtcrypt.handshake.ClientState` or
        :class:`~mtcrypt.handshake.ServerState`, whose members equal the strings
        they name (``hs.state == "done"`` holds)."""
        return self._state

    @property
    def done(self) -> bool:
        """Whether the key has been created (``result`` is available)."""
        return self._result is not None

    @property
    def result(self) -> HandshakeResult:
        """The created key and its companions; raises if not :attr:`done`."""
        if self._result is None:
            raise SessionError(f"result read in state {self._state.value}")
        return self._result

    def _message(self, name: str, **fields: object) -> tl.TLObject:
        """The handshake message ``name`` with this handshake's ``nonce`` and ``server_nonce``."""
        return tl.make(name, nonce=self._nonce, server_nonce=self._server_nonce, **fields)
