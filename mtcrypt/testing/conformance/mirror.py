"""Mirror mode: a client that plays server-role scenarios against a server under test.

It is the real client: a :class:`~mtcrypt.connection.ClientConnection` (the
:class:`~mtcrypt.transport.ClientTransport`, the
:class:`~mtcrypt.handshake.ClientHandshake`, a
:class:`~mtcrypt.mtproto.Session`), pumped by a small asyncio protocol.  It
connects to any MTProto server whose RSA public key it is given (for example
mtcrypt's own :class:`~mtcrypt.testing.ReferenceServer`); only the
misbehaviour is its own:

* **handshake scenarios** (:class:`ClientHandshakePlan`): the connection's
  ``handshake_factory`` makes a ``ClientHandshake`` that rewrites what the
  plan names in its requests (fields of ``req_DH_params``, the
  ``p_q_inner_data`` inside RSA, the encrypted ``client_DH_inner_data``, its
  SHA1, ``g_b``) and notes the server's answers.  The server accepted if it
  answered the mutated step normally (``server_DH_params_ok``, ``dh_gen_ok``);
* **message scenarios** (:class:`RequestPlan`), over the encrypted session:
  ping ``1`` (``send_ping()``) and its pong; the plan's mutated request
  carrying ping ``2``, numbered by the session (:class:`ClientContext`),
  sealed and framed by the plan and sent with ``send_packet``/``send_raw``;
  then ping ``3``.  It waits until pong ``3`` arrives, the server closes the
  connection or sends a transport error, or the time is up.  The ``received``
  hook shows every message the server sends, so pong ``2`` is seen even when
  the session could not match it to a request (the mutation changed its
  msg_id): the server *accepted* the mutated request if pong ``2`` came back;
* **transport scenarios** send a bad frame or an oversized length and watch
  whether the server goes on; the fake-TLS ones damage the ClientHello's HMAC
  in the ``wire`` hook and watch for a ServerHello.

The built-in mutation kinds testing a server are registered here (their
names start with ``srv_``).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from ... import tl
from ..._random import random_bytes
from ..._validation import Rng
from ...connection import (
    ClientConnection,
    Closed,
    CloseReason,
    ConnectionEvent,
    ConnectionHooks,
    HandshakeFailed,
    PongReceived,
    Ready,
    Timeouts,
)
from ...errors import InvalidArgument, MtcryptError
from ...handshake import ClientHandshake, int_to_be
from ...handshake.rsa import RsaPublicKey, rsa_pad_encrypt
from ...mtproto import (
    HEADER_SIZE,
    InnerMessage,
    Role,
    encrypt_message,
    pack_plain,
    unpack_plain,
)
from ...transport import ClientTransport
from .. import mutators
from . import numbering
from ._shared import (
    Pump,
    Raw,
    SessionContext,
    container_attack,
    contents,
    exponent_for_zero_led_key,
    first_draw,
    forged,
    length_attack,
    nonce_mutator,
    plain_object,
    power_below,
    read_prefix,
)
from .numbering import Sent, sent_messages
from .runner import (
    TEMP_KEY_EXPIRES_IN,
    Observed,
    Report,
    ScenarioResult,
    _scenario_result,
    uniformity,
)
from .scenarios import Scenario, _registrar

__all__ = [
    "BindPlan",
    "ClientContext",
    "ClientHandshakePlan",
    "ExpiredKeyPlan",
    "FakeTlsRequestPlan",
    "RawHeaderPlan",
    "RequestPlan",
    "ResendRequestPlan",
    "ServerEndpoint",
    "run_server_suite",
    "run_server_suite_sync",
]


@dataclass(frozen=True)
class ServerEndpoint:
    """The server under test: where it listens and the RSA key it holds.
    ``secret`` (an ``ee`` MTProxy secret) enables the fake-TLS scenarios."""

    host: str
    port: int
    public_key: RsaPublicKey
    dc_id: int = 2
    secret: str | None = None


# ---- plans ----------------------------------------------------------------------------


@dataclass
class ClientHandshakePlan:
    """How the mirror client misplays the handshake; ``step`` is the message
    the mutation is in (the server accepted if it answers it normally)."""

    step: Literal["none", "req_DH_params", "set_client_DH_params"] = "none"
    req_dh: Callable[[tl.TLObject], tl.TLObject] | None = None
    pq_inner: Callable[[tl.TLObject], tl.TLObject] | None = None
    client_inner: Callable[[tl.TLObject], tl.TLObject] | None = None
    digest: Callable[[bytes], bytes] | None = None
    g_b: int | None = None
    g_b_below: int | None = None
    """Choose our exponent so that g_b is below ``2^g_b_below`` (a legal value
    a normal run meets rarely, forced); the handshake stays honest."""
    g_b_padded: bool = False
    """With ``g_b_below``: send g_b in 256 bytes (a leading zero byte)."""
    rsa_scheme: Literal["rsa_pad", "legacy"] = "rsa_pad"
    misalign: bool = False
    """set_client_DH_params whose encrypted_data is 4 bytes over whole blocks."""
    key_leading_zero: bool = False
    """Choose our exponent so that the key starts with a zero byte (the
    handshake stays honest: the server must keep the key at 256 bytes)."""
    want_error: int | None = None
    """Judge by the transport error the server answers the mutated step with
    (accepted: it sent this code) instead of by whether it answered."""
    rsa_block: Literal["garbage", "above_n"] | None = None
    """req_DH_params whose encrypted_data is an RSA block of random bytes (its
    SHA-256 binding cannot hold), or a value not below the modulus."""

    @property
    def rewrites_client_inner(self) -> bool:
        return (
            bool(self.client_inner or self.digest or self.misalign)
            or self.g_b is not None
            or self.g_b_padded
        )


class RequestPlan:
    """The mutated request carrying ping ``ping_id``; ``observe`` is
    ``answer`` (was it answered?), ``closed`` (did the server hang up?), or
    how the server numbered every message it sent in the session
    (:mod:`~mtcrypt.testing.conformance.numbering`): ``msg_ids`` (each above
    the one before, 1 mod 4 for a response, 3 mod 4 otherwise) or ``seq_no``;
    or ``code`` (did a bad_msg_notification with :attr:`code` come back?)."""

    observe: Literal["answer", "closed", "msg_ids", "seq_no", "code"] = "answer"
    code: int | None = None
    """``observe="code"``: the bad_msg_notification code the server must send."""

    def build(self, ctx: ClientContext, ping_id: int) -> list[bytes | Raw]:
        return [ctx.seal(ctx.ping(ping_id))]


@dataclass
class FakeTlsRequestPlan:
    """Open an ``ee``-secret connection whose ClientHello HMAC is wrong
    (``bad_hmac``) or right; the server accepted if it sends a ServerHello."""

    bad_hmac: bool


@dataclass
class BindPlan:
    """Create a temporary key and bind it with ``auth.bindTempAuthKey`` whose
    ``field`` (outside the encrypted part) disagrees with the encrypted
    binding: ``nonce``, ``perm_auth_key_id``, ``expires_at``, or
    ``encrypted_message`` with a bit flipped.  The server accepted if the
    binding succeeded."""

    field: Literal[
        "nonce", "perm_auth_key_id", "expires_at", "encrypted_message", "unbound_query"
    ]
    """``unbound_query``: instead of the binding, an API query (updates.getState)
    under the unbound temporary key, which the server must refuse."""


@dataclass
class ExpiredKeyPlan:
    """Work under a temporary key bound for ``lifetime`` seconds; after
    ``wait`` seconds, ping under it: the server must refuse the expired key
    (transport error -404)."""

    lifetime: int = 1
    wait: float = 1.6


@dataclass
class ResendRequestPlan:
    """Hold our acknowledgments, ping, and ask for the pong again with
    msg_resend_req: a copy must come under a new msg_id (a server that sends
    none is not judged)."""


@dataclass
class RawHeaderPlan:
    """Open a connection with an obfuscated2 header the server must not take:
    ``tag`` is its protocol tag, ``secret`` the MTProxy secret it is keyed
    with (one the server does not hold); then a req_pq_multi.  The server
    accepted if it sends anything back."""

    tag: bytes
    secret: bytes | None = None


# ---- the handshake -----------------------------------------------------------------------


class _MirrorHandshake(ClientHandshake):
    """The real client handshake, with the plan's changes to its requests.

    ``new_nonce`` is the first draw on ``resPQ`` (the order ``ClientHandshake``
    documents), so the encrypted parts can be opened and sealed again.
    """

    def __init__(self, *, plan: ClientHandshakePlan, answers: list[str], **options: Any) -> None:
        super().__init__(**options)
        self.__plan = plan
        self.__answers = answers
        self.__keys: Sequence[RsaPublicKey] = list(options["public_keys"])
        self.__dc: int | None = options["dc"]
        self.__new_nonce = b""

    def receive_with(self, packet: bytes, rng: Rng, now: float) -> bytes | None:
        answer = plain_object(packet)
        self.__answers.append(answer.name if answer is not None else "not a handshake message")
        state = self.state
        draws: list[bytes] = []

        def recording(n: int) -> bytes:
            draws.append(rng(n))
            return draws[-1]

        draw: Rng = recording
        forced = self.__plan.g_b_below is not None or self.__plan.key_leading_zero
        if state == "wait_dh_params" and forced and answer is not None:
            draw = self.__forced_b(answer, recording)
        out = super().receive_with(packet, draw, now)
        if out is None:
            return None
        msg_id, body = unpack_plain(out)
        request = tl.deserialize(body)
        if state == "wait_res_pq":
            assert answer is not None
            self.__new_nonce = draws[0]
            request = self.__req_dh_params(request, answer.pq, rng)
        elif self.__plan.rewrites_client_inner:
            request = self.__set_client_dh_params(request, rng)
        return pack_plain(msg_id, tl.serialize(request))

    def __forced_b(self, answer: tl.TLObject, rng: Rng) -> Rng:
        """An rng whose first 256-byte draw (our exponent b) makes g_b small."""
        plan = self.__plan
        _, plain = mutators.open_answer(
            answer.encrypted_answer, answer.server_nonce, self.__new_nonce
        )
        found = read_prefix(plain)
        if found is None:
            return rng
        inner = found[0]
        g, p = int(inner.g), int.from_bytes(inner.dh_prime, "big")
        if plan.key_leading_zero:
            g_a = int.from_bytes(inner.g_a, "big")
            b = exponent_for_zero_led_key(g, g_a, p, rng).to_bytes(256, "big")
        else:
            assert plan.g_b_below is not None
            b = power_below(g, p, plan.g_b_below, rng)[0].to_bytes(256, "big")
        return first_draw(b, rng)

    def __req_dh_params(self, request: tl.TLObject, pq: bytes, rng: Rng) -> tl.TLObject:
        plan = self.__plan
        if plan.pq_inner is not None:  # a new p_q_inner_data (same new_nonce), in RSA_PAD
            fields: dict[str, Any] = {"pq": pq, "new_nonce": self.__new_nonce}
            for name in ("p", "q", "nonce", "server_nonce"):
                fields[name] = request[name]
            if self.__dc is not None:
                fields["dc"] = self.__dc
            name = "p_q_inner_data_dc" if "dc" in fields else "p_q_inner_data"
            inner = plan.pq_inner(tl.make(name, **fields))
            key = next(k for k in self.__keys if k.fingerprint == request.public_key_fingerprint)
            encrypted = rsa_pad_encrypt(tl.serialize(inner), key, rng=rng)
            request = mutators.tl_replace(request, encrypted_data=encrypted)
        if plan.rsa_block is not None:
            key = next(k for k in self.__keys if k.fingerprint == request.public_key_fingerprint)
            if plan.rsa_block == "above_n":
                block = (key.n + 1).to_bytes(256, "big")
            else:
                value = int.from_bytes(rng(256), "big") % key.n
                block = key.encrypt_int(value).to_bytes(256, "big")
            request = mutators.tl_replace(request, encrypted_data=block)
        return request if plan.req_dh is None else plan.req_dh(request)

    def __set_client_dh_params(self, request: tl.TLObject, rng: Rng) -> tl.TLObject:
        plan = self.__plan
        server_nonce: bytes = request.server_nonce
        _, plain = mutators.open_answer(request.encrypted_data, server_nonce, self.__new_nonce)
        found = read_prefix(plain)
        assert found is not None  # our own client_DH_inner_data
        inner = found[0]
        if plan.g_b is not None:
            inner = mutators.tl_replace(inner, g_b=int_to_be(plan.g_b))
        if plan.g_b_padded:
            inner = mutators.tl_replace(inner, g_b=bytes(inner.g_b).rjust(256, b"\0"))
        if plan.client_inner:
            inner = plan.client_inner(inner)
        data = tl.serialize(inner)
        digest = plan.digest(data) if plan.digest else None
        sealed = mutators.seal_answer(data, server_nonce, self.__new_nonce, digest=digest, rng=rng)
        if plan.misalign:
            sealed += rng(4)
        return mutators.tl_replace(request, encrypted_data=sealed)


# ---- the session ----------------------------------------------------------------------------


class ClientContext(SessionContext):
    """What a :class:`RequestPlan` works with: the mirror client's own session
    (a :class:`SessionContext`), and pings in it (:meth:`ping`)."""

    @property
    def time_offset(self) -> float:
        return self.session.time_offset

    def next_msg_id(self) -> int:
        """A fresh msg_id from the session."""
        return self.numbered(content_related=False).msg_id

    def message(self, body: bytes, *, content_related: bool = True, **fields: Any) -> InnerMessage:
        """A message from the client in its session, numbered by the session;
        ``fields`` override any field (``msg_id``, ``seq_no``, ``salt`` ...)."""
        message = replace(self.numbered(content_related=content_related), body=body, **fields)
        self.sent.append(message.msg_id)
        return message

    def ping(self, ping_id: int, **fields: Any) -> InnerMessage:
        return self.message(tl.serialize(tl.make("ping", ping_id=ping_id)), **fields)


# ---- one connection ------------------------------------------------------------------------

_BIND = tl.default_schema()["auth.bindTempAuthKey"].id.to_bytes(4, "little")
_MSGS_ACK = tl.default_schema()["msgs_ack"].id.to_bytes(4, "little")
_UPDATES_GET_STATE = (0xEDD4882A).to_bytes(4, "little")  # the API schema is not bundled


def _bad_binding(body: bytes, field: str) -> bytes:
    """An auth.bindTempAuthKey whose ``field`` disagrees with its encrypted part."""
    if field == "unbound_query":
        return _UPDATES_GET_STATE
    bind = tl.deserialize(body)
    value: Any = bind[field]
    if field == "encrypted_message":
        changed: object = mutators.flip_bit(bytes(value), 8 * 40)  # inside the v1 ciphertext
    else:
        changed = int(value) ^ 1
    return tl.serialize(mutators.tl_replace(bind, **{field: changed}))


class _Hooks(ConnectionHooks):
    def __init__(self, link: _Link, bad_hello: bool, bind_field: str | None = None) -> None:
        self._link = link
        self._bad_hello = bad_hello
        self._bind_field = bind_field

    def message(self, message: InnerMessage) -> InnerMessage | None:
        if self._link.hold_acks and message.body[:4] == _MSGS_ACK:
            return None  # so that the server keeps what it sent, as unacknowledged
        self._link.sent.append(message.msg_id)
        if self._bind_field is not None and message.body[:4] == _BIND:
            message = replace(message, body=_bad_binding(message.body, self._bind_field))
        return message

    def received(self, key_id: int, message: InnerMessage) -> None:
        link = self._link
        link.server_sent.extend(sent_messages(message, time.time()))
        for msg_id, body in contents(message):
            if isinstance(body, tl.TLObject) and body.name == "rpc_result":
                result = body.result
                if not (isinstance(result, tl.TLObject) and result.name in ("pong", "rpc_error")):
                    link.notes.append("rpc_result")
                body = result
            if not isinstance(body, tl.TLObject):
                continue
            if body.name == "pong":
                link.pongs.add(body.ping_id)
                link.pong_msg_ids.setdefault(body.ping_id, []).append(msg_id)
            elif body.name == "bad_msg_notification":
                link.notes.append(f"bad_msg_notification {body.error_code}")
            elif body.name == "bad_server_salt":
                link.notes.append("bad_server_salt")
            elif body.name == "rpc_error":
                link.notes.append(f"rpc_error {body.error_code} {body.error_message.decode()}")

    def received_plain(self, packet: bytes) -> None:
        answer = plain_object(packet)
        if answer is not None and answer.name == "rpc_result":
            answer = answer.result if isinstance(answer.result, tl.TLObject) else None
        if answer is not None and answer.name == "pong":
            self._link.pongs.add(answer.ping_id)
            self._link.notes.append("answered unencrypted")

    def wire(self, data: bytes) -> bytes:
        if self._bad_hello:  # the first bytes of an ee connection: its ClientHello
            self._bad_hello = False
            return mutators.bad_hello_hmac(data)
        return data


class _Link(Pump):
    """One connection to the server under test: a :class:`ClientConnection`, pumped."""

    def __init__(
        self,
        endpoint: ServerEndpoint,
        transport: ClientTransport,
        plan: ClientHandshakePlan,
        *,
        bad_hello: bool,
        rng: Rng,
        temp_key: bool = False,
        bind_field: str | None = None,
        temp_key_lifetime: int = TEMP_KEY_EXPIRES_IN,
    ) -> None:
        super().__init__(time.time)
        self.rng = rng
        self.answers: list[str] = []
        """The server's handshake answers, by name."""
        self.conn: ClientConnection = ClientConnection(
            transport,
            public_keys=[endpoint.public_key],
            dc_id=endpoint.dc_id,
            timeouts=Timeouts(handshake=None, idle=None, keepalive=None),
            session_options={"max_container_messages": 1},
            hooks=_Hooks(self, bad_hello, bind_field),
            temp_key_expires_in=temp_key_lifetime if temp_key else None,
            handshake_factory=lambda **options: _MirrorHandshake(
                plan=plan, answers=self.answers, **{**options, "rsa_scheme": plan.rsa_scheme}
            ),
            rng=rng,
        )
        self.ready = False
        self.closed = False
        self.first_bytes = b""
        self.answered: set[int] = set()  # request ids of our own pings
        self.pongs: set[int] = set()  # ping_ids of every pong the server sent
        self.notes: list[str] = []
        self.server_sent: list[Sent] = []
        """Every message the server sent (a container's messages, then the container)."""
        self.pong_msg_ids: dict[int, list[int]] = {}  # ping_id -> msg_ids of its pongs
        self.hold_acks = False
        self._changed = asyncio.Event()

    @classmethod
    async def open(
        cls,
        endpoint: ServerEndpoint,
        transport: ClientTransport,
        plan: ClientHandshakePlan | None = None,
        *,
        bad_hello: bool = False,
        rng: Rng = random_bytes,
        temp_key: bool = False,
        bind_field: str | None = None,
        temp_key_lifetime: int = TEMP_KEY_EXPIRES_IN,
    ) -> _Link:
        link = cls(
            endpoint,
            transport,
            plan or ClientHandshakePlan(),
            bad_hello=bad_hello,
            rng=rng,
            temp_key=temp_key,
            bind_field=bind_field,
            temp_key_lifetime=temp_key_lifetime,
        )
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(
            loop.create_connection(lambda: link, endpoint.host, endpoint.port), 5
        )
        link.process(link.conn.start())
        return link

    def data_received(self, data: bytes) -> None:
        if len(self.first_bytes) < 16:
            self.first_bytes += data[: 16 - len(self.first_bytes)]
        super().data_received(data)

    def process(self, events: list[ConnectionEvent]) -> None:
        for event in events:
            if isinstance(event, PongReceived):
                self.answered.add(event.request_id)
            elif isinstance(event, Ready):
                self.ready = True
            elif isinstance(event, HandshakeFailed):
                self.notes.append(f"handshake check failed: {event.check}")
            elif isinstance(event, Closed):
                self.closed = True
                if event.reason is CloseReason.TRANSPORT_ERROR_RECEIVED:
                    self.notes.append(f"transport error {event.error_code}")
                elif event.reason is CloseReason.DECRYPTION_FAILED:
                    self.notes.append("undecryptable answer")
                elif event.reason is CloseReason.BAD_TRANSPORT:
                    self.notes.append(f"bad transport: {event.detail}")
        self.flush()
        self._changed.set()

    def ping(self) -> int | None:
        """An honest ping through the connection (None once it is closed)."""
        if self.conn.closed:
            return None
        request_id = self.conn.send_ping()
        self.flush()
        return request_id

    def context(self) -> ClientContext:
        conn = self.conn
        assert conn.session is not None and conn.auth_key is not None
        return ClientContext(self, conn.auth_key, conn.session, conn.transport, self.rng)

    async def until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``condition()`` holds, the connection closes, or ``timeout`` s pass."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition() and not self.closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return condition()

    def close(self) -> None:
        if not self.conn.closed:
            self.process(self.conn.close())
        if self.socket is not None:
            self.socket.close()


