"""SHA-1 and SHA-256 from the native core against NIST vectors and hashlib."""

from __future__ import annotations

import hashlib

import pytest
from conftest import load_vectors
from hypothesis import given
from hypothesis import strategies as st

from mtcrypt.crypto import sha1, sha256
from mtcrypt.errors import InvalidType


@pytest.mark.parametrize("vec", load_vectors("sha.json")["vectors"])
def test_nist_vectors(vec: dict[str, object]) -> None:
    message = bytes.fromhex(str(vec["message_hex"])) * int(vec["repeat"])  # type: ignore[call-overload]
    fn = sha1 if vec["algorithm"] == "sha1" else sha256
    assert fn(message).hex() == vec["digest_hex"]


@given(st.binary(max_size=5000))
def test_matches_hashlib(data: bytes) -> None:
    assert sha256(data) == hashlib.sha256(data).digest()
    assert sha1(data) == hashlib.sha1(data).digest()
    assert sha256(bytearray(data)) == hashlib.sha256(data).digest()


@pytest.mark.parametrize("size", [55, 56, 63, 64, 65, 119, 120, 128, 1 << 20])
def test_padding_boundaries(size: int) -> None:
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    assert sha256(data) == hashlib.sha256(data).digest()
    assert sha1(data) == hashlib.sha1(data).digest()


def test_rejects_non_buffers() -> None:
    with pytest.raises(InvalidType):
        sha256("abc")  # type: ignore[arg-type]
