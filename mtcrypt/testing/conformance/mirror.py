"""Mirror mode: a client that plays server-role scenarios against a server under test.

It connects to any MTProto server whose RSA public key it is given (for
example mtcrypt's own :class:`~mtcrypt.testing.ReferenceServer`), runs a
permissive, steerable handshake (:func:`client_handshake`) and then, over an
encrypted session, sends:

1. ping ``1`` (honest) and waits for its pong;
2. the scenario's mutated request carrying ping ``2``, then ping ``3`` (honest);
   it reads until pong ``3`` arrives, the server closes the connection or sends
   a transport error, or the time is up.  The server *accepted* the mutated
   request if pong ``2`` came back.

Handshake scenarios mutate ``req_DH_params`` or ``set_client_DH_params``: the
server accepted if it answered with the next step (``server_DH_params_ok``,
``dh_gen_ok``).  Transport scenarios send a bad frame (or an oversized length,
or a ClientHello with a bad HMAC) and watch whether the server goes on.

The built-in mutation kinds testing a server are registered here (their
names start with ``srv_``).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ... import tl
from ..._random import Rng, random_bytes
from ...errors import DecryptionFailed, MtcryptError
from ...handshake._common import int_to_be, server_salt
from ...handshake.dh import generate_dh_exponent, modexp
from ...handshake.pq import factorize_pq
from ...handshake.rsa import RsaPublicKey, rsa_pad_encrypt
from ...mtproto import (
    AuthKey,
    InnerMessage,
    decrypt_message,
    encrypt_message,
    next_msg_id,
    pack_plain,
    unpack_plain,
)
from ...transport import ClientTransport, Frame, TransportErrorCode
from .. import mutators
from .adversary import Raw
from .runner import Report, ScenarioResult, _status
from .scenarios import Scenario, register_mutation

__all__ = [
    "ClientContext",
    "ClientHandshakePlan",
    "FakeTlsRequestPlan",
    "RequestPlan",
    "ServerEndpoint",
    "client_handshake",
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


class RequestPlan:
    """The mutated request carrying ping ``ping_id``; ``observe`` is
    ``answer`` (was it answered?) or ``closed`` (did the server hang up?)."""

    observe: Literal["answer", "closed"] = "answer"

    def build(self, ctx: ClientContext, ping_id: int) -> list[bytes | Raw]:
        return [ctx.seal(ctx.ping(ping_id))]


@dataclass
class FakeTlsRequestPlan:
    """Open an ``ee``-secret connection whose ClientHello HMAC is wrong
    (``bad_hmac``) or right; the server accepted if it sends a ServerHello."""

    bad_hmac: bool


# ---- the wire --------------------------------------------------------------------------


class _Wire:
    """One TCP connection through a :class:`ClientTransport`."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        transport: ClientTransport,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.transport = transport
        self.queue: list[bytes | TransportErrorCode] = []
        self.closed = False

    @classmethod
    async def open(
        cls,
        endpoint: ServerEndpoint,
        framing: str,
        *,
        obfuscated: bool = False,
        rng: Rng = random_bytes,
    ) -> _Wire:
        transport = ClientTransport(
            framing, obfuscated=obfuscated, dc_id=endpoint.dc_id if obfuscated else None, rng=rng
        )
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(endpoint.host, endpoint.port), 5
        )
        wire = cls(reader, writer, transport)
        writer.write(transport.data_to_send())
        return wire

    def send(self, payload: bytes) -> None:
        self.writer.write(self.transport.send(payload))

    def write(self, item: bytes | Raw) -> None:
        if isinstance(item, Raw):
            self.writer.write(item.data)
        else:
            self.send(item)

    async def next(self, deadline: float) -> bytes | TransportErrorCode | None:
        """The next frame payload or transport error; None when closed or out of time."""
        while not self.queue:
            if self.closed:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                data = await asyncio.wait_for(self.reader.read(65536), remaining)
            except (TimeoutError, ConnectionError):
                return None
            if not data:
                self.closed = True
                return None
            try:
                events = self.transport.receive(data)
            except MtcryptError:
                self.closed = True
                return None
            for event in events:
                if isinstance(event, Frame):
                    self.queue.append(event.payload)
                elif isinstance(event, TransportErrorCode):
                    self.queue.append(event)
            with contextlib.suppress(MtcryptError):
                self.writer.write(self.transport.data_to_send())
        return self.queue.pop(0)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


