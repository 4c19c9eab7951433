"""The adversarial server: an MTProto server that plays one client-role scenario.

It is built from the sans-I/O pieces (:class:`~mtcrypt.transport.ServerTransport`
for every transport, :func:`~mtcrypt.mtproto.decrypt_message` and the
:mod:`~mtcrypt.testing.mutators` to seal what it sends) rather than on
:class:`~mtcrypt.aio.Server`, because it must be able to say what no honest
server says: its handshake (:class:`AdversarialHandshake`) takes any DH
parameters and mangles any field, and its message layer answers the client's
pings through a :class:`MessagePlan`.

The client under test follows a fixed probe script after its handshake (see
:mod:`mtcrypt.testing.conformance.adapters`): ping :data:`PING_WARMUP` and wait;
pings :data:`PING_MUTATED` and :data:`PING_SENTINEL` together; then ping
:data:`PING_AFTER`.  The server answers every ping honestly except that it
waits until both the mutated and the sentinel ping have arrived (at most
:attr:`AdversarialServer.pair_wait` seconds), lets the plan answer both, and
never answers a re-sent mutated ping again (unless the plan says so).  So once
the sentinel's pong is delivered, the mutated one was either delivered before
it, or rejected.

What the server sees is kept in :class:`Evidence`; the runner combines it with
what the client reports to judge the scenario.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ... import tl
from ..._random import Rng, random_bytes
from ...connection import unwrap_query
from ...crypto import ige256_decrypt
from ...errors import DecryptionFailed, HandshakeError, MtcryptError, TLError
from ...handshake._common import aux_hash_as_retry_id, int_to_be, server_salt, tmp_aes_key_iv
from ...handshake.dh import TELEGRAM_DH_G, TELEGRAM_DH_PRIME, modexp
from ...handshake.rsa import RsaPrivateKey, decrypt_block, rsa_legacy_unpad, rsa_pad_unpad
from ...handshake.server import generate_pq
from ...mtproto import (
    AuthKey,
    InnerMessage,
    decrypt_message,
    encrypt_message,
    next_msg_id,
    pack_plain,
    unpack_plain,
)
from ...transport import Frame, ServerTransport, TransportDetected
from .. import mutators

__all__ = [
    "PING_AFTER",
    "PING_MUTATED",
    "PING_SENTINEL",
    "PING_WARMUP",
    "AdversarialHandshake",
    "AdversarialServer",
    "Evidence",
    "FakeTlsPlan",
    "HandshakePlan",
    "HeaderPlan",
    "MessagePlan",
    "Out",
    "Probe",
    "Raw",
    "RpcHandler",
    "ServerContext",
]

PING_WARMUP = 1
"""Answered honestly: syncs the client's clock and fills its replay window with one id."""
PING_MUTATED = 2
"""Answered by the scenario's plan."""
PING_SENTINEL = 3
"""Sent with the mutated ping and answered honestly right after it."""
PING_AFTER = 4
"""Sent last; its salt shows whether the client adopted a salt."""

RpcHandler = Callable[[bytes], bytes | None]
"""Answers an RPC query (wrappers removed) with a serialized result, or ``None``
for the default ``rpc_error 401``."""


# ---- plans ---------------------------------------------------------------------------


@dataclass
class HandshakePlan:
    """How the adversarial server misplays the handshake.

    ``step`` is the message the mutation is in (``resPQ``, ``server_DH_params``
    or ``dh_gen``; ``none`` for an honest handshake): a client that sends the
    next handshake message after it has *acted on* the bad data.
    """

    step: Literal["none", "resPQ", "server_DH_params", "dh_gen"] = "none"
    res_pq: Callable[[tl.TLObject], tl.TLObject] | None = None
    params_ok: Callable[[tl.TLObject], tl.TLObject] | None = None
    inner: Callable[[tl.TLObject], tl.TLObject] | None = None
    digest: Callable[[bytes], bytes] | None = None
    padding: int | None = None
    misalign: bool = False
    dh_prime: int = TELEGRAM_DH_PRIME
    g: int = TELEGRAM_DH_G
    g_a: int | None = None
    params_fail: bool = False
    params_fail_mutate: Callable[[tl.TLObject], tl.TLObject] | None = None
    dh_gen: Literal["ok", "retry", "fail"] = "ok"
    dh_gen_mutate: Callable[[tl.TLObject], tl.TLObject] | None = None
    retry_flow: bool = False
    """After the first ``dh_gen_retry``, expect a new ``set_client_DH_params``
    whose ``retry_id`` is the rejected key's aux hash and answer ``dh_gen_ok``
    (``dh_gen_fail`` if the retry_id is wrong)."""


