"""The sans-I/O connection layer: ClientConnection against ServerConnection in
one process, on a fake clock.  Every transport, temporary keys and binding,
every close reason, every limit, every deadline, handshake work offloaded to a
thread, hooks, the key store, and any bytes fed to either side (the fuzz
contract: events, never an exception)."""

from __future__ import annotations

import os
import struct
import threading
from typing import Any

import pytest
from connection_pair import ECHO, T0, FakeClock, Pair, kinds, query
from hypothesis import given, settings
from hypothesis import strategies as st

from mtcrypt import tl
from mtcrypt.connection import (
    BufferBudget,
    ClientConnection,
    Closed,
    CloseReason,
    ConnectionEvent,
    ConnectionHooks,
    ConnectionLimits,
    HandshakeComplete,
    HandshakeFailed,
    HandshakeWorkNeeded,
    IncomingRequest,
    KeyBound,
    KeyStore,
    LimitExceeded,
    MemoryKeyStore,
    MessageRejected,
    PongReceived,
    Ready,
    ReconnectPolicy,
    RequestFailed,
    RequestTimedOut,
    RestartReason,
    ResultReceived,
    ServerConnection,
    StoredKey,
    Timeouts,
    unwrap_query,
)
from mtcrypt.errors import InvalidArgument, SessionError
from mtcrypt.handshake.rsa import RsaPrivateKey
from mtcrypt.mtproto import AuthKey, InnerMessage
from mtcrypt.mtproto.session import DropReason, Role, Session
from mtcrypt.testing import SeededRng
from mtcrypt.transport import ClientTransport

TRANSPORTS = [
    ("abridged", {}),
    ("intermediate", {}),
    ("padded_intermediate", {}),
    ("full", {}),
    ("abridged", {"obfuscated": True, "dc_id": 2}),
    ("intermediate", {"obfuscated": True, "dc_id": -2}),
    ("padded_intermediate", {"obfuscated": True, "dc_id": 10002}),
]


@pytest.mark.parametrize(("framing", "options"), TRANSPORTS)
def test_round_trips_on_every_transport(
    server_key: RsaPrivateKey, framing: str, options: dict[str, Any]
) -> None:
    pair = Pair(server_key, transport=ClientTransport(framing, **options))
    queries = [query(i) for i in range(40)]
    ids = [pair.client.send_request(q) for q in queries]  # queued before Ready
    ping = pair.client.send_ping()
    pair.pump()
    assert kinds(pair.server_events)[:2] == ["TransportReady", "HandshakeComplete"]
    (ready,) = pair.of(Ready)
    assert pair.client.auth_key is not None and ready.key_id == pair.client.auth_key.key_id
    results = {e.request_id: e.result for e in pair.of(ResultReceived)}
    assert [results[i] for i in ids] == queries
    assert [e.request_id for e in pair.of(PongReceived)] == [ping]
    assert pair.client.pending_requests == ()
    assert pair.server.pending_requests == 0
    assert pair.store.get(ready.key_id, T0) is not None
    info = pair.server.transport_info
    assert info is not None and info.framing.value == framing
    # A large query goes through too (and comes back gzip-packed or not).
    big = query(50_000)
    rid = pair.client.send_request(big)
    pair.pump()
    assert pair.of(ResultReceived)[-1] == ResultReceived(rid, big)


def test_temporary_key_is_created_bound_and_used(server_key: RsaPrivateKey) -> None:
    pair = Pair(server_key, temp_key_expires_in=3600)
    rid = pair.client.send_request(query(3))
    pair.pump()
    assert kinds(pair.client_events) == [
        "HandshakeComplete",
        "HandshakeComplete",
        "KeyBound",
        "Ready",
        "ResultReceived",
    ]
    perm, temp = pair.client.perm_key, pair.client.auth_key
    assert perm is not None and temp is not None and perm != temp
    (bound,) = pair.of(KeyBound, "server")
    assert (bound.temp_key_id, bound.perm_key_id) == (temp.key_id, perm.key_id)
    stored = pair.store.get(temp.key_id, T0)
    assert stored is not None and stored.temporary and stored.perm_key_id == perm.key_id
    assert stored.expires_at == pytest.approx(T0 + 3600, abs=1)
    assert pair.of(ResultReceived)[0].request_id == rid
    (request,) = pair.of(IncomingRequest, "server")
    assert request.temporary and request.perm_key_id == perm.key_id
    # The session runs under the temporary key.
    session = pair.client.session
    assert session is not None
    ((key_id, _),) = pair.server.sessions
    assert key_id == temp.key_id
    # Past its expiry the server no longer knows the temporary key.
    assert pair.store.get(temp.key_id, T0 + 3601) is None