# ---- the handshake -----------------------------------------------------------------------


@dataclass
class HandshakeOutcome:
    """What the server did with our handshake."""

    key: AuthKey | None = None
    salt: int = 0
    time_offset: float = 0.0
    answered_mutated: bool = False
    detail: str = ""


async def _plain(wire: _Wire, packet: bytes, timeout: float) -> tl.TLObject | str:
    wire.send(packet)
    await wire.writer.drain()
    answer = await wire.next(time.monotonic() + timeout)
    if answer is None:
        return "closed" if wire.closed else "no answer"
    if isinstance(answer, TransportErrorCode):
        return f"transport error {answer.code}"
    try:
        _, body = unpack_plain(answer)
        return tl.deserialize(body)
    except (MtcryptError, ValueError):
        return "not a handshake message"


async def client_handshake(
    wire: _Wire,
    public_key: RsaPublicKey,
    plan: ClientHandshakePlan,
    *,
    dc_id: int = 2,
    timeout: float = 3.0,
    rng: Rng = random_bytes,
) -> HandshakeOutcome:
    """Create an auth key with the server behind ``wire``, mutating the step the
    plan names; checks only what it needs to go on (it is not under test)."""
    out = HandshakeOutcome()
    last = 0

    def pack(obj: tl.TLObject) -> bytes:
        nonlocal last
        last = next_msg_id(time.time() + out.time_offset, last, 0)
        return pack_plain(last, tl.serialize(obj))

    nonce = rng(16)
    res = await _plain(wire, pack(tl.make("req_pq_multi", nonce=nonce)), timeout)
    if not isinstance(res, tl.TLObject) or res.name != "resPQ":
        out.detail = f"no resPQ: {res}"
        return out
    server_nonce = res.server_nonce
    p, q = factorize_pq(int.from_bytes(res.pq, "big"))
    new_nonce = rng(32)
    inner = tl.make(
        "p_q_inner_data_dc",
        pq=res.pq,
        p=int_to_be(p),
        q=int_to_be(q),
        nonce=nonce,
        server_nonce=server_nonce,
        new_nonce=new_nonce,
        dc=dc_id,
    )
    if plan.pq_inner:
        inner = plan.pq_inner(inner)
    request = tl.make(
        "req_DH_params",
        nonce=nonce,
        server_nonce=server_nonce,
        p=int_to_be(p),
        q=int_to_be(q),
        public_key_fingerprint=public_key.fingerprint,
        encrypted_data=rsa_pad_encrypt(tl.serialize(inner), public_key, rng=rng),
    )
    if plan.req_dh:
        request = plan.req_dh(request)
    params = await _plain(wire, pack(request), timeout)
    accepted = isinstance(params, tl.TLObject) and params.name == "server_DH_params_ok"
    if plan.step == "req_DH_params":
        out.answered_mutated = accepted
        out.detail = params.name if isinstance(params, tl.TLObject) else params
        return out
    if not accepted:
        out.detail = f"no server_DH_params_ok: {params}"
        return out
    assert isinstance(params, tl.TLObject)
    _, answer = mutators.open_answer(params.encrypted_answer, server_nonce, new_nonce)
    found = tl.read_object(tl.Reader(answer))
    g, dh_prime = found.g, int.from_bytes(found.dh_prime, "big")
    g_a = int.from_bytes(found.g_a, "big")
    out.time_offset = found.server_time - time.time()
    b, g_b = generate_dh_exponent(g, dh_prime, rng)
    if plan.g_b is not None:
        g_b = plan.g_b
    client_inner = tl.make(
        "client_DH_inner_data",
        nonce=nonce,
        server_nonce=server_nonce,
        retry_id=0,
        g_b=int_to_be(g_b),
    )
    if plan.client_inner:
        client_inner = plan.client_inner(client_inner)
    data = tl.serialize(client_inner)
    sealed = mutators.seal_answer(
        data, server_nonce, new_nonce, digest=plan.digest(data) if plan.digest else None, rng=rng
    )
    final = await _plain(
        wire,
        pack(
            tl.make(
                "set_client_DH_params",
                nonce=nonce,
                server_nonce=server_nonce,
                encrypted_data=sealed,
            )
        ),
        timeout,
    )
    ok = isinstance(final, tl.TLObject) and final.name == "dh_gen_ok"
    out.detail = final.name if isinstance(final, tl.TLObject) else final
    if plan.step == "set_client_DH_params":
        out.answered_mutated = ok
        return out
    if ok:
        out.key = AuthKey.from_int(modexp(g_a, b, dh_prime))
        out.salt = server_salt(new_nonce, server_nonce)
    return out


