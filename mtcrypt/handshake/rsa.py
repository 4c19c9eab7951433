"""RSA for auth-key creation: keys, Telegram fingerprints, RSA_PAD and the legacy padding.

Only the handshake uses RSA: the client encrypts ``p_q_inner_data`` (which
carries ``new_nonce``) to the server's public key, the server decrypts it.

* Keys load from PEM (PKCS#1 ``RSA PUBLIC KEY``, SubjectPublicKeyInfo
  ``PUBLIC KEY``, and PKCS#1/PKCS#8 private keys) through pycryptodome.
  Handshake keys must have a 2041..2048-bit modulus (tdlib's rule), so that
  a 256-byte block fits.
* :func:`telegram_fingerprint` is the low 64 bits of SHA-1 over the bare TL
  ``rsa_public_key n:string e:string`` (n, e minimal big-endian), as a signed
  little-endian int64 -- the value sent in ``resPQ`` and ``req_DH_params``.
* :func:`rsa_pad_encrypt` is RSA_PAD exactly as core.telegram.org/mtproto/auth_key
  section 4.1 specifies (a fresh random ``temp_key`` whenever the block is
  not below the modulus). It is the only scheme a client should send.
* :func:`rsa_pad_decrypt` and :func:`rsa_legacy_decrypt` are the server's
  side. The legacy ``SHA1(data) + data + random`` padding is still what
  Telethon and Pyrogram send, so a server has to accept it;
  :func:`rsa_legacy_encrypt` exists only to replay published transcripts and
  to test servers.
* :func:`rsa_legacy_match` is how a server should check the legacy padding:
  against templates of the data it expects, in constant time, in C
  (``csrc/rsa_legacy.c``). :func:`rsa_legacy_unpad` finds the data length by
  parsing the decrypted block, which is the timing oracle of Albrecht,
  Mareková, Paterson and Stepanovs (IEEE S&P 2022); it stays as the plain
  reference the constant-time check is tested against.

Modular exponentiation is the native core's constant-time Montgomery code
(:func:`mtcrypt.crypto.modexp`, about 10x faster than ``pow``): the public
operation with the public exponent's own length, the private one by the CRT
with the exponents ``d mod (p-1)`` and ``d mod (q-1)`` at the primes' full
length.  The private result is checked by re-encryption before it is used.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from Crypto.IO import PEM
from Crypto.PublicKey import RSA
from Crypto.Util.asn1 import DerSequence

from .._native import ffi, lib
from .._random import random_bytes
from .._validation import BytesLike, Rng, draw, is_int
from ..crypto import sha1, sha256
from ..crypto.aes import ige256_decrypt, ige256_encrypt
from ..crypto.bignum import modexp
from ..errors import HandshakeError, InvalidArgument, InvalidLength, InvalidType
from ..tl import pack_bytes
from ._common import int_to_be

__all__ = [
    "RSA_BLOCK_SIZE",
    "RSA_LEGACY_MAX_DATA",
    "RSA_LEGACY_MAX_TEMPLATES",
    "RSA_PAD_MAX_DATA",
    "TELEGRAM_PRODUCTION_KEYS",
    "TELEGRAM_PRODUCTION_PEM",
    "TELEGRAM_TEST_KEYS",
    "TELEGRAM_TEST_PEM",
    "LegacyTemplate",
    "RsaPrivateKey",
    "RsaPublicKey",
    "decrypt_block",
    "generate_private_key",
    "load_private_key",
    "load_public_key",
    "rsa_legacy_decrypt",
    "rsa_legacy_encrypt",
    "rsa_legacy_encrypt_with",
    "rsa_legacy_match",
    "rsa_legacy_unpad",
    "rsa_pad_decrypt",
    "rsa_pad_encrypt",
    "rsa_pad_encrypt_with",
    "rsa_pad_unpad",
    "telegram_fingerprint",
]

RSA_BLOCK_SIZE = 256
"""Bytes of every handshake RSA ciphertext (and plaintext block)."""

RSA_PAD_MAX_DATA = 144
"""Longest ``data`` RSA_PAD accepts (a ``p_q_inner_data_temp_dc`` is at most 124)."""

RSA_LEGACY_MAX_DATA: int = lib.MTC_RSA_LEGACY_MAX_DATA
"""Longest ``data`` the legacy padding carries (256 - 1 - 20 = 235 bytes)."""

RSA_LEGACY_MAX_TEMPLATES: int = lib.MTC_RSA_LEGACY_MAX_CANDIDATES
"""Most candidates one :func:`rsa_legacy_match` call checks (the four ``p_q_inner_data*``)."""

_PADDED = 192  # data_with_padding
_LEGACY_PLAIN = 255  # SHA1(data) + data + random
_ZERO_IV = bytes(32)

TELEGRAM_PRODUCTION_PEM = """-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEA6LszBcC1LGzyr992NzE0ieY+BSaOW622Aa9Bd4ZHLl+TuFQ4lo4g
5nKaMBwK/BIb9xUfg0Q29/2mgIR6Zr9krM7HjuIcCzFvDtr+L0GQjae9H0pRB2OO
62cECs5HKhT5DZ98K33vmWiLowc621dQuwKWSQKjWf50XYFw42h21P2KXUGyp2y/
+aEyZ+uVgLLQbRA1dEjSDZ2iGRy12Mk5gpYc397aYp438fsJoHIgJ2lgMv5h7WY9
t6N/byY9Nw9p21Og3AoXSL2q/2IJ1WRUhebgAdGVMlV1fkuOQoEzR7EdpqtQD9Cs
5+bfo3Nhmcyvk5ftB0WkJ9z6bNZ7yxrP8wIDAQAB
-----END RSA PUBLIC KEY-----
"""
"""Telegram's production server key (fingerprint -3414540481677951611,
``85fd64de851d9dd0`` on the wire), from tdlib
``td/telegram/net/PublicRsaKeySharedMain.cpp``."""

TELEGRAM_TEST_PEM = """-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAyMEdY1aR+sCR3ZSJrtztKTKqigvO/vBfqACJLZtS7QMgCGXJ6XIR
yy7mx66W0/sOFa7/1mAZtEoIokDP3ShoqF4fVNb6XeqgQfaUHd8wJpDWHcR2OFwv
plUUI1PLTktZ9uW2WE23b+ixNwJjJGwBDJPQEQFBE+vfmH0JP503wr5INS1poWg/
j25sIWeYPHYeOrFp/eXaqhISP6G+q2IeTaWTXpwZj4LzXq5YOpk4bYEQ6mvRq7D1
aHWfYmlEGepfaYR8Q0YqvvhYtMte3ITnuSJs171+GDqpdKcSwHnd6FudwGO4pcCO
j4WcDuXc2CTHgH8gFTNhp/Y8/SpDOhvn9QIDAQAB
-----END RSA PUBLIC KEY-----
"""
"""Telegram's test-server key (fingerprint -5595554452916591101), from tdlib
``PublicRsaKeySharedMain.cpp`` (``is_test``)."""


def telegram_fingerprint(n: int, e: int) -> int:
    """Telegram's key fingerprint: SHA1(bare rsa_public_key n e)[12:20] as a signed LE int64."""
    digest = sha1(pack_bytes(int_to_be(n)) + pack_bytes(int_to_be(e)))
    value: int = struct.unpack("<q", digest[12:20])[0]
    return value


