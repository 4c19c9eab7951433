"""Hooks for tooling: observe and rewrite what a connection sends.

A conformance tool, a fuzzer or a test subclasses :class:`ConnectionHooks`
and overrides what it needs; the connection then sends whatever the hooks
return.  Nothing else changes: the connection's own state (msg_ids, seq_nos,
acks, the handshake) advances as if the original had been sent, which is what
an adversary playing a misbehaving peer wants.  :meth:`ConnectionHooks.received`
shows what arrives.  Packets or bytes of the tool's own making go out with
``send_packet()``/``send_raw()`` on either connection.  An application never
needs hooks.
"""

from __future__ import annotations

from .. import tl
from ..mtproto import InnerMessage

__all__ = ["ConnectionHooks"]


class ConnectionHooks:
    """Identity hooks; override any of them.  Returning ``None`` drops the item."""

    def plain_object(self, obj: tl.TLObject) -> tl.TLObject | None:
        """An unencrypted (handshake) message's TL object, before it is packed."""
        return obj

    def message(self, message: InnerMessage) -> InnerMessage | None:
        """An encrypted message's plaintext fields, before sealing.  (Only
        called when overridden: the connection then opens its own packets to
        show them here, and seals the result again.)"""
        return message

    def packet(self, packet: bytes) -> bytes | None:
        """Every packet (sealed, or plain) before the transport frames it."""
        return packet

    def wire(self, data: bytes) -> bytes:
        """The transport's output, as it goes to the socket."""
        return data

    def received(self, key_id: int, message: InnerMessage) -> None:
        """Observe an incoming encrypted message once it has been authenticated
        under the key ``key_id``, before the session checks it (a container as
        it came).  Observation only: what the connection does next does not
        change.  (Only called when overridden: a client then opens each packet
        once more to show it here.)"""
        del key_id, message

    def received_plain(self, packet: bytes) -> None:
        """Observe an unencrypted packet that arrives at a client once its
        connection is encrypted (the connection ignores such packets)."""
        del packet

    @property
    def rewrites_messages(self) -> bool:
        return type(self).message is not ConnectionHooks.message

    @property
    def observes_received(self) -> bool:
        return type(self).received is not ConnectionHooks.received

    @property
    def rewrites_plain(self) -> bool:
        return type(self).plain_object is not ConnectionHooks.plain_object
