"""AES-256 IGE/CBC/CTR: published vectors, differential properties against
pycryptodome, tgcrypto and cryptg, and every bad-input case."""

from __future__ import annotations

import array
import itertools
import os
import zlib

import pytest
from conftest import load_vectors, require, tdlib_lcg_bytes
from Crypto.Cipher import AES
from hypothesis import given
from hypothesis import strategies as st
from oracle import ige_decrypt, ige_encrypt

import mtcrypt.crypto as mc
from mtcrypt.errors import InvalidArgument, InvalidLength, InvalidType, MtcryptError

keys = st.binary(min_size=32, max_size=32)
iv32 = st.binary(min_size=32, max_size=32)
iv16 = st.binary(min_size=16, max_size=16)
blocks = st.integers(min_value=0, max_value=80).flatmap(
    lambda n: st.binary(min_size=16 * n, max_size=16 * n)
)


# ---- published vectors -------------------------------------------------------


@pytest.mark.parametrize("vec", load_vectors("aes256_ecb.json")["vectors"], ids=lambda v: v["name"])
def test_ecb_vectors_through_cbc(vec: dict[str, str]) -> None:
    key, pt, ct = (bytes.fromhex(vec[k]) for k in ("key", "plaintext", "ciphertext"))
    for i in range(0, len(pt), 16):  # CBC with a zero IV on one block is the raw cipher
        assert mc.cbc256_encrypt(pt[i : i + 16], key, bytes(16)) == ct[i : i + 16]
        assert mc.cbc256_decrypt(ct[i : i + 16], key, bytes(16)) == pt[i : i + 16]


@pytest.mark.parametrize("vec", load_vectors("aes256_ige.json")["vectors"], ids=lambda v: v["name"])
def test_ige_vectors(vec: dict[str, str]) -> None:
    key, iv, pt, ct = (bytes.fromhex(vec[k]) for k in ("key", "iv", "plaintext", "ciphertext"))
    assert mc.ige256_encrypt(pt, key, iv) == ct
    assert mc.ige256_decrypt(ct, key, iv) == pt


@pytest.mark.parametrize(
    "vec", load_vectors("aes256_ige.json").get("crc32_vectors", []), ids=lambda v: v["name"]
)
def test_ige_tdlib_crc_vectors(vec: dict[str, object]) -> None:
    plain, key, iv = tdlib_lcg_bytes(int(vec["length"]))  # type: ignore[arg-type]
    assert key.hex() == vec["key"]
    ct = mc.ige256_encrypt(plain, key, iv)
    assert zlib.crc32(ct) == vec["ciphertext_crc32"]
    assert mc.ige256_decrypt(ct, key, iv) == plain


@pytest.mark.parametrize("vec", load_vectors("aes256_cbc.json")["vectors"], ids=lambda v: v["name"])
def test_cbc_vectors(vec: dict[str, str]) -> None:
    key, iv, pt, ct = (bytes.fromhex(vec[k]) for k in ("key", "iv", "plaintext", "ciphertext"))
    assert mc.cbc256_encrypt(pt, key, iv) == ct
    assert mc.cbc256_decrypt(ct, key, iv) == pt


@pytest.mark.parametrize("vec", load_vectors("aes256_ctr.json")["vectors"], ids=lambda v: v["name"])
def test_ctr_vectors(vec: dict[str, str]) -> None:
    key, ctr, pt, ct = (
        bytes.fromhex(vec[k]) for k in ("key", "initial_counter", "plaintext", "ciphertext")
    )
    assert mc.Ctr256(key, ctr).update(pt) == ct
    stream = mc.Ctr256(key, ctr)
    assert b"".join(stream.update(pt[i : i + 7]) for i in range(0, len(pt), 7)) == ct


@pytest.mark.parametrize(
    "vec", load_vectors("aes256_ctr.json").get("crc32_vectors", []), ids=lambda v: v["name"]
)
def test_ctr_tdlib_crc_vectors(vec: dict[str, object]) -> None:
    plain, key, _ = tdlib_lcg_bytes(int(vec["length"]))  # type: ignore[arg-type]
    assert key.hex() == vec["key"]
    counter = bytes.fromhex(str(vec["initial_counter"]))
    assert zlib.crc32(mc.Ctr256(key, counter).update(plain)) == vec["ciphertext_crc32"]


