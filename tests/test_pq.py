"""pq factorization (handshake proof of work).

``csrc/pq.c`` runs trial division, a square test, micro-ECM and Pollard-Brent
as the fallback; these tests hold every path to the contract: ``(p, q)`` with
``1 < p <= q`` and ``p * q == pq``, the two primes of a semiprime exactly, and
:class:`~mtcrypt.errors.InvalidArgument` for primes and values below 4.
"""

from __future__ import annotations

import math
import random

import pytest
from conftest import assert_generated_file
from Crypto.Util.number import getPrime, isPrime
from hypothesis import given
from hypothesis import strategies as st

from mtcrypt.errors import InvalidArgument
from mtcrypt.handshake.pq import factorize_pq, is_prime_u64

_MR_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)


def _reference_is_prime(n: int) -> bool:
    """Slow reference: Miller-Rabin with Python's pow (deterministic below 2^64)."""
    if n < 2:
        return False
    for b in _MR_BASES:
        if n % b == 0:
            return n == b
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for b in _MR_BASES:
        x = pow(b, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _reference_factors(n: int) -> list[int]:
    """Slow reference: the prime factors of n < 2^32 by trial division."""
    out, f = [], 2
    while f * f <= n:
        while n % f == 0:
            out.append(f)
            n //= f
        f += 1 if f == 2 else 2
    return out + ([n] if n > 1 else [])


def _prime(rng: random.Random, bits: int) -> int:
    while True:
        n = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
        if isPrime(n):
            return n


def _check_split(n: int) -> tuple[int, int]:
    p, q = factorize_pq(n)
    assert p * q == n and 1 < p <= q
    return p, q


def test_official_sample_pq() -> None:
    # core.telegram.org/mtproto/samples-auth_key: pq = 0x17ED48941A08F981
    assert factorize_pq(0x17ED48941A08F981) == (0x494C553B, 0x53911073)


def test_random_semiprimes_40_to_64_bits() -> None:
    # Balanced and unbalanced splits at every size from 40 to 64 bits, from a
    # fixed seed; the factors are built here, so the answer is known.
    rng = random.Random(14)
    for bits in range(40, 65):
        for split in (bits // 2, bits // 2 - 1, bits // 2 - 3, bits // 3, 12):
            for _ in range(3):
                while True:
                    p, q = _prime(rng, split), _prime(rng, bits - split)
                    if p != q and (p * q).bit_length() in (bits - 1, bits):
                        break
                assert factorize_pq(p * q) == (min(p, q), max(p, q)), (p, q)


def test_handshake_style_pqs() -> None:
    # What servers send: two primes in [2^30, 2^31.5) (the benchmark's kind),
    # and two primes just below 2^32.
    rng = random.Random(1414)
    for _ in range(150):
        p = q = 0
        while p == q:
            p, q = (_prime_between(rng, 1 << 30, 3037000499) for _ in range(2))
        assert factorize_pq(p * q) == (min(p, q), max(p, q))
    near = sorted(n for n in range((1 << 32) - 1, (1 << 32) - 400, -2) if isPrime(n))[-8:]
    for i, p in enumerate(near):
        for q in near[i:]:
            assert factorize_pq(p * q) == (p, q)


def _prime_between(rng: random.Random, lo: int, hi: int) -> int:
    while True:
        n = rng.randrange(lo, hi) | 1
        if isPrime(n):
            return n


# Chernick's (6k+1)(12k+1)(18k+1) with k = 100291: a 61-bit Carmichael number
# whose factors are all above the trial division bound.
_CHERNICK = 601747 * 1203493 * 1805239
_PRIMES_ABOVE_1024 = (1031, 1033, 1039, 1049, 1051, 1061)


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (4, (2, 2)),
        (6, (2, 3)),
        (9, (3, 3)),
        (1021 * 1021, (1021, 1021)),  # below the trial division bound
        (1031 * 1031, (1031, 1031)),  # above it
        (4294967291 * 4294967291, (4294967291, 4294967291)),  # largest 32-bit prime squared
        (4294967279 * 4294967291, (4294967279, 4294967291)),
        (65537 * 4294967291, (65537, 4294967291)),
        (3 * 6148914691236517199, (3, 6148914691236517199)),  # tiny times 63-bit prime
        (1031 * 17179869143, (1031, 17179869143)),  # smallest factor just above trial division
        (1021 * 18067330140753683, (1021, 18067330140753683)),
        (1048573 * 1048583, (1048573, 1048583)),  # below 2^40: Brent
        (1099511627791 * 3, (3, 1099511627791)),
        (2147483647**2, (2147483647, 2147483647)),
    ],
)
def test_semiprime_edge_cases(n: int, expected: tuple[int, int]) -> None:
    assert all(isPrime(f) for f in expected) and math.prod(expected) == n
    assert factorize_pq(n) == expected


