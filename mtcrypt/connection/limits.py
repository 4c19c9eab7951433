"""Limits and timeouts, as data; and the memory budget a server's connections share."""

from __future__ import annotations

from dataclasses import dataclass

from .._validation import check_seconds, is_int
from ..errors import InvalidArgument

__all__ = ["BufferBudget", "ConnectionLimits", "Timeouts"]

DEFAULT_MAX_FRAME = 2 * 1024 * 1024
"""Largest frame accepted by default: a 1 MiB container (the most Telegram's
servers take) with room to spare, and a 512 KiB file part many times over."""


def _positive_int(name: str, value: object) -> None:
    if not is_int(value) or value < 1:
        raise InvalidArgument(f"{name} must be a positive int")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What one connection may cost.  Exceeding a limit produces a
    :class:`~mtcrypt.connection.LimitExceeded` event naming the field, then a
    clean close; nothing raises.

    :param max_frame: largest transport frame (bytes); a larger length prefix
        closes the connection (``BAD_TRANSPORT``, -404) before its bytes are
        buffered.  It is the transport's own limit: connections build their
        transport with it, and a transport you build yourself should get it.
    :param max_buffered_bytes: bytes held for this connection at once: partial
        frames plus frames waiting behind handshake work.
    :param max_pending_requests: server: requests handed to the application
        and not answered yet; client: requests sent and not answered yet.
    :param max_handshakes: server: auth-key creations started on this
        connection (a client needs one, two for a temporary key).
    :param max_sessions: server: sessions (key, session_id) on this connection.
    """

    max_frame: int = DEFAULT_MAX_FRAME
    max_buffered_bytes: int = 4 * DEFAULT_MAX_FRAME
    max_pending_requests: int = 1024
    max_handshakes: int = 4
    max_sessions: int = 16

    def __post_init__(self) -> None:
        for name in ConnectionLimits.__slots__:
            _positive_int(name, getattr(self, name))
        if self.max_frame < 64:
            raise InvalidArgument("max_frame must be at least 64")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Deadlines, in seconds of the injected clock (``None``: never).

    :param handshake: server: a connection that has neither completed a
        handshake nor had an encrypted message accepted this long after it
        opened is closed; client: the key must exist by then.
    :param idle: no complete frame received for this long: close.
    :param keepalive: client: send an encrypted ``ping`` after this long
        without sending anything (keeps NAT state and the server's idle
        deadline from closing a quiet connection).
    :param request: client: stop waiting for an answer after this long
        (:class:`~mtcrypt.connection.RequestTimedOut`).
    :param resend: client: re-send a request that was neither acknowledged
        nor answered this long after it was sent (once per period).  Off by
        default: the server sees a re-sent query as a new message, so only
        idempotent queries should be re-sent this way.
    """

    handshake: float | None = 30.0
    idle: float | None = 300.0
    keepalive: float | None = 60.0
    request: float | None = None
    resend: float | None = None

    def __post_init__(self) -> None:
        for name in Timeouts.__slots__:
            check_seconds(getattr(self, name), name, optional=True)


class BufferBudget:
    """One budget of buffered bytes shared by many connections (a server's
    ``--max-buffered-bytes``): a connection whose holdings would take the total
    over ``limit`` is closed with ``LimitExceeded("server_buffer_budget")``.

    Plain data and counters; connections update their own share.  Not
    thread-safe: share it among connections driven by one thread (one event
    loop)."""

    __slots__ = ("_held", "limit", "total")

    def __init__(self, limit: int) -> None:
        _positive_int("limit", limit)
        self.limit = limit
        self.total = 0
        self._held: dict[int, int] = {}

    def update(self, owner: int, held: int) -> bool:
        """Set ``owner``'s holdings; False (and nothing changed) if that would
        exceed the limit."""
        before = self._held.get(owner, 0)
        total = self.total - before + held
        if held > before and total > self.limit:
            return False
        self.total = total
        if held:
            self._held[owner] = held
        else:
            self._held.pop(owner, None)
        return True

    def release(self, owner: int) -> None:
        """Forget ``owner`` (its connection closed)."""
        self.total -= self._held.pop(owner, 0)

    def __repr__(self) -> str:
        return f"BufferBudget(total={self.total}, limit={self.limit})"
