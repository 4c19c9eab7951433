"""The implementation under test in secret-chat conformance: its interface, and
mtcrypt's own end-to-end layer behind it.

A secret chat is sans-I/O on both ends (packets travel through the server as
``messages.sendEncrypted``/``updateNewEncryptedMessage``), so the adversary
drives the implementation directly through :class:`SecretChatTarget`: a few
synchronous calls, bytes in and bytes out. Port it to your implementation in
Python, or speak the same calls as JSON lines from any language
(:class:`~mtcrypt.testing.conformance.secret_command.SecretCommandTarget`).

A call that *refuses* its input (a bad prime, a ``g_b`` out of range, a wrong
fingerprint) raises any exception but :class:`TargetDied`; the runner records
its type and message. :class:`TargetDied` means the implementation itself
failed (exited, hung, broke the protocol): always a finding.
``receive`` never needs to raise: a message the implementation drops is simply
not in :attr:`Reply.delivered`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from ..._random import random_bytes
from ...e2e import (
    Aborted,
    ChatAborted,
    ChatPolicy,
    DhConfig,
    FileKey,
    MessageReceived,
    PendingSecretChat,
    SecretChat,
    Send,
    accept_secret_chat,
    decrypt_file,
    encrypt_file,
    make,
)
from ...e2e.events import Event, Outgoing
from ...errors import MtcryptError

__all__ = [
    "DhParams",
    "MtcryptSecretTarget",
    "Reply",
    "SecretChatTarget",
    "SentFile",
    "TargetDied",
]


class TargetDied(Exception):
    """The implementation under test exited, hung, or broke the protocol."""


@dataclass(frozen=True)
class DhParams:
    """``messages.dhConfig`` as the (adversarial) server sends it."""

    g: int
    p: bytes
    """Big-endian, as on the wire (normally 256 bytes)."""
    random: bytes
    version: int = 1


@dataclass
class Reply:
    """What the implementation did with one call."""

    sent: list[bytes] = field(default_factory=list)
    """Packets it sends to the peer, in order (``messages.sendEncrypted`` data)."""
    delivered: list[str] = field(default_factory=list)
    """Texts it shows its user, in order."""
    closed: bool = False
    """It aborted (discarded) the chat."""


@dataclass
class SentFile:
    """What a target did to send a file."""

    reply: Reply
    """The message with the document's key and IV (``decryptedMessageMediaDocument``)."""
    encrypted: bytes
    """The file as uploaded (AES-256-IGE under the document's key and IV)."""
    fingerprint: int
    """The ``key_fingerprint`` given to the server with the upload."""


class SecretChatTarget(Protocol):
    """One end of a secret chat under test. A target is used for one chat:
    the runner calls :meth:`reset` before each scenario."""

    name: str
    features: frozenset[str]
    """Optional abilities: ``rekey`` (:meth:`request_rekey`), ``files``
    (:meth:`decrypt_file`), ``send_files`` (:meth:`send_file`). Scenarios
    that need a missing one are skipped."""

    def reset(self) -> None:
        """Forget the previous chat."""

    def create(self, dh: DhParams, layer: int) -> bytes:
        """Become the chat's creator: validate ``dh``, return ``g_a`` (big-endian)."""

    def accept(self, dh: DhParams, g_a: bytes, layer: int) -> tuple[bytes, int]:
        """Accept the peer's request: validate ``dh`` and ``g_a``; return
        ``(g_b, key_fingerprint)``."""

    def complete(self, g_b: bytes, key_fingerprint: int) -> None:
        """Creator only: check ``g_b`` and the fingerprint; the chat is then open."""

    def receive(self, packet: bytes) -> Reply:
        """One ``encryptedMessage``/``encryptedMessageService`` from the peer."""

    def send_text(self, text: str) -> Reply:
        """The user sends ``text``."""

    def request_rekey(self) -> Reply:
        """Feature ``rekey``: start a re-keying exchange now."""

    def decrypt_file(
        self, data: bytes, key: bytes, iv: bytes, fingerprint: int, size: int
    ) -> bytes:
        """Feature ``files``: decrypt an encrypted file whose ``key``/``iv``
        came in a message claiming ``fingerprint``; refuse a mismatch."""

    def send_file(self, data: bytes) -> SentFile:
        """Feature ``send_files``: the user sends ``data`` as a document: the
        message carrying its key and IV, the encrypted file it uploads, and
        the key fingerprint it gives the server with the upload."""


