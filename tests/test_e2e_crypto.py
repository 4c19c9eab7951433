"""Secret-chat message crypto (MTProto 2.0 and the LEGACY 1.0 form), checked
against an independent implementation built here from hashlib + pycryptodome,
and the receive-side checks of the security checklist (C1-C6 applied to E1).

The reference functions (``ref_*``) are also imported by the other e2e tests.
"""

from __future__ import annotations

import hashlib
import random
import struct

import pytest
from Crypto.Cipher import AES
from hypothesis import assume, given
from hypothesis import strategies as st

from mtcrypt.e2e import (
    decrypt_e2e,
    decrypt_e2e_v1,
    encrypt_e2e,
    encrypt_e2e_v1,
    mutators,
    padding_length,
)
from mtcrypt.e2e.strategies import auth_keys, layer_payloads, wire_mutations
from mtcrypt.errors import DecryptionFailed, InvalidArgument, InvalidLength
from mtcrypt.mtproto import AuthKey

# ---- the independent reference ---------------------------------------------------


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def ref_ige(data: bytes, key: bytes, iv: bytes, *, encrypt: bool) -> bytes:
    ecb = AES.new(key, AES.MODE_ECB)
    c_prev, p_prev = iv[:16], iv[16:]
    out = bytearray()
    for i in range(0, len(data), 16):
        block = data[i : i + 16]
        if encrypt:
            c = _xor(ecb.encrypt(_xor(block, c_prev)), p_prev)
            out += c
            p_prev, c_prev = block, c
        else:
            p = _xor(ecb.decrypt(_xor(block, p_prev)), c_prev)
            out += p
            p_prev, c_prev = p, block
    return bytes(out)


def ref_kdf2(key: bytes, msg_key: bytes, x: int) -> tuple[bytes, bytes]:
    a = hashlib.sha256(msg_key + key[x : x + 36]).digest()
    b = hashlib.sha256(key[40 + x : 76 + x] + msg_key).digest()
    return a[0:8] + b[8:24] + a[24:32], b[0:8] + a[8:24] + b[24:32]


def ref_kdf1(key: bytes, msg_key: bytes, x: int) -> tuple[bytes, bytes]:
    s = hashlib.sha1
    a = s(msg_key + key[x : x + 32]).digest()
    b = s(key[32 + x : 48 + x] + msg_key + key[48 + x : 64 + x]).digest()
    c = s(key[64 + x : 96 + x] + msg_key).digest()
    d = s(msg_key + key[96 + x : 128 + x]).digest()
    return a[0:8] + b[8:20] + c[4:16], a[8:20] + b[0:8] + c[16:20] + d[0:8]


def ref_fingerprint(key: bytes) -> bytes:
    return hashlib.sha1(key).digest()[-8:]


def ref_seal(key: bytes, plaintext: bytes, *, from_creator: bool) -> bytes:
    """Seal an already padded plaintext (length prefix included)."""
    x = 0 if from_creator else 8
    msg_key = hashlib.sha256(key[88 + x : 120 + x] + plaintext).digest()[8:24]
    aes_key, aes_iv = ref_kdf2(key, msg_key, x)
    return ref_fingerprint(key) + msg_key + ref_ige(plaintext, aes_key, aes_iv, encrypt=True)


def ref_open(key: bytes, packet: bytes, *, from_creator: bool) -> bytes:
    """Decrypt and check msg_key; return the padded plaintext."""
    x = 0 if from_creator else 8
    msg_key = packet[8:24]
    aes_key, aes_iv = ref_kdf2(key, msg_key, x)
    plain = ref_ige(packet[24:], aes_key, aes_iv, encrypt=False)
    assert hashlib.sha256(key[88 + x : 120 + x] + plain).digest()[8:24] == msg_key
    return plain


def ref_seal_v1(key: bytes, payload: bytes, padding: bytes) -> bytes:
    plain = struct.pack("<i", len(payload)) + payload
    msg_key = hashlib.sha1(plain).digest()[4:20]
    aes_key, aes_iv = ref_kdf1(key, msg_key, 0)
    return ref_fingerprint(key) + msg_key + ref_ige(plain + padding, aes_key, aes_iv, encrypt=True)


class TapeRng:
    """A deterministic rng that records what it handed out."""

    def __init__(self, seed: int = 0) -> None:
        self._gen = random.Random(seed)
        self.tape: list[bytes] = []

    def __call__(self, n: int) -> bytes:
        out = self._gen.randbytes(n)
        self.tape.append(out)
        return out