# ---- playing one scenario --------------------------------------------------------------------


def _note(link: _Link, default: str) -> str:
    return " ".join(link.notes) or ("closed" if link.closed else default)


async def _play_handshake(
    plan: ClientHandshakePlan, link: _Link, timeout: float
) -> tuple[Observed, str]:
    if plan.step == "none":
        if await link.until(lambda: link.ready, 3 * timeout):
            key = link.conn.auth_key
            if plan.key_leading_zero and (key is None or key.key[0] != 0):
                return "error", "the forced key does not start with a zero byte"
            return "accepted", link.answers[-1]
        return "rejected", _note(link, "no answer")
    # The server's answers: resPQ, then to req_DH_params, then to set_client_DH_params.
    index, normal = {
        "req_DH_params": (1, "server_DH_params_ok"),
        "set_client_DH_params": (2, "dh_gen_ok"),
    }[plan.step]
    if plan.want_error is not None:
        await link.until(lambda: len(link.answers) > index, 3 * timeout)
        wanted = f"transport error {plan.want_error}"
        if wanted in link.notes:
            return "accepted", wanted
        return "rejected", f"not {wanted}: {_note(link, 'no answer')}"
    if not await link.until(lambda: len(link.answers) > index, 3 * timeout):
        return "rejected", _note(link, "no answer")
    answer = link.answers[index]
    return ("accepted" if answer == normal else "rejected"), answer


