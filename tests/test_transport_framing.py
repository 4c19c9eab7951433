"""Framing codecs (digest §6.1-6.3, checklist T2): round trips over every split
of the stream, quick acks, transport error codes, and the documented errors."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mtcrypt.errors import InvalidArgument, InvalidLength, TransportError
from mtcrypt.mtproto import Role
from mtcrypt.transport import (
    AbridgedCodec,
    Frame,
    FrameCodec,
    Framing,
    FullCodec,
    IntermediateCodec,
    PaddedIntermediateCodec,
    QuickAck,
    TransportErrorCode,
    make_codec,
    strip_padding,
)
from mtcrypt.transport.events import Event

FRAMINGS = ["abridged", "intermediate", "padded_intermediate", "full"]
SIDES: tuple[Role, ...] = (Role.CLIENT, Role.SERVER)

# ---- helpers shared with the other transport tests ---------------------------


def split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """``data`` cut at the given offsets (any order, duplicates allowed)."""
    points = sorted({min(max(c, 0), len(data)) for c in cuts})
    out, start = [], 0
    for p in points:
        out.append(data[start:p])
        start = p
    out.append(data[start:])
    return out


def plain_message(body_words: int, msg_id: int = 0x51E57AC42D1C3A04) -> bytes:
    body = os.urandom(4 * body_words)
    return struct.pack("<qqi", 0, msg_id, len(body)) + body


def encrypted_message(blocks: int) -> bytes:
    return b"\x11" * 8 + os.urandom(16 + 16 * blocks)


# MTProto-shaped payloads (what padded intermediate can strip exactly).
mtproto_payloads = st.one_of(
    st.integers(1, 64).map(plain_message),
    st.integers(1, 80).map(encrypted_message),
)
cut_lists = st.lists(st.integers(0, 1 << 16), max_size=12)


def feed_all(codec: FrameCodec, chunks: Sequence[bytes]) -> list[Event]:
    events: list[Event] = []
    for chunk in chunks:
        events += codec.feed(chunk)
    return events


def frames(events: Sequence[Event]) -> list[bytes]:
    assert all(isinstance(e, Frame) for e in events), events
    return [e.payload for e in events if isinstance(e, Frame)]


# ---- round trips -------------------------------------------------------------


@pytest.mark.parametrize("framing", FRAMINGS)
@given(payloads=st.lists(mtproto_payloads, min_size=1, max_size=6), cuts=cut_lists)
def test_round_trip_client_to_server_any_split(
    framing: str, payloads: list[bytes], cuts: list[int]
) -> None:
    tx, rx = make_codec(framing, "client"), make_codec(framing, "server")
    wire = b"".join(tx.encode(p) for p in payloads)
    assert frames(feed_all(rx, split(wire, cuts))) == payloads
    assert rx.buffered == 0


@pytest.mark.parametrize("framing", FRAMINGS)
@given(payloads=st.lists(mtproto_payloads, min_size=1, max_size=6), cuts=cut_lists)
def test_round_trip_server_to_client_any_split(
    framing: str, payloads: list[bytes], cuts: list[int]
) -> None:
    tx, rx = make_codec(framing, "server"), make_codec(framing, "client")
    wire = b"".join(tx.encode(p) for p in payloads)
    assert frames(feed_all(rx, split(wire, cuts))) == payloads


@pytest.mark.parametrize("framing", ["abridged", "intermediate", "full"])
@given(words=st.lists(st.integers(1, 700), min_size=1, max_size=5), cuts=cut_lists)
def test_round_trip_arbitrary_payloads(framing: str, words: list[int], cuts: list[int]) -> None:
    """Non-padded framings carry any multiple of 4 bytes (server side receives
    everything as a Frame)."""
    payloads = [os.urandom(4 * n) for n in words]
    tx, rx = make_codec(framing, "client"), make_codec(framing, "server")
    wire = b"".join(tx.encode(p) for p in payloads)
    assert frames(feed_all(rx, split(wire, cuts))) == payloads


def test_byte_by_byte() -> None:
    for framing in FRAMINGS:
        tx, rx = make_codec(framing, "client"), make_codec(framing, "server")
        payloads = [encrypted_message(1), encrypted_message(40), plain_message(200)]
        wire = b"".join(tx.encode(p) for p in payloads)
        assert frames(feed_all(rx, [wire[i : i + 1] for i in range(len(wire))])) == payloads


# ---- exact envelopes (from the spec text) ------------------------------------


def test_abridged_envelope() -> None:
    c = AbridgedCodec("client")
    assert c.tag == b"\xef" and c.obfuscation_tag == b"\xef" * 4
    assert c.encode(b"abcd") == b"\x01abcd"
    p = bytes(4 * 126)
    assert c.encode(p)[:1] == b"\x7e"
    p = bytes(4 * 127)
    assert c.encode(p)[:4] == b"\x7f\x7f\x00\x00"
    assert c.encode(bytes(4 * 0x12345))[:4] == b"\x7f\x45\x23\x01"
    # quick-ack request: the length's top bit, 0xff for the long form
    assert c.encode(b"abcd", quick_ack=True) == b"\x81abcd"
    assert c.encode(bytes(4 * 127), quick_ack=True)[:4] == b"\xff\x7f\x00\x00"


def test_intermediate_and_padded_envelopes() -> None:
    assert IntermediateCodec("client").encode(b"abcd") == b"\x04\x00\x00\x00abcd"
    assert IntermediateCodec("client").encode(b"abcd", quick_ack=True) == b"\x04\x00\x00\x80abcd"
    assert IntermediateCodec.tag == b"\xee" * 4
    assert PaddedIntermediateCodec.tag == PaddedIntermediateCodec.obfuscation_tag == b"\xdd" * 4
    seen = set()
    codec = PaddedIntermediateCodec("client")
    for _ in range(400):
        out = codec.encode(b"abcd")
        (size,) = struct.unpack_from("<I", out)
        assert size == len(out) - 4 and out[4:8] == b"abcd"
        seen.add(size - 4)
    assert seen == set(range(16))  # 0..15 bytes of padding by default
    telethon_safe = PaddedIntermediateCodec("server", max_padding=3)
    assert {len(telethon_safe.encode(b"abcd")) - 8 for _ in range(200)} == {0, 1, 2, 3}


def test_full_envelope_seqno_and_crc() -> None:
    c = FullCodec("client")
    assert c.tag == b"" and c.obfuscation_tag is None
    for seq in range(3):
        out = c.encode(b"abcdefgh")
        length, got_seq = struct.unpack_from("<ii", out)
        assert (length, got_seq) == (20, seq) and len(out) == 20
        assert struct.unpack_from("<I", out, 16)[0] == zlib.crc32(out[:16])
    assert c.send_seq == 3


# ---- quick acks and transport error codes ------------------------------------


@pytest.mark.parametrize("framing", ["abridged", "intermediate", "padded_intermediate"])
def test_quick_ack_request_and_response(framing: str) -> None:
    client, server = make_codec(framing, "client"), make_codec(framing, "server")
    msg = encrypted_message(2)
    (event,) = server.feed(client.encode(msg, quick_ack=True))
    assert event == Frame(msg, quick_ack_requested=True)
    (event,) = server.feed(client.encode(msg))
    assert event == Frame(msg, quick_ack_requested=False)
    for token in (0x12345678, 0x80000001, 0xFFFFFFFF):
        reply = server.encode_quick_ack(token)
        # the reply interleaves with normal frames on any split
        wire = server.encode(msg) + reply + server.encode(msg)
        for cut in range(len(wire) + 1):
            c = make_codec(framing, "client")
            events = feed_all(c, [wire[:cut], wire[cut:]])
            assert events == [Frame(msg), QuickAck(token | 0x80000000), Frame(msg)]


def test_quick_ack_wire_forms() -> None:
    assert AbridgedCodec("server").encode_quick_ack(0x80123456) == b"\x80\x12\x34\x56"
    assert IntermediateCodec("server").encode_quick_ack(0x80123456) == b"\x56\x34\x12\x80"
    padded = PaddedIntermediateCodec("server").encode_quick_ack(0x80123456)
    (size,) = struct.unpack_from("<I", padded)
    assert 8 <= size < 16 and size == len(padded) - 4
    assert padded[4:12] == b"\xff\xff\xff\xff\x56\x34\x12\x80"
    with pytest.raises(InvalidArgument):
        FullCodec("server").encode_quick_ack(1)
    with pytest.raises(InvalidArgument):
        FullCodec("client").encode(b"abcd", quick_ack=True)
    with pytest.raises(InvalidArgument):
        AbridgedCodec("server").encode(b"abcd", quick_ack=True)
    with pytest.raises(InvalidArgument):
        AbridgedCodec("client").encode_quick_ack(1)


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("code", [-404, -429, -444, -403])
def test_transport_error_codes(framing: str, code: int) -> None:
    server, client = make_codec(framing, "server"), make_codec(framing, "client")
    msg = encrypted_message(1)
    wire = server.encode(msg) + server.encode_error(code)
    assert feed_all(client, split(wire, [3, 9])) == [Frame(msg), TransportErrorCode(code)]
    with pytest.raises(InvalidArgument):
        server.encode_error(404)  # codes are negative
    with pytest.raises(InvalidArgument):
        client.encode_error(-404)  # only servers send them


def test_full_raw_error_code_ends_the_stream() -> None:
    # Telethon issue 4042: length and seq both -429, then a 4-byte -429 body.
    client = FullCodec("client")
    raw = struct.pack("<iii", -429, -429, -429)
    assert feed_all(client, [raw[:2], raw[2:]]) == [TransportErrorCode(-429)]
    assert client.closed and client.feed(b"more garbage") == []


def test_short_packets_on_the_client() -> None:
    c = IntermediateCodec("client")

    def framed(body: bytes) -> bytes:
        return struct.pack("<I", len(body)) + body

    assert c.feed(framed(struct.pack("<i", 0))) == []  # no-op (tdlib)
    assert c.feed(framed(b"\xff\xff\xff\xff" + struct.pack("<I", 0x80000005))) == [
        QuickAck(0x80000005)
    ]
    with pytest.raises(TransportError) as exc:
        IntermediateCodec("client").feed(framed(struct.pack("<i", 7)))
    assert exc.value.code == -404


# ---- padded intermediate stripping -------------------------------------------


@given(payload=mtproto_payloads, pad=st.binary(max_size=15))
def test_strip_padding(payload: bytes, pad: bytes) -> None:
    assert strip_padding(payload + pad) == payload


def test_strip_padding_rejects_inconsistent_lengths() -> None:
    with pytest.raises(TransportError):
        strip_padding(bytes(20))
    bad = struct.pack("<qqi", 0, 4, 400) + bytes(16)  # length runs past the packet
    with pytest.raises(TransportError) as exc:
        strip_padding(bad)
    assert exc.value.code == -404
    with pytest.raises(TransportError):
        PaddedIntermediateCodec("server").feed(struct.pack("<I", 8) + bytes(8))


# ---- malformed input → TransportError(-404), codec failed --------------------


def _rejects(codec: FrameCodec, data: bytes, match: str) -> None:
    with pytest.raises(TransportError, match=match) as exc:
        codec.feed(data)
    assert exc.value.code == -404
    with pytest.raises(TransportError, match="already failed"):
        codec.feed(b"\x00")


def test_oversized_lengths_rejected_before_the_body() -> None:
    limit = 1 << 12
    _rejects(AbridgedCodec("server", max_frame=limit), b"\x7f\x01\x04\x00", "exceeds max_frame")
    _rejects(IntermediateCodec("server", max_frame=limit), struct.pack("<I", limit + 4), "exceeds")
    padded = PaddedIntermediateCodec("server", max_frame=limit)
    _rejects(padded, struct.pack("<I", limit + 1), "exceeds")
    _rejects(FullCodec("server", max_frame=limit), struct.pack("<i", limit + 16), "exceeds")
    # the default bound is 16 MiB
    _rejects(IntermediateCodec("server"), struct.pack("<I", (16 << 20) + 4), "exceeds")
    _rejects(AbridgedCodec("client"), b"\x7f\xff\xff\x7f", "exceeds")


def test_garbage_headers() -> None:
    _rejects(AbridgedCodec("server"), b"\x00", "empty packet")
    _rejects(AbridgedCodec("server"), b"\x7f\x10\x00\x00", "overlong")
    _rejects(IntermediateCodec("server"), struct.pack("<I", 0), "empty")
    _rejects(IntermediateCodec("server"), struct.pack("<I", 6), "multiple of 4")
    _rejects(IntermediateCodec("client"), struct.pack("<I", 2) + b"ab", "multiple of 4")
    _rejects(FullCodec("server"), struct.pack("<i", -5), "bad packet length")
    _rejects(FullCodec("server"), struct.pack("<i", 13), "bad packet length")
    _rejects(FullCodec("client"), struct.pack("<i", 12), "bad packet length")


def test_full_corrupted_crc_and_bad_seqno() -> None:
    tx = FullCodec("client")
    good = tx.encode(encrypted_message(1))
    for i in range(len(good)):
        if i < 4:
            continue  # a corrupted length is a different error (or a wait)
        corrupted = bytearray(good)
        corrupted[i] ^= 0x40
        _rejects(FullCodec("server"), bytes(corrupted), "CRC32 mismatch")
    second = tx.encode(encrypted_message(1))
    _rejects(FullCodec("server"), second, r"seqno 1, expected 0")  # a skipped packet
    rx = FullCodec("server")
    rx.feed(good)
    _rejects(rx, good, r"seqno 0, expected 1")  # a replayed packet
    # server-side counter is independent of the client's
    back = FullCodec("server")
    back.encode(b"abcd")
    assert back.send_seq == 1 and back.recv_seq == 0


@given(data=st.binary(max_size=300), cuts=cut_lists)
def test_fuzz_contract(data: bytes, cuts: list[int]) -> None:
    """Any input either parses or raises TransportError, nothing else."""
    for framing in FRAMINGS:
        for side in SIDES:
            codec = make_codec(framing, side, max_frame=1 << 10)
            try:
                feed_all(codec, split(data, cuts))
            except TransportError as exc:
                assert exc.code == -404


def test_argument_errors() -> None:
    c = IntermediateCodec("client")
    for bad in (b"", b"abc", b"abcde"):
        with pytest.raises(InvalidLength):
            c.encode(bad)
    with pytest.raises(InvalidLength):
        IntermediateCodec("client", max_frame=8).encode(bytes(12))
    with pytest.raises(TypeError):
        c.encode("text")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        make_codec("http", "client")
    with pytest.raises(InvalidArgument):
        IntermediateCodec("peer")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        PaddedIntermediateCodec("client", max_padding=16)
    assert repr(Frame(b"secret" * 10)) == "Frame(<60 bytes>, quick_ack_requested=False)"


def test_injected_rng_makes_padding_deterministic() -> None:
    def rng(n: int) -> bytes:
        return b"\x07" * n

    a = PaddedIntermediateCodec("client", rng=rng).encode(b"abcd")
    b = PaddedIntermediateCodec("client", rng=rng).encode(b"abcd")
    assert a == b == struct.pack("<I", 11) + b"abcd" + b"\x07" * 7


# ---- encode_into: a payload laid out in the frame's own buffer --------------------------------


def _fill_with(payload: bytes):  # type: ignore[no-untyped-def]
    def fill(view: memoryview) -> None:
        assert len(view) == len(payload) and not view.readonly
        view[:] = payload

    return fill


def _seeded_rng(seed: int):  # type: ignore[no-untyped-def]
    import random

    r = random.Random(seed)
    return lambda n: r.randbytes(n)


@pytest.mark.parametrize("framing", list(Framing), ids=lambda f: f.value)
@pytest.mark.parametrize("side", ["client", "server"])
def test_encode_into_gives_encode_bytes(framing: Framing, side: str) -> None:
    """The same bytes as encode(), for every framing, both sides, either side of the
    abridged one-byte/four-byte length boundary and for a large payload; the
    receiver reads the payloads back."""
    a = make_codec(framing, side, rng=_seeded_rng(7))  # type: ignore[arg-type]
    b = make_codec(framing, side, rng=_seeded_rng(7))  # type: ignore[arg-type]
    peer = make_codec(framing, "server" if side == "client" else "client")
    payloads = [encrypted_message(k) for k in (2, 5)]
    # (24 + 16k bytes, as MTProto packets are: padded intermediate strips by that rule)
    payloads += [os.urandom(n) for n in (120, 4 * 0x7E, 4 * 0x82, 600 * 1024 + 8)]
    wire = b""
    for payload in payloads:
        expected = a.encode(payload)
        got = b.encode_into(len(payload), _fill_with(payload))
        assert type(got) is bytes and got == expected
        wire += got
    assert [e.payload for e in peer.feed(wire) if isinstance(e, Frame)] == payloads


@pytest.mark.parametrize("framing", list(Framing), ids=lambda f: f.value)
def test_encode_into_then_transforms_the_whole_frame(framing: Framing) -> None:
    codec = make_codec(framing, "server", rng=_seeded_rng(1))
    twin = make_codec(framing, "server", rng=_seeded_rng(1))
    payload = os.urandom(40 * 1024)
    seen: list[bytes] = []

    def flip(frame: memoryview) -> None:
        seen.append(bytes(frame))
        frame[:] = bytes(x ^ 0x5A for x in frame)

    got = codec.encode_into(len(payload), _fill_with(payload), then=flip)
    plain = twin.encode(payload)
    assert seen == [plain] and got == bytes(x ^ 0x5A for x in plain)


@pytest.mark.parametrize("framing", list(Framing), ids=lambda f: f.value)
def test_encode_into_refuses_bad_sizes_and_survives_a_failing_fill(framing: Framing) -> None:
    codec = make_codec(framing, "server", max_frame=1024)
    for size in (0, -4, 6, 1028, 2.0):
        with pytest.raises(InvalidLength):
            codec.encode_into(size, _fill_with(b""))  # type: ignore[arg-type]

    def broken(view: memoryview) -> None:
        raise RuntimeError("the seal failed")

    with pytest.raises(RuntimeError):
        codec.encode_into(64, broken)
    twin = make_codec(framing, "server", max_frame=1024)
    payload = encrypted_message(2)
    if framing is not Framing.PADDED_INTERMEDIATE:  # (random padding)
        assert codec.encode_into(len(payload), _fill_with(payload)) == twin.encode(payload)
    if isinstance(codec, FullCodec):
        assert codec.send_seq == 1  # the failed frame took no seqno
