"""The adversarial server: an MTProto server that plays one client-role scenario.

It is the real server: a :class:`~mtcrypt.connection.ServerConnection` per
client (the :class:`~mtcrypt.transport.ServerTransport` for every framing,
obfuscation and fake-TLS, the key store, a :class:`~mtcrypt.mtproto.Session`
per session, which answers pings, acks and service messages), pumped by a
small asyncio protocol.  Only the misbehaviour is its own, plugged in where
the connection layer lets a tool in:

* **the handshake** (:class:`HandshakePlan`), through ``handshake_factory``:
  :class:`AdversarialHandshake` lets the real
  :class:`~mtcrypt.handshake.ServerHandshake` answer and check every step, and
  changes only what the plan names: fields in the clear, the encrypted answer
  of ``server_DH_params`` (for which it opens the client's RSA block once more
  to learn ``new_nonce``) and, when the plan changes the DH group or ``g_a``,
  the last step, whose key is the one the client computes with them;
* **the messages** (:class:`MessagePlan`): the ``message`` hook holds back
  the session's own pongs to the mutated and the sentinel ping (the sessions
  seal one message per packet, ``max_container_messages=1``, so every pong
  passes the hook on its own); the plan's answers are numbered by the same
  session (:class:`ServerContext`) and sent with ``send_packet``/``send_raw``;
  the ``received`` hook notes which packet, with which salt, carried each ping;
* **the transport**: the ``wire`` hook damages the fake-TLS ServerHello.

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
from ..._random import random_bytes
from ..._validation import Clock, Rng
from ...connection import (
    ConnectionEvent,
    ConnectionHooks,
    HandshakeFailed,
    IncomingRequest,
    KeyStore,
    MemoryKeyStore,
    ServerConnection,
    StoredKey,
    TransportReady,
)
from ...errors import HandshakeError, MtcryptError
from ...handshake import (
    HandshakeResult,
    RsaScheme,
    ServerHandshake,
    int_to_be,
    new_nonce_hash,
    server_salt,
)
from ...handshake.dh import TELEGRAM_DH_G, TELEGRAM_DH_PRIME, modexp
from ...handshake.rsa import RsaPrivateKey, rsa_legacy_decrypt, rsa_pad_decrypt
from ...mtproto import (
    AuthKey,
    InnerMessage,
    next_msg_id,
    pack_plain,
    unpack_plain,
)
from ...transport import ProxySecret, ServerTransport
from .. import mutators
from ._shared import (
    Out,
    Pump,
    Raw,
    SessionContext,
    contents,
    plain_object,
    power_below,
    read_prefix,
)
from .numbering import Sent, sent_messages

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

_PROBES = (PING_WARMUP, PING_MUTATED, PING_SENTINEL, PING_AFTER)


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
    g_a_below: int | None = None
    """Draw the server's exponent until g_a is below ``2^g_a_below`` (and in
    range): a legal value a normal run meets rarely, forced."""
    g_a_padded: bool = False
    """Send g_a in 256 bytes even when it is shorter (a leading zero byte)."""
    params_fail: bool = False
    params_fail_mutate: Callable[[tl.TLObject], tl.TLObject] | None = None
    dh_gen: Literal["ok", "retry", "fail"] = "ok"
    dh_gen_mutate: Callable[[tl.TLObject], tl.TLObject] | None = None
    observe_rsa: bool = False
    """Judge which RSA padding the client's req_DH_params used (the legacy
    SHA-1 padding is deprecated: ``accepted`` means it used it)."""
    expect_dc: int | None = None
    """Judge instead the DC id in the client's p_q_inner_data_dc: this one."""
    accept_on_next: bool = False
    """Judge by whether the client goes on after ``step`` (sends the next
    handshake message): for a legal value whose key the adversary cannot
    compute, so that the handshake cannot complete."""
    hash_number: int | None = None
    """Send the dh_gen answer with the new_nonce_hash of another answer type
    (1 ok, 2 retry, 3 fail) in its field: the swap the distinct hashes stop."""
    retry_flow: bool = False
    """After the first ``dh_gen_retry``, expect a new ``set_client_DH_params``
    whose ``retry_id`` is the rejected key's aux hash and answer ``dh_gen_ok``
    (a wrong retry_id fails the handshake, as the real server checks it)."""
    refuse: Literal["req_DH_params", "set_client_DH_params"] | None = None
    """Answer the scenario's first query of this name with transport error
    -404 (what a server answers an incorrect handshake query) and close; judged:
    the client starts again, on a new connection, with a new nonce, and
    completes the handshake there (the runner lets it reconnect)."""

    @property
    def reconnect(self) -> bool:
        """Whether the client must connect again within the scenario."""
        return self.refuse is not None

    @property
    def changes_group(self) -> bool:
        """Whether the DH prime, g or g_a is not the honest server's."""
        return (
            self.dh_prime != TELEGRAM_DH_PRIME
            or self.g != TELEGRAM_DH_G
            or self.g_a is not None
            or self.g_a_below is not None
        )

    @property
    def rewrites_answer(self) -> bool:
        """Whether the encrypted answer of ``server_DH_params`` is changed."""
        return self.changes_group or bool(
            self.inner or self.digest or self.padding is not None or self.misalign
        )

    def mutation_for(self, name: str) -> Callable[[tl.TLObject], tl.TLObject] | None:
        """The change to an answer in the clear, by its constructor name."""
        if name == "resPQ":
            return self.res_pq
        if name == "server_DH_params_ok":
            return self.params_ok
        if name == "server_DH_params_fail":
            return self.params_fail_mutate
        if name.startswith("dh_gen_"):
            return self.dh_gen_mutate
        return None


