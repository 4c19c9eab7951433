"""RSA (keys, RSA_PAD, legacy padding, CRT) and DH (checks, ranges, exponents)
of the handshake, and the temporary-key binding message."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_handshake_support import SeededRng, Tape, server_key

from mtcrypt import tl
from mtcrypt.crypto import ige256_decrypt
from mtcrypt.errors import HandshakeError, InvalidArgument, InvalidLength, InvalidType
from mtcrypt.handshake import (
    TELEGRAM_DH_PRIME,
    TELEGRAM_PRODUCTION_KEYS,
    DhPrimeCache,
    bind_temp_auth_key,
    check_dh_params,
    check_dh_value,
    generate_private_key,
    load_private_key,
    load_public_key,
    verify_bind_temp_auth_key,
)
from mtcrypt.handshake.dh import DH_SAFETY_MARGIN, generate_dh_exponent, modexp
from mtcrypt.handshake.rsa import (
    RsaPrivateKey,
    RsaPublicKey,
    rsa_legacy_decrypt,
    rsa_legacy_encrypt,
    rsa_pad_decrypt,
    rsa_pad_encrypt,
    rsa_pad_encrypt_with,
)
from mtcrypt.mtproto import AuthKey, kdf_v1

P = TELEGRAM_DH_PRIME
PROD = TELEGRAM_PRODUCTION_KEYS[0]

# -- RSA -------------------------------------------------------------------------


@settings(max_examples=30)
@given(data=st.binary(max_size=144), seed=st.integers(0, 2**32))
def test_rsa_pad_round_trip(data: bytes, seed: int) -> None:
    key = server_key()
    out = rsa_pad_encrypt(data, key.public_key, rng=SeededRng(seed))
    assert len(out) == 256 and int.from_bytes(out, "big") < key.public_key.n
    plain = rsa_pad_decrypt(out, key)
    assert len(plain) == 192 and plain.startswith(data)


def test_rsa_pad_matches_the_spec_step_by_step() -> None:
    """An independent re-implementation from the spec's pseudocode (pow, hashlib, IGE)."""
    key = server_key()
    data, padding, temp_key = b"\x01" * 100, b"\x02" * 92, b"\x03" * 32
    out = rsa_pad_encrypt_with(data, key.public_key, padding, temp_key)
    assert out is not None
    block = pow(int.from_bytes(out, "big"), key._d, key.public_key.n).to_bytes(256, "big")
    temp_key_xor, aes_encrypted = block[:32], block[32:]
    assert (
        bytes(a ^ b for a, b in zip(temp_key, hashlib.sha256(aes_encrypted).digest(), strict=True))
        == temp_key_xor
    )
    data_with_hash = ige256_decrypt(aes_encrypted, temp_key, bytes(32))
    assert data_with_hash[:192] == (data + padding)[::-1]
    assert data_with_hash[192:] == hashlib.sha256(temp_key + data + padding).digest()


def test_rsa_pad_draws_a_fresh_temp_key_when_not_below_n() -> None:
    data, padding = bytes(100), bytes(92)
    rng = SeededRng("find")
    bad = good = None
    while bad is None or good is None:
        candidate = rng(32)
        if rsa_pad_encrypt_with(data, PROD, padding, candidate) is None:
            bad = bad or candidate
        else:
            good = good or candidate
    out = rsa_pad_encrypt(data, PROD, rng=Tape(padding + bad + good))
    assert out == rsa_pad_encrypt_with(data, PROD, padding, good)


def test_rsa_pad_limits() -> None:
    with pytest.raises(InvalidLength):
        rsa_pad_encrypt(bytes(145), PROD)
    with pytest.raises(InvalidLength):
        rsa_pad_encrypt_with(bytes(10), PROD, bytes(10), bytes(32))
    with pytest.raises(InvalidLength):
        rsa_pad_encrypt_with(bytes(10), PROD, bytes(182), bytes(31))
    with pytest.raises(InvalidType):
        rsa_pad_encrypt(bytes(10), "key")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        rsa_pad_encrypt(bytes(10), PROD, rng=lambda n: bytes(n - 1))


def test_rsa_decrypt_rejections() -> None:
    key = server_key()
    good = rsa_pad_encrypt(b"data", key.public_key)
    for bad, check in (
        (good[:-1], "encrypted_data"),
        (good + b"\0", "encrypted_data"),
        (b"\xff" * 256, "encrypted_data"),
        (bytes(255) + b"\x07", "rsa_padding"),
        (bytes([good[0] ^ 1]) + good[1:], "rsa_padding"),
    ):
        with pytest.raises(HandshakeError) as err:
            rsa_pad_decrypt(bad, key)
        assert err.value.check == check


