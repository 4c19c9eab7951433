"""Key visualization (picture, PNG, hex, emoji), encrypted files, and the
derived known-answer vectors (tests/vectors/e2e_derived.json)."""

from __future__ import annotations

import hashlib
import random
import struct
import zlib

import pytest
from conftest import load_vectors
from hypothesis import given
from hypothesis import strategies as st
from test_e2e_crypto import ref_ige, ref_seal, ref_seal_v1

from mtcrypt.e2e import (
    E2EError,
    FileDecryptor,
    FileEncryptor,
    FileKey,
    KeyVisualization,
    decrypt_e2e,
    decrypt_e2e_v1,
    decrypt_file,
    encrypt_e2e,
    encrypt_file,
    file_key_fingerprint,
    make,
)
from mtcrypt.e2e._emoji import EMOJI_SECRET
from mtcrypt.e2e.strategies import auth_keys
from mtcrypt.e2e.visual import COLORS
from mtcrypt.errors import InvalidArgument, InvalidLength
from mtcrypt.mtproto import AuthKey

DERIVED = load_vectors("e2e_derived.json")["vectors"]


def vector(kind: str) -> list[dict[str, object]]:
    return [v for v in DERIVED if v["kind"] == kind]


def read_png(data: bytes) -> tuple[int, int, list[int], list[list[int]]]:
    """A minimal independent PNG reader: (width, height, palette, rows)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    idat = b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        if kind == b"IDAT":
            idat += body
        chunks[kind] = body
        pos += 12 + length
    assert list(chunks) == [b"IHDR", b"PLTE", b"IDAT", b"IEND"]
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour, interlace) == (8, 3, 0)
    plte = chunks[b"PLTE"]
    palette = [int.from_bytes(plte[i : i + 3], "big") for i in range(0, len(plte), 3)]
    raw = zlib.decompress(idat)
    rows = []
    for y in range(height):
        line = raw[y * (width + 1) : (y + 1) * (width + 1)]
        assert line[0] == 0  # filter type none
        rows.append(list(line[1:]))
    return width, height, palette, rows


# ---- key visualization ------------------------------------------------------------


@given(auth_keys())
def test_key_hash_is_sha1_then_sha256(key: AuthKey) -> None:
    visual = KeyVisualization.from_keys(key)
    assert (
        visual.key_hash
        == hashlib.sha1(key.key).digest()[:16] + hashlib.sha256(key.key).digest()[:20]
    )
    other = AuthKey(hashlib.sha512(key.key).digest() * 4)
    later = KeyVisualization.from_keys(key, other)
    assert later.key_hash[:16] == visual.key_hash[:16]
    assert later.key_hash[16:] == hashlib.sha256(other.key).digest()[:20]


@given(auth_keys())
def test_pixels_are_two_bit_groups_lsb_first(key: AuthKey) -> None:
    visual = KeyVisualization.from_keys(key)
    grid = visual.pixels()
    assert len(grid) == 12 and all(len(row) == 12 for row in grid)
    flat = [c for row in grid for c in row]
    for i, colour in enumerate(flat):
        byte = visual.key_hash[(2 * i) // 8]
        assert colour == (byte >> ((2 * i) % 8)) & 3


def test_png_shows_exactly_the_pixels() -> None:
    visual = KeyVisualization.from_keys(AuthKey(bytes(range(256))))
    for scale, border in ((1, 0), (4, 0), (3, 2)):
        width, height, palette, rows = read_png(visual.png(scale=scale, border=border))
        assert width == height == (12 + 2 * border) * scale
        assert palette == list(COLORS) == [0xFFFFFF, 0xD5E6F3, 0x2D5775, 0x2F99C9]
        grid = visual.pixels()
        for y in range(height):
            for x in range(width):
                cy, cx = y // scale - border, x // scale - border
                inside = 0 <= cy < 12 and 0 <= cx < 12
                assert rows[y][x] == (grid[cy][cx] if inside else 0)


def test_png_arguments() -> None:
    visual = KeyVisualization.from_keys(AuthKey(bytes(256)))
    with pytest.raises(InvalidArgument):
        visual.png(scale=0)
    with pytest.raises(InvalidArgument):
        visual.png(border=-1)


def test_legacy_16_byte_hash_is_8x8() -> None:
    visual = KeyVisualization.legacy(AuthKey(bytes(range(256))))
    assert len(visual.key_hash) == 16 and visual.size == 8
    width, _, _, _ = read_png(visual.png(scale=2))
    assert width == 16
    with pytest.raises(InvalidArgument):
        visual.emoji()


def test_hex_lines_as_android_shows_them() -> None:
    visual = KeyVisualization(bytes(range(36)))
    assert visual.hex() == bytes(range(32)).hex()
    assert visual.hex_lines() == [
        "00 01 02 03  04 05 06 07",
        "08 09 0a 0b  0c 0d 0e 0f",
        "10 11 12 13  14 15 16 17",
        "18 19 1a 1b  1c 1d 1e 1f",
    ]


def test_emoji_table_and_derivation() -> None:
    assert len(EMOJI_SECRET) == 333
    assert (EMOJI_SECRET[0], EMOJI_SECRET[1], EMOJI_SECRET[-1]) == (
        "\U0001f609",
        "\U0001f60d",
        "\U0001f537",
    )
    assert all("\ufe0f" not in e and "\u200d" not in e for e in EMOJI_SECRET)
    # bytes 16..35 in big-endian groups of 4, top bit cleared, mod 333
    key_hash = bytes(16) + struct.pack(">5I", 0, 332, 333, 0x80000000 + 1, 0xFFFFFFFF)
    visual = KeyVisualization(key_hash)
    assert visual.emoji() == (
        EMOJI_SECRET[0],
        EMOJI_SECRET[332],
        EMOJI_SECRET[0],
        EMOJI_SECRET[1],
        EMOJI_SECRET[0x7FFFFFFF % 333],
    )


def test_visualization_vector() -> None:
    (vec,) = vector("visualization")
    visual = KeyVisualization.from_keys(AuthKey(bytes.fromhex(str(vec["key"]))))
    assert visual.key_hash.hex() == vec["key_hash"]
    assert "".join(str(c) for row in visual.pixels() for c in row) == vec["pixels"]
    assert list(visual.emoji()) == vec["emoji"]
    assert [EMOJI_SECRET.index(e) for e in visual.emoji()] == vec["emoji_indices"]


def test_visualization_is_public_but_quiet() -> None:
    visual = KeyVisualization.from_keys(AuthKey(bytes(range(256))))
    assert repr(visual) == "KeyVisualization(12x12)"
    assert visual == KeyVisualization(visual.key_hash)
    with pytest.raises(InvalidArgument):
        KeyVisualization(b"\x00" * 20)
    with pytest.raises(InvalidArgument):
        KeyVisualization.from_keys(b"short")


# ---- files ---------------------------------------------------------------------------


def test_file_fingerprint_formula() -> None:
    key, iv = bytes(range(32)), bytes(range(32, 64))
    digest = hashlib.md5(key + iv).digest()
    expected = struct.unpack("<i", digest[:4])[0] ^ struct.unpack("<i", digest[4:8])[0]
    assert file_key_fingerprint(key, iv) == expected == FileKey(key, iv).fingerprint
    assert -(2**31) <= expected < 2**31


def test_file_vector() -> None:
    (vec,) = vector("file")
    file_key = FileKey(bytes.fromhex(str(vec["key"])), bytes.fromhex(str(vec["iv"])))
    assert file_key.fingerprint == vec["fingerprint"]
    padding = bytes.fromhex(str(vec["padding"]))
    plain = bytes.fromhex(str(vec["plaintext"]))
    blob = encrypt_file(plain, file_key, rng=lambda n: padding[:n])
    assert blob.hex() == vec["ciphertext"]
    assert decrypt_file(blob, file_key, len(plain)) == plain


@given(
    data=st.binary(max_size=3000),
    part=st.sampled_from([16, 32, 512, 1024]),
    seed=st.integers(),
)
def test_file_parts_equal_one_shot_and_reference(data: bytes, part: int, seed: int) -> None:
    file_key = FileKey.generate(random.Random(seed).randbytes)
    pad = random.Random(seed + 1).randbytes(-len(data) % 16)
    whole = encrypt_file(data, file_key, rng=lambda n: pad[:n])
    assert whole == ref_ige(data + pad, file_key.key, file_key.iv, encrypt=True)
    enc = FileEncryptor(file_key, rng=lambda n: pad[:n])
    cut = len(data) - len(data) % part if len(data) % part else max(0, len(data) - part)
    pieces = b"".join(enc.update(data[i : i + part]) for i in range(0, cut, part))
    pieces += enc.finish(data[cut:])
    assert pieces == whole and enc.size == len(data)
    dec = FileDecryptor(file_key, len(data))
    out = b"".join(dec.update(whole[i : i + part]) for i in range(0, len(whole), part))
    dec.finish()
    assert out == data


def test_file_key_checks() -> None:
    file_key = FileKey.generate()
    file_key.check_fingerprint(file_key.fingerprint)
    with pytest.raises(E2EError):
        file_key.check_fingerprint(file_key.fingerprint ^ 1)
    with pytest.raises(InvalidLength):
        FileKey(bytes(31), bytes(32))
    assert repr(file_key) == "FileKey(<secret>)"
    assert file_key.key.hex() not in repr(file_key)
    media = make(
        "decryptedMessageMediaPhoto",
        thumb=b"",
        thumb_w=0,
        thumb_h=0,
        w=1,
        h=1,
        size=3,
        key=file_key.key,
        iv=file_key.iv,
        caption="",
    )
    assert FileKey.from_media(media) == file_key
    with pytest.raises(InvalidArgument):
        FileKey.from_media(make("decryptedMessageMediaEmpty"))


def test_file_size_checks() -> None:
    file_key = FileKey(bytes(32), bytes(32))
    blob = encrypt_file(b"x" * 40, file_key)
    assert len(blob) == 48
    with pytest.raises(InvalidLength):
        decrypt_file(blob, file_key, 100)  # shorter than its size
    with pytest.raises(InvalidLength):
        decrypt_file(blob + bytes(16), file_key, 40)  # a block too many
    with pytest.raises(InvalidLength):
        decrypt_file(blob[:-1], file_key, 40)
    assert decrypt_file(b"", file_key, 0) == b""


# ---- derived message vectors ---------------------------------------------------------------


@pytest.mark.parametrize("vec", vector("message_v2"), ids=lambda v: str(v["name"]))
def test_message_vectors(vec: dict[str, object]) -> None:
    key = AuthKey(bytes.fromhex(str(vec["key"])))
    payload = bytes.fromhex(str(vec["payload"]))
    padding = bytes.fromhex(str(vec["padding"]))
    from_creator = bool(vec["from_creator"])
    packet = encrypt_e2e(
        key, payload, from_creator=from_creator, rng=lambda n: padding[:n], padding=len(padding)
    )
    assert packet.hex() == vec["packet"]
    plain = struct.pack("<i", len(payload)) + payload + padding
    assert ref_seal(key.key, plain, from_creator=from_creator).hex() == vec["packet"]
    assert decrypt_e2e(key, bytes.fromhex(str(vec["packet"])), from_creator=from_creator) == payload


def test_legacy_message_vector() -> None:
    (vec,) = vector("message_v1")
    key = AuthKey(bytes.fromhex(str(vec["key"])))
    payload = bytes.fromhex(str(vec["payload"]))
    padding = bytes.fromhex(str(vec["padding"]))
    assert ref_seal_v1(key.key, payload, padding).hex() == vec["packet"]
    assert decrypt_e2e_v1(key, bytes.fromhex(str(vec["packet"]))) == payload