def test_existing_key_temporary_key_and_unknown_permanent_key(server_key: RsaPrivateKey) -> None:
    # The permanent key is one the server has never seen: the bind is refused.
    stranger = AuthKey(os.urandom(256))
    pair = Pair(server_key, auth_key=stranger, temp_key_expires_in=600)
    pair.client.send_request(query(1))
    pair.pump()
    closed = pair.client.close_event
    assert closed is not None and closed.reason is CloseReason.BIND_FAILED
    assert "ENCRYPTED_MESSAGE_INVALID" in closed.detail
    assert not pair.of(KeyBound, "server")


def test_known_key_is_ready_at_once_and_unknown_key_gets_404(server_key: RsaPrivateKey) -> None:
    first = Pair(server_key)
    first.pump()
    key = first.client.auth_key
    assert key is not None
    salt = first.client.session.salt if first.client.session else 0
    again = Pair(server_key, store=first.store, auth_key=key, salt=salt)
    assert kinds(again.client_events) == ["Ready"]
    rid = again.client.send_request(query(2))
    again.pump()
    assert [e.request_id for e in again.of(ResultReceived)] == [rid]
    assert not again.of(HandshakeComplete, "server")

    unknown = Pair(server_key, auth_key=AuthKey(os.urandom(256)))
    unknown.client.send_request(query(1))
    unknown.pump()
    server_closed = unknown.server.close_event
    client_closed = unknown.client.close_event
    assert server_closed == Closed(CloseReason.UNKNOWN_KEY, "", -404)
    assert client_closed is not None
    assert client_closed.reason is CloseReason.TRANSPORT_ERROR_RECEIVED
    assert client_closed.error_code == -404


class FlipByte(ConnectionHooks):
    """Flip one byte of every encrypted packet after the first ``skip``."""

    def __init__(self, offset: int, skip: int = 0) -> None:
        self.offset = offset
        self.skip = skip

    def packet(self, packet: bytes) -> bytes | None:
        if packet[:8] == bytes(8):
            return packet
        if self.skip:
            self.skip -= 1
            return packet
        data = bytearray(packet)
        data[self.offset % len(data)] ^= 1
        return bytes(data)


@pytest.mark.parametrize("offset", [8, 20, 40, -1])
def test_packet_that_does_not_decrypt_closes_with_404(
    server_key: RsaPrivateKey, offset: int
) -> None:
    pair = Pair(server_key, hooks=FlipByte(offset))
    pair.client.send_request(query(1))
    pair.pump()
    assert pair.server.close_event == Closed(CloseReason.DECRYPTION_FAILED, "", -404)
    assert not pair.of(IncomingRequest, "server")


class BadNonce(ConnectionHooks):
    def plain_object(self, obj: tl.TLObject) -> tl.TLObject | None:
        if obj.name == "req_DH_params":
            return tl.make("req_DH_params", **{**obj.fields, "nonce": bytes(16)})
        return obj


def test_handshake_failure_closes_with_its_check(server_key: RsaPrivateKey) -> None:
    pair = Pair(server_key, hooks=BadNonce())
    pair.pump()
    assert pair.of(HandshakeFailed, "server") == [HandshakeFailed("nonce")]
    closed = pair.server.close_event
    assert closed == Closed(CloseReason.HANDSHAKE_FAILED, "nonce", -404)
    client_closed = pair.client.close_event
    assert client_closed is not None and client_closed.error_code == -404


def test_legacy_rsa_padding_can_be_refused(server_key: RsaPrivateKey) -> None:
    from mtcrypt.handshake import ClientHandshake
    from mtcrypt.transport import Frame

    for accept in (True, False):
        server = ServerConnection(server_key, accept_legacy_rsa=accept)
        transport = ClientTransport("intermediate")
        handshake = ClientHandshake(dc=2, public_keys=[server_key.public_key], rsa_scheme="legacy")
        events = server.receive_data(transport.data_to_send() + transport.send(handshake.start()))
        frames = [e for e in transport.receive(server.data_to_send()) if isinstance(e, Frame)]
        next_packet = handshake.receive(frames[0].payload)
        assert next_packet is not None
        events = server.receive_data(transport.send(next_packet))
        if accept:
            assert not server.closed
        else:
            assert HandshakeFailed("rsa_padding") in events


def test_rejected_message_leaves_the_connection_working(server_key: RsaPrivateKey) -> None:
    class Replay(ConnectionHooks):
        """Send each encrypted packet twice."""

        def packet(self, packet: bytes) -> bytes | None:
            self.last = packet
            return packet

    hooks = Replay()
    pair = Pair(server_key, hooks=hooks)
    first = pair.client.send_request(query(1))
    pair.pump()
    pair.server_events += pair.server.receive_data(pair.client.transport.send(hooks.last))
    pair.pump()
    rejected = pair.of(MessageRejected, "server")
    assert rejected and rejected[0].reason is DropReason.DUPLICATE
    second = pair.client.send_request(query(2))
    pair.pump()
    assert [e.request_id for e in pair.of(ResultReceived)] == [first, second]


