"""The one exception hierarchy of mtcrypt.

Every public function either returns a result or raises a subclass of
:class:`MtcryptError`.  The built-in bases follow one rule:

* bad data, whether an argument or bytes from the peer, is a ``ValueError``
  (:class:`InvalidArgument`, :class:`InvalidLength`, :class:`DecryptionFailed`,
  :class:`TLError`, :class:`TransportError`, :class:`HandshakeError`), and a
  value of the wrong type a ``TypeError`` (:class:`InvalidType`), so that
  existing ``except ValueError`` blocks keep working when mtcrypt replaces
  tgcrypto or cryptg;
* calling a method in a state that does not allow it (``start()`` twice,
  ``receive()`` after a failure, ``send()`` before the transport is ready) is
  always :class:`SessionError`, a ``RuntimeError``;
* what the machine cannot do is a ``RuntimeError`` (:class:`BackendUnavailable`)
  or a ``MemoryError`` (:class:`OutOfMemory`).

No exception raised by mtcrypt carries key material, plaintext or any value
derived from a secret.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "BackendUnavailable",
    "DecryptionFailed",
    "HandshakeError",
    "InvalidArgument",
    "InvalidLength",
    "InvalidType",
    "MtcryptError",
    "OutOfMemory",
    "ReconnectFailed",
    "SessionError",
    "StartupHookError",
    "TLError",
    "TransportError",
]


class MtcryptError(Exception):
    """Base class of every error mtcrypt raises."""


class InvalidArgument(MtcryptError, ValueError):
    """An argument has the right type but an unacceptable value."""


class InvalidLength(InvalidArgument):
    """A key, IV or data buffer has the wrong length."""


class InvalidType(MtcryptError, TypeError):
    """An argument is not of a supported type (for example, not a buffer)."""


class BackendUnavailable(MtcryptError, RuntimeError):
    """The requested native backend cannot run on this CPU."""


class OutOfMemory(MtcryptError, MemoryError):
    """The native core could not allocate the scratch memory a call needs
    (only the batch calls allocate)."""


class DecryptionFailed(MtcryptError, ValueError):
    """An encrypted message could not be authenticated and decrypted.

    Deliberately opaque: a wrong auth_key_id, a bad packet length, a msg_key
    mismatch and a bad length or padding field inside the plaintext all raise
    this exception with the same message, so that nothing observable tells
    them apart.
    """

    MESSAGE = "message could not be decrypted"

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


class TLError(MtcryptError, ValueError):
    """TL data is malformed, truncated, or exceeds a configured bound."""


class HandshakeError(MtcryptError, ValueError):
    """An auth-key handshake step failed; ``check`` names the failed check."""

    def __init__(self, check: str, detail: str = "") -> None:
        self.check = check
        self.detail = detail
        message = f"handshake check failed: {check}"
        if detail:
            message += f" ({detail})"
        super().__init__(message)

    def __reduce__(self) -> tuple[type[HandshakeError], tuple[str, str]]:
        # Handshake steps may run in worker processes: come back as raised.
        return (type(self), (self.check, self.detail))


class TransportError(MtcryptError, ValueError):
    """Framing or obfuscation data is malformed; ``code`` is the transport code."""

    def __init__(self, message: str, code: int = -404) -> None:
        self.code = code
        super().__init__(message)


class ReconnectFailed(TransportError):
    """A client connection ended with transport error -404 where the spec says
    to start again (a refused handshake query, a lost temporary key), and its
    :class:`~mtcrypt.connection.ReconnectPolicy` gave up: ``attempts`` new
    connections were made (``code`` is the last transport code, ``__cause__``
    the last error)."""

    def __init__(self, message: str, code: int = -404, attempts: int = 0) -> None:
        self.attempts = attempts
        super().__init__(message, code)


class SessionError(MtcryptError, RuntimeError):
    """An object (session, connection, handshake, transport) was used in a way
    its state does not allow: the one wrong-state error."""


class StartupHookError(MtcryptError, OSError):
    """The compat startup hook file (:func:`mtcrypt.compat.enable_startup_hook`)
    could not be written or removed."""


# ---- secret chats (mtcrypt.e2e) ------------------------------------------


class E2EError(MtcryptError):
    """Base class of the secret-chat errors."""


class KeyExchangeError(E2EError):
    """The initial key exchange failed; ``check`` names the failed check
    (``dh_prime``, ``g``, ``g_a``, ``g_b``, ``key_fingerprint``).

    The chat must not be used: per core.telegram.org/api/end-to-end the client
    calls ``messages.discardEncryption`` and tells the user.
    """

    def __init__(self, check: str, detail: str = "") -> None:
        self.check = check
        message = f"secret chat key exchange failed: {check}"
        if detail:
            message += f" ({detail})"
        super().__init__(message)


class AbortReason(Enum):
    """Why a secret chat was aborted (each is a rule of api/end-to-end[/seq_no,/pfs])."""

    LOCAL = "aborted locally"
    SEQ_NO_PARITY = "in_seq_no or out_seq_no of the wrong parity"
    NEGATIVE_IN_SEQ_NO = "negative in_seq_no"
    IN_SEQ_NO_DECREASED = "in_seq_no went down"
    IN_SEQ_NO_TOO_HIGH = "in_seq_no above the number of messages we sent"
    LAYER_DECREASED = "the peer's layer went down"
    MTPROTO1_FORBIDDEN = "MTProto 1.0 message at a layer that requires MTProto 2.0"
    RESEND_UNSATISFIABLE = "the peer asked to resend messages we cannot resend"
    RESEND_TOO_LARGE = "the peer asked to resend too many messages"
    TOO_MANY_PENDING = "too many out-of-order messages are waiting for a gap to fill"
    REKEY_UNEXPECTED = "a re-keying message the protocol state does not allow"
    REKEY_EXCHANGE_MISMATCH = "a re-keying message for another exchange_id"
    REKEY_FINGERPRINT_MISMATCH = "a re-keying key_fingerprint does not match our key"
    REKEY_BAD_DH_VALUE = "a re-keying g_a or g_b outside the safe range"


class ChatAborted(E2EError):
    """The secret chat is aborted: call ``messages.discardEncryption``.

    Raised by every call on an aborted :class:`~mtcrypt.e2e.SecretChat`; the
    receive call that detected the violation reports it as an
    :class:`~mtcrypt.e2e.Aborted` event instead, so that events it produced
    before the violation are not lost.
    """

    def __init__(self, reason: AbortReason) -> None:
        self.reason = reason
        super().__init__(f"secret chat aborted: {reason.value}")
