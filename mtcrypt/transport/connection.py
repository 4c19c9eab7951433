"""Client and server transports: framing + optional obfuscation + optional
fake-TLS, composed into one sans-I/O object per connection side.

Usage is the same on both sides (h11/h2 style; the object never touches a
socket, a clock or a thread of its own):

* ``send(payload) -> bytes``: write the result to the socket.  It starts with
  anything the transport still owes the peer (the tag, the obfuscated2 header,
  the ClientHello, the ServerHello), so bytes always leave in the right order.
* ``receive(data) -> list[Event]``: feed whatever the socket produced.
* ``data_to_send() -> bytes``: after ``receive()``, write this too.  It is
  non-empty when the transport itself has something to say: a client's
  ClientHello before any send, a server's fake-TLS ServerHello, or a client's
  frames held back until the fake-TLS answer was verified.

Layers, outermost first: TLS records (``ee`` secrets) → AES-256-CTR
(obfuscated2) → framing.

Server autodetection (``ServerTransport``), from the first bytes:

==================  =======================================================
``ef``              abridged
``ee ee ee ee``     intermediate
``dd dd dd dd``     padded intermediate
``16 03 01``        fake-TLS ClientHello (only when MTProxy secrets are set)
bytes [4:8] == 0    full
anything else       a 64-byte obfuscated2 header
==================  =======================================================

A connection whose first bytes look like TLS but turn out not to be a valid
ClientHello is retried as an obfuscated2 header (tdlib's headers only avoid
``16 03 01 02``), when non-TLS connections are allowed.

Each side's lifecycle is a :class:`TransportState`, moved only by the
:class:`TransportInput` pairs in :data:`CLIENT_TRANSPORT_TRANSITIONS` and
:data:`SERVER_TRANSPORT_TRANSITIONS`. A failed transport refuses
``receive()`` and ``send()`` (:class:`~mtcrypt.errors.SessionError`, both
``"<method>() called in state failed"``); a server also refuses to send
before the transport is detected.
``send_error()`` works in every state.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Container, Sequence
from dataclasses import KW_ONLY, dataclass

from .._random import random_bytes
from .._state_machine import StateMachine, transitions
from .._validation import BytesLike, Clock, Rng, as_bytes, check_int
from ..crypto import Ctr256
from ..errors import InvalidArgument, SessionError, TransportError
from ..mtproto.session_events import Role
from .events import Event, Framing, TransportDetected, TransportInfo
from .faketls import (
    MAX_CLIENT_HELLO,
    ClientHelloInfo,
    FakeTlsPolicy,
    TlsRecordReader,
    TlsRecordWriter,
    build_client_hello,
    build_server_hello,
    check_client_hello,
    server_hello_length,
    verify_server_hello,
)
from .framing import (
    DEFAULT_MAX_FRAME,
    MAX_PADDING,
    FillPayload,
    FrameCodec,
    coerce_framing,
    make_codec,
)
from .obfuscation import HEADER_SIZE, make_client_header, parse_client_header
from .proxy import ProxySecret

__all__ = [
    "CLIENT_TRANSPORT_TRANSITIONS",
    "SERVER_TRANSPORT_TRANSITIONS",
    "ClientTransport",
    "ServerTransport",
    "Sniffed",
    "TransportInput",
    "TransportState",
    "sniff",
]


class TransportState(enum.Enum):
    """Where a :class:`ClientTransport` or :class:`ServerTransport` is."""

    AWAITING_SERVER_HELLO = "awaiting_server_hello"  # fake-TLS client: the proxy's answer
    DETECTING = "detecting"  # server: reading the first bytes
    AWAITING_HEADER = "awaiting_header"  # fake-TLS server: the obfuscated2 header in records
    ESTABLISHED = "established"
    FAILED = "failed"


class TransportInput(enum.Enum):
    """What moves a transport (every input comes from ``receive()``)."""

    SERVER_HELLO_OK = "client: the proxy's ServerHello verified (held frames released)"
    CLIENT_HELLO_OK = "server: a valid fake-TLS ClientHello (ServerHello queued)"
    DETECTED = "server: a plain tag or an obfuscated2 header (also inside TLS records)"
    ERROR = "receive() raised TransportError"


# duplicates: deliberate -- enum then table, as each machine declares its own (the data differs).
_S, _I = TransportState, TransportInput
CLIENT_TRANSPORT_TRANSITIONS = transitions(
    {
        _S.AWAITING_SERVER_HELLO: {_I.SERVER_HELLO_OK: _S.ESTABLISHED, _I.ERROR: _S.FAILED},
        _S.ESTABLISHED: {_I.ERROR: _S.FAILED},
    }
)
"""Every allowed (state, input) -> next state of a :class:`ClientTransport`
(which starts ``AWAITING_SERVER_HELLO`` with fake-TLS, else ``ESTABLISHED``);
any other pair is refused (``TransportError``, the state unchanged)."""

SERVER_TRANSPORT_TRANSITIONS = transitions(
    {
        _S.DETECTING: {
            _I.DETECTED: _S.ESTABLISHED,
            _I.CLIENT_HELLO_OK: _S.AWAITING_HEADER,
            _I.ERROR: _S.FAILED,
        },
        _S.AWAITING_HEADER: {_I.DETECTED: _S.ESTABLISHED, _I.ERROR: _S.FAILED},
        _S.ESTABLISHED: {_I.ERROR: _S.FAILED},
    }
)
"""Every allowed (state, input) -> next state of a :class:`ServerTransport`
(which starts ``DETECTING``); any other pair is refused (``TransportError``,
the state unchanged)."""


class _Transport(StateMachine[TransportState, TransportInput]):
    """What both sides share: the state's refusals, ``receive()`` around each
    side's ``_receive()`` (a ``TransportError`` fails the transport), and the
    bytes owed to the peer."""

    _pending: list[bytes]

    def _wrong_state(
        self, kind: type[TransportError] | type[SessionError], method: str
    ) -> TransportError | SessionError:
        """The one message for a call the state does not allow."""
        return kind(f"{method}() called in state {self._state.value}")

    def _refusal(self, event: TransportInput) -> TransportError | SessionError:
        # Every input comes from receive().
        return self._wrong_state(TransportError, "receive")

    def data_to_send(self) -> bytes:
        out = b"".join(self._pending)
        self._pending.clear()
        return out

    def receive(self, data: BytesLike) -> list[Event]:
        """Feed received bytes; returns the events they complete."""
        if self._state is TransportState.FAILED:
            raise self._wrong_state(SessionError, "receive")
        raw = as_bytes(data, "data")
        try:
            return self._receive(raw)
        except TransportError:
            self._failing()
            self._advance(TransportInput.ERROR)
            raise

    def _receive(self, data: bytes) -> list[Event]:
        raise NotImplementedError

    def _failing(self) -> None:
        """Called when ``receive()`` fails, before the state moves to ``FAILED``."""


class Sniffed(enum.Enum):
    """What the first bytes of a connection announce (see :func:`sniff`)."""

    ABRIDGED = "abridged"
    INTERMEDIATE = "intermediate"
    PADDED_INTERMEDIATE = "padded_intermediate"
    FULL = "full"
    FAKE_TLS = "fake_tls"
    OBFUSCATED2 = "obfuscated2"


_PLAIN_TAGS: dict[Sniffed, tuple[Framing, int]] = {
    Sniffed.ABRIDGED: (Framing.ABRIDGED, 1),
    Sniffed.INTERMEDIATE: (Framing.INTERMEDIATE, 4),
    Sniffed.PADDED_INTERMEDIATE: (Framing.PADDED_INTERMEDIATE, 4),
    Sniffed.FULL: (Framing.FULL, 0),
}


def sniff(prefix: bytes | bytearray, *, fake_tls: bool = False) -> Sniffed | None:
    """Classify a connection by its first bytes; None until enough have arrived
    (at most 8).  ``fake_tls``: recognise a TLS ClientHello (MTProxy servers)."""
    n = len(prefix)
    if n == 0:
        return None
    if prefix[0] == 0xEF:
        return Sniffed.ABRIDGED
    if n < 4:
        return None
    head = bytes(prefix[:4])
    if head == b"\xee\xee\xee\xee":
        return Sniffed.INTERMEDIATE
    if head == b"\xdd\xdd\xdd\xdd":
        return Sniffed.PADDED_INTERMEDIATE
    if fake_tls and head[:3] == b"\x16\x03\x01":
        return Sniffed.FAKE_TLS
    if n < 8:
        return None
    if prefix[4:8] == b"\x00\x00\x00\x00":
        return Sniffed.FULL
    return Sniffed.OBFUSCATED2


# duplicates: deliberate -- a record declared field by field, alike any small dataclass.
@dataclass(slots=True, eq=False)
class _Stack:
    """The layers of one established connection side."""

    codec: FrameCodec
    _: KW_ONLY
    encryptor: Ctr256 | None = None
    decryptor: Ctr256 | None = None
    reader: TlsRecordReader | None = None
    writer: TlsRecordWriter | None = None
    prologue: bytes = b""

    def inbound(self, data: bytes) -> list[Event]:
        if self.reader is not None:
            data = self.reader.feed(data)
        return self.inbound_unwrapped(data)

    def inbound_unwrapped(self, data: bytes) -> list[Event]:
        if self.decryptor is not None and data:
            data = self.decryptor.update(data)
        return self.codec.feed(data)

    def encrypt(self, framed: bytes) -> bytes:
        return framed if self.encryptor is None else self.encryptor.update(framed)

    def wrap(self, data: bytes) -> bytes:
        if self.writer is None:
            return data
        if self.prologue:
            data = self.prologue + data
            self.prologue = b""
        return self.writer.wrap(data)

    def outbound(self, framed: bytes) -> bytes:
        return self.wrap(self.encrypt(framed))

    def outbound_into(self, size: int, fill: FillPayload) -> bytes:
        """:meth:`outbound` of a payload that ``fill`` lays out in the frame's
        own buffer; obfuscation encrypts that buffer in place (fake-TLS records
        are a copy, as in :meth:`outbound`)."""
        encryptor = self.encryptor
        then = None if encryptor is None else lambda frame: encryptor.update_into(frame, frame)
        return self.wrap(self.codec.encode_into(size, fill, then=then))


def _coerce_secret(secret: ProxySecret | str | bytes | None) -> ProxySecret | None:
    return None if secret is None else ProxySecret.parse(secret)


class ClientTransport(_Transport):
    """The client side of one connection.

    ``framing``: ``abridged``, ``intermediate``, ``padded_intermediate`` or
    ``full`` (default: padded intermediate for ``dd``/``ee`` secrets, otherwise
    intermediate).  ``obfuscated``: send an obfuscated2 header (implied by a
    ``secret``).  ``secret``: an MTProxy secret (bytes, hex or base64url text,
    or a :class:`ProxySecret`); ``dd`` and ``ee`` secrets force padded
    intermediate, ``ee`` secrets add fake-TLS.  ``dc_id``: the DC written into
    the header (required with a secret).  ``max_padding``: padded intermediate
    padding, 0..15 (use 3 towards Telethon-compatible peers).
    ``post_quantum_hello``: fake-TLS ClientHello with an ML-KEM key share.
    ``rng``/``clock``: randomness and time sources (``clock`` stamps the
    ClientHello; pass a clock corrected by the server time offset if known).
    """

    _transitions = CLIENT_TRANSPORT_TRANSITIONS

    def __init__(
        self,
        framing: Framing | str | None = None,
        *,
        obfuscated: bool = False,
        secret: ProxySecret | str | bytes | None = None,
        dc_id: int | None = None,
        max_padding: int = MAX_PADDING,
        max_frame: int = DEFAULT_MAX_FRAME,
        post_quantum_hello: bool = False,
        rng: Rng = random_bytes,
        clock: Clock = time.time,
    ) -> None:
        proxy = _coerce_secret(secret)
        if framing is None:
            kind = (
                Framing.PADDED_INTERMEDIATE
                if proxy is not None and proxy.padded
                else Framing.INTERMEDIATE
            )
        else:
            kind = coerce_framing(framing)
        if proxy is not None:
            obfuscated = True
            if proxy.padded and kind is not Framing.PADDED_INTERMEDIATE:
                raise InvalidArgument(
                    f"a {proxy.kind.value} secret requires the padded_intermediate framing"
                )
            if dc_id is None:
                raise InvalidArgument("an MTProxy connection needs the target dc_id")
        if dc_id is not None:
            check_int(dc_id, "dc_id", -0x8000, 0x7FFF)
        codec = make_codec(kind, Role.CLIENT, max_frame=max_frame, max_padding=max_padding, rng=rng)
        self._codec = codec
        self._pending: list[bytes] = []
        self._held: list[bytes] = []
        self._hello_buf = bytearray()
        self._hello_random = b""
        self._hello_key = b""
        self._state = TransportState.ESTABLISHED
        self._failed_in: TransportState | None = None  # the state a failure ended
        self._fake_tls = proxy is not None and proxy.fake_tls
        self._obfuscated = obfuscated
        self._dc_id = dc_id

        if not obfuscated:
            self._stack = _Stack(codec)
            if codec.tag:
                self._pending.append(codec.tag)
            return
        if codec.obfuscation_tag is None:
            raise InvalidArgument("the full framing cannot be obfuscated")
        header = make_client_header(
            codec.obfuscation_tag,
            secret=None if proxy is None else proxy.key,
            dc_id=dc_id,
            rng=rng,
        )
        if proxy is not None and proxy.fake_tls:
            assert proxy.domain is not None
            hello = build_client_hello(
                proxy.key,
                proxy.domain,
                int(clock()),
                rng=rng,
                post_quantum=post_quantum_hello,
            )
            self._pending.append(hello.record)
            self._hello_random = hello.random
            self._hello_key = proxy.key
            self._state = TransportState.AWAITING_SERVER_HELLO
            self._stack = _Stack(
                codec,
                encryptor=header.encryptor,
                decryptor=header.decryptor,
                reader=TlsRecordReader(),
                writer=TlsRecordWriter(change_cipher_spec=True),
                prologue=header.wire,
            )
        else:
            self._pending.append(header.wire)
            self._stack = _Stack(codec, encryptor=header.encryptor, decryptor=header.decryptor)

    def __repr__(self) -> str:
        return (
            f"<ClientTransport {self._codec.framing.value} obfuscated={self._obfuscated} "
            f"fake_tls={self._fake_tls}>"
        )

    @property
    def state(self) -> TransportState:
        """``AWAITING_SERVER_HELLO`` (fake-TLS), ``ESTABLISHED`` or ``FAILED``."""
        return self._state

    @property
    def info(self) -> TransportInfo:
        return TransportInfo(
            self._codec.framing, self._obfuscated, self._fake_tls, self._dc_id, None, None
        )

    @property
    def codec(self) -> FrameCodec:
        return self._codec

    @property
    def buffered(self) -> int:
        """Bytes received and held that are not yet part of a complete frame."""
        return len(self._hello_buf) + self._codec.buffered

    @property
    def established(self) -> bool:
        """False while a fake-TLS client waits for the proxy's answer, and
        after it failed waiting (True after a failure once established)."""
        if self._state is TransportState.FAILED:
            return self._failed_in is TransportState.ESTABLISHED
        return self._state is TransportState.ESTABLISHED

    def send(self, payload: BytesLike, *, quick_ack: bool = False) -> bytes:
        """Frame (and obfuscate, and wrap) one payload; returns the bytes to write."""
        if self._state is TransportState.FAILED:
            raise self._wrong_state(SessionError, "send")
        framed = self._codec.encode(payload, quick_ack=quick_ack)
        if self._state is TransportState.AWAITING_SERVER_HELLO:
            # Encrypted now so the CTR stream stays in order; wrapped in records
            # once the proxy has proven it knows the secret.
            self._held.append(self._stack.encrypt(framed))
            return self.data_to_send()
        self._pending.append(self._stack.outbound(framed))
        return self.data_to_send()

    def _receive(self, data: bytes) -> list[Event]:
        if self._state is TransportState.AWAITING_SERVER_HELLO:
            self._hello_buf += data
            end = server_hello_length(self._hello_buf)
            if not end:
                return []
            answer = bytes(self._hello_buf[:end])
            data = bytes(self._hello_buf[end:])
            self._hello_buf = bytearray()
            if not verify_server_hello(answer, self._hello_key, self._hello_random):
                raise TransportError("fake-TLS: the proxy's answer is not authentic", -404)
            self._advance(TransportInput.SERVER_HELLO_OK)
            if self._held:
                self._pending.append(self._stack.wrap(b"".join(self._held)))
                self._held.clear()
        return self._stack.inbound(data)

    def _failing(self) -> None:
        self._failed_in = self._state


class ServerTransport(_Transport):
    """The server side of one connection, detecting the transport itself.

    ``secrets``: MTProxy secrets accepted (bytes, text or :class:`ProxySecret`).
    With none, every plain and obfuscated transport is accepted.  With some, by
    default only secret-based obfuscated2 and fake-TLS connections are
    (``allow_plain``/``allow_secretless`` override).  ``fake_tls``: accept
    fake-TLS ClientHellos (default: when secrets are set); ``tls_only``: accept
    nothing else.  ``require_padding``: MTProxy connections must use padded
    intermediate.  ``allowed_dc_ids``: the DC ids MTProxy clients may ask for
    (others fail with -444).  ``tls``: fake-TLS checks (time window, replay
    cache, SNI).  ``max_padding``: padded intermediate padding sent, 0..15
    (Telethon's reader needs 3).
    """

    _transitions = SERVER_TRANSPORT_TRANSITIONS

    def __init__(
        self,
        *,
        secrets: Sequence[ProxySecret | str | bytes] = (),
        allow_plain: bool | None = None,
        allow_secretless: bool | None = None,
        fake_tls: bool | None = None,
        tls_only: bool = False,
        require_padding: bool = False,
        allowed_dc_ids: Container[int] | None = None,
        tls: FakeTlsPolicy | None = None,
        max_padding: int = MAX_PADDING,
        max_frame: int = DEFAULT_MAX_FRAME,
        rng: Rng = random_bytes,
        clock: Clock = time.time,
    ) -> None:
        if isinstance(secrets, str | bytes):
            raise InvalidArgument("secrets is a sequence of secrets")
        self._secrets = [ProxySecret.parse(s) for s in secrets]
        has_secrets = bool(self._secrets)
        self._allow_plain = (not has_secrets) if allow_plain is None else allow_plain
        self._allow_secretless = (not has_secrets) if allow_secretless is None else allow_secretless
        self._fake_tls = has_secrets if fake_tls is None else fake_tls
        if self._fake_tls and not has_secrets:
            raise InvalidArgument("fake-TLS needs at least one secret")
        self._tls_only = tls_only
        if tls_only:
            self._allow_plain = self._allow_secretless = False
            self._fake_tls = True
            if not has_secrets:
                raise InvalidArgument("tls_only needs at least one secret")
        self._require_padding = require_padding
        self._allowed_dc_ids = allowed_dc_ids
        self._policy = FakeTlsPolicy() if tls is None else tls
        self._max_padding = check_int(max_padding, "max_padding", 0, MAX_PADDING)
        self._max_frame = check_int(max_frame, "max_frame", 4, 0x7FFFFFEF)
        self._rng = rng
        self._clock = clock
        self._buf = bytearray()
        self._stream = bytearray()  # fake-TLS: unwrapped bytes before the header
        self._pending: list[bytes] = []
        self._stack: _Stack | None = None
        self._info: TransportInfo | None = None
        self._hello: ClientHelloInfo | None = None
        self._reader: TlsRecordReader | None = None
        self._state = TransportState.DETECTING

    def __repr__(self) -> str:
        what = "detecting" if self._info is None else self._info.framing.value
        failed = " failed" if self._state is TransportState.FAILED else ""
        return f"<ServerTransport {what}{failed}>"

    @property
    def state(self) -> TransportState:
        """``DETECTING``, ``AWAITING_HEADER`` (fake-TLS), ``ESTABLISHED`` or ``FAILED``."""
        return self._state

    @property
    def info(self) -> TransportInfo | None:
        """What was detected (None until the :class:`TransportDetected` event)."""
        return self._info

    @property
    def codec(self) -> FrameCodec | None:
        return None if self._stack is None else self._stack.codec

    @property
    def buffered(self) -> int:
        """Bytes received and held that are not yet part of a complete frame
        (the detection prefix, a fake-TLS stream before its header, and the
        codec's partial frame): what a server counts against its memory budget."""
        codec = 0 if self._stack is None else self._stack.codec.buffered
        return len(self._buf) + len(self._stream) + codec

    # ---- sending ----------------------------------------------------------

    def _ready(self, method: str) -> _Stack:
        # (No stack while established: _try_obfuscated dropped it after the
        # frames following a good header failed; sending is refused, as before.)
        if self._state is not TransportState.ESTABLISHED or self._stack is None:
            raise self._wrong_state(SessionError, method)
        return self._stack

    def _emit(self, data: bytes) -> bytes:
        self._pending.append(data)
        return self.data_to_send()

    def send(self, payload: BytesLike) -> bytes:
        stack = self._ready("send")
        return self._emit(stack.outbound(stack.codec.encode(payload)))

    def send_into(self, size: int, fill: FillPayload) -> bytes:
        """:meth:`send` of a ``size``-byte payload that ``fill`` writes into
        the view it is given, inside the frame's own buffer (see
        :meth:`FrameCodec.encode_into`): the same bytes as ``send(payload)``,
        without copying a large payload or joining it to its envelope."""
        return self._emit(self._ready("send").outbound_into(size, fill))

    def send_quick_ack(self, token: int) -> bytes:
        """The quick ack for a :class:`Frame` that asked for one."""
        stack = self._ready("send_quick_ack")
        return self._emit(stack.outbound(stack.codec.encode_quick_ack(token)))

    def send_error(self, code: int) -> bytes:
        """A transport error code (e.g. ``TransportError.code``) to send before
        closing.  Also works after a failed ``receive()``; before the framing is
        known there is no way to frame it and only pending bytes are returned."""
        if self._stack is None:
            return self.data_to_send()
        return self._emit(self._stack.outbound(self._stack.codec.encode_error(code)))

    # ---- receiving ----------------------------------------------------------

    def _receive(self, data: bytes) -> list[Event]:
        if self._state is TransportState.ESTABLISHED:
            assert self._stack is not None
            return self._stack.inbound(data)
        self._buf += data
        if self._state is TransportState.AWAITING_HEADER:
            return self._tls_header()
        return self._detect()

    def _failing(self) -> None:
        self._buf.clear()

    def _detect(self) -> list[Event]:
        buf = self._buf
        kind = sniff(buf, fake_tls=self._fake_tls)
        if kind is None:
            return []
        if kind in _PLAIN_TAGS:
            if not self._allow_plain:
                raise TransportError("unobfuscated transports are not accepted", -404)
            framing, skip = _PLAIN_TAGS[kind]
            rest = bytes(buf[skip:])
            buf.clear()
            return self._start(_Stack(self._codec(framing)), TransportInfo(framing), rest)
        if kind is Sniffed.FAKE_TLS:
            return self._client_hello()
        if self._tls_only:
            raise TransportError("only fake-TLS connections are accepted", -404)
        if len(buf) < HEADER_SIZE:
            return []
        return self._obfuscated(self._buf, None)

    def _codec(self, framing: Framing) -> FrameCodec:
        return make_codec(
            framing,
            Role.SERVER,
            max_frame=self._max_frame,
            max_padding=self._max_padding,
            rng=self._rng,
        )

    def _start(self, stack: _Stack, info: TransportInfo, rest: bytes) -> list[Event]:
        self._stack = stack
        self._info = info
        self._advance(TransportInput.DETECTED)
        events: list[Event] = [TransportDetected(info)]
        if rest:
            events += stack.inbound_unwrapped(rest)
        return events

    def _obfuscated(self, buf: bytearray, hello: ClientHelloInfo | None) -> list[Event]:
        """Parse the 64-byte header at the start of ``buf`` (the stream out of
        its TLS records when ``hello`` is set) and start the connection."""
        if hello is not None:
            candidates: list[bytes | None] = [self._secrets[hello.key_index].key]
        else:
            candidates = [s.key for s in self._secrets]
            if self._allow_secretless:
                candidates.append(None)
        if not candidates:
            raise TransportError("obfuscated2 without a secret is not accepted", -404)
        parsed = parse_client_header(bytes(buf[:HEADER_SIZE]), candidates)
        secret_index = parsed.secret_index if hello is None else hello.key_index
        stack = _Stack(
            self._codec(parsed.framing),
            encryptor=parsed.encryptor,
            decryptor=parsed.decryptor,
        )
        if hello is not None:
            stack.reader = self._reader
            stack.writer = TlsRecordWriter(change_cipher_spec=False)
        if secret_index is not None:
            error = None
            if self._require_padding and parsed.framing is not Framing.PADDED_INTERMEDIATE:
                error = TransportError("this proxy requires padded intermediate", -404)
            elif self._allowed_dc_ids is not None and parsed.dc_id not in self._allowed_dc_ids:
                error = TransportError("this proxy does not serve that DC", -444)
            if error is not None:
                self._stack = stack  # so that send_error() can still reach the client
                raise error
        info = TransportInfo(
            parsed.framing,
            obfuscated=True,
            fake_tls=hello is not None,
            dc_id=parsed.dc_id,
            secret_index=secret_index,
            sni=None if hello is None else hello.sni,
        )
        rest = bytes(buf[HEADER_SIZE:])
        buf.clear()
        return self._start(stack, info, rest)

    def _try_obfuscated(self) -> list[Event] | None:
        if self._tls_only or len(self._buf) < HEADER_SIZE:
            return None
        try:
            return self._obfuscated(self._buf, None)
        except TransportError:
            if self._state is TransportState.ESTABLISHED:
                # The header was good (the connection is up); the frames after
                # it were not: that is this connection's error, not a sign that
                # the bytes were TLS after all.
                raise
            self._stack = None
            return None

    def _client_hello(self) -> list[Event]:
        buf = self._buf
        if len(buf) < 5:
            return []
        total = 5 + int.from_bytes(buf[3:5], "big")
        sane = total <= 5 + MAX_CLIENT_HELLO
        if sane and len(buf) < total:
            # Perhaps an obfuscated2 header that merely starts like TLS.
            events = self._try_obfuscated()
            return [] if events is None else events
        error: TransportError
        if sane:
            try:
                hello = check_client_hello(
                    bytes(buf[:total]),
                    [s.key for s in self._secrets],
                    now=self._clock(),
                    policy=self._policy,
                    domains=[s.domain for s in self._secrets],
                )
            except TransportError as exc:
                error = exc
            else:
                self._pending.append(
                    build_server_hello(
                        self._secrets[hello.key_index].key,
                        hello.client_random,
                        hello.session_id,
                        rng=self._rng,
                        certificate_size=self._policy.server_hello_size,
                    )
                )
                del buf[:total]
                self._hello = hello
                self._reader = TlsRecordReader(
                    allow_change_cipher_spec=True, max_record=self._policy.max_record
                )
                self._advance(TransportInput.CLIENT_HELLO_OK)
                return self._tls_header()
        else:
            error = TransportError("fake-TLS: ClientHello too long", -404)
        events = self._try_obfuscated()
        if events is None:
            raise error
        return events

    def _tls_header(self) -> list[Event]:
        """Collect the obfuscated2 header from the client's first records."""
        assert self._reader is not None
        if self._buf:
            raw = bytes(self._buf)
            self._buf.clear()
            self._stream += self._reader.feed(raw)
        if len(self._stream) < HEADER_SIZE:
            return []
        return self._obfuscated(self._stream, self._hello)
