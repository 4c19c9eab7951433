"""What a transport hands back from ``receive()``.

Every event is a small frozen value.  A connection's events come out in wire
order; nothing is reordered or merged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "Event",
    "Frame",
    "Framing",
    "QuickAck",
    "TransportDetected",
    "TransportErrorCode",
    "TransportInfo",
]


# duplicates: deliberate -- an enum of four, like e2e's DropReason: plain data, nothing to share
class Framing(enum.Enum):
    """The four MTProto framings (digest §6.1)."""

    ABRIDGED = "abridged"
    INTERMEDIATE = "intermediate"
    PADDED_INTERMEDIATE = "padded_intermediate"
    FULL = "full"


@dataclass(frozen=True, slots=True)
class Frame:
    """One MTProto packet (a plain or encrypted message), transport envelope removed.

    ``quick_ack_requested`` is only ever true on the server side: the client set
    the length's top bit and wants a :class:`QuickAck` once the message is
    accepted (``ServerTransport.send_quick_ack``).  Padded-intermediate
    padding is already stripped (see :func:`~mtcrypt.transport.strip_padding`).
    """

    payload: bytes
    quick_ack_requested: bool = False

    def __repr__(self) -> str:  # payloads can be long; never dump them
        return f"Frame(<{len(self.payload)} bytes>, quick_ack_requested={self.quick_ack_requested})"


@dataclass(frozen=True, slots=True)
class QuickAck:
    """A quick acknowledgement from the server (client side only).

    ``token`` is the LE uint32 of ``msg_key_large[0:4]`` with the top bit set,
    the same value :func:`mtcrypt.mtproto.encrypt_message_quick_ack` returns.
    """

    token: int


@dataclass(frozen=True, slots=True)
class TransportErrorCode:
    """A transport-level error the server sent instead of a message (client
    side only): a negative code such as -404, -429 or -444 (digest §6.3)."""

    code: int


@dataclass(frozen=True, slots=True)
class TransportInfo:
    """What a server detected from a connection's first bytes.

    ``dc_id`` is the int16 at ``header[60:62]`` of an obfuscated2 header (the
    target DC for MTProxy connections; clients that are not talking to a proxy
    may leave random bytes there).  ``secret_index`` is the position of the
    matching MTProxy secret in the server's list, ``sni`` the server name a
    fake-TLS ClientHello carried.
    """

    framing: Framing
    obfuscated: bool = False
    fake_tls: bool = False
    dc_id: int | None = None
    secret_index: int | None = None
    sni: str | None = None


@dataclass(frozen=True, slots=True)
class TransportDetected:
    """Server side: the transport has been identified (always the first event)."""

    info: TransportInfo


Event = Frame | QuickAck | TransportErrorCode | TransportDetected
