"""The server side of one MTProto connection, sans-I/O.

:class:`ServerConnection` is where a server's transport, handshakes, key
store and sessions meet::

    conn = ServerConnection(rsa_key, keys=store)
    events = conn.receive_data(bytes_from_socket)   # b"" when the peer closed
    socket.write(conn.data_to_send())
    for event in events:
        if isinstance(event, IncomingRequest):
            conn.answer(event, result_bytes)         # now or later
        ...
    # and when conn.next_deadline() comes: conn.on_timer(now)

What it does on its own: detects the transport; answers the handshake (one
:class:`~mtcrypt.handshake.ServerHandshake` at a time, at most
``limits.max_handshakes`` per connection) and stores each new key; routes
every encrypted packet by key id and session id to a
:class:`~mtcrypt.mtproto.Session` (created on first use, announcing
``new_session_created``), which answers pings, salts, acks and bad messages;
removes ``invokeWithLayer``/``initConnection`` wrappers; accepts
``auth.bindTempAuthKey`` under a temporary key.  An unknown key or a packet
that does not decrypt is answered with transport error -404 and closes the
connection, as Telegram's servers do.

It never raises on the peer's bytes: malformed input, timeouts and exceeded
limits end in a :class:`Closed` event whose ``reason`` says why.  It reads
no clock and draws no randomness but the injected ones; deadlines are data
(:meth:`next_deadline`).  With ``offload_handshakes`` the expensive handshake
steps (RSA decryption, DH exponentiations) come out as
:class:`HandshakeWorkNeeded` events for the I/O layer to run in a thread.
"""

from __future__ import annotations

import struct
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from .. import tl
from .._random import random_bytes
from .._validation import Clock, Rng, as_bytes, check_int
from ..errors import (
    DecryptionFailed,
    HandshakeError,
    InvalidArgument,
    MtcryptError,
    TransportError,
)
from ..handshake import HandshakeResult, ServerHandshake, verify_bind_temp_auth_key
from ..handshake.rsa import RsaPrivateKey
from ..mtproto import AuthKey, decrypt_message
from ..mtproto.session import DropReason, MessageDropped, Request, Role, Session
from ..transport import ServerTransport, TransportDetected, TransportInfo
from ..transport.events import Event as TransportEvent
from ._base import ConnectionBase, handshake_complete, now_or
from .events import (
    CloseReason,
    ConnectionEvent,
    HandshakeFailed,
    HandshakeWorkNeeded,
    IncomingRequest,
    KeyBound,
    MessageRejected,
    TransportReady,
)
from .hooks import ConnectionHooks
from .keystore import KeyStore, MemoryKeyStore, StoredKey
from .limits import BufferBudget, ConnectionLimits, Timeouts
from .replay import SeenRequests
from .wrappers import unwrap_query

__all__ = [
    "HandshakeResponder",
    "HandshakeWork",
    "ServerConnection",
    "StepOutcome",
    "run_handshake_step",
]

_PLAIN_KEY_ID = bytes(8)
# What a frame held behind handshake work costs beyond its payload (the bytes
# object and its queue slot), so that many tiny frames count for what they cost.
_FRAME_OVERHEAD = 64
_BIND_TEMP_AUTH_KEY = 0xCDD42A05
# What an unbound temporary key may ask (api/pfs): the binding, help.getConfig, help.getNearestDc.
_UNBOUND_ALLOWED = frozenset({_BIND_TEMP_AUTH_KEY, 0xC4F9186B, 0x1FB33026})
_BOOL_TRUE = struct.pack("<I", 0x997275B5)
_I64 = struct.Struct("<q")


class HandshakeResponder(Protocol):
    """What :class:`ServerConnection` needs of a server handshake
    (:class:`~mtcrypt.handshake.ServerHandshake`, or a tool's own)."""

    @property
    def done(self) -> bool: ...

    @property
    def result(self) -> HandshakeResult: ...

    def receive_with(self, packet: bytes, rng: Rng, now: float) -> bytes: ...