async def _play(
    scenario: Scenario, endpoint: ServerEndpoint, timeout: float, rng: Rng
) -> tuple[Observed, str]:
    plan = scenario.plan()
    if isinstance(plan, FakeTlsRequestPlan):
        return await _play_fake_tls(plan, endpoint, timeout, rng)
    if isinstance(plan, RawHeaderPlan):
        return await _play_raw_header(plan, endpoint, timeout, rng)
    if isinstance(plan, BindPlan):
        return await _play_bind(plan, endpoint, timeout, rng)
    if isinstance(plan, ExpiredKeyPlan):
        return await _play_expired_key(plan, endpoint, timeout, rng)
    if isinstance(plan, ResendRequestPlan):
        return await _play_resend_request(endpoint, timeout, rng)
    transport = ClientTransport(
        scenario.framing,
        obfuscated=scenario.obfuscated,
        dc_id=endpoint.dc_id if scenario.obfuscated else None,
        rng=rng,
    )
    hs_plan = plan if isinstance(plan, ClientHandshakePlan) else ClientHandshakePlan()
    link = await _Link.open(endpoint, transport, hs_plan, rng=rng, temp_key=scenario.temp_key)
    try:
        if isinstance(plan, ClientHandshakePlan):
            return await _play_handshake(plan, link, timeout)
        if not await link.until(lambda: link.ready, 3 * timeout):
            return "error", f"honest handshake failed: {_note(link, 'no answer')}"
        warm = link.ping()
        if warm is None or not await link.until(lambda: warm in link.answered, timeout):
            return "error", f"the warm-up ping was not answered {link.notes}"
        assert isinstance(plan, RequestPlan)
        link.notes.clear()
        link.send(plan.build(link.context(), 2))
        link.flush()
        if plan.observe == "closed":
            await link.until(lambda: False, timeout)
            if link.closed:
                return "rejected", "closed the connection " + " ".join(link.notes)
            return "accepted", "kept the connection open"
        sentinel = link.ping()
        answered = await link.until(lambda: sentinel in link.answered, timeout)
        tail = "closed" if link.closed else ("sentinel answered" if answered else "silent")
        detail = f"{tail} {' '.join(link.notes)}".strip()
        if plan.observe == "code":
            wanted = f"bad_msg_notification {plan.code}"
            if wanted in link.notes:
                return "accepted", detail
            return "rejected", f"no {wanted}: {detail}"
        if plan.observe in ("msg_ids", "seq_no"):
            if not answered:
                return "error", f"the pings were not answered: {detail}"
            return _judge_numbering(plan.observe, link.server_sent)
        if 2 in link.pongs:
            return "accepted", detail
        if not answered and not link.closed:
            # Neither an answer nor a hang-up: the server stopped serving this
            # connection (a dead handler), a finding whatever was expected.
            return "broken", f"stopped answering with the connection open {detail}".strip()
        return "rejected", detail
    finally:
        link.close()


