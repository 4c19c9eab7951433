"""Diffie-Hellman for auth-key creation: parameter validation and exponentiation.

Checks (core.telegram.org/mtproto/auth_key, security_guidelines):

* ``dh_prime`` is a 2048-bit safe prime: p and (p-1)/2 both prime. Telegram's
  documented prime is accepted without work; any other prime is tested once
  and remembered in a :class:`DhPrimeCache`. (p-1)/2 gets 32 Miller-Rabin
  rounds with random bases plus a Lucas test (an adversarial server chooses
  the prime, so the round count is not the one for random numbers); p is then
  *proven* prime by Pocklington's criterion, which needs one exponentiation
  because (p-1)/2 is a prime larger than sqrt(p).
* ``g`` is 2..7 and generates the subgroup of order (p-1)/2, i.e. is a
  quadratic residue mod p: g=2 needs p mod 8 = 7; g=3, p mod 3 = 2; g=4
  always; g=5, p mod 5 in {1, 4}; g=6, p mod 24 in {19, 23}; g=7, p mod 7 in
  {3, 5, 6}.
* ``g_a`` and ``g_b`` lie in ``[2^1984, p - 2^1984]`` (which implies
  ``1 < x < p - 1``); our own ``g_b``/``g_a`` is regenerated until it does.

Exponentiation is the native core's constant-time Montgomery code
(:func:`mtcrypt.crypto.modexp`), about 2-3 ms for 2048 bits against 16-20 ms
for ``pow``; ``g^x`` for our own exponent uses the fixed-base form
(:func:`mtcrypt.crypto.modexp_fixed_base`, about 1 ms once ``(g, dh_prime)``
has a table).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from Crypto.Math import Primality

from .._validation import Rng, draw, is_int
from ..crypto.bignum import modexp as _native_modexp
from ..crypto.bignum import modexp_fixed_base
from ..errors import HandshakeError, InvalidArgument

__all__ = [
    "DEFAULT_PRIME_CACHE",
    "DH_SAFETY_MARGIN",
    "TELEGRAM_DH_G",
    "TELEGRAM_DH_PRIME",
    "DhPrimeCache",
    "check_dh_params",
    "check_dh_value",
    "g_is_valid_for",
    "generate_dh_exponent",
    "is_safe_prime",
    "modexp",
]

TELEGRAM_DH_PRIME = int(
    "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F"
    "48198A0AA7C14058229493D22530F4DBFA336F6E0AC925139543AED44CCE7C37"
    "20FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64"
    "2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4"
    "A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754"
    "FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4"
    "E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F"
    "0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B",
    16,
)
"""The 2048-bit safe prime Telegram's servers send (core.telegram.org/mtproto/auth_key)."""

TELEGRAM_DH_G = 3
"""The generator Telegram's servers use with :data:`TELEGRAM_DH_PRIME`."""

DH_SAFETY_MARGIN = 1 << (2048 - 64)
"""g_a and g_b must lie in ``[DH_SAFETY_MARGIN, dh_prime - DH_SAFETY_MARGIN]``."""

_MR_ROUNDS = 32
_EXPONENT_BYTES = 256  # our DH exponents: 2048 random bits
_SMALL_PRIMES = (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73)


def modexp(base: int, exponent: int, modulus: int) -> int:
    """``base ** exponent % modulus`` in constant time (:func:`mtcrypt.crypto.modexp`;
    the exponent's length is taken as the modulus' length, or its own if longer)."""
    return _native_modexp(base, exponent, modulus)


def _probable_prime(n: int) -> bool:
    if n < 3 or not n & 1:
        return False
    for small in _SMALL_PRIMES:
        if n % small == 0:
            return n == small
    if Primality.miller_rabin_test(n, _MR_ROUNDS, randfunc=os.urandom) == Primality.COMPOSITE:
        return False
    return bool(Primality.lucas_test(n) == Primality.PROBABLY_PRIME)


