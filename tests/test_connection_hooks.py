"""The tooling additions to the connection layer: the ``received`` hook,
``send_packet``/``send_raw``, the client's ``handshake_factory``, and holding
back a session's automatic pong (the ``message`` hook with one message per
packet).  The conformance kit is built on these; each is checked here on its
own, client against server in one process, on a fake clock."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from connection_pair import T0, Pair

from mtcrypt import tl
from mtcrypt.connection import (
    Closed,
    CloseReason,
    ConnectionHooks,
    HandshakeFailed,
    IncomingRequest,
    KeyBound,
    PongReceived,
    Ready,
    ResultReceived,
)
from mtcrypt.errors import InvalidType
from mtcrypt.handshake import ClientHandshake
from mtcrypt.handshake.rsa import RsaPrivateKey
from mtcrypt.mtproto import InnerMessage, encrypt_message, next_msg_id, pack_plain, unpack_plain
from mtcrypt.testing import mutators
from mtcrypt.transport import ClientTransport

QUERY = struct.pack("<I", 0x0D0E0D0E) + bytes(8)


class Seen(ConnectionHooks):
    """Records what the ``received`` hook shows."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, InnerMessage]] = []

    def received(self, key_id: int, message: InnerMessage) -> None:
        self.seen.append((key_id, message))


# ---- received -------------------------------------------------------------------------------


def test_received_shows_each_authenticated_message_on_both_sides(
    server_key: RsaPrivateKey,
) -> None:
    assert not ConnectionHooks().observes_received and Seen().observes_received
    server_seen, client_seen = Seen(), Seen()
    pair = Pair(server_key, server_options={"hooks": server_seen}, hooks=client_seen)
    pair.pump()
    (ready,) = pair.of(Ready)
    request_id = pair.client.send_request(QUERY)
    pair.pump()
    (request,) = pair.of(IncomingRequest, "server")
    key_id, message = server_seen.seen[-1]
    session = pair.client.session
    assert session is not None
    assert key_id == ready.key_id and message.session_id == ready.session_id
    assert message.msg_id == request.msg_id and message.body == QUERY
    assert message.salt == session.salt
    # The client sees the server's answer before its session does.
    assert pair.of(ResultReceived)[0].request_id == request_id
    key_id, answer = client_seen.seen[-1]
    assert key_id == ready.key_id and answer.session_id == ready.session_id
    body = tl.deserialize_body(answer.body, unpack_gzip=True)
    assert isinstance(body, tl.TLObject) and body.name in ("rpc_result", "msg_container")


def test_received_does_not_show_what_does_not_decrypt(server_key: RsaPrivateKey) -> None:
    class Flip(ConnectionHooks):
        def packet(self, packet: bytes) -> bytes | None:
            return packet if packet[:8] == bytes(8) else mutators.flip_msg_key(packet)

    server_seen = Seen()
    pair = Pair(server_key, server_options={"hooks": server_seen}, hooks=Flip())
    pair.pump()
    pair.client.send_request(QUERY)
    pair.pump()
    assert server_seen.seen == []
    assert pair.of(Closed, "server")[0].reason is CloseReason.DECRYPTION_FAILED

    client_seen = Seen()
    pair = Pair(server_key, server_options={"hooks": Flip()}, hooks=client_seen)
    pair.pump()
    pair.client.send_request(QUERY)
    pair.pump()
    assert client_seen.seen == []
    assert pair.of(Closed)[0].reason is CloseReason.DECRYPTION_FAILED


# ---- send_packet and send_raw ---------------------------------------------------------------


def test_send_packet_frames_a_packet_of_the_tools_making(server_key: RsaPrivateKey) -> None:
    class Packets(ConnectionHooks):
        def __init__(self) -> None:
            self.packets: list[bytes] = []

        def packet(self, packet: bytes) -> bytes | None:
            self.packets.append(packet)
            return packet

    hooks = Packets()
    pair = Pair(server_key, hooks=hooks)
    pair.pump()
    session, key = pair.client.session, pair.client.auth_key
    assert session is not None and key is not None and session.session_id is not None
    before = len(hooks.packets)
    mine = struct.pack("<I", 0x0D0E0D0E) + b"mine"
    message = InnerMessage(session.salt, session.session_id, next_msg_id(T0, 0, 0), 1, mine)
    packet = encrypt_message(key, message.pack(), from_server=False)
    pair.client.send_request(QUERY)  # queued (sealed in data_to_send) before the packet
    pair.client.send_packet(packet)
    assert len(hooks.packets) == before + 1  # the request passed the hooks, the packet did not
    pair.pump()
    bodies = [e.body for e in pair.of(IncomingRequest, "server")]
    assert bodies == [QUERY, mine]
    assert packet not in hooks.packets
    with pytest.raises(InvalidType):
        pair.client.send_packet("text")  # type: ignore[arg-type]


