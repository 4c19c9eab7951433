"""pq factorization (handshake proof of work)."""

from __future__ import annotations

import pytest
from Crypto.Util.number import getPrime, isPrime
from hypothesis import given
from hypothesis import strategies as st

from mtcrypt.errors import InvalidArgument
from mtcrypt.handshake.pq import factorize_pq, is_prime_u64


def test_official_sample_pq() -> None:
    # core.telegram.org/mtproto/samples-auth_key: pq = 0x17ED48941A08F981
    assert factorize_pq(0x17ED48941A08F981) == (0x494C553B, 0x53911073)


@given(st.integers(2, 32).flatmap(lambda b: st.tuples(st.just(b), st.integers(2, 32))))
def test_products_of_random_primes(bits: tuple[int, int]) -> None:
    p, q = getPrime(bits[0]), getPrime(bits[1])
    assert factorize_pq(p * q) == (min(p, q), max(p, q))


@given(st.integers(0, 2**64 - 1))
def test_primality_agrees_with_pycryptodome(n: int) -> None:
    assert is_prime_u64(n) == (n >= 2 and bool(isPrime(n)))


@pytest.mark.parametrize("bad", [0, 1, 2, 3, 13, 2**61 - 1, 2**64, -15, "15", 1.5, True])
def test_rejects_non_composites_and_bad_types(bad: object) -> None:
    with pytest.raises(InvalidArgument):
        factorize_pq(bad)  # type: ignore[arg-type]