# ---- deadlines ----------------------------------------------------------------------------


def test_handshake_deadline_closes_a_slowloris(server_key: RsaPrivateKey) -> None:
    clock = FakeClock()
    server = ServerConnection(server_key, clock=clock, timeouts=Timeouts(handshake=30, idle=60))
    assert server.next_deadline() == T0 + 30
    data = b"\xee\xee\xee\xee" + struct.pack("<I", 1000) + bytes(1000)
    events: list[ConnectionEvent] = []
    for i, byte in enumerate(data):
        clock.t = T0 + i * 0.5  # one byte every half second: never idle
        events += server.receive_data(bytes([byte]))
        deadline = server.next_deadline()
        if deadline is not None and deadline <= clock.t:
            events += server.on_timer()
        if server.closed:
            break
    assert events[-1] == Closed(CloseReason.HANDSHAKE_TIMEOUT, "30 s")
    assert clock.t == pytest.approx(T0 + 30, abs=0.5)


def test_idle_counts_frames_not_bytes(server_key: RsaPrivateKey) -> None:
    # An authenticated peer trickling a frame byte by byte is idle all the same.
    clock = FakeClock()
    pair = Pair(server_key, clock=clock, server_options={"timeouts": Timeouts(idle=20)})
    pair.pump()
    session = Session(pair.client.auth_key or AuthKey(bytes(256)), Role.CLIENT, clock=clock)
    session.send(query(100))
    (packet,) = session.data_to_send()
    data = pair.client.transport.send(packet)
    for i, byte in enumerate(data):
        clock.t = T0 + 1 + i
        pair.server.receive_data(bytes([byte]))
        if pair.server.on_timer():
            break
    assert pair.server.close_event == Closed(CloseReason.IDLE_TIMEOUT, "20 s")
    assert clock.t == pytest.approx(T0 + 20, abs=1)


def test_idle_deadline_and_no_handshake_deadline_once_authenticated(
    server_key: RsaPrivateKey,
) -> None:
    clock = FakeClock()
    pair = Pair(
        server_key,
        clock=clock,
        server_options={"timeouts": Timeouts(handshake=5, idle=100)},
        timeouts=Timeouts(keepalive=None, idle=None),
    )
    pair.pump()
    assert pair.server.authenticated
    assert pair.server.next_deadline() == pytest.approx(T0 + 100)
    clock.t = T0 + 50
    assert pair.server.on_timer() == []
    pair.client.send_request(query(1))
    pair.pump()
    assert pair.server.next_deadline() == pytest.approx(T0 + 150)
    clock.t = T0 + 150
    assert pair.server.on_timer() == [Closed(CloseReason.IDLE_TIMEOUT, "100 s")]
    assert pair.server.next_deadline() is None


def test_client_keepalive_request_timeout_and_resend(server_key: RsaPrivateKey) -> None:
    clock = FakeClock()
    pair = Pair(
        server_key,
        clock=clock,
        answer=False,
        timeouts=Timeouts(keepalive=60, request=40, resend=10, idle=None),
    )
    pair.pump()
    rid = pair.client.send_request(query(1))
    # The request reaches the server; its ack never comes back.
    pair.server_events += pair.server.receive_data(pair.client.data_to_send())
    pair.server.data_to_send()
    (request,) = pair.of(IncomingRequest, "server")
    assert pair.client.next_deadline() == pytest.approx(T0 + 10)  # the re-send
    clock.t = T0 + 10
    pair.client_events += pair.client.on_timer()
    pair.pump()
    resent = pair.of(IncomingRequest, "server")
    assert len(resent) == 2 and resent[1].query == request.query
    assert resent[1].msg_id != request.msg_id
    clock.t = T0 + 40
    pair.client_events += pair.client.on_timer()
    assert pair.of(RequestTimedOut) == [RequestTimedOut(rid)]
    assert pair.client.pending_requests == ()
    # Nothing sent for 60 s: a keep-alive ping goes out.
    before = pair.server.sessions
    assert before
    session = next(iter(before.values()))
    received = session.stats.messages_accepted
    clock.t = T0 + 71
    pair.client_events += pair.client.on_timer()
    pair.pump()
    assert session.stats.messages_accepted > received


# ---- limits ----------------------------------------------------------------------------------


