"""The end-to-end TL schema and the decryptedMessageLayer envelope."""

from __future__ import annotations

import struct
from importlib import resources

import pytest
from conftest import load_vectors
from hypothesis import given

from mtcrypt.e2e import codec, decode_layer, encode_layer, make
from mtcrypt.e2e.strategies import decrypted_messages
from mtcrypt.e2e.tl import LAYER, build_schema
from mtcrypt.errors import InvalidArgument, TLError
from mtcrypt.tl import TLObject, combinator_id, load_schema

MAIN = resources.files("mtcrypt.e2e").joinpath("schema.tl").read_text(encoding="utf-8")
EXTRA = resources.files("mtcrypt.e2e").joinpath("schema_extra.tl").read_text(encoding="utf-8")


def test_current_layer_schema_loads_with_the_plain_loader() -> None:
    schema = load_schema(MAIN)  # every id re-derived by mtcrypt.tl
    assert "decryptedMessageLayer" in schema
    assert "decryptedMessageActionRequestKey" in schema


@pytest.mark.parametrize(
    "vec", load_vectors("e2e_schema_ids.json")["vectors"], ids=lambda v: v["codec_name"]
)
def test_published_constructor_ids(vec: dict[str, str]) -> None:
    schema = codec().schema
    comb = schema[vec["codec_name"]]
    assert comb.id == int(vec["id"], 16)
    assert schema.by_id[comb.id] is comb
    if not vec.get("id_is_not_crc32"):
        assert combinator_id(vec["text"]) == comb.id


def test_a_wrong_id_is_refused_in_either_file() -> None:
    with pytest.raises(TLError):
        build_schema(MAIN.replace("#1be31789", "#1be31788"), EXTRA)
    with pytest.raises(TLError):
        build_schema(MAIN, EXTRA.replace("#36b091de", "#36b091df"))
    with pytest.raises(TLError):  # the wire id cannot pose as the text's own id
        build_schema(MAIN, EXTRA.replace("#8e4c064c", "#6abd9782"))
    # the one exception is applied only where the file says so explicitly
    plain = build_schema(MAIN, EXTRA.replace(" @wire-id 6abd9782", ""))
    assert plain["decryptedMessageMediaDocument"].id == 0x8E4C064C


def test_every_extra_constructor_is_checked() -> None:
    count = 0
    for line in EXTRA.splitlines():
        if line.strip() and not line.startswith("//"):
            header = line.split()[0]
            assert combinator_id(line.strip().rstrip(";")) == int(header.split("#")[1], 16)
            count += 1
    assert count == 15


@given(decrypted_messages())
def test_layer_round_trip(message: TLObject) -> None:
    payload = encode_layer(
        random_bytes=b"r" * 15, layer=LAYER, in_seq_no=4, out_seq_no=7, message=message
    )
    decoded = decode_layer(payload)
    assert decoded.message == message
    assert (decoded.layer, decoded.in_seq_no, decoded.out_seq_no) == (LAYER, 4, 7)
    assert decoded.random_bytes == b"r" * 15
    assert len(payload) % 4 == 0


def test_layer_wire_form() -> None:
    noop = make("decryptedMessageService", random_id=1, action=make("decryptedMessageActionNoop"))
    payload = encode_layer(
        random_bytes=bytes(15), layer=73, in_seq_no=2, out_seq_no=3, message=noop
    )
    assert payload == (
        bytes.fromhex("8917e31b")
        + b"\x0f"
        + bytes(15)
        + struct.pack("<iii", 73, 2, 3)
        + bytes.fromhex("60411673")
        + struct.pack("<q", 1)
        + bytes.fromhex("63dd2fa8")
    )


def test_older_layers_decode_under_tdlib_names() -> None:
    body = (
        struct.pack("<I", 0x36B091DE)
        + struct.pack("<i", 0)  # flags
        + struct.pack("<qi", 99, 0)
        + b"\x02hi\x00"
    )
    payload = struct.pack("<I", 0x1BE31789) + b"\x0f" + bytes(15) + struct.pack("<iii", 46, 0, 0)
    decoded = decode_layer(payload + body)
    assert decoded.message is not None
    assert decoded.message.name == "decryptedMessage45"
    assert decoded.message.message == b"hi"


def test_current_document_media_uses_the_wire_id() -> None:
    media = make(
        "decryptedMessageMediaDocument",
        thumb=b"",
        thumb_w=0,
        thumb_h=0,
        mime_type="application/pdf",
        size=2**40,
        key=bytes(32),
        iv=bytes(32),
        attributes=[make("documentAttributeFilename", file_name="a.pdf")],
        caption="",
    )
    assert codec().serialize(media)[:4] == struct.pack("<I", 0x6ABD9782)
    assert codec().deserialize(codec().serialize(media)) == media


def test_unknown_inner_message_keeps_the_envelope() -> None:
    payload = struct.pack("<I", 0x1BE31789) + b"\x0f" + bytes(15) + struct.pack("<iii", 200, 0, 1)
    decoded = decode_layer(payload + b"\xde\xad\xbe\xef" + bytes(8))
    assert decoded.message is None
    assert decoded.layer == 200
    assert decoded.raw_message == b"\xde\xad\xbe\xef" + bytes(8)
    # a known object that is not a DecryptedMessage is "unknown" too
    decoded = decode_layer(payload + codec().serialize(make("decryptedMessageActionNoop")))
    assert decoded.message is None


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x00" * 4, struct.pack("<I", 0x1BE31789), struct.pack("<I", 0x1BE31789) + b"\xff"],
)
def test_not_a_layer_is_a_tl_error(payload: bytes) -> None:
    with pytest.raises(TLError):
        decode_layer(payload)


def test_encode_layer_needs_a_decrypted_message() -> None:
    with pytest.raises(InvalidArgument):
        encode_layer(
            random_bytes=bytes(15),
            layer=LAYER,
            in_seq_no=0,
            out_seq_no=1,
            message=make("decryptedMessageActionNoop"),
        )


def test_repr_shows_no_content() -> None:
    message = make("decryptedMessage", random_id=1, ttl=0, message="attack at dawn")
    payload = encode_layer(
        random_bytes=bytes(15), layer=LAYER, in_seq_no=0, out_seq_no=1, message=message
    )
    assert "dawn" not in repr(decode_layer(payload))
    assert "dawn" not in repr(message)