def test_send_raw_writes_bytes_as_they_are(server_key: RsaPrivateKey) -> None:
    pair = Pair(server_key, transport=ClientTransport("full"))
    pair.pump()
    session, key = pair.client.session, pair.client.auth_key
    assert session is not None and key is not None and session.session_id is not None
    message = InnerMessage(session.salt, session.session_id, next_msg_id(T0, 0, 0), 1, QUERY)
    frame = pair.client.transport.send(encrypt_message(key, message.pack(), from_server=False))
    pair.client.send_raw(b"")  # nothing to write
    pair.client.send_raw(mutators.bad_crc(frame))
    assert pair.client.data_to_send() == mutators.bad_crc(frame)
    pair.client.send_raw(mutators.bad_crc(frame))
    pair.pump()
    closed = pair.of(Closed, "server")
    assert closed and closed[0].reason is CloseReason.BAD_TRANSPORT
    assert pair.of(IncomingRequest, "server") == []


# ---- the client's handshake factory -------------------------------------------------------


def test_handshake_factory_makes_every_client_handshake(server_key: RsaPrivateKey) -> None:
    made: list[dict[str, Any]] = []

    def factory(**options: Any) -> ClientHandshake:
        made.append(options)
        return ClientHandshake(**options)

    pair = Pair(server_key, handshake_factory=factory, temp_key_expires_in=3600, dc_id=4)
    pair.pump()
    assert pair.of(Ready) and pair.of(KeyBound)
    assert [m["expires_in"] for m in made] == [None, 3600]
    assert {m["dc"] for m in made} == {4}
    assert all(m["public_keys"] == (server_key.public_key,) for m in made)


def test_handshake_factory_can_misplay_a_step(server_key: RsaPrivateKey) -> None:
    class WrongNonce(ClientHandshake):
        def receive_with(self, packet: bytes, rng: Any, now: float) -> bytes | None:
            out = super().receive_with(packet, rng, now)
            if out is None:
                return None
            msg_id, body = unpack_plain(out)
            request = tl.deserialize(body)
            if request.name != "req_DH_params":
                return out
            return pack_plain(msg_id, tl.serialize(mutators.wrong_nonce(request)))

    pair = Pair(server_key, handshake_factory=WrongNonce)
    pair.pump()
    assert [e.check for e in pair.of(HandshakeFailed, "server")] == ["nonce"]
    assert pair.of(Closed)[0].error_code == -404


# ---- holding back the session's pong --------------------------------------------------------


def test_message_hook_holds_back_a_pong_and_the_tool_answers(server_key: RsaPrivateKey) -> None:
    class HoldPongs(ConnectionHooks):
        def __init__(self) -> None:
            self.held: list[InnerMessage] = []

        def message(self, message: InnerMessage) -> InnerMessage | None:
            body = tl.deserialize_body(message.body)
            if isinstance(body, tl.TLObject) and body.name == "pong":
                self.held.append(message)
                return None
            return message

    hooks = HoldPongs()
    pair = Pair(
        server_key,
        server_options={"hooks": hooks, "session_options": {"max_container_messages": 1}},
    )
    pair.pump()
    request_id = pair.client.send_ping()
    pair.pump()
    assert pair.of(PongReceived) == [] and len(hooks.held) == 1
    # The tool sends the pong itself, later, sealed under the session's key.
    (held,) = hooks.held
    key = pair.client.auth_key
    assert key is not None
    pair.server.send_packet(encrypt_message(key, held.pack(), from_server=True))
    pair.pump()
    assert [e.request_id for e in pair.of(PongReceived)] == [request_id]