def _judge_numbering(observe: str, sent: Sequence[Sent]) -> tuple[Observed, str]:
    if observe == "msg_ids":
        problem = numbering.msg_id_problem(sent, from_server=True)
        rule = "each msg_id above the one before, 1 mod 4 for a response, 3 mod 4 otherwise"
    else:
        problem = numbering.seq_no_problem(sent)
        rule = "each seq_no counting the content-related messages before it"
    if problem is not None:
        return "rejected", problem
    return "accepted", f"{len(sent)} messages, {rule}"


async def _play_bind(
    plan: BindPlan, endpoint: ServerEndpoint, timeout: float, rng: Rng
) -> tuple[Observed, str]:
    transport = ClientTransport("intermediate", rng=rng)
    link = await _Link.open(endpoint, transport, rng=rng, temp_key=True, bind_field=plan.field)
    try:
        await link.until(
            lambda: link.ready or any(n.startswith("rpc_") for n in link.notes), 3 * timeout
        )
        if plan.field == "unbound_query" and "rpc_result" in link.notes:
            return "accepted", "answered an API query under an unbound temporary key"
        if link.ready:
            return "accepted", f"bound the temporary key with a wrong {plan.field}"
        return "rejected", _note(link, "no answer")
    finally:
        link.close()


async def _play_expired_key(
    plan: ExpiredKeyPlan, endpoint: ServerEndpoint, timeout: float, rng: Rng
) -> tuple[Observed, str]:
    transport = ClientTransport("intermediate", rng=rng)
    link = await _Link.open(
        endpoint, transport, rng=rng, temp_key=True, temp_key_lifetime=plan.lifetime
    )
    try:
        if not await link.until(lambda: link.ready, 3 * timeout):
            return "error", f"the temporary key was not bound: {_note(link, 'no answer')}"
        await asyncio.sleep(plan.wait)
        link.notes.clear()
        late = link.ping()
        if late is None:
            return "error", "the connection closed while waiting"
        if await link.until(lambda: late in link.answered, timeout):
            age = f"{plan.wait:g} s old, bound for {plan.lifetime} s"
            return "accepted", f"answered under a temporary key {age}"
        return "rejected", _note(link, "silent")
    finally:
        link.close()


