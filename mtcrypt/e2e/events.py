"""What a :class:`~mtcrypt.e2e.SecretChat` hands back: packets to send and events.

Nothing here holds key material; a repr shows sizes and sequence numbers only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..tl import TLObject
from .errors import AbortReason

__all__ = [
    "Aborted",
    "DropReason",
    "Dropped",
    "Event",
    "KeyChanged",
    "MessageReceived",
    "OldKeyDiscarded",
    "Outgoing",
    "PeerLayerChanged",
    "RekeyAborted",
    "Send",
    "ServiceReceived",
    "UnsupportedMessage",
]


@dataclass(frozen=True, slots=True, repr=False)
class Outgoing:
    """One encrypted message to deliver.

    ``data`` is the ``data`` argument of ``messages.sendEncrypted`` (or
    ``messages.sendEncryptedService`` when ``service``; ``sendEncryptedFile``
    for a message whose media carries a file), ``random_id`` its
    ``random_id``. Assign nothing else: the sequence numbers are inside, and a
    resent message (``resend=True``) is the very same ciphertext.
    """

    data: bytes
    random_id: int
    in_seq_no: int
    out_seq_no: int
    service: bool
    key_fingerprint: int
    resend: bool = False

    def __repr__(self) -> str:
        return (
            f"Outgoing(out_seq_no={self.out_seq_no}, in_seq_no={self.in_seq_no}, "
            f"service={self.service}, resend={self.resend}, {len(self.data)} bytes)"
        )


# duplicates: deliberate -- an enum of four, like transport's Framing: plain data, nothing to share
class DropReason(Enum):
    """Why a correctly decrypted message was not processed (no abort needed)."""

    REPLAY = "out_seq_no already processed (repeated message)"
    DUPLICATE = "this out_seq_no is already waiting in the gap queue"
    SHORT_RANDOM = "fewer than 15 random bytes (must be ignored)"
    MALFORMED = "not a decryptedMessageLayer"


@dataclass(frozen=True, slots=True)
class Send:
    """A packet the protocol itself sends (resend requests, resent messages,
    re-keying steps, no-ops): deliver ``outgoing`` like any other."""

    outgoing: Outgoing


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A ``DecryptedMessage`` from the peer, in the peer's order. Older layers'
    constructors (``decryptedMessage45``, ...) are delivered as they are."""

    message: TLObject
    layer: int
    in_seq_no: int
    out_seq_no: int
    mtproto_version: int


@dataclass(frozen=True, slots=True)
class ServiceReceived:
    """An application-level service action (TTL, read, delete, screenshot,
    flush history, typing); protocol actions are handled inside the chat."""

    action: TLObject
    random_id: int


# duplicates: deliberate -- distinct one-field events; a shared base would only hide the field
@dataclass(frozen=True, slots=True)
class UnsupportedMessage:
    """A message whose content this codec cannot decode (it still counted in
    the sequence). If ``layer`` is above :data:`~mtcrypt.e2e.LAYER`, the spec
    asks to tell the user to update."""

    layer: int
    out_seq_no: int
    raw: bytes


# duplicates: deliberate -- one small public event a fact (Dropped, PeerLayerChanged, KeyChanged,
# OldKeyDiscarded...): alike by shape only.
@dataclass(frozen=True, slots=True)
class Dropped:
    """A message ignored without aborting; counted in ``SecretChat.stats``."""

    reason: DropReason


@dataclass(frozen=True, slots=True)
class PeerLayerChanged:
    """The highest layer the peer is known to support went up."""

    layer: int


@dataclass(frozen=True, slots=True)
class KeyChanged:
    """Re-keying completed: messages are now encrypted with the key whose
    ``key_fingerprint`` this is. The key visualization does not change."""

    key_fingerprint: int
    exchange_id: int


@dataclass(frozen=True, slots=True)
class OldKeyDiscarded:
    """The previous key is no longer held (references dropped)."""

    key_fingerprint: int


@dataclass(frozen=True, slots=True)
class RekeyAborted:
    """A re-keying exchange ended without a new key (concurrent exchanges or
    an ``abortKey`` from the peer)."""

    exchange_id: int


@dataclass(frozen=True, slots=True)
class Aborted:
    """The chat is aborted: call ``messages.discardEncryption``. Every later
    call on the chat raises :class:`~mtcrypt.e2e.ChatAborted`."""

    reason: AbortReason


Event = (
    Send
    | MessageReceived
    | ServiceReceived
    | UnsupportedMessage
    | Dropped
    | PeerLayerChanged
    | KeyChanged
    | OldKeyDiscarded
    | RekeyAborted
    | Aborted
)