def test_oversized_frame_is_refused_before_it_is_buffered(server_key: RsaPrivateKey) -> None:
    server = ServerConnection(server_key, limits=ConnectionLimits(max_frame=1 << 20))
    events = server.receive_data(b"\xee\xee\xee\xee" + struct.pack("<I", 16 << 20) + bytes(1000))
    assert isinstance(events[-1], Closed) and events[-1].reason is CloseReason.BAD_TRANSPORT
    assert server.buffered == 0


def test_max_buffered_bytes_per_connection(server_key: RsaPrivateKey) -> None:
    limits = ConnectionLimits(max_frame=1 << 20, max_buffered_bytes=64 << 10)
    server = ServerConnection(server_key, limits=limits)
    assert not server.receive_data(b"\xee\xee\xee\xee" + struct.pack("<I", 512 << 10))[1:]
    events = server.receive_data(bytes(60 << 10))
    assert not server.closed, events
    events = server.receive_data(bytes(8 << 10))
    assert events[0] == LimitExceeded("max_buffered_bytes", (68 << 10) + 4)
    assert events[-1] == Closed(CloseReason.LIMIT_EXCEEDED, "max_buffered_bytes")


def test_shared_budget_closes_the_connection_that_would_exceed_it(
    server_key: RsaPrivateKey,
) -> None:
    budget = BufferBudget(100 << 10)
    first = ServerConnection(server_key, budget=budget)
    second = ServerConnection(server_key, budget=budget)
    head = b"\xee\xee\xee\xee" + struct.pack("<I", 1 << 20)
    first.receive_data(head + bytes(60 << 10))
    events = second.receive_data(head + bytes(60 << 10))
    assert isinstance(events[-2], LimitExceeded) and events[-2].limit == "server_buffer_budget"
    assert second.closed and not first.closed
    assert budget.total == (60 << 10) + 4
    first.close()
    assert budget.total == 0


def test_max_handshakes_per_connection(server_key: RsaPrivateKey) -> None:
    from mtcrypt.handshake import ClientHandshake
    from mtcrypt.transport import Frame

    server = ServerConnection(server_key, limits=ConnectionLimits(max_handshakes=2))
    transport = ClientTransport("intermediate")
    server.receive_data(transport.data_to_send())
    completed = 0
    for _ in range(3):
        handshake = ClientHandshake(dc=2, public_keys=[server_key.public_key])
        packet: bytes | None = handshake.start()
        while packet is not None and not server.closed:
            events = server.receive_data(transport.send(packet))
            completed += sum(isinstance(e, HandshakeComplete) for e in events)
            frames = [e for e in transport.receive(server.data_to_send()) if isinstance(e, Frame)]
            packet = handshake.receive(frames[0].payload) if frames else None
    assert completed == 2
    assert events[:1] == [LimitExceeded("max_handshakes", 3)]


def test_max_sessions_and_max_pending_requests(server_key: RsaPrivateKey) -> None:
    key = AuthKey(os.urandom(256))
    store = MemoryKeyStore()
    store.add(StoredKey(key, salt=0, created_at=T0))
    limits = ConnectionLimits(max_sessions=2, max_pending_requests=3)

    def connect() -> tuple[ServerConnection, ClientTransport]:
        server = ServerConnection(server_key, keys=store, limits=limits)
        transport = ClientTransport("intermediate")
        server.receive_data(transport.data_to_send())
        return server, transport

    server, transport = connect()
    events: list[ConnectionEvent] = []
    for _ in range(3):
        session = Session(key, Role.CLIENT)
        session.send(query(1))
        (packet,) = session.data_to_send()
        events += server.receive_data(transport.send(packet))
    assert sum(isinstance(e, IncomingRequest) for e in events) == 2
    assert LimitExceeded("max_sessions", 3) in events

    server, transport = connect()
    session = Session(key, Role.CLIENT)
    events = []
    for _ in range(4):
        session.send(query(1))
        for packet in session.data_to_send():
            events += server.receive_data(transport.send(packet))
    assert sum(isinstance(e, IncomingRequest) for e in events) == 3
    assert LimitExceeded("max_pending_requests", 4) in events


def test_client_refuses_requests_beyond_its_limit(server_key: RsaPrivateKey) -> None:
    pair = Pair(server_key, limits=ConnectionLimits(max_pending_requests=2))
    pair.client.send_request(query(1))
    pair.client.send_ping()
    with pytest.raises(SessionError, match="max_pending_requests"):
        pair.client.send_request(query(1))
    pair.pump()
    pair.client.send_request(query(1))  # answered ones free their slots


