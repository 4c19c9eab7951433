"""The client side of one MTProto connection, sans-I/O.

:class:`ClientConnection` composes a :class:`~mtcrypt.transport.ClientTransport`,
the auth-key handshake (a permanent key, and optionally a temporary one bound
to it with ``auth.bindTempAuthKey``) and a :class:`~mtcrypt.mtproto.Session`::

    conn = ClientConnection(ClientTransport("intermediate"), public_keys=keys, dc_id=2)
    events = conn.start()
    socket.write(conn.data_to_send())
    request_id = conn.send_request(query)        # queued until Ready if need be
    ...
    events = conn.receive_data(bytes_from_socket)
    socket.write(conn.data_to_send())
    # ResultReceived(request_id, result), RequestFailed, PongReceived, UpdateReceived...
    # and when conn.next_deadline() comes: conn.on_timer(now)

Requests are named by ids the connection hands out (1, 2, 3...), stable
across the session's re-sends.  Deadlines (handshake, idle, keep-alive ping,
ack flush, request re-send and time-out) are data: :meth:`next_deadline` and
:meth:`on_timer`.  The peer's bytes never make it raise: every failure ends in
a :class:`Closed` event naming the reason.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import tl
from .._random import random_bytes
from .._validation import Clock, Rng, as_bytes, is_int
from ..errors import DecryptionFailed, HandshakeError, InvalidArgument, SessionError
from ..handshake import TELEGRAM_PRODUCTION_KEYS, ClientHandshake, HandshakeResult
from ..handshake.bind import bind_temp_auth_key
from ..handshake.rsa import RsaPublicKey
from ..mtproto import AuthKey
from ..mtproto.authkey import require_auth_key
from ..mtproto.session import (
    Acked,
    BadMessage,
    MessageDropped,
    Pong,
    Resent,
    Role,
    RpcError,
    RpcResult,
    Session,
    Update,
)
from ..transport import ClientTransport, TransportErrorCode
from ..transport.events import Event as TransportEvent
from ._base import ConnectionBase, handshake_complete, now_or
from .events import (
    CloseReason,
    ConnectionEvent,
    HandshakeFailed,
    KeyBound,
    MessageRejected,
    PongReceived,
    Ready,
    RequestFailed,
    RequestTimedOut,
    ResultReceived,
    UpdateReceived,
)
from .hooks import ConnectionHooks
from .limits import ConnectionLimits, Timeouts
from .reconnect import RestartReason

__all__ = ["ClientConnection"]

_PLAIN_KEY_ID = bytes(8)
_BOOL_TRUE = struct.pack("<I", 0x997275B5)
_MAX_BIND_ATTEMPTS = 3


@dataclass(slots=True)
class _Pending:
    request_id: int
    ping: bool
    body: bytes | None  # None once handed to the session
    expires_at: float | None  # request time-out
    resend_at: float | None
    handle: int = 0  # the session's id for it, once sent


class ClientConnection(ConnectionBase):
    """One connection to an MTProto server, client side (see the module docs).

    :param transport: the :class:`~mtcrypt.transport.ClientTransport` (framing,
        obfuscation, MTProxy secret; give it ``max_frame=limits.max_frame``).
    :param public_keys: server RSA keys trusted for the handshake.
    :param dc_id: DC id written into ``p_q_inner_data_dc`` (None: legacy
        constructors without one).
    :param auth_key: an existing permanent key (no handshake for it); with
        ``salt`` and ``time_offset`` as saved from before.
    :param temp_key_expires_in: also create a temporary key valid this many
        seconds, bind it to the permanent key and run the session under it
        (perfect forward secrecy).
    :param limits: :class:`ConnectionLimits` (``max_frame``,
        ``max_buffered_bytes``, ``max_pending_requests`` apply to a client).
    :param timeouts: :class:`Timeouts`.
    :param session_options: extra keyword arguments for the
        :class:`~mtcrypt.mtproto.Session`.
    :param hooks: :class:`ConnectionHooks` (tooling).
    :param handshake_factory: makes the handshake object for each key creation
        from :class:`~mtcrypt.handshake.ClientHandshake`'s keyword arguments
        (``dc``, ``public_keys``, ``expires_in``, ``rng``, ``clock``); tooling
        passes a subclass that misplays a step.  Default: ``ClientHandshake``.
    :param rng: random bytes; :param clock: Unix time in seconds.
    """

    _transport: ClientTransport

    # duplicates: deliberate -- the documented keyword-only signature; aio.Client.connect takes
    # the same options and hands them on, and the arguments are stored one per line.
    def __init__(
        self,
        transport: ClientTransport,
        *,
        public_keys: Iterable[RsaPublicKey] = TELEGRAM_PRODUCTION_KEYS,
        dc_id: int | None = 2,
        auth_key: AuthKey | None = None,
        salt: int = 0,
        time_offset: float | None = None,
        temp_key_expires_in: int | None = None,
        limits: ConnectionLimits | None = None,
        timeouts: Timeouts | None = None,
        session_options: Mapping[str, Any] | None = None,
        hooks: ConnectionHooks | None = None,
        handshake_factory: Callable[..., ClientHandshake] | None = None,
        rng: Rng = random_bytes,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(
            limits=limits, timeouts=timeouts, budget=None, hooks=hooks, rng=rng, clock=clock
        )
        if not isinstance(transport, ClientTransport):
            raise InvalidArgument("transport must be a ClientTransport")
        if auth_key is not None:
            require_auth_key(auth_key)
        if temp_key_expires_in is not None and (
            not is_int(temp_key_expires_in) or not 0 < temp_key_expires_in < 1 << 31
        ):
            raise InvalidArgument("temp_key_expires_in must be a positive int32 or None")
        self._transport = transport
        self._public_keys = tuple(public_keys)
        self._dc_id = dc_id
        self._perm_key = auth_key
        self._salt = salt
        self._time_offset = time_offset
        self._temp_expires_in = temp_key_expires_in
        self._session_options = dict(session_options or {})
        self._handshake_factory = handshake_factory or ClientHandshake
        self._started = False
        self._handshake: ClientHandshake | None = None
        self._handshake_started_at = 0.0
        self.handshake_results: list[HandshakeResult] = []
        """The keys created on this connection (permanent first)."""
        self._temp_key: AuthKey | None = None
        self._temp_expires_at = 0
        self._session: Session | None = None
        self._ready = False
        self._bind_handle: int | None = None
        self._bind_attempts = 0
        self._next_id = 0
        self._pending: dict[int, _Pending] = {}  # by request id
        self._by_handle: dict[int, _Pending] = {}
        self._last_sent_at = self.opened_at
        self._dirty = False  # the session has something to send: see data_to_send()
        self._restart: RestartReason | None = None
        # Check the handshake parameters now rather than at start().
        if auth_key is None:
            self._make_handshake(None)

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("ready" if self._ready else "starting")
        return f"<ClientConnection {state} pending={len(self._pending)}>"

    # ---- public state ----------------------------------------------------------------
    # duplicates: deliberate -- read-only properties, one per attribute with its own docstring:
    # alike other classes' (session, transports) by shape only.

    @property
    def ready(self) -> bool:
        """Whether the session is up (requests go out at once)."""
        return self._ready

    @property
    def auth_key(self) -> AuthKey | None:
        """The key the session runs under (the temporary one, if asked for)."""
        return self._temp_key if self._temp_expires_in is not None else self._perm_key

    @property
    def perm_key(self) -> AuthKey | None:
        """The permanent key (created here or given)."""
        return self._perm_key

    @property
    def session(self) -> Session | None:
        """The session, once the key exists (for its salt, time offset, stats)."""
        return self._session

    @property
    def transport(self) -> ClientTransport:
        return self._transport

    @property
    def restart(self) -> RestartReason | None:
        """Set when the server's transport error -404 means, per the spec, that
        the client must start again (see :mod:`mtcrypt.connection.reconnect`):
        :meth:`restarted` builds the connection that does."""
        return self._restart

    def restarted(self, transport: ClientTransport) -> ClientConnection:
        """A new connection over ``transport`` that starts again after this
        one's -404: key creation with a new nonce (keeping a permanent key made
        before), or a new temporary key bound before anything else is sent.
        Every other parameter is this connection's.  The requests still waiting
        here are not carried over: queue them on the new one.

        Raises :class:`~mtcrypt.errors.SessionError` unless :attr:`restart` is set."""
        if self._restart is None:
            raise SessionError("this connection did not end with a -404 that calls for a restart")
        return ClientConnection(
            transport,
            public_keys=self._public_keys,
            dc_id=self._dc_id,
            auth_key=self._perm_key,
            salt=self._salt,
            time_offset=self._time_offset,
            temp_key_expires_in=self._temp_expires_in,
            limits=self.limits,
            timeouts=self.timeouts,
            session_options=self._session_options,
            hooks=self._hooks,
            handshake_factory=self._handshake_factory,
            rng=self._rng,
            clock=self._clock,
        )

    @property
    def pending_requests(self) -> tuple[int, ...]:
        """Ids of the requests (and pings) still waiting for an answer."""
        return tuple(self._pending)

    # ---- starting ----------------------------------------------------------------------

    def start(self) -> list[ConnectionEvent]:
        """Begin: the transport's first bytes and the first handshake packet go
        to :meth:`data_to_send`; with a key given (and no temporary key asked
        for) the connection is :class:`Ready` at once."""
        if self._started:
            raise SessionError("start() may be called once")
        self._started = True
        events: list[ConnectionEvent] = []
        self._write(self._transport.data_to_send())
        if self._perm_key is None:
            assert self._handshake is not None
            self._begin_handshake(self._handshake)
        elif self._temp_expires_in is not None:
            self._begin_handshake(self._make_handshake(self._temp_expires_in))
        else:
            self._open_session(self._perm_key, self._salt, self._time_offset, events)
        return events

    def _make_handshake(self, expires_in: int | None) -> ClientHandshake:
        self._handshake = self._handshake_factory(
            dc=self._dc_id,
            public_keys=self._public_keys,
            expires_in=expires_in,
            rng=self._rng,
            clock=self._clock,
        )
        return self._handshake

    def _begin_handshake(self, handshake: ClientHandshake) -> None:
        self._handshake_started_at = self._clock()
        self._send_packet(handshake.start(), plain=True)

    # ---- requests ----------------------------------------------------------------------

    def send_request(self, body: bytes) -> int:
        """Queue an RPC query (one serialized TL object); returns its request id.

        Before :class:`Ready` it is held and sent once the session is up.
        Raises :class:`~mtcrypt.errors.SessionError` when the connection is
        closed or ``limits.max_pending_requests`` are already waiting."""
        data = as_bytes(body, "body")
        if len(data) < 4 or len(data) % 4:
            raise InvalidArgument("a request is a TL object: a positive multiple of 4 bytes")
        return self._new_pending(data, ping=False)

    def send_ping(self) -> int:
        """Queue an encrypted ``ping``; :class:`PongReceived` names the returned id."""
        return self._new_pending(None, ping=True)

    def cancel(self, request_id: int) -> bool:
        """Stop waiting for a request (a queued one is not sent); False if unknown."""
        pending = self._pending.pop(request_id, None)
        if pending is None:
            return False
        if pending.handle:
            self._by_handle.pop(pending.handle, None)
            if self._session is not None:
                self._session.forget(pending.handle)
        return True

    def close(self, detail: str = "") -> list[ConnectionEvent]:
        """End the connection from this side."""
        events: list[ConnectionEvent] = []
        self._close(events, CloseReason.LOCAL, detail)
        return events

    def _new_pending(self, body: bytes | None, *, ping: bool) -> int:
        if self._closed is not None:
            raise SessionError(f"the connection is closed ({self._closed.reason.value})")
        if len(self._pending) >= self.limits.max_pending_requests:
            raise SessionError(
                f"{len(self._pending)} requests already wait (limits.max_pending_requests)"
            )
        self._next_id += 1
        timeout = self.timeouts.request
        now = self._clock()
        pending = _Pending(
            self._next_id,
            ping,
            b"" if body is None else body,
            None if timeout is None else now + timeout,
            None,
        )
        self._pending[pending.request_id] = pending
        if self._ready:
            self._submit(pending)
            self._dirty = True
        return pending.request_id

    def _submit(self, pending: _Pending) -> None:
        session = self._session
        assert session is not None
        if pending.ping:
            pending.handle = session.send_ping()
        else:
            assert pending.body is not None
            pending.handle = session.send(pending.body)
        pending.body = None
        resend = self.timeouts.resend
        pending.resend_at = None if resend is None else self._clock() + resend
        self._by_handle[pending.handle] = pending

    # ---- input -------------------------------------------------------------------------

    def _on_transport_event(self, event: TransportEvent, events: list[ConnectionEvent]) -> None:
        if isinstance(event, TransportErrorCode):
            if event.code == -404 and self._closed is None:
                if self._handshake is not None:
                    self._restart = RestartReason.HANDSHAKE_REFUSED
                elif self._session is not None and self._temp_key is not None:  # PFS: only under it
                    self._restart = RestartReason.TEMP_KEY_LOST
            self._close(
                events,
                CloseReason.TRANSPORT_ERROR_RECEIVED,
                f"transport error {event.code}",
                event.code,
            )

    def _on_transport_frame(self, payload: bytes, events: list[ConnectionEvent]) -> None:
        plain = payload[:8] == _PLAIN_KEY_ID
        handshake = self._handshake
        if handshake is not None:
            if plain:
                self._on_handshake(handshake, payload, events)
            return  # an encrypted packet before we have a key: ignored
        if plain or self._session is None:
            if plain and self._hooks is not None:
                self._hooks.received_plain(payload)
            return  # no plain messages once encrypted (tdlib ignores them too)
        self._on_encrypted(self._session, payload, events)

    def _on_handshake(
        self, handshake: ClientHandshake, payload: bytes, events: list[ConnectionEvent]
    ) -> None:
        try:
            answer = handshake.receive(payload)
        except HandshakeError as exc:
            events.append(HandshakeFailed(exc.check))
            self._handshake = None
            self._close(events, CloseReason.HANDSHAKE_FAILED, exc.check)
            return
        if answer is not None:
            self._send_packet(answer, plain=True)
            return
        result = handshake.result
        self._handshake = None
        self.handshake_results.append(result)
        events.append(handshake_complete(result, self._clock() - self._handshake_started_at))
        if result.expires_at is None:
            self._perm_key = result.auth_key
            self._salt = result.server_salt
            self._time_offset = float(result.time_offset)
            if self._temp_expires_in is not None:
                self._begin_handshake(self._make_handshake(self._temp_expires_in))
                return
            self._open_session(result.auth_key, result.server_salt, self._time_offset, events)
            return
        self._temp_key = result.auth_key
        self._temp_expires_at = result.expires_at
        self._open_session(result.auth_key, result.server_salt, float(result.time_offset), events)

    def _open_session(
        self,
        key: AuthKey,
        salt: int,
        time_offset: float | None,
        events: list[ConnectionEvent],
    ) -> None:
        self._session = Session(
            key,
            Role.CLIENT,
            salt=salt,
            time_offset=time_offset,
            rng=self._rng,
            clock=self._clock,
            **self._session_options,
        )
        if self._temp_key is not None and key is self._temp_key:
            self._send_bind()
            self._dirty = True
        else:
            self._become_ready(events)

    def _send_bind(self) -> None:
        session = self._session
        perm, temp = self._perm_key, self._temp_key
        assert session is not None and perm is not None and temp is not None
        session_id = session.session_id
        assert session_id is not None
        self._bind_attempts += 1

        def build(msg_id: int) -> bytes:
            return tl.serialize(
                bind_temp_auth_key(
                    perm,
                    temp,
                    temp_session_id=session_id,
                    msg_id=msg_id,
                    expires_at=self._temp_expires_at,
                    rng=self._rng,
                )
            )

        self._bind_handle = session.send_naming_msg_id(build)

    def _become_ready(self, events: list[ConnectionEvent]) -> None:
        session = self._session
        key = self.auth_key
        assert session is not None and key is not None and session.session_id is not None
        self._ready = True
        events.append(Ready(key.key_id, session.session_id))
        for pending in self._pending.values():
            if not pending.handle:
                self._submit(pending)
        self._dirty = True

    def _on_encrypted(
        self, session: Session, payload: bytes, events: list[ConnectionEvent]
    ) -> None:
        self._show_received(self.auth_key, payload, sealed=True)
        try:
            session_events = session.receive(payload)
        except DecryptionFailed:
            self._close(events, CloseReason.DECRYPTION_FAILED)
            return
        for event in session_events:
            if isinstance(event, RpcResult):
                if event.req_msg_id == self._bind_handle:
                    self._on_bind_answer(event.result == _BOOL_TRUE, "", events)
                else:
                    self._answered(event.req_msg_id, events, result=event.result)
            elif isinstance(event, RpcError):
                if event.req_msg_id == self._bind_handle:
                    self._on_bind_answer(False, event.error_message, events)
                else:
                    self._answered(
                        event.req_msg_id,
                        events,
                        error=(event.error_code, event.error_message),
                    )
            elif isinstance(event, Pong):
                pending = self._by_handle.get(event.ping_msg_id)
                if pending is not None and pending.ping:
                    self._answered(event.ping_msg_id, events, ping_id=event.ping_id)
                elif pending is not None:  # a ping sent as a request: the pong is its result
                    pong = tl.make("pong", msg_id=event.ping_msg_id, ping_id=event.ping_id)
                    self._answered(event.ping_msg_id, events, result=tl.serialize(pong))
            elif isinstance(event, Update):
                events.append(UpdateReceived(event.msg_id, event.body))
            elif isinstance(event, Acked):
                for handle in event.msg_ids:
                    acked = self._by_handle.get(handle)
                    if acked is not None:
                        acked.resend_at = None
            elif isinstance(event, Resent) and event.req_msg_id == self._bind_handle:
                # The bind names its own msg_id: build it again instead.
                session.forget(event.req_msg_id)
                if self._bind_attempts >= _MAX_BIND_ATTEMPTS:
                    self._on_bind_answer(False, "too many attempts", events)
                else:
                    self._send_bind()
            elif isinstance(event, BadMessage) and event.error_code not in (16, 17, 19, 20, 64):
                # Not re-sent by the session: it would fail the same way.
                self._answered(
                    event.req_msg_id,
                    events,
                    error=(event.error_code, f"BAD_MSG_NOTIFICATION_{event.error_code}"),
                )
            elif isinstance(event, MessageDropped):
                events.append(MessageRejected(event.reason, event.msg_id, event.notify_code))
            if self._closed is not None:
                return
        self._dirty = True

    def _on_bind_answer(self, ok: bool, detail: str, events: list[ConnectionEvent]) -> None:
        self._bind_handle = None
        if not ok:
            self._close(events, CloseReason.BIND_FAILED, detail or "not boolTrue")
            return
        perm, temp = self._perm_key, self._temp_key
        assert perm is not None and temp is not None
        events.append(KeyBound(temp.key_id, perm.key_id))
        self._become_ready(events)

    def _answered(
        self,
        handle: int,
        events: list[ConnectionEvent],
        *,
        result: bytes | None = None,
        error: tuple[int, str] | None = None,
        ping_id: int | None = None,
    ) -> None:
        pending = self._by_handle.pop(handle, None)
        if pending is None:
            return
        self._pending.pop(pending.request_id, None)
        if error is not None:
            if self._session is not None:
                self._session.forget(handle)
            events.append(RequestFailed(pending.request_id, error[0], error[1]))
        elif ping_id is not None:
            events.append(PongReceived(pending.request_id, ping_id))
        else:
            events.append(ResultReceived(pending.request_id, result or b""))

    # ---- time ----------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`on_timer` must be called next (clock time), or None."""
        if self._closed is not None or not self._started:
            return None
        t = self.timeouts
        session = self._session
        deadlines: list[float | None] = [self._idle_deadline()]
        if not self._ready and t.handshake is not None:
            deadlines.append(self.opened_at + t.handshake)
        if self._ready and t.keepalive is not None:
            deadlines.append(self._last_sent_at + t.keepalive)
        if session is not None:
            deadlines.append(session.ack_deadline)
        for pending in self._pending.values():
            deadlines.append(pending.expires_at)
            deadlines.append(pending.resend_at)
        return self._earliest(*deadlines)

    def on_timer(self, now: float | None = None) -> list[ConnectionEvent]:
        """Act on the deadlines that have passed by ``now`` (default: the clock)."""
        events: list[ConnectionEvent] = []
        if self._closed is not None or not self._started:
            return events
        now = now_or(self._clock, now)
        t = self.timeouts
        idle = self._idle_deadline()
        if not self._ready and t.handshake is not None and now >= self.opened_at + t.handshake:
            self._close(events, CloseReason.HANDSHAKE_TIMEOUT, f"{t.handshake:g} s")
            return events
        if idle is not None and now >= idle:
            self._close(events, CloseReason.IDLE_TIMEOUT, f"{t.idle:g} s")
            return events
        session = self._session
        for pending in list(self._pending.values()):
            if pending.expires_at is not None and now >= pending.expires_at:
                self.cancel(pending.request_id)
                events.append(RequestTimedOut(pending.request_id))
            elif pending.resend_at is not None and now >= pending.resend_at and session:
                assert t.resend is not None
                if pending.handle in session.unacknowledged(now):
                    session.resend(pending.handle)
                pending.resend_at = now + t.resend
        if self._ready and session is not None and t.keepalive is not None:
            if now >= self._last_sent_at + t.keepalive:
                session.send_ping()  # keeps the connection (and NAT state) alive
                self._last_sent_at = now  # even if a hook drops it: no spinning
        self._flush(force_acks=session is not None and _due(session.ack_deadline, now))
        return events

    # ---- output ---------------------------------------------------------------------------

    def _send_packet(self, packet: bytes, *, plain: bool) -> None:
        if plain:
            hooked = self._hooked_plain(packet)
        else:
            key = self.auth_key
            assert key is not None
            hooked = self._hooked_sealed(key, packet, from_server=False)
        if hooked is not None:
            self._write(self._transport.send(hooked))
            self._last_sent_at = self._clock()

    def data_to_send(self) -> bytes:
        """The bytes to write to the socket now (may be empty): queued requests
        are sealed here, together (one container for a burst of requests)."""
        if self._dirty:
            self._dirty = False
            self._flush()
        return super().data_to_send()

    def _flush(self, *, force_acks: bool = False) -> None:
        session = self._session
        if session is None or self._closed is not None:
            return
        for packet in session.data_to_send(flush_acks=force_acks):
            self._send_packet(packet, plain=False)

    def _held_bytes(self) -> int:
        return self._transport.buffered

    def _on_closed(self) -> None:
        self._handshake = None


def _due(deadline: float | None, now: float) -> bool:
    return deadline is not None and deadline <= now