def _check_components(n: int, e: int) -> None:
    for name, value in (("n", n), ("e", e)):
        if not is_int(value):
            raise InvalidType(f"RSA {name} must be an int")
    if not 2041 <= n.bit_length() <= 2048 or not n & 1:
        raise InvalidArgument("handshake RSA keys need an odd 2041..2048-bit modulus")
    if not 3 <= e < n or not e & 1:
        raise InvalidArgument("RSA public exponent must be odd and in [3, n)")


class RsaPublicKey:
    """A server's RSA public key with its Telegram fingerprint.

    ``fingerprint`` is the signed int64 the server lists in ``resPQ``;
    ``fingerprint_bytes`` are its 8 little-endian wire bytes.
    """

    __slots__ = ("_e_bytes", "e", "fingerprint", "fingerprint_bytes", "n")

    def __init__(self, n: int, e: int) -> None:
        _check_components(n, e)
        self.n: int = n
        self.e: int = e
        self._e_bytes = (e.bit_length() + 7) // 8  # public: 3 bytes for 65537
        self.fingerprint: int = telegram_fingerprint(n, e)
        self.fingerprint_bytes: bytes = struct.pack("<q", self.fingerprint)

    @classmethod
    def from_pem(cls, pem: str | bytes) -> RsaPublicKey:
        """Load a PKCS#1 (``RSA PUBLIC KEY``) or SubjectPublicKeyInfo (``PUBLIC KEY``) PEM."""
        return load_public_key(pem)

    def to_pem(self, *, pkcs1: bool = True) -> str:
        """PEM text: PKCS#1 ``RSA PUBLIC KEY`` (what Telethon's ``add_key`` wants) or SPKI."""
        if pkcs1:
            der = DerSequence([self.n, self.e]).encode()
            return PEM.encode(der, "RSA PUBLIC KEY") + "\n"
        exported: bytes = RSA.construct((self.n, self.e)).export_key(format="PEM")
        return exported.decode("ascii") + "\n"

    def encrypt_int(self, m: int) -> int:
        """Textbook RSA ``m^e mod n`` (no padding; callers pad)."""
        if not 0 <= m < self.n:
            raise InvalidArgument("RSA input must be below the modulus")
        return modexp(m, self.e, self.n, exponent_bytes=self._e_bytes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RsaPublicKey):
            return NotImplemented
        return self.n == other.n and self.e == other.e

    def __hash__(self) -> int:
        return hash((self.n, self.e))

    def __repr__(self) -> str:
        return f"RsaPublicKey(fingerprint={self.fingerprint})"


