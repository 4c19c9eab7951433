"""The MTProxy relay, sans-I/O: one :class:`Relay` per client connection.

It reads the client's first bytes and decides, under a set of named secrets:

* an obfuscated2 header (plain or ``dd`` secret) or a fake-TLS ClientHello
  followed by the header in TLS records (``ee`` secret): **relay**.  It asks
  for a connection to the client's DC (:class:`DcRequested`), queues an
  obfuscated2 header of its own for the DC (fresh random keys, the client's
  protocol tag and DC id: direct mode, as mtprotoproxy and mtg do without an
  ad tag), and from then on re-encrypts both directions with AES-256-CTR;
* anything else (an HTTP request, a ClientHello with a wrong HMAC or a stale
  or replayed one, random bytes, an unknown secret, a plain MTProto tag):
  **mask** (:class:`MaskRequested` carries every byte received, for the I/O
  layer to forward byte for byte to the masking host and splice the rest)
  when the policy has a masking host, otherwise **hold**: the relay swallows
  what follows and closes at the handshake deadline, answering nothing.

A client that authenticated (its ClientHello or header matched a secret) and
then breaks the stream is closed; it is not masked, since it has already been
answered.

Nothing here touches a socket, a clock or the OS RNG of its own: time comes
from ``clock`` and randomness from ``rng``, and deadlines are data
(:meth:`Relay.next_deadline`, :meth:`Relay.on_timer`), like
:class:`~mtcrypt.connection.ServerConnection`.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from .._random import random_bytes
from .._state_machine import StateMachine, transitions
from .._validation import BytesLike, Clock, Rng, as_bytes
from ..connection.limits import Timeouts
from ..crypto import Ctr256
from ..errors import InvalidArgument, InvalidType, TransportError
from ..transport import (
    FakeTlsPolicy,
    Framing,
    ProxySecret,
    SecretKind,
    Sniffed,
    is_forbidden_header,
    make_client_header,
    parse_client_header,
    sniff,
)
from ..transport.faketls import (
    MAX_CLIENT_HELLO,
    TlsRecordReader,
    TlsRecordWriter,
    build_server_hello,
    check_client_hello,
)
from ..transport.framing import CODEC_BY_OBFUSCATION_TAG
from ..transport.obfuscation import HEADER_SIZE, ParsedHeader
from .dcs import DcTable

__all__ = [
    "RELAY_TRANSITIONS",
    "DcRequested",
    "MaskRequested",
    "NamedSecret",
    "Rejected",
    "Relay",
    "RelayCloseReason",
    "RelayClosed",
    "RelayEvent",
    "RelayInput",
    "RelayPolicy",
    "RelayState",
]

TLS_RECORD_TO_CLIENT: Final = 1 << 14
"""Payload bytes per application-data record sent to a fake-TLS client: the
TLS maximum, what a web server sends when it streams."""

_TAG_BY_FRAMING: Final = {framing: tag for tag, framing in CODEC_BY_OBFUSCATION_TAG.items()}


# ---- configuration ----------------------------------------------------------------


@dataclass(frozen=True)
class NamedSecret:
    """A secret the relay accepts, and the name its statistics go under.

    A plain or ``dd`` secret admits obfuscated2 connections under its key (the
    two are the same key on the wire: ``dd`` only tells clients to pad); an
    ``ee`` secret admits fake-TLS connections only, with its domain as SNI.
    """

    name: str
    secret: ProxySecret

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isprintable() or not self.name:
            raise InvalidArgument("a secret's name is a non-empty printable str")
        if not isinstance(self.secret, ProxySecret):
            raise InvalidType("secret must be a ProxySecret")


@dataclass(frozen=True)
class RelayPolicy:
    """What every :class:`Relay` of one proxy shares.

    :param secrets: the accepted secrets (names unique).
    :param dcs: where each DC id goes (:class:`~mtcrypt.proxy.DcTable`).
    :param timeouts: ``handshake``: a client must have been recognised this
        long after it connected (a held connection is closed then); ``idle``:
        a relayed connection with no bytes either way for this long is closed.
        Other fields are not used.
    :param tls: the fake-TLS checks (time window, replay cache, SNI).  Share
        one replay cache among all relays of a proxy.
    :param mask: whether a masking host is configured: rejected connections
        are handed over (:class:`MaskRequested`) instead of held.
    """

    secrets: Sequence[NamedSecret]
    dcs: DcTable = field(default_factory=DcTable)
    timeouts: Timeouts = field(default_factory=lambda: Timeouts(handshake=10.0, idle=300.0))
    tls: FakeTlsPolicy = field(default_factory=FakeTlsPolicy)
    mask: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.secrets, str | bytes) or not self.secrets:
            raise InvalidArgument("a relay needs a sequence of at least one NamedSecret")
        secrets = tuple(self.secrets)
        if not all(isinstance(s, NamedSecret) for s in secrets):
            raise InvalidType("secrets must be NamedSecret values")
        if len({s.name for s in secrets}) != len(secrets):
            raise InvalidArgument("secret names must be unique")
        if not isinstance(self.dcs, DcTable):
            raise InvalidType("dcs must be a DcTable")
        if not isinstance(self.timeouts, Timeouts):
            raise InvalidType("timeouts must be a Timeouts")
        if not isinstance(self.tls, FakeTlsPolicy):
            raise InvalidType("tls must be a FakeTlsPolicy")
        object.__setattr__(self, "secrets", secrets)

    @property
    def obfuscated_secrets(self) -> list[NamedSecret]:
        """The plain and ``dd`` secrets."""
        return [s for s in self.secrets if s.secret.kind is not SecretKind.FAKE_TLS]

    @property
    def tls_secrets(self) -> list[NamedSecret]:
        """The ``ee`` secrets."""
        return [s for s in self.secrets if s.secret.kind is SecretKind.FAKE_TLS]


# ---- events ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DcRequested:
    """The client is recognised: connect to ``host:port`` and send
    :meth:`Relay.data_for_dc` (which starts with the relay's header)."""

    dc_id: int
    host: str
    port: int
    secret_name: str
    framing: Framing
    fake_tls: bool


@dataclass(frozen=True, slots=True)
class MaskRequested:
    """The client failed the checks: open the masking host, write ``data``
    (every byte the client sent so far, unchanged) and splice the two
    connections; the relay is done with this client."""

    data: bytes = field(repr=False)
    reason: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """The client failed the checks and no masking host is configured: the
    connection is held open, answered with nothing, until the handshake
    deadline."""

    reason: str


# duplicates: deliberate -- a plain enum of values, like the other layers' close reasons.
class RelayCloseReason(enum.Enum):
    """Why a relay ended (the ``reason`` of :class:`RelayClosed`)."""

    CLIENT_CLOSED = "client_closed"
    DC_CLOSED = "dc_closed"
    DC_UNAVAILABLE = "dc_unavailable"
    """No address for the DC the client asked for, or the I/O layer could not
    connect (:meth:`Relay.dc_failed`)."""
    BAD_STREAM = "bad_stream"
    """An authenticated client broke the fake-TLS records or its header."""
    HANDSHAKE_TIMEOUT = "handshake_timeout"
    IDLE_TIMEOUT = "idle_timeout"
    HELD = "held"
    """A rejected connection reached its handshake deadline."""
    MASKED = "masked"
    """Handed over to the masking host (the relay's part is over)."""
    LOCAL = "local"


@dataclass(frozen=True, slots=True)
class RelayClosed:
    """The relay is over; close both sockets (always the last event)."""

    reason: RelayCloseReason
    detail: str = ""


RelayEvent = DcRequested | MaskRequested | Rejected | RelayClosed


# ---- the state machine --------------------------------------------------------------


# duplicates: deliberate -- enums then table, as each machine declares its own (the data differs).
class RelayState(enum.Enum):
    """Where a :class:`Relay` is."""

    DETECTING = "detecting"  # reading the client's first bytes
    TLS_HEADER = "tls_header"  # fake-TLS accepted: the obfuscated2 header in records
    RELAYING = "relaying"
    HOLDING = "holding"  # rejected, no masking host: swallow until the deadline
    CLOSED = "closed"


class RelayInput(enum.Enum):
    """What moves a :class:`Relay`."""

    CLIENT_HELLO_OK = "a valid fake-TLS ClientHello (ServerHello queued)"
    RECOGNISED = "an obfuscated2 header under a known secret (DC header queued)"
    HELD = "rejected with no masking host: held silently"
    CLOSE = "the end: either side closed, a deadline, a mask hand-over, close()"


_S, _I = RelayState, RelayInput
RELAY_TRANSITIONS = transitions(
    {
        _S.DETECTING: {
            _I.CLIENT_HELLO_OK: _S.TLS_HEADER,
            _I.RECOGNISED: _S.RELAYING,
            _I.HELD: _S.HOLDING,
            _I.CLOSE: _S.CLOSED,
        },
        _S.TLS_HEADER: {_I.RECOGNISED: _S.RELAYING, _I.CLOSE: _S.CLOSED},
        _S.RELAYING: {_I.CLOSE: _S.CLOSED},
        _S.HOLDING: {_I.CLOSE: _S.CLOSED},
    }
)
"""Every allowed (state, input) -> next state of a :class:`Relay` (which
starts ``DETECTING``; a mask hand-over closes it with
:attr:`RelayCloseReason.MASKED`)."""


def _transcode(buf: bytearray | memoryview, decrypt: Ctr256, encrypt: Ctr256) -> None:
    """One side's stream to the other's, in place: both CTR passes over the
    same buffer (no fresh output to fault in per chunk)."""
    decrypt.update_into(buf, buf)
    encrypt.update_into(buf, buf)


def _writable(buf: object) -> bytearray | memoryview:
    if isinstance(buf, bytearray) or (isinstance(buf, memoryview) and not buf.readonly):
        return buf
    raise InvalidType("buf must be a bytearray or a writable memoryview")


def _owned(data: bytes | bytearray | memoryview) -> bytes | bytearray:
    return bytes(data) if isinstance(data, memoryview) else data


def _drain(parts: list[bytes | bytearray]) -> bytes | bytearray:
    if len(parts) == 1:
        return parts.pop()
    out = b"".join(parts)
    parts.clear()
    return out


class _Rejection(Exception):
    """Internal: the client failed the checks (``str``: why, for logs)."""


class Relay(StateMachine[RelayState, RelayInput]):
    """One client connection of an MTProxy relay (see the module docs).

    Feed it :meth:`receive_from_client` and :meth:`receive_from_dc` (``b""``
    for end of stream), write :meth:`data_for_client` and :meth:`data_for_dc`
    after each call, act on the returned events, and call :meth:`on_timer` at
    :meth:`next_deadline`.  Counters: :attr:`bytes_from_client`,
    :attr:`bytes_from_dc` (payload relayed each way, after the handshakes).
    """

    def __init__(
        self,
        policy: RelayPolicy,
        *,
        rng: Rng = random_bytes,
        clock: Clock = time.time,
    ) -> None:
        if not isinstance(policy, RelayPolicy):
            raise InvalidType("policy must be a RelayPolicy")
        if not callable(rng) or not callable(clock):
            raise InvalidArgument("rng and clock must be callables")
        self.policy = policy
        self._rng = rng
        self._clock = clock
        self._state = RelayState.DETECTING
        self._buf = bytearray()  # DETECTING: every byte received; TLS_HEADER: records
        self._stream = bytearray()  # TLS_HEADER: unwrapped bytes before the header
        self._to_client: list[bytes | bytearray] = []
        self._to_dc: list[bytes | bytearray] = []
        self._reader: TlsRecordReader | None = None
        self._writer: TlsRecordWriter | None = None
        self._client_in: Ctr256 | None = None
        self._client_out: Ctr256 | None = None
        self._dc_in: Ctr256 | None = None
        self._dc_out: Ctr256 | None = None
        self._tls_index = -1
        self.secret_name: str | None = None
        """The name of the secret the client matched (None until recognised)."""
        self.dc_id: int | None = None
        self.opened_at = clock()
        self._last_activity = self.opened_at
        self.bytes_from_client = 0
        self.bytes_from_dc = 0
        self.closed_event: RelayClosed | None = None

    def __repr__(self) -> str:
        return f"<Relay {self._state.value} secret={self.secret_name!r} dc={self.dc_id}>"

    @property
    def state(self) -> RelayState:
        return self._state

    _transitions = RELAY_TRANSITIONS

    def _refusal(self, event: RelayInput) -> Exception:
        # Every input comes from this module's own decisions: a refusal is a bug.
        return AssertionError(f"relay: {event.name} in state {self._state.value}")

    # ---- output ---------------------------------------------------------------

    def data_for_client(self) -> bytes | bytearray:
        """The bytes to write to the client now (may be empty)."""
        return _drain(self._to_client)

    def data_for_dc(self) -> bytes | bytearray:
        """The bytes to write to the DC now (may be empty)."""
        return _drain(self._to_dc)

    @property
    def buffered(self) -> int:
        """Bytes held before the client is recognised (bounded by the largest
        ClientHello plus one TLS record)."""
        return len(self._buf) + len(self._stream)

    # ---- input ------------------------------------------------------------------

    def receive_from_client(self, data: BytesLike) -> list[RelayEvent]:
        if self._state is RelayState.RELAYING:
            if not data:
                return self._close(RelayCloseReason.CLIENT_CLOSED)
            out = self.transcode_from_client(bytearray(data))
            if self.closed_event is not None:  # a broken TLS stream
                return [self.closed_event]
            if out:
                self._to_dc.append(_owned(out))
            return []
        raw = as_bytes(data, "data")
        if self._state is RelayState.CLOSED:
            return []
        if not raw:
            if self._state is RelayState.DETECTING and self._buf and self.policy.mask:
                # A prober that sends a few bytes and half-closes gets the web site's answer.
                return self._reject("end of stream before a valid handshake")
            return self._close(RelayCloseReason.CLIENT_CLOSED)
        if self._state is RelayState.HOLDING:
            return []
        self._buf += raw
        try:
            if self._state is RelayState.TLS_HEADER:
                return self._tls_header()
            return self._detect()
        except _Rejection as exc:
            return self._reject(str(exc))

    def receive_from_dc(self, data: BytesLike) -> list[RelayEvent]:
        if self._state is not RelayState.RELAYING:
            if self._state is RelayState.CLOSED:
                return []
            raise InvalidArgument("no DC connection before the client is recognised")
        if not data:
            return self._close(RelayCloseReason.DC_CLOSED)
        self._to_client.append(_owned(self.transcode_from_dc(bytearray(data))))
        return []

    # ---- the zero-copy path -------------------------------------------------------

    def transcode_from_client(self, buf: bytearray | memoryview) -> bytes | bytearray | memoryview:
        """While relaying: the client's next bytes ``buf`` (a writable buffer
        the caller owns), re-encrypted for the DC.

        The work is done in place: for an obfuscated2 client ``buf`` itself is
        returned; for a fake-TLS client, a view of its start, where the records'
        payload has been moved over their headers (empty while a record's
        header is incomplete).  A broken TLS
        stream closes the relay: the result is empty and :attr:`closed_event`
        says why.  The I/O layer's fast path: one read buffer, no copies.
        """
        buf = _writable(buf)
        if self._state is not RelayState.RELAYING:
            raise InvalidArgument("transcode_from_client is for a relaying connection")
        assert self._client_in is not None and self._dc_out is not None
        if self._reader is not None:  # the records' payload, moved over their headers
            try:
                size = self._reader.feed_into(buf)
            except TransportError as exc:
                self._close(RelayCloseReason.BAD_STREAM, str(exc))
                return b""
            if not size:
                return b""
            buf = memoryview(buf)[:size]
        self._last_activity = self._clock()
        self.bytes_from_client += len(buf)
        _transcode(buf, self._client_in, self._dc_out)
        return buf

    def transcode_from_dc(self, buf: bytearray | memoryview) -> bytes | bytearray | memoryview:
        """While relaying: the DC's next bytes ``buf`` (a writable buffer the
        caller owns), re-encrypted for the client, in place (``buf`` itself is
        returned), or wrapped in TLS records (new bytes) for a fake-TLS client."""
        buf = _writable(buf)
        if self._state is not RelayState.RELAYING:
            raise InvalidArgument("transcode_from_dc is for a relaying connection")
        assert self._dc_in is not None and self._client_out is not None
        self._last_activity = self._clock()
        self.bytes_from_dc += len(buf)
        _transcode(buf, self._dc_in, self._client_out)
        return buf if self._writer is None else self._writer.wrap(buf)

    def dc_failed(self, detail: str = "") -> list[RelayEvent]:
        """The I/O layer could not reach the DC."""
        return self._close(RelayCloseReason.DC_UNAVAILABLE, detail)

    def close(self) -> list[RelayEvent]:
        return self._close(RelayCloseReason.LOCAL)

    # ---- time ---------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        timeouts = self.policy.timeouts
        if self._state is RelayState.CLOSED:
            return None
        if self._state is RelayState.RELAYING:
            return None if timeouts.idle is None else self._last_activity + timeouts.idle
        return None if timeouts.handshake is None else self.opened_at + timeouts.handshake

    def on_timer(self, now: float | None = None) -> list[RelayEvent]:
        at = self._clock() if now is None else float(now)
        deadline = self.next_deadline()
        if deadline is None or at < deadline:
            return []
        if self._state is RelayState.RELAYING:
            return self._close(RelayCloseReason.IDLE_TIMEOUT)
        if self._state is RelayState.HOLDING:
            return self._close(RelayCloseReason.HELD)
        if self._state is RelayState.DETECTING and self.policy.mask and self._buf:
            return self._reject("no valid handshake before the deadline")
        return self._close(RelayCloseReason.HANDSHAKE_TIMEOUT)

    # ---- detection ------------------------------------------------------------------

    def _detect(self) -> list[RelayEvent]:
        buf = self._buf
        kind = sniff(buf, fake_tls=bool(self.policy.tls_secrets))
        if kind is None:
            return []
        if kind is Sniffed.FAKE_TLS:
            return self._client_hello()
        if kind is not Sniffed.OBFUSCATED2:
            raise _Rejection(f"unobfuscated transport ({kind.value})")
        head = bytes(buf[:8])
        # Clients never start a header with these (tdlib redraws them), and a
        # prober's HTTP request does: decide now, without waiting for 64 bytes.
        # (A 16 03 01 xx start other than tdlib's forbidden 16 03 01 02 is a
        # possible header when no ee secret makes it a ClientHello.)
        if is_forbidden_header(head) and not (head[:3] == b"\x16\x03\x01" and head[3] != 2):
            raise _Rejection("not an obfuscated2 header")
        if len(buf) < HEADER_SIZE:
            return []
        events = self._try_obfuscated()
        if events is None:
            raise _Rejection("obfuscated2 header under no known secret")
        return events

    def _try_obfuscated(self) -> list[RelayEvent] | None:
        """Start relaying if the first 64 bytes are a header under a plain or
        ``dd`` secret; None if not."""
        candidates = self.policy.obfuscated_secrets
        if not candidates or len(self._buf) < HEADER_SIZE:
            return None
        try:
            parsed = parse_client_header(
                bytes(self._buf[:HEADER_SIZE]), [s.secret.key for s in candidates]
            )
        except TransportError:
            return None
        assert parsed.secret_index is not None
        rest = bytes(self._buf[HEADER_SIZE:])
        self._buf.clear()
        return self._start(candidates[parsed.secret_index], parsed, rest)

    def _client_hello(self) -> list[RelayEvent]:
        buf = self._buf
        if len(buf) < 5:
            return []
        total = 5 + int.from_bytes(buf[3:5], "big")
        if total > 5 + MAX_CLIENT_HELLO:
            events = self._try_obfuscated()
            if events is not None:
                return events
            if len(buf) < HEADER_SIZE and self.policy.obfuscated_secrets:
                return []
            raise _Rejection("fake-TLS: ClientHello too long")
        if len(buf) < total:
            # Perhaps an obfuscated2 header that merely starts like TLS.
            events = self._try_obfuscated()
            return [] if events is None else events
        secrets = self.policy.tls_secrets
        try:
            hello = check_client_hello(
                bytes(buf[:total]),
                [s.secret.key for s in secrets],
                now=self._clock(),
                policy=self.policy.tls,
                domains=[s.secret.domain for s in secrets],
            )
        except TransportError as exc:
            events = self._try_obfuscated()
            if events is None:
                raise _Rejection(str(exc)) from None
            return events
        self._tls_index = hello.key_index
        self._to_client.append(
            build_server_hello(
                secrets[hello.key_index].secret.key,
                hello.client_random,
                hello.session_id,
                rng=self._rng,
                certificate_size=self.policy.tls.server_hello_size,
            )
        )
        del buf[:total]
        self._reader = TlsRecordReader(
            allow_change_cipher_spec=True, max_record=self.policy.tls.max_record
        )
        self._advance(RelayInput.CLIENT_HELLO_OK)
        return self._tls_header()

    def _tls_header(self) -> list[RelayEvent]:
        assert self._reader is not None
        if self._buf:
            raw = bytes(self._buf)
            self._buf.clear()
            try:
                self._stream += self._reader.feed(raw)
            except TransportError as exc:
                return self._close(RelayCloseReason.BAD_STREAM, str(exc))
        if len(self._stream) < HEADER_SIZE:
            return []
        named = self.policy.tls_secrets[self._tls_index]
        try:
            parsed = parse_client_header(bytes(self._stream[:HEADER_SIZE]), [named.secret.key])
        except TransportError as exc:
            return self._close(RelayCloseReason.BAD_STREAM, str(exc))
        rest = bytes(self._stream[HEADER_SIZE:])
        self._stream.clear()
        self._writer = TlsRecordWriter(change_cipher_spec=False, max_record=TLS_RECORD_TO_CLIENT)
        return self._start(named, parsed, rest)

    def _start(self, named: NamedSecret, parsed: ParsedHeader, rest: bytes) -> list[RelayEvent]:
        self.secret_name = named.name
        self.dc_id = parsed.dc_id
        address = self.policy.dcs.resolve(parsed.dc_id)
        if address is None:
            parsed.decryptor.wipe()
            parsed.encryptor.wipe()
            return self._close(RelayCloseReason.DC_UNAVAILABLE, f"no address for DC {parsed.dc_id}")
        header = make_client_header(
            _TAG_BY_FRAMING[parsed.framing], dc_id=parsed.dc_id, rng=self._rng
        )
        self._client_in, self._client_out = parsed.decryptor, parsed.encryptor
        self._dc_out, self._dc_in = header.encryptor, header.decryptor
        self._to_dc.append(header.wire)
        self._advance(RelayInput.RECOGNISED)
        self._last_activity = self._clock()
        events: list[RelayEvent] = [
            DcRequested(
                parsed.dc_id,
                address[0],
                address[1],
                named.name,
                parsed.framing,
                fake_tls=self._writer is not None,
            )
        ]
        if rest:
            self.bytes_from_client += len(rest)
            out = bytearray(rest)
            _transcode(out, self._client_in, self._dc_out)
            self._to_dc.append(out)
        return events

    # ---- endings ----------------------------------------------------------------

    def _reject(self, reason: str) -> list[RelayEvent]:
        if self.policy.mask:
            data = bytes(self._buf)
            self._buf.clear()
            events: list[RelayEvent] = [MaskRequested(data, reason)]
            return events + self._close(RelayCloseReason.MASKED, reason)
        self._buf.clear()
        self._advance(RelayInput.HELD)
        return [Rejected(reason)]

    def _close(self, reason: RelayCloseReason, detail: str = "") -> list[RelayEvent]:
        if self._state is RelayState.CLOSED:
            return []
        self._advance(RelayInput.CLOSE)
        for stream in (self._client_in, self._client_out, self._dc_in, self._dc_out):
            if stream is not None:
                stream.wipe()
        self._client_in = self._client_out = self._dc_in = self._dc_out = None
        self._buf.clear()
        self._stream.clear()
        self.closed_event = RelayClosed(reason, detail)
        return [self.closed_event]
