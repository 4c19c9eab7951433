"""The secret-chat TL codec and the ``decryptedMessageLayer`` envelope.

The end-to-end schema is separate from the cloud API's (core.telegram.org/
schema/end-to-end). ``schema.tl`` holds the current layer and is loaded by
:func:`mtcrypt.tl.load_schema`, which re-derives every constructor id.
``schema_extra.tl`` holds what that loader cannot take as is: constructors of
older layers whose names the current layer reuses, and the single constructor
whose wire id is not the CRC32 of its text (``decryptedMessageMediaDocument``
of layer 143, ``#6abd9782``). Each of those is checked here the same way (the
CRC32 of its official text must equal its written id), renamed as tdlib names
it (``decryptedMessage45``, ``decryptedMessageService8``, ...) and merged with
its official (or wire) id, so the codec decodes every layer a peer may send.
"""

from __future__ import annotations

import dataclasses
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..errors import InvalidArgument, TLError
from ..tl import Codec, Reader, Schema, TLObject, combinator_id, load_schema
from ..tl.primitives import pack_bytes

__all__ = [
    "LAYER",
    "LAYER_MTPROTO2",
    "MIN_LAYER",
    "MIN_RANDOM_BYTES",
    "DecodedLayer",
    "codec",
    "decode_layer",
    "encode_layer",
    "first_layer",
    "make",
    "required_layer",
]

LAYER = 144
"""The secret-chat layer this codec speaks (spoilers and custom emoji, layer 144)."""

LAYER_MTPROTO2 = 73
"""From this layer on, both sides must use MTProto 2.0 only (core.telegram.org/api/end-to-end)."""

MIN_LAYER = 46
"""The remote layer a new chat assumes until told otherwise (api/end-to-end)."""

MIN_RANDOM_BYTES = 15
"""decryptedMessageLayer.random_bytes: messages with fewer must be ignored."""

LAYER_ID = 0x1BE31789
"""``decryptedMessageLayer``'s constructor id."""

# The layer each constructor first appeared in (core.telegram.org/schema/
# end-to-end, one section per layer; cross-checked with tdlib's SecretChatLayer
# constants and Telegram-iOS's per-layer encoders (SecretApiLayer46/73/101/144),
# which send nothing newer than the chat's layer). Only the figures above
# MIN_LAYER (46) change what a chat may send; the older ones are listed so that
# the table is complete (a test checks it against the schema). Where the first
# layer is uncertain the later candidate is written, so the gate can only refuse
# too much, never send too new.
_FIRST_LAYER: dict[int, Sequence[str]] = {
    8: (
        "decryptedMessage8 decryptedMessageService8 decryptedMessageMediaEmpty "
        "decryptedMessageMediaPhoto8 decryptedMessageMediaVideo8 decryptedMessageMediaGeoPoint "
        "decryptedMessageMediaContact decryptedMessageMediaDocument8 decryptedMessageMediaAudio8 "
        "decryptedMessageActionSetMessageTTL decryptedMessageActionReadMessages "
        "decryptedMessageActionDeleteMessages decryptedMessageActionScreenshotMessages "
        "decryptedMessageActionFlushHistory"
    ).split(),
    17: (
        "decryptedMessageLayer decryptedMessage17 decryptedMessageService "
        "decryptedMessageMediaVideo17 decryptedMessageMediaAudio decryptedMessageActionResend "
        "decryptedMessageActionNotifyLayer decryptedMessageActionTyping sendMessageTypingAction "
        "sendMessageCancelAction sendMessageRecordVideoAction sendMessageUploadVideoAction "
        "sendMessageRecordAudioAction sendMessageUploadAudioAction sendMessageUploadPhotoAction "
        "sendMessageUploadDocumentAction sendMessageGeoLocationAction "
        "sendMessageChooseContactAction"
    ).split(),
    20: (
        "decryptedMessageActionRequestKey decryptedMessageActionAcceptKey "
        "decryptedMessageActionAbortKey decryptedMessageActionCommitKey decryptedMessageActionNoop"
    ).split(),
    23: (
        "decryptedMessageMediaExternalDocument documentAttributeImageSize "
        "documentAttributeAnimated documentAttributeSticker23 documentAttributeVideo23 "
        "documentAttributeAudio23 documentAttributeFilename photoSizeEmpty photoSize "
        "photoCachedSize fileLocationUnavailable fileLocation"
    ).split(),
    45: (
        "decryptedMessage45 decryptedMessageMediaPhoto decryptedMessageMediaVideo "
        "decryptedMessageMediaDocument45 decryptedMessageMediaVenue decryptedMessageMediaWebPage "
        "documentAttributeSticker documentAttributeAudio45 inputStickerSetShortName "
        "inputStickerSetEmpty messageEntityUnknown messageEntityMention messageEntityHashtag "
        "messageEntityBotCommand messageEntityUrl messageEntityEmail messageEntityBold "
        "messageEntityItalic messageEntityCode messageEntityPre messageEntityTextUrl "
        "messageEntityMentionName"
    ).split(),
    46: ("documentAttributeAudio",),
    66: "documentAttributeVideo sendMessageRecordRoundAction sendMessageUploadRoundAction".split(),
    73: ("decryptedMessage",),
    101: (
        "messageEntityUnderline messageEntityStrike messageEntityBlockquote messageEntityPhone "
        "messageEntityCashtag messageEntityBankCard"
    ).split(),
    143: ("decryptedMessageMediaDocument",),
    144: ("messageEntitySpoiler", "messageEntityCustomEmoji"),
}
_LAYER_OF = {name: layer for layer, names in _FIRST_LAYER.items() for name in names}