class MtcryptSecretTarget:
    """mtcrypt's :mod:`mtcrypt.e2e` as the implementation under test: the
    correct peer every scenario must pass against."""

    name = "mtcrypt-e2e"
    features = frozenset({"rekey", "files", "send_files"})

    def __init__(self, policy: ChatPolicy | None = None) -> None:
        self.policy = policy if policy is not None else ChatPolicy()
        self._pending: PendingSecretChat | None = None
        self.chat: SecretChat | None = None

    def reset(self) -> None:
        self._pending = None
        self.chat = None

    def _config(self, dh: DhParams) -> DhConfig:
        return DhConfig.validate(dh.g, dh.p, version=dh.version, random=dh.random)

    def _policy(self, layer: int) -> ChatPolicy:
        return dataclasses.replace(self.policy, layer=layer)

    def create(self, dh: DhParams, layer: int) -> bytes:
        self._pending = PendingSecretChat(self._config(dh))
        self._layer = layer
        return self._pending.g_a

    def accept(self, dh: DhParams, g_a: bytes, layer: int) -> tuple[bytes, int]:
        accepted = accept_secret_chat(self._config(dh), g_a, policy=self._policy(layer))
        self.chat = accepted.chat
        return accepted.g_b, accepted.key_fingerprint

    def complete(self, g_b: bytes, key_fingerprint: int) -> None:
        if self._pending is None:
            raise MtcryptError("no chat is being created")
        self.chat = self._pending.complete(g_b, key_fingerprint, policy=self._policy(self._layer))

    def _open(self) -> SecretChat:
        if self.chat is None:
            raise MtcryptError("no chat")
        return self.chat

    def receive(self, packet: bytes) -> Reply:
        try:
            events = self._open().receive(packet)
        except ChatAborted:
            return Reply(closed=True)
        except MtcryptError:
            return Reply(closed=self._open().aborted is not None)  # dropped
        return _reply(events)

    def _sending(self, packets: Iterable[Outgoing]) -> Reply:
        return Reply(sent=[p.data for p in packets])

    def send_text(self, text: str) -> Reply:
        try:
            return self._sending(self._open().send_text(text))
        except ChatAborted:
            return Reply(closed=True)

    def request_rekey(self) -> Reply:
        try:
            return self._sending(self._open().request_rekey())
        except ChatAborted:
            return Reply(closed=True)

    def decrypt_file(
        self, data: bytes, key: bytes, iv: bytes, fingerprint: int, size: int
    ) -> bytes:
        file_key = FileKey(key, iv)
        file_key.check_fingerprint(fingerprint)
        return decrypt_file(data, file_key, size)

    def send_file(self, data: bytes) -> SentFile:
        chat = self._open()
        file_key = FileKey.generate()  # a fresh key and IV for every file
        document = "decryptedMessageMediaDocument" + ("" if chat.layer >= 143 else "45")
        media = make(
            document,
            thumb=b"",
            thumb_w=0,
            thumb_h=0,
            mime_type="application/octet-stream",
            size=len(data),
            key=file_key.key,
            iv=file_key.iv,
            attributes=[],
            caption="",
        )
        random_id = int.from_bytes(random_bytes(8), "little", signed=True)
        message = make(
            "decryptedMessage" if chat.layer >= 73 else "decryptedMessage45",
            random_id=random_id,
            ttl=0,
            message="",
            media=media,
        )
        try:
            reply = self._sending(chat.send(message))
        except ChatAborted:
            reply = Reply(closed=True)
        return SentFile(reply, encrypt_file(data, file_key), file_key.fingerprint)


def _reply(events: Iterable[Event]) -> Reply:
    reply = Reply()
    for event in events:
        if isinstance(event, Send):
            reply.sent.append(event.outgoing.data)
        elif isinstance(event, MessageReceived):
            text = event.message.fields.get("message")
            if isinstance(text, bytes):
                reply.delivered.append(text.decode("utf-8", "replace"))
        elif isinstance(event, Aborted):
            reply.closed = True
    return reply