KEY = AuthKey(bytes(range(256)))
PAYLOAD = b"\x89\x17\xe3\x1b" + bytes(range(4, 64))


# ---- cross-checks ----------------------------------------------------------------


@given(key=auth_keys(), payload=layer_payloads(), from_creator=st.booleans(), seed=st.integers())
def test_seal_matches_reference(
    key: AuthKey, payload: bytes, from_creator: bool, seed: int
) -> None:
    rng = TapeRng(seed)
    packet = encrypt_e2e(key, payload, from_creator=from_creator, rng=rng)
    (padding,) = rng.tape
    plaintext = struct.pack("<i", len(payload)) + payload + padding
    assert packet == ref_seal(key.key, plaintext, from_creator=from_creator)
    assert ref_open(key.key, packet, from_creator=from_creator) == plaintext
    assert decrypt_e2e(key, packet, from_creator=from_creator) == payload


@given(
    key=auth_keys(),
    payload=st.integers(0, 200).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n)),
    pad_blocks=st.integers(0, 60),
    from_creator=st.booleans(),
    data=st.data(),
)
def test_open_reference_packets(
    key: AuthKey, payload: bytes, pad_blocks: int, from_creator: bool, data: st.DataObject
) -> None:
    size = 4 + len(payload)
    pad = 12 + (-(size + 12) % 16) + 16 * pad_blocks
    assume(pad <= 1024)
    padding = data.draw(st.binary(min_size=pad, max_size=pad))
    plaintext = struct.pack("<i", len(payload)) + payload + padding
    packet = ref_seal(key.key, plaintext, from_creator=from_creator)
    assert decrypt_e2e(key, packet, from_creator=from_creator) == payload


def test_direction_is_chosen_by_the_creator() -> None:
    """x = 0 for messages from the creator, 8 the other way (C6)."""
    from_creator = encrypt_e2e(KEY, PAYLOAD, from_creator=True)
    to_creator = encrypt_e2e(KEY, PAYLOAD, from_creator=False)
    assert ref_open(KEY.key, from_creator, from_creator=True)
    assert ref_open(KEY.key, to_creator, from_creator=False)
    with pytest.raises(DecryptionFailed):
        decrypt_e2e(KEY, from_creator, from_creator=False)
    with pytest.raises(DecryptionFailed):
        decrypt_e2e(KEY, to_creator, from_creator=True)


def test_wire_layout() -> None:
    packet = encrypt_e2e(KEY, PAYLOAD, from_creator=True)
    assert packet[:8] == hashlib.sha1(KEY.key).digest()[12:20] == KEY.key_id_bytes
    assert (len(packet) - 24) % 16 == 0
    plain = ref_open(KEY.key, packet, from_creator=True)
    assert struct.unpack_from("<i", plain)[0] == len(PAYLOAD)
    assert 12 <= len(plain) - 4 - len(PAYLOAD) <= 1024


@given(st.integers(0, 1 << 16))
def test_padding_length(size: int) -> None:
    pad = padding_length(size)
    assert 12 <= pad <= 1024
    assert (size + pad) % 16 == 0


def test_padding_buckets() -> None:
    # tdlib's buckets: short messages all encrypt to 64 bytes, etc.
    sizes = [4 + n + padding_length(4 + n) for n in (0, 40, 48, 52, 100, 700)]
    assert sizes == [64, 64, 64, 128, 128, 768]
    assert 4 + 2000 + padding_length(4 + 2000) == 1280 + 2 * 448


# ---- receive-side checks -----------------------------------------------------------


def _sealed_with_length_field(length_field: int, total: int) -> bytes:
    """A correctly MAC'd packet of ``total`` plaintext bytes whose length field
    says ``length_field``."""
    assert total % 16 == 0
    body = bytes((i * 7) & 0xFF for i in range(total - 4))
    plain = struct.pack("<i", length_field) + body
    return ref_seal(KEY.key, plain, from_creator=True)


