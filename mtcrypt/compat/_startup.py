"""The startup hook: a ``.pth`` file that calls :func:`~mtcrypt.compat.install`
in every interpreter of the environment, so Telethon and Pyrogram find the
shims without any code change.

``site`` executes the lines of ``*.pth`` files in site-packages that start with
``import`` at interpreter startup.  The hook's line imports
:mod:`mtcrypt.compat` (cheap: the crypto core is loaded only when ``cryptg``
or ``tgcrypto`` is imported) and never raises: if mtcrypt is gone it does
nothing, if it is broken it writes one line to stderr.  ``MTCRYPT_COMPAT=0``
in the environment turns it off for a process.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path
from typing import Final, NamedTuple

from ..errors import InvalidType, StartupHookError
from ._install import is_installed

__all__ = [
    "ENV_SWITCH",
    "HOOK_FILENAME",
    "StartupHookStatus",
    "disable_startup_hook",
    "enable_startup_hook",
    "startup_hook_path",
    "startup_hook_status",
]

HOOK_FILENAME: Final = "mtcrypt_compat.pth"
ENV_SWITCH: Final = "MTCRYPT_COMPAT"
_MARK: Final = "# mtcrypt compat startup hook"

# Run by the .pth line (through exec, so that it can catch errors).
_HOOK_CODE: Final = """\
try:
    if os.environ.get("MTCRYPT_COMPAT", "") != "0":
        import mtcrypt.compat
        mtcrypt.compat.install(replace=REPLACE)
except ModuleNotFoundError as exc:
    if exc.name not in ("mtcrypt", "mtcrypt.compat"):
        sys.stderr.write(f"mtcrypt compat startup hook skipped: {exc!r}\\n")
except Exception as exc:
    sys.stderr.write(f"mtcrypt compat startup hook skipped: {exc!r}\\n")
"""


class StartupHookStatus(NamedTuple):
    """What :func:`startup_hook_status` found."""

    path: Path
    """Where the hook file is (or would be)."""
    enabled: bool
    """The hook file exists."""
    replace: bool | None
    """The ``replace`` it passes to install(); None when not enabled."""
    switched_off: bool
    """``MTCRYPT_COMPAT=0`` is set in this process's environment."""
    active: bool
    """:func:`~mtcrypt.compat.install` is in effect in this process."""


def _hook_text(replace: bool) -> str:
    code = _HOOK_CODE.replace("REPLACE", repr(replace))
    return (
        f"{_MARK} (mtcrypt.compat.enable_startup_hook): `import cryptg` and\n"
        "# `import tgcrypto` give mtcrypt's shims.  MTCRYPT_COMPAT=0 turns it off for a\n"
        "# process; `python -m mtcrypt compat disable` removes this file.\n"
        f"import os, sys; exec({code!r})\n"
    )


def startup_hook_path(*, _directory: str | os.PathLike[str] | None = None) -> Path:
    """The hook file: ``mtcrypt_compat.pth`` in this environment's site-packages
    (``sysconfig.get_paths()["purelib"]``)."""
    directory = sysconfig.get_paths()["purelib"] if _directory is None else _directory
    return Path(directory) / HOOK_FILENAME


def enable_startup_hook(
    *, replace: bool = False, _directory: str | os.PathLike[str] | None = None
) -> Path:
    """Write the hook file, so that every new interpreter of this environment
    calls ``mtcrypt.compat.install(replace=replace)`` at startup.  Returns its
    path.  Overwrites an existing hook (so it also changes ``replace``).

    Raises :class:`~mtcrypt.errors.InvalidType` if ``replace`` is not a bool
    and :class:`StartupHookError` (an ``OSError``) if the file cannot be
    written.
    """
    if not isinstance(replace, bool):
        raise InvalidType(f"replace must be a bool, got {type(replace).__name__}")
    path = startup_hook_path(_directory=_directory)
    if not path.parent.is_dir():
        raise StartupHookError(
            f"cannot enable the startup hook: {path.parent} (site-packages) is not a directory"
        )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(_hook_text(replace), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise StartupHookError(
            f"cannot write the startup hook {path}: {exc.strerror or exc}. It goes into the "
            "site-packages of the Python that runs this (use a virtual environment you own, "
            "or the rights to write there)"
        ) from exc
    return path


def disable_startup_hook(*, _directory: str | os.PathLike[str] | None = None) -> Path | None:
    """Remove the hook file.  Returns its path, or None if there was none.

    Interpreters already running keep what the hook did (see
    :func:`~mtcrypt.compat.uninstall`).  Raises :class:`StartupHookError` (an
    ``OSError``) if the file cannot be removed.
    """
    path = startup_hook_path(_directory=_directory)
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StartupHookError(
            f"cannot remove the startup hook {path}: {exc.strerror or exc}"
        ) from exc
    return path


def startup_hook_status(*, _directory: str | os.PathLike[str] | None = None) -> StartupHookStatus:
    """Whether the hook file exists (and with which ``replace``), whether
    ``MTCRYPT_COMPAT=0`` switches it off here, and whether install() is in
    effect in this process.  Never raises for an unreadable file (it then
    reports ``enabled=True, replace=None``)."""
    path = startup_hook_path(_directory=_directory)
    replace: bool | None = None
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        enabled = False
    except (OSError, UnicodeDecodeError):
        enabled = True
    else:
        enabled = True
        replace = "replace=True" in text
    return StartupHookStatus(
        path=path,
        enabled=enabled,
        replace=replace,
        switched_off=os.environ.get(ENV_SWITCH, "") == "0",
        active=is_installed(),
    )