async def _play_resend_request(
    endpoint: ServerEndpoint, timeout: float, rng: Rng
) -> tuple[Observed, str]:
    link = await _Link.open(endpoint, ClientTransport("intermediate", rng=rng), rng=rng)
    try:
        if not await link.until(lambda: link.ready, 3 * timeout):
            return "error", f"honest handshake failed: {_note(link, 'no answer')}"
        link.hold_acks = True
        ctx = link.context()
        link.send([ctx.seal(ctx.ping(2))])
        link.flush()
        if not await link.until(lambda: 2 in link.pong_msg_ids, timeout):
            return "error", f"the ping was not answered {link.notes}"
        (first,) = link.pong_msg_ids[2]
        ask = tl.make("msg_resend_req", msg_ids=[first])
        link.send([ctx.seal(ctx.message(tl.serialize(ask), content_related=False))])
        link.flush()
        await link.until(lambda: len(link.pong_msg_ids[2]) > 1, timeout)
        copies = link.pong_msg_ids[2]
        if len(copies) == 1:
            return "skipped", "sent no copy: nothing to judge"
        if copies[1] == first:
            return "rejected", f"sent the pong again under the same msg_id {first:#x}"
        return "accepted", f"sent the pong again under a new msg_id {copies[1]:#x}"
    finally:
        link.close()


async def _play_raw_header(
    plan: RawHeaderPlan, endpoint: ServerEndpoint, timeout: float, rng: Rng
) -> tuple[Observed, str]:
    wire, encryptor = mutators.header_with_tag(plan.tag, secret=plan.secret, rng=rng)
    request = tl.make("req_pq_multi", nonce=rng(16))
    packet = pack_plain(int(time.time() * 2**32) & ~3, tl.serialize(request))
    frame = struct.pack("<I", len(packet)) + packet  # intermediate: what most tags would mean
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(endpoint.host, endpoint.port), timeout
    )
    try:
        writer.write(wire + encryptor.update(frame))
        try:
            answer = await asyncio.wait_for(reader.read(4096), timeout)
        except TimeoutError:
            return "rejected", "silent, the connection held open"
        except OSError as exc:
            return "rejected", f"closed ({type(exc).__name__})"
        if not answer:
            return "rejected", "closed"
        return "accepted", f"answered {len(answer)} bytes"
    finally:
        writer.close()


# duplicates: deliberate -- each _play_* ends in try/finally and starts with the same runner
# signature; the bodies differ.
async def _play_fake_tls(
    plan: FakeTlsRequestPlan, endpoint: ServerEndpoint, timeout: float, rng: Rng
) -> tuple[Observed, str]:
    if endpoint.secret is None:
        return "skipped", "no ee secret for the server"
    transport = ClientTransport(secret=endpoint.secret, dc_id=endpoint.dc_id, rng=rng)
    link = await _Link.open(endpoint, transport, bad_hello=plan.bad_hmac, rng=rng)
    try:
        if not await link.until(lambda: len(link.first_bytes) >= 3, timeout):
            return "rejected", "closed" if link.closed else "no answer"
        if link.first_bytes.startswith(b"\x16\x03\x03"):
            return "accepted", "answered with a ServerHello"
        return "rejected", f"answered {link.first_bytes.hex()}"
    finally:
        link.close()


async def run_server_suite(
    endpoint: ServerEndpoint,
    scenarios: Sequence[Scenario],
    *,
    target: str = "server",
    timeout: float = 2.0,
    rng: Rng = random_bytes,
    progress: Callable[[ScenarioResult], None] | None = None,
) -> Report:
    """Play every server-role scenario against ``endpoint``; return the report."""
    started = time.perf_counter()
    results: list[ScenarioResult] = []
    for scenario in (s for s in scenarios if s.role == "server"):
        t0 = time.perf_counter()
        try:
            observed, detail = await asyncio.wait_for(
                _play(scenario, endpoint, timeout, rng), 6 * timeout + 10
            )
        except (TimeoutError, OSError, MtcryptError) as exc:
            observed, detail = "error", f"{type(exc).__name__}: {exc}"
        # What a rejection looked like from outside (closed, a transport error, silence),
        # for the uniformity pairs (C4).
        errors = [detail] if observed == "rejected" else []
        result = _scenario_result(
            scenario, observed, detail, errors=errors, seconds=time.perf_counter() - t0
        )
        results.append(result)
        if progress is not None:
            progress(result)
    pairs = uniformity(results, scenarios)
    return Report(target, "server", results, pairs, seconds=time.perf_counter() - started)


def run_server_suite_sync(
    endpoint: ServerEndpoint, scenarios: Sequence[Scenario], **kwargs: Any
) -> Report:
    """:func:`run_server_suite` in a fresh event loop."""
    return asyncio.run(run_server_suite(endpoint, scenarios, **kwargs))


# ---- the built-in server-role mutation kinds -----------------------------------------------

_server = _registrar(Role.SERVER)


# duplicates: deliberate -- one small registered builder per mutation kind (the registry's
# declarations); the client-role kinds in client_mutations.py read alike.
@_server("srv_handshake_honest", "handshake")
def _srv_honest() -> ClientHandshakePlan:
    """An honest handshake (the control: the server must complete it)."""
    return ClientHandshakePlan()


