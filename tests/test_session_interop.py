"""The Session against an implementation nobody on this project wrote: Telethon.

* Telethon's ``MTProtoState`` is the client, an mtcrypt server ``Session`` answers,
  and Telethon decrypts and parses the answers (its own time window, parity and
  session checks apply).
* An mtcrypt client ``Session`` talks to a "server" made of Telethon's primitives
  (its KDF, its IGE, its TL reader and types): Telethon opens what the client
  sends and builds what the client receives.

Telethon checks the time window against ``time.time()``, so these tests use the
real clock.  See shared/docs/real-clients.md "Message-level cross-checks".
"""

from __future__ import annotations

import datetime
import logging
import os
import struct
import time
from hashlib import sha256
from io import BytesIO
from typing import Any

from conftest import require

from mtcrypt.mtproto import AuthKey
from mtcrypt.mtproto.session import (
    Acked,
    NewSession,
    PingReceived,
    Pong,
    Request,
    Role,
    RpcError,
    RpcResult,
    SaltsReceived,
    SaltUpdated,
    Session,
    Update,
)

mtprotostate = require("telethon.network.mtprotostate")
from telethon.crypto import AES  # noqa: E402
from telethon.crypto import AuthKey as TelethonKey  # noqa: E402
from telethon.extensions import BinaryReader  # noqa: E402
from telethon.tl import functions, types  # noqa: E402
from telethon.tl.core import GzipPacked, MessageContainer  # noqa: E402
from telethon.tl.core import RpcResult as TRpcResult  # noqa: E402

SALT = 0x5A17_5A17_5A17_5A17
CONTAINER = 0x73F1F8DC
BOOL_TRUE = struct.pack("<I", 0x997275B5)


