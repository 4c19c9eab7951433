"""cffi out-of-line API-mode build script for the native core.

Run by setuptools through ``cffi_modules`` in setup.py.  The cdef is the part
of ``csrc/mtcrypt.h`` between its CDEF markers, so the header stays the single
source of truth for the C API.

Environment knobs (read at build time):

``MTCRYPT_SANITIZE``  comma list passed to ``-fsanitize=`` (e.g.
                      ``address,undefined``) for a sanitizer build.
``MTCRYPT_CFLAGS``    extra compiler flags, space separated.

Release builds (the default) carry no debug information: ``-g0`` overrides the
``-g`` in Python's own CFLAGS, and on Linux the linker strips the symbol table
(``-s``; the exported ``PyInit__mtcrypt`` stays in the dynamic table).  That
takes the extension from about 1.1 MB to about 160 kB.  Debug information is
kept when it is asked for: ``MTCRYPT_SANITIZE`` is set, or ``CFLAGS`` or
``MTCRYPT_CFLAGS`` hold a ``-g...`` or ``-fsanitize=...`` flag (the fuzzing
builds in fuzz/ pass theirs in ``CFLAGS``).
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from cffi import FFI

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parent.parent
_CSRC = _ROOT / "csrc"

_SOURCES = [
    "cpu.c",
    "modes.c",
    "aes_portable.c",
    "aes_ni.c",
    "aes_vaes.c",
    "aes_vpaes.c",
    "aes_armv8.c",
    "sha.c",
    "message.c",
    "pq.c",
    "rsa_legacy.c",
    "bn.c",
    "drbg.c",
]


def _cdef_text() -> str:
    header = (_CSRC / "mtcrypt.h").read_text(encoding="utf-8")
    start = header.index("/* BEGIN CDEF */") + len("/* BEGIN CDEF */")
    end = header.index("/* END CDEF */")
    return header[start:end]


def _rel(path: Path) -> str:
    # setuptools wants source paths relative to the project root.
    try:
        return os.path.relpath(path, os.getcwd())
    except ValueError:
        return str(path)


def _compile_args() -> tuple[list[str], list[str]]:
    cflags = ["-O3", "-std=gnu11", "-pthread", "-Wall", "-Wextra", "-fno-strict-aliasing"]
    ldflags: list[str] = ["-pthread"]
    sanitize = os.environ.get("MTCRYPT_SANITIZE", "").strip()
    if sanitize:
        cflags += [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer", "-O1", "-g"]
        ldflags += [f"-fsanitize={sanitize}"]
    extra = os.environ.get("MTCRYPT_CFLAGS", "").split()
    if not sanitize and not _wants_debug_info(os.environ.get("CFLAGS", "").split() + extra):
        cflags.append("-g0")
        if sys.platform.startswith("linux"):
            ldflags.append("-s")  # GNU ld / lld; Apple's ld treats -s as obsolete
    cflags += extra
    return cflags, ldflags


def _wants_debug_info(flags: list[str]) -> bool:
    return any(f.startswith(("-g", "-fsanitize")) and f != "-g0" for f in flags)


def _sources() -> list[str]:
    return [_rel(_CSRC / name) for name in _SOURCES if (_CSRC / name).exists()]


ffibuilder = FFI()
ffibuilder.cdef(_cdef_text())
_cflags, _ldflags = _compile_args()
ffibuilder.set_source(
    "mtcrypt._native._mtcrypt",
    '#include "mtcrypt.h"',
    sources=_sources(),
    include_dirs=[_rel(_CSRC)],
    extra_compile_args=_cflags,
    extra_link_args=_ldflags,
    py_limited_api=platform.python_implementation() == "CPython",
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
