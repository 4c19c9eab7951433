"""Hypothesis strategies for secret-chat objects (needs ``hypothesis``).

* :func:`auth_keys`: 256-byte chat keys;
* :func:`texts`, :func:`decrypted_messages`, :func:`service_actions`: TL
  objects of the end-to-end schema;
* :func:`layer_payloads`: serialized ``decryptedMessageLayer`` envelopes;
* :func:`chat_pairs`: a creator and a partner :class:`~mtcrypt.e2e.SecretChat`
  sharing a key (no Diffie-Hellman: fast), with a deterministic rng;
* :func:`wire_mutations`: a mutator (:mod:`mtcrypt.e2e.mutators`) that any
  holder of no key could apply, as a function ``bytes -> bytes``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - hypothesis is a test dependency
    raise ImportError("mtcrypt.e2e.strategies needs hypothesis (pip install hypothesis)") from exc

from .._validation import Rng
from ..handshake.dh import TELEGRAM_DH_G, TELEGRAM_DH_PRIME
from ..mtproto import AuthKey
from ..tl import TLObject
from . import mutators
from .chat import ChatPolicy, SecretChat
from .dh import DhConfig
from .tl import LAYER, encode_layer, make

__all__ = [
    "auth_keys",
    "chat_pairs",
    "decrypted_messages",
    "layer_payloads",
    "service_actions",
    "texts",
    "wire_mutations",
]

_longs = st.integers(-(2**63), 2**63 - 1)


def auth_keys() -> st.SearchStrategy[AuthKey]:
    """Random 256-byte keys."""
    return st.binary(min_size=256, max_size=256).map(AuthKey)


def texts() -> st.SearchStrategy[str]:
    """Message texts (any Unicode, up to 2000 characters)."""
    return st.text(max_size=2000)


def service_actions() -> st.SearchStrategy[TLObject]:
    """Application-level service actions (not the protocol's own)."""
    ids = st.lists(_longs, max_size=8)
    return st.one_of(
        st.integers(0, 2**31 - 1).map(
            lambda t: make("decryptedMessageActionSetMessageTTL", ttl_seconds=t)
        ),
        ids.map(lambda r: make("decryptedMessageActionReadMessages", random_ids=r)),
        ids.map(lambda r: make("decryptedMessageActionDeleteMessages", random_ids=r)),
        ids.map(lambda r: make("decryptedMessageActionScreenshotMessages", random_ids=r)),
        st.just(make("decryptedMessageActionFlushHistory")),
        st.just(make("decryptedMessageActionTyping", action=make("sendMessageTypingAction"))),
    )


def decrypted_messages() -> st.SearchStrategy[TLObject]:
    """``decryptedMessage`` (current layer) and ``decryptedMessageService`` objects."""
    text_messages = st.builds(
        lambda rid, ttl, text, silent: make(
            "decryptedMessage", random_id=rid, ttl=ttl, message=text, silent=silent
        ),
        _longs,
        st.integers(0, 2**31 - 1),
        texts(),
        st.booleans(),
    )
    services = st.builds(
        lambda rid, action: make("decryptedMessageService", random_id=rid, action=action),
        _longs,
        service_actions(),
    )
    return st.one_of(text_messages, services)


def layer_payloads() -> st.SearchStrategy[bytes]:
    """Serialized ``decryptedMessageLayer`` envelopes with any sequence numbers."""
    return st.builds(
        lambda rb, layer, i, o, m: encode_layer(
            random_bytes=rb, layer=layer, in_seq_no=i, out_seq_no=o, message=m
        ),
        st.binary(min_size=15, max_size=64),
        st.integers(46, LAYER),
        st.integers(0, 2**31 - 1),
        st.integers(0, 2**31 - 1),
        decrypted_messages(),
    )


def _seeded_rng(seed: int) -> Rng:
    gen = random.Random(seed)
    return gen.randbytes


def chat_pairs(
    policy: ChatPolicy | None = None,
) -> st.SearchStrategy[tuple[SecretChat, SecretChat]]:
    """(creator, partner) sharing a random key; each with its own seeded rng
    and a fixed clock (0.0), so a failing example replays exactly. Both have
    announced their layer to the other (one ``notifyLayer`` each way, so
    ``seq == (1, 1)``): each can send whatever :func:`decrypted_messages`
    makes, which a chat refuses before it knows the peer's layer."""
    dh = DhConfig(TELEGRAM_DH_G, TELEGRAM_DH_PRIME)

    def build(key: AuthKey, seed: int) -> tuple[SecretChat, SecretChat]:
        creator = SecretChat(
            key, is_creator=True, dh=dh, rng=_seeded_rng(seed), clock=lambda: 0.0, policy=policy
        )
        partner = SecretChat(
            key,
            is_creator=False,
            dh=dh,
            rng=_seeded_rng(seed + 1),
            clock=lambda: 0.0,
            policy=policy,
        )
        for sender, receiver in ((creator, partner), (partner, creator)):
            for packet in sender.start():
                receiver.receive(packet.data)
        return creator, partner

    return st.builds(build, auth_keys(), st.integers(0, 2**32))


def wire_mutations() -> st.SearchStrategy[Callable[[bytes], bytes]]:
    """One mutation an attacker without the key can apply to a packet."""
    return st.one_of(
        st.integers(0, 2**20).map(lambda b: lambda p: mutators.flip_bit(p, b)),
        st.integers(0, 2**20).map(lambda n: lambda p: mutators.truncate(p, n)),
        st.binary(min_size=1, max_size=48).map(lambda e: lambda p: mutators.extend(p, e)),
        st.tuples(st.integers(0, 64), st.integers(0, 64))
        .filter(lambda ij: ij[0] != ij[1])
        .map(lambda ij: lambda p: mutators.swap_blocks(p, *ij)),
        st.binary(min_size=8, max_size=8).map(
            lambda f: lambda p: mutators.replace_fingerprint(p, f)
        ),
    )