def test_answering_rules(server_key: RsaPrivateKey) -> None:
    pair = Pair(server_key, answer=False)
    rid = pair.client.send_request(query(1))
    pair.pump()
    (request,) = pair.of(IncomingRequest, "server")
    pair.server.answer_error(request, 420, "FLOOD_WAIT_3")
    with pytest.raises(InvalidArgument):
        pair.server.answer(request, query(1))  # answered already
    pair.pump()
    assert pair.of(RequestFailed) == [RequestFailed(rid, 420, "FLOOD_WAIT_3")]
    pair.client.send_request(query(1))
    pair.pump()
    late = pair.of(IncomingRequest, "server")[-1]
    pair.server.close()
    pair.server.answer(late, query(1))  # after close: nothing, no error
    assert pair.server.data_to_send() == b""


# ---- handshake work off the loop -------------------------------------------------------------


def test_offloaded_handshake_matches_inline(server_key: RsaPrivateKey) -> None:
    transcripts = []
    for offload in (False, True):
        clock = FakeClock()
        pair = Pair(
            server_key,
            clock=clock,
            rng=SeededRng(1),
            server_options={"offload_handshakes": offload, "rng": SeededRng(2)},
        )
        wire: list[bytes] = []
        for _ in range(20):
            out = pair.client.data_to_send()
            if not out:
                break
            wire.append(out)
            events = pair.server.receive_data(out)
            while any(isinstance(e, HandshakeWorkNeeded) for e in events):
                (work,) = [e.work for e in events if isinstance(e, HandshakeWorkNeeded)]
                thread = threading.Thread(target=work.run)
                thread.start()
                thread.join()
                events = pair.server.work_done(work)
            back = pair.server.data_to_send()
            wire.append(back)
            pair.client_events += pair.client.receive_data(back)
        transcripts.append(b"".join(wire))
        assert pair.of(Ready)
    assert transcripts[0] == transcripts[1]


def test_frames_behind_handshake_work_wait_their_turn(server_key: RsaPrivateKey) -> None:
    from mtcrypt.handshake import ClientHandshake
    from mtcrypt.transport import Frame

    server = ServerConnection(server_key, offload_handshakes=True)
    transport = ClientTransport("intermediate")
    handshake = ClientHandshake(dc=2, public_keys=[server_key.public_key])
    events = server.receive_data(transport.data_to_send() + transport.send(handshake.start()))
    (first,) = [e.work for e in events if isinstance(e, HandshakeWorkNeeded)]
    assert first.priority == 2  # a new handshake waits behind started ones
    first.run()
    server.work_done(first)
    (res_pq,) = [e for e in transport.receive(server.data_to_send()) if isinstance(e, Frame)]
    req_dh = handshake.receive(res_pq.payload)
    assert req_dh is not None
    events = server.receive_data(transport.send(req_dh))
    (work,) = [e.work for e in events if isinstance(e, HandshakeWorkNeeded)]
    assert work.priority == 1
    stray = transport.send(os.urandom(8) + bytes(64))  # an encrypted packet, unknown key
    assert server.receive_data(stray) == []
    assert server.buffered == 72 + 64  # the frame, and what holding it costs
    with pytest.raises(InvalidArgument):
        server.work_done(work)  # not run yet
    work.run()
    events = server.work_done(work)
    assert events == [Closed(CloseReason.UNKNOWN_KEY, "", -404)]
    answer = server.data_to_send()
    frames = [e for e in transport.receive(answer) if isinstance(e, Frame)]
    assert handshake.receive(frames[0].payload) is not None  # server_DH_params_ok first
    assert answer.endswith(struct.pack("<Ii", 4, -404))


def test_work_of_a_closed_connection_is_skipped(server_key: RsaPrivateKey) -> None:
    from mtcrypt.handshake import ClientHandshake
    from mtcrypt.transport import Frame

    server = ServerConnection(server_key, offload_handshakes=True)
    transport = ClientTransport("intermediate")
    handshake = ClientHandshake(dc=2, public_keys=[server_key.public_key])
    events = server.receive_data(transport.data_to_send() + transport.send(handshake.start()))
    (first,) = [e.work for e in events if isinstance(e, HandshakeWorkNeeded)]
    first.run()
    server.work_done(first)
    (res_pq,) = [e for e in transport.receive(server.data_to_send()) if isinstance(e, Frame)]
    events = server.receive_data(transport.send(handshake.receive(res_pq.payload) or b""))
    (work,) = [e.work for e in events if isinstance(e, HandshakeWorkNeeded)]
    server.receive_data(b"")  # the client hung up
    work.run()
    assert work.cancelled and work.answer is None
    assert server.work_done(work) == []


