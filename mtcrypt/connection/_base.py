"""What both connection sides share: output, closing, limits, deadlines, hooks."""

from __future__ import annotations

from collections.abc import Callable

from .. import tl
from .._validation import BytesLike, Clock, Rng, as_bytes
from ..errors import InvalidArgument, MtcryptError, TransportError
from ..handshake import HandshakeResult
from ..mtproto import AuthKey, InnerMessage, decrypt_message, encrypt_message
from ..mtproto.plain import pack_plain, unpack_plain
from ..transport import ClientTransport, Frame, ServerTransport
from ..transport.events import Event as TransportEvent
from .events import Closed, CloseReason, ConnectionEvent, HandshakeComplete, LimitExceeded
from .hooks import ConnectionHooks
from .limits import BufferBudget, ConnectionLimits, Timeouts


class ConnectionBase:
    """Output buffer, close bookkeeping, the buffer limits and the idle deadline."""

    _transport: ClientTransport | ServerTransport

    def __init__(
        self,
        *,
        limits: ConnectionLimits | None,
        timeouts: Timeouts | None,
        budget: BufferBudget | None,
        hooks: ConnectionHooks | None,
        rng: Rng,
        clock: Clock,
    ) -> None:
        if limits is not None and not isinstance(limits, ConnectionLimits):
            raise InvalidArgument("limits must be a ConnectionLimits")
        if timeouts is not None and not isinstance(timeouts, Timeouts):
            raise InvalidArgument("timeouts must be a Timeouts")
        if budget is not None and not isinstance(budget, BufferBudget):
            raise InvalidArgument("budget must be a BufferBudget")
        if hooks is not None and not isinstance(hooks, ConnectionHooks):
            raise InvalidArgument("hooks must be a ConnectionHooks")
        if not callable(rng) or not callable(clock):
            raise InvalidArgument("rng and clock must be callables")
        self.limits = limits or ConnectionLimits()
        self.timeouts = timeouts or Timeouts()
        self._budget = budget
        self._hooks = hooks
        self._rng = rng
        self._clock = clock
        self._out: list[bytes] = []
        self._closed: Closed | None = None
        self.opened_at = clock()
        self._last_frame_at = self.opened_at

    # ---- output -----------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """The bytes to write to the socket now (may be empty)."""
        out = b"".join(self._out)
        self._out.clear()
        return out

    def _write(self, data: bytes) -> None:
        if data:
            self._out.append(data if self._hooks is None else self._hooks.wire(data))

    def send_packet(self, packet: BytesLike) -> None:
        """Tooling: frame ``packet`` (an MTProto packet of the tool's making)
        with the connection's transport and queue it for :meth:`data_to_send`
        after everything queued before (what the sessions hold is sealed
        first).  Neither the hooks nor the sessions see it."""
        data = as_bytes(packet, "packet")
        self._queue_after(lambda: self._transport.send(data))

    def send_raw(self, data: BytesLike) -> None:
        """Tooling: queue ``data`` for :meth:`data_to_send` exactly as given,
        after everything queued before (a frame built and then damaged, or
        bytes that are no frame at all).  No framing, no hooks."""
        raw = as_bytes(data, "data")
        self._queue_after(lambda: raw)

    def _queue_after(self, make: Callable[[], bytes]) -> None:
        queued = self.data_to_send()  # the sides seal their sessions' output here
        for data in (queued, make()):
            if data:
                self._out.append(data)

    # ---- input -------------------------------------------------------------------------

    def receive_data(self, data: BytesLike) -> list[ConnectionEvent]:
        """Feed what the socket produced (``b""`` for end of stream)."""
        events: list[ConnectionEvent] = []
        for event in self._transport_events(data, events):
            if self._closed is not None:
                break
            if isinstance(event, Frame):
                self._last_frame_at = self._clock()
                self._on_transport_frame(event.payload, events)
            else:
                self._on_transport_event(event, events)
        if self._closed is None:
            self._check_buffers(events)
        return events

    def _on_transport_frame(self, payload: bytes, events: list[ConnectionEvent]) -> None:
        """A frame from the peer (sides override)."""

    def _on_transport_event(self, event: TransportEvent, events: list[ConnectionEvent]) -> None:
        """A transport event other than a frame (sides override)."""

    def _transport_events(
        self, data: BytesLike, events: list[ConnectionEvent]
    ) -> list[TransportEvent]:
        """The first half of :meth:`receive_data`: end of stream, the transport's
        own failures and output; returns the transport's events."""
        raw = as_bytes(data, "data")
        if self._closed is not None:
            return []
        if not raw:
            self._close(events, CloseReason.PEER_CLOSED)
            return []
        try:
            transport_events = self._transport.receive(raw)
        except TransportError as exc:
            self._bad_transport(events, exc)
            return []
        self._write(self._transport.data_to_send())
        return transport_events

    def _bad_transport(self, events: list[ConnectionEvent], exc: TransportError) -> None:
        self._close(events, CloseReason.BAD_TRANSPORT, str(exc))

    # ---- closing ------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether the connection is over (a :class:`Closed` event was produced)."""
        return self._closed is not None

    @property
    def close_event(self) -> Closed | None:
        """The :class:`Closed` event, once closed."""
        return self._closed

    def _close(
        self,
        events: list[ConnectionEvent],
        reason: CloseReason,
        detail: str = "",
        code: int | None = None,
    ) -> None:
        if self._closed is not None:
            return
        self._closed = Closed(reason, detail, code)
        events.append(self._closed)
        if self._budget is not None:
            self._budget.release(id(self))
        self._on_closed()

    def _on_closed(self) -> None:
        """Drop per-connection state (sides override)."""

    def _exceeded(self, events: list[ConnectionEvent], limit: str, value: int) -> None:
        events.append(LimitExceeded(limit, value))
        self._close(events, CloseReason.LIMIT_EXCEEDED, limit)

    def _held_bytes(self) -> int:
        """Bytes this connection holds for the peer (sides override)."""
        return 0

    def _check_buffers(self, events: list[ConnectionEvent]) -> bool:
        """Enforce ``max_buffered_bytes`` and the shared budget; False if closed."""
        held = self._held_bytes()
        if held > self.limits.max_buffered_bytes:
            self._exceeded(events, "max_buffered_bytes", held)
            return False
        if self._budget is not None and not self._budget.update(id(self), held):
            self._exceeded(events, "server_buffer_budget", self._budget.total + held)
            return False
        return True

    # ---- time ---------------------------------------------------------------------

    def _idle_deadline(self) -> float | None:
        idle = self.timeouts.idle
        return None if idle is None else self._last_frame_at + idle

    @staticmethod
    def _earliest(*deadlines: float | None) -> float | None:
        present = [d for d in deadlines if d is not None]
        return min(present) if present else None

    # ---- hooks ----------------------------------------------------------------------

    def _hooked_plain(self, packet: bytes) -> bytes | None:
        """Apply the plain-object and packet hooks to an unencrypted packet."""
        hooks = self._hooks
        if hooks is None:
            return packet
        if hooks.rewrites_plain:
            msg_id, body = unpack_plain(packet)
            obj = hooks.plain_object(tl.deserialize(body))
            if obj is None:
                return None
            packet = pack_plain(msg_id, tl.serialize(obj))
        return hooks.packet(packet)

    def _show_received(self, key: AuthKey | None, data: bytes, *, sealed: bool) -> None:
        """Show an incoming message to the ``received`` hook, if overridden:
        ``data`` is its plaintext, or (``sealed``) the server's packet, opened
        here; a packet that does not open is not shown (the session refuses it)."""
        hooks = self._hooks
        if hooks is None or key is None or not hooks.observes_received:
            return
        try:
            plaintext = decrypt_message(key, data, from_server=True) if sealed else data
            message = InnerMessage.parse(plaintext)
        except MtcryptError:
            return
        hooks.received(key.key_id, message)

    def _hooked_sealed(self, key: AuthKey, packet: bytes, *, from_server: bool) -> bytes | None:
        """Apply the message and packet hooks to one of our sealed packets."""
        hooks = self._hooks
        if hooks is None:
            return packet
        if hooks.rewrites_messages:
            plain = decrypt_message(key, packet, from_server=from_server)
            message = hooks.message(InnerMessage.parse(plain))
            if message is None:
                return None
            packet = encrypt_message(key, message.pack(), from_server=from_server, rng=self._rng)
        return hooks.packet(packet)


def handshake_complete(result: HandshakeResult, seconds: float) -> HandshakeComplete:
    """The event for a key ``result`` created in ``seconds``."""
    return HandshakeComplete(
        key_id=result.auth_key.key_id,
        temporary=result.expires_at is not None,
        expires_at=result.expires_at,
        rsa_scheme=str(result.rsa_scheme),
        inner_data=str(result.inner_data),
        retries=result.retries,
        seconds=seconds,
    )


def now_or(clock: Clock, now: float | None) -> float:
    return clock() if now is None else float(now)


__all__ = ["ConnectionBase", "now_or"]
