"""A sans-I/O MTProto 2.0 session, for the client and the server role.

Bytes in, events out; time and randomness are injected.  A :class:`Session`
never touches a socket, a timer or a thread: the caller feeds it the packets
that arrived (:meth:`Session.receive`), acts on the events it returns, and
sends what :meth:`Session.data_to_send` hands back.

>>> import os
>>> from mtcrypt.mtproto import AuthKey
>>> from mtcrypt.mtproto.session import Session, Role
>>> key = AuthKey(os.urandom(256))
>>> client = Session(key, Role.CLIENT, salt=7)
>>> server = Session(key, Role.SERVER, salt=7)
>>> req = client.send(bytes(8))                  # an opaque RPC query
>>> events = [e for p in client.data_to_send() for e in server.receive(p)]
>>> request = events[-1]; request.body
b'\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00'
>>> _ = server.send_result(request.msg_id, b"\\x15\\xc4\\xb5\\x1c\\x00\\x00\\x00\\x00")
>>> [type(e).__name__ for p in server.data_to_send() for e in client.receive(p)]
['TimeSynced', 'NewSession', 'RpcResult']

Receive path
------------
:meth:`Session.receive` runs :func:`~mtcrypt.mtproto.decrypt_message` (the
msg_key check in constant time over the whole buffer, then the length and
padding checks: checklist C1-C4).  Nothing below reads a decrypted byte before
that has passed (C5).  Then, in this order:

1. ``session_id`` equals ours (a server session created with
   ``session_id=None`` adopts the id of the first message it accepts);
2. msg_id parity: a client accepts only odd ids (server ids are 1 or 3 mod
   4), a server only ids that are 0 mod 4;
3. the replay window (:class:`~mtcrypt.mtproto.msgid.ReplayWindow`, default
   1000 ids): a duplicate, or an id lower than every id of a full window, is
   dropped.  (Until the window is full nothing was evicted, so a lower id is
   checked for duplication only: tdlib's rule, which lets through the
   messages of a container, whose ids are below the container's);
4. the time window, once the time is synced (a server always is; a client
   after its first accepted message, a ``bad_msg_notification`` 16/17, or
   :meth:`Session.sync_time`): an id more than 300 s behind or 30 s ahead of
   the server time is dropped.  Exempt, as [D]/[SG] allow, is a client's
   ``bad_server_salt`` or ``bad_msg_notification`` naming a msg_id that this
   session sent recently (found by peeking at the body's first 12 bytes);
5. server only: the salt is one the server accepts (current, the previous
   one for 1800 s after a change, or a future salt valid now), and a
   ``msg_container``/``msgs_ack`` is not marked content-related (code 34);
6. TL parsing with the :mod:`mtcrypt.tl` codec, bounded by ``limits``:
   ``gzip_packed`` is decompressed (at most ``limits.max_gzip_size`` bytes per
   packet in total); a ``msg_container`` is split and every inner message is
   checked: msg_id below the container's and of the right parity, a ``bytes``
   field that is a positive multiple of 4 within the container and matches
   the object it holds, no container inside (also not through gzip), at most
   1024 messages (``limits.max_container_messages``) and at least one, and
   the container body consumed exactly.  Any of these failing drops the whole
   packet.  Inner messages are not held to the time window: the spec lets a
   sender re-send an old message inside a new container, whose own msg_id
   passed check 4;
7. per message (each inner message of a container on its own): the replay
   window again, server only the content-relatedness of ``seq_no`` (codes
   34/35), whether this role may receive the message type at all, and for a
   reply whether it names a message we sent recently and that still awaits it
   (``rpc_result``, ``pong``, ``future_salts``, ``bad_server_salt``,
   ``bad_msg_notification``).  A message failing here is dropped alone; the
   rest of its container is still processed.

A failed check produces a :class:`MessageDropped` event, counts in
:attr:`Session.stats`, and leaves every other part of the session's state
exactly as it was: checks 1-6 all run before anything is changed, and check 7
for a message before that message changes anything.

:class:`~mtcrypt.errors.DecryptionFailed` propagates out of
:meth:`Session.receive` (after counting it in ``stats.decryption_failures``,
again without touching any other state): it is the one opaque error of the
record layer, and the spec's advice for it, closing the connection, is the
transport owner's to take.  Other inputs never raise.

Send path
---------
msg_ids come from the injected clock plus the server-time offset (see
:func:`~mtcrypt.mtproto.msgid.next_msg_id`): ``time * 2**32`` with 12 random
low bits, low two bits 0 for a client, 1 for a server's reply and 3 for any
other server message, strictly increasing.  (One exception: after a
``bad_msg_notification`` 17, "msg_id too high", the generator is re-anchored at
the corrected server time, since otherwise every later id would be refused as
well; ids of messages still remembered (``sent_retention``) are skipped, so no
msg_id is used twice for them, and re-sent payloads get new ids regardless.)
seq_no is ``2 * n + 1`` for content-related messages and ``2 * n`` otherwise,
``n`` counting the content-related messages sent before; ``msgs_ack`` and
``msg_container`` are never content-related.  A re-sent message always gets a
new msg_id and seq_no, and fresh padding: no payload is encrypted twice under
one msg_id (checklist S4).  :meth:`Session.data_to_send` packs queued messages and pending
acks into ``msg_container`` s and encrypts them; content-related bodies over
``gzip_threshold`` bytes go out as ``gzip_packed`` when that is smaller.

Service messages
----------------
Acks: every accepted content-related message is queued for ``msgs_ack``; the
acks ride along with the next outgoing packet, or go alone once
``ack_batch`` (16) are pending, the oldest is ``ack_delay`` seconds old, or
``data_to_send(flush_acks=True)``.  A server's ``rpc_result`` acks its query
implicitly.  ``bad_server_salt`` naming a message we sent recently: adopt the
salt, re-send the message (all messages of a container) with new ids.
``bad_msg_notification``: 16/17 sync the time from the notification's msg_id
and re-send; 19, 20 re-send; 64 re-sends each message of the container alone;
18, 32-35, 48 are reported (:class:`BadMessage`).  ``new_session_created``:
adopt its salt.  ``future_salts``: kept (and used as they become valid) only
when it answers a ``get_future_salts`` we sent.  ``pong``: matched to our
ping.  A server answers ``ping``/``ping_delay_disconnect`` and
``get_future_salts`` itself and announces a new session with
``new_session_created``.
"""

from __future__ import annotations

import gzip
import struct
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from .._random import random_bytes
from .._validation import BytesLike, Clock, Rng, draw, is_int
from ..errors import DecryptionFailed, InvalidArgument, SessionError, TLError
from ..tl import DEFAULT_LIMITS, Limits, Reader, TLObject, default_schema, gunzip, make, serialize
from ..tl import deserialize as tl_deserialize
from . import session_events
from .authkey import AuthKey, require_auth_key
from .message import (
    _HOT_OPEN_PADDED,
    HEADER_SIZE,
    _open_padded,
    _seal_parts,
    _seal_parts_into,
    _sealed_size,
    encrypt_message,
    encrypt_messages,
)
from .msgid import (
    CLIENT,
    SERVER_OTHER,
    SERVER_RESPONSE,
    ReplayVerdict,
    ReplayWindow,
    _next_msg_id,
    msg_id_time,
)
from .session_events import *  # noqa: F403
from .session_events import (
    Acked,
    BadMessage,
    DropReason,
    Event,
    FutureSalt,
    MessageDropped,
    NewSession,
    PingReceived,
    Pong,
    Request,
    Resent,
    Role,
    RpcError,
    RpcResult,
    SaltsReceived,
    SaltUpdated,
    ServiceMessage,
    SessionStats,
    TimeSynced,
    Update,
)

# The events are defined in session_events and re-exported here as well.
__all__ = ["PacketFramer", "Session"]
__all__ += session_events.__all__

MAX_PAST = 300.0
"""A message whose msg_id is more than this many seconds old is dropped [D]."""
MAX_FUTURE = 30.0
"""A message whose msg_id is more than this many seconds ahead is dropped [D]."""
SALT_GRACE = 1800.0
"""Seconds a server still accepts its previous salt after changing it [D]."""
MAX_ACKS_PER_MESSAGE = 8192
"""Most msg_ids in one ``msgs_ack`` [SM]."""
MAX_CONTAINER_BYTES = 1044448
"""Largest container payload sent (Telegram closes the connection above ~1 MiB)."""
MAX_FUTURE_SALTS = 64

