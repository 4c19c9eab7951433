"""What a :class:`~mtcrypt.mtproto.session.Session` reports: events, drop reasons, counters.

Every event is a frozen dataclass.  ``msg_id`` fields that name one of *our*
messages (``req_msg_id`` of :class:`RpcResult`, the ids in :class:`Acked`, ...)
carry the id that :meth:`Session.send` returned, even when the message was
re-sent since under a new msg_id; ``msg_id`` fields that name the peer's message
carry its wire id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum

from ..tl import TLObject

__all__ = [
    "Acked",
    "BadMessage",
    "DropReason",
    "Event",
    "FutureSalt",
    "MessageDropped",
    "NewSession",
    "PingReceived",
    "Pong",
    "Request",
    "Resent",
    "Role",
    "RpcError",
    "RpcResult",
    "SaltUpdated",
    "SaltsReceived",
    "ServiceMessage",
    "SessionStats",
    "TimeSynced",
    "Update",
]


class Role(StrEnum):
    """Which end: a client or a server.  The one vocabulary for sides across
    mtcrypt (sessions, framing codecs, test strategies, conformance scenarios);
    a ``StrEnum``, so ``"client"`` and ``"server"`` are accepted and compare equal."""

    CLIENT = "client"
    SERVER = "server"


class DropReason(Enum):
    """Why an authenticated message was discarded (see :class:`MessageDropped`).

    The order of the members is the order of the checks.
    """

    SESSION_MISMATCH = "session_mismatch"
    """The session_id is not this session's."""
    BAD_MSG_ID = "bad_msg_id"
    """msg_id parity wrong for the sender (client ids are 0 mod 4, server ids odd)."""
    DUPLICATE = "duplicate"
    """msg_id already received (replay window)."""
    BELOW_WINDOW = "below_window"
    """msg_id lower than every id in the full replay window."""
    TOO_OLD = "too_old"
    """msg_id more than 300 s behind the (server) time."""
    TOO_NEW = "too_new"
    """msg_id more than 30 s ahead of the (server) time."""
    BAD_SALT = "bad_salt"
    """Server only: the salt is not one the server currently accepts."""
    MALFORMED = "malformed"
    """The body is not valid TL (truncated, trailing bytes, bad gzip, over a bound)."""
    BAD_CONTAINER = "bad_container"
    """A msg_container broke a rule: inner msg_id not below the container's or
    of the wrong parity, nesting, more than 1024 messages, inconsistent
    ``bytes`` fields, or empty."""
    BAD_SEQ_NO = "bad_seq_no"
    """Server only: content-relatedness (seq_no parity) wrong for the message type."""
    UNEXPECTED = "unexpected"
    """A message type this role never receives (a ``ping`` sent to a client...)."""
    UNKNOWN_REFERENCE = "unknown_reference"
    """A reply (rpc_result, pong, future_salts, bad_server_salt, bad_msg_notification)
    naming a msg_id we did not send recently, or one already answered."""


