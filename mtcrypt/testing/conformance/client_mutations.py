"""The built-in mutation kinds that test a **client** (played by the adversarial server).

Each is registered under its name with :func:`~.scenarios.register_mutation`
and returns a plan for :class:`~.adversary.AdversarialServer`:
a :class:`~.adversary.HandshakePlan`, a :class:`~.adversary.MessagePlan`, a
:class:`~.adversary.HeaderPlan` or a :class:`~.adversary.FakeTlsPlan`.  The
first line of each docstring is what ``--list`` shows.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import replace
from typing import Literal

from ... import tl
from ...errors import InvalidArgument
from ...handshake.dh import TELEGRAM_DH_PRIME
from ...mtproto import (
    HEADER_SIZE,
    MIN_PADDING,
    InnerMessage,
    Role,
    encrypt_message,
    pack_plain,
)
from .. import mutators
from ._shared import container_attack, forged, length_attack, nonce_mutator
from .adversary import (
    FakeTlsPlan,
    HandshakePlan,
    HeaderPlan,
    MessagePlan,
    Out,
    Probe,
    Raw,
    ServerContext,
)
from .scenarios import _registrar

__all__: list[str] = []


_client = _registrar(Role.CLIENT)


# ---- handshake ----------------------------------------------------------------------


# duplicates: deliberate -- one small registered builder per mutation kind (the registry's
# declarations); the server-role kinds in mirror.py read alike.
@_client("handshake_honest", "handshake")
def _handshake_honest() -> HandshakePlan:
    """An honest handshake (the control: every client must complete it)."""
    return HandshakePlan()


@_client("handshake_rsa_scheme", "handshake")
def _handshake_rsa_scheme() -> HandshakePlan:
    """An honest handshake; judged: the RSA padding of req_DH_params, RSA_PAD or the legacy
    SHA-1 padding the spec replaced (servers still take it) (H1)."""
    return HandshakePlan(observe_rsa=True)


@_client("handshake_dc_id", "handshake")
def _handshake_dc_id(dc: int = 2) -> HandshakePlan:
    """An honest handshake with DC ``dc`` (the runner's endpoints are DC 2); judged: the DC id
    in the client's p_q_inner_data_dc (H1)."""
    return HandshakePlan(observe_rsa=True, expect_dc=dc)


@_client("res_pq_nonce", "handshake")
def _res_pq_nonce() -> HandshakePlan:
    """resPQ whose nonce is not the client's (H2)."""
    return HandshakePlan(step="resPQ", res_pq=mutators.wrong_nonce)


@_client("res_pq_unknown_fingerprints", "handshake")
def _res_pq_fingerprints() -> HandshakePlan:
    """resPQ offering only RSA keys the client does not know (H2)."""
    return HandshakePlan(step="resPQ", res_pq=mutators.unknown_fingerprints)


@_client("res_pq_long_pq", "handshake")
def _res_pq_long_pq() -> HandshakePlan:
    """resPQ whose pq (32 bytes, 3 times a prime) makes p_q_inner_data longer than the 144
    bytes RSA_PAD carries: the client must stop before req_DH_params (H1)."""
    return HandshakePlan(step="resPQ", res_pq=mutators.long_pq)


@_client("dh_params_nonce", "handshake")
def _dh_params_nonce(field: str = "nonce") -> HandshakePlan:
    """server_DH_params_ok with a wrong nonce or server_nonce in the clear (H2)."""
    return HandshakePlan(step="server_DH_params", params_ok=nonce_mutator(field))


@_client("dh_inner_nonce", "handshake")
def _dh_inner_nonce(field: str = "nonce") -> HandshakePlan:
    """server_DH_inner_data (inside the encrypted answer) with a wrong nonce or
    server_nonce (H2)."""
    return HandshakePlan(step="server_DH_params", inner=nonce_mutator(field))


@_client("dh_answer_hash", "handshake")
def _dh_answer_hash() -> HandshakePlan:
    """encrypted_answer whose SHA1(answer) is wrong, everything else valid (H2)."""
    return HandshakePlan(step="server_DH_params", digest=mutators.bad_sha1)


@_client("dh_answer_padding", "handshake")
def _dh_answer_padding(length: int = 16) -> HandshakePlan:
    """encrypted_answer with ``length`` (16 or more) bytes of padding after the answer (H2)."""
    return HandshakePlan(step="server_DH_params", padding=length)


@_client("dh_answer_misaligned", "handshake")
def _dh_answer_misaligned() -> HandshakePlan:
    """encrypted_answer whose length is not a multiple of 16 (H2)."""
    return HandshakePlan(step="server_DH_params", misalign=True)


@_client("dh_prime", "handshake")
def _dh_prime(prime: str = "non_safe") -> HandshakePlan:
    """DH with another prime: ``non_safe`` (2048 bits, (p-1)/2 composite), ``short`` (1024-bit
    safe) or ``composite`` (Telegram's prime + 2, not prime at all) (H3)."""
    if prime == "non_safe":
        return HandshakePlan(step="server_DH_params", dh_prime=mutators.NON_SAFE_PRIME, g=3)
    if prime == "short":
        return HandshakePlan(step="server_DH_params", dh_prime=mutators.SHORT_SAFE_PRIME, g=2)
    if prime == "composite":
        return HandshakePlan(step="server_DH_params", dh_prime=TELEGRAM_DH_PRIME + 2, g=3)
    raise ValueError("prime must be 'non_safe', 'short' or 'composite'")


@_client("dh_generator", "handshake")
def _dh_generator(g: int | None = None) -> HandshakePlan:
    """Telegram's prime with a bad generator: by default one that fails the residue rule (H3)."""
    value = mutators.non_residue_generator(TELEGRAM_DH_PRIME) if g is None else g
    return HandshakePlan(step="server_DH_params", g=value)


@_client("g_a_out_of_range", "handshake")
def _g_a(value: Literal["zero", "one", "p-1", "below", "above"] = "one") -> HandshakePlan:
    """g_a outside [2^1984, p - 2^1984]: zero, one, p-1, or just below/above the bounds (H3)."""
    return HandshakePlan(step="server_DH_params", g_a=mutators.dh_value_out_of_range(value))


@_client("g_a_legal_end", "handshake")
def _g_a_legal_end(end: Literal["lowest", "highest"] = "lowest") -> HandshakePlan:
    """g_a at an end of [2^1984, p - 2^1984] itself, legal: the client must go on with
    set_client_DH_params (the handshake cannot complete: the adversary does not know the
    logarithm of that g_a) (H3)."""
    return HandshakePlan(
        step="server_DH_params", g_a=mutators.dh_value_legal_end(end), accept_on_next=True
    )


@_client("g_a_leading_zero", "handshake")
def _g_a_leading_zero(encoding: Literal["minimal", "padded"] = "minimal") -> HandshakePlan:
    """A legal g_a below 2^2040 (about 1 handshake in 256, forced here), sent in 255 bytes
    (``minimal``) or in 256 with a leading zero byte (``padded``) (H3)."""
    if encoding not in ("minimal", "padded"):
        raise ValueError("encoding must be 'minimal' or 'padded'")
    return HandshakePlan(step="server_DH_params", g_a_below=2040, g_a_padded=encoding == "padded")


@_client("dh_gen", "handshake")
def _dh_gen(
    answer: Literal["ok", "retry", "fail"] = "ok",
    bad_hash: bool = False,
    field: str | None = None,
    hash_of: Literal["ok", "retry", "fail"] | None = None,
) -> HandshakePlan:
    """The final answer: dh_gen_ok/retry/fail, optionally with a bad new_nonce_hash, a wrong
    nonce or server_nonce (``field``), or the hash of another answer type (``hash_of``: the
    swap the three distinct hashes exist to stop) (H4).

    ``retry`` with a valid hash expects the retry flow: a second
    set_client_DH_params with retry_id = the first key's aux hash, then
    dh_gen_ok, and the client must use the second key.  A client that retries
    after a retry it should have refused is ``late``.
    """
    mutate: Callable[[tl.TLObject], tl.TLObject] | None = None
    if bad_hash:
        mutate = mutators.bad_new_nonce_hash
    elif field is not None:
        mutate = nonce_mutator(field)
    numbers = {"ok": 1, "retry": 2, "fail": 3}
    if hash_of is not None and hash_of not in numbers:
        raise InvalidArgument("hash_of must be 'ok', 'retry' or 'fail'")
    return HandshakePlan(
        step="dh_gen",
        dh_gen=answer,
        dh_gen_mutate=mutate,
        hash_number=None if hash_of is None else numbers[hash_of],
        retry_flow=answer == "retry" and mutate is None and hash_of is None,
    )


@_client("dh_params_fail", "handshake")
def _dh_params_fail(bad_hash: bool = False) -> HandshakePlan:
    """server_DH_params_fail (the client must abort), optionally with a bad new_nonce_hash (H5)."""
    return HandshakePlan(
        step="server_DH_params",
        params_fail=True,
        params_fail_mutate=mutators.bad_new_nonce_hash if bad_hash else None,
    )


@_client("handshake_refused", "handshake")
def _handshake_refused(
    query: Literal["req_DH_params", "set_client_DH_params"] = "req_DH_params",
) -> HandshakePlan:
    """The first ``query`` is answered with transport error -404 (an incorrect query, or an
    attempt the server forgot); the client must start again on a new connection with a new
    nonce and complete the handshake there (D4.2)."""
    if query not in ("req_DH_params", "set_client_DH_params"):
        raise InvalidArgument("query must be 'req_DH_params' or 'set_client_DH_params'")
    return HandshakePlan(refuse=query)


# ---- messages ----------------------------------------------------------------------


class _Answer(MessagePlan):
    """Answer the mutated ping with ``build(ctx, probe)``."""

    def __init__(self, build: Callable[[ServerContext, Probe], Out]) -> None:
        self._build = build

    def mutate(self, ctx: ServerContext, probe: Probe) -> Out:
        return self._build(ctx, probe)


@_client("message_honest", "message")
def _message_honest() -> MessagePlan:
    """Every ping answered honestly (the control: the pong must be delivered)."""
    return MessagePlan()


class _NumberingObserved(MessagePlan):
    """Every ping answered honestly; judged: how the client numbers what it sends."""

    def __init__(
        self,
        observe: Literal["msg_ids", "msg_id_time", "seq_no", "first_salt", "new_session_ack"],
    ) -> None:
        self.observe = observe


@_client("client_msg_ids", "message")
def _client_msg_ids() -> MessagePlan:
    """Every ping answered honestly; judged: each msg_id the client sends in the session is
    0 mod 4 and above the one before (C7, S2)."""
    return _NumberingObserved("msg_ids")


@_client("client_msg_id_time", "message")
def _client_msg_id_time() -> MessagePlan:
    """Every ping answered honestly; judged: the low 32 bits of each msg_id the client sends are
    the fraction of the time of sending, not a counter (S2)."""
    return _NumberingObserved("msg_id_time")


@_client("client_first_salt", "message")
def _client_first_salt() -> MessagePlan:
    """Every ping answered honestly; judged: the client's first encrypted message under a new key
    carries the salt the handshake gave, new_nonce[0:8] XOR server_nonce[0:8] (C9)."""
    plan = _NumberingObserved("first_salt")
    plan.fresh_key = True
    return plan


@_client("client_server_time", "message")
def _client_server_time(offset: float = 600.0) -> MessagePlan:
    """The server's clock ``offset`` s off the real one; judged: from its first encrypted message
    on, the client's msg_ids carry the server's time, learnt in the handshake (S2)."""
    plan = _NumberingObserved("msg_id_time")
    plan.fresh_key = True
    plan.clock_offset = offset
    return plan


@_client("client_new_session_ack", "message")
def _client_new_session_ack() -> MessagePlan:
    """Every ping answered honestly; judged: the client acknowledges new_session_created (if
    it acknowledges anything during the scenario) (S3)."""
    return _NumberingObserved("new_session_ack")


@_client("client_seq_no", "message")
def _client_seq_no() -> MessagePlan:
    """Every ping answered honestly; judged: each seq_no the client sends is twice the
    content-related messages before it, plus one if content-related; acks and containers
    never, queries always content-related (S3)."""
    return _NumberingObserved("seq_no")


@_client("flip_msg_key", "message")
def _flip_msg_key(bit: int = 0) -> MessagePlan:
    """The answer with a bit of its msg_key flipped (C1)."""
    return _Answer(lambda ctx, p: mutators.flip_msg_key(ctx.honest(p), bit))


@_client("flip_auth_key_id", "message")
def _flip_auth_key_id(bit: int = 0) -> MessagePlan:
    """The answer with a bit of its auth_key_id flipped (C1)."""
    return _Answer(lambda ctx, p: mutators.flip_auth_key_id(ctx.honest(p), bit))


@_client("truncate", "message")
def _truncate(count: int = 16) -> MessagePlan:
    """The answer without its last ``count`` bytes (C1)."""
    return _Answer(lambda ctx, p: mutators.truncate(ctx.honest(p), count))


@_client("extend", "message")
def _extend(count: int = 16) -> MessagePlan:
    """The answer with ``count`` zero bytes appended (C1)."""
    return _Answer(lambda ctx, p: mutators.extend(ctx.honest(p), bytes(count)))


# duplicates: deliberate -- mirror.py's srv_forge_msg_key is this scenario for the other role
# (its own plan type and body); the two read alike on purpose.
@_client("forge_msg_key", "message")
def _forge_msg_key(
    session: Literal["same", "other"] = "same", body: Literal["pong", "unknown"] = "pong"
) -> MessagePlan:
    """A well-formed plaintext under a msg_key that is not its MAC (C1, C5); ``session=other``
    changes the session_id inside, ``body=unknown`` puts an unknown constructor in it."""
    inner: Literal["as_is", "unknown"] = "unknown" if body == "unknown" else "as_is"
    return _Answer(lambda ctx, p: forged(ctx, ctx.answer(p), session=session, body=inner))


def _pad_short_body(ctx: ServerContext, p: Probe) -> InnerMessage:
    message = ctx.answer(p)
    if -(HEADER_SIZE + len(message.body)) % 16 >= MIN_PADDING:
        # pong alone leaves exactly 12 bytes to the next block: send it as rpc_result(pong).
        message = InnerMessage(
            message.salt,
            message.session_id,
            message.msg_id,
            message.seq_no,
            ctx.pong_body(p, wrapped=True),
        )
    return message


@_client("padding_length", "message")
def _padding_length(padding: str | int = "over") -> MessagePlan:
    """Authentic answer (valid msg_key) with padding over 1024 (``over``), under 12 (``under``) or
    of a given length (C3)."""

    def build(ctx: ServerContext, p: Probe) -> Out:
        if padding == "over":
            return mutators.padding_too_long(ctx.auth_key, ctx.answer(p), from_server=True)
        if padding == "under":
            return mutators.padding_too_short(
                ctx.auth_key, _pad_short_body(ctx, p), from_server=True
            )
        return ctx.seal(ctx.answer(p), padding=int(padding))

    return _Answer(build)


@_client("padding_exact", "message")
def _padding_exact(padding: int = 12) -> MessagePlan:
    """Authentic answer with exactly ``padding`` bytes of padding: the pong bare or in
    rpc_result, whichever aligns (the legal ends: 12 and 1024) (C3)."""

    def build(ctx: ServerContext, p: Probe) -> Out:
        for wrapped in (False, True):
            body = ctx.pong_body(p, wrapped=wrapped)
            if (HEADER_SIZE + len(body) + padding) % 16 == 0:
                return ctx.seal(ctx.message(body), padding=padding)
        raise InvalidArgument(f"no form of the pong aligns {padding} bytes of padding")

    return _Answer(build)


@_client("length_field", "message")
def _length_field(attack: str = "not_multiple_of_4") -> MessagePlan:
    """Authentic answer with a bad message_data_length: not_multiple_of_4, exceeds_plaintext,
    negative, short_of_body (C3)."""
    seal = length_attack(attack, padding=False)
    return _Answer(lambda ctx, p: seal(ctx.auth_key, ctx.answer(p), from_server=True))


@_client("reflected", "message")
def _reflected() -> MessagePlan:
    """An authentic answer sealed in the client's own direction (x = 0), as a reflected client
    message would be (C6)."""
    return _Answer(
        lambda ctx, p: encrypt_message(
            ctx.auth_key, ctx.answer(p).pack(), from_server=False, rng=ctx.rng
        )
    )


class _ContainerAbove(MessagePlan):
    """The answer inside a msg_container whose own msg_id is below the inner one's."""

    def mutate(self, ctx: ServerContext, probe: Probe) -> Out:
        container = ctx.message(b"", content_related=False)  # numbered first: the lower id
        inner = ctx.answer(probe)
        head = struct.pack("<Iiqii", _CONTAINER_ID, 1, inner.msg_id, inner.seq_no, len(inner.body))
        # Only the msg_id is out of order: the seq_no is the one a container
        # numbered after its message has (the next even number).
        return ctx.seal(replace(container, body=head + inner.body, seq_no=inner.seq_no + 1))


_CONTAINER_ID = tl.default_schema()["msg_container"].id


@_client("container_inner_id", "message")
def _container_inner_id() -> MessagePlan:
    """The answer in a msg_container whose msg_id is not above the inner message's (C8)."""
    return _ContainerAbove()


@_client("container_malformed", "message")
def _container_malformed(kind: str = "nested") -> MessagePlan:
    """The answer in a container the client must refuse: ``kind`` is inner_parity,
    duplicate_inner, bytes_over, bytes_under, nested, too_many or gzip_bomb
    (:func:`~mtcrypt.testing.mutators.malformed_container`) (C8)."""
    mutators.check_container_attack(kind)
    return _Answer(lambda ctx, p: container_attack(ctx, kind, ctx.answer(p)))


@_client("answer_other_salt", "message")
def _answer_other_salt() -> MessagePlan:
    """The answer carrying a salt that is not the session's: a client does not check the salt
    of what it receives (only a server does), so it must deliver it (C9)."""
    return _Answer(
        lambda ctx, p: ctx.seal(ctx.answer(p, salt=mutators.other_salt(ctx.server_salt)))
    )


@_client("plain_answer", "message")
def _plain_answer() -> MessagePlan:
    """The answer sent unencrypted (auth_key_id 0) on the encrypted connection: only the
    handshake may be unencrypted (D3)."""
    return _Answer(lambda ctx, p: pack_plain(ctx.next_msg_id(), ctx.pong_body(p)))


@_client("wrong_session_id", "message")
def _wrong_session() -> MessagePlan:
    """Authentic answer carrying another session_id (C7)."""
    return _Answer(
        lambda ctx, p: ctx.seal(ctx.answer(p, session_id=mutators.other_session_id(ctx.session_id)))
    )


@_client("msg_id_parity", "message")
def _parity() -> MessagePlan:
    """Authentic answer whose msg_id is even (a client's id) (C7)."""
    return _Answer(
        lambda ctx, p: ctx.seal(
            ctx.answer(p, msg_id=mutators.wrong_parity_msg_id(ctx.next_msg_id(), from_server=True))
        )
    )


@_client("duplicate_msg_id", "message")
def _duplicate() -> MessagePlan:
    """Authentic answer reusing the msg_id of the previous (delivered) server message (C7)."""

    def build(ctx: ServerContext, p: Probe) -> Out:
        previous = ctx.sent[-1] if ctx.sent else ctx.next_msg_id()
        return ctx.seal(ctx.answer(p, msg_id=previous))

    return _Answer(build)


@_client("too_old", "message")
def _too_old(seconds: float = 400.0, seq_no: int | None = None) -> MessagePlan:
    """Authentic answer whose msg_id is ``seconds`` old (over 300); ``seq_no=0`` also marks it not
    content-related (C7)."""

    def build(ctx: ServerContext, p: Probe) -> Out:
        msg_id = mutators.too_old_msg_id(ctx.now(), from_server=True, seconds=seconds)
        if seq_no is None:
            return ctx.seal(ctx.answer(p, msg_id=msg_id))
        return ctx.seal(ctx.answer(p, msg_id=msg_id, seq_no=seq_no))

    return _Answer(build)


@_client("too_new", "message")
def _too_new(seconds: float = 60.0) -> MessagePlan:
    """Authentic answer whose msg_id is ``seconds`` ahead (over 30) (C7)."""
    return _Answer(
        lambda ctx, p: ctx.seal(
            ctx.answer(
                p, msg_id=mutators.too_new_msg_id(ctx.now(), from_server=True, seconds=seconds)
            )
        )
    )


class _BelowWindow(MessagePlan):
    def __init__(self, fill: int) -> None:
        self.fill = fill

    def mutate(self, ctx: ServerContext, probe: Probe) -> Out:
        raise NotImplementedError  # respond() does the work

    def respond(self, ctx: ServerContext, mutated: Probe, sentinel: Probe | None) -> list[Out]:
        # Fill the window with ids 100 s old (older than anything seen), then
        # answer with a fresh id lower than all of them.
        first = mutators.too_old_msg_id(ctx.now(), from_server=True, seconds=100.0)
        container_id = ctx.next_msg_id()
        body, ids = mutators.window_filler(
            first, self.fill, container_msg_id=container_id, from_server=True
        )
        out: list[Out] = [ctx.seal(ctx.message(body, msg_id=container_id, content_related=False))]
        low = mutators.below_window_msg_id(ids)
        out.append(ctx.seal(ctx.answer(mutated, msg_id=low)))
        if sentinel is not None:
            out.append(ctx.honest(sentinel))
        return out


@_client("below_window", "message")
def _below_window(fill: int = 1020) -> MessagePlan:
    """A container of ``fill`` messages fills the replay window, then an answer with an id below all
    of them (C7)."""
    return _BelowWindow(fill)


class _Reordered(MessagePlan):
    def respond(self, ctx: ServerContext, mutated: Probe, sentinel: Probe | None) -> list[Out]:
        first = ctx.answer(mutated)  # the lower id ...
        if sentinel is None:
            return [ctx.seal(first)]
        second = ctx.answer(sentinel)  # ... sent after the higher one
        return [ctx.seal(second), ctx.seal(first)]


@_client("reordered", "message")
def _reordered() -> MessagePlan:
    """Two answers delivered in the opposite order of their msg_ids, both fresh (the control:
    accept) (C7)."""
    return _Reordered()


_NEW_SALT = 0x0123456789ABCDEF


class _Notice(MessagePlan):
    """A service notice about the client's mutated ping (``solicited``) or about
    a message it never sent; then the honest answers (the mutated ping's too
    when the notice is not about it).  A re-sent ping is answered."""

    solicited = True

    def notice(self, ctx: ServerContext, about: int) -> Out:
        raise NotImplementedError

    def respond(self, ctx: ServerContext, mutated: Probe, sentinel: Probe | None) -> list[Out]:
        about = mutated.msg_id if self.solicited else (mutated.msg_id & ~3) - 4096  # never sent
        out: list[Out] = [self.notice(ctx, about)]
        if not self.solicited:
            out.append(ctx.honest(mutated))
        if sentinel is not None:
            out.append(ctx.honest(sentinel))
        return out

    def on_resend(self, ctx: ServerContext, probe: Probe) -> list[Out]:
        return [ctx.honest(probe)] if self.solicited else []


class _BadServerSalt(_Notice):
    def __init__(self, solicited: bool, age: float, observe: Literal["salt", "resend"]) -> None:
        self.solicited = solicited
        self.age = age
        self.salt = _NEW_SALT
        self.observe = observe

    def notice(self, ctx: ServerContext, about: int) -> Out:
        body = mutators.unsolicited_bad_server_salt(about, _NEW_SALT)
        msg_id = None
        if self.age:  # outside the client's time window: exempt only if it names its message
            msg_id = mutators.too_old_msg_id(ctx.now(), from_server=True, seconds=self.age)
        return ctx.seal(ctx.message(body, msg_id=msg_id))


@_client("bad_server_salt", "message")
def _bad_server_salt(
    solicited: bool = False, age: float = 0.0, observe: Literal["salt", "resend"] = "salt"
) -> MessagePlan:
    """bad_server_salt with a new salt, naming a message the client never sent (or, ``solicited``,
    its own ping), under a fresh msg_id or one ``age`` s old (outside the time window, from
    which the spec exempts only a notice about the client's own message); observed: the salt of
    its next message (C9, C7), or (``observe="resend"``) that the named ping came again under a
    new msg_id (S4)."""
    if observe not in ("salt", "resend"):
        raise InvalidArgument("observe must be 'salt' or 'resend'")
    return _BadServerSalt(solicited, age, observe)


class _FutureSalts(MessagePlan):
    observe = "salt"

    def __init__(self) -> None:
        self.salt = _NEW_SALT

    def respond(self, ctx: ServerContext, mutated: Probe, sentinel: Probe | None) -> list[Out]:
        now = int(ctx.now())
        salt = tl.make("future_salt", valid_since=now - 60, valid_until=now + 3600, salt=self.salt)
        answer = tl.make(
            "future_salts",
            req_msg_id=(mutated.msg_id & ~3) - 4096,  # no get_future_salts of the client's
            now=now,
            salts=[salt],
        )
        out: list[Out] = [ctx.seal(ctx.message(tl.serialize(answer))), ctx.honest(mutated)]
        if sentinel is not None:
            out.append(ctx.honest(sentinel))
        return out


@_client("future_salts_unsolicited", "message")
def _future_salts_unsolicited() -> MessagePlan:
    """future_salts, valid now, answering no get_future_salts of the client's; observed: the salt
    of its next message, which must not be the new one (C9)."""
    return _FutureSalts()


class _TimeNotice(_Notice):
    """bad_msg_notification 16 or 17 under a msg_id that claims the server's
    clock is ``offset`` s off, naming the client's mutated ping (``solicited``)
    or a message it never sent."""

    def __init__(self, code: int, solicited: bool) -> None:
        self.code = code
        self.solicited = solicited
        self.offset = 20.0 if code == 16 else -20.0
        self.observe = "resend" if solicited else "clock"

    def notice(self, ctx: ServerContext, about: int) -> Out:
        body = tl.make(
            "bad_msg_notification", bad_msg_id=about, bad_msg_seqno=1, error_code=self.code
        )
        claimed = mutators.too_new_msg_id(ctx.now(), from_server=True, seconds=self.offset)
        return ctx.seal(ctx.message(tl.serialize(body), msg_id=claimed))


class _ResendRequest(_Notice):
    observe = "resend"
    must_resend = False

    def notice(self, ctx: ServerContext, about: int) -> Out:
        request = tl.make("msg_resend_req", msg_ids=[about])
        return ctx.seal(ctx.message(tl.serialize(request)))


@_client("resend_request", "message")
def _resend_request() -> MessagePlan:
    """msg_resend_req naming the client's ping: a copy it sends must have a new msg_id (a client
    that does not act on the request is not judged) (S4)."""
    return _ResendRequest()


@_client("time_notification", "message")
def _time_notification(code: int = 16, solicited: bool = True) -> MessagePlan:
    """bad_msg_notification ``code`` 16 (msg_id too low; the notice's own msg_id 20 s ahead)
    or 17 (too high; 20 s behind).  ``solicited``: it names the client's ping, which must come
    again under a new msg_id from the corrected clock (S2, S4); otherwise it names a message
    never sent, and the client's clock must not move (C7)."""
    if code not in (16, 17):
        raise InvalidArgument("code must be 16 or 17")
    return _TimeNotice(code, solicited)


@_client("bad_crc", "message")
def _bad_crc() -> MessagePlan:
    """The answer's full-transport frame with a bad CRC32 (T2; needs framing=full)."""
    return _Answer(lambda ctx, p: Raw(mutators.bad_crc(ctx.frame(ctx.honest(p)))))


@_client("bad_seqno", "message")
def _bad_seqno() -> MessagePlan:
    """The answer's full-transport frame skipping one seqno, with a valid CRC32 (T2; needs
    framing=full)."""

    def build(ctx: ServerContext, p: Probe) -> Out:
        frame = ctx.frame(ctx.honest(p))
        return Raw(mutators.with_seqno(frame, ctx.full_seq()))

    return _Answer(build)


@_client("oversized_frame", "message")
def _oversized_frame() -> MessagePlan:
    """Instead of the answer, a frame header claiming over 16 MiB: the client must refuse it
    at once (close), not wait for the data while the honest answers behind it are swallowed
    (T2)."""
    return _Answer(lambda ctx, p: Raw(mutators.oversized_length(ctx.framing)))


class _QuickAcked(MessagePlan):
    def mutate(self, ctx: ServerContext, probe: Probe) -> Out:
        raise NotImplementedError  # respond() does the work

    def respond(self, ctx: ServerContext, mutated: Probe, sentinel: Probe | None) -> list[Out]:
        token = int.from_bytes(ctx.rng(4), "little") & 0x7FFFFFFF
        out: list[Out] = [ctx.quick_ack(token), ctx.honest(mutated)]
        if sentinel is not None:
            out.append(ctx.honest(sentinel))
        return out


@_client("quick_ack", "message")
def _quick_ack() -> MessagePlan:
    """A transport quick-ack (a token with the top bit set, in place of a frame length) before
    the answer: the client must take it as the transport says (or ignore it) and go on (T2)."""
    return _QuickAcked()


class _TempKeyLost(MessagePlan):
    """The server forgets the temporary key when the mutated ping arrives and
    answers -404; the pings that come again, on whatever connection, are answered."""

    observe = "temp_key_lost"
    reconnect = True

    def respond(self, ctx: ServerContext, mutated: Probe, sentinel: Probe | None) -> list[Out]:
        del mutated, sentinel
        return [ctx.lose_key()]

    def on_resend(self, ctx: ServerContext, probe: Probe) -> list[Out]:
        return [ctx.honest(probe)]


@_client("temp_key_lost", "message")
def _temp_key_lost() -> MessagePlan:
    """The server loses the temporary key (it may drop one at any time) and answers -404 for it;
    the client must make and bind a new temporary key and send the pings in flight again under
    it, never under the permanent key (D5.2; with ``temp_key``)."""
    return _TempKeyLost()


@_client("transport_error", "message")
def _transport_error(code: int = -429) -> MessagePlan:
    """Instead of the answer, a transport error packet (a framed negative int32: -404 the key is
    unknown, -429 too many requests): the client must fail or retry the request, never take it
    for a message and never hang (T2)."""
    return _Answer(lambda ctx, p: Raw(ctx.frame(struct.pack("<i", code))))


# ---- transport -------------------------------------------------------------------------


@_client("forbidden_header", "header")
def _forbidden_header(prefix: str = "HEAD") -> HeaderPlan:
    """The client's first obfuscated2 header candidate starts with a forbidden prefix; it must draw
    again (T1)."""
    if prefix not in mutators.FORBIDDEN_PREFIXES:
        raise ValueError(f"prefix must be one of {sorted(mutators.FORBIDDEN_PREFIXES)}")
    return HeaderPlan(prefix)


@_client("fake_tls", "fake_tls")
def _fake_tls(
    hmac: Literal["valid", "bad"] = "bad", layout: Literal["valid", "bad"] = "valid"
) -> FakeTlsPlan:
    """MTProxy fake-TLS: the proxy's ServerHello with a valid or a bad HMAC, or (``layout``)
    a valid HMAC over an answer whose change_cipher_spec record is wrong (T3)."""
    if hmac not in ("valid", "bad") or layout not in ("valid", "bad"):
        raise InvalidArgument("hmac and layout must be 'valid' or 'bad'")
    return FakeTlsPlan(bad_hmac=hmac == "bad", bad_layout=layout == "bad")
