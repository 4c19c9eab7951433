"""The tgcrypto and cryptg shims behave like the real packages."""

from __future__ import annotations

import os

import pytest
from conftest import require
from hypothesis import given
from hypothesis import strategies as st

import mtcrypt.compat.cryptg as shim_cryptg
import mtcrypt.compat.tgcrypto as shim_tg
from mtcrypt.errors import InvalidLength

tgcrypto = require("tgcrypto")
cryptg = require("cryptg")

nonempty_blocks = st.integers(1, 64).flatmap(lambda n: st.binary(min_size=16 * n, max_size=16 * n))


@given(
    data=nonempty_blocks,
    key=st.binary(min_size=32, max_size=32),
    iv=st.binary(min_size=32, max_size=32),
)
def test_tgcrypto_ige(data: bytes, key: bytes, iv: bytes) -> None:
    assert shim_tg.ige256_encrypt(data, key, iv) == tgcrypto.ige256_encrypt(data, key, iv)
    assert shim_tg.ige256_decrypt(data, key, iv) == tgcrypto.ige256_decrypt(data, key, iv)


@given(
    chunks=st.lists(st.binary(min_size=1, max_size=100), min_size=1, max_size=10),
    key=st.binary(min_size=32, max_size=32),
    iv=st.binary(min_size=16, max_size=16),
    start_state=st.integers(0, 15),
)
def test_tgcrypto_ctr_in_place_state(
    chunks: list[bytes], key: bytes, iv: bytes, start_state: int
) -> None:
    iv_a, st_a = bytearray(iv), bytearray([start_state])
    iv_b, st_b = bytearray(iv), bytearray([start_state])
    for chunk in chunks:
        assert shim_tg.ctr256_encrypt(chunk, key, iv_a, st_a) == tgcrypto.ctr256_encrypt(
            chunk, key, iv_b, st_b
        )
        assert (iv_a, st_a) == (iv_b, st_b)


@given(
    data=nonempty_blocks,
    key=st.binary(min_size=32, max_size=32),
    iv=st.binary(min_size=16, max_size=16),
)
def test_tgcrypto_cbc_updates_iv(data: bytes, key: bytes, iv: bytes) -> None:
    for ours, theirs in (
        (shim_tg.cbc256_encrypt, tgcrypto.cbc256_encrypt),
        (shim_tg.cbc256_decrypt, tgcrypto.cbc256_decrypt),
    ):
        iv_a, iv_b = bytearray(iv), bytearray(iv)
        assert ours(data, key, iv_a) == theirs(data, key, iv_b)
        assert iv_a == iv_b


def test_tgcrypto_errors_are_value_errors_like_the_original() -> None:
    key = os.urandom(32)
    for call in (
        lambda m: m.ige256_encrypt(b"", key, bytes(32)),
        lambda m: m.ige256_encrypt(b"x" * 15, key, bytes(32)),
        lambda m: m.ctr256_encrypt(b"x", key, bytearray(16), bytearray([16])),
    ):
        with pytest.raises(ValueError):
            call(tgcrypto)
        with pytest.raises(ValueError):
            call(shim_tg)


@given(
    data=st.integers(0, 64).flatmap(lambda n: st.binary(min_size=16 * n, max_size=16 * n)),
    key=st.binary(min_size=32, max_size=32),
    iv=st.binary(min_size=32, max_size=32),
)
def test_cryptg_ige(data: bytes, key: bytes, iv: bytes) -> None:
    assert shim_cryptg.encrypt_ige(data, key, iv) == cryptg.encrypt_ige(data, key, iv)
    assert shim_cryptg.decrypt_ige(data, key, iv) == cryptg.decrypt_ige(data, key, iv)


def test_cryptg_refuses_what_cryptg_pads_silently() -> None:
    with pytest.raises(InvalidLength):
        shim_cryptg.encrypt_ige(b"x" * 15, os.urandom(32), os.urandom(32))


@pytest.mark.parametrize("pq", [1724114033281923457, 0x17ED48941A08F981, 15, 4, 2**62 - 57 * 59])
def test_cryptg_factorize(pq: int) -> None:
    p, q = shim_cryptg.factorize_pq_pair(pq)
    assert p * q == pq and 1 < p <= q
    if pq > 100:
        assert sorted(cryptg.factorize_pq_pair(pq)) == [p, q]
