"""Secret-chat errors; they live in :mod:`mtcrypt.errors` with the rest of
the hierarchy and are re-exported here.

Decryption failures are not here: every one of them raises the library's
single opaque :class:`mtcrypt.errors.DecryptionFailed`.
"""

from __future__ import annotations

from ..errors import AbortReason, ChatAborted, E2EError, KeyExchangeError

__all__ = ["AbortReason", "ChatAborted", "E2EError", "KeyExchangeError"]
