"""Both roles of the initial key exchange (see :mod:`mtcrypt.e2e.dh` for the steps)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from .._random import random_bytes
from .._validation import Clock, Rng
from ..errors import InvalidArgument
from .chat import ChatPolicy, SecretChat
from .dh import DhConfig, compute_key, decode_dh_value, encode_dh_value
from .errors import KeyExchangeError

__all__ = ["AcceptedSecretChat", "PendingSecretChat", "accept_secret_chat"]


class PendingSecretChat:
    """Side A (the creator) between ``messages.requestEncryption`` and the answer.

    Send :attr:`g_a` with ``messages.requestEncryption``. When the chat comes
    back as ``encryptedChat`` (``g_a_or_b`` is the peer's g_b), pass its
    ``g_a_or_b`` and ``key_fingerprint`` to :meth:`complete`.
    """

    __slots__ = ("_a", "_clock", "_dh", "_rng", "g_a")

    def __init__(self, dh: DhConfig, *, rng: Rng = random_bytes, clock: Clock = time.time):
        if not isinstance(dh, DhConfig):
            raise InvalidArgument("dh must be a DhConfig (DhConfig.validate)")
        self._dh = dh
        self._rng = rng
        self._clock = clock
        self._a, g_a = dh.new_exponent(rng, "g_a")
        self.g_a: bytes = encode_dh_value(g_a)

    def __repr__(self) -> str:
        return "PendingSecretChat()"

    def complete(
        self, g_b: bytes, key_fingerprint: int, *, policy: ChatPolicy | None = None
    ) -> SecretChat:
        """Check ``g_b``, compute the key, compare the peer's fingerprint and
        return the chat (we are its creator). Raises :class:`KeyExchangeError`
        (``g_b`` or ``key_fingerprint``): then call ``messages.discardEncryption``
        and tell the user."""
        if self._a == 0:
            raise KeyExchangeError("state", "this exchange already completed")
        value = decode_dh_value(g_b, self._dh.p, "g_b")
        key = compute_key(value, self._a, self._dh.p)
        if not isinstance(key_fingerprint, int) or key.key_id != key_fingerprint:
            raise KeyExchangeError("key_fingerprint", "the peer computed a different key")
        self._a = 0
        return SecretChat(
            key, is_creator=True, dh=self._dh, rng=self._rng, clock=self._clock, policy=policy
        )


@dataclass(frozen=True, slots=True)
class AcceptedSecretChat:
    """Side B's answer: ``g_b`` and ``key_fingerprint`` go into
    ``messages.acceptEncryption``; ``chat`` is ready once the server confirms."""

    g_b: bytes
    key_fingerprint: int
    chat: SecretChat


def accept_secret_chat(
    dh: DhConfig,
    g_a: bytes,
    *,
    rng: Rng = random_bytes,
    clock: Clock = time.time,
    policy: ChatPolicy | None = None,
) -> AcceptedSecretChat:
    """Side B: check ``g_a`` (from ``encryptedChatRequested``), draw ``b`` and
    derive the key. Raises :class:`KeyExchangeError` (``g_a``)."""
    if not isinstance(dh, DhConfig):
        raise InvalidArgument("dh must be a DhConfig (DhConfig.validate)")
    value = decode_dh_value(g_a, dh.p, "g_a")
    b, g_b = dh.new_exponent(rng, "g_b")
    key = compute_key(value, b, dh.p)
    chat = SecretChat(key, is_creator=False, dh=dh, rng=rng, clock=clock, policy=policy)
    return AcceptedSecretChat(encode_dh_value(g_b), key.key_id, chat)