@_server("srv_req_dh_params", "handshake")
def _srv_req_dh(field: str = "nonce") -> ClientHandshakePlan:
    """req_DH_params with a wrong nonce, server_nonce, fingerprint, or p and q swapped (H2)."""
    if field == "fingerprint":
        return ClientHandshakePlan(
            step="req_DH_params",
            req_dh=lambda o: mutators.tl_replace(
                o, public_key_fingerprint=o.public_key_fingerprint ^ 1
            ),
        )
    if field == "p_q":
        return ClientHandshakePlan(
            step="req_DH_params", req_dh=lambda o: mutators.tl_replace(o, p=o.q, q=o.p)
        )
    return ClientHandshakePlan(step="req_DH_params", req_dh=nonce_mutator(field))


@_server("srv_pq_inner_nonce", "handshake")
def _srv_pq_inner(field: str = "nonce") -> ClientHandshakePlan:
    """p_q_inner_data (inside RSA) with a wrong nonce or server_nonce (H2)."""
    return ClientHandshakePlan(step="req_DH_params", pq_inner=nonce_mutator(field))


@_server("srv_client_dh_hash", "handshake")
def _srv_client_hash() -> ClientHandshakePlan:
    """set_client_DH_params whose SHA1(client_DH_inner_data) is wrong (H2)."""
    return ClientHandshakePlan(step="set_client_DH_params", digest=mutators.bad_sha1)


@_server("srv_client_dh_nonce", "handshake")
def _srv_client_nonce(field: str = "nonce") -> ClientHandshakePlan:
    """client_DH_inner_data (encrypted) with a wrong nonce or server_nonce (H2)."""
    return ClientHandshakePlan(step="set_client_DH_params", client_inner=nonce_mutator(field))


@_server("srv_g_b_out_of_range", "handshake")
def _srv_g_b(value: Literal["zero", "one", "p-1", "below", "above"] = "one") -> ClientHandshakePlan:
    """g_b outside [2^1984, p - 2^1984] (H3)."""
    return ClientHandshakePlan(
        step="set_client_DH_params", g_b=mutators.dh_value_out_of_range(value)
    )


@_server("srv_g_b_legal_end", "handshake")
def _srv_g_b_legal_end(end: Literal["lowest", "highest"] = "lowest") -> ClientHandshakePlan:
    """g_b at an end of [2^1984, p - 2^1984] itself, legal: the server must answer dh_gen_ok
    (the mirror cannot use the key, whose logarithm it does not know) (H3)."""
    return ClientHandshakePlan(step="set_client_DH_params", g_b=mutators.dh_value_legal_end(end))


@_server("srv_g_b_leading_zero", "handshake")
def _srv_g_b_leading_zero(
    encoding: Literal["minimal", "padded"] = "minimal",
) -> ClientHandshakePlan:
    """A legal g_b below 2^2040 (about 1 handshake in 256, forced here), in 255 bytes
    (``minimal``) or 256 with a leading zero byte (``padded``) (H3)."""
    if encoding not in ("minimal", "padded"):
        raise ValueError("encoding must be 'minimal' or 'padded'")
    return ClientHandshakePlan(g_b_below=2040, g_b_padded=encoding == "padded")


@_server("srv_client_dh_misaligned", "handshake")
def _srv_client_dh_misaligned() -> ClientHandshakePlan:
    """set_client_DH_params whose encrypted_data is not whole 16-byte blocks (H2)."""
    return ClientHandshakePlan(step="set_client_DH_params", misalign=True)


@_server("srv_handshake_error_code", "handshake")
def _srv_handshake_error_code(
    step: Literal["req_DH_params", "set_client_DH_params"] = "req_DH_params",
) -> ClientHandshakePlan:
    """A handshake message with a wrong nonce at ``step``; judged: the server answers with
    transport error -404 (D4.2)."""
    plan: ClientHandshakePlan = (
        _srv_req_dh("nonce") if step == "req_DH_params" else _srv_client_nonce("nonce")
    )
    return replace(plan, want_error=-404)


@_server("srv_other_dc", "handshake")
def _srv_other_dc(offset: int = 10000) -> ClientHandshakePlan:
    """p_q_inner_data_dc naming the server's DC plus ``offset`` (10000: its test twin); judged:
    the server answers with transport error -444 (D4.2)."""
    return ClientHandshakePlan(
        step="req_DH_params",
        pq_inner=lambda inner: mutators.tl_replace(inner, dc=int(inner.dc) + offset),
        want_error=-444,
    )


@_server("srv_rsa_block", "handshake")
def _srv_rsa_block(kind: Literal["garbage", "above_n"] = "garbage") -> ClientHandshakePlan:
    """req_DH_params whose encrypted_data is a random RSA block (``garbage``: the RSA_PAD
    SHA-256 binding fails) or the modulus plus one (``above_n``) (H1)."""
    if kind not in ("garbage", "above_n"):
        raise InvalidArgument("kind must be 'garbage' or 'above_n'")
    return ClientHandshakePlan(step="req_DH_params", rsa_block=kind)


@_server("srv_key_leading_zero", "handshake")
def _srv_key_leading_zero() -> ClientHandshakePlan:
    """An honest handshake whose key starts with a zero byte (1 in 256, forced by our
    exponent): the server must keep it at 256 bytes, or dh_gen_ok's hash cannot match (H4)."""
    return ClientHandshakePlan(key_leading_zero=True)


@_server("srv_legacy_rsa", "handshake")
def _srv_legacy_rsa() -> ClientHandshakePlan:
    """req_DH_params encrypted with the legacy SHA1(data)+data+random RSA padding instead of
    RSA_PAD: deprecated, still tolerated by servers for old clients (H1)."""
    return ClientHandshakePlan(rsa_scheme="legacy")


@_server("srv_retry_id", "handshake")
def _srv_retry_id(retry_id: int = 1) -> ClientHandshakePlan:
    """A first set_client_DH_params with a non-zero retry_id (H4)."""
    return ClientHandshakePlan(
        step="set_client_DH_params",
        client_inner=lambda o: mutators.tl_replace(o, retry_id=retry_id),
    )


class _Build(RequestPlan):
    def __init__(
        self,
        build: Callable[[ClientContext, int], list[bytes | Raw]],
        observe: Literal["answer", "closed", "msg_ids", "seq_no", "code"] = "answer",
        code: int | None = None,
    ) -> None:
        self._build = build
        self.observe = observe
        self.code = code

    def build(self, ctx: ClientContext, ping_id: int) -> list[bytes | Raw]:
        return self._build(ctx, ping_id)


@_server("srv_message_honest", "message")
def _srv_message_honest() -> RequestPlan:
    """An honest ping (the control: it must be answered)."""
    return RequestPlan()


