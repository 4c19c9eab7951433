"""MTProto 2.0 message layer: auth keys, message encryption, plain messages."""

from . import session_events
from .authkey import AUTH_KEY_SIZE, AuthKey
from .legacy import decrypt_message_v1, encrypt_message_v1, kdf_v1
from .message import (
    HEADER_SIZE,
    MAX_PADDING,
    MIN_PADDING,
    InnerMessage,
    decrypt_message,
    decrypt_messages,
    encrypt_message,
    encrypt_message_quick_ack,
    encrypt_messages,
    kdf2,
    padding_length,
)
from .msgid import ReplayWindow, msg_id_time, next_msg_id
from .plain import pack_plain, unpack_plain
from .session import Session
from .session_events import *  # noqa: F403

# A long submodule list re-exported whole is imported with ``*`` and added with
# ``__all__ +=`` (forms mypy and ruff read), so its names are written once.
__all__ = [
    "AUTH_KEY_SIZE",
    "HEADER_SIZE",
    "MAX_PADDING",
    "MIN_PADDING",
    "AuthKey",
    "InnerMessage",
    "ReplayWindow",
    "Session",
    "decrypt_message",
    "decrypt_message_v1",
    "decrypt_messages",
    "encrypt_message",
    "encrypt_message_quick_ack",
    "encrypt_message_v1",
    "encrypt_messages",
    "kdf2",
    "kdf_v1",
    "msg_id_time",
    "next_msg_id",
    "pack_plain",
    "padding_length",
    "unpack_plain",
]
__all__ += session_events.__all__
