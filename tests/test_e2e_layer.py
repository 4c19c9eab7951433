"""Layer negotiation in secret chats: a chat writes the lower of its own layer
and the peer's (api/end-to-end "Notifying the remote client about your local
layer"; tdlib ``SecretChatActor::current_layer``) and sends only constructors
that exist at that layer."""

from __future__ import annotations

import struct

import pytest
from test_e2e_chat import KEY, deliver, forge_to_creator, keyed_pair
from test_e2e_crypto import ref_open

from mtcrypt.e2e import LAYER, ChatPolicy, MessageReceived, SecretChat, decode_layer, make
from mtcrypt.e2e.tl import DecodedLayer, codec, first_layer, required_layer
from mtcrypt.errors import InvalidArgument, InvalidType


def envelope(chat: SecretChat, data: bytes) -> DecodedLayer:
    """What ``chat``'s peer decrypts from ``data`` (read with the test's own
    reference implementation of the message crypto)."""
    plain = ref_open(KEY.key, data, from_creator=chat.is_creator)
    (length,) = struct.unpack_from("<i", plain)
    return decode_layer(plain[4 : 4 + length])


def pair(creator_layer: int = LAYER, partner_layer: int = LAYER) -> tuple[SecretChat, SecretChat]:
    a, _ = keyed_pair(policy=ChatPolicy(layer=creator_layer))
    _, b = keyed_pair(policy=ChatPolicy(layer=partner_layer))
    return a, b


def test_every_constructor_has_a_first_layer() -> None:
    for name in codec().schema.combinators:
        assert 8 <= first_layer(name) <= LAYER, name
    with pytest.raises(InvalidArgument):
        first_layer("message")


def test_required_layer_looks_inside() -> None:
    plain = make("decryptedMessage45", random_id=1, ttl=0, message="x")
    assert required_layer(plain) == 45
    spoiler = make("messageEntitySpoiler", offset=0, length=1)
    nested = make("decryptedMessage45", random_id=1, ttl=0, message="x", entities=[spoiler])
    assert required_layer(nested) == 144
    action = make("decryptedMessageActionTyping", action=make("sendMessageRecordRoundAction"))
    assert required_layer(make("decryptedMessageService", random_id=1, action=action)) == 66


def test_before_the_peer_announces_a_chat_writes_layer_46() -> None:
    a, b = pair()
    assert a.layer == 46
    notify, text = a.send_text("hi")
    assert envelope(a, notify.data).layer == 46
    layer = envelope(a, text.data)
    assert (layer.layer, layer.message.name) == (46, "decryptedMessage45")
    (received,) = [e for e in deliver(b, [notify, text]) if isinstance(e, MessageReceived)]
    assert received.message.message == b"hi"


def test_after_both_announce_they_write_the_lower_layer() -> None:
    a, b = pair(LAYER, 101)
    deliver(b, a.start())
    deliver(a, b.start())
    assert (a.peer_layer, b.peer_layer) == (101, LAYER)
    assert a.layer == b.layer == 101
    for chat in (a, b):
        (packet,) = chat.send_text("x")
        layer = envelope(chat, packet.data)
        assert (layer.layer, layer.message.name) == (101, "decryptedMessage")
    strike = make("messageEntityStrike", offset=0, length=1)
    a.send(make("decryptedMessage", random_id=5, ttl=0, message="x", entities=[strike]))
    spoiler = make("messageEntitySpoiler", offset=0, length=1)
    with pytest.raises(InvalidArgument, match=r"needs layer 144.*writes layer 101"):
        a.send(make("decryptedMessage", random_id=6, ttl=0, message="x", entities=[spoiler]))


def test_a_chat_configured_for_layer_46_never_sends_layer_73_constructors() -> None:
    a, b = pair(46, LAYER)
    deliver(b, a.start())
    deliver(a, b.start())
    assert (a.peer_layer, a.layer, b.layer) == (LAYER, 46, 46)
    (packet,) = a.send_text("old", silent=True)
    layer = envelope(a, packet.data)
    assert (layer.layer, layer.message.name) == (46, "decryptedMessage45")
    with pytest.raises(InvalidArgument, match="decryptedMessage needs layer 73"):
        a.send(make("decryptedMessage", random_id=1, ttl=0, message="new"))
    assert a.seq == (2, 1)  # the refused send consumed nothing
    (packet,) = b.send_text("to an old peer")
    assert envelope(b, packet.data).message.name == "decryptedMessage45"


def test_a_lower_second_announcement_does_not_lower_the_layer() -> None:
    a, b = pair(LAYER, 101)
    deliver(b, a.start())
    deliver(a, b.start())
    notify = make(
        "decryptedMessageService",
        random_id=9,
        action=make("decryptedMessageActionNotifyLayer", layer=73),
    )
    # b's second message (out 1, having processed a's one): 2*1 + 0 and 2*1 + 1.
    forged = forge_to_creator(a, in_seq_no=3, out_seq_no=2, message=notify, layer=101)
    a.receive(forged)
    assert a.seq == (1, 2)
    assert (a.peer_layer, a.layer) == (101, 101)


@pytest.mark.parametrize("layer", [45, LAYER + 1, -1])
def test_policy_layer_out_of_range(layer: int) -> None:
    with pytest.raises(InvalidArgument):
        ChatPolicy(layer=layer)


def test_policy_layer_must_be_an_int() -> None:
    with pytest.raises(InvalidType):
        ChatPolicy(layer=True)
