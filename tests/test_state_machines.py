"""Every (state, input) pair of the handshake and transport state machines.

Each machine's transitions are one table, as ``mtcrypt.e2e.rekey.TRANSITIONS``:
``CLIENT_TRANSITIONS`` / ``SERVER_TRANSITIONS`` (:mod:`mtcrypt.handshake`) and
``CLIENT_TRANSPORT_TRANSITIONS`` / ``SERVER_TRANSPORT_TRANSITIONS``
(:mod:`mtcrypt.transport`). The walks build real machines, drive them to each
state through a real peer, and feed the bytes that produce each input where
that input is awaited (a valid next message, a retry, a refusal, a failing
check). What a pair outside the table does is stated per machine below; the
last tests also call each machine's one transition method directly with every
pair of its enums, as the rekey test does.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from typing import Any

import pytest
from test_handshake_support import SeededRng

from mtcrypt import tl
from mtcrypt.errors import HandshakeError, SessionError, TransportError
from mtcrypt.handshake import (
    CLIENT_TRANSITIONS,
    SERVER_TRANSITIONS,
    ClientHandshake,
    ClientInput,
    ClientState,
    ServerHandshake,
    ServerInput,
    ServerState,
)
from mtcrypt.mtproto import pack_plain, unpack_plain
from mtcrypt.transport import (
    CLIENT_TRANSPORT_TRANSITIONS,
    SERVER_TRANSPORT_TRANSITIONS,
    ClientTransport,
    Frame,
    ProxySecret,
    ServerTransport,
    TransportDetected,
    TransportInput,
    TransportState,
)

NOW = 1_700_000_000.0
SEED, OTHER = "walk", "other"  # the machines walked; the peer whose packets are out of place


def _retry(key: object, attempt: int) -> str:
    return "retry"


def _fail(key: object, attempt: int) -> str:
    return "fail"


def _pair_id(member: Any) -> str:
    return str(member.name)


# ---- handshakes: driving a client and a server -----------------------------------------


@dataclass
class Run:
    """A deterministic client/server pair (the twins ``start_with``/``receive_with``)."""

    client: ClientHandshake
    server: ServerHandshake
    crng: SeededRng
    srng: SeededRng
    pending: bytes | None = None  # the client's request the server has not answered yet

    def answer(self) -> bytes:
        assert self.pending is not None
        return self.server.receive_with(self.pending, self.srng, NOW)

    def step(self) -> None:
        self.pending = self.client.receive_with(self.answer(), self.crng, NOW)


def new_run(
    key: Any,
    seed: str,
    client_kwargs: dict[str, Any] | None = None,
    server_kwargs: dict[str, Any] | None = None,
) -> Run:
    client = ClientHandshake(dc=2, public_keys=[key.public_key], **(client_kwargs or {}))
    server = ServerHandshake(key, **(server_kwargs or {}))
    return Run(client, server, SeededRng(("client", seed)), SeededRng(("server", seed)))


def flip_nonce(packet: bytes) -> bytes:
    """The same server message with its ``nonce`` (the first field) changed."""
    msg_id, body = unpack_plain(packet)
    return pack_plain(msg_id, body[:4] + bytes([body[4] ^ 1]) + body[5:])


def bad_parity(packet: bytes) -> bytes:
    """The same client message under an odd (server's) message id."""
    msg_id, body = unpack_plain(packet)
    return pack_plain(msg_id + 1, body)


# ---- the client handshake ----------------------------------------------------------------

_CLIENT_PATH = [
    ClientState.NEW,
    ClientState.WAIT_RES_PQ,
    ClientState.WAIT_DH_PARAMS,
    ClientState.WAIT_DH_GEN,
    ClientState.DONE,
]
# Where each message input is awaited (CHECK_FAILED: everywhere; its out-of-place
# packet is taken at wait_res_pq).
_CLIENT_AWAITED = {
    ClientInput.RES_PQ: ClientState.WAIT_RES_PQ,
    ClientInput.DH_PARAMS_OK: ClientState.WAIT_DH_PARAMS,
    ClientInput.DH_PARAMS_FAIL: ClientState.WAIT_DH_PARAMS,
    ClientInput.DH_GEN_OK: ClientState.WAIT_DH_GEN,
    ClientInput.DH_GEN_RETRY: ClientState.WAIT_DH_GEN,
    ClientInput.TOO_MANY_RETRIES: ClientState.WAIT_DH_GEN,
    ClientInput.DH_GEN_FAIL: ClientState.WAIT_DH_GEN,
    ClientInput.CHECK_FAILED: ClientState.WAIT_RES_PQ,
}
# (client kwargs, server kwargs) under which the server's answer is that input.
_CLIENT_CONFIG: dict[ClientInput, tuple[dict[str, Any], dict[str, Any]]] = {
    ClientInput.DH_PARAMS_FAIL: ({}, {"fail_dh_params": True}),
    ClientInput.DH_GEN_RETRY: ({}, {"decide": _retry}),
    ClientInput.TOO_MANY_RETRIES: ({"max_retries": 0}, {"decide": _retry}),
    ClientInput.DH_GEN_FAIL: ({}, {"decide": _fail}),
}
# The HandshakeError check of each input that fails the client.
_CLIENT_FAIL_CHECK = {
    ClientInput.DH_PARAMS_FAIL: "server_DH_params_fail",
    ClientInput.TOO_MANY_RETRIES: "dh_gen_retry",
    ClientInput.DH_GEN_FAIL: "dh_gen_fail",
    ClientInput.CHECK_FAILED: "nonce",
}
_CLIENT_IDLE = (ClientState.NEW, ClientState.DONE, ClientState.FAILED)  # awaiting no message


def client_at(key: Any, state: ClientState, seed: str, event: ClientInput | None = None) -> Run:
    """A client in ``state``, its server configured so that its next answer is ``event``."""
    ck, sk = _CLIENT_CONFIG.get(event, ({}, {})) if event is not None else ({}, {})
    run = new_run(key, seed, ck, sk)
    if state is ClientState.NEW:
        return run
    run.pending = run.client.start_with(run.crng, NOW)
    if state is ClientState.FAILED:
        with pytest.raises(HandshakeError):
            run.client.receive_with(b"not a message", run.crng, NOW)
    else:
        for _ in range(_CLIENT_PATH.index(state) - 1):
            run.step()
    assert run.client.state is state
    return run


def client_packet(run: Run, event: ClientInput) -> bytes:
    """The server's answer to the pending request, as ``event``."""
    answer = run.answer()
    return flip_nonce(answer) if event is ClientInput.CHECK_FAILED else answer


@pytest.fixture(scope="module")
def client_packets(server_key: Any) -> dict[ClientInput, bytes]:
    """Each message input's packet from another session, for the states that do not await it."""
    return {
        event: client_packet(client_at(server_key, state, OTHER, event), event)
        for event, state in _CLIENT_AWAITED.items()
    }


@pytest.mark.parametrize(("state", "event"), list(product(ClientState, ClientInput)), ids=_pair_id)
def test_client_handshake_walk(
    server_key: Any,
    client_packets: dict[ClientInput, bytes],
    state: ClientState,
    event: ClientInput,
) -> None:
    """``ClientHandshake``: a pair in ``CLIENT_TRANSITIONS`` leads to the listed
    state (``DH_PARAMS_FAIL``, ``TOO_MANY_RETRIES``, ``DH_GEN_FAIL`` and
    ``CHECK_FAILED`` raise ``HandshakeError`` on the way to ``failed``).

    A pair not in it:

    * ``start()`` outside ``new``, and ``receive()`` in ``new``, ``done`` or
      ``failed``: ``SessionError("<method>() called in state <state>")``,
      the state unchanged;
    * in a ``wait_*`` state, a message other than the one awaited fails a check
      (it is ``CHECK_FAILED`` there): ``HandshakeError``, state ``failed``.
    """
    nxt = CLIENT_TRANSITIONS.get((state, event))
    run = client_at(server_key, state, SEED, event if nxt is not None else None)
    client = run.client

    def act() -> bytes | None:
        if event is ClientInput.START:
            return client.start_with(run.crng, NOW)
        packet = client_packet(run, event) if nxt is not None else client_packets[event]
        return client.receive_with(packet, run.crng, NOW)

    if nxt is None and (event is ClientInput.START or state in _CLIENT_IDLE):
        method = "start" if event is ClientInput.START else "receive"
        with pytest.raises(SessionError, match=rf"^{method}\(\) called in state {state}$"):
            act()
        assert client.state is state
    elif nxt is None:
        with pytest.raises(HandshakeError):
            act()
        assert client.state is ClientState.FAILED
    elif nxt is ClientState.FAILED:
        with pytest.raises(HandshakeError) as err:
            act()
        assert err.value.check == _CLIENT_FAIL_CHECK[event]
        assert client.state is ClientState.FAILED
    else:
        out = act()
        assert client.state is nxt
        assert (out is None) is (nxt is ClientState.DONE)
        if nxt is ClientState.DONE:
            assert client.done and client.result.auth_key == run.server.result.auth_key


# ---- the server handshake ----------------------------------------------------------------

_SERVER_PATH = [
    ServerState.WAIT_REQ_PQ,
    ServerState.WAIT_REQ_DH_PARAMS,
    ServerState.WAIT_CLIENT_DH,
    ServerState.DONE,
]
_SERVER_AWAITED = {
    ServerInput.REQ_PQ: ServerState.WAIT_REQ_PQ,
    ServerInput.REQ_DH_PARAMS: ServerState.WAIT_REQ_DH_PARAMS,
    ServerInput.REQ_DH_PARAMS_REFUSED: ServerState.WAIT_REQ_DH_PARAMS,
    ServerInput.CLIENT_DH_OK: ServerState.WAIT_CLIENT_DH,
    ServerInput.CLIENT_DH_RETRY: ServerState.WAIT_CLIENT_DH,
    ServerInput.CLIENT_DH_FAIL: ServerState.WAIT_CLIENT_DH,
    ServerInput.CHECK_FAILED: ServerState.WAIT_REQ_PQ,
}
_SERVER_CONFIG: dict[ServerInput, dict[str, Any]] = {
    ServerInput.REQ_DH_PARAMS_REFUSED: {"fail_dh_params": True},
    ServerInput.CLIENT_DH_RETRY: {"decide": _retry},
    ServerInput.CLIENT_DH_FAIL: {"decide": _fail},
}
# What the server answers to each input that moves it (the answer's constructor).
_SERVER_ANSWER = {
    ServerInput.REQ_PQ: "resPQ",
    ServerInput.REQ_DH_PARAMS: "server_DH_params_ok",
    ServerInput.REQ_DH_PARAMS_REFUSED: "server_DH_params_fail",
    ServerInput.CLIENT_DH_OK: "dh_gen_ok",
    ServerInput.CLIENT_DH_RETRY: "dh_gen_retry",
    ServerInput.CLIENT_DH_FAIL: "dh_gen_fail",
}


def server_at(key: Any, state: ServerState, seed: str, event: ServerInput | None = None) -> Run:
    """A server in ``state``, configured so that the pending request is ``event``."""
    sk = _SERVER_CONFIG.get(event, {}) if event is not None else {}
    run = new_run(key, seed, None, sk)
    run.pending = run.client.start_with(run.crng, NOW)
    if state is ServerState.FAILED:
        with pytest.raises(HandshakeError):
            run.server.receive_with(b"not a message", run.srng, NOW)
    else:
        for _ in range(_SERVER_PATH.index(state)):
            run.step()
    assert run.server.state is state
    return run


def server_packet(run: Run, event: ServerInput) -> bytes:
    assert run.pending is not None
    return bad_parity(run.pending) if event is ServerInput.CHECK_FAILED else run.pending


@pytest.fixture(scope="module")
def server_packets(server_key: Any) -> dict[ServerInput, bytes]:
    """Each input's packet from another client (so never a retransmission)."""
    return {
        event: server_packet(server_at(server_key, state, OTHER, event), event)
        for event, state in _SERVER_AWAITED.items()
    }


def _constructor(packet: bytes) -> str:
    return tl.deserialize(unpack_plain(packet)[1]).name


@pytest.mark.parametrize(("state", "event"), list(product(ServerState, ServerInput)), ids=_pair_id)
def test_server_handshake_walk(
    server_key: Any,
    server_packets: dict[ServerInput, bytes],
    state: ServerState,
    event: ServerInput,
) -> None:
    """``ServerHandshake``: a pair in ``SERVER_TRANSITIONS`` leads to the listed
    state with its answer (``REQ_DH_PARAMS_REFUSED`` and ``CLIENT_DH_FAIL``
    answer and end ``failed``; ``CHECK_FAILED`` raises ``HandshakeError`` and
    ends ``failed``).

    A pair not in it (a retransmission is no input: see the next test):

    * ``failed``: ``SessionError("receive() called in state failed")``, the
      state unchanged;
    * ``done``: ``HandshakeError`` (``unexpected_message``, "receive() called in
      state done"; a malformed packet fails its own check first), the state
      unchanged: junk after completion does not undo the key;
    * a ``wait_*`` state: a message other than the one awaited fails a check
      (it is ``CHECK_FAILED`` there): ``HandshakeError``, state ``failed``.
    """
    nxt = SERVER_TRANSITIONS.get((state, event))
    run = server_at(server_key, state, SEED, event if nxt is not None else None)
    server = run.server
    packet = server_packet(run, event) if nxt is not None else server_packets[event]

    def act() -> bytes:
        return server.receive_with(packet, run.srng, NOW)

    if nxt is None and state is ServerState.FAILED:
        with pytest.raises(SessionError, match=r"^receive\(\) called in state failed$"):
            act()
        assert server.state is state
    elif nxt is None and state is ServerState.DONE:
        with pytest.raises(HandshakeError) as err:
            act()
        if event is not ServerInput.CHECK_FAILED:
            assert err.value.check == "unexpected_message"
            assert err.value.detail == "receive() called in state done"
        assert server.state is ServerState.DONE and server.result.auth_key is not None
    elif nxt is None or event is ServerInput.CHECK_FAILED:
        with pytest.raises(HandshakeError):
            act()
        assert server.state is ServerState.FAILED
    else:
        assert _constructor(act()) == _SERVER_ANSWER[event]
        assert server.state is nxt


def test_retransmissions_are_no_input(server_key: Any) -> None:
    """A request byte-identical to the last one gets the same answer again
    from a copy, whatever the state (done included): the state does not move."""
    run = new_run(server_key, "rexmit")
    run.pending = run.client.start_with(run.crng, NOW)
    while run.pending is not None:
        request = run.pending
        answer = run.answer()
        state = run.server.state
        assert run.server.receive_with(request, run.srng, NOW) == answer
        assert run.server.state is state
        run.pending = run.client.receive_with(answer, run.crng, NOW)
    assert run.server.state is ServerState.DONE


# ---- transports -------------------------------------------------------------------------

PROXY_KEY = bytes(range(16))
EE = ProxySecret.parse(b"\xee" + PROXY_KEY + b"cdn.example.net")
DD = ProxySecret.parse(b"\xdd" + PROXY_KEY)
PAYLOAD = b"\x11" * 8 + bytes(range(32))  # an encrypted-message-shaped payload
ALERT = b"\x15\x03\x03\x00\x02\x02\x28"  # a TLS alert record: never valid in the stream


def tampered(answer: bytes) -> bytes:
    out = bytearray(answer)
    out[20] ^= 1
    return bytes(out)


@dataclass
class FakeTls:
    """A fake-TLS client and a proxy, and the bytes of their exchange."""

    client: ClientTransport
    server: ServerTransport
    hello: bytes  # the ClientHello (the client's frame is held)
    answer: bytes = b""  # the proxy's ServerHello
    records: bytes = b""  # the client's first records: the obfuscated2 header and frame

    @classmethod
    def start(cls) -> FakeTls:
        client = ClientTransport(secret=EE, dc_id=2)
        return cls(client, ServerTransport(secrets=[EE]), client.send(PAYLOAD))

    def hello_accepted(self) -> None:
        assert self.server.receive(self.hello) == []
        self.answer = self.server.data_to_send()

    def answer_verified(self) -> None:
        assert self.client.receive(self.answer) == []
        self.records = self.client.data_to_send()

    def header_received(self) -> None:
        events = self.server.receive(self.records)
        assert isinstance(events[0], TransportDetected) and events[1:] == [Frame(PAYLOAD)]


_CLIENT_TRANSPORT_STATES = (
    TransportState.AWAITING_SERVER_HELLO,
    TransportState.ESTABLISHED,
    TransportState.FAILED,
)
_CLIENT_TRANSPORT_INPUTS = (TransportInput.SERVER_HELLO_OK, TransportInput.ERROR)


@pytest.mark.parametrize(
    ("state", "event"),
    list(product(_CLIENT_TRANSPORT_STATES, _CLIENT_TRANSPORT_INPUTS)),
    ids=_pair_id,
)
def test_client_transport_walk(state: TransportState, event: TransportInput) -> None:
    """``ClientTransport`` (fake-TLS, the only client with more than one live
    state; the others start ``ESTABLISHED``): a pair in
    ``CLIENT_TRANSPORT_TRANSITIONS`` leads to the listed state (``ERROR``
    raising ``TransportError``).

    A pair not in it: in ``failed``, ``receive()`` is refused with
    ``SessionError("receive() called in state failed")`` (and ``send()``
    with ``SessionError("send() called in state failed")``), the state
    unchanged. An established client reads only application-data records, so
    the ServerHello's bytes there are an ``ERROR``: state ``failed``.
    ``established`` stays what it was: ``False`` after failing while waiting.
    """
    tls = FakeTls.start()
    tls.hello_accepted()
    client = tls.client
    if state is TransportState.ESTABLISHED:
        tls.answer_verified()
    elif state is TransportState.FAILED:
        with pytest.raises(TransportError, match="not authentic"):
            client.receive(tampered(tls.answer))
    assert client.state is state
    waiting = state is TransportState.AWAITING_SERVER_HELLO
    data = {
        TransportInput.SERVER_HELLO_OK: tls.answer,
        TransportInput.ERROR: tampered(tls.answer) if waiting else ALERT,
    }[event]
    nxt = CLIENT_TRANSPORT_TRANSITIONS.get((state, event))

    if state is TransportState.FAILED:
        assert nxt is None
        with pytest.raises(SessionError, match=r"^receive\(\) called in state failed$"):
            client.receive(data)
        with pytest.raises(SessionError, match=r"^send\(\) called in state failed$"):
            client.send(PAYLOAD)
        assert client.state is state and not client.established
    elif nxt is TransportState.ESTABLISHED:
        assert client.receive(data) == []
        assert client.state is nxt and client.established
        assert client.data_to_send()  # the held frame, now in records
    else:  # ERROR, in the table or not
        with pytest.raises(TransportError):
            client.receive(data)
        assert client.state is TransportState.FAILED
        assert client.established is (state is TransportState.ESTABLISHED)


_SERVER_TRANSPORT_STATES = (
    TransportState.DETECTING,
    TransportState.AWAITING_HEADER,
    TransportState.ESTABLISHED,
    TransportState.FAILED,
)
_SERVER_TRANSPORT_INPUTS = (
    TransportInput.DETECTED,
    TransportInput.CLIENT_HELLO_OK,
    TransportInput.ERROR,
)


@pytest.mark.parametrize(
    ("state", "event"),
    list(product(_SERVER_TRANSPORT_STATES, _SERVER_TRANSPORT_INPUTS)),
    ids=_pair_id,
)
def test_server_transport_walk(state: TransportState, event: TransportInput) -> None:
    """``ServerTransport`` (an MTProxy with an ``ee`` secret, so that every state
    is reachable): a pair in ``SERVER_TRANSPORT_TRANSITIONS`` leads to the
    listed state (``ERROR`` raising ``TransportError``). ``DETECTED`` is an
    obfuscated2 header when detecting, the client's first records after its
    ClientHello.

    A pair not in it: in ``failed``, ``receive()`` is refused with
    ``SessionError("receive() called in state failed")``, the state
    unchanged. After a ClientHello the bytes are TLS records of one stream: a
    second ClientHello, or a second change_cipher_spec with the header, is an
    ``ERROR`` there: state ``failed``.
    """
    tls = FakeTls.start()
    server = tls.server
    if state is TransportState.FAILED:
        with pytest.raises(TransportError, match="unobfuscated"):
            server.receive(b"\xef")
    if state in (TransportState.AWAITING_HEADER, TransportState.ESTABLISHED):
        tls.hello_accepted()
        tls.answer_verified()
    if state is TransportState.ESTABLISHED:
        tls.header_received()
    assert server.state is state
    detecting = state in (TransportState.DETECTING, TransportState.FAILED)
    data = {
        TransportInput.DETECTED: (
            ClientTransport(secret=DD, dc_id=2).send(PAYLOAD) if detecting else tls.records
        ),
        TransportInput.CLIENT_HELLO_OK: tls.hello,
        TransportInput.ERROR: b"\xef" if detecting else ALERT,
    }[event]
    nxt = SERVER_TRANSPORT_TRANSITIONS.get((state, event))

    if state is TransportState.FAILED:
        assert nxt is None
        with pytest.raises(SessionError, match=r"^receive\(\) called in state failed$"):
            server.receive(data)
        assert server.state is state
    elif nxt is TransportState.ESTABLISHED:
        events = server.receive(data)
        assert isinstance(events[0], TransportDetected) and events[1:] == [Frame(PAYLOAD)]
        assert server.state is nxt
        assert server.send(PAYLOAD)
    elif nxt is TransportState.AWAITING_HEADER:
        assert server.receive(data) == []
        assert server.state is nxt and server.data_to_send()  # the ServerHello
    else:  # ERROR, in the table or not
        with pytest.raises(TransportError):
            server.receive(data)
        assert server.state is TransportState.FAILED
    if server.state is not TransportState.ESTABLISHED:
        with pytest.raises(SessionError, match=rf"^send\(\) called in state {server.state.value}$"):
            server.send(PAYLOAD)
        with pytest.raises(SessionError, match=r"^send_quick_ack\(\) called in state"):
            server.send_quick_ack(1)


# ---- the tables themselves ---------------------------------------------------------------


def _handshake_error(state: Any, event: Any) -> tuple[type[Exception], str]:
    if isinstance(state, ClientState):
        method = "start" if event is ClientInput.START else "receive"
        return SessionError, f"{method}() called in state {state.value}"
    kind = HandshakeError if state is ServerState.DONE else SessionError
    return kind, f"receive() called in state {state.value}"


def _transport_error(state: Any, event: Any) -> tuple[type[Exception], str]:
    return TransportError, f"receive() called in state {state.value}"


@dataclass(frozen=True)
class Machine:
    name: str
    make: Callable[[Any], Any]
    states: type[Any]
    inputs: type[Any]
    table: Any
    error: Callable[[Any, Any], tuple[type[Exception], str]]


MACHINES = [
    Machine(
        "client_handshake",
        lambda key: ClientHandshake(dc=2, public_keys=[key.public_key]),
        ClientState,
        ClientInput,
        CLIENT_TRANSITIONS,
        _handshake_error,
    ),
    Machine(
        "server_handshake",
        lambda key: ServerHandshake(key),
        ServerState,
        ServerInput,
        SERVER_TRANSITIONS,
        _handshake_error,
    ),
    Machine(
        "client_transport",
        lambda key: ClientTransport(),
        TransportState,
        TransportInput,
        CLIENT_TRANSPORT_TRANSITIONS,
        _transport_error,
    ),
    Machine(
        "server_transport",
        lambda key: ServerTransport(),
        TransportState,
        TransportInput,
        SERVER_TRANSPORT_TRANSITIONS,
        _transport_error,
    ),
]


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_only_the_table_moves_a_machine(server_key: Any, machine: Machine) -> None:
    """Every pair of the state and input enums through the machine's one
    transition method: a pair in the table moves to the listed state, any
    other is refused with the machine's wrong-state error, the state unchanged."""
    for state, event in product(machine.states, machine.inputs):
        obj = machine.make(server_key)
        obj._state = state
        nxt = machine.table.get((state, event))
        if nxt is not None:
            obj._advance(event)
            assert obj.state is nxt
        else:
            kind, message = machine.error(state, event)
            with pytest.raises(kind) as err:
                obj._advance(event)
            assert message in str(err.value)
            assert obj.state is state
    # The table names only the machine's own enums.
    for (state, event), nxt in machine.table.items():
        assert isinstance(state, machine.states) and isinstance(event, machine.inputs)
        assert isinstance(nxt, machine.states)


def test_tables_are_read_only() -> None:
    for table in (
        CLIENT_TRANSITIONS,
        SERVER_TRANSITIONS,
        CLIENT_TRANSPORT_TRANSITIONS,
        SERVER_TRANSPORT_TRANSITIONS,
    ):
        with pytest.raises(TypeError):
            table[next(iter(table))] = next(iter(table.values()))  # type: ignore[index]


def test_handshake_states_are_the_old_strings(server_key: Any) -> None:
    """The handshake states stay equal to the strings they were (callers compare
    ``hs.state == "done"``, ``str(state)`` keys a priority table), reprs and
    pickles (the worker processes) keep working."""
    assert [str(s) for s in ClientState] == [
        "new",
        "wait_res_pq",
        "wait_dh_params",
        "wait_dh_gen",
        "done",
        "failed",
    ]
    assert [str(s) for s in ServerState] == [
        "wait_req_pq",
        "wait_req_dh_params",
        "wait_client_dh",
        "done",
        "failed",
    ]
    client = ClientHandshake(dc=2, public_keys=[server_key.public_key])
    server = ServerHandshake(server_key)
    assert client.state == "new" and server.state == "wait_req_pq"
    assert repr(client) == "ClientHandshake(state='new', dc=2)"
    assert repr(server) == "ServerHandshake(state='wait_req_pq')"
    copy = pickle.loads(pickle.dumps(server))
    assert copy.state is ServerState.WAIT_REQ_PQ