# ---- the session ----------------------------------------------------------------------------

_SCHEMA = tl.default_schema()
_CONTAINER = _SCHEMA["msg_container"].id
_GZIP = _SCHEMA["gzip_packed"].id
_RPC_RESULT = _SCHEMA["rpc_result"].id
_PONG = _SCHEMA["pong"].id
_BAD_MSG = _SCHEMA["bad_msg_notification"].id
_BAD_SALT = _SCHEMA["bad_server_salt"].id


class ClientContext:
    """What a :class:`RequestPlan` works with (client side of the session)."""

    def __init__(self, wire: _Wire, key: AuthKey, salt: int, offset: float, rng: Rng) -> None:
        self.wire = wire
        self.auth_key = key
        self.salt = salt
        self.time_offset = offset
        self.session_id = struct.unpack("<q", rng(8))[0]
        self.rng = rng
        self.sent: list[int] = []
        self._last = 0
        self._content = 0

    def now(self) -> float:
        return time.time() + self.time_offset

    def next_msg_id(self) -> int:
        self._last = next_msg_id(self.now(), self._last, 0)
        return self._last

    def next_seq_no(self, content_related: bool = True) -> int:
        if content_related:
            self._content += 1
            return 2 * self._content - 1
        return 2 * self._content

    def message(self, body: bytes, **fields: Any) -> InnerMessage:
        msg_id = fields.pop("msg_id", None)
        mid = self.next_msg_id() if msg_id is None else msg_id
        self.sent.append(mid)
        seq_no = fields.pop("seq_no", None)
        message = InnerMessage(
            salt=self.salt,
            session_id=self.session_id,
            msg_id=mid,
            seq_no=self.next_seq_no() if seq_no is None else seq_no,
            body=body,
        )
        return replace(message, **fields) if fields else message

    def ping(self, ping_id: int, **fields: Any) -> InnerMessage:
        return self.message(tl.serialize(tl.make("ping", ping_id=ping_id)), **fields)

    def seal(
        self, message: InnerMessage, *, padding: int | None = None, length: int | None = None
    ) -> bytes:
        if padding is None and length is None:
            return encrypt_message(self.auth_key, message.pack(), from_server=False, rng=self.rng)
        return mutators.seal_with(
            self.auth_key, message, from_server=False, padding=padding, length=length, rng=self.rng
        )

    def frame(self, payload: bytes) -> bytes:
        return self.wire.transport.send(payload)

    def full_seq(self) -> int:
        return int(getattr(self.wire.transport.codec, "send_seq", 0))


def _walk(body: bytes) -> list[bytes]:
    if len(body) >= 4 and struct.unpack_from("<I", body)[0] in (_CONTAINER, _GZIP):
        try:
            obj = tl.deserialize(body)
        except MtcryptError:
            return []
        if obj.name == "gzip_packed":
            return _walk(tl.gunzip(obj.packed_data, max_size=1 << 24))
        out: list[bytes] = []
        for m in obj.messages:
            out += _walk(m.body if isinstance(m.body, bytes) else tl.serialize(m.body))
        return out
    return [body]


@dataclass
class _Seen:
    pongs: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    closed: bool = False