def test_handshake_work_runs_in_another_process(server_key: RsaPrivateKey) -> None:
    import pickle

    from mtcrypt.connection import run_handshake_step

    pair = Pair(server_key, server_options={"offload_handshakes": True})
    for _ in range(10):
        out = pair.client.data_to_send()
        if not out:
            break
        events = pair.server.receive_data(out)
        for work in [e.work for e in events if isinstance(e, HandshakeWorkNeeded)]:
            assert work.portable
            # What a process pool does: the arguments and the outcome pickled.
            outcome = run_handshake_step(*pickle.loads(pickle.dumps(work.arguments())))
            work.adopt(pickle.loads(pickle.dumps(outcome)))
            pair.server.work_done(work)
        pair.client_events += pair.client.receive_data(pair.server.data_to_send())
    assert pair.of(Ready)
    key = pair.client.auth_key
    assert key is not None and pair.store.get(key.key_id, T0) is not None


# ---- hooks --------------------------------------------------------------------------------------


def test_message_hook_rewrites_what_is_sealed(server_key: RsaPrivateKey) -> None:
    class WrongSession(ConnectionHooks):
        def message(self, message: InnerMessage) -> InnerMessage | None:
            return InnerMessage(
                message.salt, message.session_id ^ 1, message.msg_id, message.seq_no, message.body
            )

    pair = Pair(server_key, server_options={"hooks": WrongSession()})
    pair.client.send_request(query(1))
    pair.pump()
    # Every server message now names another session: the client drops them all.
    assert not pair.of(ResultReceived)
    assert {e.reason for e in pair.of(MessageRejected)} == {DropReason.SESSION_MISMATCH}


# ---- key store ---------------------------------------------------------------------------------


def test_memory_key_store_caps_expiry_and_binding() -> None:
    store = MemoryKeyStore(max_keys=2, max_temporary_keys=1)
    assert isinstance(store, KeyStore)
    keys = [AuthKey(os.urandom(256)) for _ in range(4)]
    for key in keys[:3]:
        store.add(StoredKey(key, 0, created_at=T0))
    assert store.get(keys[0].key_id, T0) is None  # least recently used, evicted
    assert store.evicted == 1
    temp = StoredKey(keys[3], 5, created_at=T0, expires_at=T0 + 10)
    store.add(temp)
    store.bind(keys[3].key_id, keys[1].key_id)
    bound = store.get(keys[3].key_id, T0 + 5)
    assert bound is not None and bound.perm_key_id == keys[1].key_id
    assert "key" not in repr(bound).replace("key_id", "").replace("perm_key", "")
    assert store.get(keys[3].key_id, T0 + 10) is None
    assert len(store) == 2
    store.remove(keys[1].key_id)
    assert len(store) == 1 and store.expire(T0 + 100) == 0
    with pytest.raises(InvalidArgument):
        MemoryKeyStore(max_keys=0)


def test_unwrap_query() -> None:
    inner = struct.pack("<I", ECHO)
    init = tl.serialize(
        tl.make(
            "initConnection",
            api_id=6,
            device_model="d",
            system_version="s",
            app_version="a",
            system_lang_code="en",
            lang_pack="",
            lang_code="en",
            query=inner,
        )
    )
    wrapped = struct.pack("<Ii", 0xDA9B0D0D, 201) + struct.pack("<I", 0xBF9459B7) + init
    out = unwrap_query(wrapped)
    assert (out.query, out.layer, out.api_id) == (inner, 201, 6)
    assert unwrap_query(inner).query is inner
    broken = struct.pack("<I", 0xC1CD5EA9) + bytes(8)
    assert unwrap_query(broken).query == broken


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgument):
        ConnectionLimits(max_frame=0)
    with pytest.raises(InvalidArgument):
        Timeouts(idle=-1)
    with pytest.raises(InvalidArgument):
        ClientConnection("not a transport")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        BufferBudget(0)


# ---- the fuzz contract ----------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(chunks=st.lists(st.binary(max_size=300), max_size=6))
def test_any_bytes_into_a_server_connection(server_key: RsaPrivateKey, chunks: list[bytes]) -> None:
    server = ServerConnection(server_key)
    for chunk in chunks:
        events = server.receive_data(chunk)
        assert all(isinstance(e, ConnectionEvent) for e in events)
        server.data_to_send()
    server.on_timer(server.opened_at + 10**6)
    assert server.closed


@settings(max_examples=150, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=300), max_size=6),
    framing=st.sampled_from(["abridged", "intermediate", "full"]),
)
def test_any_bytes_into_a_client_connection(
    server_key: RsaPrivateKey, chunks: list[bytes], framing: str
) -> None:
    client = ClientConnection(ClientTransport(framing), public_keys=[server_key.public_key])
    client.start()
    for chunk in chunks:
        for event in client.receive_data(chunk):
            assert isinstance(event, ConnectionEvent)
    client.on_timer(client.opened_at + 10**6)
    assert client.closed


# ---- found in review --------------------------------------------------------------------------


