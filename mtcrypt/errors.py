"""The one exception hierarchy of mtcrypt.

Every public function either returns a result or raises a subclass of
:class:`MtcryptError`.  Argument errors also subclass the matching built-in
(``ValueError`` or ``TypeError``) so that existing ``except ValueError``
blocks keep working when mtcrypt replaces tgcrypto or cryptg.

No exception raised by mtcrypt carries key material, plaintext or any value
derived from a secret.
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailable",
    "DecryptionFailed",
    "HandshakeError",
    "InvalidArgument",
    "InvalidLength",
    "InvalidType",
    "MtcryptError",
    "SessionError",
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


class HandshakeError(MtcryptError):
    """An auth-key handshake step failed; ``check`` names the failed check."""

    def __init__(self, check: str, detail: str = "") -> None:
        self.check = check
        message = f"handshake check failed: {check}"
        if detail:
            message += f" ({detail})"
        super().__init__(message)


class TransportError(MtcryptError, ValueError):
    """Framing or obfuscation data is malformed; ``code`` is the transport code."""

    def __init__(self, message: str, code: int = -404) -> None:
        self.code = code
        super().__init__(message)


class SessionError(MtcryptError):
    """A session was used in a way its state does not allow."""