class RsaPrivateKey:
    """A server's RSA private key. The private operation uses the CRT with
    constant-time modular exponentiation and is verified by re-encryption."""

    __slots__ = ("_d", "_dp", "_dq", "_p", "_p_bytes", "_q", "_q_bytes", "_qinv", "public_key")

    def __init__(self, n: int, e: int, d: int, p: int, q: int) -> None:
        self.public_key: RsaPublicKey = RsaPublicKey(n, e)
        for value in (d, p, q):
            if not is_int(value):
                raise InvalidType("RSA private components must be ints")
        if p * q != n or p < 3 or q < 3:
            raise InvalidArgument("RSA private key: p * q != n")
        if (e * d) % ((p - 1) * (q - 1) // _gcd(p - 1, q - 1)) != 1:
            raise InvalidArgument("RSA private key: d is not the inverse of e")
        self._d = d
        self._p = p
        self._q = q
        self._dp = d % (p - 1)
        self._dq = d % (q - 1)
        self._qinv = pow(q, -1, p)
        # The CRT exponents are taken at their prime's full length, whatever
        # their own: lengths are public, the exponents' bits are not.
        self._p_bytes = (p.bit_length() + 7) // 8
        self._q_bytes = (q.bit_length() + 7) // 8

    @property
    def fingerprint(self) -> int:
        """The Telegram fingerprint of the public half."""
        return self.public_key.fingerprint

    def decrypt_int(self, c: int) -> int:
        """Textbook RSA ``c^d mod n`` by the CRT; ``c`` must be below the modulus.

        The result is re-encrypted and compared with ``c`` (a fault in the CRT
        would otherwise leak a factor of n).
        """
        n = self.public_key.n
        if not 0 <= c < n:
            raise InvalidArgument("RSA input must be below the modulus")
        m1 = modexp(c, self._dp, self._p, exponent_bytes=self._p_bytes)
        m2 = modexp(c, self._dq, self._q, exponent_bytes=self._q_bytes)
        h = (self._qinv * (m1 - m2)) % self._p
        m = m2 + h * self._q
        if self.public_key.encrypt_int(m) != c:  # pragma: no cover - hardware fault
            raise HandshakeError("rsa_private_operation")
        return m

    def to_pem(self, *, passphrase: str | None = None) -> str:
        """PKCS#1 PEM (``RSA PRIVATE KEY``), PKCS#8-encrypted when a passphrase is given."""
        key = RSA.construct((self.public_key.n, self.public_key.e, self._d, self._p, self._q))
        if passphrase is None:
            out: bytes = key.export_key(format="PEM", pkcs=1)
        else:
            out = key.export_key(
                format="PEM",
                pkcs=8,
                passphrase=passphrase,
                protection="PBKDF2WithHMAC-SHA256AndAES256-CBC",
            )
        return out.decode("ascii") + "\n"

    def __repr__(self) -> str:
        return f"RsaPrivateKey(fingerprint={self.fingerprint})"


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _import(pem: str | bytes, passphrase: str | None = None) -> RSA.RsaKey:
    if not isinstance(pem, str | bytes):
        raise InvalidType("PEM must be str or bytes")
    try:
        return RSA.import_key(pem, passphrase)
    except (ValueError, IndexError, TypeError) as exc:
        raise InvalidArgument(f"not a supported RSA key: {exc}") from None


def load_public_key(pem: str | bytes) -> RsaPublicKey:
    """An :class:`RsaPublicKey` from PEM (PKCS#1 or SubjectPublicKeyInfo; a
    private key PEM yields its public half)."""
    key = _import(pem)
    return RsaPublicKey(int(key.n), int(key.e))


def load_private_key(pem: str | bytes, passphrase: str | None = None) -> RsaPrivateKey:
    """An :class:`RsaPrivateKey` from PEM (PKCS#1 or PKCS#8, optionally encrypted)."""
    key = _import(pem, passphrase)
    if not key.has_private():
        raise InvalidArgument("PEM holds a public key, not a private key")
    return RsaPrivateKey(int(key.n), int(key.e), int(key.d), int(key.p), int(key.q))


def generate_private_key(bits: int = 2048, *, rng: Rng | None = None) -> RsaPrivateKey:
    """A new server key (e = 65537). ``rng`` defaults to the OS CSPRNG; pass a
    deterministic one only in tests. Takes 0.1-2 s for 2048 bits."""
    if not is_int(bits) or not 2041 <= bits <= 2048:
        raise InvalidArgument("handshake RSA keys need a 2041..2048-bit modulus")
    key = RSA.generate(bits, randfunc=rng)
    return RsaPrivateKey(int(key.n), int(key.e), int(key.d), int(key.p), int(key.q))


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _check_key(key: object) -> RsaPublicKey:
    if isinstance(key, RsaPrivateKey):
        return key.public_key
    if not isinstance(key, RsaPublicKey):
        raise InvalidType("key must be an RsaPublicKey")
    return key


def rsa_pad_encrypt_with(
    data: bytes, key: RsaPublicKey, padding: bytes, temp_key: bytes
) -> bytes | None:
    """RSA_PAD with the randomness given (the deterministic twin).

    ``padding`` is the ``192 - len(data)`` random bytes, ``temp_key`` the 32-byte
    AES key. Returns the 256-byte ciphertext, or ``None`` when the block is not
    below the modulus (the caller must then draw a fresh ``temp_key``).
    """
    key = _check_key(key)
    if not isinstance(data, bytes) or len(data) > RSA_PAD_MAX_DATA:
        raise InvalidLength(f"RSA_PAD data must be bytes of at most {RSA_PAD_MAX_DATA}")
    if len(padding) != _PADDED - len(data):
        raise InvalidLength("RSA_PAD padding must bring the data to 192 bytes")
    if len(temp_key) != 32:
        raise InvalidLength("RSA_PAD temp_key must be 32 bytes")
    data_with_padding = data + bytes(padding)
    data_with_hash = data_with_padding[::-1] + sha256(temp_key + data_with_padding)
    aes_encrypted = ige256_encrypt(data_with_hash, temp_key, _ZERO_IV)
    temp_key_xor = _xor(temp_key, sha256(aes_encrypted))
    block = int.from_bytes(temp_key_xor + aes_encrypted, "big")
    if block >= key.n:
        return None
    return key.encrypt_int(block).to_bytes(RSA_BLOCK_SIZE, "big")


def rsa_pad_encrypt(
    data: bytes, key: RsaPublicKey, *, rng: Rng = random_bytes, max_attempts: int = 1024
) -> bytes:
    """RSA_PAD(data, key): the 256-byte ``encrypted_data`` of ``req_DH_params``.

    Draws ``192 - len(data)`` padding bytes, then a 32-byte ``temp_key`` per
    attempt until the block is below the modulus (a fresh key each time, as
    the spec says).
    """
    key = _check_key(key)
    if not isinstance(data, bytes) or len(data) > RSA_PAD_MAX_DATA:
        raise InvalidLength(f"RSA_PAD data must be bytes of at most {RSA_PAD_MAX_DATA}")
    padding = draw(rng, _PADDED - len(data))
    for _ in range(max_attempts):
        out = rsa_pad_encrypt_with(data, key, padding, draw(rng, 32))
        if out is not None:
            return out
    raise InvalidArgument("RSA_PAD: no temp_key gave a block below the modulus")


def _private_block(encrypted: bytes, key: RsaPrivateKey) -> bytes:
    if not isinstance(key, RsaPrivateKey):
        raise InvalidType("key must be an RsaPrivateKey")
    if not isinstance(encrypted, BytesLike):
        raise InvalidType("encrypted data must be bytes")
    c = int.from_bytes(encrypted, "big")
    if len(encrypted) != RSA_BLOCK_SIZE or c >= key.public_key.n:
        raise HandshakeError("encrypted_data", "not a 256-byte value below the modulus")
    return key.decrypt_int(c).to_bytes(RSA_BLOCK_SIZE, "big")


def rsa_pad_unpad(block: bytes) -> bytes | None:
    """Undo RSA_PAD on a decrypted 256-byte block: the 192-byte
    ``data_with_padding``, or ``None`` if the SHA-256 binding does not match."""
    temp_key = _xor(block[:32], sha256(block[32:]))
    data_with_hash = ige256_decrypt(block[32:], temp_key, _ZERO_IV)
    data_with_padding = data_with_hash[:_PADDED][::-1]
    expected = sha256(temp_key + data_with_padding)
    if not hmac.compare_digest(expected, data_with_hash[_PADDED:]):
        return None
    return data_with_padding


def rsa_pad_decrypt(encrypted: bytes, key: RsaPrivateKey) -> bytes:
    """Server side of RSA_PAD: the 192-byte ``data_with_padding`` (the TL
    ``p_q_inner_data*`` followed by random bytes).

    Raises :class:`HandshakeError` (``encrypted_data`` or ``rsa_padding``).
    """
    out = rsa_pad_unpad(_private_block(encrypted, key))
    if out is None:
        raise HandshakeError("rsa_padding")
    return out


def rsa_legacy_encrypt_with(data: bytes, key: RsaPublicKey, padding: bytes) -> bytes:
    """The pre-RSA_PAD scheme ``(SHA1(data) + data + padding)^e mod n`` with the
    ``235 - len(data)`` padding bytes given (the deterministic twin)."""
    key = _check_key(key)
    if not isinstance(data, bytes) or len(data) > _LEGACY_PLAIN - 20:
        raise InvalidLength("legacy RSA data must be bytes of at most 235")
    if len(padding) != _LEGACY_PLAIN - 20 - len(data):
        raise InvalidLength("legacy RSA padding must bring the block to 255 bytes")
    block = sha1(data) + data + bytes(padding)
    return key.encrypt_int(int.from_bytes(block, "big")).to_bytes(RSA_BLOCK_SIZE, "big")


def rsa_legacy_encrypt(data: bytes, key: RsaPublicKey, *, rng: Rng = random_bytes) -> bytes:
    """The legacy ``SHA1(data) + data + random`` RSA scheme Telethon and
    Pyrogram send. Do not use it for talking to Telegram: it exists so servers
    and transcript replays can be tested."""
    return rsa_legacy_encrypt_with(data, key, draw(rng, _LEGACY_PLAIN - 20 - len(data)))


def rsa_legacy_unpad(block: bytes, data_length: Callable[[bytes], int | None]) -> bytes | None:
    """Undo the legacy padding on a decrypted 256-byte block.

    The block is ``00 || SHA1(data) || data || random``; ``data_length`` tells
    how long ``data`` is at the start of the given bytes (the TL object's
    length) or returns ``None``. Returns ``data`` or ``None`` on mismatch.

    Not constant time: it branches on the first byte and lets ``data_length``
    parse the decrypted bytes before the hash is checked. A server facing
    untrusted clients uses :func:`rsa_legacy_match` instead; this is the
    straightforward reference it is tested against.
    """
    if block[0] != 0:
        return None
    body = block[21:]
    length = data_length(body)
    if length is None or not 0 < length <= len(body):
        return None
    data = body[:length]
    if not hmac.compare_digest(sha1(data), block[1:21]):
        return None
    return data


@dataclass(frozen=True, slots=True, repr=False)
class LegacyTemplate:
    """One candidate ``data`` for :func:`rsa_legacy_match`.

    ``expected`` is the candidate, as long as the ``data`` it stands for (1 to
    235 bytes); ``mask`` has the same length, with the bits set where ``data``
    must equal ``expected`` (``0xff`` for a known byte, ``0x00`` for one the
    server cannot predict, such as ``new_nonce``). What the free bytes of
    ``expected`` hold does not matter.
    """

    expected: bytes
    mask: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.expected, bytes) or not isinstance(self.mask, bytes):
            raise InvalidType("LegacyTemplate expected and mask must be bytes")
        if not 0 < len(self.expected) <= RSA_LEGACY_MAX_DATA:
            raise InvalidLength(f"a legacy template is 1 to {RSA_LEGACY_MAX_DATA} bytes long")
        if len(self.mask) != len(self.expected):
            raise InvalidLength("a legacy template's mask must be as long as its bytes")

    def __len__(self) -> int:
        return len(self.expected)

    def __repr__(self) -> str:
        # The expected bytes are the server's own values, but say only the shape.
        return f"LegacyTemplate(length={len(self.expected)})"