def _read_answer(ctx: ClientContext, payload: bytes, seen: _Seen) -> None:
    try:
        message = InnerMessage.parse(decrypt_message(ctx.auth_key, payload, from_server=True))
    except (DecryptionFailed, MtcryptError):
        seen.notes.append("undecryptable answer")
        return
    for body in _walk(message.body):
        if len(body) < 4:
            continue
        (cid,) = struct.unpack_from("<I", body)
        if cid == _RPC_RESULT:
            body = body[12:]
            cid = struct.unpack_from("<I", body)[0] if len(body) >= 4 else 0
        if cid == _PONG and len(body) >= 20:
            seen.pongs.add(struct.unpack_from("<q", body, 12)[0])
        elif cid in (_BAD_MSG, _BAD_SALT) and len(body) >= 24:
            code = struct.unpack_from("<i", body, 16)[0]
            seen.notes.append(
                f"bad_msg_notification {code}" if cid == _BAD_MSG else "bad_server_salt"
            )


async def _collect(wire: _Wire, ctx: ClientContext, until: int, timeout: float) -> _Seen:
    seen = _Seen()
    deadline = time.monotonic() + timeout
    while until not in seen.pongs:
        item = await wire.next(deadline)
        if item is None:
            seen.closed = wire.closed
            break
        if isinstance(item, TransportErrorCode):
            seen.notes.append(f"transport error {item.code}")
            continue
        _read_answer(ctx, item, seen)
    return seen


# ---- playing one scenario --------------------------------------------------------------------


async def _play(
    scenario: Scenario, endpoint: ServerEndpoint, timeout: float, rng: Rng
) -> tuple[str, str]:
    plan = scenario.plan()
    if isinstance(plan, FakeTlsRequestPlan):
        return await _play_fake_tls(plan, endpoint, timeout, rng)
    wire = await _Wire.open(endpoint, scenario.framing, obfuscated=scenario.obfuscated, rng=rng)
    try:
        hs_plan = plan if isinstance(plan, ClientHandshakePlan) else ClientHandshakePlan()
        outcome = await client_handshake(
            wire, endpoint.public_key, hs_plan, dc_id=endpoint.dc_id, timeout=timeout, rng=rng
        )
        if isinstance(plan, ClientHandshakePlan):
            if plan.step == "none":
                ok = outcome.key is not None
                return ("accepted" if ok else "rejected"), outcome.detail
            return ("accepted" if outcome.answered_mutated else "rejected"), outcome.detail
        if outcome.key is None:
            return "error", f"honest handshake failed: {outcome.detail}"
        ctx = ClientContext(wire, outcome.key, outcome.salt, outcome.time_offset, rng)
        wire.send(ctx.seal(ctx.ping(1)))
        await wire.writer.drain()
        warm = await _collect(wire, ctx, 1, timeout)
        if 1 not in warm.pongs:
            return "error", f"the warm-up ping was not answered {warm.notes}"
        assert isinstance(plan, RequestPlan)
        for item in plan.build(ctx, 2):
            wire.write(item)
        if plan.observe == "closed":
            await wire.writer.drain()
            seen = await _collect(wire, ctx, -1, timeout)
            if seen.closed or any(n.startswith("transport error") for n in seen.notes):
                return "rejected", "closed the connection " + " ".join(seen.notes)
            return "accepted", "kept the connection open"
        wire.send(ctx.seal(ctx.ping(3)))
        await wire.writer.drain()
        seen = await _collect(wire, ctx, 3, timeout)
        notes = " ".join(seen.notes)
        tail = "closed" if seen.closed else ("sentinel answered" if 3 in seen.pongs else "silent")
        detail = f"{tail} {notes}".strip()
        return ("accepted" if 2 in seen.pongs else "rejected"), detail
    finally:
        await wire.close()