@dataclass(frozen=True)
class Probe:
    """A ping the client sent."""

    msg_id: int
    ping_id: int
    wrapped: bool
    """Sent as an RPC (inside ``invokeWith*``): answered with ``rpc_result(pong)``."""
    salt: int
    session_id: int


@dataclass(frozen=True)
class Raw:
    """Bytes written to the socket as they are (a frame already built)."""

    data: bytes


Out = bytes | Raw
"""What a plan sends: an MTProto packet (framed by the connection's transport) or :class:`Raw`."""


class MessagePlan:
    """How the adversarial server answers the mutated ping (and the sentinel).

    Subclasses override :meth:`respond`; the default answers both honestly.
    ``observe`` is ``"delivery"`` (was the mutated pong delivered to the
    application?) or ``"salt"`` (did the client's last ping carry
    :attr:`salt`?).
    """

    observe: Literal["delivery", "salt"] = "delivery"
    salt: int | None = None

    def respond(self, ctx: ServerContext, mutated: Probe, sentinel: Probe | None) -> list[Out]:
        out: list[Out] = [self.mutate(ctx, mutated)]
        if sentinel is not None:
            out.append(ctx.honest(sentinel))
        return out

    def mutate(self, ctx: ServerContext, probe: Probe) -> Out:
        """The answer to the mutated ping (default: honest)."""
        return ctx.honest(probe)

    def on_resend(self, ctx: ServerContext, probe: Probe) -> list[Out]:
        """The mutated ping arrived again (the client re-sent it): by default no
        answer, so a client that rejected the first one cannot recover it."""
        del ctx, probe
        return []


@dataclass
class HeaderPlan:
    """Obfuscation header generation: the client's first header candidate is
    forced to start with a forbidden prefix (needs an adapter that can inject it)."""

    prefix: str


@dataclass
class FakeTlsPlan:
    """MTProxy fake-TLS: answer the ClientHello with an authentic ServerHello,
    or one whose HMAC is wrong (``bad_hmac``)."""

    bad_hmac: bool
    secret: str = "ee" + "5d" * 16 + b"www.example.com".hex()


# ---- what the server saw -------------------------------------------------------------


@dataclass
class Evidence:
    """Everything the adversarial server observed during one scenario."""

    connections: int = 0
    first_bytes: list[bytes] = field(default_factory=list)
    handshake_steps: list[str] = field(default_factory=list)
    retry_ids: list[int] = field(default_factory=list)
    keys: list[AuthKey] = field(default_factory=list)
    """Keys the server confirmed with ``dh_gen_ok`` (honest or not), in order."""
    keys_offered: list[AuthKey] = field(default_factory=list)
    """Every key the server computed (also those answered with retry or fail)."""
    key_ids_used: list[bytes] = field(default_factory=list)
    salts: dict[int, int] = field(default_factory=dict)
    """ping_id -> salt of the packet that carried it (the last one, if re-sent)."""
    pings: list[int] = field(default_factory=list)
    detected: list[object] = field(default_factory=list)
    hello_sent: bool = False
    played: bool = False
    notes: list[str] = field(default_factory=list)

    def proceeded_after(self, step: str) -> bool:
        """Whether the client sent the handshake message that follows ``step``."""
        following = {"resPQ": "req_DH_params", "server_DH_params": "set_client_DH_params"}
        nxt = following.get(step)
        return nxt is not None and nxt in self.handshake_steps

    @property
    def zero_lead_key(self) -> bool:
        """A computed key started with a zero byte (Telethon mishandles those)."""
        return any(k.key[0] == 0 for k in self.keys_offered)


# ---- the handshake -------------------------------------------------------------------

_INNER = ("p_q_inner_data", "p_q_inner_data_dc", "p_q_inner_data_temp", "p_q_inner_data_temp_dc")