class HandshakeWork:
    """One handshake step, to run anywhere (:meth:`run` touches only the
    handshake object), then to hand back with ``ServerConnection.work_done``."""

    __slots__ = (
        "_handshake",
        "_now",
        "_packet",
        "_rng",
        "answer",
        "cancelled",
        "error",
        "priority",
        "ran",
    )

    def __init__(
        self,
        handshake: HandshakeResponder,
        packet: bytes,
        rng: Rng,
        now: float,
        priority: int = 1,
    ) -> None:
        self._handshake = handshake
        self._packet = packet
        self._rng = rng
        self._now = now
        self.priority = priority
        """Lower runs first: 0 for the step that completes a key."""
        self.answer: bytes | None = None
        self.error: MtcryptError | None = None
        self.ran = False
        self.cancelled = False
        """Set when the connection closed first: :meth:`run` then does nothing."""

    def run(self) -> None:
        """Run the step; never raises (the outcome is kept for ``work_done``)."""
        if self.cancelled:
            self.ran = True
            return
        try:
            self.answer = self._handshake.receive_with(self._packet, self._rng, self._now)
        except MtcryptError as exc:
            self.error = exc
        self.ran = True

    # duplicates: deliberate -- read-only properties, alike other classes' by shape only.
    @property
    def handshake(self) -> HandshakeResponder:
        """The handshake object (after :meth:`adopt`, the one that ran elsewhere)."""
        return self._handshake

    @property
    def portable(self) -> bool:
        """Whether the step can run in another process (:func:`run_handshake_step`):
        the randomness is the OS generator, which every process has its own of."""
        return self._rng is random_bytes

    def arguments(self) -> tuple[HandshakeResponder, bytes, float]:
        """What :func:`run_handshake_step` takes, to send to another process
        (the handshake object is pickled with its secrets: use pipes between
        your own processes only)."""
        return self._handshake, self._packet, self._now

    def adopt(self, outcome: StepOutcome) -> None:
        """Take the outcome of :func:`run_handshake_step` run elsewhere."""
        self._handshake, self.answer, self.error = outcome
        self.ran = True

    def __repr__(self) -> str:
        return f"<HandshakeWork ran={self.ran}>"


StepOutcome = tuple[HandshakeResponder, "bytes | None", "MtcryptError | None"]


def run_handshake_step(handshake: HandshakeResponder, packet: bytes, now: float) -> StepOutcome:
    """One handshake step in a worker process: returns the advanced handshake
    object and the answer or the error (see :meth:`HandshakeWork.arguments`)."""
    try:
        return handshake, handshake.receive_with(packet, random_bytes, now), None
    except MtcryptError as exc:
        return handshake, None, exc