async def _play_fake_tls(
    plan: FakeTlsRequestPlan, endpoint: ServerEndpoint, timeout: float, rng: Rng
) -> tuple[str, str]:
    if endpoint.secret is None:
        return "skipped", "no ee secret for the server"
    transport = ClientTransport(secret=endpoint.secret, dc_id=endpoint.dc_id, rng=rng)
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(endpoint.host, endpoint.port), 5
    )
    try:
        hello = transport.data_to_send()
        writer.write(mutators.bad_hello_hmac(hello) if plan.bad_hmac else hello)
        await writer.drain()
        try:
            data = await asyncio.wait_for(reader.read(5), timeout)
        except TimeoutError:
            return "rejected", "no answer"
        if data.startswith(b"\x16\x03\x03"):
            return "accepted", "answered with a ServerHello"
        return "rejected", "closed" if not data else f"answered {data.hex()}"
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


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
                _play(scenario, endpoint, timeout, rng), 4 * timeout + 10
            )
        except (TimeoutError, OSError, MtcryptError) as exc:
            observed, detail = "error", f"{type(exc).__name__}: {exc}"
        result = ScenarioResult(
            scenario.id,
            scenario.checklist,
            scenario.description,
            scenario.expect,
            observed,  # type: ignore[arg-type]
            _status(scenario.expect, observed),  # type: ignore[arg-type]
            detail,
            seconds=time.perf_counter() - t0,
        )
        results.append(result)
        if progress is not None:
            progress(result)
    return Report(target, "server", results, seconds=time.perf_counter() - started)


def run_server_suite_sync(
    endpoint: ServerEndpoint, scenarios: Sequence[Scenario], **kwargs: Any
) -> Report:
    """:func:`run_server_suite` in a fresh event loop."""
    return asyncio.run(run_server_suite(endpoint, scenarios, **kwargs))


# ---- the built-in server-role mutation kinds -----------------------------------------------


def _server(
    name: str, phase: Literal["handshake", "message", "transport", "fake_tls"]
) -> Callable[[Callable[..., object]], Callable[..., object]]:
    return register_mutation(name, role="server", phase=phase)


def _nonce(field: str) -> Callable[[tl.TLObject], tl.TLObject]:
    if field == "nonce":
        return mutators.wrong_nonce
    if field == "server_nonce":
        return mutators.wrong_server_nonce
    raise ValueError("field must be 'nonce' or 'server_nonce'")


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
    return ClientHandshakePlan(step="req_DH_params", req_dh=_nonce(field))


@_server("srv_pq_inner_nonce", "handshake")
def _srv_pq_inner(field: str = "nonce") -> ClientHandshakePlan:
    """p_q_inner_data (inside RSA) with a wrong nonce or server_nonce (H2)."""
    return ClientHandshakePlan(step="req_DH_params", pq_inner=_nonce(field))


@_server("srv_client_dh_hash", "handshake")
def _srv_client_hash() -> ClientHandshakePlan:
    """set_client_DH_params whose SHA1(client_DH_inner_data) is wrong (H2)."""
    return ClientHandshakePlan(step="set_client_DH_params", digest=mutators.bad_sha1)


@_server("srv_client_dh_nonce", "handshake")
def _srv_client_nonce(field: str = "nonce") -> ClientHandshakePlan:
    """client_DH_inner_data (encrypted) with a wrong nonce or server_nonce (H2)."""
    return ClientHandshakePlan(step="set_client_DH_params", client_inner=_nonce(field))


@_server("srv_g_b_out_of_range", "handshake")
def _srv_g_b(value: Literal["zero", "one", "p-1", "below", "above"] = "one") -> ClientHandshakePlan:
    """g_b outside [2^1984, p - 2^1984] (H3)."""
    return ClientHandshakePlan(
        step="set_client_DH_params", g_b=mutators.dh_value_out_of_range(value)
    )


@_server("srv_retry_id", "handshake")
def _srv_retry_id(retry_id: int = 1) -> ClientHandshakePlan:
    """A first set_client_DH_params with a non-zero retry_id (H4)."""
    return ClientHandshakePlan(
        step="set_client_DH_params",
        client_inner=lambda o: mutators.tl_replace(o, retry_id=retry_id),
    )


class _Build(RequestPlan):
    def __init__(
        self, build: Callable[[ClientContext, int], list[bytes | Raw]], observe: str = "answer"
    ) -> None:
        self._build = build
        self.observe = "closed" if observe == "closed" else "answer"

    def build(self, ctx: ClientContext, ping_id: int) -> list[bytes | Raw]:
        return self._build(ctx, ping_id)


@_server("srv_message_honest", "message")
def _srv_message_honest() -> RequestPlan:
    """An honest ping (the control: it must be answered)."""
    return RequestPlan()