@pytest.mark.parametrize(
    ("length", "total"),
    [
        (52, 64),  # padding 8 bytes
        (60, 64),  # padding 0 bytes
        (4, 1056),  # padding 1048 bytes
        (42, 64),  # not a multiple of 4
        (-4, 64),  # negative
        (1000, 64),  # beyond the buffer
        (2**31 - 1, 64),
        (-(2**31), 64),
    ],
    ids=["pad8", "pad0", "pad1048", "unaligned", "negative", "beyond", "max", "min"],
)
def test_bad_length_or_padding_after_a_valid_mac(length: int, total: int) -> None:
    """C3: a packet whose msg_key is right but whose length or padding is not
    raises the same DecryptionFailed, with the same message, as a bad msg_key."""
    packet = _sealed_with_length_field(length, total)
    assert ref_open(KEY.key, packet, from_creator=True)  # the MAC itself is valid
    with pytest.raises(DecryptionFailed) as info:
        decrypt_e2e(KEY, packet, from_creator=True)
    assert str(info.value) == DecryptionFailed.MESSAGE


@pytest.mark.parametrize(("length", "total"), [(0, 16), (16, 32), (12, 1040), (1000, 1024)])
def test_padding_bounds_are_inclusive(length: int, total: int) -> None:
    """12 and 1024 bytes of padding are both accepted."""
    packet = _sealed_with_length_field(length, total)
    assert len(decrypt_e2e(KEY, packet, from_creator=True)) == length


@given(payload=layer_payloads(), mutate=wire_mutations(), from_creator=st.booleans())
def test_every_wire_mutation_fails(payload: bytes, mutate: object, from_creator: bool) -> None:
    """Bit flips anywhere (fingerprint, msg_key, ciphertext), truncation,
    extension, block swaps, another fingerprint: one opaque error (C1-C4)."""
    assert callable(mutate)
    packet = encrypt_e2e(KEY, payload, from_creator=from_creator)
    mutated = mutate(packet)
    assume(mutated != packet)
    with pytest.raises(DecryptionFailed) as info:
        decrypt_e2e(KEY, mutated, from_creator=from_creator)
    assert str(info.value) == DecryptionFailed.MESSAGE


def test_every_single_bit_flip_of_one_packet_fails() -> None:
    packet = encrypt_e2e(KEY, PAYLOAD, from_creator=True)
    for bit in range(8 * len(packet)):
        with pytest.raises(DecryptionFailed):
            decrypt_e2e(KEY, mutators.flip_bit(packet, bit), from_creator=True)


