"""Drop-in replacements for the crypto extensions Telegram clients use.

* :mod:`mtcrypt.compat.tgcrypto` for Pyrogram's ``tgcrypto``
* :mod:`mtcrypt.compat.cryptg` for Telethon's ``cryptg``

Both keep the original call signatures and in-place state semantics, and
raise ``ValueError``/``TypeError`` subclasses where the originals raise (or,
for cryptg, where it silently pads or panics).

:func:`install` makes ``import cryptg`` and ``import tgcrypto`` give them, so
that Telethon and Pyrogram use mtcrypt without a code change; call it before
importing either.  :func:`enable_startup_hook` does that in every interpreter
of the environment (a ``.pth`` file).  Importing this package is cheap: the
crypto core loads when ``cryptg``/``tgcrypto`` is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._install import (
    ImportOrderWarning,
    InstallOutcome,
    ShimName,
    install,
    is_installed,
    is_shim,
    uninstall,
)

if TYPE_CHECKING:
    from ._startup import (
        StartupHookStatus,
        disable_startup_hook,
        enable_startup_hook,
        startup_hook_path,
        startup_hook_status,
    )

__all__ = [
    "ImportOrderWarning",
    "InstallOutcome",
    "ShimName",
    "StartupHookStatus",
    "disable_startup_hook",
    "enable_startup_hook",
    "install",
    "is_installed",
    "is_shim",
    "startup_hook_path",
    "startup_hook_status",
    "uninstall",
]

_STARTUP_NAMES = frozenset(
    {
            "StartupHookStatus",
        "disable_startup_hook",
        "enable_startup_hook",
        "startup_hook_path",
        "startup_hook_status",
    }
)


def __getattr__(name: str) -> object:
    # The startup-hook helpers need pathlib and sysconfig: load them on first use,
    # since the hook imports this package in every interpreter.
    if name in _STARTUP_NAMES:
        from . import _startup

        value: object = getattr(_startup, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _STARTUP_NAMES)
