"""MTProxy fake-TLS (digest §6.5, checklist T3).

No peer ships a Python fake-TLS *server*, and the only Python client (kurigram's
port of tdlib's TlsInit) is used below as an oracle.  The main reference is an
independent model written in this file from the spec text alone (hashlib, hmac).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

import pytest
from conftest import require
from hypothesis import given
from hypothesis import strategies as st
from test_transport_framing import cut_lists, split

from mtcrypt.errors import InvalidArgument, TransportError
from mtcrypt.transport import ClientRandomCache, FakeTlsPolicy
from mtcrypt.transport.faketls import (
    CHANGE_CIPHER_SPEC,
    HELLO_SIZE,
    MAX_RECORD_SEND,
    TlsRecordReader,
    TlsRecordWriter,
    build_client_hello,
    build_server_hello,
    check_client_hello,
    server_hello_length,
    verify_server_hello,
)

KEY = bytes.fromhex("0123456789abcdef0123456789abcdef")
NOW = 1_760_000_000
POLICY = FakeTlsPolicy()

# ---- the spec model ------------------------------------------------------------


def spec_client_hello(key: bytes, domain: str, unix_time: int) -> tuple[bytes, bytes]:
    """A minimal, valid TLS 1.3 ClientHello whose random field is
    HMAC-SHA256(key, hello with zeroed random), last 4 bytes XOR LE time."""
    host = domain.encode()
    sni = struct.pack(">HHHBH", 0, len(host) + 5, len(host) + 3, 0, len(host)) + host
    versions = b"\x00\x2b\x00\x03\x02\x03\x04"
    exts = sni + versions
    body = (
        b"\x03\x03" + bytes(32) + b"\x20" + os.urandom(32)
        + b"\x00\x02\x13\x01" + b"\x01\x00" + struct.pack(">H", len(exts)) + exts
    )  # fmt: skip
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    record = bytearray(b"\x16\x03\x01" + struct.pack(">H", len(handshake)) + handshake)
    mac = bytearray(hmac.new(key, record, hashlib.sha256).digest())
    for i, b in enumerate(struct.pack("<I", unix_time)):
        mac[28 + i] ^= b
    record[11:43] = mac
    return bytes(record), bytes(mac)


def spec_hello_time(record: bytes, key: bytes) -> int | None:
    """The timestamp of an authentic ClientHello, or None."""
    got = record[11:43]
    want = hmac.new(key, record[:11] + bytes(32) + record[43:], hashlib.sha256).digest()
    if want[:28] != got[:28]:
        return None
    return int.from_bytes(want[28:], "little") ^ int.from_bytes(got[28:], "little")


def spec_server_answer(key: bytes, client_random: bytes, fake_cert: int = 1000) -> bytes:
    """``16 03 03 len ... 14 03 03 00 01 01 17 03 03 len ...`` with the HMAC at 11..43."""
    body = b"\x03\x03" + bytes(32) + b"\x00\x13\x01\x00\x00\x06\x00\x2b\x00\x02\x03\x04"
    server_hello = b"\x02" + len(body).to_bytes(3, "big") + body
    answer = bytearray(
        b"\x16\x03\x03" + struct.pack(">H", len(server_hello)) + server_hello
        + CHANGE_CIPHER_SPEC
        + b"\x17\x03\x03" + struct.pack(">H", fake_cert) + os.urandom(fake_cert)
    )  # fmt: skip
    answer[11:43] = hmac.new(key, client_random + bytes(answer), hashlib.sha256).digest()
    return bytes(answer)


def spec_verify_answer(answer: bytes, key: bytes, client_random: bytes) -> bool:
    zeroed = answer[:11] + bytes(32) + answer[43:]
    return hmac.new(key, client_random + zeroed, hashlib.sha256).digest() == answer[11:43]


def spec_unwrap(data: bytes, first: bool) -> bytes:
    out, pos = b"", 0
    if first:
        assert data[:6] == CHANGE_CIPHER_SPEC
        pos = 6
    while pos < len(data):
        assert data[pos : pos + 3] == b"\x17\x03\x03"
        (n,) = struct.unpack_from(">H", data, pos + 3)
        assert n <= 2878
        out += data[pos + 5 : pos + 5 + n]
        pos += 5 + n
    return out


def spec_extensions(record: bytes) -> dict[int, bytes]:
    """Parse a ClientHello's extensions (and check every length on the way)."""
    assert record[:3] == b"\x16\x03\x01" and struct.unpack(">H", record[3:5])[0] == len(record) - 5
    assert record[5] == 1 and int.from_bytes(record[6:9], "big") == len(record) - 9
    pos = 43
    pos += 1 + record[pos]  # session id
    pos += 2 + struct.unpack_from(">H", record, pos)[0]  # cipher suites
    pos += 1 + record[pos]  # compression
    (total,) = struct.unpack_from(">H", record, pos)
    pos += 2
    assert pos + total == len(record)
    exts: dict[int, bytes] = {}
    while pos < len(record):
        typ, n = struct.unpack_from(">HH", record, pos)
        exts[typ] = record[pos + 4 : pos + 4 + n]
        pos += 4 + n
    assert pos == len(record)
    return exts