_HEADER = struct.Struct("<qqqii")
_INNER = struct.Struct("<qii")
_CONTAINER_HEAD = struct.Struct("<Ii")
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
_I32 = struct.Struct("<i")
_TWO32 = float(1 << 32)

_SCHEMA = default_schema()


def _cid(name: str) -> int:
    return _SCHEMA[name].id


_RPC_RESULT = _cid("rpc_result")
_RPC_ERROR = _cid("rpc_error")
_GZIP = _cid("gzip_packed")
_CONTAINER = _cid("msg_container")
_MSGS_ACK = _cid("msgs_ack")
_PONG = _cid("pong")
_PING = _cid("ping")
_PING_DELAY = _cid("ping_delay_disconnect")
_BAD_MSG = _cid("bad_msg_notification")
_BAD_SALT = _cid("bad_server_salt")
_NEW_SESSION = _cid("new_session_created")
_FUTURE_SALTS = _cid("future_salts")
_GET_FUTURE_SALTS = _cid("get_future_salts")
_RESEND_REQ = _cid("msg_resend_req")

# Service objects the session parses with the codec (exact fit required).
_SERVICE = frozenset(
    _cid(name)
    for name in (
        "msgs_ack", "pong", "ping", "ping_delay_disconnect", "bad_msg_notification",
        "bad_server_salt", "new_session_created", "future_salts", "get_future_salts",
        "destroy_session", "rpc_drop_answer", "msgs_state_req", "msgs_state_info",
        "msgs_all_info", "msg_detailed_info", "msg_new_detailed_info", "msg_resend_req",
        "http_wait", "destroy_session_ok", "destroy_session_none",
    )
)
# Messages check 7 looks at (the rest are opaque content: requests, updates).
_SPECIAL = _SERVICE | {_RPC_RESULT}
# Bodies the session decodes (the rest are passed on as they are).
_DECODED = _SPECIAL | {_GZIP, _CONTAINER}
# Which service messages each role may receive; anything else is UNEXPECTED.
_CLIENT_ACCEPTS = frozenset(
    _cid(name)
    for name in (
        "msgs_ack", "pong", "bad_msg_notification", "bad_server_salt", "new_session_created",
        "future_salts", "msgs_state_req", "msgs_state_info", "msgs_all_info",
        "msg_detailed_info", "msg_new_detailed_info", "msg_resend_req",
        "destroy_session_ok", "destroy_session_none",
    )
) | {_RPC_RESULT}
_SERVER_ACCEPTS = frozenset(
    _cid(name)
    for name in (
        "msgs_ack", "ping", "ping_delay_disconnect", "get_future_salts", "destroy_session",
        "rpc_drop_answer", "msgs_state_req", "msgs_state_info", "msgs_all_info",
        "msg_resend_req", "http_wait",
    )
)

_NOTIFY_CODES = {
    DropReason.BAD_MSG_ID: 18,
    DropReason.BELOW_WINDOW: 20,
    DropReason.TOO_OLD: 16,
    DropReason.TOO_NEW: 17,
    DropReason.BAD_SALT: 48,
    DropReason.BAD_CONTAINER: 64,
}
_RESEND_CODES = frozenset({16, 17, 19, 20, 64})


class _Kind(Enum):
    """What an outgoing message is, which decides how long we remember it."""

    REQUEST = "request"  # a client's content-related query: awaits rpc_result
    PING = "ping"  # awaits pong
    SALTS = "get_future_salts"  # awaits future_salts
    RESPONSE = "response"  # a server's reply
    ACK = "ack"
    OTHER = "other"

    # Members are singletons compared by identity: hash them by identity too
    # (Enum's own __hash__ is a Python-level call, paid on every lookup in
    # _AWAITS_ANSWER).
    __hash__ = object.__hash__


_AWAITS_ANSWER = frozenset({_Kind.REQUEST, _Kind.PING, _Kind.SALTS})

_GZIP_PROBE_ABOVE = 16 * 1024
"""Bodies above this size are probed (:func:`_looks_compressible`) before gzip."""
_GZIP_PROBE_SLICE = 2048


_GZIP_GLANCE = 512
_GZIP_GLANCE_DISTINCT = 192
"""A 512-byte slice with this many distinct byte values looks random: uniformly
random bytes show about 221 (never fewer than 192 in practice), text about 50,
machine code under 100."""


def _looks_compressible(data: bytes) -> bool:
    """Whether a quick deflate of two slices (the start and the middle, 4 KiB
    together, about 50 us) saves at least 10 %.  Already-compressed content
    (media, file parts) does not, and compressing all of it at level 6 only to
    send the original would cost about 33 ms per MiB.  When the first 512 bytes
    of both slices look random (:data:`_GZIP_GLANCE_DISTINCT`), the answer is no
    without the deflate (a glance costs about 7 us)."""
    middle = len(data) // 2
    if (
        len(set(data[:_GZIP_GLANCE])) >= _GZIP_GLANCE_DISTINCT
        and len(set(data[middle : middle + _GZIP_GLANCE])) >= _GZIP_GLANCE_DISTINCT
    ):
        return False
    sample = data[:_GZIP_PROBE_SLICE] + data[middle : middle + _GZIP_PROBE_SLICE]
    return len(zlib.compress(sample, 1)) < 0.9 * len(sample)


class PacketFramer(Protocol):
    """What :meth:`Session.data_to_send_framed` frames packets with: a transport
    (e.g. :class:`mtcrypt.transport.ServerTransport`)."""

    def send(self, payload: bytes) -> bytes:
        """The frame of one packet, as bytes to write."""
        ...

    def send_into(self, size: int, fill: Callable[[memoryview], None]) -> bytes:
        """The frame of a ``size``-byte packet that ``fill`` writes into the
        view it is given, inside the frame's own buffer."""
        ...


_VIEW_ABOVE = 16 * 1024
"""Received bodies of this size or more are handled as memoryviews until an event
takes its own copy."""


_Body = bytes | memoryview
"""A received body: bytes, or a view into the packet (see _VIEW_ABOVE)."""


def _own(data: _Body) -> bytes:
    """``data`` as bytes of its own (a view is copied once, bytes are kept)."""
    return data if type(data) is bytes else bytes(data)


_NOISE_CHUNK = 256
"""Bytes of msg_id noise drawn from the rng at a time (two per msg_id; small, because
a server holds one such buffer per session)."""


@dataclass(slots=True)
class _Outgoing:
    """One of our messages: queued (``sent_at`` None) or sent."""

    handle: int  # the msg_id send() returned; stays across resends
    msg_id: int
    seq_no: int
    body: bytes  # the wire body (gzip_packed already applied)
    content_related: bool
    kind: _Kind
    standalone: bool = False  # never inside a container (after code 64)
    sent_at: float | None = None
    acked: bool = False
    # The wire body is prefix | body: an rpc_result keeps its 12-byte head apart
    # from the result, so that a large result is copied once, into the packet.
    prefix: bytes = b""


@dataclass(slots=True)
class _Item:
    """A parsed incoming message: the body is decompressed, service objects decoded."""

    msg_id: int
    seq_no: int
    cid: int  # constructor id of the (decompressed) body
    body: _Body
    obj: TLObject | None  # decoded service object; None for rpc_result and unknown ids
    result: _Body = b""  # rpc_result: the result object (decompressed)
    req_msg_id: int = 0  # rpc_result


