"""The FFI seam: the compiled core, and the choice of backend.

This is the only module that touches cffi objects directly besides the thin
wrappers in :mod:`mtcrypt.crypto` and :mod:`mtcrypt.mtproto`; it is excluded
from strict typing.

The backend is chosen once, at import, from the ``MTCRYPT_BACKEND`` environment
variable: ``auto`` (default), ``portable``, ``aesni`` or ``vaes``.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import BackendUnavailable

try:
    from ._mtcrypt import ffi, lib  # noqa: F401  (re-exported)
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        "mtcrypt's native core is not built; install the package with "
        "`pip install .` (it compiles csrc/ with cffi and a C compiler)"
    ) from exc

ffi: Any
lib: Any

BACKENDS: dict[str, int] = {
    "auto": lib.MTC_BACKEND_AUTO,
    "portable": lib.MTC_BACKEND_PORTABLE,
    "aesni": lib.MTC_BACKEND_AESNI,
    "vaes": lib.MTC_BACKEND_VAES,
}
BACKEND_NAMES: dict[int, str] = {v: k for k, v in BACKENDS.items() if k != "auto"}

CPU_FEATURES: dict[str, int] = {
    "aesni": lib.MTC_CPU_AESNI,
    "pclmul": lib.MTC_CPU_PCLMUL,
    "ssse3": lib.MTC_CPU_SSSE3,
    "sse4.1": lib.MTC_CPU_SSE41,
    "avx2": lib.MTC_CPU_AVX2,
    "avx512": lib.MTC_CPU_AVX512,
    "vaes": lib.MTC_CPU_VAES,
    "sha_ni": lib.MTC_CPU_SHANI,
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
