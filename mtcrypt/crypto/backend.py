"""What the native core found on this CPU and what it is using."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .._native import BACKEND_NAMES, CPU_FEATURES, ENTRY, ENV_VAR, lib, select_backend

__all__ = ["BackendInfo", "backend_info", "select_backend"]


@dataclass(frozen=True)
class BackendInfo:
    """A snapshot of the native core's configuration."""

    aes: str
    """AES implementation in use: ``"vaes"``, ``"aesni"``, ``"armv8"``, ``"vpaes"`` or
    ``"portable"``."""
    sha_accelerated: bool
    """Whether SHA-1/SHA-256 use the CPU's SHA extensions (SHA-NI on x86, the ARMv8
    SHA1/SHA2 instructions on aarch64)."""
    cpu_features: tuple[str, ...]
    """Relevant features the CPU (and OS) support.  ``"vaes"`` means VAES usable with AVX2
    (256-bit registers, no AVX-512 needed); with ``"avx512"`` as well, the vaes backend's
    512-bit kernels run."""
    requested: str
    """The value of ``MTCRYPT_BACKEND`` (``"auto"`` when unset)."""
    entry: str = "cffi"
    """How the hottest calls (IGE, batch IGE, message seal and open) reach the
    core: ``"fast"``, a small extension module without cffi's per-call cost, or
    ``"cffi"`` (``MTCRYPT_ENTRY=cffi``, or where the fast entry is not built).
    Both call the same C functions."""

    @property
    def constant_time(self) -> bool:
        """True for every backend: none uses secret-indexed tables or branches."""
        return True


def backend_info() -> BackendInfo:
    """Report the CPU features found and the implementations chosen."""
    flags = lib.mtc_cpu_features()
    return BackendInfo(
        aes=BACKEND_NAMES[lib.mtc_backend()],
        sha_accelerated=bool(lib.mtc_sha_accelerated()),
        cpu_features=tuple(name for name, bit in CPU_FEATURES.items() if flags & bit),
        requested=os.environ.get(ENV_VAR, "auto") or "auto",
        entry=ENTRY,
    )
