"""Secret chats: Telegram's end-to-end encrypted one-to-one chats, sans-I/O.

core.telegram.org/api/end-to-end (+ /pfs, /seq_no); behaviour matched with
tdlib's SecretChatActor. Pieces:

* key exchange: :class:`DhConfig` (validated like the handshake's),
  :class:`PendingSecretChat` (creator) and :func:`accept_secret_chat`;
* :class:`SecretChat`: messages both ways (MTProto 2.0, x by who created the
  chat), sequence numbers with their parity, gap, replay and ``in_seq_no``
  rules, and re-keying (:mod:`.rekey`);
* the message crypto alone: :func:`encrypt_e2e`/:func:`decrypt_e2e`, and the
  LEGACY MTProto 1.0 forms :func:`encrypt_e2e_v1`/:func:`decrypt_e2e_v1`;
* :class:`KeyVisualization` (picture as PNG, hex, emoji) and encrypted files
  (:class:`FileKey`, :func:`encrypt_file`, :func:`decrypt_file`);
* the end-to-end TL codec: :func:`codec`, :func:`make`.

A two-party round trip::

    dh = DhConfig.validate(3, TELEGRAM_DH_PRIME, random=server_random)
    alice = PendingSecretChat(dh)            # alice.g_a -> requestEncryption
    bob = accept_secret_chat(dh, alice.g_a)  # g_b, key_fingerprint -> acceptEncryption
    a = alice.complete(bob.g_b, bob.key_fingerprint)
    for packet in a.send_text("hi"):         # data -> messages.sendEncrypted
        events = bob.chat.receive(packet.data)
"""

from . import errors, events, files
from .chat import ChatPolicy, SecretChat
from .crypto import decrypt_e2e, encrypt_e2e, padding_length
from .dh import DhConfig, key_fingerprint, mix_server_random
from .errors import *  # noqa: F403
from .events import *  # noqa: F403
from .exchange import AcceptedSecretChat, PendingSecretChat, accept_secret_chat
from .files import *  # noqa: F403
from .legacy import decrypt_e2e_v1, encrypt_e2e_v1
from .rekey import RekeyState
from .tl import LAYER, codec, decode_layer, encode_layer, make
from .visual import KeyVisualization

# A long submodule list re-exported whole is imported with ``*`` and added with
# ``__all__ +=`` (forms mypy and ruff read), so its names are written once.
__all__ = [
    "LAYER",
    "AcceptedSecretChat",
    "ChatPolicy",
    "DhConfig",
    "KeyVisualization",
    "PendingSecretChat",
    "RekeyState",
    "SecretChat",
    "accept_secret_chat",
    "codec",
    "decode_layer",
    "decrypt_e2e",
    "decrypt_e2e_v1",
    "encode_layer",
    "encrypt_e2e",
    "encrypt_e2e_v1",
    "key_fingerprint",
    "make",
    "mix_server_random",
    "padding_length",
]
__all__ += errors.__all__
__all__ += events.__all__
__all__ += files.__all__