@pytest.mark.parametrize(
    "n",
    [
        (1 << 64) - 1,  # 3 * 5 * 17 * 257 * 641 * 65537 * 6700417
        (1 << 64) - 2,
        1 << 63,
        (1 << 62) + 1,
        561,
        41041,
        825265,  # Carmichael numbers with small factors
        _CHERNICK,
        3825123056546413051,  # a strong pseudoprime to bases 2..23 (149491 * 747451 * 34233211)
        1000003**3,  # a cube
        1031**6,  # a sixth power above the trial division bound
        # 41 bits of factors just above 1024: every ECM curve finds all of them at once
        math.prod(_PRIMES_ABOVE_1024[:4]),
        math.prod(_PRIMES_ABOVE_1024),
        1048573 * 1048583 * 1000003,  # three 20-bit primes
        65537 * 65543 * 65551,  # three 17-bit primes
    ],
)
def test_more_than_two_factors_gives_a_nontrivial_split(n: int) -> None:
    p, _ = _check_split(n)
    assert not _reference_is_prime(n)
    assert n % p == 0 and p not in (1, n)


@given(st.integers(2, 2**32 - 1), st.integers(2, 2**32 - 1))
def test_products_against_reference(a: int, b: int) -> None:
    n = a * b
    factors = sorted(_reference_factors(a) + _reference_factors(b))
    p, q = _check_split(n)
    if len(factors) == 2:
        assert (p, q) == tuple(factors)
    else:  # any nontrivial split: p and q take complementary parts of the factors
        assert sorted(_factors_of(p, factors) + _factors_of(q, factors)) == factors


def _factors_of(m: int, primes: list[int]) -> list[int]:
    out = []
    for f in sorted(set(primes)):
        while m % f == 0:
            out.append(f)
            m //= f
    assert m == 1
    return out


@given(st.integers(0, 2**64 - 1))
def test_any_64_bit_value_is_split_or_refused_as_prime(n: int) -> None:
    if n < 4 or _reference_is_prime(n):
        with pytest.raises(InvalidArgument):
            factorize_pq(n)
    else:
        _check_split(n)


@given(st.integers(2, 32).flatmap(lambda b: st.tuples(st.just(b), st.integers(2, 32))))
def test_products_of_random_primes(bits: tuple[int, int]) -> None:
    p, q = getPrime(bits[0]), getPrime(bits[1])
    assert factorize_pq(p * q) == (min(p, q), max(p, q))


@given(st.integers(0, 2**64 - 1))
def test_primality_agrees_with_pycryptodome(n: int) -> None:
    assert is_prime_u64(n) == (n >= 2 and bool(isPrime(n)))


@given(st.integers(0, 2**64 - 1))
def test_primality_agrees_with_reference(n: int) -> None:
    assert is_prime_u64(n) == _reference_is_prime(n)


@pytest.mark.parametrize(
    "n", [2, 3, 37, 41, 1031, 4294967291, 2**61 - 1, 18446744073709551557, 3825123056546413051]
)
def test_primality_edges(n: int) -> None:
    assert is_prime_u64(n) == _reference_is_prime(n) == bool(isPrime(n))


@pytest.mark.parametrize("bad", [0, 1, 2, 3, 13, 2**61 - 1, 2**64, -15, "15", 1.5, True])
def test_rejects_non_composites_and_bad_types(bad: object) -> None:
    with pytest.raises(InvalidArgument):
        factorize_pq(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("prime", [4294967291, 18446744073709551557, 1805239])
def test_rejects_primes(prime: int) -> None:
    with pytest.raises(InvalidArgument):
        factorize_pq(prime)


def test_trial_division_table_is_the_generators_checked_output() -> None:
    assert_generated_file("tools/pq_tables.py", "csrc/pq_tables.h")


@pytest.mark.parametrize("p", [2, 3, 5, 1019, 1021])
def test_trial_division_finds_each_small_prime(p: int) -> None:
    # Below the bound, times a prime above it and times itself.
    assert factorize_pq(p * 1000003) == (p, 1000003)
    assert factorize_pq(p * p) == (p, p)


def test_every_value_below_2_to_the_14() -> None:
    for n in range(1 << 14):
        if n < 4 or len(_reference_factors(n)) == 1:
            with pytest.raises(InvalidArgument):
                factorize_pq(n)
        else:
            p, q = factorize_pq(n)
            assert p * q == n and 1 < p <= q and p == _reference_factors(n)[0]
