"""The session's fast receive path (``Session._process_fast``) against its general path.

The fast path takes the common packet (one opaque content message, or a client's
plain ``rpc_result``) with every check inline; anything else falls through to the
general path.  Here the same packet sequences go through a session with the fast
path and a twin without it: events, exceptions, counters and state must agree
after every packet.  The sequences mix valid packets with replays, reordering,
bad salts, bad seq_no, foreign sessions, containers, service messages, gzip,
results for unknown or answered queries, time-window violations and tampering.
"""

from __future__ import annotations

import copy
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_session import (
    CONTAINER,
    KEY,
    SALT,
    SESSION,
    Clock,
    client_id,
    container,
    forge,
    gzipped,
    make_client,
    make_server,
    pong,
    rpc_result,
    ser,
    server_id,
    snapshot,
)

from mtcrypt.errors import DecryptionFailed
from mtcrypt.mtproto import InnerMessage, decrypt_message
from mtcrypt.mtproto.session import (
    DropReason,
    Event,
    MessageDropped,
    Request,
    RpcResult,
    Session,
    Update,
)

T = 1_700_000_000.25
OPAQUE = 0x0BADF00D


def _state(session: Session) -> dict[str, Any]:
    state = snapshot(session)
    del state["_fast_receive"]
    state["stats"] = copy.deepcopy(session.stats)
    return state


def _receive(session: Session, packet: bytes) -> list[Event] | str:
    try:
        return session.receive(packet)
    except DecryptionFailed:
        return "DecryptionFailed"


def _twins(role: str) -> tuple[Session, Session, Clock]:
    """A session that has seen some traffic (requests awaiting results, one answered,
    ids in its window, pending acks), and its twin without the fast path."""
    clock = Clock(T)
    if role == "client":
        session = make_client(clock)
        for body in (b"\x01\x00\x00\x00", b"\x02\x00\x00\x00", b"\x03\x00\x00\x00"):
            session.send(body)
        session.send_ping(5)
        session.data_to_send()
    else:
        session = make_server(clock)
        session.receive(forge(struct.pack("<I", OPAQUE), client_id(T - 2), from_server=False))
        session.send(b"\x05\x00\x00\x00")
        session.data_to_send()
    twin = copy.deepcopy(session)
    twin._fast_receive = False
    return session, twin, clock


# One step of a sequence: a packet (built against the session's current state) or the
# clock moving.  Ids are relative to the clock, so both in-window and stale ones occur.
_deltas = st.one_of(st.floats(-2, 2), st.sampled_from([-301.0, -299.0, 29.0, 31.0]))
_seq = st.one_of(st.sampled_from([1, 3, 5, 0, 2]), st.integers(-(2**31), 2**31 - 1))
_salts = st.sampled_from([SALT] * 6 + [SALT + 1])
_sessions = st.sampled_from([SESSION] * 8 + [SESSION + 1])
_kinds = st.sampled_from([
    "opaque", "opaque", "opaque", "result", "result", "result_unknown", "result_gzip",
    "result_error", "result_container", "result_short", "pong", "ack", "container",
    "gzip", "empty", "ping", "replay", "tamper", "time",
])


@st.composite
def _steps(draw: st.DrawFn, role: str) -> list[tuple[str, Any]]:
    steps = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(_kinds)
        steps.append((kind, (draw(_deltas), draw(_seq), draw(_salts), draw(_sessions),
                             draw(st.integers(0, 3)), draw(st.integers(0, 40)))))
    return steps


