"""Typed cryptographic primitives over the native core.

Every function validates its arguments before any C code runs and raises
:mod:`mtcrypt.errors` exceptions (which also subclass ``ValueError`` or
``TypeError``) on bad input.
"""

from . import aes
from .aes import *  # noqa: F403
from .backend import BackendInfo, backend_info, select_backend
from .bignum import MODEXP_MAX_BITS, modexp, modexp_fixed_base
from .hashes import sha1, sha256

# A long submodule list re-exported whole is imported with ``*`` and added with
# ``__all__ +=`` (forms mypy and ruff read), so its names are written once.
__all__ = [
    "MODEXP_MAX_BITS",
    "BackendInfo",
    "backend_info",
    "modexp",
    "modexp_fixed_base",
    "select_backend",
    "sha1",
    "sha256",
]
__all__ += aes.__all__
