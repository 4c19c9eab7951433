"""Build script.

Two extension modules share one C core:

* ``mtcrypt._native._mtcrypt``: the core itself, compiled by cffi (see
  mtcrypt/_native/build.py); every function of csrc/mtcrypt.h is reachable
  through it.
* ``mtcrypt._native._fastcall``: a small METH_FASTCALL entry for the few
  hottest calls (mtcrypt/_native/_fastcall.c).  It contains no cryptography:
  it calls the core through function pointers taken from the cffi module at
  import, so both entries share one core, one backend and one generator.
  ``MTCRYPT_ENTRY=cffi`` turns it off at run time.
"""

import importlib.util
import os
import platform

from setuptools import Extension, setup

_CPYTHON = platform.python_implementation() == "CPython"


def _core_compile_args() -> tuple[list[str], list[str]]:
    """The cffi module's flags (mtcrypt/_native/build.py: release, sanitizer and
    debug builds alike), so that both modules are built the same way."""
    spec = importlib.util.spec_from_file_location(
        "_mtcrypt_build", os.path.join("mtcrypt", "_native", "build.py")
    )
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build._compile_args()


def _fastcall_extension() -> list[Extension]:
    if not _CPYTHON:  # the limited C API is CPython's; other interpreters use cffi only
        return []
    flags, link = _core_compile_args()
    return [
        Extension(
            "mtcrypt._native._fastcall",
            sources=["mtcrypt/_native/_fastcall.c"],
            include_dirs=["csrc"],
            define_macros=[("Py_LIMITED_API", "0x030B0000")],
            extra_compile_args=flags,
            extra_link_args=link,
            py_limited_api=True,
        )
    ]


setup(
    cffi_modules=["mtcrypt/_native/build.py:ffibuilder"],
    ext_modules=_fastcall_extension(),
    # Tag wheels abi3 (cp311-abi3-*): both modules use only the limited C API, so one
    # wheel serves CPython 3.11 and later.  setuptools' own bdist_wheel (>= 70.1) reads it.
    options={"bdist_wheel": {"py_limited_api": "cp311"}},
)
