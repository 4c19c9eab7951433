"""What a connection hands back from ``receive_data()``, ``on_timer()`` and
``work_done()``.

Every event is a small frozen value; none carries a key, a nonce or a payload
in its ``repr``.  A connection's events come out in the order things happened;
:class:`Closed` is always the last one a connection produces.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..mtproto.session_events import DropReason
from ..transport.events import TransportInfo

if TYPE_CHECKING:
    from .server import HandshakeWork

__all__ = [
    "CloseReason",
    "Closed",
    "ConnectionEvent",
    "HandshakeComplete",
    "HandshakeFailed",
    "HandshakeWorkNeeded",
    "IncomingRequest",
    "KeyBound",
    "LimitExceeded",
    "MessageRejected",
    "PongReceived",
    "Ready",
    "RequestFailed",
    "RequestTimedOut",
    "ResultReceived",
    "TransportReady",
    "UpdateReceived",
]


class CloseReason(enum.Enum):
    """Why a connection ended (the ``reason`` of :class:`Closed`)."""

    PEER_CLOSED = "peer_closed"
    """The peer closed its side (``receive_data(b"")``)."""
    LOCAL = "local"
    """:meth:`close` was called."""
    BAD_TRANSPORT = "bad_transport"
    """The bytes are not a valid transport (framing, obfuscation, fake-TLS)."""
    TRANSPORT_ERROR_RECEIVED = "transport_error_received"
    """Client: the server sent a transport error code (``error_code``)."""
    UNKNOWN_KEY = "unknown_key"
    """Server: an encrypted packet under a key it does not know (answered -404)."""
    DECRYPTION_FAILED = "decryption_failed"
    """A packet under a known key did not decrypt (answered -404 by a server)."""
    HANDSHAKE_FAILED = "handshake_failed"
    """Auth-key creation failed a check (``detail`` names it)."""
    HANDSHAKE_TIMEOUT = "handshake_timeout"
    """Server: no handshake completed and no encrypted message accepted in time;
    client: the key was not created in time."""
    IDLE_TIMEOUT = "idle_timeout"
    """No complete frame received for the idle timeout."""
    LIMIT_EXCEEDED = "limit_exceeded"
    """A limit was exceeded (a :class:`LimitExceeded` event names it)."""
    BIND_FAILED = "bind_failed"
    """Client: the server refused ``auth.bindTempAuthKey``."""


class ConnectionEvent:
    """Base class of every connection event."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class TransportReady(ConnectionEvent):
    """Server: the transport was detected from the first bytes."""

    info: TransportInfo


@dataclass(frozen=True, slots=True)
class HandshakeWorkNeeded(ConnectionEvent):
    """Server with ``offload_handshakes``: run ``work.run()`` (in a thread: it
    is the RSA decryption or a DH exponentiation, and touches nothing but the
    handshake), then pass it to ``work_done()``.  Frames arriving meanwhile are
    held by the connection, in order."""

    work: HandshakeWork


@dataclass(frozen=True, slots=True)
class HandshakeComplete(ConnectionEvent):
    """An auth key was created on this connection (both sides)."""

    key_id: int
    temporary: bool
    expires_at: int | None
    rsa_scheme: str
    inner_data: str
    retries: int
    seconds: float
    """Clock time from the first handshake packet to the key."""


@dataclass(frozen=True, slots=True)
class HandshakeFailed(ConnectionEvent):
    """Auth-key creation failed; ``check`` names the failed check.  The
    connection closes (a server answers -404 first)."""

    check: str


@dataclass(frozen=True, slots=True)
class KeyBound(ConnectionEvent):
    """A temporary key was bound to a permanent one (``auth.bindTempAuthKey``
    accepted: by the server, or confirmed to the client)."""

    temp_key_id: int
    perm_key_id: int


@dataclass(frozen=True, slots=True)
class Ready(ConnectionEvent):
    """Client: the encrypted session is up (key created or given, and bound if
    a temporary key was asked for); requests queued before now are sent."""

    key_id: int
    session_id: int


@dataclass(frozen=True, slots=True)
class IncomingRequest(ConnectionEvent):
    """Server: an RPC query from the client; answer it with
    ``ServerConnection.answer()`` or ``answer_error()`` (any time later).

    ``query`` is the query with ``invokeWithLayer``, ``invokeWithoutUpdates``
    and ``initConnection`` removed; ``body`` is the message as received;
    ``layer`` and ``api_id`` come from the wrappers when present.
    ``temporary`` tells whether the key is a temporary one and ``perm_key_id``
    the permanent key it is bound to (a server may refuse requests under an
    unbound temporary key, as Telegram does with ``AUTH_KEY_PERM_EMPTY``)."""

    key_id: int
    session_id: int
    msg_id: int
    query: bytes = field(repr=False)
    body: bytes = field(repr=False)
    layer: int | None = None
    api_id: int | None = None
    temporary: bool = False
    perm_key_id: int | None = None


@dataclass(frozen=True, slots=True)
class MessageRejected(ConnectionEvent):
    """An authenticated message was dropped by the session (replay, time window,
    salt, malformed TL...); a server has already queued the notification the
    spec asks for (``notify_code``)."""

    reason: DropReason
    msg_id: int
    notify_code: int | None


# duplicates: deliberate -- distinct events with look-alike int/bytes fields; a base would hide them
@dataclass(frozen=True, slots=True)
class ResultReceived(ConnectionEvent):
    """Client: the result of the request ``send_request()`` returned ``request_id`` for."""

    request_id: int
    result: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class RequestFailed(ConnectionEvent):
    """Client: the request ``request_id`` was answered with ``rpc_error``."""

    request_id: int
    error_code: int
    error_message: str


@dataclass(frozen=True, slots=True)
class RequestTimedOut(ConnectionEvent):
    """Client: no answer to ``request_id`` within the request timeout; the
    connection stopped waiting for it."""

    request_id: int


# duplicates: deliberate -- the connection-level twins of the session events (Pong, Update):
# public types with their own names and fields, alike by shape only.
@dataclass(frozen=True, slots=True)
class PongReceived(ConnectionEvent):
    """Client: the answer to ``send_ping()`` (``request_id`` is what it returned)."""

    request_id: int
    ping_id: int


@dataclass(frozen=True, slots=True)
class UpdateReceived(ConnectionEvent):
    """Client: a message the server sent on its own (API updates)."""

    msg_id: int
    body: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class LimitExceeded(ConnectionEvent):
    """A limit was exceeded; the connection closes.  ``limit`` is the name of
    the :class:`~mtcrypt.connection.ConnectionLimits` field (or
    ``"server_buffer_budget"``), ``value`` what it would have become."""

    limit: str
    value: int


@dataclass(frozen=True, slots=True)
class Closed(ConnectionEvent):
    """The connection is over: write what ``data_to_send()`` still returns
    (a transport error code, perhaps), then close the socket."""

    reason: CloseReason
    detail: str = ""
    error_code: int | None = None
    """The transport error code sent (server) or received (client), if any."""