def test_a_request_replayed_on_a_new_connection_is_refused(server_key: RsaPrivateKey) -> None:
    from mtcrypt.connection import SeenRequests

    clock = FakeClock()
    seen = SeenRequests()
    pair = Pair(server_key, clock=clock, server_options={"seen": seen})
    pair.pump()
    pair.client.send_request(query(4))
    captured = pair.client.data_to_send()  # what someone on the path records
    assert [type(e) for e in pair.server.receive_data(captured)] == [IncomingRequest]
    clock.t += 100
    replayed = ServerConnection(server_key, keys=pair.store, seen=seen, clock=clock)
    events = replayed.receive_data(b"\xee\xee\xee\xee" + captured)
    assert not [e for e in events if isinstance(e, IncomingRequest)]
    assert [e.reason for e in events if isinstance(e, MessageRejected)] == [DropReason.DUPLICATE]
    # Past the time window the session itself refuses it (too old): the entry may go.
    clock.t += 400
    assert seen.first_time(1, 2, 3, clock.t) and len(seen) == 1


def test_the_budget_is_given_back_after_handshake_work(server_key: RsaPrivateKey) -> None:
    from mtcrypt.handshake import ClientHandshake

    budget = BufferBudget(1 << 20)
    server = ServerConnection(server_key, budget=budget, offload_handshakes=True)
    transport = ClientTransport("intermediate")
    start = ClientHandshake(dc=2, public_keys=[server_key.public_key]).start()
    events = server.receive_data(transport.data_to_send() + transport.send(start))
    (work,) = [e.work for e in events if isinstance(e, HandshakeWorkNeeded)]
    server.receive_data(transport.send(start))  # a retransmission, held behind the work
    assert budget.total > 0
    work.run()
    server.work_done(work)  # answers both (the same resPQ twice)
    assert server.buffered == 0 and budget.total == 0


def test_ack_deadline_is_cleared_by_on_timer(server_key: RsaPrivateKey) -> None:
    clock = FakeClock()
    pair = Pair(
        server_key,
        clock=clock,
        answer=False,
        server_options={"session_options": {"ack_delay": 0.3}},
        timeouts=Timeouts(keepalive=None, idle=None),
    )
    pair.pump()
    for _ in range(2):  # the second is unanswered, and the server owes an ack for it
        pair.client.send_request(query(1))
        pair.pump()
    deadline = pair.server.next_deadline()
    assert deadline is not None and deadline < clock.t + 1
    clock.t = deadline
    pair.server.on_timer(deadline)
    assert pair.server.data_to_send()  # the ack went out
    later = pair.server.next_deadline()
    assert later is None or later > deadline


def test_a_new_binding_replaces_the_previous_one() -> None:
    store = MemoryKeyStore()
    perm = AuthKey(os.urandom(256))
    temps = [AuthKey(os.urandom(256)) for _ in range(3)]
    store.add(StoredKey(perm, 0, created_at=T0))
    for temp in temps:
        store.add(StoredKey(temp, 0, created_at=T0, expires_at=T0 + 100))
        store.bind(temp.key_id, perm.key_id)
    bound = [store.get(t.key_id, T0) for t in temps]
    assert [b.perm_key_id if b else None for b in bound] == [None, None, perm.key_id]


def test_server_sessions_keep_a_bounded_number_of_replies(server_key: RsaPrivateKey) -> None:
    pair = Pair(server_key, timeouts=Timeouts(idle=None, keepalive=None))
    pair.pump()
    session = pair.client.session
    assert session is not None
    for _ in range(12):
        for _ in range(1024):
            session.send_ping()
        pair.client._dirty = True
        pair.server.receive_data(pair.client.data_to_send())
        pair.server.data_to_send()  # the pongs; the client never reads them
    (server_session,) = pair.server.sessions.values()
    assert len(server_session._sent) <= 2 * 4096


def test_a_refused_container_fails_each_request_in_it(server_key: RsaPrivateKey) -> None:
    from mtcrypt.mtproto import decrypt_message

    pair = Pair(server_key, answer=False)
    pair.pump()
    ids = [pair.client.send_request(query(1)) for _ in range(2)]
    wire = pair.client.data_to_send()
    key = pair.client.auth_key
    assert key is not None
    from mtcrypt.transport import IntermediateCodec

    (frame,) = IntermediateCodec("server").feed(wire)
    packet = frame.payload  # type: ignore[union-attr]
    container = InnerMessage.parse(decrypt_message(key, packet, from_server=False))
    pair.server.receive_data(wire)
    notice = tl.serialize(
        tl.make(
            "bad_msg_notification",
            bad_msg_id=container.msg_id,
            bad_msg_seqno=container.seq_no,
            error_code=18,
        )
    )
    pair.server.send_update(key.key_id, container.session_id, notice)
    pair.pump()
    failed = pair.of(RequestFailed)
    assert [e.request_id for e in failed] == ids
    assert {e.error_code for e in failed} == {18}
    assert pair.client.pending_requests == ()