def first_layer(name: str) -> int:
    """The secret-chat layer constructor ``name`` first appeared in."""
    try:
        return _LAYER_OF[name]
    except KeyError:
        raise InvalidArgument(f"{name!r} is not an end-to-end constructor") from None


def required_layer(obj: TLObject) -> int:
    """The lowest layer at which ``obj`` and everything inside it exist: a chat
    may send ``obj`` only at this layer or above."""
    layer = first_layer(obj.name)
    stack: list[object] = list(obj.fields.values())
    while stack:
        value = stack.pop()
        if isinstance(value, TLObject):
            layer = max(layer, first_layer(value.name))
            stack.extend(value.fields.values())
        elif isinstance(value, list):
            stack.extend(value)
    return layer


_ENTRY = re.compile(r"^//\s*@as\s+(?P<alias>\w+)(?:\s+@wire-id\s+(?P<wire>[0-9a-fA-F]{1,8}))?\s*$")


def _read(name: str) -> str:
    return resources.files("mtcrypt.e2e").joinpath(name).read_text(encoding="utf-8")


def _extra_entries(text: str) -> list[tuple[str, str, int]]:
    """(alias, official statement, wire id) for each entry of schema_extra.tl."""
    entries: list[tuple[str, str, int]] = []
    pending: tuple[str, int | None] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("//"):
            match = _ENTRY.match(line)
            if match is not None:
                wire = int(match["wire"], 16) if match["wire"] else None
                pending = (match["alias"], wire)
            continue
        if pending is None:
            raise TLError(f"schema_extra.tl: combinator without an @as line: {line!r}")
        statement = line.rstrip(";").strip()
        header = statement.split(None, 1)[0]
        if "#" not in header:
            raise TLError(f"schema_extra.tl: combinator without #id: {line!r}")
        written = int(header.split("#", 1)[1], 16)
        computed = combinator_id(statement)
        if written != computed:
            raise TLError(f"schema_extra.tl: {header}: written id but CRC32 gives #{computed:08x}")
        alias, wire = pending
        entries.append((alias, statement, wire if wire is not None else written))
        pending = None
    if pending is not None:
        raise TLError("schema_extra.tl: @as line without a combinator")
    return entries


def _renamed(alias: str, statement: str) -> str:
    rest = statement.split(None, 1)[1]
    cid = combinator_id(f"{alias} {rest}")
    return f"{alias}#{cid:08x} {rest};"


def build_schema(main_text: str, extra_text: str) -> Schema:
    """The merged end-to-end schema (exposed for tests)."""
    load_schema(main_text)  # the current layer alone must load and check
    entries = _extra_entries(extra_text)
    merged = load_schema(
        main_text + "\n" + "\n".join(_renamed(alias, stmt) for alias, stmt, _ in entries)
    )
    overrides = {alias: wire for alias, _, wire in entries}
    return Schema.from_combinators(
        dataclasses.replace(comb, id=overrides[name]) if name in overrides else comb
        for name, comb in merged.combinators.items()
    )


@cache
def codec() -> Codec:
    """The shared codec over the merged end-to-end schema (loaded once)."""
    return Codec(schema=build_schema(_read("schema.tl"), _read("schema_extra.tl")))


def make(name: str, /, **fields: object) -> TLObject:
    """Build a validated end-to-end TL object, e.g. ``make("decryptedMessageActionNoop")``."""
    return codec().make(name, **fields)


@dataclass(frozen=True, slots=True, repr=False)
class DecodedLayer:
    """A decoded ``decryptedMessageLayer``.

    ``message`` is the decoded ``DecryptedMessage`` or ``None`` when the peer
    used a constructor this codec does not know (a newer layer); the raw bytes
    are in ``raw_message`` either way.
    """

    random_bytes: bytes
    layer: int
    in_seq_no: int
    out_seq_no: int
    message: TLObject | None
    raw_message: bytes

    def __repr__(self) -> str:
        name = self.message.name if self.message is not None else "<unknown>"
        return (
            f"DecodedLayer(layer={self.layer}, in_seq_no={self.in_seq_no}, "
            f"out_seq_no={self.out_seq_no}, message={name})"
        )


def encode_layer(
    *, random_bytes: bytes, layer: int, in_seq_no: int, out_seq_no: int, message: TLObject
) -> bytes:
    """Serialize ``decryptedMessageLayer`` around ``message`` (a DecryptedMessage)."""
    c = codec()
    if not isinstance(message, TLObject) or message.name not in c.schema:
        raise InvalidArgument("message must be an end-to-end TLObject")
    if c.schema[message.name].result != "DecryptedMessage":
        raise InvalidArgument(f"{message.name} is not a DecryptedMessage constructor")
    body = c.serialize(message)
    return (
        struct.pack("<I", LAYER_ID)
        + pack_bytes(random_bytes)
        + struct.pack("<iii", layer, in_seq_no, out_seq_no)
        + body
    )


def decode_layer(payload: bytes) -> DecodedLayer:
    """Decode the envelope; raise :class:`TLError` if it is not a
    ``decryptedMessageLayer``. An undecodable inner message is returned as
    ``message=None`` so that its sequence numbers can still be processed."""
    reader = Reader(payload)
    if reader.read_uint32() != LAYER_ID:
        raise TLError("not a decryptedMessageLayer")
    random_bytes = reader.read_bytes()
    layer = reader.read_int32()
    in_seq_no = reader.read_int32()
    out_seq_no = reader.read_int32()
    raw = reader.read_rest()
    message: TLObject | None
    try:
        obj = codec().deserialize(raw)
    except TLError:
        message = None
    else:
        message = obj if codec().schema[obj.name].result == "DecryptedMessage" else None
    return DecodedLayer(random_bytes, layer, in_seq_no, out_seq_no, message, raw)
