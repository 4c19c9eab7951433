"""Authorization keys: the 2048-bit shared secret of an MTProto session."""

from __future__ import annotations

import hmac
import struct

from .._validation import BytesLike, is_int, readable
from ..crypto import sha1
from ..errors import InvalidArgument, InvalidLength

__all__ = ["AUTH_KEY_SIZE", "AuthKey"]

AUTH_KEY_SIZE = 256


class AuthKey:
    """A 256-byte MTProto auth key with its public identifiers.

    ``key_id`` (the lower 64 bits of SHA-1 of the key, a signed little-endian
    int64 as sent on the wire) and ``aux_hash`` (the higher 64 bits, used only
    by the handshake) are computed once.  The key itself is never shown in a
    repr or an error.
    """

    __slots__ = ("_key", "aux_hash", "key_id", "key_id_bytes")

    def __init__(self, key: BytesLike) -> None:
        _, n = readable(key, "auth key")
        if n != AUTH_KEY_SIZE:
            raise InvalidLength(
                f"auth key must be {AUTH_KEY_SIZE} bytes long, got {n}; "
                "use AuthKey.from_int() for the integer g^ab mod p"
            )
        self._key = bytes(key)
        digest = sha1(self._key)
        self.key_id_bytes: bytes = digest[12:20]
        self.key_id: int = struct.unpack("<q", self.key_id_bytes)[0]
        self.aux_hash: bytes = digest[0:8]

    @classmethod
    def from_int(cls, value: int) -> AuthKey:
        """The key from the DH result ``g^ab mod p``, left-padded to 256 bytes
        as the spec requires (a key whose first byte is zero stays 256 bytes)."""
        if not is_int(value):
            raise InvalidArgument("auth key value must be an int")
        if not 0 < value < 1 << (8 * AUTH_KEY_SIZE):
            raise InvalidArgument("auth key value must be in (0, 2**2048)")
        return cls(value.to_bytes(AUTH_KEY_SIZE, "big"))

    @property
    def key(self) -> bytes:
        """The raw 256 key bytes (secret)."""
        return self._key

    def __bytes__(self) -> bytes:
        return self._key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AuthKey):
            return NotImplemented
        return hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self.key_id_bytes)

    def __repr__(self) -> str:
        return f"AuthKey(key_id={self.key_id_bytes[::-1].hex()})"


def require_auth_key(value: object, what: str = "auth_key") -> AuthKey:
    """``value`` if it is an :class:`AuthKey`, else :class:`InvalidArgument`
    naming the argument ``what``: the one type check of every function that
    takes a key."""
    if not isinstance(value, AuthKey):
        raise InvalidArgument(f"{what} must be an mtcrypt.mtproto.AuthKey")
    return value
