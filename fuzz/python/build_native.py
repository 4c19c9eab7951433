"""Build mtcrypt's native core with the ambient compiler flags into an
overlay copy of the package, for the atheris targets under OSS-Fuzz or
ClusterFuzzLite (fuzz/build.sh calls it).

    CC=clang CFLAGS="-fsanitize=address,fuzzer-no-link" \\
        python fuzz/python/build_native.py --overlay /tmp/pyroot
    ATHERIS=$(python -c "import atheris; print(atheris.path())")
    PYTHONPATH=/tmp/pyroot LD_PRELOAD=$ATHERIS/asan_with_fuzzer.so \\
        python fuzz/python/fuzz_mtproto_decrypt.py

Why not ``pip install .``: that would replace the extension of whatever
checkout or venv it runs in, and pyinstaller wants a plain directory to
bundle.  The build itself (the cdef, the sources, the flags,
``MTCRYPT_SANITIZE``/``MTCRYPT_CFLAGS``) comes from mtcrypt/_native/build.py,
so the two cannot drift apart; ``CC`` and ``CFLAGS`` from the environment add
the fuzzing instrumentation.  The overlay holds a copy of the Python package
and the new extension; the source tree is not touched.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from cffi import FFI

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _package_build_script() -> ModuleType:
    path = ROOT / "mtcrypt" / "_native" / "build.py"
    spec = importlib.util.spec_from_file_location("_mtcrypt_native_build", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(overlay: Path) -> Path:
    script = _package_build_script()
    csrc = Path(script._CSRC)
    sources = [str(csrc / name) for name in script._SOURCES if (csrc / name).exists()]
    cflags, ldflags = script._compile_args()
    ffi = FFI()
    ffi.cdef(script._cdef_text())
    ffi.set_source(
        "mtcrypt._native._mtcrypt",
        '#include "mtcrypt.h"',
        sources=sources,
        include_dirs=[str(csrc)],
        extra_compile_args=cflags,
        extra_link_args=ldflags,
        py_limited_api=True,
    )
    package = overlay / "mtcrypt"
    if package.exists():
        shutil.rmtree(package)
    shutil.copytree(
        ROOT / "mtcrypt", package, ignore=shutil.ignore_patterns("*.so", "__pycache__", "build.py")
    )
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(ffi.compile(tmpdir=tmp, verbose=False))
        target = package / "_native" / built.name
        shutil.copy2(built, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--overlay", type=Path, required=True, help="where to put mtcrypt/")
    args = parser.parse_args(argv)
    print(build(args.overlay))
    return 0


if __name__ == "__main__":
    sys.exit(main())