Observation = Literal[
    "delivery",
    "salt",
    "msg_ids",
    "msg_id_time",
    "seq_no",
    "resend",
    "clock",
    "first_salt",
    "new_session_ack",
    "temp_key_lost",
]
"""What the runner judges of a :class:`MessagePlan` (see its ``observe``)."""


@dataclass(frozen=True)
class Probe:
    """A ping the client sent."""

    msg_id: int
    ping_id: int
    wrapped: bool
    """Sent as an RPC (inside ``invokeWith*``): answered with ``rpc_result(pong)``."""
    salt: int
    session_id: int


class MessagePlan:
    """How the adversarial server answers the mutated ping (and the sentinel).

    Subclasses override :meth:`respond`; the default answers both honestly.
    ``observe`` is ``"delivery"`` (was the mutated pong delivered to the
    application?), ``"salt"`` (did the client's last ping carry
    :attr:`salt`?), or how the client numbered every message it sent in the
    session (:mod:`~mtcrypt.testing.conformance.numbering`): ``"msg_ids"``
    (0 mod 4, each above the one before), ``"msg_id_time"`` (the time of
    sending, sub-second part included) or ``"seq_no"``; ``"resend"`` (did the
    mutated ping come again under a new msg_id from a clock moved by
    :attr:`offset`?) or ``"clock"`` (did the last ping's msg_id move by
    :attr:`offset`?); ``"first_salt"`` (was the salt of the first message
    under each new key the one the handshake gave?); ``"new_session_ack"``
    (did the client acknowledge new_session_created, if it acknowledged
    anything?).
    """

    observe: Observation = "delivery"
    salt: int | None = None
    offset: float = 0.0
    """``resend``/``clock``: the server time the plan claimed, minus the real one."""
    must_resend: bool = True
    """``resend``: a client that does not re-send at all fails (else: nothing to judge)."""
    fresh_key: bool = False
    """The client must make its key in this run (not reuse one made before)."""
    clock_offset: float = 0.0
    """The adversarial server's clock runs this many seconds off the real one
    (with :attr:`fresh_key`: the client learns the server's time in the handshake)."""
    reconnect: bool = False
    """The plan ends the client's connection (:meth:`ServerContext.lose_key`): the
    runner lets the client connect again within the scenario, and the server
    judges every connection."""

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
    or one whose HMAC is wrong (``bad_hmac``), or whose layout is (``bad_layout``)."""

    bad_hmac: bool
    secret: str = "ee" + "5d" * 16 + b"www.example.com".hex()
    bad_layout: bool = False
    """A valid HMAC over an answer whose change_cipher_spec record is wrong."""


# ---- what the server saw -------------------------------------------------------------


@dataclass
class Evidence:
    """Everything the adversarial server observed during one scenario."""

    connections: int = 0
    first_bytes: list[bytes] = field(default_factory=list)
    handshake_steps: list[str] = field(default_factory=list)
    keys: list[AuthKey] = field(default_factory=list)
    """Keys the server confirmed with ``dh_gen_ok`` (honest or not), in order."""
    keys_offered: list[AuthKey] = field(default_factory=list)
    """Every key the server computed (also those answered with retry or fail)."""
    rsa_schemes: list[str] = field(default_factory=list)
    nonces: list[bytes] = field(default_factory=list)
    """The nonce of each req_pq_multi (or req_pq), in order."""
    refused: int = 0
    """Handshake queries answered with -404 by the plan (:attr:`HandshakePlan.refuse`)."""
    lost_keys: dict[int, StoredKey] = field(default_factory=dict)
    """key_id -> the temporary keys the plan made the server forget (with their binding)."""
    lost_at: int | None = None
    """len(key_ids_used) when the first key was lost: the packets after it came after the -404."""
    pq_inners: list[tl.TLObject] = field(default_factory=list)
    """The client's p_q_inner_data of each req_DH_params (when the plan asks)."""
    """The RSA padding of each req_DH_params (when the plan asks): rsa_pad or legacy."""
    retries: int = 0
    """set_client_DH_params the client sent again after dh_gen_retry (in one handshake)."""
    key_ids_used: list[int] = field(default_factory=list)
    """Key ids of the encrypted packets that decrypted (one entry per packet)."""
    server_sent: list[Sent] = field(default_factory=list)
    """Every encrypted message the server sent (a container's messages, then the container)."""
    acked: set[int] = field(default_factory=set)
    """msg_ids the client acknowledged with msgs_ack."""
    client_sent: dict[int, list[Sent]] = field(default_factory=dict)
    """session_id -> every message the client sent in it (a container's messages, then the
    container), in arrival order."""
    salts: dict[int, int] = field(default_factory=dict)
    """ping_id -> salt of the packet that carried it (the last one, if re-sent)."""
    initial_salts: dict[int, int] = field(default_factory=dict)
    """key_id -> new_nonce[0:8] XOR server_nonce[0:8] of the handshake that made the key."""
    first_salts: dict[int, int] = field(default_factory=dict)
    """key_id -> the salt of the client's first encrypted message under the key."""
    ping_msg_ids: dict[int, list[tuple[int, float]]] = field(default_factory=dict)
    """ping_id -> (msg_id, arrival time) of each copy of the ping, in arrival order."""
    pings: list[int] = field(default_factory=list)
    detected: list[object] = field(default_factory=list)
    hello_sent: bool = False
    played: bool = False
    notes: list[str] = field(default_factory=list)

    def proceeded_after(self, step: str) -> bool:
        """Whether the client sent the handshake message that follows ``step``
        (after ``dh_gen``: a retry of set_client_DH_params)."""
        if step == "dh_gen":
            return self.retries > 0
        following = {"resPQ": "req_DH_params", "server_DH_params": "set_client_DH_params"}
        nxt = following.get(step)
        return nxt is not None and nxt in self.handshake_steps

    @property
    def zero_lead_key(self) -> bool:
        """A computed key started with a zero byte (Telethon mishandles those)."""
        return any(k.key[0] == 0 for k in self.keys_offered)