@_server("srv_numbering", "message")
def _srv_numbering(observe: Literal["msg_ids", "seq_no"] = "msg_ids") -> RequestPlan:
    """Honest pings; judged: how the server numbers every message it sends in the session,
    ``observe`` ``msg_ids`` (each above the one before, 1 mod 4 for a response, 3 mod 4
    otherwise) or ``seq_no`` (S2, S3)."""
    if observe not in ("msg_ids", "seq_no"):
        raise InvalidArgument("observe must be 'msg_ids' or 'seq_no'")
    return _Build(lambda ctx, n: [ctx.seal(ctx.ping(n))], observe)


@_server("srv_plain_request", "message")
def _srv_plain_request() -> RequestPlan:
    """The ping sent unencrypted (auth_key_id 0) on the encrypted connection: only the
    handshake may be unencrypted (D3)."""
    return _Build(
        lambda ctx, n: [pack_plain(ctx.next_msg_id(), tl.serialize(tl.make("ping", ping_id=n)))]
    )


@_server("srv_below_window", "message")
def _srv_below_window(fill: int = 1020) -> RequestPlan:
    """A container of ``fill`` acks with ids 100 s old fills the replay window, then the ping
    with an id below all of them, fresh enough for the time window (C7)."""

    def build(ctx: ClientContext, n: int) -> list[bytes | Raw]:
        first = mutators.too_old_msg_id(ctx.now(), from_server=False, seconds=100.0)
        container = ctx.message(b"", content_related=False)
        body, ids = mutators.window_filler(
            first, fill, container_msg_id=container.msg_id, from_server=False
        )
        low = mutators.below_window_msg_id(ids)
        return [ctx.seal(replace(container, body=body)), ctx.seal(ctx.ping(n, msg_id=low))]

    return _Build(build)


_FAULT_CODES = {"too_old": 16, "too_new": 17, "odd": 18, "ack_content_related": 34, "nested": 64}


@_server("srv_bad_msg_code", "message")
def _srv_bad_msg_code(
    fault: Literal["too_old", "too_new", "odd", "ack_content_related", "nested"] = "too_old",
) -> RequestPlan:
    """An authentic request with one fault the server must report in bad_msg_notification with
    its code: ``too_old`` (16), ``too_new`` (17), ``odd`` msg_id (18), ``ack_content_related``
    (a msgs_ack with an odd seq_no, 34) or a ``nested`` container (64) (D8.1)."""
    if fault not in _FAULT_CODES:
        raise InvalidArgument(f"fault must be one of {sorted(_FAULT_CODES)}")

    def build(ctx: ClientContext, n: int) -> list[bytes | Raw]:
        if fault == "nested":
            return [container_attack(ctx, "nested", ctx.ping(n))]
        if fault == "ack_content_related":
            ack = tl.serialize(tl.make("msgs_ack", msg_ids=[]))
            return [ctx.seal(ctx.message(ack, content_related=True))]
        plan: RequestPlan = _srv_msg_id(fault)
        return plan.build(ctx, n)

    return _Build(build, "code", _FAULT_CODES[fault])


@_server("srv_flip", "message")
def _srv_flip(part: Literal["msg_key", "auth_key_id"] = "msg_key") -> RequestPlan:
    """The request with a bit of its msg_key or auth_key_id flipped (C1)."""
    flip = mutators.flip_msg_key if part == "msg_key" else mutators.flip_auth_key_id
    return _Build(lambda ctx, n: [flip(ctx.seal(ctx.ping(n)))])


@_server("srv_truncate", "message")
def _srv_truncate(count: int = 16) -> RequestPlan:
    """The request without its last ``count`` bytes (C1)."""
    return _Build(lambda ctx, n: [mutators.truncate(ctx.seal(ctx.ping(n)), count)])


@_server("srv_extend", "message")
def _srv_extend(count: int = 16) -> RequestPlan:
    """The request with ``count`` zero bytes appended: a whole block (16) or a misaligned tail
    (C1)."""
    return _Build(lambda ctx, n: [mutators.extend(ctx.seal(ctx.ping(n)), bytes(count))])


@_server("srv_reflected", "message")
def _srv_reflected() -> RequestPlan:
    """An authentic request sealed in the server's direction (x = 8), as a reflected server
    message would be (C6)."""

    def build(ctx: ClientContext, n: int) -> list[bytes | Raw]:
        return [encrypt_message(ctx.auth_key, ctx.ping(n).pack(), from_server=True, rng=ctx.rng)]

    return _Build(build)


class _Reordered(RequestPlan):
    """Two fresh requests sent in the opposite order of their msg_ids: both
    must be answered (a server's replay window takes fresh ids out of order)."""

    def build(self, ctx: ClientContext, ping_id: int) -> list[bytes | Raw]:
        first = ctx.ping(ping_id)  # the lower msg_id ...
        filler = ctx.message(tl.serialize(tl.make("ping", ping_id=ping_id + 1000)))
        return [ctx.seal(filler), ctx.seal(first)]  # ... sent second


@_server("srv_reordered", "message")
def _srv_reordered() -> RequestPlan:
    """Two fresh requests delivered out of msg_id order (the control: both answered) (C7)."""
    return _Reordered()


@_server("srv_forge_msg_key", "message")
def _srv_forge(
    session: Literal["same", "other"] = "same", body: Literal["ping", "unknown"] = "ping"
) -> RequestPlan:
    """A well-formed request under a msg_key that is not its MAC (C1, C5); ``session=other``
    changes the session_id inside, ``body=unknown`` puts an unknown constructor in it."""
    inner: Literal["as_is", "unknown"] = "unknown" if body == "unknown" else "as_is"
    return _Build(lambda ctx, n: [forged(ctx, ctx.ping(n), session=session, body=inner)])


@_server("srv_length", "message")
def _srv_length(attack: str = "padding_over") -> RequestPlan:
    """Authentic request with bad padding or length field: padding_over, padding_under,
    not_multiple_of_4, exceeds_plaintext, negative, short_of_body (C3)."""
    seal = length_attack(attack, padding=True)
    return _Build(lambda ctx, n: [seal(ctx.auth_key, ctx.ping(n), from_server=False, rng=ctx.rng)])


@_server("srv_msg_id", "message")
def _srv_msg_id(
    kind: Literal["odd", "two_mod_4", "duplicate", "too_old", "too_new"] = "odd",
    seconds: float | None = None,
) -> RequestPlan:
    """Authentic request whose msg_id is odd, 2 mod 4 (even, yet no client's), a duplicate, old
    (``seconds``, default 400) or ahead (default 60) (C7)."""

    def build(ctx: ClientContext, n: int) -> list[bytes | Raw]:
        if kind == "odd":
            msg_id = mutators.wrong_parity_msg_id(ctx.next_msg_id(), from_server=False)
        elif kind == "two_mod_4":
            msg_id = (ctx.next_msg_id() & ~3) | 2
        elif kind == "duplicate":
            msg_id = ctx.sent[-1]
        elif kind == "too_old":
            msg_id = mutators.too_old_msg_id(ctx.now(), from_server=False, seconds=seconds or 400.0)
        else:
            msg_id = mutators.too_new_msg_id(ctx.now(), from_server=False, seconds=seconds or 60.0)
        return [ctx.seal(ctx.ping(n, msg_id=msg_id))]

    return _Build(build)