# ---- starting again after -404 (digest §4.2, §5.2) ----------------------------------------


def _refused(conn: ClientConnection, code: int = -404) -> list[ConnectionEvent]:
    """The server's transport error ``code``, framed as intermediate."""
    return conn.receive_data(struct.pack("<Ii", 4, code))


def test_a_refused_handshake_query_calls_for_a_restart_with_a_new_nonce(
    server_key: RsaPrivateKey,
) -> None:
    conn = ClientConnection(ClientTransport("intermediate"), public_keys=[server_key.public_key])
    conn.start()
    first = conn.data_to_send()
    with pytest.raises(SessionError):
        conn.restarted(ClientTransport("intermediate"))  # nothing calls for it yet
    (closed,) = _refused(conn)
    assert isinstance(closed, Closed) and closed.error_code == -404
    assert conn.restart is RestartReason.HANDSHAKE_REFUSED
    again = conn.restarted(ClientTransport("intermediate"))
    again.start()
    second = again.data_to_send()
    # req_pq_multi: tag, length, auth_key_id 0, msg_id, length, constructor, nonce
    assert first[-16:] != second[-16:] and len(first) == len(second)
    # -444 (another DC) is not a reason to start again, nor is -404 under a permanent key
    other = ClientConnection(ClientTransport("intermediate"), public_keys=[server_key.public_key])
    other.start()
    _refused(other, -444)
    assert other.restart is None
    # Refused while making the temporary key: the permanent one is kept.
    perm = AuthKey(os.urandom(256))
    pfs = ClientConnection(
        ClientTransport("intermediate"),
        public_keys=[server_key.public_key],
        auth_key=perm,
        temp_key_expires_in=600,
    )
    pfs.start()
    _refused(pfs)
    assert pfs.restart is RestartReason.HANDSHAKE_REFUSED
    again = pfs.restarted(ClientTransport("intermediate"))
    assert again.perm_key is perm and again.auth_key is None and not again.ready


def test_a_lost_temporary_key_calls_for_a_new_bound_one(server_key: RsaPrivateKey) -> None:
    pair = Pair(server_key, temp_key_expires_in=3600)
    pair.pump()
    perm, temp = pair.client.perm_key, pair.client.auth_key
    assert perm is not None and temp is not None and pair.client.ready
    pair.store.remove(temp.key_id)  # a server may drop a temporary key at any time
    pair.client.send_request(query())
    pair.pump()
    (closed,) = pair.of(Closed)
    assert closed.reason is CloseReason.TRANSPORT_ERROR_RECEIVED and closed.error_code == -404
    assert pair.client.restart is RestartReason.TEMP_KEY_LOST
    again = Pair(server_key, store=pair.store, clock=pair.clock, auth_key=perm)
    # the connection that starts again: what restarted() builds, on the same store
    again.client = pair.client.restarted(ClientTransport("intermediate"))
    again.client_events = again.client.start()
    request = again.client.send_request(query(1))
    again.pump()
    assert kinds(again.client_events)[:2] == ["HandshakeComplete", "KeyBound"]
    assert again.client.perm_key is perm and again.client.auth_key != temp
    assert [e.request_id for e in again.of(ResultReceived)] == [request]
    # Under the permanent key (no PFS), -404 is the application's business.
    plain = Pair(server_key, auth_key=perm)
    plain.pump()
    plain.store.remove(perm.key_id)
    plain.client.send_request(query())
    plain.pump()
    assert plain.of(Closed) and plain.client.restart is None


def test_reconnect_policy_is_data() -> None:
    policy = ReconnectPolicy(max_attempts=3, backoff=0.5, backoff_factor=2.0, max_backoff=1.5)
    assert [policy.delay_before(n, 0.0) for n in (1, 2, 3, 4)] == [0.5, 1.0, 1.5, None]
    assert ReconnectPolicy(deadline=1.0).delay_before(1, 0.8) is None  # past the deadline
    assert ReconnectPolicy(max_attempts=0).delay_before(1, 0.0) is None
    for bad in (
        {"max_attempts": -1},
        {"max_attempts": True},
        {"backoff": -1.0},
        {"backoff": float("nan")},
        {"backoff_factor": 0.5},
        {"deadline": "soon"},
    ):
        with pytest.raises(InvalidArgument):
            ReconnectPolicy(**bad)
    with pytest.raises(InvalidArgument):
        policy.delay_before(0, 0.0)