class Event:
    """Base class of everything :meth:`Session.receive` returns."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class FutureSalt:
    """A server salt and the server-time interval in which it is valid."""

    valid_since: int
    valid_until: int
    salt: int


@dataclass(frozen=True, slots=True)
class RpcResult(Event):
    """Client: the result of the request :meth:`Session.send` returned ``req_msg_id`` for.

    ``result`` is the serialized result object (decompressed if it was gzip_packed).
    """

    req_msg_id: int
    result: bytes
    msg_id: int


@dataclass(frozen=True, slots=True)
class RpcError(Event):
    """Client: the request ``req_msg_id`` failed with an ``rpc_error``."""

    req_msg_id: int
    error_code: int
    error_message: str
    msg_id: int


# duplicates: deliberate -- distinct events with look-alike int fields; a base would hide them
@dataclass(frozen=True, slots=True)
class Pong(Event):
    """Client: the answer to :meth:`Session.send_ping`; ``ping_msg_id`` is its msg_id."""

    ping_id: int
    ping_msg_id: int
    msg_id: int


@dataclass(frozen=True, slots=True)
class Request(Event):
    """Server: a content message from the client (an RPC query, possibly wrapped in
    ``invokeWithLayer``...); answer it with :meth:`Session.send_result`.
    ``body`` is decompressed if it was gzip_packed."""

    msg_id: int
    body: bytes


# duplicates: deliberate -- distinct public events with look-alike int/bytes fields (and their
# connection-level twins in connection/events.py); a base would hide them.
@dataclass(frozen=True, slots=True)
class Update(Event):
    """Client: a message the server sent on its own (not a reply): API updates."""

    msg_id: int
    body: bytes


@dataclass(frozen=True, slots=True)
class PingReceived(Event):
    """Server: a ``ping``/``ping_delay_disconnect``; the pong is already queued."""

    msg_id: int
    ping_id: int
    disconnect_delay: int | None


@dataclass(frozen=True, slots=True)
class ServiceMessage(Event):
    """A service message the session does not consume itself (``msgs_state_req``,
    ``destroy_session``, ``msg_detailed_info``...), or one it acted on with
    ``answered`` True: it queued the reply (``get_future_salts``) or, for
    ``msg_resend_req``, sent again under new msg_ids the messages it still held
    (each reported as :class:`Resent`)."""

    msg_id: int
    message: TLObject
    answered: bool = False


@dataclass(frozen=True, slots=True)
class NewSession(Event):
    """Client: ``new_session_created``; its salt is now the current salt."""

    first_msg_id: int
    unique_id: int
    server_salt: int
    msg_id: int


# duplicates: deliberate -- one small public event a fact, alike the others by shape only.
@dataclass(frozen=True, slots=True)
class SaltUpdated(Event):
    """Client: the current salt changed; ``source`` names the message it came from."""

    salt: int
    source: str


@dataclass(frozen=True, slots=True)
class SaltsReceived(Event):
    """Client: ``future_salts`` answering our ``get_future_salts`` (``req_msg_id``)."""

    req_msg_id: int
    salts: tuple[FutureSalt, ...]
    server_now: int


@dataclass(frozen=True, slots=True)
class TimeSynced(Event):
    """Client: the server-time offset was set (``offset`` = server time - clock)."""

    offset: float
    msg_id: int


@dataclass(frozen=True, slots=True)
class BadMessage(Event):
    """Client: ``bad_msg_notification`` about our message ``req_msg_id``.

    ``bad_msg_id`` is the wire id the server named (a container's id when the
    notice is about a container: then there is one event per message of ours in
    it, each with its own ``req_msg_id``).  Codes 16, 17, 19, 20 and 64 are handled by
    re-sending with a new msg_id (see :class:`Resent`); 18, 32-35 and 48 are
    reported only: resending would fail the same way.
    """

    req_msg_id: int
    bad_msg_id: int
    error_code: int


@dataclass(frozen=True, slots=True)
class Resent(Event):
    """Our message ``req_msg_id`` was queued again under ``new_msg_id`` (it was
    ``old_msg_id`` on the wire before).  The payload is never re-sent under an id
    it was already encrypted with."""

    req_msg_id: int
    old_msg_id: int
    new_msg_id: int


@dataclass(frozen=True, slots=True)
class Acked(Event):
    """The peer acknowledged these messages of ours (ids as :meth:`Session.send` gave)."""

    msg_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MessageDropped(Event):
    """An authenticated message was discarded; the session state is unchanged.

    ``msg_id``/``seq_no`` are the dropped message's (inner message's, when
    ``container_msg_id`` is set).  ``notify_code`` is the ``bad_msg_notification``
    code a server would answer with (16, 17, 18, 20, 34, 35, 48, 64), or
    ``None`` when the spec says to ignore silently (always ``None`` on a client,
    which never sends notifications); a server passes the event to
    :meth:`Session.notify_bad_message` to send it.  ``session_id`` is the one
    the message named (a server answers into that session).
    """

    reason: DropReason
    msg_id: int
    seq_no: int
    notify_code: int | None = None
    container_msg_id: int | None = None
    session_id: int | None = None


@dataclass(slots=True)
class SessionStats:
    """Counters; the only session state a rejected message changes."""

    packets_received: int = 0
    decryption_failures: int = 0
    messages_accepted: int = 0
    messages_dropped: int = 0
    dropped: dict[DropReason, int] = field(default_factory=dict)
    packets_sent: int = 0
    messages_sent: int = 0
    messages_resent: int = 0

    def count_drop(self, reason: DropReason) -> None:
        self.messages_dropped += 1
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
