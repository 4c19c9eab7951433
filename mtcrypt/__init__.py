"""mtcrypt: MTProto 2.0 cryptography and protocol layer.

* :mod:`mtcrypt.crypto`: AES-256 IGE/CTR/CBC and SHA on a constant-time native
  core (AES-NI/VAES with a bitsliced portable fallback).
* :mod:`mtcrypt.errors`: the one exception hierarchy.
* :mod:`mtcrypt.mtproto`: auth keys, message seal/open, the sans-I/O session.
* :mod:`mtcrypt.tl`: the bounded TL codec.
* :mod:`mtcrypt.handshake`: auth-key creation, client and server.
* :mod:`mtcrypt.transport`: framings, obfuscation, MTProxy secrets.
* :mod:`mtcrypt.connection`: transport, handshake and session composed, sans-I/O.
* :mod:`mtcrypt.proxy`: the MTProxy relay, sans-I/O.
* :mod:`mtcrypt.aio`: asyncio client, server and MTProxy relay.
* :mod:`mtcrypt.e2e`: secret chats.
* :mod:`mtcrypt.testing`: the reference server and test tooling.
* :mod:`mtcrypt.compat`: drop-in replacements for tgcrypto and cryptg.

``import mtcrypt`` is cheap: each subpackage is imported the first time it is
used as an attribute (``mtcrypt.crypto.sha256(...)``).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

from .errors import MtcryptError

__version__ = "0.1.0"

__all__ = [
    "MtcryptError",
    "__version__",
    "aio",
    "cli",
    "compat",
    "connection",
    "crypto",
    "e2e",
    "errors",
    "handshake",
    "mtproto",
    "proxy",
    "testing",
    "tl",
    "transport",
]

SUBPACKAGES = frozenset(__all__) - {"MtcryptError", "__version__"}

if TYPE_CHECKING:  # for type checkers and IDEs; at run time see __getattr__
    from . import (
        aio,
        cli,
        compat,
        connection,
        crypto,
        e2e,
        errors,
        handshake,
        mtproto,
        proxy,
        testing,
        tl,
        transport,
    )


def __getattr__(name: str) -> ModuleType:
    """Import a subpackage on first use (PEP 562)."""
    if name in SUBPACKAGES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'mtcrypt' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | SUBPACKAGES)
