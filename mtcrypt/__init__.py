"""mtcrypt: MTProto 2.0 cryptography and protocol layer.

* :mod:`mtcrypt.crypto`: AES-256 IGE/CTR/CBC and SHA on a constant-time native
  core (AES-NI/VAES with a bitsliced portable fallback).
* :mod:`mtcrypt.errors`: the one exception hierarchy.
* :mod:`mtcrypt.mtproto`: auth keys, message seal/open, the sans-I/O session.
* :mod:`mtcrypt.handshake`: auth-key creation, client and server.
* :mod:`mtcrypt.transport`: framings, obfuscation, MTProxy secrets.
* :mod:`mtcrypt.aio`: asyncio client and server; :mod:`mtcrypt.testing`: the
  reference server and test tooling.
* :mod:`mtcrypt.compat`: drop-in replacements for tgcrypto and cryptg.
"""

from .errors import MtcryptError

__version__ = "0.1.0"
__all__ = ["MtcryptError", "__version__"]