# ---- differential properties --------------------------------------------------


@given(data=blocks, key=keys, iv=iv32)
def test_ige_matches_reference(data: bytes, key: bytes, iv: bytes) -> None:
    ct = mc.ige256_encrypt(data, key, iv)
    assert ct == ige_encrypt(data, key, iv)
    assert mc.ige256_decrypt(ct, key, iv) == data
    assert ige_decrypt(ct, key, iv) == data


@given(data=blocks, key=keys, iv=iv32)
def test_ige_matches_tgcrypto_and_cryptg(data: bytes, key: bytes, iv: bytes) -> None:
    tgcrypto = require("tgcrypto")
    cryptg = require("cryptg")
    ct = mc.ige256_encrypt(data, key, iv)
    if data:
        assert ct == tgcrypto.ige256_encrypt(data, key, iv)
        assert mc.ige256_decrypt(ct, key, iv) == tgcrypto.ige256_decrypt(ct, key, iv)
    assert ct == cryptg.encrypt_ige(data, key, iv)
    assert mc.ige256_decrypt(ct, key, iv) == cryptg.decrypt_ige(ct, key, iv)


@given(data=blocks, key=keys, iv=iv16)
def test_cbc_matches_pycryptodome(data: bytes, key: bytes, iv: bytes) -> None:
    ct = mc.cbc256_encrypt(data, key, iv)
    assert ct == AES.new(key, AES.MODE_CBC, iv).encrypt(data)
    assert mc.cbc256_decrypt(ct, key, iv) == data


@given(
    data=st.binary(max_size=3000),
    key=keys,
    counter=st.one_of(
        iv16,
        st.integers(0, 64).map(lambda k: ((1 << 128) - k).to_bytes(17, "big")[1:]),
        st.integers(0, 64).map(lambda k: ((1 << 64) - k).to_bytes(16, "big")),
    ),
    cuts=st.lists(st.integers(0, 3000), max_size=12),
)
def test_ctr_stream_any_chunking(data: bytes, key: bytes, counter: bytes, cuts: list[int]) -> None:
    ref = AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=counter).encrypt(data)
    stream = mc.Ctr256(key, counter)
    points = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    got = b"".join(stream.update(data[a:b]) for a, b in itertools.pairwise(points))
    assert got == ref


def test_ctr_counter_wraps_modulo_2_128() -> None:
    key = os.urandom(32)
    top = b"\xff" * 16
    stream = mc.Ctr256(key, top)
    out = stream.update(bytes(48))
    ecb = AES.new(key, AES.MODE_ECB)
    assert out == ecb.encrypt(top) + ecb.encrypt(bytes(16)) + ecb.encrypt(bytes(15) + b"\x01")
    assert stream.counter == bytes(15) + b"\x02"


def test_ctr_large_buffer_crossing_low_word_carry() -> None:
    key = os.urandom(32)
    counter = (2**64 - 5).to_bytes(16, "big")
    data = os.urandom(1 << 16)
    ref = AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=counter).encrypt(data)
    assert mc.Ctr256(key, counter).update(data) == ref


@pytest.mark.parametrize("size", [0, 16, 4096, 1 << 20])
def test_large_and_empty_sizes(size: int) -> None:
    key, iv = os.urandom(32), os.urandom(32)
    data = os.urandom(size)
    ct = mc.ige256_encrypt(data, key, iv)
    assert mc.ige256_decrypt(ct, key, iv) == data
    if size <= 4096:
        assert ct == ige_encrypt(data, key, iv)


# ---- buffers, _into and in place ------------------------------------------------


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, "slice", "array"])
def test_accepts_any_buffer(kind: object) -> None:
    key, iv, data = os.urandom(32), os.urandom(32), os.urandom(64)
    expected = ige_encrypt(data, key, iv)

    def wrap(b: bytes) -> object:
        if kind == "slice":
            return memoryview(b"xx" + b + b"yy")[2:-2]
        if kind == "array":
            return array.array("B", b)
        return kind(b)  # type: ignore[operator]

    assert mc.ige256_encrypt(wrap(data), wrap(key), wrap(iv)) == expected  # type: ignore[arg-type]
    assert (
        mc.cbc256_encrypt(wrap(data), wrap(key), wrap(iv[:16]))
        == AES.new(  # type: ignore[arg-type]
            key, AES.MODE_CBC, iv[:16]
        ).encrypt(data)
    )


