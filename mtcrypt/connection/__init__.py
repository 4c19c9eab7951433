"""The connection layer: one sans-I/O object per side where transport,
handshake and session meet.

* :class:`ClientConnection`: transport, auth-key creation (permanent, and a
  temporary key bound to it), the encrypted session, requests by id.
* :class:`ServerConnection`: transport detection, handshakes, a
  :class:`KeyStore`, sessions per key and session id, wrapper removal,
  ``auth.bindTempAuthKey``, -404 for unknown keys.

Both take bytes (``receive_data``), return events, and hand back the bytes to
write (``data_to_send``); time is data (``next_deadline``/``on_timer``),
limits are data (:class:`ConnectionLimits`, :class:`Timeouts`,
:class:`BufferBudget`), randomness and the clock are injected.  The peer's
bytes never make them raise: every failure is a :class:`Closed` event with a
:class:`CloseReason`.  :mod:`mtcrypt.aio` is a thin asyncio pump over them.
"""

from . import events, server
from .client import ClientConnection
from .events import *  # noqa: F403
from .hooks import ConnectionHooks
from .keystore import KeyStore, MemoryKeyStore, StoredKey
from .limits import DEFAULT_MAX_FRAME, BufferBudget, ConnectionLimits, Timeouts
from .reconnect import ReconnectPolicy, RestartReason
from .replay import SeenRequests
from .server import *  # noqa: F403
from .wrappers import Unwrapped, unwrap_query

# A long submodule list re-exported whole is imported with ``*`` and added with
# ``__all__ +=`` (forms mypy and ruff read), so its names are written once.
__all__ = [
    "DEFAULT_MAX_FRAME",
    "BufferBudget",
    "ClientConnection",
    "ConnectionHooks",
    "ConnectionLimits",
    "KeyStore",
    "MemoryKeyStore",
    "ReconnectPolicy",
    "RestartReason",
    "SeenRequests",
    "StoredKey",
    "Timeouts",
    "Unwrapped",
    "unwrap_query",
]
__all__ += events.__all__
__all__ += server.__all__
