"""Constant-time modular exponentiation (csrc/bn.c through mtcrypt.crypto.bignum)
against Python's ``pow``: random and edge inputs, the fixed-base tables, bad
arguments, on the backend in use and on the portable one (plain C where the
others use MULX/ADX)."""

from __future__ import annotations

import platform
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import on_backend
from hypothesis import given, settings
from hypothesis import strategies as st

import mtcrypt.crypto as mc
from mtcrypt._native import ffi, lib
from mtcrypt.crypto import bignum
from mtcrypt.errors import InvalidArgument, InvalidType
from mtcrypt.handshake.dh import TELEGRAM_DH_PRIME

# Sizes around every limb boundary, the specialized 1024 and 2048 bits, and 4096.
SIZES = [2, 3, 8, 63, 64, 65, 127, 128, 129, 200, 511, 512, 1023, 1024, 1025, 2047, 2048, 4096]


@pytest.fixture(params=["active", "portable"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The backend the run selected (MULX/ADX where the CPU has it), then the
    portable one (the plain C multiplication)."""
    if request.param == "active":
        yield mc.backend_info().aes
    else:
        with on_backend("portable"):
            yield "portable"


def _odd_modulus(rng: random.Random, bits: int) -> int:
    return max(3, rng.getrandbits(bits) | 1 | (1 << (bits - 1)))


@pytest.mark.parametrize("bits", SIZES)
def test_modexp_matches_pow(backend: str, bits: int) -> None:
    rng = random.Random(bits)
    for _ in range(1 if bits > 2048 else 3):  # a 4096-bit modexp takes 40 ms
        m = _odd_modulus(rng, bits)
        base = rng.getrandbits(bits + 8)  # also above the modulus
        for ebits in (0, 1, 2, 17, min(bits, 1536)):
            e = rng.getrandbits(ebits) if ebits else 0
            assert mc.modexp(base, e, m) == pow(base, e, m)


@pytest.mark.parametrize("bits", [3, 64, 65, 1024, 2048])  # 4096: test_modexp_matches_pow
def test_modexp_edges(backend: str, bits: int) -> None:
    rng = random.Random(1000 + bits)
    m = _odd_modulus(rng, bits)
    e = rng.getrandbits(min(bits, 1024))  # pow() itself is slow beyond
    for base in (0, 1, 2, m - 1, m, m + 1, 2 * m + 5, -1, -m - 3):
        for exp in (0, 1, 2, e):
            assert mc.modexp(base, exp, m) == pow(base, exp, m), (base, exp)
    assert mc.modexp(5, 0, m) == 1
    # The largest modulus of each length, and an all-ones exponent.
    top = (1 << bits) - 1
    assert mc.modexp(top - 2, top >> 2048, top) == pow(top - 2, top >> 2048, top)


def test_modexp_exponent_length_is_the_callers(backend: str) -> None:
    m = TELEGRAM_DH_PRIME
    for elen in (1, 3, 255, 256, 300, 512):
        e = random.Random(elen).getrandbits(8 * min(elen, 3))
        assert mc.modexp(7, e, m, exponent_bytes=elen) == pow(7, e, m)
    big = 1 << 3000  # longer than the modulus: its own length by default
    assert mc.modexp(7, big, m) == pow(7, big, m)


def test_fixed_base_matches_pow(backend: str) -> None:
    rng = random.Random(7)
    for bits, elen in ((2048, 256), (1024, 128), (65, 9), (521, 20), (4096, 16)):
        m = _odd_modulus(rng, bits)
        g = rng.randrange(2, m)
        for i in range(4):  # the first call computes directly, the next ones use the table
            e = rng.getrandbits(8 * elen) if i else 0
            got = mc.modexp_fixed_base(g, e, m, exponent_bytes=elen)
            assert got == pow(g, e, m), (bits, i)
    # The handshake's pair, with the extreme exponents.
    for e in (0, 1, (1 << 2048) - 1, TELEGRAM_DH_PRIME - 1, 1 << 2047):
        got = mc.modexp_fixed_base(3, e, TELEGRAM_DH_PRIME, exponent_bytes=256)
        assert got == pow(3, e, TELEGRAM_DH_PRIME)


@given(
    st.integers(min_value=1, max_value=1 << 1100).map(lambda v: 2 * v + 1),
    st.integers(min_value=-(1 << 1200), max_value=1 << 1200),
    st.integers(min_value=0, max_value=1 << 1100),
)
def test_modexp_hypothesis(m: int, base: int, e: int) -> None:
    assert mc.modexp(base, e, m) == pow(base, e, m)


@settings(max_examples=25)  # each example is a 2048-bit pow() (20 ms)
@given(st.integers(min_value=0, max_value=(1 << 2048) - 1))
def test_fixed_base_hypothesis(e: int) -> None:
    got = mc.modexp_fixed_base(2, e, TELEGRAM_DH_PRIME, exponent_bytes=256)
    assert got == pow(2, e, TELEGRAM_DH_PRIME)


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((2, 5, 10), {}, InvalidArgument),  # even modulus
        ((2, 5, 1), {}, InvalidArgument),
        ((2, 5, -7), {}, InvalidArgument),
        ((2, 5, (1 << 4096) + 1), {}, InvalidArgument),  # 4097 bits
        ((2, -1, 11), {}, InvalidArgument),
        ((2, 1 << 4096, 11), {}, InvalidArgument),  # exponent longer than 512 bytes
        ((2, 1 << 16, 11), {"exponent_bytes": 2}, InvalidArgument),
        ((2, 5, 11), {"exponent_bytes": 513}, InvalidArgument),
        ((2.0, 5, 11), {}, InvalidType),
        ((2, 5.0, 11), {}, InvalidType),
        ((2, 5, 11.0), {}, InvalidType),
        ((2, True, 11), {}, InvalidType),
    ],
)
def test_modexp_rejects(args: tuple[object, ...], kwargs: dict[str, object], error: type) -> None:
    with pytest.raises(error):
        mc.modexp(*args, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("elen", [0, -1, 513, None])
def test_fixed_base_rejects_bad_exponent_lengths(elen: object) -> None:
    with pytest.raises(InvalidArgument):
        mc.modexp_fixed_base(3, 5, TELEGRAM_DH_PRIME, exponent_bytes=elen)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        mc.modexp_fixed_base(3, 1 << 16, TELEGRAM_DH_PRIME, exponent_bytes=2)
    with pytest.raises(InvalidArgument):
        mc.modexp_fixed_base(3, 5, 10, exponent_bytes=2)


def test_fixed_base_tables_are_bounded() -> None:
    rng = random.Random(11)
    pairs = [
        (_odd_modulus(rng, 127), rng.getrandbits(64) + 2)
        for _ in range(3 * bignum.FIXED_BASE_TABLES)
    ]
    for _ in range(2):
        for m, g in pairs:
            e = rng.getrandbits(64)
            assert mc.modexp_fixed_base(g, e, m, exponent_bytes=8) == pow(g, e, m)
    assert len(bignum._TABLES._tables) <= bignum.FIXED_BASE_TABLES


def test_native_refuses_what_python_rejects() -> None:
    """The C entry points check their own lengths and the modulus' form."""
    out = ffi.new("uint8_t[]", 512)
    one = b"\x01" * 513
    assert lib.mtc_modexp(one, one, 1, b"\x0a", 1, out) == lib.MTC_ERR_ARG  # even
    assert lib.mtc_modexp(one, one, 1, b"\x01", 1, out) == lib.MTC_ERR_ARG  # 1
    assert lib.mtc_modexp(one, one, 1, b"\x00\x0b", 2, out) == lib.MTC_ERR_ARG  # leading zero
    assert lib.mtc_modexp(one, one, 1, one, 513, out) == lib.MTC_ERR_ARG  # too long
    assert lib.mtc_modexp(one, one, 513, b"\x0b", 1, out) == lib.MTC_ERR_ARG
    assert lib.mtc_modexp(one, one, 0, b"\x0b", 1, out) == lib.MTC_OK
    assert out[0] == 1  # x^0
    assert lib.mtc_modexp_fixed_words(256, 0) == 0
    assert lib.mtc_modexp_fixed_words(513, 1) == 0
    words = lib.mtc_modexp_fixed_words(1, 1)
    table = ffi.new("uint64_t[]", words)
    assert lib.mtc_modexp_fixed_init(table, words - 1, b"\x02", b"\x0b", 1, 1) == lib.MTC_ERR_ARG
    assert lib.mtc_modexp_fixed(table, words, b"\x05", 1, out, 1) == lib.MTC_ERR_ARG  # not filled
    assert lib.mtc_modexp_fixed_init(table, words, b"\x02", b"\x0b", 1, 1) == lib.MTC_OK
    assert lib.mtc_modexp_fixed(table, words, b"\x05", 1, out, 1) == lib.MTC_OK
    assert out[0] == pow(2, 5, 11)
    assert lib.mtc_modexp_fixed(table, words, b"\x05\x00", 2, out, 1) == lib.MTC_ERR_ARG
    assert lib.mtc_modexp_fixed(table, words, b"\x05", 1, out, 2) == lib.MTC_ERR_ARG


def test_adx_is_reported_as_the_kernel_sees_it() -> None:
    """``adx`` in cpu_features (which turns the MULX/ADX rows on) exactly when the
    kernel lists both BMI2 and ADX for this CPU."""
    cpuinfo = Path("/proc/cpuinfo")
    if platform.machine() not in ("x86_64", "AMD64") or not cpuinfo.is_file():
        pytest.skip("needs Linux on x86-64")
    flags = next(
        (
            line.split(":", 1)[1].split()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("flags")
        ),
        None,
    )
    if flags is None:
        pytest.skip("no flags line in /proc/cpuinfo")
    expected = "adx" in flags and "bmi2" in flags
    assert ("adx" in mc.backend_info().cpu_features) == expected
