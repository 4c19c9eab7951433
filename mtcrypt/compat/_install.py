"""``import cryptg`` and ``import tgcrypto`` resolved to mtcrypt's shims.

A meta path finder answers for the two top-level names.  Without ``replace``
it sits at the end of :data:`sys.meta_path`, so it only answers when no other
finder knows the name (the real package is not installed); with ``replace``
it goes first, and a real module already in :data:`sys.modules` is moved
aside (and put back by :func:`uninstall`).

What ``import cryptg`` gives is a module of its own, named ``cryptg``, whose
public functions are the very functions of :mod:`mtcrypt.compat.cryptg`
(likewise for tgcrypto).  It carries ``__mtcrypt_shim__ = True``.  The crypto
core is imported only when that module is, not by :func:`install`.

This module stays cheap to import: the startup hook imports it in every
interpreter of the environment.
"""

from __future__ import annotations

import _thread
import importlib
import sys
import warnings
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, Final, Literal, get_args

from ..errors import InvalidType

if TYPE_CHECKING:
    from importlib.abc import Loader as _LoaderBase
else:  # importlib.abc imports importlib.resources: too slow for the startup hook
    _LoaderBase = object

__all__ = [
    "ImportOrderWarning",
    "InstallOutcome",
    "ShimName",
    "install",
    "is_installed",
    "is_shim",
    "uninstall",
]

ShimName = Literal["cryptg", "tgcrypto"]
"""The module names :func:`install` answers for."""

InstallOutcome = Literal["mtcrypt", "kept real package"]
"""What ``import <name>`` gives after :func:`install`: mtcrypt's shim, or the
real package, which is installed and was kept (``replace=False``)."""

MARKER: Final = "__mtcrypt_shim__"

_IMPLEMENTATIONS: Final[dict[str, str]] = {
    "cryptg": "mtcrypt.compat.cryptg",
    "tgcrypto": "mtcrypt.compat.tgcrypto",
}
_NAMES: Final[tuple[ShimName, ...]] = get_args(ShimName)
_TELETHON_AES: Final = "telethon.crypto.aes"
_PYROGRAM_AES: Final = "pyrogram.crypto.aes"


class ImportOrderWarning(RuntimeWarning):
    """Telethon or Pyrogram was imported before :func:`install`, so it had
    already chosen its AES backend."""


def is_shim(module: object) -> bool:
    """Whether ``module`` is one of the modules :func:`install` provides."""
    return getattr(module, MARKER, False) is True


class _ShimLoader(_LoaderBase):
    """Builds the ``cryptg``/``tgcrypto`` alias of a shim module."""

    def __init__(self, implementation: str) -> None:
        self.implementation = implementation

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return None  # the default: a new, empty module named spec.name

    def exec_module(self, module: ModuleType) -> None:
        try:
            impl = importlib.import_module(self.implementation)
        except Exception as exc:
            # Telethon and Pyrogram catch ImportError and fall back: a broken
            # native core must not break them.
            raise ImportError(
                f"mtcrypt's {module.__name__} shim is unavailable: {exc}", name=module.__name__
            ) from exc
        public: list[str] = list(impl.__all__)
        for attr in public:
            setattr(module, attr, getattr(impl, attr))
        module.__doc__ = impl.__doc__
        module.__file__ = impl.__file__
        setattr(module, "__all__", public)  # noqa: B010
        setattr(module, MARKER, True)
        setattr(module, "__mtcrypt_implementation__", self.implementation)  # noqa: B010

    def __repr__(self) -> str:
        return f"<mtcrypt shim loader for {self.implementation}>"


class _ShimFinder:
    """The meta path finder :func:`install` adds (one per process)."""

    def __init__(self) -> None:
        self.replace = False

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> ModuleSpec | None:
        implementation = _IMPLEMENTATIONS.get(fullname)
        if implementation is None:
            return None
        return ModuleSpec(
            fullname, _ShimLoader(implementation), origin=f"mtcrypt shim: {implementation}"
        )

    def __repr__(self) -> str:
        return f"<mtcrypt compat finder for cryptg, tgcrypto (replace={self.replace})>"


class _State:
    def __init__(self) -> None:
        self.lock = _thread.RLock()
        self.finder: _ShimFinder | None = None
        # Real modules moved out of sys.modules by replace=True.
        self.evicted: dict[str, ModuleType] = {}
        # telethon.crypto.aes.cryptg before install() rebound it.
        self.telethon_before: list[object] = []


_state = _State()


def is_installed() -> bool:
    """Whether :func:`install` is in effect in this process."""
    return _state.finder is not None