# ---- the handshake -------------------------------------------------------------------


def _prefix_length(data: bytes) -> int | None:
    found = read_prefix(data)
    return None if found is None else found[1]


@dataclass
class _Group:
    """A DH exchange in a group (or with a g_a) of the plan's choosing: what
    the last step needs, since the real handshake did not compute it."""

    inner: tl.TLObject  # the client's p_q_inner_data: the nonces
    scheme: RsaScheme
    dh_prime: int
    a: int
    last_msg_id: int
    attempts: int = 0


class AdversarialHandshake:
    """The server side of auth-key creation, misplayed by a :class:`HandshakePlan`
    (a :class:`~mtcrypt.connection.HandshakeResponder`).

    The real :class:`~mtcrypt.handshake.ServerHandshake` answers and checks
    every step; its ``decide`` callback records every key (and adds it to
    ``keys``, so a client going on with a refused key is seen using it) and
    answers ``dh_gen_ok``, ``retry`` or ``fail`` as the plan says.  What this
    object adds is the plan's changes to the answers: the fields in the clear
    (:meth:`HandshakePlan.mutation_for`), the encrypted answer of
    ``server_DH_params``, and the last step when the plan changes the DH group
    or g_a.
    """

    def __init__(
        self,
        rsa_key: RsaPrivateKey,
        plan: HandshakePlan,
        evidence: Evidence,
        *,
        keys: KeyStore | None = None,
        rng: Rng = random_bytes,
        clock: Clock = time.time,
    ) -> None:
        # duplicates: deliberate -- the arguments, stored one per line as every constructor
        # here stores its own.
        self._rsa_key = rsa_key
        self._plan = plan
        self._evidence = evidence
        self._keys = keys
        self._rng = rng
        self._clock = clock
        self._honest = ServerHandshake(
            rsa_key,
            decide=self._decide,
            fail_dh_params=plan.params_fail,
            rng=rng,
            clock=clock,
        )
        self._group: _Group | None = None
        self._result: HandshakeResult | None = None
        self._inner: tl.TLObject | None = None  # the client's p_q_inner_data, when needed

    @property
    def done(self) -> bool:
        return self._honest.done if self._group is None else self._result is not None

    @property
    def result(self) -> HandshakeResult:
        if self._result is not None:
            return self._result
        return self._honest.result

    def receive(self, packet: bytes) -> bytes:
        return self.receive_with(packet, self._rng, self._clock())

    def receive_with(self, packet: bytes, rng: Rng, now: float) -> bytes:
        """Answer one client packet; raises :class:`HandshakeError` as the real one does."""
        request = plain_object(packet)
        if request is not None:
            self._evidence.handshake_steps.append(request.name)
            if request.name in ("req_pq_multi", "req_pq"):
                self._evidence.nonces.append(bytes(request.nonce))
            elif request.name == self._plan.refuse and not self._evidence.refused:
                self._evidence.refused += 1
                raise HandshakeError("refused", f"the plan answers {request.name} with -404")
        if self._group is not None:
            answer = self._last_step(self._group, request, now)
        else:
            answer = self._honest.receive_with(packet, rng, now)
            if request is not None and request.name == "req_DH_params":
                if self._plan.hash_number is not None or self._plan.observe_rsa:
                    self._inner, scheme = self._client_inner(request.encrypted_data)
                    self._evidence.rsa_schemes.append(scheme)
                    self._evidence.pq_inners.append(self._inner)
                answer = self._rewrite_answer(request, answer, rng)
        if self.done:
            result = self.result
            self._evidence.initial_salts.setdefault(result.auth_key.key_id, result.server_salt)
        msg_id, body = unpack_plain(answer)
        obj = tl.deserialize(body)
        mutate = self._plan.mutation_for(obj.name)
        if self._plan.hash_number is not None and obj.name.startswith("dh_gen_"):
            obj = self._swap_hash(obj, self._plan.hash_number)
            answer = pack_plain(msg_id, tl.serialize(obj))
        return answer if mutate is None else pack_plain(msg_id, tl.serialize(mutate(obj)))

    def _swap_hash(self, answer: tl.TLObject, number: int) -> tl.TLObject:
        """``answer`` carrying new_nonce_hash``number`` of the last key offered."""
        inner = self._inner if self._group is None else self._group.inner
        assert inner is not None and self._evidence.keys_offered
        key = self._evidence.keys_offered[-1]
        name = next(f for f in answer.fields if f.startswith("new_nonce_hash"))
        value = new_nonce_hash(inner.new_nonce, number, key.aux_hash)
        return mutators.tl_replace(answer, **{name: value})

    def _decide(self, key: AuthKey, attempt: int) -> Literal["ok", "retry", "fail"]:
        plan, evidence = self._plan, self._evidence
        evidence.keys_offered.append(key)
        evidence.retries = max(evidence.retries, attempt)
        if self._keys is not None:
            self._keys.add(StoredKey(key, 0, created_at=self._clock()))
        kind: Literal["ok", "retry", "fail"] = (
            "ok" if plan.retry_flow and attempt > 0 else plan.dh_gen
        )
        if kind == "ok":
            evidence.keys.append(key)
        return kind

    def _client_inner(self, encrypted: bytes) -> tuple[tl.TLObject, RsaScheme]:
        """The client's p_q_inner_data, opened once more (the real handshake
        has checked it), and the RSA padding it came in."""
        scheme: RsaScheme = "rsa_pad"
        try:
            data = rsa_pad_decrypt(encrypted, self._rsa_key)
        except HandshakeError:
            scheme = "legacy"
            data = rsa_legacy_decrypt(encrypted, self._rsa_key, _prefix_length)
        found = read_prefix(data)
        assert found is not None
        return found[0], scheme

    def _rewrite_answer(self, request: tl.TLObject, answer: bytes, rng: Rng) -> bytes:
        msg_id, body = unpack_plain(answer)
        params = tl.deserialize(body)
        plan = self._plan
        if params.name != "server_DH_params_ok" or not plan.rewrites_answer:
            return answer
        client, scheme = self._client_inner(request.encrypted_data)
        server_nonce, new_nonce = client.server_nonce, client.new_nonce
        _, plain = mutators.open_answer(params.encrypted_answer, server_nonce, new_nonce)
        found = read_prefix(plain)
        assert found is not None  # the real handshake's own answer
        inner = found[0]
        if plan.changes_group:
            p = plan.dh_prime
            if plan.g_a_below is not None:
                a, g_a = power_below(plan.g, p, plan.g_a_below, rng)
            else:
                a = int.from_bytes(rng(256), "big") % (p - 2) + 1
                g_a = modexp(plan.g, a, p) if plan.g_a is None else plan.g_a
            encoded = g_a.to_bytes(256, "big") if plan.g_a_padded else int_to_be(g_a)
            inner = mutators.tl_replace(inner, g=plan.g, dh_prime=int_to_be(p), g_a=encoded)
            self._group = _Group(client, scheme, p, a, msg_id)
        if plan.inner:
            inner = plan.inner(inner)
        data = tl.serialize(inner)
        padding = None
        if plan.padding is not None:
            base = -(20 + len(data)) % 16
            padding = rng(base + 16 * ((plan.padding - base + 15) // 16))
        digest = plan.digest(data) if plan.digest else None
        encrypted = mutators.seal_answer(
            data, server_nonce, new_nonce, digest=digest, padding=padding, rng=rng
        )
        if plan.misalign:
            encrypted += rng(4)
        params = mutators.tl_replace(params, encrypted_answer=encrypted)
        return pack_plain(msg_id, tl.serialize(params))

    def _client_key(self, group: _Group, g_b: int) -> AuthKey:
        """The key the client computes from our g_a (a guess for the degenerate ones)."""
        forced = self._plan.g_a
        if forced == 0:
            return AuthKey(bytes(256))
        if forced is not None and forced in (1, group.dh_prime - 1):
            return AuthKey.from_int(1)  # (p-1)^b is 1 for even b: a guess
        value = modexp(g_b, group.a, group.dh_prime)
        return AuthKey(bytes(256)) if value == 0 else AuthKey.from_int(value)

    def _last_step(self, group: _Group, request: tl.TLObject | None, now: float) -> bytes:
        """set_client_DH_params in the plan's group: the key is computed here."""
        if request is None or request.name != "set_client_DH_params":
            raise HandshakeError("unexpected_message", "expected set_client_DH_params")
        client = group.inner
        nonce, server_nonce, new_nonce = client.nonce, client.server_nonce, client.new_nonce
        encrypted: bytes = request.encrypted_data
        _, plain = mutators.open_answer(encrypted[: len(encrypted) & ~15], server_nonce, new_nonce)
        found = read_prefix(plain)
        if found is None or found[0].name != "client_DH_inner_data":
            raise HandshakeError("client_DH_inner_data", "cannot open it")
        key = self._client_key(group, int.from_bytes(found[0].g_b, "big"))
        kind = self._decide(key, group.attempts)
        group.attempts += 1
        if kind == "ok":
            self._result = HandshakeResult(
                auth_key=key,
                server_salt=server_salt(new_nonce, server_nonce),
                time_offset=0,
                expires_at=None,
                dc=None,
                retries=group.attempts - 1,
                rsa_scheme=group.scheme,
                inner_data=group.inner.name,
            )
        answer = mutators.dh_gen_answer(kind, nonce, server_nonce, new_nonce, key)
        group.last_msg_id = next_msg_id(now, group.last_msg_id, 1)
        return pack_plain(group.last_msg_id, tl.serialize(answer))


# ---- the message layer ---------------------------------------------------------------


class ServerContext(SessionContext):
    """What a :class:`MessagePlan` works with: the server's side of the
    client's session (a :class:`SessionContext`), and the replies to its
    pings (:meth:`answer`, :meth:`honest`)."""

    @property
    def server_salt(self) -> int:
        return self.session.salt

    def next_msg_id(self, *, response: bool = True) -> int:
        """A fresh msg_id from the session (a reply's, 1 mod 4, by default)."""
        return self.numbered(content_related=False, response=response).msg_id

    # duplicates: deliberate -- one keyword-only override per message field: the public
    # signature (it reads like other keyword-only signatures).
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
        """A reply from the server in the client's session, numbered by the
        session; every field can be overridden."""
        numbered = self.numbered(content_related=content_related, response=True)
        message = InnerMessage(
            salt=numbered.salt if salt is None else salt,
            session_id=numbered.session_id if session_id is None else session_id,
            msg_id=numbered.msg_id if msg_id is None else msg_id,
            seq_no=numbered.seq_no if seq_no is None else seq_no,
            body=body,
        )
        self.sent.append(message.msg_id)
        return message

    @staticmethod
    def pong_body(probe: Probe, *, wrapped: bool | None = None) -> bytes:
        """``pong`` for ``probe`` (inside ``rpc_result`` if it came as an RPC)."""
        pong = tl.make("pong", msg_id=probe.msg_id, ping_id=probe.ping_id)
        if probe.wrapped if wrapped is None else wrapped:
            return tl.serialize(tl.make("rpc_result", req_msg_id=probe.msg_id, result=pong))
        return tl.serialize(pong)

    def answer(self, probe: Probe, **fields: Any) -> InnerMessage:
        """The honest answer to ``probe`` as a message (fields overridable)."""
        return self.message(self.pong_body(probe), **fields)

    def honest(self, probe: Probe) -> bytes:
        """The honest answer to ``probe``, sealed."""
        return self.seal(self.answer(probe))

    def lose_key(self) -> Raw:
        """Make the server forget this session's key (as a server may drop a
        temporary key at any time) and the transport error -404 it then answers
        with, framed; the client's later packets under the key get -404 too."""
        peer = self.pump
        assert isinstance(peer, _Peer)
        server = peer.server
        key_id = self.auth_key.key_id
        entry = server.keys.get(key_id, server.clock())
        if entry is not None:
            server.evidence.lost_keys[key_id] = entry
            server.keys.remove(key_id)
        if server.evidence.lost_at is None:
            server.evidence.lost_at = len(server.evidence.key_ids_used)
        return Raw(self.frame(struct.pack("<i", -404)))

    def quick_ack(self, token: int) -> Raw:
        """A transport quick-ack carrying ``token`` (its top bit set), framed and
        obfuscated as the connection's transport sends it."""
        assert isinstance(self.transport, ServerTransport)
        return Raw(self.transport.send_quick_ack(token))


class _Hooks(ConnectionHooks):
    """The connection's hooks, handing what they see to the :class:`_Peer`."""

    def __init__(self, peer: _Peer) -> None:
        self._peer = peer

    def message(self, message: InnerMessage) -> InnerMessage | None:
        for _, body in contents(message):
            if isinstance(body, tl.TLObject) and body.name == "pong":
                if not self._peer.on_pong(message.session_id, body):
                    return None  # held back: the plan answers this ping
        self._peer.sent.append(message.msg_id)
        server = self._peer.server
        server.evidence.server_sent.extend(sent_messages(message, server.clock()))
        return message

    def received(self, key_id: int, message: InnerMessage) -> None:
        peer = self._peer
        peer.server.evidence.key_ids_used.append(key_id)
        peer.server.evidence.first_salts.setdefault(key_id, message.salt)
        peer.server.evidence.client_sent.setdefault(message.session_id, []).extend(
            sent_messages(message, peer.server.clock())
        )
        peer.last_salt = message.salt
        for msg_id, body in contents(message):
            peer.salts[msg_id] = message.salt
            if isinstance(body, tl.TLObject) and body.name == "ping_delay_disconnect":
                peer.delay_pings.add(msg_id)
            elif isinstance(body, tl.TLObject) and body.name == "msgs_ack":
                acked: list[int] = body.msg_ids
                peer.server.evidence.acked.update(acked)

    def wire(self, data: bytes) -> bytes:
        peer, server = self._peer, self._peer.server
        if server.secrets and not peer.hello_answered and data[:3] == b"\x16\x03\x03":
            # The first TLS record a fake-TLS server sends is its ServerHello.
            peer.hello_answered = server.evidence.hello_sent = True
            if server.mutate_hello == "layout":
                key = ProxySecret.parse(server.secrets[0]).key
                client_random = server.evidence.first_bytes[peer.index][11:43]
                return mutators.server_hello_bad_layout(data, key, client_random)
            if server.mutate_hello:
                return mutators.bad_hello_hmac(data)
        return data


class _Peer(Pump):
    """One client's connection: a :class:`ServerConnection`, pumped."""

    def __init__(self, server: AdversarialServer) -> None:
        super().__init__(server.clock)
        self.server = server
        evidence = server.evidence
        evidence.connections += 1
        self.index = len(evidence.first_bytes)
        evidence.first_bytes.append(b"")
        self.transport = ServerTransport(
            secrets=server.secrets,
            allow_plain=True,
            allow_secretless=True,
            max_padding=3,
            rng=server.rng,
            clock=server.clock,
        )
        self.conn: ServerConnection = ServerConnection(
            server.rsa_key,
            keys=server.keys,
            transport=self.transport,
            check_salt=False,
            handshake_factory=lambda: AdversarialHandshake(
                server.rsa_key,
                server.handshake_plan,
                evidence,
                keys=server.keys,
                rng=server.rng,
                clock=server.clock,
            ),
            session_options={"max_container_messages": 1},
            hooks=_Hooks(self),
            rng=server.rng,
            clock=server.clock,
        )
        self.last_salt = 0
        self.salts: dict[int, int] = {}  # msg_id -> salt of the packet that carried it
        self.delay_pings: set[int] = set()  # msg_ids of ping_delay_disconnect
        self.contexts: dict[int, ServerContext] = {}
        self.pending: dict[int, Probe] = {}
        self.due: list[Callable[[], list[Out]]] = []
        self.pair_timer: asyncio.TimerHandle | None = None
        self.hello_answered = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.server._peers.add(self)
        self.flush()

    def data_received(self, data: bytes) -> None:
        evidence = self.server.evidence
        first = evidence.first_bytes[self.index]
        if len(first) < 64:
            evidence.first_bytes[self.index] = first + data[: 64 - len(first)]
        super().data_received(data)

    def shutdown(self) -> None:
        if not self.conn.closed:
            self.process(self.conn.close("server shutdown"))
        if self.socket is not None:
            self.socket.abort()

    def process(self, events: list[ConnectionEvent]) -> None:
        evidence = self.server.evidence
        for event in events:
            if isinstance(event, IncomingRequest):
                self._on_request(event)
            elif isinstance(event, TransportReady):
                evidence.detected.append(event.info)
            elif isinstance(event, HandshakeFailed):
                evidence.notes.append(f"handshake: {event.check}")
        self.flush()  # the sessions' output passes the hooks here
        while self.due and not self.conn.closed:
            try:
                self.send(self.due.pop(0)())
            except MtcryptError as exc:  # a plan that cannot be played here
                evidence.notes.append(f"plan: {exc}")
            self.flush()
        if self.conn.closed:
            if self.pair_timer is not None:
                self.pair_timer.cancel()
            self.server._peers.discard(self)

    def on_pong(self, session_id: int, pong: tl.TLObject) -> bool:
        """The session answered a ping: False holds the pong back."""
        ping_msg_id: int = pong.msg_id
        if ping_msg_id in self.delay_pings:
            return True
        salt = self.salts.get(ping_msg_id, self.last_salt)
        return self._on_probe(Probe(ping_msg_id, pong.ping_id, False, salt, session_id))

    def _on_request(self, request: IncomingRequest) -> None:
        try:
            query = tl.deserialize_body(request.query)
        except MtcryptError:
            query = b""
        if isinstance(query, tl.TLObject) and query.name in ("ping", "ping_delay_disconnect"):
            salt = self.salts.get(request.msg_id, self.last_salt)
            probe = Probe(request.msg_id, query.ping_id, True, salt, request.session_id)
            if query.name == "ping_delay_disconnect" or self._on_probe(probe):
                pong = tl.make("pong", msg_id=request.msg_id, ping_id=query.ping_id)
                self.conn.answer(request, tl.serialize(pong))
            return
        handler = self.server.rpc_handler
        result = handler(request.query) if handler is not None else None
        if result is None:
            self.conn.answer_error(request, 401, "AUTH_KEY_UNREGISTERED")
        else:
            self.conn.answer(request, result)

    def _on_probe(self, probe: Probe) -> bool:
        """A ping arrived: True to answer it honestly now, False to hold it."""
        if probe.ping_id not in _PROBES:
            return True
        evidence = self.server.evidence
        evidence.pings.append(probe.ping_id)
        evidence.salts[probe.ping_id] = probe.salt
        copies = evidence.ping_msg_ids.setdefault(probe.ping_id, [])
        copies.append((probe.msg_id, self.server.clock()))
        plan = self.server.message_plan
        if plan is None or probe.ping_id in (PING_WARMUP, PING_AFTER):
            return True
        if evidence.played:
            if probe.ping_id != PING_MUTATED:
                return True
            self.due.append(lambda: plan.on_resend(self._context(probe.session_id), probe))
            return False
        self.pending[probe.ping_id] = probe
        if PING_MUTATED in self.pending and PING_SENTINEL in self.pending:
            self.due.append(self._play)
        elif self.pair_timer is None:
            loop = asyncio.get_running_loop()
            self.pair_timer = loop.call_later(self.server.pair_wait, self._play_late)
        return False

    def _context(self, session_id: int) -> ServerContext:
        ctx = self.contexts.get(session_id)
        if ctx is None:
            key_id, session = next(
                (k, s) for (k, sid), s in self.conn.sessions.items() if sid == session_id
            )
            entry = self.server.keys.get(key_id, self.server.clock())
            assert entry is not None
            ctx = ServerContext(self, entry.auth_key, session, self.transport, self.server.rng)
            self.contexts[session_id] = ctx
        return ctx

    def _play(self) -> list[Out]:
        if self.pair_timer is not None:
            self.pair_timer.cancel()
            self.pair_timer = None
        mutated = self.pending.pop(PING_MUTATED, None)
        sentinel = self.pending.pop(PING_SENTINEL, None)
        plan = self.server.message_plan
        assert plan is not None
        if mutated is None:  # only the sentinel came: answer it, play nothing
            return [] if sentinel is None else [self._context(sentinel.session_id).honest(sentinel)]
        self.server.evidence.played = True
        return plan.respond(self._context(mutated.session_id), mutated, sentinel)

    def _play_late(self) -> None:
        self.pair_timer = None
        if not self.conn.closed:
            self.due.append(self._play)
            self.process([])


class AdversarialServer:
    """An asyncio server on ``host`` (a free port) that plays one scenario's plan.

    :param rsa_key: the server key the client trusts.
    :param handshake_plan: how to run handshakes (default: honestly).
    :param message_plan: how to answer the mutated ping (``None``: honestly).
    :param keys: the :class:`~mtcrypt.connection.KeyStore` (keys known
        already let a client skip the handshake); keys created here are added.
    :param secrets: MTProxy secrets accepted (for fake-TLS scenarios).
    :param rpc_handler: answers RPC queries (Pyrogram needs ``help.getConfig``).
    :param mutate_hello: flip a bit of the fake-TLS ServerHello's HMAC (True or
        ``"hmac"``), or break its record layout under a valid HMAC (``"layout"``).
    """

    def __init__(
        self,
        rsa_key: RsaPrivateKey,
        *,
        handshake_plan: HandshakePlan | None = None,
        message_plan: MessagePlan | None = None,
        keys: KeyStore | None = None,
        secrets: Sequence[str] = (),
        rpc_handler: RpcHandler | None = None,
        mutate_hello: bool | Literal["hmac", "layout"] = False,
        host: str = "127.0.0.1",
        pair_wait: float = 0.5,
        rng: Rng = random_bytes,
        clock: Clock = time.time,
    ) -> None:
        # duplicates: deliberate -- the arguments, stored (defaults filled in) one per line as
        # every constructor here stores its own.
        self.rsa_key = rsa_key
        self.handshake_plan = handshake_plan or HandshakePlan()
        self.message_plan = message_plan
        self.keys: KeyStore = keys if keys is not None else MemoryKeyStore()
        self.secrets = list(secrets)
        self.rpc_handler = rpc_handler
        self.mutate_hello = mutate_hello
        self.host = host
        self.pair_wait = pair_wait
        self.rng = rng
        self.clock = clock
        self.evidence = Evidence()
        self._server: asyncio.Server | None = None
        self._peers: set[_Peer] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def add_key(self, key: AuthKey, salt: int) -> None:
        """Trust an existing key (as if a handshake had created it)."""
        self.keys.add(StoredKey(key, salt, created_at=self.clock()))

    async def start(self) -> AdversarialServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Peer(self), self.host, 0)
        return self

    async def close(self) -> None:
        server = self._server
        if server is None:  # never started: no peers either
            return
        server.close()
        for peer in list(self._peers):
            peer.shutdown()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)

    async def __aenter__(self) -> AdversarialServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