def _read_prefix(data: bytes, names: Sequence[str]) -> tuple[tl.TLObject, int] | None:
    reader = tl.Reader(data)
    try:
        obj = tl.read_object(reader)
    except TLError:
        return None
    if obj.name not in names:
        return None
    return obj, reader.offset


class AdversarialHandshake:
    """The server side of auth-key creation, permissive and steerable (sans-I/O).

    It checks almost nothing the client sends (it is not the one under test),
    follows a :class:`HandshakePlan`, records what it sees in an
    :class:`Evidence`, and registers every key it computes with ``on_key``.
    """

    def __init__(
        self,
        rsa_key: RsaPrivateKey,
        plan: HandshakePlan,
        evidence: Evidence,
        *,
        on_key: Callable[[AuthKey, int], None] | None = None,
        rng: Rng = random_bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = rsa_key
        self._plan = plan
        self._evidence = evidence
        self._on_key = on_key
        self._rng = rng
        self._clock = clock
        self._last_msg_id = 0
        self._nonce = b""
        self._server_nonce = b""
        self._new_nonce = b""
        self._pq = (0, 0)
        self._a = 0
        self._attempt = 0
        self._previous: AuthKey | None = None

    def _pack(self, obj: tl.TLObject) -> bytes:
        self._last_msg_id = next_msg_id(self._clock(), self._last_msg_id, 1)
        return pack_plain(self._last_msg_id, tl.serialize(obj))

    def receive(self, packet: bytes) -> bytes:
        """Answer one client packet; raises :class:`HandshakeError` for junk."""
        try:
            _, body = unpack_plain(packet)
            obj = tl.deserialize(body)
        except (MtcryptError, ValueError):
            raise HandshakeError("plain_message", "not a handshake message") from None
        self._evidence.handshake_steps.append(obj.name)
        if obj.name in ("req_pq_multi", "req_pq"):
            return self._pack(self._res_pq(obj))
        if obj.name == "req_DH_params":
            return self._pack(self._dh_params(obj))
        if obj.name == "set_client_DH_params":
            return self._pack(self._dh_gen(obj))
        raise HandshakeError("unexpected_message", obj.name)

    def _res_pq(self, req: tl.TLObject) -> tl.TLObject:
        self._nonce = req.nonce
        self._server_nonce = self._rng(16)
        self._pq = generate_pq(self._rng)
        p, q = self._pq
        answer = tl.make(
            "resPQ",
            nonce=self._nonce,
            server_nonce=self._server_nonce,
            pq=int_to_be(p * q),
            server_public_key_fingerprints=[self._key.fingerprint],
        )
        return self._plan.res_pq(answer) if self._plan.res_pq else answer

    def _open_inner(self, encrypted: bytes) -> tl.TLObject:
        block = decrypt_block(encrypted, self._key)
        data = rsa_pad_unpad(block)
        if data is not None:
            found = _read_prefix(data, _INNER)
            if found is not None:
                return found[0]
        objects: list[tl.TLObject] = []

        def length(rest: bytes) -> int | None:
            found = _read_prefix(rest, _INNER)
            if found is None:
                return None
            objects.append(found[0])
            return found[1]

        if rsa_legacy_unpad(block, length) is not None and objects:
            return objects[-1]
        raise HandshakeError("rsa_padding", "cannot open p_q_inner_data")

    def _dh_params(self, req: tl.TLObject) -> tl.TLObject:
        plan = self._plan
        inner = self._open_inner(req.encrypted_data)
        self._new_nonce = inner.new_nonce
        if plan.params_fail:
            fail = mutators.dh_params_fail(self._nonce, self._server_nonce, self._new_nonce)
            return plan.params_fail_mutate(fail) if plan.params_fail_mutate else fail
        p, g = plan.dh_prime, plan.g
        self._a = int.from_bytes(self._rng(256), "big") % (p - 2) + 1
        g_a = modexp(g, self._a, p) if plan.g_a is None else plan.g_a
        data = tl.make(
            "server_DH_inner_data",
            nonce=self._nonce,
            server_nonce=self._server_nonce,
            g=g,
            dh_prime=int_to_be(p),
            g_a=int_to_be(g_a),
            server_time=int(self._clock()),
        )
        if plan.inner:
            data = plan.inner(data)
        answer = tl.serialize(data)
        digest = plan.digest(answer) if plan.digest else None
        if plan.padding is None:
            padding = None
        else:
            base = -(20 + len(answer)) % 16
            padding = self._rng(base + 16 * ((plan.padding - base + 15) // 16))
        encrypted = mutators.seal_answer(
            answer,
            self._server_nonce,
            self._new_nonce,
            digest=digest,
            padding=padding,
            rng=self._rng,
        )
        if plan.misalign:
            encrypted += self._rng(4)
        ok = tl.make(
            "server_DH_params_ok",
            nonce=self._nonce,
            server_nonce=self._server_nonce,
            encrypted_answer=encrypted,
        )
        return plan.params_ok(ok) if plan.params_ok else ok

    def _client_key(self, g_b: int) -> AuthKey:
        plan = self._plan
        forced = plan.g_a
        if forced == 0:
            return AuthKey(bytes(256))
        if forced is not None and forced in (1, plan.dh_prime - 1):
            return AuthKey.from_int(1)  # (p-1)^b is 1 for even b: a guess
        value = modexp(g_b, self._a, plan.dh_prime)
        return AuthKey(bytes(256)) if value == 0 else AuthKey.from_int(value)

    def _dh_gen(self, req: tl.TLObject) -> tl.TLObject:
        plan = self._plan
        key_, iv = tmp_aes_key_iv(self._server_nonce, self._new_nonce)
        encrypted: bytes = req.encrypted_data
        encrypted = encrypted[: len(encrypted) - len(encrypted) % 16]
        found = _read_prefix(ige256_decrypt(encrypted, key_, iv)[20:], ("client_DH_inner_data",))
        if found is None:
            raise HandshakeError("client_DH_inner_data", "cannot open it")
        inner = found[0]
        self._evidence.retry_ids.append(inner.retry_id)
        key = self._client_key(int.from_bytes(inner.g_b, "big"))
        self._evidence.keys_offered.append(key)
        kind: Literal["ok", "retry", "fail"] = plan.dh_gen
        if self._attempt > 0 and plan.retry_flow:
            previous = self._previous
            expected = aux_hash_as_retry_id(previous.aux_hash) if previous else 0
            kind = "ok" if inner.retry_id == expected else "fail"
            if kind == "fail":
                self._evidence.notes.append("wrong retry_id in the second attempt")
        self._attempt += 1
        self._previous = key
        salt = server_salt(self._new_nonce, self._server_nonce)
        if self._on_key is not None:
            self._on_key(key, salt)
        if kind == "ok":
            self._evidence.keys.append(key)
        answer = mutators.dh_gen_answer(kind, self._nonce, self._server_nonce, self._new_nonce, key)
        if plan.dh_gen_mutate and (self._attempt == 1 or not plan.retry_flow):
            answer = plan.dh_gen_mutate(answer)
        return answer


# ---- the message layer ---------------------------------------------------------------


class ServerContext:
    """What a :class:`MessagePlan` works with: the connection's key, the
    client's session, honest msg_ids and seq_nos, sealing and framing."""

    def __init__(self, conn: _Connection, auth_key: AuthKey) -> None:
        self._conn = conn
        self.auth_key = auth_key
        self.session_id = 0
        self.client_salt = 0
        self.server_salt = 0
        self.sent: list[int] = []
        """msg_ids of the messages sent on this connection, in order."""
        self._last_msg_id = 0
        self._content = 0
        self.rng: Rng = conn.server.rng

    def now(self) -> float:
        return self._conn.server.clock()

    def next_msg_id(self, *, response: bool = True) -> int:
        self._last_msg_id = next_msg_id(self.now(), self._last_msg_id, 1 if response else 3)
        return self._last_msg_id

    def next_seq_no(self, content_related: bool = True) -> int:
        if content_related:
            self._content += 1
            return 2 * self._content - 1
        return 2 * self._content

    def message(
        self,
        body: bytes,
        *,
        msg_id: int | None = None,
        seq_no: int | None = None,
        session_id: int | None = None,
        salt: int | None = None,
        content_related: bool = True,
    ) -> InnerMessage:
        """An :class:`InnerMessage` from the server in the client's session;
        every field can be overridden."""
        mid = self.next_msg_id() if msg_id is None else msg_id
        self.sent.append(mid)
        return InnerMessage(
            salt=self.server_salt if salt is None else salt,
            session_id=self.session_id if session_id is None else session_id,
            msg_id=mid,
            seq_no=self.next_seq_no(content_related) if seq_no is None else seq_no,
            body=body,
        )

    def seal(
        self, message: InnerMessage, *, padding: int | None = None, length: int | None = None
    ) -> bytes:
        """Seal ``message`` authentically (server to client), optionally with a
        chosen padding length and length field."""
        if padding is None and length is None:
            return encrypt_message(self.auth_key, message.pack(), from_server=True, rng=self.rng)
        return mutators.seal_with(
            self.auth_key, message, from_server=True, padding=padding, length=length, rng=self.rng
        )

    @staticmethod
    def pong_body(probe: Probe, *, wrapped: bool | None = None) -> bytes:
        """``pong`` for ``probe`` (inside ``rpc_result`` if it came as an RPC)."""
        pong = tl.serialize(tl.make("pong", msg_id=probe.msg_id, ping_id=probe.ping_id))
        if probe.wrapped if wrapped is None else wrapped:
            return struct.pack("<Iq", _RPC_RESULT, probe.msg_id) + pong
        return pong

    def answer(self, probe: Probe, **fields: Any) -> InnerMessage:
        """The honest answer to ``probe`` as a message (fields overridable)."""
        return self.message(self.pong_body(probe), **fields)

    def honest(self, probe: Probe) -> bytes:
        """The honest answer to ``probe``, sealed."""
        return self.seal(self.answer(probe))

    def frame(self, payload: bytes) -> bytes:
        """``payload`` framed (and obfuscated) by the connection's transport."""
        return self._conn.transport.send(payload)

    def full_seq(self) -> int:
        """The full transport's next send seqno."""
        codec = self._conn.transport.codec
        return int(getattr(codec, "send_seq", 0))


_SCHEMA = tl.default_schema()
_RPC_RESULT = _SCHEMA["rpc_result"].id
_CONTAINER = _SCHEMA["msg_container"].id
_GZIP = _SCHEMA["gzip_packed"].id
_PING = _SCHEMA["ping"].id
_PING_DELAY = _SCHEMA["ping_delay_disconnect"].id
_SERVICE_IN = frozenset(
    _SCHEMA[n].id
    for n in (
        "msgs_ack",
        "get_future_salts",
        "destroy_session",
        "msgs_state_req",
        "msgs_state_info",
        "msgs_all_info",
        "msg_resend_req",
        "rpc_drop_answer",
        "http_wait",
    )
)


def _messages(body: bytes, msg_id: int, seq_no: int) -> list[tuple[int, bytes]]:
    """Flatten a body into ``(msg_id, body)`` pairs (containers, gzip)."""
    if len(body) >= 4:
        (cid,) = struct.unpack_from("<I", body)
        if cid == _CONTAINER:
            try:
                obj = tl.deserialize(body)
            except TLError:
                return []
            out: list[tuple[int, bytes]] = []
            for m in obj.messages:
                inner = m.body if isinstance(m.body, bytes) else tl.serialize(m.body)
                out += _messages(inner, m.msg_id, m.seqno)
            return out
        if cid == _GZIP:
            try:
                obj = tl.deserialize(body)
                data = tl.gunzip(obj.packed_data, max_size=1 << 24)
            except TLError:
                return []
            return _messages(data, msg_id, seq_no)
    return [(msg_id, body)]


class _Connection:
    def __init__(self, server: AdversarialServer, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.writer = writer
        self.transport = ServerTransport(
            secrets=server.secrets,
            allow_plain=True,
            allow_secretless=True,
            max_padding=3,
            rng=server.rng,
            clock=server.clock,
        )
        self.handshake: AdversarialHandshake | None = None
        self.contexts: dict[bytes, ServerContext] = {}
        self.pending: dict[int, Probe] = {}
        self.pair_timer: asyncio.TimerHandle | None = None
        self.hello_answered = False

    def write(self, items: Sequence[Out]) -> None:
        for item in items:
            data = item.data if isinstance(item, Raw) else self.transport.send(item)
            self.writer.write(data)

    # -- plain ---------------------------------------------------------------------------

    def on_plain(self, payload: bytes) -> None:
        srv = self.server
        if self.handshake is None:
            self.handshake = AdversarialHandshake(
                srv.rsa_key,
                srv.handshake_plan,
                srv.evidence,
                on_key=srv.add_key,
                rng=srv.rng,
                clock=srv.clock,
            )
        try:
            answer = self.handshake.receive(payload)
        except (HandshakeError, MtcryptError, ValueError) as exc:
            srv.evidence.notes.append(f"handshake: {exc}")
            self.writer.write(self.transport.send_error(-404))
            raise _Close() from None
        self.writer.write(self.transport.send(answer))

    # -- encrypted ------------------------------------------------------------------------

    def on_encrypted(self, payload: bytes) -> None:
        srv = self.server
        key_id = payload[:8]
        known = srv.keys.get(key_id)
        srv.evidence.key_ids_used.append(key_id)
        if known is None:
            self.writer.write(self.transport.send_error(-404))
            raise _Close()
        key, salt = known
        try:
            plain = decrypt_message(key, payload, from_server=False)
            message = InnerMessage.parse(plain)
        except (DecryptionFailed, MtcryptError):
            self.writer.write(self.transport.send_error(-404))
            raise _Close() from None
        ctx = self.contexts.get(key_id)
        if ctx is None:
            ctx = self.contexts[key_id] = ServerContext(self, key)
            ctx.server_salt = salt
        ctx.session_id = message.session_id
        ctx.client_salt = message.salt
        out: list[Out] = []
        for msg_id, body in _messages(message.body, message.msg_id, message.seq_no):
            out += self._on_message(ctx, msg_id, body, message)
        self.write(out)

    def _on_message(
        self, ctx: ServerContext, msg_id: int, body: bytes, outer: InnerMessage
    ) -> list[Out]:
        if len(body) < 4:
            return []
        (cid,) = struct.unpack_from("<I", body)
        wrapped = False
        if cid not in (_PING, _PING_DELAY) and cid not in _SERVICE_IN:
            try:
                query = unwrap_query(body).query
            except (TLError, MtcryptError, ValueError, struct.error):
                query = body
            wrapped = query is not body
            if len(query) >= 4 and struct.unpack_from("<I", query)[0] in (_PING, _PING_DELAY):
                body, cid = query, struct.unpack_from("<I", query)[0]
            else:
                return [self._rpc(ctx, msg_id, query)]
        if cid in _SERVICE_IN:
            return []
        ping_id = struct.unpack_from("<q", body, 4)[0] if len(body) >= 12 else 0
        probe = Probe(msg_id, ping_id, wrapped, outer.salt, outer.session_id)
        return self._on_ping(ctx, probe, delay=cid == _PING_DELAY)

    def _rpc(self, ctx: ServerContext, msg_id: int, query: bytes) -> bytes:
        handler = self.server.rpc_handler
        result = handler(query) if handler is not None else None
        if result is None:
            result = tl.serialize(
                tl.make("rpc_error", error_code=401, error_message="AUTH_KEY_UNREGISTERED")
            )
        body = struct.pack("<Iq", _RPC_RESULT, msg_id) + result
        return ctx.seal(ctx.message(body))

    def _on_ping(self, ctx: ServerContext, probe: Probe, *, delay: bool) -> list[Out]:
        srv = self.server
        ev = srv.evidence
        if delay or probe.ping_id not in (PING_WARMUP, PING_MUTATED, PING_SENTINEL, PING_AFTER):
            return [ctx.honest(probe)]
        ev.pings.append(probe.ping_id)
        ev.salts[probe.ping_id] = probe.salt
        plan = srv.message_plan
        if probe.ping_id in (PING_WARMUP, PING_AFTER) or plan is None:
            return [ctx.honest(probe)]
        if ev.played:
            if probe.ping_id == PING_MUTATED:
                return plan.on_resend(ctx, probe)
            return [ctx.honest(probe)]
        self.pending[probe.ping_id] = probe
        if PING_MUTATED in self.pending and PING_SENTINEL in self.pending:
            return self._play(ctx)
        if self.pair_timer is None:
            loop = asyncio.get_running_loop()
            self.pair_timer = loop.call_later(srv.pair_wait, self._play_late, ctx)
        return []

    def _play(self, ctx: ServerContext) -> list[Out]:
        srv = self.server
        if self.pair_timer is not None:
            self.pair_timer.cancel()
            self.pair_timer = None
        mutated = self.pending.pop(PING_MUTATED, None)
        sentinel = self.pending.pop(PING_SENTINEL, None)
        plan = srv.message_plan
        assert plan is not None
        if mutated is None:  # only the sentinel came: answer it, play nothing
            return [ctx.honest(sentinel)] if sentinel is not None else []
        srv.evidence.played = True
        return plan.respond(ctx, mutated, sentinel)

    def _play_late(self, ctx: ServerContext) -> None:
        self.pair_timer = None
        with contextlib.suppress(MtcryptError, ConnectionError):
            self.write(self._play(ctx))


class _Close(Exception):
    """Internal: close this connection."""


class AdversarialServer:
    """An asyncio server on ``host`` (a free port) that plays one scenario's plan.

    :param rsa_key: the server key the client trusts.
    :param handshake_plan: how to run handshakes (default: honestly).
    :param message_plan: how to answer the mutated ping (``None``: honestly).
    :param keys: auth keys known already (``key_id -> (key, salt)``), so a
        client can skip the handshake; keys created here are added.
    :param secrets: MTProxy secrets accepted (for fake-TLS scenarios).
    :param rpc_handler: answers RPC queries (Pyrogram needs ``help.getConfig``).
    :param mutate_hello: flip a bit of the fake-TLS ServerHello's HMAC.
    """

    def __init__(
        self,
        rsa_key: RsaPrivateKey,
        *,
        handshake_plan: HandshakePlan | None = None,
        message_plan: MessagePlan | None = None,
        keys: dict[bytes, tuple[AuthKey, int]] | None = None,
        secrets: Sequence[str] = (),
        rpc_handler: RpcHandler | None = None,
        mutate_hello: bool = False,
        host: str = "127.0.0.1",
        pair_wait: float = 0.5,
        rng: Rng = random_bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rsa_key = rsa_key
        self.handshake_plan = handshake_plan or HandshakePlan()
        self.message_plan = message_plan
        self.keys = keys if keys is not None else {}
        self.secrets = list(secrets)
        self.rpc_handler = rpc_handler
        self.mutate_hello = mutate_hello
        self.host = host
        self.pair_wait = pair_wait
        self.rng = rng
        self.clock = clock
        self.evidence = Evidence()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def add_key(self, key: AuthKey, salt: int) -> None:
        self.keys[key.key_id_bytes] = (key, salt)

    async def start(self) -> AdversarialServer:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def __aenter__(self) -> AdversarialServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        ev = self.evidence
        ev.connections += 1
        index = len(ev.first_bytes)
        ev.first_bytes.append(b"")
        conn = _Connection(self, writer)
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if len(ev.first_bytes[index]) < 64:
                    ev.first_bytes[index] += data[: 64 - len(ev.first_bytes[index])]
                try:
                    events = conn.transport.receive(data)
                except MtcryptError:
                    with contextlib.suppress(MtcryptError):
                        writer.write(conn.transport.send_error(-404))
                    break
                out = conn.transport.data_to_send()
                if out and not conn.hello_answered and self.secrets:
                    # The first bytes a fake-TLS server sends are its ServerHello.
                    conn.hello_answered = ev.hello_sent = True
                    if self.mutate_hello:
                        out = mutators.bad_hello_hmac(out)
                writer.write(out)
                for event in events:
                    if isinstance(event, TransportDetected):
                        ev.detected.append(event.info)
                    elif isinstance(event, Frame):
                        if event.payload[:8] == bytes(8):
                            conn.on_plain(event.payload)
                        else:
                            conn.on_encrypted(event.payload)
                await writer.drain()
        except (_Close, ConnectionError, asyncio.CancelledError):
            pass
        except MtcryptError as exc:
            ev.notes.append(f"connection: {exc}")
        finally:
            if conn.pair_timer is not None:
                conn.pair_timer.cancel()
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                await writer.drain()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