def is_safe_prime(p: int) -> bool:
    """Whether ``p`` is a 2048-bit safe prime (p and (p-1)/2 prime).

    (p-1)/2 is tested probabilistically (32 random-base Miller-Rabin rounds
    and a Lucas test); given that, p is proven prime by Pocklington: with
    q = (p-1)/2 prime and q > sqrt(p), ``3^(p-1) = 1 mod p`` and
    ``gcd(3^2 - 1, p) = 1`` suffice.
    """
    if not is_int(p) or p.bit_length() != 2048:
        return False
    if p % 8 not in (3, 7):  # p = 2q+1 with q odd prime: p = 3 mod 4
        return False
    q = (p - 1) // 2
    # Cheap sieve on both before any exponentiation.
    for small in _SMALL_PRIMES:
        if p % small == 0 or q % small == 0:
            return False
    if not _probable_prime(q):
        return False
    return modexp(3, p - 1, p) == 1


class DhPrimeCache:
    """Primes already proven safe (thread-safe, bounded, least recently used out).

    The Telegram prime is always considered known. One cache may be shared by
    every handshake (and by secret chats' ``messages.getDhConfig`` checks).
    """

    def __init__(self, max_size: int = 16) -> None:
        if not is_int(max_size) or max_size < 0:
            raise InvalidArgument("max_size must be a non-negative int")
        self._max = max_size
        self._known: OrderedDict[int, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, p: object) -> bool:
        if not isinstance(p, int):
            return False
        if p == TELEGRAM_DH_PRIME:
            return True
        with self._lock:
            if p in self._known:
                self._known.move_to_end(p)
                return True
        return False

    def add(self, p: int) -> None:
        """Remember ``p`` as a checked safe prime (the caller has checked it)."""
        if p == TELEGRAM_DH_PRIME or self._max == 0:
            return
        with self._lock:
            self._known[p] = None
            self._known.move_to_end(p)
            while len(self._known) > self._max:
                self._known.popitem(last=False)

    def is_safe_prime(self, p: int) -> bool:
        """:func:`is_safe_prime` with the cache in front of it."""
        if p in self:
            return True
        if not is_safe_prime(p):
            return False
        self.add(p)
        return True


DEFAULT_PRIME_CACHE = DhPrimeCache()
"""The cache handshakes use unless given another."""


def g_is_valid_for(g: int, p: int) -> bool:
    """The residue rule: ``g`` in 2..7 generates the subgroup of order (p-1)/2."""
    if g == 2:
        return p % 8 == 7
    if g == 3:
        return p % 3 == 2
    if g == 4:
        return True
    if g == 5:
        return p % 5 in (1, 4)
    if g == 6:
        return p % 24 in (19, 23)
    if g == 7:
        return p % 7 in (3, 5, 6)
    return False


def check_dh_params(g: int, dh_prime: int, *, cache: DhPrimeCache | None = None) -> None:
    """Raise :class:`HandshakeError` (``dh_prime`` or ``g``) unless ``dh_prime``
    is a 2048-bit safe prime and ``g`` a valid generator for it."""
    if not 2 <= g <= 7:
        raise HandshakeError("g", "g must be in 2..7")
    if not is_int(dh_prime) or dh_prime.bit_length() != 2048:
        raise HandshakeError("dh_prime", "not 2048 bits")
    if not g_is_valid_for(g, dh_prime):
        raise HandshakeError("g", "g does not generate the prime-order subgroup")
    if not (cache if cache is not None else DEFAULT_PRIME_CACHE).is_safe_prime(dh_prime):
        raise HandshakeError("dh_prime", "not a safe prime")


def check_dh_value(value: int, dh_prime: int, name: str) -> None:
    """Raise :class:`HandshakeError` named ``name`` unless
    ``2^1984 <= value <= dh_prime - 2^1984``."""
    if not DH_SAFETY_MARGIN <= value <= dh_prime - DH_SAFETY_MARGIN:
        raise HandshakeError(name, "outside [2^1984, dh_prime - 2^1984]")


def generate_dh_exponent(
    g: int, dh_prime: int, rng: Rng, *, name: str = "g_b", max_attempts: int = 64
) -> tuple[int, int]:
    """``(x, g^x mod dh_prime)`` with x from 256 bytes of ``rng``; x is drawn
    again while ``g^x`` is outside the safety range."""
    for _ in range(max_attempts):
        x = int.from_bytes(draw(rng, _EXPONENT_BYTES), "big")
        if x < 2:
            continue
        gx = modexp_fixed_base(g, x, dh_prime, exponent_bytes=_EXPONENT_BYTES)
        if DH_SAFETY_MARGIN <= gx <= dh_prime - DH_SAFETY_MARGIN:
            return x, gx
    raise HandshakeError(name, "could not draw an exponent in range")