def test_into_variants_and_in_place() -> None:
    key, iv, data = os.urandom(32), os.urandom(32), os.urandom(160)
    out = bytearray(160)
    mc.ige256_encrypt_into(data, key, iv, out)
    assert bytes(out) == ige_encrypt(data, key, iv)
    mc.ige256_decrypt_into(out, key, iv, out)  # exact in place
    assert bytes(out) == data
    buf = bytearray(data)
    mc.cbc256_encrypt_into(buf, key, iv[:16], buf)
    mc.cbc256_decrypt_into(buf, key, iv[:16], buf)
    assert bytes(buf) == data
    stream_a, stream_b = mc.Ctr256(key, iv[:16]), mc.Ctr256(key, iv[:16])
    buf = bytearray(data)
    stream_a.update_into(buf, buf)
    assert bytes(buf) == stream_b.update(data)


def test_ctr_in_place_in_chunks_matches_pycryptodome() -> None:
    """The in-place bytearray path of Ctr256.update_into (what the MTProxy relay
    uses), chunk after chunk, odd sizes included."""
    key, counter = os.urandom(32), os.urandom(16)
    data = os.urandom(70_001)
    ref = AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=counter).encrypt(data)
    stream, got, pos = mc.Ctr256(key, counter), b"", 0
    for size in (0, 1, 15, 17, 4096, 65536, 10**6):
        buf = bytearray(data[pos : pos + size])
        stream.update_into(buf, buf)
        got += buf
        pos += size
    assert got == ref
    stream.wipe()
    with pytest.raises(InvalidArgument, match="wiped"):
        stream.update_into(bytearray(16), bytearray(16))
    with pytest.raises(InvalidArgument, match="wiped"):
        buf = bytearray(16)
        stream.update_into(buf, buf)


def test_ctr_in_place_on_memoryviews_matches_pycryptodome() -> None:
    """The same on slices of one scratch buffer (what the relay's pump passes),
    and a read-only or strided view is refused, not written."""
    key, counter = os.urandom(32), os.urandom(16)
    data = os.urandom(40_003)
    ref = AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=counter).encrypt(data)
    stream, got, pos = mc.Ctr256(key, counter), b"", 0
    scratch = bytearray(70_000)
    for size in (0, 3, 16, 4099, 35_885):
        view = memoryview(scratch)[:size]
        view[:] = data[pos : pos + size]
        stream.update_into(view, view)
        got += view
        pos += size
    assert got == ref
    frozen = memoryview(bytes(32))
    with pytest.raises(MtcryptError):
        stream.update_into(frozen, frozen)
    assert bytes(frozen) == bytes(32)
    strided = memoryview(bytearray(64))[::2]
    with pytest.raises(MtcryptError):
        stream.update_into(strided, strided)


def test_partial_overlap_is_refused() -> None:
    key, iv = os.urandom(32), os.urandom(32)
    buf = bytearray(64)
    view = memoryview(buf)
    with pytest.raises(InvalidArgument, match="overlaps"):
        mc.ige256_encrypt_into(view[:48], key, iv, view[16:64])


# ---- batch IGE ------------------------------------------------------------------


@given(items=st.lists(st.tuples(blocks, keys, iv32), min_size=0, max_size=40))
def test_batch_matches_single(items: list[tuple[bytes, bytes, bytes]]) -> None:
    enc = mc.ige256_encrypt_batch(items)
    assert enc == [ige_encrypt(d, k, v) for d, k, v in items]
    dec = mc.ige256_decrypt_batch([(c, k, v) for c, (_, k, v) in zip(enc, items, strict=True)])
    assert dec == [d for d, _, _ in items]


