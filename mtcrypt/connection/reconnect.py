"""When a client starts again after transport error -404: the decision as data.

The spec gives a client two cases where a -404 from the server is not the end:

* the server refused a **handshake** query (an incorrect query, or it forgot
  the attempt): the client starts key creation again, on a new connection,
  with a **new** nonce (api/auth_key, digest §4.2);
* the server forgot the **temporary key** the session runs under (it may
  discard one at any time, api/pfs, digest §5.2): the client makes a new
  temporary key and binds it to its permanent key before it sends anything
  again, never falling back to the permanent key.

:class:`~mtcrypt.connection.ClientConnection` names which case its -404 was
(:attr:`~mtcrypt.connection.ClientConnection.restart`, a
:class:`RestartReason`, or None: a -404 under the permanent key means the
server does not know that key, which only the application can decide about)
and builds the connection that starts again
(:meth:`~mtcrypt.connection.ClientConnection.restarted`).  A
:class:`ReconnectPolicy` says how often and when: it is pure data, so the
asyncio client (:class:`mtcrypt.aio.Client`) only sleeps and connects.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from .._validation import check_seconds, is_int
from ..errors import InvalidArgument

__all__ = ["ReconnectPolicy", "RestartReason"]


class RestartReason(enum.Enum):
    """Why a client connection that ended with -404 must start again."""

    HANDSHAKE_REFUSED = "handshake_refused"
    """-404 during key creation: start again on a new connection with a new nonce
    (a permanent key made before is kept; only the refused key is made again)."""
    TEMP_KEY_LOST = "temp_key_lost"
    """-404 under the temporary key: make a new temporary key, bind it to the
    permanent one, then send the requests still waiting again under it."""


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """How a client starts again after a -404 that calls for it
    (a :class:`RestartReason`).

    :param max_attempts: new connections at most, counted from the first
        -404 until a connection is ready again (0: never start again).
    :param backoff: seconds to wait before the first new connection.
    :param backoff_factor: each later wait is this many times the one before ...
    :param max_backoff: ... but never more than this.
    :param deadline: give up once this many seconds have passed since the
        first -404 (None: no limit but ``max_attempts``).

    The waits are data: :meth:`delay_before` answers for attempt ``n`` after
    ``elapsed`` seconds, and the caller sleeps.  When it answers None the
    client gives up with :class:`~mtcrypt.errors.ReconnectFailed`.
    """

    max_attempts: int = 3
    backoff: float = 0.5
    backoff_factor: float = 2.0
    max_backoff: float = 8.0
    deadline: float | None = 30.0

    def __post_init__(self) -> None:
        if not is_int(self.max_attempts) or not 0 <= self.max_attempts <= 1000:
            raise InvalidArgument("max_attempts must be an int from 0 to 1000")
        check_seconds(self.backoff, "backoff", zero=True)
        check_seconds(self.max_backoff, "max_backoff", zero=True)
        check_seconds(self.deadline, "deadline", optional=True, zero=True)
        if (
            not (isinstance(self.backoff_factor, float) or is_int(self.backoff_factor))
            or not math.isfinite(self.backoff_factor)
            or self.backoff_factor < 1
        ):
            raise InvalidArgument("backoff_factor must be >= 1")

    def delay_before(self, attempt: int, elapsed: float) -> float | None:
        """Seconds to wait before new connection number ``attempt`` (1 for the
        first), ``elapsed`` seconds after the first -404; None: give up."""
        if not is_int(attempt) or attempt < 1:
            raise InvalidArgument("attempt counts from 1")
        if attempt > self.max_attempts:
            return None
        delay = min(self.backoff * self.backoff_factor ** (attempt - 1), self.max_backoff)
        if self.deadline is not None and elapsed + delay > self.deadline:
            return None
        return delay