class ServerConnection(ConnectionBase):
    """One accepted connection, server side (sans-I/O; see the module docs).

    :param rsa_keys: the server's RSA private key(s).
    :param keys: the :class:`KeyStore` shared by the server's connections
        (default: a fresh :class:`MemoryKeyStore`, for one-connection uses).
    :param transport: a configured :class:`~mtcrypt.transport.ServerTransport`
        (MTProxy secrets, fake-TLS policy...); default: every plain and
        obfuscated transport, frames up to ``limits.max_frame``.  Build your
        own with ``max_frame=limits.max_frame``.
    :param limits: :class:`ConnectionLimits`; :param timeouts: :class:`Timeouts`
        (``handshake`` and ``idle`` apply to a server).
    :param budget: a :class:`BufferBudget` shared with the server's other
        connections.
    :param seen: the :class:`SeenRequests` shared with the server's other
        connections, so that a request recorded on the wire and replayed on a
        new connection is refused (default: this connection's own).
    :param accept_legacy_rsa: accept the legacy RSA padding in the handshake
        (Telethon and Pyrogram send it).
    :param dc_id: the DC this server is: a handshake naming another one (a test
        DC, +10000, included) is refused with transport error -444.  ``None``
        (the default) takes any.
    :param check_salt: sessions drop messages with a wrong salt (answering
        ``bad_server_salt``).
    :param offload_handshakes: hand handshake steps out as
        :class:`HandshakeWorkNeeded` instead of running them inline.
    :param handshake_factory: makes the handshake object for each key
        creation (tooling; default :class:`~mtcrypt.handshake.ServerHandshake`).
    :param session_options: extra keyword arguments for each
        :class:`~mtcrypt.mtproto.Session`.
    :param hooks: :class:`ConnectionHooks` (tooling).
    :param rng: random bytes; :param clock: Unix time in seconds.
    """

    _transport: ServerTransport

    # duplicates: deliberate -- the documented keyword-only signature; aio.Server takes the same
    # options and hands them on.
    def __init__(
        self,
        rsa_keys: RsaPrivateKey | Iterable[RsaPrivateKey],
        *,
        keys: KeyStore | None = None,
        transport: ServerTransport | None = None,
        limits: ConnectionLimits | None = None,
        timeouts: Timeouts | None = None,
        budget: BufferBudget | None = None,
        seen: SeenRequests | None = None,
        accept_legacy_rsa: bool = True,
        dc_id: int | None = None,
        check_salt: bool = False,
        offload_handshakes: bool = False,
        handshake_factory: Callable[[], HandshakeResponder] | None = None,
        session_options: Mapping[str, Any] | None = None,
        hooks: ConnectionHooks | None = None,
        rng: Rng = random_bytes,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(
            limits=limits, timeouts=timeouts, budget=budget, hooks=hooks, rng=rng, clock=clock
        )
        self._rsa_keys = [rsa_keys] if isinstance(rsa_keys, RsaPrivateKey) else list(rsa_keys)
        if handshake_factory is None:
            # Fail now, not at the first handshake, on bad keys.
            ServerHandshake(self._rsa_keys, rng=rng, clock=clock)
        if keys is not None and not isinstance(keys, KeyStore):
            raise InvalidArgument("keys must implement the KeyStore interface")
        if transport is not None and not isinstance(transport, ServerTransport):
            raise InvalidArgument("transport must be a ServerTransport")
        self._keys: KeyStore = keys if keys is not None else MemoryKeyStore()
        self._transport = transport or ServerTransport(
            max_frame=self.limits.max_frame, rng=rng, clock=clock
        )
        if seen is not None and not isinstance(seen, SeenRequests):
            raise InvalidArgument("seen must be a SeenRequests")
        self._seen = seen if seen is not None else SeenRequests(4096)
        self._accept_legacy = accept_legacy_rsa
        self._dc_id = None if dc_id is None else check_int(dc_id, "dc_id", 1, 0x7FFF)
        self._check_salt = check_salt
        self._offload = offload_handshakes
        self._factory = handshake_factory
        self._session_options = dict(session_options or {})
        self._handshake: HandshakeResponder | None = None
        self._handshake_started_at = 0.0
        self._handshakes = 0
        self._completed: HandshakeResponder | None = None
        self._work: HandshakeWork | None = None
        self._frames: deque[bytes] = deque()
        self._frames_size = 0
        self._sessions: dict[tuple[int, int], Session] = {}
        # Sessions with something to send: sealed in data_to_send(), so that the
        # answers to a container of requests leave in one container too.
        self._dirty: dict[tuple[int, int], Session] = {}
        self._auth_keys: dict[int, AuthKey] = {}  # the keys of those sessions
        self._pending: set[tuple[int, int, int]] = set()
        self._authenticated = False

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("open" if self._authenticated else "new")
        return f"<ServerConnection {state} sessions={len(self._sessions)}>"

    # ---- public state ---------------------------------------------------------------

    @property
    def transport_info(self) -> TransportInfo | None:
        """The detected transport (None until detected)."""
        return self._transport.info

    @property
    def authenticated(self) -> bool:
        """Whether the peer has proven a key (a handshake completed here, or an
        encrypted packet decrypted); the handshake deadline no longer applies."""
        return self._authenticated

    @property
    def sessions(self) -> Mapping[tuple[int, int], Session]:
        """The sessions on this connection, by ``(key_id, session_id)``."""
        return self._sessions

    @property
    def pending_requests(self) -> int:
        """Requests handed out and not answered yet."""
        return len(self._pending)

    @property
    def buffered(self) -> int:
        """Bytes held for the peer: partial frames and frames behind handshake work."""
        return self._held_bytes()

    # ---- input -------------------------------------------------------------------------

    def _on_transport_frame(self, payload: bytes, events: list[ConnectionEvent]) -> None:
        if self._work is not None:
            self._frames.append(payload)
            self._frames_size += len(payload) + _FRAME_OVERHEAD
        else:
            self._on_frame(payload, events)

    def _on_transport_event(self, event: TransportEvent, events: list[ConnectionEvent]) -> None:
        if isinstance(event, TransportDetected):
            events.append(TransportReady(event.info))

    def work_done(self, work: HandshakeWork) -> list[ConnectionEvent]:
        """Finish a :class:`HandshakeWork` after ``work.run()``; frames that
        arrived meanwhile are processed now."""
        events: list[ConnectionEvent] = []
        if work is not self._work:
            if self._closed is not None:
                return events  # the connection ended while the work ran
            raise InvalidArgument("not this connection's outstanding handshake work")
        if not work.ran:
            raise InvalidArgument("run the work before handing it back")
        self._work = None
        handshake = self._handshake = work.handshake  # it may have run in another process
        self._step_done(handshake, work.answer, work.error, events)
        while self._frames and self._work is None and self._closed is None:
            payload = self._frames.popleft()
            self._frames_size -= len(payload) + _FRAME_OVERHEAD
            self._on_frame(payload, events)
        if self._closed is None:
            self._check_buffers(events)  # the held frames are gone: give the budget back
        return events

    # ---- answering -----------------------------------------------------------------------

    def answer(self, request: IncomingRequest, result: bytes) -> None:
        """Answer a request with its serialized result (``rpc_result``).  After
        the connection closed this does nothing.  A result that is not a TL
        object (a positive multiple of 4 bytes) raises
        :class:`~mtcrypt.errors.InvalidArgument` and leaves the request unanswered."""
        data = as_bytes(result, "result")
        if len(data) < 4 or len(data) % 4:
            raise InvalidArgument("a result is a TL object: a positive multiple of 4 bytes")
        session = self._take_pending(request)
        if session is not None:
            session.send_result(request.msg_id, data)
            self._dirty[(request.key_id, request.session_id)] = session

    def answer_error(self, request: IncomingRequest, code: int, message: str) -> None:
        """Answer a request with ``rpc_error``."""
        session = self._take_pending(request)
        if session is not None:
            session.send_error(request.msg_id, code, message)
            self._dirty[(request.key_id, request.session_id)] = session

    def send_update(self, key_id: int, session_id: int, body: bytes) -> int:
        """Send a message of the server's own (an update) into a session on this
        connection; returns its msg_id."""
        session = self._sessions.get((key_id, session_id))
        if session is None:
            raise InvalidArgument("no such session on this connection")
        msg_id = session.send(body)
        self._dirty[(key_id, session_id)] = session
        return msg_id

    def close(self, detail: str = "") -> list[ConnectionEvent]:
        """End the connection from this side."""
        events: list[ConnectionEvent] = []
        self._close(events, CloseReason.LOCAL, detail)
        return events

    # ---- time ------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`on_timer` must be called next (clock time), or None."""
        if self._closed is not None:
            return None
        handshake = self.timeouts.handshake
        acks = [s.ack_deadline for s in self._sessions.values()]
        return self._earliest(
            None if self._authenticated or handshake is None else self.opened_at + handshake,
            self._idle_deadline(),
            *acks,
        )

    def on_timer(self, now: float | None = None) -> list[ConnectionEvent]:
        """Act on the deadlines that have passed by ``now`` (default: the clock)."""
        events: list[ConnectionEvent] = []
        if self._closed is not None:
            return events
        now = now_or(self._clock, now)
        handshake = self.timeouts.handshake
        idle = self._idle_deadline()
        if not self._authenticated and handshake is not None and now >= self.opened_at + handshake:
            self._close(events, CloseReason.HANDSHAKE_TIMEOUT, f"{handshake:g} s")
        elif idle is not None and now >= idle:
            self._close(events, CloseReason.IDLE_TIMEOUT, f"{self.timeouts.idle:g} s")
        else:
            for (key_id, _), session in list(self._sessions.items()):
                deadline = session.ack_deadline
                if deadline is not None and deadline <= now:
                    self._flush(key_id, session, force_acks=True)
        return events

    # ---- frames ---------------------------------------------------------------------------

    def _on_frame(self, payload: bytes, events: list[ConnectionEvent]) -> None:
        if payload[:8] == _PLAIN_KEY_ID:
            self._on_plain(payload, events)
        else:
            self._on_encrypted(payload, events)

    # duplicates: deliberate -- the settings handed on by keyword, one per line, like other
    # constructor calls (the CLI's ProxyServer(...)): alike by shape only.
    def _new_handshake(self) -> HandshakeResponder:
        if self._factory is not None:
            return self._factory()
        return ServerHandshake(
            self._rsa_keys,
            dc=self._dc_id,
            accept_legacy_rsa=self._accept_legacy,
            rng=self._rng,
            clock=self._clock,
        )

    def _on_plain(self, payload: bytes, events: list[ConnectionEvent]) -> None:
        handshake = self._handshake
        now = self._clock()
        if handshake is None or handshake.done:
            if self._handshakes >= self.limits.max_handshakes:
                self._exceeded(events, "max_handshakes", self._handshakes + 1)
                return
            handshake = self._handshake = self._new_handshake()
            self._handshakes += 1
            self._handshake_started_at = now
        if self._offload:
            # The step that completes a key goes first, then the one after
            # resPQ, then new handshakes: started handshakes finish before new
            # ones take the workers.  (req_pq is light, about 0.25 ms, but a
            # flood of them would still stall an event loop.)
            state = getattr(handshake, "state", None)
            priority = {"wait_client_dh": 0, "wait_req_dh_params": 1}.get(str(state), 2)
            self._work = HandshakeWork(handshake, payload, self._rng, now, priority)
            events.append(HandshakeWorkNeeded(self._work))
            return
        try:
            answer: bytes | None = handshake.receive_with(payload, self._rng, now)
            error: MtcryptError | None = None
        except MtcryptError as exc:
            answer, error = None, exc
        self._step_done(handshake, answer, error, events)

    def _step_done(
        self,
        handshake: HandshakeResponder,
        answer: bytes | None,
        error: MtcryptError | None,
        events: list[ConnectionEvent],
    ) -> None:
        if error is not None or answer is None:
            check = error.check if isinstance(error, HandshakeError) else "unexpected_message"
            events.append(HandshakeFailed(check))
            self._handshake = None
            # -444: the DC id names another DC or environment; -404 for the rest.
            code = -444 if check == "dc" else -404
            self._refuse(events, CloseReason.HANDSHAKE_FAILED, check, code)
            return
        packet = self._hooked_plain(answer)
        if packet is not None:
            self._write(self._transport.send(packet))
        if handshake.done and self._completed is not handshake:
            self._completed = handshake
            self._authenticated = True
            result = handshake.result
            now = self._clock()
            self._keys.add(
                StoredKey(
                    auth_key=result.auth_key,
                    salt=result.server_salt,
                    created_at=now,
                    expires_at=None if result.expires_at is None else float(result.expires_at),
                )
            )
            events.append(handshake_complete(result, now - self._handshake_started_at))

    def _on_encrypted(self, payload: bytes, events: list[ConnectionEvent]) -> None:
        now = self._clock()
        key_id = _I64.unpack_from(payload)[0] if len(payload) >= 8 else 0
        entry = self._keys.get(key_id, now)
        if entry is None:
            self._refuse(events, CloseReason.UNKNOWN_KEY, "", -404)
            return
        try:
            plaintext = decrypt_message(entry.auth_key, payload, from_server=False)
        except DecryptionFailed:
            self._refuse(events, CloseReason.DECRYPTION_FAILED, "", -404)
            return
        self._show_received(entry.auth_key, plaintext, sealed=False)
        self._authenticated = True
        session_id = _I64.unpack_from(plaintext, 8)[0]
        session = self._sessions.get((key_id, session_id))
        if session is None:
            if len(self._sessions) >= self.limits.max_sessions:
                self._exceeded(events, "max_sessions", len(self._sessions) + 1)
                return
            session = Session(
                entry.auth_key,
                Role.SERVER,
                session_id=session_id,
                salt=entry.salt,
                check_salt=self._check_salt,
                rng=self._rng,
                clock=self._clock,
                **self._session_options,
            )
            self._sessions[(key_id, session_id)] = session
            self._auth_keys[key_id] = entry.auth_key
        for event in session.receive_plaintext(plaintext):
            if isinstance(event, Request):
                self._on_request(entry, session, session_id, event, now, events)
                if self._closed is not None:
                    return
            elif isinstance(event, MessageDropped):
                if event.notify_code is not None:
                    session.notify_bad_message(event)
                events.append(MessageRejected(event.reason, event.msg_id, event.notify_code))
        self._dirty[(key_id, session_id)] = session

    def _on_request(
        self,
        entry: StoredKey,
        session: Session,
        session_id: int,
        request: Request,
        now: float,
        events: list[ConnectionEvent],
    ) -> None:
        if not self._seen.first_time(entry.key_id, session_id, request.msg_id, now):
            # Accepted on another connection already: a replay.
            events.append(MessageRejected(DropReason.DUPLICATE, request.msg_id, None))
            return
        unwrapped = unwrap_query(request.body)
        query = unwrapped.query
        constructor = struct.unpack_from("<I", query)[0] if len(query) >= 4 else None
        if constructor == _BIND_TEMP_AUTH_KEY:
            self._bind(entry, session, session_id, request.msg_id, query, now, events)
            return
        if (
            entry.temporary
            and constructor not in _UNBOUND_ALLOWED
            and self._binding(entry, now) is None
        ):
            # Telegram's answer: an unbound temporary key serves the binding and
            # the two configuration calls only, never the API under no identity.
            session.send_error(request.msg_id, 401, "AUTH_KEY_PERM_EMPTY")
            return
        if len(self._pending) >= self.limits.max_pending_requests:
            self._exceeded(events, "max_pending_requests", len(self._pending) + 1)
            return
        self._pending.add((entry.key_id, session_id, request.msg_id))
        events.append(
            IncomingRequest(
                key_id=entry.key_id,
                session_id=session_id,
                msg_id=request.msg_id,
                query=query,
                body=request.body,
                layer=unwrapped.layer,
                api_id=unwrapped.api_id,
                temporary=entry.temporary,
                perm_key_id=self._binding(entry, now),
            )
        )

    def _binding(self, entry: StoredKey, now: float) -> int | None:
        """The permanent key a temporary key is bound to now (the store may have
        recorded the binding after this connection looked the key up)."""
        if not entry.temporary:
            return None
        if entry.perm_key_id is not None:
            return entry.perm_key_id
        current = self._keys.get(entry.key_id, now)
        return None if current is None else current.perm_key_id

    def _bind(
        self,
        temp: StoredKey,
        session: Session,
        session_id: int,
        msg_id: int,
        query: bytes,
        now: float,
        events: list[ConnectionEvent],
    ) -> None:
        try:
            request = tl.deserialize(query)
            perm = self._keys.get(request.perm_auth_key_id, now)
            if not temp.temporary or perm is None or perm.temporary:
                raise HandshakeError("bind.perm_auth_key_id", "no such permanent key")
            verify_bind_temp_auth_key(
                request,
                perm_key=perm.auth_key,
                temp_key=temp.auth_key,
                msg_id=msg_id,
                session_id=session_id,
                now=now,
            )
        except (HandshakeError, MtcryptError):
            session.send_error(msg_id, 400, "ENCRYPTED_MESSAGE_INVALID")
            return
        self._keys.bind(temp.key_id, perm.key_id)
        session.send_result(msg_id, _BOOL_TRUE)
        events.append(KeyBound(temp.key_id, perm.key_id))

    # ---- output ---------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """The bytes to write to the socket now (may be empty): queued answers
        and service messages are sealed here, together."""
        if self._dirty:
            dirty, self._dirty = self._dirty, {}
            for (key_id, _), session in dirty.items():
                self._flush(key_id, session)
        return super().data_to_send()

    def _flush(self, key_id: int, session: Session, *, force_acks: bool = False) -> None:
        if self._closed is not None:
            return
        if self._hooks is None:  # large results sealed straight into their frames
            for data in session.data_to_send_framed(self._transport, flush_acks=force_acks):
                self._write(data)
            return
        for packet in session.data_to_send(flush_acks=force_acks):
            hooked = self._hooked_sealed(self._auth_keys[key_id], packet, from_server=True)
            if hooked is not None:
                self._write(self._transport.send(hooked))

    def _bad_transport(self, events: list[ConnectionEvent], exc: TransportError) -> None:
        self._refuse(events, CloseReason.BAD_TRANSPORT, str(exc), exc.code)

    def _refuse(
        self, events: list[ConnectionEvent], reason: CloseReason, detail: str, code: int
    ) -> None:
        """Send a transport error code (when the framing allows one), then close."""
        self._write(self._transport.send_error(code))
        self._close(events, reason, detail, code)

    def _take_pending(self, request: IncomingRequest) -> Session | None:
        if not isinstance(request, IncomingRequest):
            raise InvalidArgument("answer takes the IncomingRequest event")
        key = (request.key_id, request.session_id, request.msg_id)
        if key not in self._pending:
            if self._closed is not None:
                return None
            raise InvalidArgument("not an unanswered request of this connection")
        self._pending.discard(key)
        return self._sessions[(request.key_id, request.session_id)]

    def _held_bytes(self) -> int:
        return self._transport.buffered + self._frames_size

    def _on_closed(self) -> None:
        self._sessions.clear()
        self._dirty.clear()
        self._auth_keys.clear()
        self._pending.clear()
        self._frames.clear()
        self._frames_size = 0
        self._handshake = None
        if self._work is not None:
            self._work.cancelled = True  # a worker that has not started it skips it
            self._work = None
