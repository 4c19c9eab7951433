"""Secret-chat key exchange (core.telegram.org/api/end-to-end, "Key Generation").

1. Both sides take ``(g, p)`` from ``messages.getDhConfig`` and validate them
   exactly as the auth-key handshake does (:func:`mtcrypt.handshake.dh.check_dh_params`:
   p a 2048-bit safe prime, g in 2..7 generating the prime-order subgroup;
   results cached in a :class:`~mtcrypt.handshake.dh.DhPrimeCache` that may be
   shared with the handshake). The server's ``random`` is mixed into our own
   randomness (:func:`mix_server_random`), never used alone.
2. A (:class:`~mtcrypt.e2e.PendingSecretChat`) draws ``a`` and sends ``g_a`` with
   ``messages.requestEncryption``.
3. B (:func:`~mtcrypt.e2e.accept_secret_chat`) checks ``g_a``, draws ``b``, computes
   ``key = g_a^b mod p`` left-padded to 256 bytes and its ``key_fingerprint``
   (the last 64 bits of SHA-1 of the key, SHA-1 even under MTProto 2.0; the
   :attr:`~mtcrypt.mtproto.AuthKey.key_id` of the key), and sends ``g_b`` and
   the fingerprint with ``messages.acceptEncryption``.
4. A (:meth:`~mtcrypt.e2e.PendingSecretChat.complete`) checks ``g_b``, computes the key and
   compares the fingerprint; on a mismatch it raises
   :class:`~mtcrypt.e2e.KeyExchangeError` and the chat must be discarded
   (``messages.discardEncryption``) and the user told.

``g_a`` and ``g_b`` must lie in ``[2^1984, p - 2^1984]`` (the recommended range,
which implies ``1 < x < p - 1``); our own are redrawn until they do.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from .._random import random_bytes
from .._validation import BytesLike, Clock, Rng, draw, is_int
from ..errors import HandshakeError, InvalidArgument
from ..handshake.dh import (
    DhPrimeCache,
    check_dh_params,
    check_dh_value,
    generate_dh_exponent,
    modexp,
)
from ..mtproto import AuthKey
from .errors import KeyExchangeError

__all__ = [
    "Clock",
    "DhConfig",
    "compute_key",
    "decode_dh_value",
    "encode_dh_value",
    "key_fingerprint",
    "mix_server_random",
]

MAX_DH_VALUE_BYTES = 257
"""g_a/g_b as received: at most 256 bytes (257 with a sign byte some clients add)."""


def mix_server_random(server_random: bytes, rng: Rng = random_bytes) -> Rng:
    """An rng whose output combines ``rng`` with the server's ``random``.

    Each call draws ``n`` fresh bytes from ``rng`` and returns
    ``SHAKE-256(domain | len(server_random) | server_random | own | n)``
    truncated to ``n`` bytes: at least as unpredictable as the better of the
    two inputs, and never a function of the server's bytes alone
    (api/end-to-end: "using the server's random sequence in its raw form may
    be unsafe, it must be combined with a client sequence").
    """
    if not isinstance(server_random, BytesLike):
        raise InvalidArgument("server_random must be bytes")
    seed = bytes(server_random)
    prefix = b"mtcrypt e2e dh random v1" + struct.pack("<I", len(seed)) + seed

    def mixed(n: int) -> bytes:
        if n <= 0:
            return b""
        return hashlib.shake_256(prefix + draw(rng, n) + struct.pack("<I", n)).digest(n)

    return mixed


def encode_dh_value(value: int) -> bytes:
    """g_a/g_b as sent: 256 big-endian bytes."""
    return value.to_bytes(256, "big")


def decode_dh_value(data: bytes, dh_prime: int, name: str) -> int:
    """Parse a received g_a/g_b and check its range; raise :class:`KeyExchangeError`."""
    if not isinstance(data, bytes) or not 0 < len(data) <= MAX_DH_VALUE_BYTES:
        raise KeyExchangeError(name, "not a 2048-bit value")
    value = int.from_bytes(data, "big")
    try:
        check_dh_value(value, dh_prime, name)
    except HandshakeError:
        raise KeyExchangeError(name, "outside [2^1984, dh_prime - 2^1984]") from None
    return value


def compute_key(public: int, exponent: int, dh_prime: int) -> AuthKey:
    """``public^exponent mod p`` as a 256-byte key (left-padded with zeros)."""
    return AuthKey.from_int(modexp(public, exponent, dh_prime))


def key_fingerprint(key: AuthKey) -> int:
    """The chat's ``key_fingerprint``: the last 64 bits of SHA-1 of the key
    as a signed little-endian int64 (the same value as ``key.key_id``). A
    sanity check of the exchange, *not* the key shown to users."""
    return key.key_id


@dataclass(frozen=True, slots=True)
class DhConfig:
    """Validated ``messages.dhConfig`` parameters: ``g``, ``p`` (as an int), the
    config ``version`` and the server's ``random`` (to be mixed, never used
    alone). Build with :meth:`validate`."""

    g: int
    p: int
    version: int = 0
    random: bytes = field(default=b"", repr=False)

    @classmethod
    def validate(
        cls,
        g: int,
        p: bytes | int,
        *,
        version: int = 0,
        random: bytes = b"",
        cache: DhPrimeCache | None = None,
    ) -> DhConfig:
        """Check ``(g, p)`` as the handshake does; raise :class:`KeyExchangeError`
        (``dh_prime`` or ``g``). ``p`` may be the big-endian bytes from the
        server or an int."""
        if isinstance(p, bytes | bytearray):
            if len(p) != 256:
                raise KeyExchangeError("dh_prime", "not 256 bytes")
            prime = int.from_bytes(p, "big")
        elif is_int(p):
            prime = p
        else:
            raise InvalidArgument("p must be bytes or int")
        if not is_int(g):
            raise InvalidArgument("g must be an int")
        try:
            check_dh_params(g, prime, cache=cache)
        except HandshakeError as exc:
            raise KeyExchangeError(exc.check) from None
        return cls(g, prime, version, bytes(random))

    def rng(self, own: Rng = random_bytes) -> Rng:
        """Our randomness mixed with this config's server ``random``."""
        return mix_server_random(self.random, own)

    def new_exponent(self, own: Rng, name: str) -> tuple[int, int]:
        """``(x, g^x mod p)`` with ``g^x`` in the safe range."""
        try:
            return generate_dh_exponent(self.g, self.p, self.rng(own), name=name)
        except HandshakeError:
            raise KeyExchangeError(name, "could not draw an exponent in range") from None