def _build(session: Session, kind: str, params: Any, history: list[bytes],
           clock: Clock) -> bytes | None:
    delta, seq_no, salt, session_id, low, size = params
    client = session.role == "client"
    now = clock.t
    msg_id = server_id(now + delta, 3 if low & 1 else 1) if client else client_id(now + delta)
    if low == 2:  # a wrong parity now and then
        msg_id ^= 2 if client else 1
    body = struct.pack("<I", OPAQUE + size) + bytes(4 * size)
    awaiting = sorted(session.awaiting) or [client_id(now - 5)]
    req = awaiting[size % len(awaiting)]
    if kind == "result":
        body = rpc_result(req, body)
    elif kind == "result_unknown":
        body = rpc_result(client_id(now - 7), body)
    elif kind == "result_gzip":
        body = rpc_result(req, gzipped(body))
    elif kind == "result_error":
        body = rpc_result(req, ser("rpc_error", error_code=400, error_message="BAD"))
    elif kind == "result_container":
        body = rpc_result(req, container((msg_id - 8, 1, body)))
    elif kind == "result_short":
        body = struct.pack("<Iq", 0xF35C6D01, req)
    elif kind == "pong":
        body = pong(req, 5)
    elif kind == "ack":
        body = ser("msgs_ack", msg_ids=awaiting[:2])
    elif kind == "container":
        body = container((msg_id - 8, 1, body), (msg_id - 4, 0, ser("msgs_ack", msg_ids=[1])))
    elif kind == "gzip":
        body = gzipped(body)
    elif kind == "empty":
        body = b""
    elif kind == "ping":
        body = ser("ping", ping_id=size)
    elif kind == "replay":
        return history[size % len(history)] if history else None
    elif kind == "time":
        clock.t += delta * 20
        return None
    packet = forge(body, msg_id, seq_no=seq_no, salt=salt, session_id=session_id,
                   from_server=client)
    if kind == "tamper":
        tampered = bytearray(packet)
        tampered[size % len(tampered)] ^= 1 << (low + 1)
        return bytes(tampered)
    return packet


@pytest.mark.parametrize("role", ["client", "server"])
@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_fast_path_equals_general_path(role: str, data: st.DataObject) -> None:
    session, twin, clock = _twins(role)
    twin_clock = Clock(clock.t)
    twin._clock = twin_clock
    history: list[bytes] = []
    for kind, params in data.draw(_steps(role)):
        packet = _build(session, kind, params, history, clock)
        twin_clock.t = clock.t
        if packet is None:
            continue
        history.append(packet)
        assert _receive(session, packet) == _receive(twin, packet), kind
        assert _state(session) == _state(twin), kind
        if params[4] == 3:  # now and then both send (acks, new queries) and compare again
            if role == "client":
                session.send(b"\x04\x00\x00\x00")
                twin.send(b"\x04\x00\x00\x00")
            sent = len(session.data_to_send(flush_acks=True))
            assert sent == len(twin.data_to_send(flush_acks=True))
            assert _state(session) == _state(twin), kind


def test_fast_path_takes_the_common_packets() -> None:
    """The packets the fast path exists for do take it (so the comparison above
    compares something), for both roles."""
    clock = Clock(T)
    client = make_client(clock)
    req = client.send(b"\x01\x00\x00\x00")
    client.data_to_send()
    up = forge(struct.pack("<I", OPAQUE), server_id(T, 3))
    result = forge(rpc_result(req, struct.pack("<I", OPAQUE)), server_id(T + 0.1, 1))
    for packet, cls in ((up, Update), (result, RpcResult)):
        opened = decrypt_message(KEY, packet, from_server=True)
        events = client._process_fast(opened)
        assert events is not None and [type(e) for e in events] == [cls]
    assert client.pending_acks == (server_id(T, 3), server_id(T + 0.1, 1))
    assert not client.awaiting
    assert client.stats.messages_accepted == 2
    # A replay falls through, to be reported by the general path.
    server = make_server(clock)
    server.receive(forge(struct.pack("<I", OPAQUE), client_id(T - 1), from_server=False))
    plain_request = forge(struct.pack("<I", OPAQUE), client_id(T), from_server=False)
    opened = decrypt_message(KEY, plain_request, from_server=False)
    events = server._process_fast(opened)
    assert events is not None and [type(e) for e in events] == [Request]
    assert events[0] == Request(client_id(T), struct.pack("<I", OPAQUE))
    assert server._process_fast(opened) is None  # a duplicate: the general path's to report


def test_container_is_never_taken_by_the_fast_path() -> None:
    clock = Clock(T)
    client = make_client(clock)
    packet = container((server_id(T - 1, 3), 1, struct.pack("<I", OPAQUE)))
    plain = decrypt_message(KEY, forge(packet, server_id(T), seq_no=0), from_server=True)
    assert struct.unpack_from("<I", plain, 32)[0] == CONTAINER
    assert client._process_fast(plain) is None


def test_receive_plaintext_of_an_empty_body_takes_the_general_path() -> None:
    """A header with no body (only receive_plaintext can be handed one) is the general
    path's to refuse: the fast path reads the constructor id."""
    client = make_client(Clock(T))
    plain = InnerMessage(SALT, SESSION, server_id(T, 3), 1, b"").pack()
    (drop,) = client.receive_plaintext(plain)
    assert isinstance(drop, MessageDropped) and drop.reason is DropReason.MALFORMED