def x25519_ladder(k: int, u: int) -> int:
    """RFC 7748 section 5 Montgomery ladder (no clamping)."""
    p, a24 = 2**255 - 19, 121665
    x1, x2, z2, x3, z3, swap = u, 1, 0, u, 1, 0
    for t in reversed(range(k.bit_length())):
        bit = (k >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % p, (x2 - z2) % p
        aa, bb = a * a % p, b * b % p
        e = (aa - bb) % p
        c, d = (x3 + z3) % p, (x3 - z3) % p
        da, cb = d * a % p, c * b % p
        x3, z3 = (da + cb) ** 2 % p, x1 * (da - cb) ** 2 % p
        x2, z2 = aa * bb % p, e * (aa + a24 * e) % p
    if swap:
        x2, z2 = x3, z3
    return x2 * pow(z2, p - 2, p) % p


# ---- the ClientHello -----------------------------------------------------------


@given(ts=st.integers(0, 2**32 - 1))
def test_our_hello_authenticates_under_the_spec(ts: int) -> None:
    hello = build_client_hello(KEY, "example.com", ts)
    assert spec_hello_time(hello.record, KEY) == ts
    assert spec_hello_time(hello.record, os.urandom(16)) is None
    assert hello.random == hello.record[11:43]


@pytest.mark.parametrize("post_quantum", [False, True])
def test_hello_looks_like_a_browser(post_quantum: bool) -> None:
    hello = build_client_hello(KEY, "www.example.org", NOW, post_quantum=post_quantum)
    exts = spec_extensions(hello.record)
    host = b"www.example.org"
    assert exts[0] == struct.pack(">HBH", len(host) + 3, 0, len(host)) + host  # SNI
    assert exts[0x2B][1:3][0] & 0x0F == 0x0A  # GREASE first in supported_versions
    assert b"\x03\x04" in exts[0x2B]
    greases = [t for t in exts if t & 0x0F0F == 0x0A0A]
    assert len(greases) == 2  # the leading and trailing GREASE extensions
    shares = exts[0x33]
    x25519 = shares[shares.index(b"\x00\x1d\x00\x20") + 4 :][:32]
    u = int.from_bytes(x25519, "little")
    order = 2**252 + 27742317777372353535851937790883648493
    assert x25519_ladder(order, u) == 0  # a point of the prime-order subgroup
    if post_quantum:
        assert b"\x11\xec\x04\xc0" in shares and len(hello.record) > HELLO_SIZE
    else:
        assert len(hello.record) == HELLO_SIZE and 0x15 in exts  # padded to 517 bytes
        assert hello.record[:11] == bytes.fromhex("1603010200010001fc0303")  # what MTProxy checks
    # session id, GREASE and the extension order vary
    other = build_client_hello(KEY, "www.example.org", NOW, post_quantum=post_quantum)
    assert other.record[44:76] != hello.record[44:76]


def test_hello_is_deterministic_given_rng() -> None:
    def rng_factory() -> object:
        state = hashlib.sha256(b"seed")

        def rng(n: int) -> bytes:
            out = b""
            while len(out) < n:
                state.update(b"x")
                out += state.digest()
            return out[:n]

        return rng

    a = build_client_hello(KEY, "a.example", NOW, rng=rng_factory())  # type: ignore[arg-type]
    b = build_client_hello(KEY, "a.example", NOW, rng=rng_factory())  # type: ignore[arg-type]
    assert a == b


def test_hello_arguments() -> None:
    with pytest.raises(InvalidArgument):
        build_client_hello(KEY[:15], "example.com", NOW)
    with pytest.raises(InvalidArgument):
        build_client_hello(KEY, "", NOW)
    with pytest.raises(InvalidArgument):
        build_client_hello(KEY, "a" * 183, NOW)


# ---- the server's checks --------------------------------------------------------


def test_server_accepts_a_spec_hello_and_answers_verifiably() -> None:
    record, client_random = spec_client_hello(KEY, "example.com", NOW - 5)
    keys = [os.urandom(16), KEY]
    info = check_client_hello(record, keys, now=NOW, policy=POLICY, domains=[None, "example.com"])
    assert (info.key_index, info.client_random, info.sni, info.timestamp) == (
        1,
        client_random,
        "example.com",
        NOW - 5,
    )
    assert info.session_id == record[44:76]
    answer = build_server_hello(KEY, client_random, info.session_id, certificate_size=(100, 200))
    assert spec_verify_answer(answer, KEY, client_random)
    assert not spec_verify_answer(answer, os.urandom(16), client_random)
    assert server_hello_length(answer) == len(answer)
    assert answer[:3] == b"\x16\x03\x03"
    # the ServerHello echoes the session id and picks TLS 1.3
    assert answer[43] == 32 and answer[44:76] == info.session_id
    assert b"\x00\x2b\x00\x02\x03\x04" in answer[:200]


@pytest.mark.parametrize(
    ("delta", "ok"),
    [(0, True), (600, True), (601, False), (-120, True), (-121, False), (-(2**31), False)],
)
def test_time_window(delta: int, ok: bool) -> None:
    record, _ = spec_client_hello(KEY, "example.com", (NOW - delta) & 0xFFFFFFFF)
    if ok:
        check_client_hello(record, [KEY], now=NOW, policy=POLICY)
    else:
        with pytest.raises(TransportError, match="timestamp"):
            check_client_hello(record, [KEY], now=NOW, policy=POLICY)


def test_replay_cache() -> None:
    cache = ClientRandomCache(max_entries=2)
    policy = FakeTlsPolicy(replay_cache=cache)
    records = [spec_client_hello(KEY, "example.com", NOW)[0] for _ in range(3)]
    check_client_hello(records[0], [KEY], now=NOW, policy=policy)
    with pytest.raises(TransportError, match="replayed"):
        check_client_hello(records[0], [KEY], now=NOW, policy=policy)
    check_client_hello(records[1], [KEY], now=NOW, policy=policy)
    check_client_hello(records[2], [KEY], now=NOW, policy=policy)
    assert len(cache) == 2  # oldest evicted
    check_client_hello(records[0], [KEY], now=NOW, policy=policy)


def test_sni_must_match_the_secret_domain() -> None:
    record, _ = spec_client_hello(KEY, "evil.example", NOW)
    with pytest.raises(TransportError, match="SNI"):
        check_client_hello(record, [KEY], now=NOW, policy=POLICY, domains=["good.example"])
    lax = FakeTlsPolicy(check_domain=False)
    assert check_client_hello(record, [KEY], now=NOW, policy=lax, domains=["good.example"]).sni == (
        "evil.example"
    )
    ok, _ = spec_client_hello(KEY, "GOOD.example", NOW)
    check_client_hello(ok, [KEY], now=NOW, policy=POLICY, domains=["good.example"])


def test_forged_and_malformed_hellos() -> None:
    record, _ = spec_client_hello(KEY, "example.com", NOW)
    for i in (0, 5, 9, 11, 30, 42, 60, len(record) - 1):
        bad = bytearray(record)
        bad[i] ^= 1
        with pytest.raises(TransportError) as exc:
            check_client_hello(bytes(bad), [KEY], now=NOW, policy=POLICY)
        assert exc.value.code == -404
    with pytest.raises(TransportError, match="not authenticated"):
        check_client_hello(record, [os.urandom(16)], now=NOW, policy=POLICY)
    with pytest.raises(TransportError):
        check_client_hello(record[:40], [KEY], now=NOW, policy=POLICY)
    with pytest.raises(TransportError, match="length"):
        check_client_hello(record + b"\x00", [KEY], now=NOW, policy=POLICY)


# ---- the client's check of the answer ------------------------------------------


def test_client_verifies_a_spec_answer() -> None:
    hello = build_client_hello(KEY, "example.com", NOW)
    answer = spec_server_answer(KEY, hello.random)
    for cut in range(len(answer)):
        assert server_hello_length(answer[:cut]) == 0
    assert server_hello_length(answer + b"\x17\x03\x03\x00\x04data") == len(answer)
    assert verify_server_hello(answer, KEY, hello.random)
    assert not verify_server_hello(answer, os.urandom(16), hello.random)
    assert not verify_server_hello(answer, KEY, os.urandom(32))
    tampered = bytearray(answer)
    tampered[-1] ^= 1
    assert not verify_server_hello(bytes(tampered), KEY, hello.random)


def test_malformed_answers() -> None:
    answer = spec_server_answer(KEY, os.urandom(32))
    with pytest.raises(TransportError, match="ServerHello"):
        server_hello_length(b"\x15\x03\x03\x00\x02\x02\x28")  # a TLS alert
    bad = bytearray(answer)
    bad[5 + struct.unpack(">H", answer[3:5])[0]] ^= 0xFF  # the change_cipher_spec after it
    with pytest.raises(TransportError, match="change_cipher_spec"):
        server_hello_length(bytes(bad))
    with pytest.raises(TransportError, match="too long"):
        server_hello_length(b"\x16\x03\x03\xff\xff")


class _HmacSpy:
    """The hmac module with compare_digest replaced (patched on faketls only)."""

    def __init__(self, compare: object) -> None:
        self.new = hmac.new
        self.compare_digest = compare


def test_macs_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """T3: both HMAC checks go through hmac.compare_digest."""
    import mtcrypt.transport.faketls as faketls

    calls: list[int] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append(len(a))
        return real(a, b)

    monkeypatch.setattr(faketls, "hmac", _HmacSpy(spy))
    record, client_random = spec_client_hello(KEY, "example.com", NOW)
    check_client_hello(record, [os.urandom(16), KEY], now=NOW, policy=POLICY)
    assert calls == [28, 28]  # every candidate key, matched or not
    verify_server_hello(spec_server_answer(KEY, client_random), KEY, client_random)
    assert calls[-1] == 32


# ---- records --------------------------------------------------------------------


@given(chunks=st.lists(st.binary(max_size=7000), max_size=5), cuts=cut_lists)
def test_records_round_trip_any_split(chunks: list[bytes], cuts: list[int]) -> None:
    writer = TlsRecordWriter(change_cipher_spec=True)
    wire = b"".join(writer.wrap(c) for c in chunks)
    data = b"".join(chunks)
    if data:
        assert spec_unwrap(wire, first=True) == data
    reader = TlsRecordReader(allow_change_cipher_spec=True)
    assert b"".join(reader.feed(piece) for piece in split(wire, cuts)) == data


@given(chunks=st.lists(st.binary(max_size=7000), max_size=5), cuts=cut_lists)
def test_records_unwrap_in_place_any_split(chunks: list[bytes], cuts: list[int]) -> None:
    """feed_into (the relay's path) moves each piece's payload to the start of
    the piece's own buffer, a slice of one scratch buffer as the relay has."""
    writer = TlsRecordWriter(change_cipher_spec=True)
    wire = b"".join(writer.wrap(c) for c in chunks)
    reader = TlsRecordReader(allow_change_cipher_spec=True)
    scratch = memoryview(bytearray(len(wire) + 1))
    got = b""
    for piece in split(wire, cuts):
        view = scratch[: len(piece)]
        view[:] = piece
        got += view[: reader.feed_into(view)]
    assert got == b"".join(chunks)


def test_record_sizes() -> None:
    writer = TlsRecordWriter(change_cipher_spec=False)
    wire = writer.wrap(bytes(MAX_RECORD_SEND * 2 + 1))
    assert wire[:5] == b"\x17\x03\x03" + struct.pack(">H", MAX_RECORD_SEND)
    assert len(wire) == 3 * 5 + MAX_RECORD_SEND * 2 + 1
    assert writer.wrap(b"") == b""


def test_bad_records() -> None:
    def rejects(data: bytes, match: str, **kw: bool) -> None:
        with pytest.raises(TransportError, match=match) as exc:
            TlsRecordReader(**kw).feed(data)
        assert exc.value.code == -404

    rejects(b"\x15\x03\x03\x00\x02\x02\x28", "unexpected")  # alert
    rejects(b"\x17\x03\x01\x00\x01x", "unexpected")  # wrong version
    rejects(b"\x17\x03\x03\x41\x01", "too long")  # 16641 bytes > 2**14 + 256
    rejects(CHANGE_CIPHER_SPEC, "unexpected")  # not allowed on this side
    rejects(b"\x14\x03\x03\x00\x01\x02", "change_cipher_spec", allow_change_cipher_spec=True)
    after_data = b"\x17\x03\x03\x00\x00" + CHANGE_CIPHER_SPEC
    rejects(after_data, "unexpected", allow_change_cipher_spec=True)
    assert TlsRecordReader().feed(b"\x17\x03\x03\x00\x00\x17\x03\x03\x00\x01z") == b"z"


# ---- kurigram's client (a port of tdlib's TlsInit) as an oracle -----------------


@pytest.mark.interop
def test_kurigram_hello_against_our_server() -> None:
    faketls = require("pyrogram.crypto.faketls")
    hello = faketls.build_client_hello(domain="example.com", secret=KEY, unix_time=NOW - 30)
    info = check_client_hello(
        hello.record, [KEY], now=NOW, policy=POLICY, domains=["example.com"]
    )
    assert info.client_random == hello.random and info.sni == "example.com"
    answer = build_server_hello(KEY, info.client_random, info.session_id)
    assert faketls.server_hello_is_authentic(answer, secret=KEY, client_random=hello.random)
    assert not faketls.server_hello_is_authentic(
        answer, secret=os.urandom(16), client_random=hello.random
    )


@pytest.mark.interop
def test_our_hello_passes_kurigrams_model_of_the_digest() -> None:
    faketls = require("pyrogram.crypto.faketls")
    hello = build_client_hello(KEY, "example.com", NOW)
    # kurigram authenticates answers, not hellos; its verifier is the same HMAC
    # construction, so run it on our hello with the roles of the fields swapped.
    zeroed = hello.record[:11] + bytes(32) + hello.record[43:]
    mac = hmac.new(KEY, zeroed, hashlib.sha256).digest()
    assert mac[:28] == hello.random[:28]
    answer = spec_server_answer(KEY, hello.random)
    assert faketls.server_hello_is_authentic(answer, secret=KEY, client_random=hello.random)
    assert verify_server_hello(answer, KEY, hello.random)