_CONTAINER = tl.default_schema()["msg_container"].id


@_server("srv_padding_exact", "message")
def _srv_padding_exact(padding: int = 12) -> RequestPlan:
    """Authentic request with exactly ``padding`` bytes of padding: ping or ping_delay_disconnect,
    bare or in a msg_container, whichever aligns (the legal ends: 12 and 1024) (C3)."""

    def build(ctx: ClientContext, n: int) -> list[bytes | Raw]:
        for query in (
            tl.make("ping", ping_id=n),
            tl.make("ping_delay_disconnect", ping_id=n, disconnect_delay=75),
        ):
            body = tl.serialize(query)
            bare = HEADER_SIZE + len(body)
            if (bare + padding) % 16 == 0:
                return [ctx.seal(ctx.message(body), padding=padding)]
            if (bare + 24 + padding) % 16 == 0:  # 24: the container's header for one message
                inner = ctx.message(body)  # numbered first: below the container's msg_id
                container = ctx.message(b"", content_related=False)
                head = struct.pack(
                    "<Iiqii", _CONTAINER, 1, inner.msg_id, inner.seq_no, len(inner.body)
                )
                return [ctx.seal(replace(container, body=head + body), padding=padding)]
        raise InvalidArgument(f"no form of the ping aligns {padding} bytes of padding")

    return _Build(build)


@_server("srv_container_inner_id", "message")
def _srv_container() -> RequestPlan:
    """A container whose inner message's msg_id is above the container's (C8)."""

    def build(ctx: ClientContext, n: int) -> list[bytes | Raw]:
        container = ctx.message(b"", content_related=False)  # numbered first: the lower msg_id
        ping = ctx.ping(n)
        body = struct.pack("<Iiqii", _CONTAINER, 1, ping.msg_id, ping.seq_no, len(ping.body))
        return [ctx.seal(replace(container, body=body + ping.body))]

    return _Build(build)


@_server("srv_container_malformed", "message")
def _srv_container_malformed(kind: str = "nested") -> RequestPlan:
    """The ping in a container the server must refuse: ``kind`` as for the client side's
    ``container_malformed`` (:func:`~mtcrypt.testing.mutators.malformed_container`) (C8)."""
    mutators.check_container_attack(kind)
    return _Build(lambda ctx, n: [container_attack(ctx, kind, ctx.ping(n))])


@_server("srv_wrong_salt", "message")
def _srv_salt() -> RequestPlan:
    """Authentic request with a salt the server never gave (C9; for servers that enforce salts)."""
    return _Build(lambda ctx, n: [ctx.seal(ctx.ping(n, salt=mutators.other_salt(ctx.salt)))])


@_server("srv_bad_crc", "transport")
def _srv_bad_crc() -> RequestPlan:
    """The request's full-transport frame with a bad CRC32 (T2; framing=full)."""
    return _Build(lambda ctx, n: [Raw(mutators.bad_crc(ctx.frame(ctx.seal(ctx.ping(n)))))])


@_server("srv_bad_seqno", "transport")
def _srv_bad_seqno() -> RequestPlan:
    """The request's full-transport frame skipping one seqno, CRC32 valid (T2; framing=full)."""

    def build(ctx: ClientContext, n: int) -> list[bytes | Raw]:
        frame = ctx.frame(ctx.seal(ctx.ping(n)))
        return [Raw(mutators.with_seqno(frame, ctx.full_seq()))]

    return _Build(build)


@_server("srv_oversized_length", "transport")
def _srv_oversized(length: int = (16 << 20) + 4) -> RequestPlan:
    """A frame header claiming ``length`` bytes (over 16 MiB): the server must hang up (T2)."""
    return _Build(
        lambda ctx, n: [Raw(mutators.oversized_length(ctx.framing, length))],
        observe="closed",
    )


@_server("srv_bind_field", "handshake")
def _srv_bind_field(
    field: Literal[
        "nonce", "perm_auth_key_id", "expires_at", "encrypted_message", "unbound_query"
    ] = "nonce",
) -> BindPlan:
    """auth.bindTempAuthKey whose ``field`` disagrees with its encrypted binding (or, for
    ``encrypted_message``, whose MTProto 1.0 ciphertext has a bit flipped): the server must
    refuse the binding (ENCRYPTED_MESSAGE_INVALID); ``unbound_query`` sends an API query
    instead of the binding, which the server must refuse (AUTH_KEY_PERM_EMPTY) (H6)."""
    fields = ("nonce", "perm_auth_key_id", "expires_at", "encrypted_message", "unbound_query")
    if field not in fields:
        raise InvalidArgument(f"field must be one of {fields}")
    return BindPlan(field)


@_server("srv_temp_key_expired", "message")
def _srv_temp_key_expired(lifetime: int = 1, wait: float = 1.6) -> ExpiredKeyPlan:
    """A temporary key bound for ``lifetime`` s, used after ``wait`` s: refused (H6)."""
    if not 0 < lifetime < wait:
        raise InvalidArgument("the wait must outlast the lifetime")
    return ExpiredKeyPlan(lifetime, wait)


@_server("srv_resend_request", "message")
def _srv_resend_request() -> ResendRequestPlan:
    """msg_resend_req naming the server's pong, left unacknowledged: a copy must come under a
    new msg_id (S4)."""
    return ResendRequestPlan()


@_server("srv_obfuscation_header", "header")
def _srv_obfuscation_header(
    tag: str = "12345678", secret: Literal["none", "unknown"] = "none"
) -> RawHeaderPlan:
    """An obfuscated2 header with protocol ``tag`` (hex; by default one no framing has), keyed
    with no secret or with a random ``unknown`` one (T1)."""
    raw = bytes.fromhex(tag)
    if len(raw) != 4:
        raise InvalidArgument("tag must be 4 bytes in hex")
    return RawHeaderPlan(raw, random_bytes(16) if secret == "unknown" else None)


@_server("srv_fake_tls", "fake_tls")
def _srv_fake_tls(hmac: Literal["valid", "bad"] = "bad") -> FakeTlsRequestPlan:
    """A fake-TLS ClientHello with a valid or a bad HMAC (T3; needs the server's ee secret)."""
    return FakeTlsRequestPlan(bad_hmac=hmac == "bad")
