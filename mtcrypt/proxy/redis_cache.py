"""The fake-TLS replay cache in Redis, for relays on several hosts (the
``redis`` extra, redis-py).

Each accepted ClientHello random becomes one key, ``SET prefix+hex NX EX
window``: Redis answers whether it was new, atomically, for every relay that
shares the server, and forgets the key once the hello's timestamp window is
over.  Memory in Redis: one small key per fake-TLS connection of the last
``window`` seconds; no false positives (the whole first 16 bytes of the
random are the key: two fresh hellos collide with probability ``2**-128``).

The call blocks the relay's event loop for one round trip (a fraction of a
millisecond to a Redis on the same host or network; ``timeout`` at most).
When Redis cannot be reached the cache falls back to an in-process one and
logs it, so replays are still refused per process rather than every client
being turned away.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from .._validation import check_seconds
from ..errors import InvalidArgument
from ..transport import ClientRandomCache

__all__ = ["RedisReplayCache"]

log = logging.getLogger("mtcrypt.proxy")


class RedisReplayCache:
    """A :class:`~mtcrypt.transport.ReplayCache` in Redis (see the module docs).

    :param url: ``redis://host:port/db`` (or pass ``client``, a ``redis.Redis``).
    :param window: seconds a random is kept (the fake-TLS timestamp window,
        ``max_past + max_future``).
    :param timeout: seconds to wait for Redis before falling back.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        window: float = 720.0,
        prefix: str = "mtcrypt:proxy:hello:",
        timeout: float = 0.5,
        fallback_entries: int = 100_000,
    ) -> None:
        try:
            import redis
        except ImportError:
            raise InvalidArgument(
                "the Redis replay cache needs redis-py: pip install 'mtcrypt[redis]'"
            ) from None
        if (url is None) == (client is None):
            raise InvalidArgument("give exactly one of url and client")
        check_seconds(window, "window")
        if client is None:
            assert url is not None
            try:
                client = redis.Redis.from_url(
                    url, socket_timeout=timeout, socket_connect_timeout=timeout
                )
            except ValueError as exc:
                raise InvalidArgument(f"not a Redis URL: {exc}") from None
        self._client = client
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._ttl = max(1, math.ceil(window))
        self._prefix = prefix
        self._fallback = ClientRandomCache(fallback_entries)
        self._failing = False

    def check_and_add(self, client_random: bytes) -> bool:
        """Record ``client_random``; False if a relay sharing the server saw it."""
        key = self._prefix + bytes(client_random[:16]).hex()
        try:
            fresh = self._client.set(key, b"1", nx=True, ex=self._ttl)
        except self._errors as exc:
            if not self._failing:
                log.warning(
                    "replay cache: Redis unreachable (%s); refusing replays per process",
                    type(exc).__name__,
                )
                self._failing = True
            return self._fallback.check_and_add(bytes(client_random))
        if self._failing:
            log.warning("replay cache: Redis reachable again")
            self._failing = False
        self._fallback.check_and_add(bytes(client_random))  # so a later outage still knows it
        return bool(fresh)

    @property
    def degraded(self) -> bool:
        """Whether the last call could not reach Redis."""
        return self._failing

    def __repr__(self) -> str:
        return f"RedisReplayCache(ttl={self._ttl} s)"