def install(*, replace: bool = False) -> dict[ShimName, InstallOutcome]:
    """Make ``import cryptg`` and ``import tgcrypto`` give mtcrypt's shims.

    Call it before Telethon or Pyrogram is imported: they look for their
    extension once, at import.  Without ``replace`` a real cryptg or tgcrypto
    that is installed is kept; with ``replace=True`` mtcrypt is used even
    then.  Calling it again is harmless (one finder; a new ``replace`` value
    takes effect).

    Returns, for ``"cryptg"`` and ``"tgcrypto"``, what ``import <name>``
    gives from now on: ``"mtcrypt"`` or ``"kept real package"``.

    If ``telethon.crypto.aes`` is already imported, its ``cryptg`` global is
    rebound to the shim (Telethon reads it at each call, so its AES then
    goes through mtcrypt); if ``pyrogram.crypto.aes`` is, nothing can be
    changed (its functions were chosen at import).  Either way an
    :class:`ImportOrderWarning` says so.

    Raises :class:`~mtcrypt.errors.InvalidType` if ``replace`` is not a bool.
    """
    if not isinstance(replace, bool):
        raise InvalidType(f"replace must be a bool, got {type(replace).__name__}")
    with _state.lock:
        finder = _state.finder or _ShimFinder()
        while finder in sys.meta_path:
            sys.meta_path.remove(finder)
        if replace:
            sys.meta_path.insert(0, finder)
        else:
            sys.meta_path.append(finder)
        finder.replace = replace
        _state.finder = finder
        outcomes: dict[ShimName, InstallOutcome] = {}
        for name in _NAMES:
            current = sys.modules.get(name)
            if replace:
                if current is not None and not is_shim(current):
                    _state.evicted.setdefault(name, current)
                    del sys.modules[name]
                outcomes[name] = "mtcrypt"
                continue
            if name in _state.evicted:  # replace=True before: bring the real one back
                sys.modules[name] = _state.evicted.pop(name)
                outcomes[name] = "kept real package"
            elif current is not None and not is_shim(current):
                outcomes[name] = "kept real package"
            elif _found_elsewhere(name):
                if current is not None:  # a shim from replace=True before
                    del sys.modules[name]
                outcomes[name] = "kept real package"
            else:
                outcomes[name] = "mtcrypt"
        _adjust_telethon(outcomes["cryptg"])
        _check_pyrogram(outcomes["tgcrypto"])
        return outcomes


def uninstall() -> bool:
    """Undo :func:`install`: remove the finder and the ``cryptg``/``tgcrypto``
    modules it made from :data:`sys.modules`, put back real modules that
    ``replace=True`` moved aside, and restore ``telethon.crypto.aes.cryptg`` if
    :func:`install` rebound it.

    Modules that imported a shim keep it (Pyrogram's AES functions, or
    Telethon imported after :func:`install`).  Returns whether anything was
    installed.
    """
    with _state.lock:
        finder = _state.finder
        if finder is None:
            return False
        while finder in sys.meta_path:
            sys.meta_path.remove(finder)
        _state.finder = None
        for name in _NAMES:
            if is_shim(sys.modules.get(name)):
                del sys.modules[name]
            if name in _state.evicted:
                sys.modules[name] = _state.evicted.pop(name)
        _restore_telethon()
        return True


def _found_elsewhere(name: str) -> bool:
    """Whether a finder other than ours would find ``name``."""
    for finder in list(sys.meta_path):
        if isinstance(finder, _ShimFinder):
            continue
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        try:
            if find_spec(name, None) is not None:
                return True
        except Exception:  # a finder that refuses the name: it will not give it
            continue
    return False


def _adjust_telethon(outcome: InstallOutcome) -> None:
    aes = sys.modules.get(_TELETHON_AES)
    if aes is None:
        return
    bound = getattr(aes, "cryptg", None)
    if outcome != "mtcrypt":
        _restore_telethon()
        return
    if is_shim(bound):
        return
    try:
        shim = importlib.import_module("cryptg")
    except ImportError as exc:
        _warn(
            "telethon.crypto.aes was imported before mtcrypt.compat.install(), so Telethon "
            f"had already chosen its AES backend, and the cryptg shim cannot be loaded ({exc}); "
            "Telethon keeps its backend"
        )
        return
    if not is_shim(shim):  # something else answers for cryptg: leave Telethon alone
        return
    if not _state.telethon_before:
        _state.telethon_before.append(bound)
    aes.cryptg = shim  # type: ignore[attr-defined]
    if bound is not None:
        was = "the real cryptg"
    else:
        libssl = sys.modules.get("telethon.crypto.libssl")
        was = "libssl" if getattr(libssl, "encrypt_ige", None) else "pure Python"
    _warn(
        "telethon.crypto.aes was imported before mtcrypt.compat.install(), so Telethon had "
        f"already chosen its AES backend ({was}) and logged it; mtcrypt rebound "
        "telethon.crypto.aes.cryptg to its shim, so Telethon's AES now goes through mtcrypt. "
        "Call mtcrypt.compat.install() before importing Telethon."
    )


def _restore_telethon() -> None:
    aes = sys.modules.get(_TELETHON_AES)
    if _state.telethon_before and aes is not None and is_shim(getattr(aes, "cryptg", None)):
        aes.cryptg = _state.telethon_before[0]  # type: ignore[attr-defined]
    _state.telethon_before.clear()


def _check_pyrogram(outcome: InstallOutcome) -> None:
    aes = sys.modules.get(_PYROGRAM_AES)
    if aes is None or outcome != "mtcrypt":
        return
    bound = getattr(aes, "tgcrypto", None)  # set only if its `import tgcrypto` worked
    if is_shim(bound):
        return
    was = "the real tgcrypto" if bound is not None else "pure Python: 'TgCrypto is missing!'"
    _warn(
        "pyrogram.crypto.aes was imported before mtcrypt.compat.install(): Pyrogram chose its "
        f"AES functions at import and keeps them ({was}). Call mtcrypt.compat.install() "
        "before importing Pyrogram."
    )


def _warn(message: str) -> None:
    # install() -> _adjust_telethon/_check_pyrogram -> _warn: point at the caller.
    warnings.warn(message, ImportOrderWarning, stacklevel=4)
