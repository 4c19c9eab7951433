"""Thin asyncio adapters over the sans-I/O objects: sockets in, bytes to the
protocol objects, their output back to the socket.  No protocol logic lives
here; it is all in :mod:`mtcrypt.transport`, :mod:`mtcrypt.handshake` and
:mod:`mtcrypt.mtproto`.
"""

from .client import Client, RpcCallError
from .server import ConnectionInfo, HandshakeRecord, RpcReply, Server

__all__ = ["Client", "ConnectionInfo", "HandshakeRecord", "RpcCallError", "RpcReply", "Server"]