class _Drop(Exception):
    """Internal: a check failed (never escapes the session)."""

    def __init__(self, reason: DropReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


def _check_body(body: object, what: str) -> bytes:
    if type(body) is bytes:
        data = body
    elif isinstance(body, BytesLike):
        data = bytes(body)
    else:
        raise InvalidArgument(f"{what} must be bytes")
    if len(data) < 4 or len(data) % 4:
        raise InvalidArgument(f"{what} must be a TL object: a positive multiple of 4 bytes")
    return data


def _int64(value: object, what: str) -> int:
    if not (type(value) is int or is_int(value)) or not -(2**63) <= value < 2**63:
        raise InvalidArgument(f"{what} must be a signed 64-bit int")
    return value


class Session:
    """One MTProto 2.0 session under one auth key, as client or server.

    :param auth_key: the session's :class:`~mtcrypt.mtproto.AuthKey`.
    :param role: :attr:`Role.CLIENT` or :attr:`Role.SERVER`.
    :param session_id: the 64-bit session id.  A client draws a random one
        from ``rng`` when ``None``; a server given ``None`` adopts the id of
        the first message it accepts.
    :param salt: the current server salt (after the handshake:
        ``new_nonce[0:8] XOR server_nonce[0:8]``).
    :param clock: local time in seconds (``time.time``).
    :param rng: random bytes (session id, msg_id noise, padding, ping ids).
        The msg_id noise is drawn ahead, 256 bytes (128 ids) at a time.
    :param time_offset: server time minus local time, if known (for example
        from the handshake's ``server_time``); a client given ``None`` is not
        synced until its first accepted message and applies no time window
        until then.  A server's own clock is the reference: offset 0, synced.
    :param replay_window: how many received msg_ids to remember (>= 1).
    :param limits: TL decoding bounds (gzip output per packet, container
        size, nesting depth).
    :param gzip_threshold: content-related bodies larger than this are sent
        gzip_packed when that is smaller; ``None`` never compresses.  Bodies
        above 16 KiB are compressed only when a quick probe of 4 KiB of them
        compresses by at least 10 %; a body whose start and middle both look
        random (at least 192 distinct byte values in 512 bytes) is not probed.
    :param ack_batch: send acks on their own once this many are pending.
    :param ack_delay: ... or once the oldest pending ack is this old (s).
    :param max_container_messages: most messages packed in one container.
    :param sent_retention: seconds to remember sent messages that await no
        answer, so that a ``bad_server_salt``/``bad_msg_notification`` about
        them is still recognised.  Messages awaiting an answer are remembered
        until it arrives (or :meth:`forget`).
    :param max_retained: at most this many of those messages (and containers)
        are remembered, the oldest forgotten first: a peer sending pings as
        fast as it can does not make the session hold its pongs for
        ``sent_retention`` seconds.
    :param check_salt: server only: drop messages whose salt it does not accept.
    :param check_seq_no: server only: drop messages whose seq_no parity is
        wrong for their type (``msgs_ack``/containers odd: 34; queries even: 35).
    :param announce_new_session: server only: queue ``new_session_created``
        after the first accepted message.
    """

    def __init__(
        self,
        auth_key: AuthKey,
        role: Role,
        *,
        session_id: int | None = None,
        salt: int = 0,
        clock: Clock = time.time,
        rng: Rng = random_bytes,
        time_offset: float | None = None,
        replay_window: int = 1000,
        limits: Limits = DEFAULT_LIMITS,
        gzip_threshold: int | None = 512,
        ack_batch: int = 16,
        ack_delay: float = 30.0,
        max_container_messages: int = 1024,
        sent_retention: float = MAX_PAST,
        max_retained: int = 4096,
        check_salt: bool = True,
        check_seq_no: bool = True,
        announce_new_session: bool = True,
    ) -> None:
        require_auth_key(auth_key)
        if not isinstance(role, Role):
            raise InvalidArgument("role must be Role.CLIENT or Role.SERVER")
        if not isinstance(limits, Limits):
            raise InvalidArgument("limits must be an mtcrypt.tl.Limits")
        if not 1 <= max_container_messages <= 1024:
            raise InvalidArgument("max_container_messages must be in 1..1024")
        if not 1 <= ack_batch <= MAX_ACKS_PER_MESSAGE:
            raise InvalidArgument(f"ack_batch must be in 1..{MAX_ACKS_PER_MESSAGE}")
        self._auth_key = auth_key
        self._role = role
        self._client = role is Role.CLIENT
        # msg_id parity accepted: a client takes odd ids, a server ids 0 mod 4.
        self._parity_mask, self._parity_bits = (1, 1) if self._client else (3, 0)
        self._clock = clock
        self._rng = rng
        if session_id is None and self._client:
            session_id = _I64.unpack(draw(self._rng, 8))[0]
        self._session_id = None if session_id is None else _int64(session_id, "session_id")
        self._salt = _int64(salt, "salt")
        self._future_salts: list[FutureSalt] = []
        self._old_salts: list[tuple[int, float]] = []  # server: (salt, accepted until)
        if self._client:
            self._time_offset = 0.0 if time_offset is None else float(time_offset)
            self._time_synced = time_offset is not None
        else:
            self._time_offset = 0.0
            self._time_synced = True
        self._window = ReplayWindow(replay_window)
        self._limits = limits
        self._max_container = max_container_messages
        self._max_inbound_container = min(limits.max_container_messages, 1024)
        self._gzip_threshold = gzip_threshold
        self._ack_batch = ack_batch
        self._ack_delay = ack_delay
        self._sent_retention = sent_retention
        if not is_int(max_retained) or max_retained < 1:
            raise InvalidArgument("max_retained must be a positive int")
        self._max_retained = max_retained
        self._trim_at = 2 * max_retained
        self._check_salt = check_salt and not self._client
        self._check_seq_no = check_seq_no and not self._client
        self._announce = announce_new_session and not self._client
        self._last_msg_id = 0
        self._noise = b""  # msg_id noise drawn ahead from rng, two bytes per id
        self._noise_pos = _NOISE_CHUNK  # drawn at the first msg_id
        self._content_count = 0
        self._queue: list[_Outgoing] = []
        self._sent: dict[int, _Outgoing] = {}
        self._containers: dict[int, tuple[tuple[int, ...], float]] = {}
        self._pending_acks: list[int] = []
        self._ack_since: float | None = None
        self._last_prune = 0.0
        self._fast_receive = True  # tests turn it off to compare with the general path
        self._framer: PacketFramer | None = None  # set during data_to_send_framed()
        self._framed = False
        # Frames built but not yet returned: framing advances the transport's stream state
        # (obfuscation counter, full-framing seqno), so frames built before one that failed
        # must still go out, first, or the peer falls out of step.
        self._built: list[bytes] = []
        self.stats = SessionStats()
        """Counters: packets and messages received, accepted, dropped (by reason), sent."""

    # ---- public state -------------------------------------------------------------
    # duplicates: deliberate -- read-only properties, one per attribute with its own docstring:
    # alike other classes' (connections, transports, codecs) by shape only.

    @property
    def role(self) -> Role:
        return self._role

    @property
    def session_id(self) -> int | None:
        """The session id (``None`` for a server that has not accepted a message yet)."""
        return self._session_id

    @property
    def salt(self) -> int:
        """The current server salt."""
        return self._salt

    @property
    def future_salts(self) -> tuple[FutureSalt, ...]:
        """Known future salts, by ``valid_since`` (a client's from ``future_salts``,
        a server's from :meth:`set_future_salts`)."""
        return tuple(self._future_salts)

    @property
    def time_offset(self) -> float:
        """Server time minus the local clock, in seconds."""
        return self._time_offset

    @property
    def time_synced(self) -> bool:
        """Whether the time window is enforced (always, for a server)."""
        return self._time_synced

    @property
    def server_time(self) -> float:
        """The current server time: ``clock() + time_offset``."""
        return self._clock() + self._time_offset

    @property
    def pending_acks(self) -> tuple[int, ...]:
        """Peer msg_ids we still have to acknowledge."""
        return tuple(self._pending_acks)

    @property
    def ack_deadline(self) -> float | None:
        """When pending acks are due to go out on their own (clock time), if any:
        call :meth:`data_to_send` then."""
        if self._ack_since is None or not self._pending_acks:
            return None
        return self._ack_since + self._ack_delay

    def unacknowledged(self, sent_before: float) -> tuple[int, ...]:
        """Our sent messages that await an answer, were sent before
        ``sent_before`` (clock time) and were not acknowledged (ids as
        :meth:`send` returned): candidates for :meth:`resend`."""
        return tuple(
            o.handle
            for o in self._sent.values()
            if o.kind in _AWAITS_ANSWER
            and not o.acked
            and o.sent_at is not None
            and o.sent_at < sent_before
        )

    @property
    def awaiting(self) -> tuple[int, ...]:
        """Our messages (ids as :meth:`send` returned) still awaiting an answer."""
        queued = [o.handle for o in self._queue if o.kind in _AWAITS_ANSWER]
        sent = [o.handle for o in self._sent.values() if o.kind in _AWAITS_ANSWER]
        return tuple(sorted(queued + sent))

    # ---- sending --------------------------------------------------------------------

    def send(self, body: bytes, *, content_related: bool = True, response: bool = False) -> int:
        """Queue a message; returns its msg_id, which the events about it will carry.

        A client sends RPC queries (content-related, the default) and
        non-content service messages (``content_related=False``).  A server
        sends updates; ``response=True`` marks a reply to a client message
        (msg_id 1 mod 4 instead of 3).  ``body`` is one serialized TL object;
        it must not be a ``msg_container`` (the session builds those).
        """
        data = _check_body(body, "body")
        if _U32.unpack_from(data)[0] == _CONTAINER:
            raise InvalidArgument("the session packs containers itself; send each message")
        if response and self._client:
            raise SessionError("only a server sends responses")
        if self._client:
            kind = _Kind.REQUEST if content_related else _Kind.OTHER
        else:
            kind = _Kind.RESPONSE if response else _Kind.OTHER
        if content_related:
            data = self._maybe_gzip(data)
        return self._queue_message(data, content_related, kind, response=response).msg_id

    def send_naming_msg_id(self, build: Callable[[int], bytes]) -> int:
        """Queue a content-related message whose body must name its own msg_id
        (``auth.bindTempAuthKey``): ``build(msg_id)`` returns the body.  Returns
        the msg_id.  Never gzip_packed; a re-send gets a new msg_id, so such a
        message is better built again than re-sent."""
        msg_id = self._new_msg_id(response=False)
        data = _check_body(build(msg_id), "body")
        kind = _Kind.REQUEST if self._client else _Kind.OTHER
        out = _Outgoing(msg_id, msg_id, self._next_seq_no(True), data, True, kind)
        self._queue.append(out)
        return msg_id

    def send_ping(self, ping_id: int | None = None) -> int:
        """Client: queue a ``ping``; the :class:`Pong` event carries the returned msg_id."""
        self._require(Role.CLIENT, "send_ping")
        if ping_id is None:
            ping_id = _I64.unpack(draw(self._rng, 8))[0]
        body = serialize(make("ping", ping_id=_int64(ping_id, "ping_id")))
        return self._queue_message(body, True, _Kind.PING).msg_id

    def request_future_salts(self, num: int = 32) -> int:
        """Client: queue ``get_future_salts``; the answer gives :class:`SaltsReceived`."""
        self._require(Role.CLIENT, "request_future_salts")
        if not is_int(num) or not 1 <= num <= MAX_FUTURE_SALTS:
            raise InvalidArgument(f"num must be in 1..{MAX_FUTURE_SALTS}")
        body = serialize(make("get_future_salts", num=num))
        return self._queue_message(body, True, _Kind.SALTS).msg_id

    def send_result(self, req_msg_id: int, result: bytes) -> int:
        """Server: answer the client's query ``req_msg_id`` with ``rpc_result``.

        ``result`` is the serialized result object; it is gzip_packed inside
        the ``rpc_result`` when large.  The result acknowledges the query, so
        no separate ack for it is sent.
        """
        self._require(Role.SERVER, "send_result")
        req = _int64(req_msg_id, "req_msg_id")
        data = _check_body(result, "result")
        prefix = _U32.pack(_RPC_RESULT) + _I64.pack(req)
        self._drop_pending_ack(req)
        out = self._queue_message(self._maybe_gzip(data), True, _Kind.RESPONSE, response=True)
        out.prefix = prefix
        return out.msg_id

    def send_error(self, req_msg_id: int, error_code: int, error_message: str) -> int:
        """Server: answer ``req_msg_id`` with ``rpc_error``."""
        self._require(Role.SERVER, "send_error")
        error = serialize(make("rpc_error", error_code=error_code, error_message=error_message))
        return self.send_result(req_msg_id, error)

    def notify_bad_message(self, dropped: MessageDropped) -> int | None:
        """Server: tell the client about a dropped message, as the spec asks.

        Sends ``bad_server_salt`` (with the current salt) for code 48 and
        ``bad_msg_notification`` for the other codes; returns its msg_id, or
        ``None`` when the drop calls for silence (``notify_code is None``).
        A server session that has not accepted a message yet takes the
        session_id of the dropped message.
        """
        self._require(Role.SERVER, "notify_bad_message")
        if not isinstance(dropped, MessageDropped):
            raise InvalidArgument("expected a MessageDropped event")
        code = dropped.notify_code
        if code is None:
            return None
        if self._session_id is None:  # nothing accepted yet: answer into its session
            if dropped.session_id is None:
                raise InvalidArgument("the event names no session to answer into")
            self._session_id = dropped.session_id
        if code == 48:
            obj = make("bad_server_salt", bad_msg_id=dropped.msg_id, bad_msg_seqno=dropped.seq_no,
                       error_code=48, new_server_salt=self._salt)
        else:
            obj = make("bad_msg_notification", bad_msg_id=dropped.msg_id,
                       bad_msg_seqno=dropped.seq_no, error_code=code)
        return self._queue_message(serialize(obj), False, _Kind.RESPONSE, response=True).msg_id

    def resend(self, msg_id: int) -> int:
        """Queue one of our sent messages again under a new msg_id (e.g. after
        ``new_session_created`` for queries sent before ``first_msg_id``).
        ``msg_id`` is the current wire id or the id :meth:`send` returned.
        Returns the new msg_id."""
        wire = self._wire_id(msg_id)
        if wire is None:
            raise SessionError("no sent message with that msg_id is remembered")
        return self._resend_one(wire).msg_id

    def forget(self, msg_id: int) -> bool:
        """Stop waiting for the answer to one of our messages (queued or sent).
        Returns whether it was known.  A queued message is not sent."""
        for i, out in enumerate(self._queue):
            if out.handle == msg_id or out.msg_id == msg_id:
                del self._queue[i]
                return True
        wire = self._wire_id(msg_id)
        if wire is None:
            return False
        del self._sent[wire]
        return True

    def data_to_send(self, *, flush_acks: bool = False) -> list[bytes]:
        """The encrypted packets to transmit now, in order (may be empty).

        Queued messages are packed into ``msg_container`` s (up to
        ``max_container_messages`` and about 1 MiB each) together with pending
        acks; acks also go alone when ``ack_batch`` are pending, the oldest is
        ``ack_delay`` s old, or ``flush_acks`` is true.
        """
        now = self._clock()
        if now - self._last_prune >= 1.0:
            self._prune(now)
        outgoing = self._queue
        self._queue = []
        if self._pending_acks and (
            outgoing
            or flush_acks
            or len(self._pending_acks) >= self._ack_batch
            or (self._ack_since is not None and now - self._ack_since >= self._ack_delay)
        ):
            outgoing.extend(self._ack_messages())
        if not outgoing:
            return []
        session_id = self._session_id
        if session_id is None:
            self._queue = outgoing
            raise SessionError("a server session has no session_id until a message arrives")
        # Each packet's plaintext as head | tail: the tail is a large body that
        # is handed to the seal as it is, not joined to its header first.
        heads: list[bytes] = []
        tails: list[bytes] = []
        salt = self._salt_for_send(now + self._time_offset) if self._future_salts else self._salt
        # (A single message is a group of its own, whatever it is.)
        for group in self._groups(outgoing) if len(outgoing) > 1 else [outgoing]:
            if len(group) == 1:
                out = group[0]
                msg_id, seq_no, prefix, body = out.msg_id, out.seq_no, out.prefix, out.body
            else:
                prefix, body = b"", self._container_body(group)
                msg_id = self._new_msg_id(response=False)
                seq_no = self._next_seq_no(False)
                self._containers[msg_id] = (tuple([o.msg_id for o in group]), now)
            head = _HEADER.pack(salt, session_id, msg_id, seq_no, len(prefix) + len(body)) + prefix
            if len(body) < _VIEW_ABOVE:
                head, body = head + body, b""
            heads.append(head)
            tails.append(body)
            for out in group:
                out.sent_at = now
                self._sent[out.msg_id] = out
            self.stats.messages_sent += len(group)
        self.stats.packets_sent += len(heads)
        if len(self._sent) + len(self._containers) > self._trim_at:
            self._trim()
        from_server = not self._client
        key, rng = self._auth_key, self._rng
        if any(tails):  # a large body: one seal per packet, in order
            return self._seal_each(heads, tails)
        if len(heads) == 1:
            return [encrypt_message(key, heads[0], from_server=from_server, rng=rng)]
        return encrypt_messages(key, heads, from_server=from_server, rng=rng)

    def data_to_send_framed(
        self, framer: PacketFramer, *, flush_acks: bool = False
    ) -> list[bytes]:
        """:meth:`data_to_send`, each packet framed by ``framer`` (the
        connection's transport): the same bytes as ``[framer.send(p) for p in
        data_to_send()]``, but a packet with a large body is sealed straight
        into its frame's buffer (``framer.send_into``), with no copy after the
        seal.

        If framing a packet raises (a payload the framing cannot carry, a failing
        ``rng``), the frames built before it are not lost: the transport already
        counted them, so the next call returns them first."""
        self._framer = framer
        self._framed = False
        try:
            packets = self.data_to_send(flush_acks=flush_acks)
        finally:
            self._framer = None
        if not self._framed:
            for packet in packets:
                self._built.append(framer.send(packet))
        frames, self._built = self._built, []
        return frames

    def _seal_each(self, heads: list[bytes], tails: list[bytes]) -> list[bytes]:
        """:meth:`data_to_send`'s packets with a large body among them, one seal
        each, in order; framed already when :meth:`data_to_send_framed` asked."""
        key, rng, framer = self._auth_key, self._rng, self._framer
        from_server = not self._client
        if framer is None:
            return [_seal_parts(key, h, t, from_server=from_server, rng=rng)
                    for h, t in zip(heads, tails, strict=True)]
        self._framed = True
        out = self._built  # see __init__: kept if a later frame fails
        for head, tail in zip(heads, tails, strict=True):
            if not tail:
                out.append(framer.send(_seal_parts(key, head, b"", from_server=from_server,
                                                   rng=rng)))
                continue

            def seal(view: memoryview, head: bytes = head, tail: bytes = tail) -> None:
                _seal_parts_into(key, head, tail, view, from_server=from_server, rng=rng)

            out.append(framer.send_into(_sealed_size(len(head) + len(tail)), seal))
        return []  # the frames are in self._built; data_to_send_framed returns them

    # ---- time and salts ---------------------------------------------------------------

    def sync_time(self, server_time: float) -> None:
        """Client: set the server time (e.g. the handshake's ``server_time``)."""
        self._require(Role.CLIENT, "sync_time")
        self._time_offset = float(server_time) - self._clock()
        self._time_synced = True

    def set_salt(self, salt: int) -> None:
        """Change the current salt.  A server keeps accepting the previous one
        for 1800 s (server time)."""
        new = _int64(salt, "salt")
        if not self._client and new != self._salt:
            now = self._clock()
            self._old_salts = [(s, t) for s, t in self._old_salts if t > now]
            self._old_salts.append((self._salt, now + SALT_GRACE))
        self._salt = new

    def set_future_salts(self, salts: Sequence[FutureSalt]) -> None:
        """Server: the salt schedule it announces in ``future_salts`` and accepts
        while each salt is valid."""
        self._require(Role.SERVER, "set_future_salts")
        for s in salts:
            if not isinstance(s, FutureSalt):
                raise InvalidArgument("salts must be FutureSalt values")
        self._future_salts = sorted(salts, key=lambda s: s.valid_since)

    # ---- receiving --------------------------------------------------------------------

    def receive(self, packet: bytes) -> list[Event]:
        """Decrypt and process one packet from the peer; returns the events.

        Raises :class:`~mtcrypt.errors.DecryptionFailed` (and nothing else for
        bytes input) when the packet does not decrypt under this key in the
        peer's direction; every other problem is a :class:`MessageDropped` event.
        """
        self.stats.packets_received += 1
        key = self._auth_key
        # The plain case in one native call; anything else through _open_padded,
        # which validates the arguments.  Every failure is the one DecryptionFailed.
        opened = _HOT_OPEN_PADDED(key._key, key.key_id_bytes, 8 if self._client else 0, packet)
        if type(opened) is not tuple:
            try:
                if opened is False:
                    raise DecryptionFailed()
                opened = _open_padded(key, packet, from_server=self._client)
            except DecryptionFailed:
                self.stats.decryption_failures += 1
                raise
        plaintext = opened[0]
        return self._process_fast(plaintext) or self._process(plaintext)

    def receive_plaintext(self, plaintext: bytes) -> list[Event]:
        """Process an already decrypted message (``decrypt_message`` output).

        For servers that decrypt once and route by session_id.  The caller
        vouches that the plaintext was authenticated under this session's key
        and the peer's direction; a plaintext whose header is inconsistent
        raises :class:`~mtcrypt.errors.InvalidArgument`.
        """
        if not isinstance(plaintext, BytesLike):
            raise InvalidArgument("plaintext must be bytes")
        data = bytes(plaintext)
        if len(data) < HEADER_SIZE:
            raise InvalidArgument(f"plaintext must be at least {HEADER_SIZE} bytes")
        length = _HEADER.unpack_from(data)[4]
        if length != len(data) - HEADER_SIZE or length % 4:
            raise InvalidArgument("plaintext length field does not match its size")
        self.stats.packets_received += 1
        if length:  # the fast path reads the body's constructor id
            return self._process_fast(data) or self._process(data)
        return self._process(data)

    # ---- receive internals ---------------------------------------------------------------

    def _process_fast(self, plaintext: bytes) -> list[Event] | None:
        """The common packet in one pass: one opaque content message (an update,
        a request) or, for a client, one plain ``rpc_result``, not in a container.
        ``plaintext`` holds at least the header and 4 bytes (an opened packet
        always does, with its padding).

        Every check of :meth:`_process` is made here too, inline (session_id,
        msg_id parity, the replay window, the time window, the salt, seq_no,
        the reference of a result); a packet that fails any of them, or is
        anything else, returns None *before any state changed*, and the caller
        runs the general path, which reports it.  So the two paths accept the
        same packets with the same effects (tests/test_session_fast.py compares
        them packet by packet).
        """
        if not self._fast_receive:
            return None
        # The header and the body's constructor id in one unpack.
        salt, session_id, msg_id, seq_no, length, cid = _HEADER_CID.unpack_from(plaintext)
        if cid in _DECODED and cid != _RPC_RESULT:  # a container, a service message, gzip
            return None
        if (
            session_id != self._session_id  # also when ours is unset (None)
            or msg_id & self._parity_mask != self._parity_bits
            or not 4 <= length < _VIEW_ABOVE
            or not self._time_synced  # a client's first message syncs the time
            or self._announce  # a server's first message announces the session
            or (self._check_salt and salt != self._salt)
        ):
            return None
        now = self._clock()
        server_now = now + self._time_offset
        t = msg_id / _TWO32
        if t < server_now - MAX_PAST or t > server_now + MAX_FUTURE:
            return None
        end = HEADER_SIZE + length
        out = None
        if cid not in _DECODED:  # opaque content: content-related, when the server checks
            if self._check_seq_no and not seq_no & 1:
                return None
            event = _content_event(self._client, msg_id, plaintext[HEADER_SIZE:end])
        elif cid == _RPC_RESULT and self._client and length >= 16:
            req_msg_id, result_cid = _RESULT_HEAD.unpack_from(plaintext, HEADER_SIZE + 4)
            if result_cid == _GZIP or result_cid == _CONTAINER or result_cid == _RPC_ERROR:
                return None
            out = self._sent.get(req_msg_id)
            if out is None or out.kind not in _AWAITS_ANSWER:
                return None
            event = _rpc_result_event(out.handle, plaintext[HEADER_SIZE + 12 : end], msg_id)
        else:
            return None
        # Accepted (the replay check is the last one, and it stores the id).
        if not self._window.add_newest(msg_id):
            return None
        if out is not None:
            del self._sent[req_msg_id]
        self.stats.messages_accepted += 1
        if seq_no & 1:
            if not self._pending_acks:
                self._ack_since = now
            self._pending_acks.append(msg_id)
        return [event]

    def _process(self, plaintext: bytes) -> list[Event]:
        salt, session_id, msg_id, seq_no, length = _HEADER.unpack_from(plaintext)
        end = HEADER_SIZE + length
        # A large body is a view: the content reaches its event with one copy
        # (see _own), not three (body, result, event); fresh large buffers cost
        # page faults as well as copying.
        body: _Body = (
            plaintext[HEADER_SIZE:end] if length < _VIEW_ABOVE
            else memoryview(plaintext)[HEADER_SIZE:end]
        )
        now = self._clock()
        # Checks 1-6, and 7 for a message outside a container: nothing is
        # changed before all have passed.
        reason = self._check_outer(salt, session_id, msg_id, seq_no, body,
                                   now + self._time_offset)
        items: list[_Item] | None = None  # the messages of a container
        if reason is None:
            try:
                # Check 6: decode the body; a container becomes its checked messages.
                budget = [self._limits.max_gzip_size]
                if length >= 8 and _U32.unpack_from(body)[0] == _CONTAINER:  # the common one
                    items = self._split_container(msg_id, body, budget)
                else:
                    item = self._decode(msg_id, seq_no, body, budget, in_container=False)
                    if item.cid == _CONTAINER:  # gzip_packed
                        items = self._split_container(msg_id, item.body, budget)
            except _Drop as drop:
                reason = drop.reason
            else:
                if items is None:
                    reason = self._check_item(item, msg_id)
        if reason is not None:
            return [self._dropped(reason, msg_id, seq_no, body, None, session_id)]
        # The outer message passed: remember it, sync the time, adopt the session.
        # A container is never acknowledged itself (it is not content-related,
        # whatever its seq_no says; the messages in it are acknowledged one by one).
        events: list[Event] = []
        self._window.add(msg_id)
        self.stats.messages_accepted += 1
        if seq_no & 1 and items is None:
            self._add_pending_ack(msg_id, now)
        if self._client and not self._time_synced:
            self._set_time_offset(msg_id, now, events)
        if self._session_id is None:
            self._session_id = session_id
        if self._announce:
            self._announce = False
            unique_id = _I64.unpack(draw(self._rng, 8))[0]
            announce = serialize(make("new_session_created", first_msg_id=msg_id,
                                      unique_id=unique_id, server_salt=self._salt))
            self._queue_message(announce, True, _Kind.OTHER)
        if items is None:
            self._apply(item, msg_id, now, events)
        else:  # a container: each message on its own
            for inner in items:
                self._handle(inner, msg_id, now, events)
        return events

    def _check_outer(
        self, salt: int, session_id: int, msg_id: int, seq_no: int, body: _Body,
        server_now: float,
    ) -> DropReason | None:
        if session_id != self._session_id and self._session_id is not None:
            return DropReason.SESSION_MISMATCH
        if msg_id & self._parity_mask != self._parity_bits:
            return DropReason.BAD_MSG_ID
        verdict = self._window.check(msg_id)
        if verdict is not None:
            return _REPLAY_REASONS[verdict]
        if self._time_synced:
            t = msg_id / _TWO32  # msg_id_time(msg_id)
            if t < server_now - MAX_PAST or t > server_now + MAX_FUTURE:
                if not (self._client and self._exempt_from_time_window(body)):
                    return DropReason.TOO_OLD if t < server_now else DropReason.TOO_NEW
        if self._check_salt and salt != self._salt and not self._salt_accepted(salt, server_now):
            return DropReason.BAD_SALT
        if (
            self._check_seq_no
            and seq_no & 1
            and len(body) >= 4
            and _U32.unpack_from(body)[0] in (_CONTAINER, _MSGS_ACK)
        ):
            return DropReason.BAD_SEQ_NO
        return None

    def _exempt_from_time_window(self, body: _Body) -> bool:
        """A bad_server_salt/bad_msg_notification about a message we sent recently."""
        if len(body) < 12 or _U32.unpack_from(body)[0] not in (_BAD_MSG, _BAD_SALT):
            return False
        return self._known_sent(_I64.unpack_from(body, 4)[0])

    def _known_sent(self, msg_id: int) -> bool:
        return msg_id in self._sent or msg_id in self._containers

    def _salt_accepted(self, salt: int, server_now: float) -> bool:
        if salt == self._salt:
            return True
        for old, until in self._old_salts:
            if salt == old and server_now < until:
                return True
        return any(
            f.salt == salt and f.valid_since <= server_now < f.valid_until
            for f in self._future_salts
        )

    def _split_container(self, msg_id: int, body: _Body, budget: list[int]) -> list[_Item]:
        """Check 6 for a msg_container (``body``, decompressed): its messages, each
        checked and decoded."""
        end = len(body)
        if end < 8:
            raise _Drop(DropReason.BAD_CONTAINER)
        count: int = _I32.unpack_from(body, 4)[0]
        pos = 8
        if not 1 <= count <= self._max_inbound_container or count * 20 > end - pos:
            raise _Drop(DropReason.BAD_CONTAINER)
        mask, bits = self._parity_mask, self._parity_bits
        items: list[_Item] = []
        for _ in range(count):
            if end - pos < 16:
                raise _Drop(DropReason.BAD_CONTAINER)
            inner_id, inner_seq, size = _INNER.unpack_from(body, pos)
            pos += 16
            if size < 4 or size % 4 or size > end - pos:
                raise _Drop(DropReason.BAD_CONTAINER)
            if inner_id >= msg_id or inner_id & mask != bits:
                raise _Drop(DropReason.BAD_CONTAINER)
            items.append(self._decode(inner_id, inner_seq, body[pos : pos + size], budget,
                                      in_container=True))
            pos += size
        if pos != end:
            raise _Drop(DropReason.BAD_CONTAINER)
        return items

    def _gunzip(self, packed: _Body, budget: list[int]) -> tuple[int, bytes]:
        """``packed`` is a whole gzip_packed object: the constructor id of its
        content and the content, within the budget."""
        try:
            r = Reader(packed, strict_padding=self._limits.strict_padding,
                       max_bytes_length=self._limits.max_bytes_length)
            r.read_uint32()
            data = gunzip(r.read_bytes(), max_size=budget[0])
            r.expect_end()
        except TLError:
            raise _Drop(DropReason.MALFORMED) from None
        budget[0] -= len(data)
        if len(data) < 4 or len(data) % 4:
            raise _Drop(DropReason.MALFORMED)
        cid: int = _U32.unpack_from(data)[0]
        if cid == _GZIP:
            raise _Drop(DropReason.MALFORMED)
        return cid, data

    def _decode(
        self, msg_id: int, seq_no: int, body: _Body, budget: list[int], in_container: bool,
    ) -> _Item:
        """One message: gzip_packed unwrapped, service objects and rpc_result decoded.
        A msg_container is returned as it is (only outside a container)."""
        if len(body) < 4:
            raise _Drop(DropReason.MALFORMED)
        cid: int = _U32.unpack_from(body)[0]
        if cid not in _DECODED:  # the common case: an opaque content message
            return _Item(msg_id, seq_no, cid, body, None)
        if cid == _GZIP:
            cid, body = self._gunzip(body, budget)
        if cid == _CONTAINER and in_container:
            raise _Drop(DropReason.BAD_CONTAINER)
        try:
            if cid in _SERVICE:
                obj = tl_deserialize(body, limits=self._limits)
                return _Item(msg_id, seq_no, cid, body, obj)
            if cid == _RPC_RESULT:
                if len(body) < 16:
                    raise _Drop(DropReason.MALFORMED)
                req_msg_id: int = _I64.unpack_from(body, 4)[0]
                result = body[12:]
                result_cid: int = _U32.unpack_from(result)[0]
                if result_cid == _GZIP:
                    result_cid, result = self._gunzip(result, budget)
                if result_cid == _CONTAINER:
                    raise _Drop(DropReason.BAD_CONTAINER)
                error = None
                if result_cid == _RPC_ERROR:
                    error = tl_deserialize(result, limits=self._limits)
                return _Item(msg_id, seq_no, cid, body, error, result, req_msg_id)
        except TLError:
            raise _Drop(DropReason.BAD_CONTAINER if in_container else DropReason.MALFORMED) \
                from None
        return _Item(msg_id, seq_no, cid, body, None)

    def _check_item(self, item: _Item, outer_msg_id: int) -> DropReason | None:
        """Check 7 (after the replay window): seq_no, role, references."""
        cid = item.cid
        if self._check_seq_no:
            if cid == _MSGS_ACK and item.seq_no & 1:
                return DropReason.BAD_SEQ_NO
            if not item.seq_no & 1 and cid not in _SPECIAL:
                return DropReason.BAD_SEQ_NO
        if cid not in _SPECIAL:  # an opaque content message: nothing to check
            return None
        if cid not in (_CLIENT_ACCEPTS if self._client else _SERVER_ACCEPTS):
            return DropReason.UNEXPECTED
        if not self._client:
            return None
        if cid == _RPC_RESULT:
            out = self._sent.get(item.req_msg_id)
            if out is None or out.kind not in _AWAITS_ANSWER:
                return DropReason.UNKNOWN_REFERENCE
        elif cid == _PONG:
            assert item.obj is not None
            out = self._sent.get(item.obj.msg_id)
            if out is None or out.kind not in _AWAITS_ANSWER:
                return DropReason.UNKNOWN_REFERENCE
        elif cid == _FUTURE_SALTS:
            assert item.obj is not None
            out = self._sent.get(item.obj.req_msg_id)
            if out is None or out.kind is not _Kind.SALTS:
                return DropReason.UNKNOWN_REFERENCE
            if len(item.obj.salts) > MAX_FUTURE_SALTS:
                return DropReason.MALFORMED
        elif cid in (_BAD_SALT, _BAD_MSG):
            assert item.obj is not None
            if not self._known_sent(item.obj.bad_msg_id):
                return DropReason.UNKNOWN_REFERENCE
        return None

    def _handle(self, item: _Item, container_id: int, now: float, events: list[Event]) -> None:
        """One message of an accepted container: check 7, then apply."""
        verdict = self._window.check(item.msg_id)
        reason = _REPLAY_REASONS[verdict] if verdict is not None else None
        if reason is None:
            reason = self._check_item(item, container_id)
        if reason is not None:
            events.append(self._dropped(reason, item.msg_id, item.seq_no, item.body,
                                        container_id, self._session_id))
            return
        self._window.add(item.msg_id)
        self.stats.messages_accepted += 1
        if item.seq_no & 1:
            self._add_pending_ack(item.msg_id, now)
        self._apply(item, container_id, now, events)

    def _dropped(
        self, reason: DropReason, msg_id: int, seq_no: int, body: _Body,
        container_id: int | None = None, session_id: int | None = None,
    ) -> MessageDropped:
        self.stats.count_drop(reason)
        code = _NOTIFY_CODES.get(reason)
        if reason is DropReason.BAD_SEQ_NO:
            code = 34 if seq_no & 1 else 35
        elif reason is DropReason.DUPLICATE and len(body) >= 4 and \
                _U32.unpack_from(body)[0] == _CONTAINER:
            code = 19
        if self._client:
            code = None
        return MessageDropped(reason, msg_id, seq_no, code, container_id, session_id)

    # ---- applying accepted messages --------------------------------------------------------

    def _apply(self, item: _Item, outer_msg_id: int, now: float, events: list[Event]) -> None:
        cid = item.cid
        obj = item.obj
        if obj is None and cid != _RPC_RESULT:  # opaque content
            events.append(_content_event(self._client, item.msg_id, _own(item.body)))
        elif cid == _MSGS_ACK:
            assert obj is not None
            # fields[...]: reading a field as an attribute first fails the slot lookup
            self._on_acks(obj.fields["msg_ids"], events)
        elif cid == _RESEND_REQ:
            assert obj is not None
            # The peer lost these: send again those still held, each under a new
            # msg_id (never the old one on its own); unknown ids are ignored.
            wanted: list[int] = obj.msg_ids
            for msg_id in wanted:
                self._resend_referenced(msg_id, events, standalone=False)
            events.append(ServiceMessage(item.msg_id, obj, answered=True))
        elif self._client:
            self._apply_client(item, outer_msg_id, now, events)
        elif cid in (_PING, _PING_DELAY):
            assert obj is not None
            pong = serialize(make("pong", msg_id=item.msg_id, ping_id=obj.ping_id))
            self._drop_pending_ack(item.msg_id)
            self._queue_message(pong, True, _Kind.RESPONSE, response=True)
            delay = obj.disconnect_delay if cid == _PING_DELAY else None
            events.append(PingReceived(item.msg_id, obj.ping_id, delay))
        elif cid == _GET_FUTURE_SALTS:
            assert obj is not None
            self._answer_future_salts(item.msg_id, obj.num, now)
            events.append(ServiceMessage(item.msg_id, obj, answered=True))
        else:
            assert obj is not None
            events.append(ServiceMessage(item.msg_id, obj))

    def _apply_client(
        self, item: _Item, outer_msg_id: int, now: float, events: list[Event]
    ) -> None:
        cid = item.cid
        obj = item.obj
        if cid == _RPC_RESULT:
            out = self._sent.pop(item.req_msg_id)
            if obj is not None:  # rpc_error
                message = obj.error_message.decode("utf-8", "replace")
                events.append(RpcError(out.handle, obj.error_code, message, item.msg_id))
            else:
                events.append(_rpc_result_event(out.handle, _own(item.result), item.msg_id))
            return
        assert obj is not None
        if cid == _PONG:
            out = self._sent.pop(obj.msg_id)
            events.append(Pong(obj.ping_id, out.handle, item.msg_id))
        elif cid == _BAD_SALT:
            self._salt = obj.new_server_salt
            events.append(SaltUpdated(obj.new_server_salt, "bad_server_salt"))
            self._resend_referenced(obj.bad_msg_id, events, standalone=False)
        elif cid == _BAD_MSG:
            self._on_bad_msg(obj, outer_msg_id, now, events)
        elif cid == _NEW_SESSION:
            self._salt = obj.server_salt
            events.append(NewSession(obj.first_msg_id, obj.unique_id, obj.server_salt,
                                     item.msg_id))
        elif cid == _FUTURE_SALTS:
            out = self._sent.pop(obj.req_msg_id)
            salts = tuple(
                FutureSalt(s.valid_since, s.valid_until, s.salt) for s in obj.salts
            )
            self._future_salts = sorted(salts, key=lambda s: s.valid_since)
            events.append(SaltsReceived(out.handle, salts, obj.now))
        else:
            events.append(ServiceMessage(item.msg_id, obj))

    def _on_bad_msg(self, obj: TLObject, outer_msg_id: int, now: float,
                    events: list[Event]) -> None:
        code: int = obj.error_code
        bad: int = obj.bad_msg_id
        # About a container: one event per message inside it, so that whoever
        # waits for those messages learns their fate.
        referenced = self._referenced(bad)
        for wire in referenced or [bad]:
            handle = self._sent[wire].handle if wire in self._sent else wire
            events.append(BadMessage(handle, bad, code))
        if code in (16, 17):
            self._set_time_offset(outer_msg_id, now, events, reanchor=code == 17)
        if code in _RESEND_CODES:
            self._resend_referenced(bad, events, standalone=code == 64)
        else:  # the peer refused it for good: stop waiting
            for wire in self._referenced(bad):
                del self._sent[wire]
            self._containers.pop(bad, None)

    def _on_acks(self, msg_ids: Any, events: list[Event]) -> None:
        """``msg_ids``: the field of a msgs_ack, a list of ints."""
        handles = []
        for msg_id in msg_ids:
            out = self._sent.get(msg_id)
            if out is None:
                continue
            handles.append(out.handle)
            if out.kind in _AWAITS_ANSWER:
                out.acked = True
            else:
                del self._sent[msg_id]
        if handles:
            events.append(Acked(tuple(handles)))

    def _set_time_offset(self, server_msg_id: int, now: float, events: list[Event],
                         reanchor: bool = False) -> None:
        offset = msg_id_time(server_msg_id) - now
        self._time_offset = offset
        self._time_synced = True
        if reanchor:
            # Code 17: ids above the server's time + 30 s were all refused, so
            # none of them can be replayed; restart the sequence at its time.
            floor = int((now + offset) * 2**32)
            self._last_msg_id = min(self._last_msg_id, floor)
        events.append(TimeSynced(offset, server_msg_id))

    def _referenced(self, msg_id: int) -> list[int]:
        """The wire ids of our messages a notification about ``msg_id`` concerns."""
        if msg_id in self._containers:
            return [m for m in self._containers[msg_id][0] if m in self._sent]
        return [msg_id] if msg_id in self._sent else []

    def _resend_referenced(self, msg_id: int, events: list[Event], standalone: bool) -> None:
        for wire in self._referenced(msg_id):
            out = self._resend_one(wire, standalone=standalone)
            events.append(Resent(out.handle, wire, out.msg_id))
        self._containers.pop(msg_id, None)

    def _resend_one(self, wire: int, standalone: bool = False) -> _Outgoing:
        old = self._sent.pop(wire)
        msg_id = self._new_msg_id(response=old.kind is _Kind.RESPONSE)
        new = _Outgoing(old.handle, msg_id, self._next_seq_no(old.content_related), old.body,
                        old.content_related, old.kind, standalone or old.standalone,
                        prefix=old.prefix)
        self._queue.append(new)
        self.stats.messages_resent += 1
        return new

    def _wire_id(self, msg_id: int) -> int | None:
        if msg_id in self._sent:
            return msg_id
        for wire, out in self._sent.items():
            if out.handle == msg_id:
                return wire
        return None

    def _answer_future_salts(self, req_msg_id: int, num: int, now: float) -> None:
        current = [f for f in self._future_salts if f.valid_until > now]
        if not current:
            current = [FutureSalt(int(now), int(now + SALT_GRACE), self._salt)]
        salts = [make("future_salt", valid_since=f.valid_since, valid_until=f.valid_until,
                      salt=f.salt) for f in current[: max(1, min(num, MAX_FUTURE_SALTS))]]
        body = serialize(make("future_salts", req_msg_id=req_msg_id, now=int(now), salts=salts))
        self._queue_message(body, False, _Kind.RESPONSE, response=True)

    # ---- send internals ------------------------------------------------------------------

    def _require(self, role: Role, what: str) -> None:
        if self._role is not role:
            raise SessionError(f"{what} is for the {role.value} role")

    def _new_msg_id(self, *, response: bool) -> int:
        low = CLIENT if self._client else SERVER_RESPONSE if response else SERVER_OTHER
        noise = self._noise
        pos = self._noise_pos
        if pos >= _NOISE_CHUNK:
            noise = self._noise = draw(self._rng, _NOISE_CHUNK)
            pos = 0
        self._noise_pos = pos + 2
        msg_id = _next_msg_id(self._clock() + self._time_offset, self._last_msg_id, low,
                              noise[pos] | noise[pos + 1] << 8)
        while msg_id in self._sent or msg_id in self._containers:  # after a re-anchor
            msg_id = _next_msg_id(0.0, msg_id, low, 0)
        self._last_msg_id = msg_id
        return msg_id

    def _next_seq_no(self, content_related: bool) -> int:
        if content_related:
            self._content_count += 1
            return 2 * self._content_count - 1
        return 2 * self._content_count

    def _queue_message(self, body: bytes, content_related: bool, kind: _Kind,
                       response: bool = False, enqueue: bool = True) -> _Outgoing:
        msg_id = self._new_msg_id(response=response)
        out = _Outgoing(msg_id, msg_id, self._next_seq_no(content_related), body,
                        content_related, kind)
        if enqueue:
            self._queue.append(out)
        return out

    def _maybe_gzip(self, data: bytes) -> bytes:
        if self._gzip_threshold is None or len(data) <= self._gzip_threshold:
            return data
        if len(data) > _GZIP_PROBE_ABOVE and not _looks_compressible(data):
            return data  # e.g. a file part: compressing 512 KiB of it would cost ~17 ms
        packed = gzip.compress(data, compresslevel=6, mtime=0)
        n = len(packed)
        header = bytes([n]) if n < 254 else b"\xfe" + n.to_bytes(3, "little")
        wrapped = _U32.pack(_GZIP) + header + packed + bytes(-(len(header) + n) % 4)
        return wrapped if len(wrapped) < len(data) else data

    def _add_pending_ack(self, msg_id: int, now: float) -> None:
        if not self._pending_acks:
            self._ack_since = now
        self._pending_acks.append(msg_id)

    def _drop_pending_ack(self, msg_id: int) -> None:
        if msg_id in self._pending_acks:
            self._pending_acks.remove(msg_id)
            if not self._pending_acks:
                self._ack_since = None

    def _ack_messages(self) -> list[_Outgoing]:
        acks = self._pending_acks
        self._pending_acks = []
        self._ack_since = None
        out = []
        for i in range(0, len(acks), MAX_ACKS_PER_MESSAGE):
            chunk = acks[i : i + MAX_ACKS_PER_MESSAGE]
            body = struct.pack(f"<IIi{len(chunk)}q", _MSGS_ACK, 0x1CB5C415, len(chunk), *chunk)
            out.append(self._queue_message(body, False, _Kind.ACK, enqueue=False))
        return out

    def _groups(self, outgoing: list[_Outgoing]) -> list[list[_Outgoing]]:
        groups: list[list[_Outgoing]] = []
        current: list[_Outgoing] = []
        size = 0
        for out in outgoing:
            n = len(out.prefix) + len(out.body) + 16
            if out.standalone or n > MAX_CONTAINER_BYTES:
                groups.append([out])
                continue
            if current and (len(current) >= self._max_container or size + n > MAX_CONTAINER_BYTES):
                groups.append(current)
                current, size = [], 0
            current.append(out)
            size += n
        if current:
            groups.append(current)
        return groups

    @staticmethod
    def _container_body(group: list[_Outgoing]) -> bytes:
        parts = [_CONTAINER_HEAD.pack(_CONTAINER, len(group))]
        for out in group:
            parts.append(_INNER.pack(out.msg_id, out.seq_no, len(out.prefix) + len(out.body)))
            parts.append(out.prefix)
            parts.append(out.body)
        return b"".join(parts)

    def _salt_for_send(self, server_now: float) -> int:
        if self._client:
            future = self._future_salts
            while future and future[0].valid_since <= server_now:
                salt = future.pop(0)
                if server_now < salt.valid_until:
                    self._salt = salt.salt
        return self._salt

    def _prune(self, now: float) -> None:
        self._last_prune = now
        horizon = now - self._sent_retention
        stale = [
            m for m, out in self._sent.items()
            if out.kind not in _AWAITS_ANSWER and out.sent_at is not None and out.sent_at < horizon
        ]
        for m in stale:
            del self._sent[m]
        for c in [c for c, (_, t) in self._containers.items() if t < horizon]:
            del self._containers[c]
        if not self._client:
            self._old_salts = [(s, t) for s, t in self._old_salts if t > now]

    def _trim(self) -> None:
        """Forget the oldest messages that await no answer beyond ``max_retained``
        (dicts keep sending order)."""
        spare = [m for m, out in self._sent.items() if out.kind not in _AWAITS_ANSWER]
        for m in spare[: max(0, len(spare) - self._max_retained)]:
            del self._sent[m]
        extra = len(self._containers) - self._max_retained
        for c in list(self._containers)[: max(0, extra)]:
            del self._containers[c]
        # Next time only after as many again (messages awaiting answers stay,
        # so the size alone would trigger this on every send).
        self._trim_at = len(self._sent) + len(self._containers) + self._max_retained

    def __repr__(self) -> str:
        sid = "unset" if self._session_id is None else f"{self._session_id & (2**64 - 1):016x}"
        return f"Session(role={self._role.value}, session_id={sid})"


# Events built by the fast path without the frozen dataclass __init__ (which
# sets each field through object.__setattr__): the slot descriptors directly.
_new_event = object.__new__
_UPDATE_MSG_ID, _UPDATE_BODY = vars(Update)["msg_id"].__set__, vars(Update)["body"].__set__
_REQUEST_MSG_ID, _REQUEST_BODY = vars(Request)["msg_id"].__set__, vars(Request)["body"].__set__
_RESULT_REQ, _RESULT_RESULT, _RESULT_MSG_ID = (
    vars(RpcResult)[name].__set__ for name in ("req_msg_id", "result", "msg_id")
)


def _content_event(client: bool, msg_id: int, body: bytes) -> Event:
    """``Update(msg_id, body)`` for a client, ``Request(msg_id, body)`` for a server."""
    event: Event
    if client:
        event = _new_event(Update)
        _UPDATE_MSG_ID(event, msg_id)
        _UPDATE_BODY(event, body)
    else:
        event = _new_event(Request)
        _REQUEST_MSG_ID(event, msg_id)
        _REQUEST_BODY(event, body)
    return event


def _rpc_result_event(req_msg_id: int, result: bytes, msg_id: int) -> Event:
    """``RpcResult(req_msg_id, result, msg_id)``."""
    event = _new_event(RpcResult)
    _RESULT_REQ(event, req_msg_id)
    _RESULT_RESULT(event, result)
    _RESULT_MSG_ID(event, msg_id)
    return event
_HEADER_CID = struct.Struct("<qqqiiI")
_RESULT_HEAD = struct.Struct("<qI")

_REPLAY_REASONS = {
    ReplayVerdict.DUPLICATE: DropReason.DUPLICATE,
    ReplayVerdict.BELOW_WINDOW: DropReason.BELOW_WINDOW,
}
