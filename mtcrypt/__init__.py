"""mtcrypt: MTProto 2.0 cryptography and protocol layer.

* :mod:`mtcrypt.crypto`: AES-256 IGE/CTR/CBC and SHA on a constant-time native
  core (AES-NI/VAES with a bitsliced portable fallback).
* :mod:`mtcrypt.errors`: the one exception hierarchy.
* :mod:`mtcrypt.compat`: drop-in replacements for tgcrypto and cryptg.
"""

from .errors import MtcryptError

__version__ = "0.1.0"
__all__ = ["MtcryptError", "__version__"]
