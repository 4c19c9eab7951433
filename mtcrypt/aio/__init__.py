"""Thin asyncio pumps over the connection objects of :mod:`mtcrypt.connection`:
socket bytes in, their output back to the socket, a timer on each
connection's next deadline.  No protocol logic lives here.
:class:`ProxyServer` is the same kind of pump over :class:`mtcrypt.proxy.Relay`.
:class:`DeadlineTimer` is the timer, for other pumps (the conformance kit's).
"""

from ._timer import DeadlineTimer
from .client import Client, RpcCallError
from .proxy import ProxyServer, StatsServer
from .server import ConnectionInfo, HandshakeRecord, RpcReply, Server, ServerStats

__all__ = [
    "Client",
    "ConnectionInfo",
    "DeadlineTimer",
    "HandshakeRecord",
    "ProxyServer",
    "RpcCallError",
    "RpcReply",
    "Server",
    "ServerStats",
    "StatsServer",
]
