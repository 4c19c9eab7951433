"""obfuscated2 headers (digest §6.4, checklist T1) and MTProxy secrets
(digest §6.4-6.5, checklist T3).

The reference model below is written from the spec text alone, on pycryptodome
and hashlib, so it shares no code with mtcrypt.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from Crypto.Cipher import AES
from Crypto.Util import Counter
from hypothesis import given
from hypothesis import strategies as st

from mtcrypt.errors import InvalidArgument, InvalidLength, TransportError
from mtcrypt.transport import (
    Framing,
    ProxySecret,
    SecretKind,
    is_forbidden_header,
    make_client_header,
    parse_client_header,
    parse_proxy_link,
)
from mtcrypt.transport.obfuscation import FORBIDDEN_FIRST_INTS, derive_keys

TAGS = [b"\xef" * 4, b"\xee" * 4, b"\xdd" * 4]


# ---- an independent model from the spec text ----------------------------------


def ctr(key: bytes, iv: bytes) -> Any:
    return AES.new(key, AES.MODE_CTR, counter=Counter.new(128, initial_value=int.from_bytes(iv)))


def spec_header(
    random64: bytes, tag: bytes, secret16: bytes | None = None, dc: int | None = None
) -> tuple[bytes, Any, Any]:
    """Steps 2-7 of [TR] for a given random ``init``: (wire, c2s, s2c)."""
    init = bytearray(random64)
    init[56:60] = tag
    if dc is not None:
        init[60:62] = dc.to_bytes(2, "little", signed=True)
    rev = bytes(reversed(init))
    ekey, eiv = bytes(init[8:40]), bytes(init[40:56])
    dkey, div = rev[8:40], rev[40:56]
    if secret16 is not None:
        ekey = hashlib.sha256(ekey + secret16).digest()
        dkey = hashlib.sha256(dkey + secret16).digest()
    c2s, s2c = ctr(ekey, eiv), ctr(dkey, div)
    encrypted = c2s.encrypt(bytes(init))
    return bytes(init[:56]) + encrypted[56:], c2s, s2c


def scripted_rng(*blocks: bytes) -> Callable[[int], bytes]:
    """An rng that returns the given 64-byte blocks in order, then fails."""
    it: Iterator[bytes] = iter(blocks)

    def rng(n: int) -> bytes:
        assert n == 64
        return next(it)

    return rng


def valid_init() -> bytes:
    while True:
        init = os.urandom(64)
        if not is_forbidden_header(init):
            return init


# ---- T1: every forbidden prefix is avoided; tag at 56, DC id at 60; keys from the
# header and the reversed header; SHA256(key || secret) for proxies; the c2s stream
# starts with the header itself (test_header_matches_the_spec_model) ---------------

FORBIDDEN_T1 = {
    "first byte ef": b"\xef",
    "HEAD": b"HEAD",
    "POST": b"POST",
    "GET ": b"GET ",
    "OPTI": b"OPTI",
    "TLS 16030102": b"\x16\x03\x01\x02",
    "dddddddd": b"\xdd" * 4,
    "eeeeeeee": b"\xee" * 4,
}


@pytest.mark.parametrize("name", list(FORBIDDEN_T1))
@pytest.mark.parametrize("tag", TAGS, ids=lambda t: t.hex())
def test_forbidden_first_bytes_are_regenerated(name: str, tag: bytes) -> None:
    good = valid_init()
    prefix = FORBIDDEN_T1[name]
    bad = prefix + good[len(prefix) :]
    assert is_forbidden_header(bad)
    header = make_client_header(tag, rng=scripted_rng(bad, bad, good))
    assert header.wire[:56] == good[:56]
    assert header.wire == spec_header(good, tag)[0]


def test_zero_second_int_is_regenerated() -> None:
    good = valid_init()
    bad = good[:4] + bytes(4) + good[8:]
    header = make_client_header(b"\xee" * 4, rng=scripted_rng(bad, good))
    assert header.wire[:8] == good[:8]


def test_forbidden_list_covers_the_checklist() -> None:
    for word in (b"HEAD", b"POST", b"GET ", b"OPTI", b"\x16\x03\x01\x02", b"\xdd" * 4, b"\xee" * 4):
        assert int.from_bytes(word, "little") in FORBIDDEN_FIRST_INTS
    # and the extras: any TLS record prefix, Telethon's PVrG
    assert is_forbidden_header(b"\x16\x03\x01\x07" + b"\x01" * 60)
    assert is_forbidden_header(b"PVrG" + b"\x01" * 60)
    assert not is_forbidden_header(b"\x01" * 64)


def test_a_broken_rng_is_reported() -> None:
    with pytest.raises(InvalidArgument, match="forbidden"):
        make_client_header(b"\xef" * 4, rng=lambda n: b"\xef" * n)
    with pytest.raises(InvalidArgument):
        make_client_header(b"\xef" * 4, rng=lambda n: b"\x01" * (n - 1))


def test_generated_headers_are_never_forbidden() -> None:
    for _ in range(2000):
        assert not is_forbidden_header(make_client_header(b"\xdd" * 4).wire)


# ---- keys, IVs, tag, DC id: against the spec model ----------------------------


@pytest.mark.parametrize("tag", TAGS, ids=lambda t: t.hex())
@pytest.mark.parametrize("secret", [None, bytes(range(16))], ids=["no-secret", "secret"])
@pytest.mark.parametrize("dc", [None, 2, -4, 10002, -32768])
def test_header_matches_the_spec_model(tag: bytes, secret: bytes | None, dc: int | None) -> None:
    init = valid_init()
    ours = make_client_header(tag, secret=secret, dc_id=dc, rng=scripted_rng(init))
    wire, c2s, s2c = spec_header(init, tag, secret, dc)
    assert ours.wire == wire
    data = os.urandom(1000)
    assert ours.encryptor.update(data) == c2s.encrypt(data)
    assert ours.decryptor.update(data) == s2c.decrypt(data)


def test_spec_pseudocode_example() -> None:
    """[TR]'s example: padded intermediate, media DC 4 (``fc ff``), secret dd + 16x 99.

    A derived vector (no published one exists): the spec model and mtcrypt agree,
    and the server side recovers the tag and the DC id.
    """
    secret = ProxySecret.parse("dd" + "99" * 16)
    assert secret.kind is SecretKind.PADDED and secret.key == b"\x99" * 16
    init = valid_init()
    ours = make_client_header(
        b"\xdd" * 4, secret=secret.key, dc_id=-4, rng=scripted_rng(init)
    )
    wire, _, _ = spec_header(init, b"\xdd" * 4, b"\x99" * 16, -4)
    assert ours.wire == wire
    parsed = parse_client_header(wire, [secret.key])
    assert (parsed.framing, parsed.dc_id, parsed.secret_index) == (
        Framing.PADDED_INTERMEDIATE,
        -4,
        0,
    )


def test_derive_keys_uses_the_reversed_header() -> None:
    header = bytes(range(64))
    (ck, civ), (sk, siv) = derive_keys(header)
    assert ck == bytes(range(8, 40)) and civ == bytes(range(40, 56))
    assert sk == bytes(range(55, 23, -1)) and siv == bytes(range(23, 7, -1))
    (ck2, _), (sk2, _) = derive_keys(header, b"\x01" * 16)
    assert ck2 == hashlib.sha256(ck + b"\x01" * 16).digest()
    assert sk2 == hashlib.sha256(sk + b"\x01" * 16).digest()
    with pytest.raises(InvalidLength):
        derive_keys(header[:63])


# ---- the server side ----------------------------------------------------------


@given(tag=st.sampled_from(TAGS), dc=st.integers(-0x8000, 0x7FFF), n=st.integers(0, 300))
def test_server_parses_a_spec_header_and_stays_in_step(tag: bytes, dc: int, n: int) -> None:
    init = valid_init()
    wire, c2s, s2c = spec_header(init, tag, None, dc)
    parsed = parse_client_header(wire)
    assert parsed.dc_id == dc and parsed.secret_index is None
    assert parsed.framing is {b"\xef": Framing.ABRIDGED, b"\xee": Framing.INTERMEDIATE,
                              b"\xdd": Framing.PADDED_INTERMEDIATE}[tag[:1]]
    data = os.urandom(n)
    assert parsed.decryptor.update(c2s.encrypt(data)) == data
    assert s2c.decrypt(parsed.encryptor.update(data)) == data


def test_server_picks_the_right_secret() -> None:
    keys = [os.urandom(16) for _ in range(3)]
    wire, _, _ = spec_header(valid_init(), b"\xee" * 4, keys[2], 2)
    assert parse_client_header(wire, [keys[0], None, keys[1], keys[2]]).secret_index == 3
    with pytest.raises(TransportError) as exc:
        parse_client_header(wire, [keys[0], keys[1], None])
    assert exc.value.code == -404
    plain, _, _ = spec_header(valid_init(), b"\xee" * 4)
    assert parse_client_header(plain, [keys[0], None]).secret_index is None


def test_garbage_header_is_rejected() -> None:
    with pytest.raises(TransportError, match="unrecognised"):
        parse_client_header(os.urandom(64))
    with pytest.raises(InvalidLength):
        parse_client_header(os.urandom(63))
    with pytest.raises(InvalidArgument):
        make_client_header(b"\x01\x02\x03\x04")
    with pytest.raises(InvalidArgument):
        make_client_header(b"\xef" * 4, dc_id=40000)


# ---- T3: MTProxy secrets: only 16, dd+16, ee+16+domain (<= 182) -------------

KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


def test_secret_forms() -> None:
    plain = ProxySecret.parse(KEY.hex())
    assert (plain.kind, plain.key, plain.padded) == (SecretKind.PLAIN, KEY, False)
    assert not plain.fake_tls
    dd = ProxySecret.parse("dd" + KEY.hex())
    assert (dd.kind, dd.key, dd.padded) == (SecretKind.PADDED, KEY, True)
    ee_raw = b"\xee" + KEY + b"www.example.com"
    for text in (
        ee_raw.hex(),
        base64.urlsafe_b64encode(ee_raw).decode().rstrip("="),
        base64.urlsafe_b64encode(ee_raw).decode(),
        base64.b64encode(ee_raw).decode(),
    ):
        ee = ProxySecret.parse(text)
        assert (ee.kind, ee.key, ee.domain, ee.padded) == (
            SecretKind.FAKE_TLS,
            KEY,
            "www.example.com",
            True,
        )
        assert bytes(ee) == ee_raw
    assert ProxySecret.parse(ee.link_form()) == ee
    assert ee.link_form() == base64.urlsafe_b64encode(ee_raw).decode().rstrip("=")
    assert dd.link_form() == "dd" + KEY.hex()
    # raw bytes work too; and a 16-byte key that starts with dd/ee is still plain
    assert ProxySecret.parse(b"\xdd" + KEY) == dd
    assert ProxySecret.parse(b"\xdd" * 16).kind is SecretKind.PLAIN
    assert ProxySecret.parse(b"\xee" * 16).kind is SecretKind.PLAIN
    assert ProxySecret.parse(dd) is dd


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        KEY[:15],
        b"\x01" + KEY,  # 17 bytes without dd
        b"\xee" + KEY,  # ee without a domain
        b"\xdd" + KEY + b"x",  # dd with extra bytes
        b"\x01" + KEY + b"example.com",
        b"\xee" + KEY + b"a" * 183,  # domain over 182 bytes
        b"\xee" + KEY + b"exa mple.com",  # not printable-without-space
        b"\xee" + KEY + "exämple.com".encode(),
    ],
)
def test_invalid_secrets(raw: bytes) -> None:
    with pytest.raises(InvalidArgument) as exc:
        ProxySecret.parse(raw)
    assert KEY.hex() not in str(exc.value)


def test_invalid_secret_text() -> None:
    for text in ("", "zz" * 16, "not a secret!", KEY.hex()[:-1]):
        with pytest.raises(InvalidArgument):
            ProxySecret.parse(text)
    with pytest.raises(TypeError):
        ProxySecret.parse(12345)  # type: ignore[arg-type]
    assert len(ProxySecret.parse(b"\xee" + KEY + b"a" * 182).domain or "") == 182


def test_proxy_links() -> None:
    ee_raw = b"\xee" + KEY + b"www.example.com"
    b64 = base64.urlsafe_b64encode(ee_raw).decode().rstrip("=")
    link = parse_proxy_link(f"tg://proxy?server=proxy.example&port=443&secret={b64}")
    assert (link.server, link.port, link.secret.domain) == ("proxy.example", 443, "www.example.com")
    link = parse_proxy_link(f"https://t.me/proxy?server=1.2.3.4&port=8888&secret=dd{KEY.hex()}")
    assert (link.server, link.port, link.secret.kind) == ("1.2.3.4", 8888, SecretKind.PADDED)
    for bad in (
        f"tg://socks?server=a&port=1&secret={KEY.hex()}",
        f"https://example.com/proxy?server=a&port=1&secret={KEY.hex()}",
        f"tg://proxy?server=a&port=0&secret={KEY.hex()}",
        f"tg://proxy?server=a&port=x&secret={KEY.hex()}",
        "tg://proxy?server=a&port=1",
        f"tg://proxy?server=a&port=1&secret={KEY.hex()}00",
    ):
        with pytest.raises(InvalidArgument):
            parse_proxy_link(bad)


def test_secret_key_derivation_and_repr() -> None:
    s = ProxySecret.parse("dd" + KEY.hex())
    k = os.urandom(32)
    assert s.derive(k) == hashlib.sha256(k + KEY).digest()
    assert KEY.hex() not in repr(s) and "dd" in repr(s).lower()


def test_every_header_is_distinct() -> None:
    wires = {make_client_header(b"\xef" * 4).wire for _ in range(200)}
    assert len(wires) == 200
    # and the tag never shows in clear
    assert not any(w[56:60] == b"\xef" * 4 for w in itertools.islice(wires, 50))


def test_struct_layout_of_dc_id() -> None:
    init = valid_init()
    header = make_client_header(b"\xee" * 4, dc_id=-2, rng=scripted_rng(init))
    plain = parse_client_header(header.wire)
    assert plain.dc_id == struct.unpack("<h", b"\xfe\xff")[0] == -2