def test_legacy_round_trip_and_rejection() -> None:
    key = server_key()
    data = tl.serialize(tl.make("ping", ping_id=5))
    enc = rsa_legacy_encrypt(data, key.public_key, rng=SeededRng(1))
    assert rsa_legacy_decrypt(enc, key, lambda rest: len(data)) == data
    with pytest.raises(HandshakeError):
        rsa_legacy_decrypt(enc, key, lambda rest: len(data) - 4)  # SHA-1 over other bytes
    with pytest.raises(HandshakeError):
        rsa_legacy_decrypt(enc, key, lambda rest: None)
    # A legacy block never passes as RSA_PAD, and vice versa.
    with pytest.raises(HandshakeError):
        rsa_pad_decrypt(enc, key)
    pad = rsa_pad_encrypt(data, key.public_key)
    with pytest.raises(HandshakeError):
        rsa_legacy_decrypt(pad, key, lambda rest: len(data))


@settings(max_examples=20)
@given(st.integers(0, 2**2040))
def test_crt_private_operation(m: int) -> None:
    key = server_key()
    n = key.public_key.n
    m %= n
    c = pow(m, key.public_key.e, n)
    assert key.decrypt_int(c) == m == pow(c, key._d, n)
    assert key.public_key.encrypt_int(m) == c


def test_key_loading_and_export() -> None:
    key = server_key()
    pem = key.to_pem()
    assert "BEGIN RSA PRIVATE KEY" in pem
    again = load_private_key(pem)
    assert again.fingerprint == key.fingerprint
    locked = key.to_pem(passphrase="secret")
    assert "ENCRYPTED" in locked
    assert load_private_key(locked, "secret").fingerprint == key.fingerprint
    with pytest.raises(InvalidArgument):
        load_private_key(locked, "wrong")
    # A private PEM yields its public half; a public PEM is no private key.
    assert load_public_key(pem) == key.public_key
    with pytest.raises(InvalidArgument):
        load_private_key(key.public_key.to_pem())
    for garbage in (
        "",
        "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----",
        b"\x00\x01",
    ):
        with pytest.raises(InvalidArgument):
            load_public_key(garbage)
    with pytest.raises(InvalidType):
        load_public_key(123)  # type: ignore[arg-type]


def test_key_component_checks() -> None:
    with pytest.raises(InvalidArgument):
        RsaPublicKey(PROD.n >> 8, 65537)  # too small for a 256-byte block
    with pytest.raises(InvalidArgument):
        RsaPublicKey(PROD.n, 2)
    with pytest.raises(InvalidType):
        RsaPublicKey(float(3), 65537)  # type: ignore[arg-type]
    key = server_key()
    with pytest.raises(InvalidArgument):
        RsaPrivateKey(key.public_key.n, 65537, 3, key._p, key._q)
    with pytest.raises(InvalidArgument):
        RsaPrivateKey(key.public_key.n, 65537, key._d, key._p + 2, key._q)
    with pytest.raises(InvalidArgument):
        generate_private_key(1024)
    assert "fingerprint" in repr(key) and str(key._d)[:10] not in repr(key)


def test_generate_private_key() -> None:
    key = generate_private_key()
    assert key.public_key.n.bit_length() == 2048
    out = rsa_pad_encrypt(b"abc", key.public_key)
    assert rsa_pad_decrypt(out, key).startswith(b"abc")


# -- DH --------------------------------------------------------------------------


@settings(max_examples=25)
@given(st.integers(0, P - 1), st.integers(0, 2**2048))
def test_modexp_equals_pow(base: int, exponent: int) -> None:
    assert modexp(base, exponent, P) == pow(base, exponent, P)


def test_modexp_arguments() -> None:
    with pytest.raises(InvalidArgument):
        modexp(2, 3, 10)
    with pytest.raises(InvalidArgument):
        modexp(2, -1, P)


def test_dh_value_range_boundaries() -> None:
    check_dh_value(DH_SAFETY_MARGIN, P, "g_a")
    check_dh_value(P - DH_SAFETY_MARGIN, P, "g_a")
    for bad in (0, 1, 2, DH_SAFETY_MARGIN - 1, P - DH_SAFETY_MARGIN + 1, P - 1, P, P + 5):
        with pytest.raises(HandshakeError) as err:
            check_dh_value(bad, P, "g_b")
        assert err.value.check == "g_b"


def test_generator_checks() -> None:
    for g in (0, 1, 8, -3):
        with pytest.raises(HandshakeError) as err:
            check_dh_params(g, P)
        assert err.value.check == "g"
    for g in (3, 4, 7):
        check_dh_params(g, P)
    for g in (2, 5, 6):
        with pytest.raises(HandshakeError) as err:
            check_dh_params(g, P)
        assert err.value.check == "g"
    for p in (P >> 1, P << 1, P + 2):
        with pytest.raises(HandshakeError):
            check_dh_params(4, p)


def test_prime_cache() -> None:
    cache = DhPrimeCache(max_size=2)
    assert P in cache
    for value in (11, 13, 17):
        cache.add(value)
    assert 11 not in cache and 13 in cache and 17 in cache
    assert 19 not in DhPrimeCache(max_size=0)
    with pytest.raises(InvalidArgument):
        DhPrimeCache(max_size=-1)


