#!/usr/bin/env bash
# The C core's known-answer and differential tests (tests/native/kat_main.c) on every
# backend the CPU offers: natively with the host compiler, then cross-compiled for aarch64
# and run under qemu-user, with the crypto extensions and without them.
#
#   tools/arm64_check.sh                 # what .ci/run runs
#   ITERATIONS=2000 SEED=42 tools/arm64_check.sh
#
# Needs python3 and a C compiler; for the aarch64 part gcc-aarch64-linux-gnu and qemu-user,
# installed with apt-get when missing.  Where they cannot be had, the aarch64 part is
# skipped with a message, except under CI=true, where that is a failure.
#
# qemu-user 7.2 (Debian 12) has no aarch64 CPU model without AES/SHA and no property to
# turn them off, so the runs "without" hide the HWCAP bits from the library's detection
# (the driver is linked with -Wl,--wrap=getauxval; KAT_HWCAP_CLEAR is the mask).  The
# instructions would still execute if the code ran them; what is tested is that detection
# and selection refuse the backend and that every fallback is right.
set -euo pipefail
cd "$(dirname "$0")/.."
ITERATIONS=${ITERATIONS:-300}
SEED=${SEED:-$(date +%s)}
CC=${CC:-cc}
CROSS_CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU:-qemu-aarch64}
# The project's flags (mtcrypt/_native/build.py), warnings as errors.
CFLAGS="-O3 -std=gnu11 -pthread -Wall -Wextra -Werror -fno-strict-aliasing"
# arch/arm64/include/uapi/asm/hwcap.h
HWCAP_ASIMD=0x2 HWCAP_AES=0x8 HWCAP_PMULL=0x10 HWCAP_SHA1=0x20 HWCAP_SHA2=0x40
NO_CRYPTO=$((HWCAP_AES | HWCAP_PMULL | HWCAP_SHA1 | HWCAP_SHA2))
NO_SIMD=$((NO_CRYPTO | HWCAP_ASIMD))

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s.%N)
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f} s')" "$1" "$(date +%s.%N)"; }

python3 tests/native/gen_kat_vectors.py "$work/kat_vectors.h"
sources=(csrc/*.c tests/native/kat_main.c)

run() { # label, then the command
    local label=$1 t0
    shift
    t0=$(date +%s.%N)
    echo "== $label =="
    "$@" --iterations "$ITERATIONS" --seed "$SEED"
    echo "-- $label: passed in $(elapsed "$t0")"
}

echo "== native build ($CC, $(uname -m)) =="
"$CC" $CFLAGS -I csrc -I "$work" "${sources[@]}" -o "$work/kat_native"
run "native $(uname -m): every backend this CPU offers vs portable" "$work/kat_native"

have_cross() { command -v "$CROSS_CC" >/dev/null 2>&1 && command -v "$QEMU" >/dev/null 2>&1; }
if ! have_cross && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "== installing gcc-aarch64-linux-gnu and qemu-user =="
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user) >"$work/apt.log" 2>&1 \
        || tail -n 20 "$work/apt.log"
fi
if ! have_cross; then
    msg="$CROSS_CC or $QEMU is not available (apt-get install gcc-aarch64-linux-gnu qemu-user)"
    if [ "${CI:-}" = true ]; then
        echo "error: $msg" >&2
        exit 1
    fi
    echo "== aarch64: SKIPPED: $msg =="
    echo "total $(elapsed "$start")"
    exit 0
fi

echo "== cross build ($CROSS_CC $("$CROSS_CC" -dumpversion), static; $("$QEMU" --version | head -n 1)) =="
"$CROSS_CC" $CFLAGS -static -DKAT_WRAP_GETAUXVAL -Wl,--wrap=getauxval -I csrc -I "$work" \
    "${sources[@]}" -o "$work/kat_arm64"
arm=$work/kat_arm64
run "aarch64 -cpu max: crypto extensions present" \
    "$QEMU" -cpu max "$arm" --expect-backend armv8 --expect-sha 1
run "aarch64 -cpu cortex-a72: crypto extensions present" \
    "$QEMU" -cpu cortex-a72 "$arm" --expect-backend armv8 --expect-sha 1
run "aarch64 -cpu max, AES/PMULL/SHA1/SHA2 hidden (NEON left)" \
    "$QEMU" -cpu max -E KAT_HWCAP_CLEAR=$NO_CRYPTO "$arm" --expect-no-backend armv8
run "aarch64 -cpu cortex-a53, AES/PMULL/SHA1/SHA2 and ASIMD hidden" \
    "$QEMU" -cpu cortex-a53 -E KAT_HWCAP_CLEAR=$NO_SIMD "$arm" --expect-no-backend armv8

# Clang, where it is installed: before version 16 its arm_neon.h declares the crypto
# intrinsics only when the file is compiled for them, so plain armv8-a builds the portable
# path alone (internal.h), and -march=armv8-a+crypto compiles the backend through the
# clang branch of its target pragmas.
if command -v clang >/dev/null 2>&1; then
    clang_cc=(clang --target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu -fuse-ld=bfd)
    echo "== clang cross builds ($(clang --version | head -n 1)) =="
    for march in armv8-a armv8-a+crypto; do
        "${clang_cc[@]}" -march=$march $CFLAGS -static -I csrc -I "$work" "${sources[@]}" \
            -o "$work/kat_clang"
        expect=(--expect-backend armv8)
        if [ $march = armv8-a ] && [ "$(clang -dumpversion | cut -d. -f1)" -lt 16 ]; then
            expect=(--expect-no-backend armv8)
        fi
        run "aarch64 (clang -march=$march) -cpu max" "$QEMU" -cpu max "$work/kat_clang" "${expect[@]}"
    done
else
    echo "== clang not installed: the clang cross builds are skipped =="
fi
echo "arm64 check: every run passed; total $(elapsed "$start")"
