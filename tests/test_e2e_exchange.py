"""The initial key exchange of a secret chat (api/end-to-end "Key Generation")."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtcrypt.e2e import (
    DhConfig,
    KeyExchangeError,
    PendingSecretChat,
    accept_secret_chat,
    key_fingerprint,
    mix_server_random,
)
from mtcrypt.e2e.dh import compute_key, decode_dh_value, encode_dh_value
from mtcrypt.handshake.dh import (
    DH_SAFETY_MARGIN,
    TELEGRAM_DH_G,
    TELEGRAM_DH_PRIME,
    DhPrimeCache,
)
from mtcrypt.mtproto import AuthKey

P = TELEGRAM_DH_PRIME
DH = DhConfig.validate(TELEGRAM_DH_G, P.to_bytes(256, "big"), random=b"\x42" * 256)


def seeded(seed: int) -> random.Random:
    return random.Random(seed)


def exchange(seed: int = 1) -> tuple[PendingSecretChat, object]:
    alice = PendingSecretChat(DH, rng=seeded(seed).randbytes)
    bob = accept_secret_chat(DH, alice.g_a, rng=seeded(seed + 1).randbytes)
    return alice, bob


def test_both_sides_derive_the_same_key() -> None:
    alice = PendingSecretChat(DH)
    bob = accept_secret_chat(DH, alice.g_a)
    chat = alice.complete(bob.g_b, bob.key_fingerprint)
    assert chat.is_creator and not bob.chat.is_creator
    assert chat.key_fingerprint == bob.chat.key_fingerprint == bob.key_fingerprint
    assert chat.visualization == bob.chat.visualization
    assert len(alice.g_a) == len(bob.g_b) == 256


def test_key_and_fingerprint_by_hand() -> None:
    """key = g_a^b mod p as 256 bytes; fingerprint = last 64 bits of SHA-1 (LE)."""
    a = 0x1234567 << 1900
    b = 0x7654321 << 1900
    g_a, g_b = pow(3, a, P), pow(3, b, P)
    key = compute_key(g_a, b, P)
    assert key == compute_key(g_b, a, P)
    assert key.key == pow(g_a, b, P).to_bytes(256, "big")
    digest = hashlib.sha1(key.key).digest()
    assert key_fingerprint(key) == int.from_bytes(digest[12:20], "little", signed=True)


def test_short_shared_secret_is_left_padded_to_256_bytes() -> None:
    key = compute_key(2, 10, P)  # 1024: 254 leading zero bytes
    assert key.key == (1024).to_bytes(256, "big")
    assert len(key.key) == 256


def test_the_exchange_is_deterministic_given_its_randomness() -> None:
    (a1, b1), (a2, b2) = exchange(7), exchange(7)
    assert a1.g_a == a2.g_a
    assert b1.g_b == b2.g_b  # type: ignore[attr-defined]


def test_fingerprint_mismatch_aborts_the_exchange() -> None:
    alice, bob = exchange()
    with pytest.raises(KeyExchangeError) as info:
        alice.complete(bob.g_b, bob.key_fingerprint ^ 1)  # type: ignore[attr-defined]
    assert info.value.check == "key_fingerprint"
    # the right answer still works afterwards (the state is not consumed)
    alice.complete(bob.g_b, bob.key_fingerprint)  # type: ignore[attr-defined]
    with pytest.raises(KeyExchangeError):  # but only once
        alice.complete(bob.g_b, bob.key_fingerprint)  # type: ignore[attr-defined]


BAD_VALUES = {
    "zero": (0).to_bytes(256, "big"),
    "one": (1).to_bytes(256, "big"),
    "p-1": (P - 1).to_bytes(256, "big"),
    "p": P.to_bytes(256, "big"),
    "below 2^1984": (DH_SAFETY_MARGIN - 1).to_bytes(256, "big"),
    "above p-2^1984": (P - DH_SAFETY_MARGIN + 1).to_bytes(256, "big"),
    "2^2048-1": b"\xff" * 256,
    "empty": b"",
    "258 bytes": b"\x00\x00" + (P // 2).to_bytes(256, "big"),
}


@pytest.mark.parametrize("value", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_g_a_and_g_b_range_checks(value: bytes) -> None:
    with pytest.raises(KeyExchangeError) as info:
        accept_secret_chat(DH, value)
    assert info.value.check == "g_a"
    alice = PendingSecretChat(DH)
    with pytest.raises(KeyExchangeError) as info:
        alice.complete(value, 0)
    assert info.value.check == "g_b"


def test_range_bounds_are_inclusive_and_257_bytes_accepted() -> None:
    assert decode_dh_value(DH_SAFETY_MARGIN.to_bytes(256, "big"), P, "g_a") == DH_SAFETY_MARGIN
    high = P - DH_SAFETY_MARGIN
    assert decode_dh_value(b"\x00" + high.to_bytes(256, "big"), P, "g_a") == high
    assert encode_dh_value(high) == high.to_bytes(256, "big")


def test_dh_params_are_validated_like_the_handshake() -> None:
    with pytest.raises(KeyExchangeError) as info:
        DhConfig.validate(2, P)  # Telegram's prime is 3 mod 8... so 2 is no generator
    assert info.value.check == "g"
    with pytest.raises(KeyExchangeError) as info:
        DhConfig.validate(8, P)
    assert info.value.check == "g"
    with pytest.raises(KeyExchangeError) as info:
        DhConfig.validate(3, P.to_bytes(256, "big")[1:])  # 255 bytes
    assert info.value.check == "dh_prime"
    with pytest.raises(KeyExchangeError) as info:
        DhConfig.validate(4, P >> 1)  # 2047 bits
    assert info.value.check == "dh_prime"
    composite = P + 24 * 7  # same residues mod 8 and 3, not prime
    with pytest.raises(KeyExchangeError) as info:
        DhConfig.validate(4, composite, cache=DhPrimeCache())
    assert info.value.check == "dh_prime"


def test_dh_config_repr_hides_the_server_random() -> None:
    assert "42" * 4 not in repr(DH)


def test_server_random_is_mixed_never_used_alone() -> None:
    server = b"\x00" * 256
    own_a, own_b = seeded(1).randbytes, seeded(2).randbytes
    out_a = mix_server_random(server, own_a)(256)
    out_b = mix_server_random(server, own_b)(256)
    assert out_a != out_b  # our randomness matters even with a fixed server random
    assert server not in (out_a, out_b)
    # and so does the server's
    assert mix_server_random(b"\x01" * 256, seeded(1).randbytes)(256) != out_a
    # a constant own rng (broken) is still not the server's bytes
    assert mix_server_random(server, lambda n: bytes(n))(64) != server[:64]


def test_exchange_exponents_come_from_the_mixed_rng() -> None:
    dh2 = DhConfig.validate(TELEGRAM_DH_G, P, random=b"\x43" * 256)
    a1 = PendingSecretChat(DH, rng=seeded(5).randbytes)
    a2 = PendingSecretChat(dh2, rng=seeded(5).randbytes)
    assert a1.g_a != a2.g_a


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32))
def test_exchange_under_random_seeds(seed: int) -> None:
    alice, bob = exchange(seed)
    chat = alice.complete(bob.g_b, bob.key_fingerprint)  # type: ignore[attr-defined]
    assert chat.key_fingerprint == bob.key_fingerprint  # type: ignore[attr-defined]
    value = int.from_bytes(alice.g_a, "big")
    assert DH_SAFETY_MARGIN <= value <= P - DH_SAFETY_MARGIN


def test_errors_and_reprs_hold_no_secret() -> None:
    alice, bob = exchange(3)
    chat = alice.complete(bob.g_b, bob.key_fingerprint)  # type: ignore[attr-defined]
    key_hex = chat._keys.current.key.hex()
    for text in (repr(alice), repr(bob), repr(chat), repr(chat.visualization)):
        assert key_hex[:16] not in text
    try:
        PendingSecretChat(DH).complete(bob.g_b, 5)  # type: ignore[attr-defined]
    except KeyExchangeError as exc:
        assert key_hex[:16] not in str(exc)
        assert str(bob.key_fingerprint) not in str(exc)  # type: ignore[attr-defined]


def test_auth_key_holder_is_shared_with_the_mtproto_layer() -> None:
    alice, bob = exchange(9)
    chat = alice.complete(bob.g_b, bob.key_fingerprint)  # type: ignore[attr-defined]
    assert isinstance(chat._keys.current, AuthKey)


def test_server_reported_fingerprint_is_checked_on_both_sides() -> None:
    alice, bob = exchange(13)
    chat = alice.complete(bob.g_b, bob.key_fingerprint)  # type: ignore[attr-defined]
    for side in (chat, bob.chat):  # type: ignore[attr-defined]
        side.check_key_fingerprint(bob.key_fingerprint)  # type: ignore[attr-defined]
        with pytest.raises(KeyExchangeError) as info:
            side.check_key_fingerprint(bob.key_fingerprint ^ 2)  # type: ignore[attr-defined]
        assert info.value.check == "key_fingerprint"
