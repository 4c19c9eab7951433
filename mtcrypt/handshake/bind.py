"""Binding a temporary key to a permanent one (``auth.bindTempAuthKey``, PFS).

The client proves it holds the permanent key by sending, under the
*temporary* key, ``auth.bindTempAuthKey(perm_auth_key_id, nonce, expires_at,
encrypted_message)`` where ``encrypted_message`` is a ``bind_auth_key_inner``
sealed "in the usual way, but with MTProto v1 using the perm_auth_key"
(core.telegram.org/method/auth.bindTempAuthKey):

* plaintext = ``random:int128`` (in place of salt and session_id) ‖ ``msg_id``
  (the same msg_id as the outer ``auth.bindTempAuthKey`` message) ‖
  ``seqno = 0`` ‖ ``msg_len = 40`` ‖ ``bind_auth_key_inner`` (40 bytes);
* ``msg_key = SHA1(plaintext)[4:20]``, 0..15 random padding bytes, the v1 KDF
  with x = 0, and ``perm_auth_key_id ‖ msg_key`` in front.

:func:`bind_temp_auth_key` builds the request (client);
:func:`verify_bind_temp_auth_key` opens and checks it (server).
"""

from __future__ import annotations

import struct

from .. import tl
from .._random import random_bytes
from .._validation import BytesLike, Rng, draw, is_int
from ..errors import DecryptionFailed, HandshakeError, InvalidArgument, InvalidType, TLError
from ..mtproto import AuthKey, decrypt_message_v1, encrypt_message_v1
from ._common import STRICT

__all__ = ["bind_temp_auth_key", "verify_bind_temp_auth_key"]

_INT64 = (-(1 << 63), 1 << 63)


def _check_int64(name: str, value: object) -> int:
    if not is_int(value):
        raise InvalidType(f"{name} must be an int")
    if not _INT64[0] <= value < _INT64[1]:
        raise InvalidArgument(f"{name} must fit a signed 64-bit int")
    return value


def bind_temp_auth_key(
    perm_key: AuthKey,
    temp_key: AuthKey,
    *,
    temp_session_id: int,
    msg_id: int,
    expires_at: int,
    rng: Rng = random_bytes,
) -> tl.TLObject:
    """The ``auth.bindTempAuthKey`` call to send under ``temp_key``.

    Send it in session ``temp_session_id`` with message id ``msg_id`` (the
    encrypted part names both, so they must match). ``expires_at`` is the
    temporary key's expiry (``HandshakeResult.expires_at``). Randomness drawn
    from ``rng``: the nonce (8 bytes, redrawn if zero), the int128 (16), the
    v1 padding (8).
    """
    if not isinstance(perm_key, AuthKey) or not isinstance(temp_key, AuthKey):
        raise InvalidType("perm_key and temp_key must be AuthKey objects")
    _check_int64("temp_session_id", temp_session_id)
    _check_int64("msg_id", msg_id)
    if not is_int(expires_at) or not 0 < expires_at < 1 << 31:
        raise InvalidArgument("expires_at must be a positive int32 Unix time")
    nonce = 0
    while nonce == 0:
        nonce = struct.unpack("<q", draw(rng, 8))[0]
    inner = tl.serialize(
        tl.make(
            "bind_auth_key_inner",
            nonce=nonce,
            temp_auth_key_id=temp_key.key_id,
            perm_auth_key_id=perm_key.key_id,
            temp_session_id=temp_session_id,
            expires_at=expires_at,
        )
    )
    plaintext = draw(rng, 16) + struct.pack("<qii", msg_id, 0, len(inner)) + inner
    encrypted = encrypt_message_v1(perm_key, plaintext, from_server=False, rng=rng)
    return tl.make(
        "auth.bindTempAuthKey",
        perm_auth_key_id=perm_key.key_id,
        nonce=nonce,
        expires_at=expires_at,
        encrypted_message=encrypted,
    )


def verify_bind_temp_auth_key(
    request: tl.TLObject | bytes,
    *,
    perm_key: AuthKey,
    temp_key: AuthKey,
    msg_id: int,
    session_id: int,
    now: float | None = None,
) -> tl.TLObject:
    """Check an ``auth.bindTempAuthKey`` received under ``temp_key`` in session
    ``session_id`` as message ``msg_id``; return the ``bind_auth_key_inner``.

    ``perm_key`` is the key named by ``request.perm_auth_key_id`` (look it up
    first). With ``now``, a binding whose ``expires_at`` has passed is refused.
    Raises :class:`HandshakeError` with checks named ``bind.*`` (``bind.request``,
    ``bind.perm_auth_key_id``, ``bind.encrypted_message``, ``bind.msg_id``,
    ``bind.seqno``, ``bind.inner``, ``bind.nonce``, ``bind.temp_auth_key_id``,
    ``bind.temp_session_id``, ``bind.expires_at``); a server answers them with
    ``ENCRYPTED_MESSAGE_INVALID``.
    """
    if not isinstance(perm_key, AuthKey) or not isinstance(temp_key, AuthKey):
        raise InvalidType("perm_key and temp_key must be AuthKey objects")
    if isinstance(request, BytesLike):
        try:
            request = tl.deserialize(bytes(request), limits=STRICT)
        except TLError:
            raise HandshakeError("bind.request", "malformed TL") from None
    if not isinstance(request, tl.TLObject) or request.name != "auth.bindTempAuthKey":
        raise HandshakeError("bind.request", "not an auth.bindTempAuthKey call")
    if request.perm_auth_key_id != perm_key.key_id:
        raise HandshakeError("bind.perm_auth_key_id", "not the permanent key given")
    try:
        plain = decrypt_message_v1(perm_key, request.encrypted_message, from_server=False)
    except DecryptionFailed:
        raise HandshakeError("bind.encrypted_message", "does not decrypt under the key") from None
    inner_msg_id, seqno, length = struct.unpack_from("<qii", plain, 16)
    if inner_msg_id != msg_id:
        raise HandshakeError("bind.msg_id", "differs from the outer message id")
    if seqno != 0:
        raise HandshakeError("bind.seqno", "must be 0")
    if length != 40:
        raise HandshakeError("bind.inner", "msg_len must be 40")
    try:
        inner = tl.deserialize(plain[32:], limits=STRICT)
    except TLError:
        raise HandshakeError("bind.inner", "malformed bind_auth_key_inner") from None
    if inner.name != "bind_auth_key_inner":
        raise HandshakeError("bind.inner", "not a bind_auth_key_inner")
    if inner.nonce != request.nonce:
        raise HandshakeError("bind.nonce", "differs from the request's nonce")
    if inner.temp_auth_key_id != temp_key.key_id:
        raise HandshakeError("bind.temp_auth_key_id", "not the key the request came under")
    if inner.perm_auth_key_id != perm_key.key_id:
        raise HandshakeError("bind.perm_auth_key_id", "inner id differs")
    if inner.temp_session_id != session_id:
        raise HandshakeError("bind.temp_session_id", "not the session the request came in")
    if inner.expires_at != request.expires_at:
        raise HandshakeError("bind.expires_at", "differs from the request's expires_at")
    if now is not None and inner.expires_at <= now:
        raise HandshakeError("bind.expires_at", "already expired")
    return inner