def _packed_templates(templates: Sequence[LegacyTemplate]) -> tuple[bytes, bytes, Any]:
    if not isinstance(templates, Sequence) or not 0 < len(templates) <= RSA_LEGACY_MAX_TEMPLATES:
        raise InvalidArgument(f"between 1 and {RSA_LEGACY_MAX_TEMPLATES} legacy templates needed")
    for template in templates:
        if not isinstance(template, LegacyTemplate):
            raise InvalidType("templates must be LegacyTemplate objects")
    # The C side reads fixed 235-byte slots; the zero-filled tails are masked off.
    expect = b"".join(t.expected.ljust(RSA_LEGACY_MAX_DATA, b"\0") for t in templates)
    mask = b"".join(t.mask.ljust(RSA_LEGACY_MAX_DATA, b"\0") for t in templates)
    lens = ffi.new("uint32_t[]", [len(t.expected) for t in templates])
    return expect, mask, lens


def rsa_legacy_match(block: bytes, templates: Sequence[LegacyTemplate]) -> tuple[int, bytes] | None:
    """Check a decrypted 256-byte block for the legacy padding, in constant time.

    The block must be ``00 || SHA1(data) || data || random`` where ``data`` is
    as long as one of the ``templates`` (1 to 4) and agrees with it on the
    bytes its mask fixes. Returns ``(index, data)`` for the first template
    that matches, or ``None``.

    The check runs in C (``mtc_rsa_legacy_check``) without a branch or a memory
    index that depends on the block: it hashes the block at every template's
    length and compares everything, so the time it takes depends on the
    templates alone. The single decision on the block is the ``None`` test on
    the result; ``data`` is only sliced out (and parsed by the caller) after it.
    """
    if not isinstance(block, bytes) or len(block) != RSA_BLOCK_SIZE:
        raise InvalidLength(f"the decrypted block must be {RSA_BLOCK_SIZE} bytes")
    expect, mask, lens = _packed_templates(templates)
    index = ffi.new("int *")
    rc = lib.mtc_rsa_legacy_check(block, len(templates), expect, mask, lens, index)
    if rc == lib.MTC_OK:
        chosen = int(index[0])
        return chosen, block[21 : 21 + len(templates[chosen])]
    if rc == lib.MTC_ERR_DECRYPT:
        return None
    raise InvalidArgument("legacy template check refused its arguments")  # pragma: no cover


