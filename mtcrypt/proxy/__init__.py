"""An MTProxy relay (``python -m mtcrypt proxy``), sans-I/O.

* :class:`Relay`: one client connection: recognise the client under a set of
  named secrets (plain obfuscated2, ``dd``, ``ee`` fake-TLS), open the DC side
  with keys of its own, re-encrypt both directions; anything that fails the
  checks is handed to a masking host byte for byte, or held silently.
* :class:`DcTable`: DC ids (media and test DCs included) to addresses.
* :class:`RelayStats` and :func:`prometheus_text`: per-secret counters, and
  their Prometheus text exposition.
* :class:`SharedReplayCache` and :class:`SharedStats`: the fake-TLS replay
  cache and the counters in shared memory, for several worker processes on one
  port; :class:`RedisReplayCache`, the replay cache in Redis for relays on
  several hosts (the ``redis`` extra).

The asyncio server over it is :class:`mtcrypt.aio.ProxyServer`.
"""

from __future__ import annotations

from . import relay
from .dcs import TELEGRAM_DCS, TEST_DC_OFFSET, DcTable
from .redis_cache import RedisReplayCache
from .relay import *  # noqa: F403
from .shared import SharedReplayCache, SharedStats
from .stats import RelayStats, prometheus_text

# The relay's names are written once, in its own ``__all__`` (as ``tl`` does).
__all__ = [
    "TELEGRAM_DCS",
    "TEST_DC_OFFSET",
    "DcTable",
    "RedisReplayCache",
    "RelayStats",
    "SharedReplayCache",
    "SharedStats",
    "prometheus_text",
]
__all__ += relay.__all__