def test_splicing_two_messages_fails() -> None:
    a = encrypt_e2e(KEY, PAYLOAD * 4, from_creator=True)
    b = encrypt_e2e(KEY, PAYLOAD[::-1] * 4, from_creator=True)
    for block in range(1, (len(a) - 24) // 16):
        with pytest.raises(DecryptionFailed):
            decrypt_e2e(KEY, mutators.splice(a, b, block), from_creator=True)


def test_wrong_key_fails() -> None:
    other = AuthKey(bytes((i + 1) % 256 for i in range(256)))
    packet = encrypt_e2e(KEY, PAYLOAD, from_creator=True)
    with pytest.raises(DecryptionFailed):
        decrypt_e2e(other, packet, from_creator=True)
    # even when the fingerprint is made to match the other key
    with pytest.raises(DecryptionFailed):
        decrypt_e2e(
            other, mutators.replace_fingerprint(packet, other.key_id_bytes), from_creator=True
        )


@pytest.mark.parametrize("size", [0, 8, 23, 24, 39, 40 - 1, 57, 24 + 16 + 1])
def test_short_or_ragged_packets_fail(size: int) -> None:
    packet = encrypt_e2e(KEY, PAYLOAD, from_creator=True)
    data = (packet * 2)[:size]
    with pytest.raises(DecryptionFailed):
        decrypt_e2e(KEY, data, from_creator=True)


def test_argument_errors_are_not_decryption_errors() -> None:
    with pytest.raises(InvalidArgument):
        decrypt_e2e(b"k" * 256, b"", from_creator=True)  # type: ignore[arg-type]
    with pytest.raises(InvalidLength):
        encrypt_e2e(KEY, b"abc", from_creator=True)
    with pytest.raises(InvalidArgument):
        encrypt_e2e(KEY, PAYLOAD, from_creator=True, rng=lambda n: b"short")
    with pytest.raises(InvalidArgument):
        encrypt_e2e(KEY, PAYLOAD, from_creator=True, padding=8)
    with pytest.raises(InvalidArgument):
        encrypt_e2e(KEY, PAYLOAD, from_creator=True, padding=13)


def test_errors_carry_no_secret() -> None:
    packet = encrypt_e2e(KEY, PAYLOAD, from_creator=True)
    try:
        decrypt_e2e(KEY, mutators.flip_bit(packet, 300), from_creator=True)
    except DecryptionFailed as exc:
        text = str(exc) + repr(exc)
    assert KEY.key.hex()[:16] not in text
    assert packet.hex()[48:64] not in text
    assert repr(KEY) == f"AuthKey(key_id={KEY.key_id_bytes[::-1].hex()})"


# ---- LEGACY MTProto 1.0 ------------------------------------------------------------


@given(key=auth_keys(), payload=layer_payloads(), seed=st.integers())
def test_v1_matches_reference(key: AuthKey, payload: bytes, seed: int) -> None:
    rng = TapeRng(seed)
    packet = encrypt_e2e_v1(key, payload, rng=rng)
    padding = rng.tape[0] if rng.tape else b""
    assert len(padding) < 16
    assert packet == ref_seal_v1(key.key, payload, padding)
    assert decrypt_e2e_v1(key, packet) == payload


def test_v1_uses_x0_both_ways_so_a_mirror_decrypts() -> None:
    """Why the seq_no parity rules exist: a 1.0 packet decrypts in both
    directions (the chat then catches the mirror by parity)."""
    packet = encrypt_e2e_v1(KEY, PAYLOAD)
    assert decrypt_e2e_v1(KEY, packet) == PAYLOAD


def test_v1_tampering_fails() -> None:
    packet = encrypt_e2e_v1(KEY, PAYLOAD * 3)
    for bit in range(0, 8 * len(packet), 7):
        with pytest.raises(DecryptionFailed):
            decrypt_e2e_v1(KEY, mutators.flip_bit(packet, bit))
    with pytest.raises(DecryptionFailed):  # one more block: the size no longer matches
        decrypt_e2e_v1(KEY, packet + bytes(16))
    with pytest.raises(DecryptionFailed):
        decrypt_e2e_v1(KEY, packet[:-16])


def test_v1_bad_length_fails_even_when_the_hash_of_the_buffer_matches() -> None:
    """With a bad length field, 1.0 hashes the whole buffer instead (no
    branch on the outcome); a msg_key made for exactly that still fails."""
    plain = struct.pack("<i", 40) + bytes(12)  # claims 40 bytes, has 12
    msg_key = hashlib.sha1(plain).digest()[4:20]
    aes_key, aes_iv = ref_kdf1(KEY.key, msg_key, 0)
    packet = KEY.key_id_bytes + msg_key + ref_ige(plain, aes_key, aes_iv, encrypt=True)
    with pytest.raises(DecryptionFailed) as info:
        decrypt_e2e_v1(KEY, packet)
    assert str(info.value) == DecryptionFailed.MESSAGE


def test_v1_padding_is_not_authenticated() -> None:
    """The 1.0 weakness (Jakobsen-Orlandi): only the length prefix and data
    are hashed, so the same message with other padding also opens."""
    payload = bytes(8)
    a = ref_seal_v1(KEY.key, payload, bytes(4))
    b = ref_seal_v1(KEY.key, payload, b"\xff" * 4)
    assert a != b
    assert decrypt_e2e_v1(KEY, a) == decrypt_e2e_v1(KEY, b) == payload


def test_open_is_one_native_call_over_the_whole_packet(monkeypatch: pytest.MonkeyPatch) -> None:
    """C1/C5: even for a packet whose length field and MAC are both bad, the
    whole packet goes to the one native open (mtc_e2e_open, shared with
    MTProto messages), which decrypts and hashes all of it before any field
    is read; tests/test_constant_time.py checks that code under valgrind."""
    import mtcrypt.e2e.crypto as module

    calls: list[tuple[int, int]] = []
    real_open = module._OPEN

    def spy(key: object, fingerprint: object, x: int, src: object, n: int, out: object) -> int:
        calls.append((x, n))
        return int(real_open(key, fingerprint, x, src, n, out))

    monkeypatch.setattr(module, "_OPEN", spy)
    packet = _sealed_with_length_field(-1000, 1024)  # absurd length...
    packet = mutators.flip_bit(packet, 8 * 30)  # ...and a bad msg_key
    with pytest.raises(DecryptionFailed):
        decrypt_e2e(KEY, packet, from_creator=True)
    assert calls == [(0, len(packet))]
    with pytest.raises(DecryptionFailed):
        decrypt_e2e(KEY, packet, from_creator=False)
    assert calls[-1] == (8, len(packet))