@_server("srv_flip", "message")
def _srv_flip(part: Literal["msg_key", "auth_key_id"] = "msg_key") -> RequestPlan:
    """The request with a bit of its msg_key or auth_key_id flipped (C1)."""
    flip = mutators.flip_msg_key if part == "msg_key" else mutators.flip_auth_key_id
    return _Build(lambda ctx, n: [flip(ctx.seal(ctx.ping(n)))])


@_server("srv_truncate", "message")
def _srv_truncate(count: int = 16) -> RequestPlan:
    """The request without its last ``count`` bytes (C1)."""
    return _Build(lambda ctx, n: [mutators.truncate(ctx.seal(ctx.ping(n)), count)])


@_server("srv_forge_msg_key", "message")
def _srv_forge() -> RequestPlan:
    """A well-formed request under a msg_key that is not its MAC (C1, C5)."""

    def build(ctx: ClientContext, n: int) -> list[bytes | Raw]:
        plain = ctx.ping(n).pack()
        pad = -len(plain) % 16
        padded = plain + ctx.rng(pad + 16 if pad < 12 else pad)
        return [mutators.forge_msg_key(ctx.auth_key, padded, from_server=False)]

    return _Build(build)


_SRV_LENGTH = {
    "padding_over": mutators.padding_too_long,
    "padding_under": mutators.padding_too_short,
    "not_multiple_of_4": mutators.length_not_multiple_of_4,
    "exceeds_plaintext": mutators.length_exceeds_plaintext,
    "negative": mutators.length_negative,
    "short_of_body": mutators.length_short_of_body,
}


@_server("srv_length", "message")
def _srv_length(attack: str = "padding_over") -> RequestPlan:
    """Authentic request with bad padding or length field: padding_over, padding_under,
    not_multiple_of_4, exceeds_plaintext, negative, short_of_body (C3)."""
    if attack not in _SRV_LENGTH:
        raise ValueError(f"attack must be one of {sorted(_SRV_LENGTH)}")
    seal = _SRV_LENGTH[attack]
    return _Build(lambda ctx, n: [seal(ctx.auth_key, ctx.ping(n), from_server=False, rng=ctx.rng)])


@_server("srv_msg_id", "message")
def _srv_msg_id(kind: Literal["odd", "duplicate", "too_old", "too_new"] = "odd") -> RequestPlan:
    """Authentic request whose msg_id is odd, a duplicate, 400 s old or 60 s ahead (C7)."""

    def build(ctx: ClientContext, n: int) -> list[bytes | Raw]:
        if kind == "odd":
            msg_id = mutators.wrong_parity_msg_id(ctx.next_msg_id(), from_server=False)
        elif kind == "duplicate":
            msg_id = ctx.sent[-1]
        elif kind == "too_old":
            msg_id = mutators.too_old_msg_id(ctx.now(), from_server=False)
        else:
            msg_id = mutators.too_new_msg_id(ctx.now(), from_server=False)
        return [ctx.seal(ctx.ping(n, msg_id=msg_id))]

    return _Build(build)


@_server("srv_container_inner_id", "message")
def _srv_container() -> RequestPlan:
    """A container whose inner message's msg_id is above the container's (C8)."""

    def build(ctx: ClientContext, n: int) -> list[bytes | Raw]:
        container_id = ctx.next_msg_id()
        inner_id = ctx.next_msg_id()
        ping = tl.serialize(tl.make("ping", ping_id=n))
        body = struct.pack("<Iiqii", _CONTAINER, 1, inner_id, ctx.next_seq_no(), len(ping)) + ping
        return [ctx.seal(ctx.message(body, msg_id=container_id, seq_no=ctx.next_seq_no(False)))]

    return _Build(build)


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
        lambda ctx, n: [Raw(mutators.oversized_length(ctx.wire.transport.codec.framing, length))],
        observe="closed",
    )


@_server("srv_fake_tls", "fake_tls")
def _srv_fake_tls(hmac: Literal["valid", "bad"] = "bad") -> FakeTlsRequestPlan:
    """A fake-TLS ClientHello with a valid or a bad HMAC (T3; needs the server's ee secret)."""
    return FakeTlsRequestPlan(bad_hmac=hmac == "bad")