def rsa_legacy_decrypt(
    encrypted: bytes, key: RsaPrivateKey, data_length: Callable[[bytes], int | None]
) -> bytes:
    """Server side of the legacy scheme: ``data`` (see :func:`rsa_legacy_unpad`).

    Raises :class:`HandshakeError` (``encrypted_data`` or ``rsa_padding``).
    """
    out = rsa_legacy_unpad(_private_block(encrypted, key), data_length)
    if out is None:
        raise HandshakeError("rsa_padding")
    return out


def decrypt_block(encrypted: bytes, key: RsaPrivateKey) -> bytes:
    """The raw 256-byte RSA plaintext block (for servers that try both paddings
    on one private operation)."""
    return _private_block(encrypted, key)


def _load_keys(pems: Iterable[str]) -> tuple[RsaPublicKey, ...]:
    return tuple(load_public_key(pem) for pem in pems)


TELEGRAM_PRODUCTION_KEYS: tuple[RsaPublicKey, ...] = _load_keys([TELEGRAM_PRODUCTION_PEM])
"""Keys a client talking to Telegram's production DCs trusts (the default)."""

TELEGRAM_TEST_KEYS: tuple[RsaPublicKey, ...] = _load_keys([TELEGRAM_TEST_PEM])
"""Keys for Telegram's test DCs."""