def test_batch_many_equal_messages_packed() -> None:
    n = 50
    msgs = [os.urandom(4096) for _ in range(n)]
    ks = [os.urandom(32) for _ in range(n)]
    vs = [os.urandom(32) for _ in range(n)]
    out = bytearray(4096 * n)
    mc.ige256_batch_into(b"".join(msgs), b"".join(ks), b"".join(vs), [4096] * n, out)
    for i in range(n):
        assert out[4096 * i : 4096 * (i + 1)] == ige_encrypt(msgs[i], ks[i], vs[i])
    mc.ige256_batch_into(out, b"".join(ks), b"".join(vs), [4096] * n, out, decrypt=True)
    assert bytes(out) == b"".join(msgs)


# ---- bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "key", "iv", "error", "match"),
    [
        (b"a" * 15, b"k" * 32, b"i" * 32, InvalidLength, "multiple of 16"),
        (b"a" * 16, b"k" * 31, b"i" * 32, InvalidLength, "key must be 32"),
        (b"a" * 16, b"k" * 33, b"i" * 32, InvalidLength, "key must be 32"),
        (b"a" * 16, b"k" * 32, b"i" * 16, InvalidLength, "iv must be 32"),
        ("text", b"k" * 32, b"i" * 32, InvalidType, "bytes-like"),
        (b"a" * 16, None, b"i" * 32, InvalidType, "bytes-like"),
        (b"a" * 16, b"k" * 32, 12345, InvalidType, "bytes-like"),
    ],
)
def test_ige_bad_input(data: object, key: object, iv: object, error: type, match: str) -> None:
    for fn in (mc.ige256_encrypt, mc.ige256_decrypt):
        with pytest.raises(error, match=match):
            fn(data, key, iv)  # type: ignore[arg-type]
    assert issubclass(error, MtcryptError)
    assert issubclass(error, ValueError) or issubclass(error, TypeError)


def test_bad_input_other_modes() -> None:
    key = os.urandom(32)
    with pytest.raises(InvalidLength):
        mc.cbc256_encrypt(b"x" * 17, key, bytes(16))
    with pytest.raises(InvalidLength):
        mc.cbc256_decrypt(b"x" * 16, key, bytes(32))
    with pytest.raises(InvalidLength):
        mc.Ctr256(key, bytes(15))
    with pytest.raises(InvalidLength):
        mc.Ctr256(key[:16], bytes(16))
    with pytest.raises(InvalidType):
        mc.Ctr256(key, bytes(16)).update(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="writable"):
        mc.ige256_encrypt_into(bytes(16), key, bytes(32), bytes(16))
    with pytest.raises(InvalidLength, match="as long as"):
        mc.ige256_encrypt_into(bytes(16), key, bytes(32), bytearray(32))
    with pytest.raises(InvalidArgument):
        mc.ige256_encrypt_batch([(b"x" * 16, key)])  # type: ignore[list-item]
    with pytest.raises(InvalidLength):
        mc.ige256_batch_into(bytes(32), key, bytes(32), [16], bytearray(32))
    with pytest.raises(InvalidLength):
        mc.ige256_batch_into(bytes(16), key, bytes(32), [17], bytearray(16))
    with pytest.raises(InvalidArgument):
        mc.ige256_batch_into(bytes(16), key, bytes(32), [-16], bytearray(16))
    stream = mc.Ctr256(key, bytes(16))
    stream.wipe()
    with pytest.raises(InvalidArgument, match="wiped"):
        stream.update(b"x")
    cipher = mc.Aes256(key)
    cipher.wipe()
    with pytest.raises(InvalidArgument, match="wiped"):
        cipher.ige_encrypt(bytes(16), bytes(32))


def test_reprs_hide_keys() -> None:
    key = bytes(range(32))
    for obj in (mc.Aes256(key), mc.Ctr256(key, bytes(16))):
        text = repr(obj)
        assert "hidden" in text and key.hex() not in text


def test_aes256_object_matches_functions() -> None:
    key, iv, data = os.urandom(32), os.urandom(32), os.urandom(96)
    cipher = mc.Aes256(key)
    assert cipher.ige_encrypt(data, iv) == mc.ige256_encrypt(data, key, iv)
    assert cipher.ige_decrypt(data, iv) == mc.ige256_decrypt(data, key, iv)
    assert cipher.cbc_encrypt(data, iv[:16]) == mc.cbc256_encrypt(data, key, iv[:16])
    assert cipher.cbc_decrypt(data, iv[:16]) == mc.cbc256_decrypt(data, key, iv[:16])