class _Loggers(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> logging.Logger:
        return logging.getLogger(key)


def _telethon_client(raw: bytes) -> Any:
    state = mtprotostate.MTProtoState(TelethonKey(raw), loggers=_Loggers())
    state.salt = SALT
    return state


def _telethon_packet(state: Any, messages: list[tuple[bytes, bool]]) -> tuple[list[int], bytes]:
    """Telethon writes the messages (in a container if several) and encrypts them."""
    buf = BytesIO()
    ids = [state.write_data_as_message(buf, data, related) for data, related in messages]
    if len(messages) > 1:
        payload = struct.pack("<Ii", CONTAINER, len(messages)) + buf.getvalue()
        buf = BytesIO()
        ids.append(state.write_data_as_message(buf, payload, False))
    return ids, state.encrypt_message_data(buf.getvalue())


def _flatten(message: Any) -> list[Any]:
    if isinstance(message.obj, MessageContainer):
        return [m for inner in message.obj.messages for m in _flatten(inner)]
    return [message]


# ---- Telethon client -> mtcrypt server -> Telethon client ---------------------------------


def test_telethon_client_ping_and_new_session() -> None:
    raw = os.urandom(256)
    state = _telethon_client(raw)
    server = Session(AuthKey(raw), Role.SERVER, salt=SALT)
    (ping_id,), packet = _telethon_packet(state, [(bytes(functions.PingRequest(ping_id=77)), True)])
    (event,) = server.receive(packet)
    assert event == PingReceived(ping_id, 77, None) and server.session_id == state.id
    (reply,) = server.data_to_send()
    messages = _flatten(state.decrypt_message_data(reply))
    objs = [m.obj for m in messages]
    assert isinstance(objs[0], types.NewSessionCreated)
    assert objs[0].first_msg_id == ping_id and objs[0].server_salt == SALT
    assert isinstance(objs[1], types.Pong) and (objs[1].msg_id, objs[1].ping_id) == (ping_id, 77)
    assert all(m.msg_id % 2 == 1 for m in messages)
    assert messages[1].msg_id % 4 == 1 and messages[0].msg_id % 4 == 3


def test_telethon_client_container_acks_and_gzip_both_ways() -> None:
    raw = os.urandom(256)
    state = _telethon_client(raw)
    server = Session(AuthKey(raw), Role.SERVER, salt=SALT)
    # A first round trip so that the server has something for Telethon to ack.
    (q0,), packet = _telethon_packet(state, [(bytes(functions.help.GetConfigRequest()), True)])
    server.receive(packet)
    server.send_result(q0, BOOL_TRUE)
    (reply,) = server.data_to_send()
    answered = _flatten(state.decrypt_message_data(reply))
    result = answered[-1].obj
    assert isinstance(result, TRpcResult) and result.req_msg_id == q0
    assert result.body.startswith(BOOL_TRUE)  # Telethon reads on into the padding
    # Telethon: a large (gzipped by Telethon) query, a small one and an ack, in a container.
    big = bytes(functions.messages.SendMessageRequest(
        peer=types.InputPeerSelf(), message="hello " * 400, random_id=1))
    small = bytes(functions.help.GetNearestDcRequest())
    ack = bytes(types.MsgsAck([m.msg_id for m in answered]))
    ids, packet = _telethon_packet(state, [(big, True), (small, True), (ack, False)])
    events = server.receive(packet)
    requests = [e for e in events if isinstance(e, Request)]
    assert [(r.msg_id, r.body) for r in requests] == [(ids[0], big), (ids[1], small)]
    assert [e for e in events if isinstance(e, Acked)]
    # mtcrypt: a large result, gzipped inside rpc_result; an error for the other.
    config = bytes(types.InputPeerSelf()) * 400
    server.send_result(ids[0], config)
    server.send_error(ids[1], 420, "FLOOD_WAIT_7")
    update = server.send(bytes(types.UpdatesTooLong()))
    (reply,) = server.data_to_send()
    objs = {m.msg_id: m.obj for m in _flatten(state.decrypt_message_data(reply))}
    results = {o.req_msg_id: o for o in objs.values() if isinstance(o, TRpcResult)}
    assert results[ids[0]].body == config
    assert results[ids[1]].error.error_message == "FLOOD_WAIT_7"
    assert isinstance(objs[update], types.UpdatesTooLong)


def test_telethon_client_bad_salt_is_answered() -> None:
    raw = os.urandom(256)
    state = _telethon_client(raw)
    state.salt = SALT + 1
    server = Session(AuthKey(raw), Role.SERVER, salt=SALT)
    (q,), packet = _telethon_packet(state, [(bytes(functions.help.GetConfigRequest()), True)])
    (drop,) = server.receive(packet)
    server.notify_bad_message(drop)
    (reply,) = server.data_to_send()
    message = state.decrypt_message_data(reply)
    assert isinstance(message.obj, types.BadServerSalt)
    assert (message.obj.bad_msg_id, message.obj.new_server_salt) == (q, SALT)


# ---- mtcrypt client <-> a server made of Telethon's parts ---------------------------------


class TelethonServer:
    """Opens client packets (x = 0) and seals server packets (x = 8) with Telethon's
    KDF, IGE and TL types; no mtcrypt code is involved."""

    def __init__(self, raw: bytes, session_id: int) -> None:
        self.raw = raw
        self.key_id = TelethonKey(raw).key_id
        self.session_id = session_id
        self.last = 0

    def open(self, packet: bytes) -> tuple[int, int, int, int, Any]:
        assert struct.unpack("<Q", packet[:8])[0] == self.key_id
        msg_key = packet[8:24]
        aes_key, aes_iv = mtprotostate.MTProtoState._calc_key(self.raw, msg_key, True)
        plain = AES.decrypt_ige(packet[24:], aes_key, aes_iv)
        assert sha256(self.raw[88:120] + plain).digest()[8:24] == msg_key
        reader = BinaryReader(plain)
        salt, session_id, msg_id, seq_no, length = (
            reader.read_long(), reader.read_long(), reader.read_long(), reader.read_int(),
            reader.read_int(),
        )
        assert 12 <= len(plain) - 32 - length <= 1024
        return salt, session_id, msg_id, seq_no, reader.tgread_object()

    def msg_id(self, kind: int = 1) -> int:
        now = time.time()
        self.last = max(self.last + 4, (int(now) << 32) | (int((now % 1) * 2**30) << 2))
        return self.last & ~3 | kind

    def seal(self, body: bytes, msg_id: int | None = None, seq_no: int = 1) -> bytes:
        msg_id = self.msg_id() if msg_id is None else msg_id
        plain = struct.pack("<qqqii", SALT, self.session_id, msg_id, seq_no, len(body)) + body
        padding = os.urandom(-(len(plain) + 12) % 16 + 12)
        msg_key = sha256(self.raw[96:128] + plain + padding).digest()[8:24]
        aes_key, aes_iv = mtprotostate.MTProtoState._calc_key(self.raw, msg_key, False)
        return (struct.pack("<Q", self.key_id) + msg_key
                + AES.encrypt_ige(plain + padding, aes_key, aes_iv))

    def container(self, bodies: list[tuple[bytes, int]]) -> bytes:
        out = struct.pack("<Ii", CONTAINER, len(bodies))
        for body, seq_no in bodies:
            out += struct.pack("<qii", self.msg_id(), seq_no, len(body)) + body
        return out


def test_mtcrypt_client_against_telethon_parts() -> None:
    raw = os.urandom(256)
    client = Session(AuthKey(raw), Role.CLIENT, salt=SALT, time_offset=0.0)
    server = TelethonServer(raw, client.session_id or 0)
    p = client.send_ping(99)
    big = bytes(functions.messages.SendMessageRequest(
        peer=types.InputPeerSelf(), message="hi " * 500, random_id=2))
    q = client.send(big)
    (packet,) = client.data_to_send()
    salt, session_id, cid, seq_no, obj = server.open(packet)
    assert (salt, session_id) == (SALT, client.session_id) and cid % 4 == 0 and seq_no % 2 == 0
    assert isinstance(obj, MessageContainer)
    ping, request = obj.messages
    assert isinstance(ping.obj, functions.PingRequest) and ping.obj.ping_id == 99
    assert (ping.msg_id, request.msg_id) == (p, q) and p < q < cid
    assert (ping.seq_no, request.seq_no) == (1, 3)
    assert isinstance(request.obj, GzipPacked) and request.obj.data == big

    # The server answers: a container with new_session_created, pong, a gzipped
    # rpc_result, an rpc_error-free update, and an ack of both queries.
    result = bytes(types.UpdatesTooLong()) * 300
    reply = server.container([
        (bytes(types.NewSessionCreated(first_msg_id=p, unique_id=5, server_salt=SALT)), 1),
        (bytes(types.Pong(msg_id=p, ping_id=99)), 1),
        (struct.pack("<Iq", 0xF35C6D01, q) + bytes(GzipPacked(result)), 1),
        (bytes(types.MsgsAck([p, q])), 0),
        (bytes(types.UpdatesTooLong()), 1),
    ])
    events = client.receive(server.seal(reply, seq_no=0))
    kinds = [type(e) for e in events]
    assert kinds == [NewSession, Pong, RpcResult, Update]  # the ack names answered messages
    assert events[2] == RpcResult(q, result, events[2].msg_id)
    assert events[3].body == bytes(types.UpdatesTooLong())
    # The client acknowledges the four content-related messages.
    (packet,) = client.data_to_send(flush_acks=True)
    obj = server.open(packet)[4]
    assert isinstance(obj, types.MsgsAck) and len(obj.msg_ids) == 4


def test_mtcrypt_client_salt_games_with_telethon_parts() -> None:
    raw = os.urandom(256)
    client = Session(AuthKey(raw), Role.CLIENT, salt=1, time_offset=0.0)
    server = TelethonServer(raw, client.session_id or 0)
    q = client.send(bytes(functions.help.GetConfigRequest()))
    (packet,) = client.data_to_send()
    _, _, msg_id, seq_no, _ = server.open(packet)
    notice = bytes(types.BadServerSalt(bad_msg_id=msg_id, bad_msg_seqno=seq_no, error_code=48,
                                       new_server_salt=SALT))
    events = client.receive(server.seal(notice, seq_no=0))
    assert isinstance(events[0], SaltUpdated) and client.salt == SALT
    (packet,) = client.data_to_send()
    salt, _, new_id, _, obj = server.open(packet)
    assert salt == SALT and new_id > msg_id and isinstance(obj, functions.help.GetConfigRequest)
    # future_salts answering our get_future_salts
    r = client.request_future_salts(2)
    (packet,) = client.data_to_send()
    salts_req = server.open(packet)[4]
    assert isinstance(salts_req, functions.GetFutureSaltsRequest) and salts_req.num == 2
    now = int(time.time())
    salts = [types.FutureSalt(valid_since=now - 5, valid_until=now + 1800, salt=SALT),
             types.FutureSalt(valid_since=now + 1700, valid_until=now + 3600, salt=7)]
    reply = bytes(types.FutureSalts(req_msg_id=r, now=now, salts=salts))
    (event,) = client.receive(server.seal(reply))
    assert isinstance(event, SaltsReceived) and [s.salt for s in event.salts] == [SALT, 7]
    # an rpc_error from Telethon's types
    error = struct.pack("<Iq", 0xF35C6D01, new_id) + bytes(types.RpcError(400, "BAD_REQUEST"))
    (event,) = client.receive(server.seal(error))
    assert event == RpcError(q, 400, "BAD_REQUEST", event.msg_id)  # q: the id send() gave


def test_telethon_datetime_salts_are_the_same_bytes() -> None:
    """Telethon serializes future_salt times from datetimes; the wire form is an int."""
    when = datetime.datetime.fromtimestamp(1_700_000_000, datetime.UTC)
    a = bytes(types.FutureSalt(valid_since=when, valid_until=when, salt=1))
    b = bytes(types.FutureSalt(valid_since=1_700_000_000, valid_until=1_700_000_000, salt=1))
    assert a == b