def test_exponent_is_redrawn_when_out_of_range() -> None:
    # x = 1 gives g^x = 3, far below 2^1984: the next 256 bytes are used instead.
    tail = SeededRng("x")(256)
    x, gx = generate_dh_exponent(3, P, Tape((1).to_bytes(256, "big") + tail), name="g_b")
    assert x == int.from_bytes(tail, "big") and gx == pow(3, x, P)
    with pytest.raises(HandshakeError) as err:
        generate_dh_exponent(3, P, lambda n: (1).to_bytes(n, "big"), name="g_a")
    assert err.value.check == "g_a"


# -- temporary-key binding -------------------------------------------------------

PERM = AuthKey(SeededRng("perm")(256))
TEMP = AuthKey(SeededRng("temp")(256))


def _bind(**over: object) -> tl.TLObject:
    kwargs: dict[str, object] = {
        "temp_session_id": 0x1122334455667788,
        "msg_id": 0x6000000000000004,
        "expires_at": 1_800_000_000,
        "rng": SeededRng("bind"),
    }
    kwargs.update(over)
    return bind_temp_auth_key(PERM, TEMP, **kwargs)  # type: ignore[arg-type]


def test_bind_round_trip_and_layout() -> None:
    request = _bind()
    assert request.name == "auth.bindTempAuthKey"
    assert request.perm_auth_key_id == PERM.key_id
    inner = verify_bind_temp_auth_key(
        request,
        perm_key=PERM,
        temp_key=TEMP,
        msg_id=0x6000000000000004,
        session_id=0x1122334455667788,
        now=1_700_000_000,
    )
    assert inner.temp_auth_key_id == TEMP.key_id and inner.perm_auth_key_id == PERM.key_id
    assert inner.nonce == request.nonce and inner.expires_at == 1_800_000_000
    # Independently: MTProto 1.0 with x = 0 under the permanent key.
    enc = request.encrypted_message
    assert enc[:8] == PERM.key_id_bytes and len(enc) == 24 + 80
    key, iv = kdf_v1(PERM.key, enc[8:24], 0)
    plain = ige256_decrypt(enc[24:], key, iv)
    assert hashlib.sha1(plain[:72]).digest()[4:20] == enc[8:24]
    assert struct.unpack_from("<qii", plain, 16) == (0x6000000000000004, 0, 40)
    assert plain[32:72] == tl.serialize(inner)
    # Bytes in, too; and deterministic for a given rng.
    assert (
        verify_bind_temp_auth_key(
            tl.serialize(request),
            perm_key=PERM,
            temp_key=TEMP,
            msg_id=0x6000000000000004,
            session_id=0x1122334455667788,
        )
        == inner
    )
    assert _bind() == request


@pytest.mark.parametrize(
    ("change", "check"),
    [
        ({"perm_key": TEMP}, "bind.perm_auth_key_id"),
        ({"temp_key": PERM}, "bind.temp_auth_key_id"),
        ({"msg_id": 0x6000000000000008}, "bind.msg_id"),
        ({"session_id": 1}, "bind.temp_session_id"),
        ({"now": 1_900_000_000}, "bind.expires_at"),
        ({"request": "flip"}, "bind.encrypted_message"),
        ({"request": "nonce"}, "bind.nonce"),
        ({"request": "expires"}, "bind.expires_at"),
        ({"request": "perm_id"}, "bind.perm_auth_key_id"),
        ({"request": "other"}, "bind.request"),
        ({"request": "garbage"}, "bind.request"),
    ],
)
def test_bind_rejections(change: dict[str, object], check: str) -> None:
    request: object = _bind()
    assert isinstance(request, tl.TLObject)
    kwargs: dict[str, object] = {
        "perm_key": PERM,
        "temp_key": TEMP,
        "msg_id": 0x6000000000000004,
        "session_id": 0x1122334455667788,
        "now": None,
    }
    what = change.pop("request", None)
    kwargs.update(change)
    fields = dict(request.fields)
    if what == "flip":
        enc = bytearray(request.encrypted_message)
        enc[-1] ^= 1
        fields["encrypted_message"] = bytes(enc)
    elif what == "nonce":
        fields["nonce"] ^= 1  # type: ignore[operator]
    elif what == "expires":
        fields["expires_at"] += 1  # type: ignore[operator]
    elif what == "perm_id":
        fields["perm_auth_key_id"] ^= 1  # type: ignore[operator]
    if what in ("flip", "nonce", "expires", "perm_id"):
        request = tl.TLObject(request.name, fields)
    elif what == "other":
        request = tl.make("ping", ping_id=1)
    elif what == "garbage":
        request = b"\x01\x02\x03\x04"
    with pytest.raises(HandshakeError) as err:
        verify_bind_temp_auth_key(request, **kwargs)  # type: ignore[arg-type]
    assert err.value.check == check


def test_bind_argument_checks() -> None:
    with pytest.raises(InvalidType):
        bind_temp_auth_key(b"x" * 256, TEMP, temp_session_id=1, msg_id=4, expires_at=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        _bind(expires_at=0)
    with pytest.raises(InvalidArgument):
        _bind(msg_id=1 << 63)
    with pytest.raises(InvalidType):
        _bind(temp_session_id="1")
