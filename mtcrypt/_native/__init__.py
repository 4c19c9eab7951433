"""The FFI seam: the compiled core, and the choice of backend.

This is the only module that touches cffi objects directly besides the buffer
checks in ``mtcrypt._validation`` and the thin wrappers in :mod:`mtcrypt.crypto`
and :mod:`mtcrypt.mtproto`; it is excluded from strict typing.

The backend is chosen once, at import, from the ``MTCRYPT_BACKEND`` environment
variable: ``auto`` (default), ``portable``, ``vpaes``, ``aesni``, ``vaes`` or ``armv8``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailable


def _compiled_core(native_dir: Path) -> Path | None:
    """The compiled ``_mtcrypt`` extension in ``native_dir``, if there is one."""
    from importlib.machinery import EXTENSION_SUFFIXES

    for suffix in EXTENSION_SUFFIXES:
        if (native_dir / f"_mtcrypt{suffix}").is_file():
            return native_dir / f"_mtcrypt{suffix}"
    return None


def _other_copy(package: Path) -> str | None:
    """Another mtcrypt with a compiled core: an installed distribution, or any
    ``mtcrypt/`` on sys.path.  Described for the message below."""
    from importlib.metadata import distributions

    candidates = [
        (f"mtcrypt {dist.version} (installed)", Path(str(dist.locate_file("mtcrypt"))))
        for dist in distributions(name="mtcrypt")
    ]
    candidates += [("mtcrypt", Path(entry or ".") / "mtcrypt") for entry in sys.path]
    for what, candidate in candidates:
        if candidate.resolve() != package and _compiled_core(candidate / "_native"):
            return f"{what} at {candidate}"
    return None


def _why_no_core(error: ImportError) -> str:
    """What is wrong when ``._mtcrypt`` does not import, and how to fix it."""
    native_dir = Path(__file__).resolve().parent
    package = native_dir.parent
    built = _compiled_core(native_dir)
    if built is not None:  # there, but it does not load: say why
        return (
            f"mtcrypt's native core {built} does not load ({error}); rebuild it in this "
            "environment with `pip install .` (or `pip install -e .` in a checkout)"
        )
    where = f"mtcrypt's native core is not built: mtcrypt was imported from {package}"
    if (package.parent / "csrc").is_dir():  # a source checkout
        other = _other_copy(package)
        if other is not None:
            return (
                f"{where}, a source checkout with no compiled core, which shadows {other} "
                "(the working directory or PYTHONPATH puts the checkout first on sys.path, "
                "e.g. `python -m ...` run from the clone root). Run from outside the "
                "checkout, or with `python -P` (e.g. `python -P -m pytest`), or install the "
                "checkout in place with `pip install -e .`, which compiles the core into it"
            )
        return (
            f"{where}, a source checkout whose core was not compiled, and no installed "
            "mtcrypt was found. `pip install -e .` compiles the core into the checkout; "
            "`pip install .` compiles it into site-packages (then run from outside the "
            "checkout). Either needs a C compiler (gcc or clang) and the Python headers"
        )
    return (
        f"{where}, which has no compiled mtcrypt/_native/_mtcrypt*.so. Reinstall it with "
        "`pip install --force-reinstall mtcrypt` (or `pip install .` from a checkout); "
        "building from source needs a C compiler (gcc or clang)"
    )


try:
    from ._mtcrypt import ffi, lib
except ImportError as exc:  # pragma: no cover - only on a broken install
    try:
        message = _why_no_core(exc)
    except Exception as inner:  # the diagnosis must never hide the real error
        message = f"mtcrypt's native core does not import ({exc}; diagnosis failed: {inner!r})"
    raise ImportError(message) from exc

ffi: Any
lib: Any

BACKENDS: dict[str, int] = {
    "auto": lib.MTC_BACKEND_AUTO,
    "portable": lib.MTC_BACKEND_PORTABLE,
    "aesni": lib.MTC_BACKEND_AESNI,
    "vaes": lib.MTC_BACKEND_VAES,
    "vpaes": lib.MTC_BACKEND_VPAES,
    "armv8": lib.MTC_BACKEND_ARMV8,
}
BACKEND_NAMES: dict[int, str] = {v: k for k, v in BACKENDS.items() if k != "auto"}

CPU_FEATURES: dict[str, int] = {
    "aesni": lib.MTC_CPU_AESNI,
    "pclmul": lib.MTC_CPU_PCLMUL,
    "ssse3": lib.MTC_CPU_SSSE3,
    "sse4.1": lib.MTC_CPU_SSE41,
    "avx2": lib.MTC_CPU_AVX2,
    "avx512": lib.MTC_CPU_AVX512,  # F+VL+BW; with vaes, the 512-bit kernels run
    "vaes": lib.MTC_CPU_VAES,  # VAES usable with AVX2 (256-bit registers) at least
    "sha_ni": lib.MTC_CPU_SHANI,
    "neon": lib.MTC_CPU_NEON,
    "armv8_aes": lib.MTC_CPU_ARMV8_AES,
    "armv8_sha": lib.MTC_CPU_ARMV8_SHA,
    "adx": lib.MTC_CPU_ADX,  # BMI2 + ADX: MULX/ADCX/ADOX for the big-number code
}

ENV_VAR = "MTCRYPT_BACKEND"


def select_backend(name: str) -> str:
    """Switch the process to backend ``name``; returns the backend in use.

    Contexts (``Ctr256`` objects and the like) created before a switch keep
    working with the implementation that expanded their key.
    """
    key = name.strip().lower()
    if key not in BACKENDS:
        raise BackendUnavailable(
            f"unknown backend {name!r}; choose one of {', '.join(sorted(BACKENDS))}"
        )
    rc = lib.mtc_select_backend(BACKENDS[key])
    if rc < 0:
        raise BackendUnavailable(f"backend {key!r} is not supported by this CPU")
    return BACKEND_NAMES[rc]


def _select_from_environment() -> str:
    requested = os.environ.get(ENV_VAR, "auto") or "auto"
    try:
        return select_backend(requested)
    except BackendUnavailable as exc:
        raise BackendUnavailable(f"{ENV_VAR}={requested!r}: {exc}") from None


ACTIVE_AT_IMPORT = _select_from_environment()


# ---- the entry for the hottest calls ---------------------------------------
# ``_fastcall`` (see _fastcall.c) calls the same core for the hottest paths
# without cffi's per-call cost; ``cffi_entry`` is its twin through cffi, with
# the same functions and contract.  The fast one is used when it is built,
# unless MTCRYPT_ENTRY=cffi; CI runs the whole suite both ways.

ENTRY_ENV_VAR = "MTCRYPT_ENTRY"


def _choose_entry() -> tuple[str, Any]:
    requested = (os.environ.get(ENTRY_ENV_VAR, "auto") or "auto").strip().lower()
    if requested not in ("auto", "fast", "cffi"):
        raise BackendUnavailable(f"{ENTRY_ENV_VAR}={requested!r}: choose auto, fast or cffi")
    if requested != "cffi":
        try:
            from . import _fastcall
        except ImportError:
            if requested == "fast":
                raise BackendUnavailable(
                    f"{ENTRY_ENV_VAR}=fast: the fast entry (_fastcall) is not built"
                ) from None
        else:
            addresses = tuple(
                int(ffi.cast("uintptr_t", ffi.addressof(lib, name)))
                for name in _fastcall.needs()
            )
            try:
                # Idempotent for the same core (a re-import, a subinterpreter);
                # refused if another copy of the core was bound first.
                _fastcall.bind(addresses)
            except (RuntimeError, TypeError, ValueError) as exc:
                if requested == "fast":
                    raise BackendUnavailable(f"{ENTRY_ENV_VAR}=fast: {exc}") from None
            else:
                return "fast", _fastcall
    from . import cffi_entry

    return "cffi", cffi_entry


ENTRY, HOT = _choose_entry()
"""``"fast"`` or ``"cffi"``, and the module that serves the hottest calls:
``ige256``, ``ige256_batch``, ``msg_seal_random`` and ``msg_open``."""
