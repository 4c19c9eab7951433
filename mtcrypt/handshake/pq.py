"""The handshake's proof of work: factoring ``pq`` (natively: micro-ECM, Pollard-Brent as the
fallback)."""

from __future__ import annotations

from .._native import ffi, lib
from .._validation import is_int
from ..errors import InvalidArgument

__all__ = ["factorize_pq", "is_prime_u64"]


def factorize_pq(pq: int) -> tuple[int, int]:
    """Return ``(p, q)`` with ``p <= q`` and ``p * q == pq``.

    ``pq`` must be a composite below 2**64 (Telegram sends a product of two
    primes below 2**32).  Raises :class:`~mtcrypt.errors.InvalidArgument` for
    anything else.
    """
    if not is_int(pq):
        raise InvalidArgument("pq must be an int")
    if not 4 <= pq < 1 << 64:
        raise InvalidArgument("pq must be a composite number in [4, 2**64)")
    out = ffi.new("uint64_t[2]")
    if lib.mtc_factorize_pq(pq, out, out + 1) != 0:
        raise InvalidArgument("pq is prime or could not be factored")
    return int(out[0]), int(out[1])


def is_prime_u64(n: int) -> bool:
    """Deterministic primality for ``0 <= n < 2**64``."""
    if not is_int(n) or not 0 <= n < 1 << 64:
        raise InvalidArgument("n must be an int in [0, 2**64)")
    return bool(lib.mtc_is_prime_u64(n))
