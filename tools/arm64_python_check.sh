#!/usr/bin/env bash
# The Python tests of the crypto and MTProto layers on an emulated arm64 CPython, with the
# cross-built aarch64 wheel installed, under `qemu-aarch64 -cpu max`: on the backend
# auto-selection picks there (armv8, SHA extensions), and on the others named in BACKENDS.
#
#   tools/build_arm64_wheel.sh && tools/arm64_python_check.sh
#   BACKENDS="auto portable" tools/arm64_python_check.sh     # also the portable backend
#
# Each backend takes 3-4 minutes here (emulation; about 390 tests), so CI runs the default,
# the armv8 backend: the portable C code on aarch64 is covered by tools/arm64_check.sh.
#
# The interpreter is Debian 12's python3.11 for arm64: `apt-get download` with a private
# state directory (the host's dpkg and apt lists are left alone) and `dpkg -x` into a
# scratch root that qemu uses as its -L prefix.  The test dependencies (pytest, hypothesis,
# pycryptodome, cffi) come from PyPI as aarch64 wheels (`pip install --platform`).  About
# 30 MB of downloads.  Where qemu-aarch64 or the network is missing this is skipped with a
# message, except under CI=true, where it is a failure.
#
# Not run here: the tests that start a subprocess with sys.executable (this machine has no
# binfmt_misc entry for aarch64 binaries), and the suites of the other layers (transports,
# handshake, connection, interop), which do not touch the native backends differently and
# would take much longer under emulation.
set -euo pipefail
cd "$(dirname "$0")/.."
QEMU=${QEMU:-qemu-aarch64}
BACKENDS=${BACKENDS:-auto}
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)

skip() {
    if [ "${CI:-}" = true ]; then
        echo "error: $1" >&2
        exit 1
    fi
    echo "== arm64 Python tests: SKIPPED: $1 =="
    exit 0
}

command -v "$QEMU" >/dev/null || skip "$QEMU is not installed (apt-get install qemu-user)"
command -v apt-get >/dev/null && command -v dpkg >/dev/null || skip "needs apt-get and dpkg (Debian)"
wheel=$(ls dist/aarch64/mtcrypt-*manylinux*_aarch64.whl 2>/dev/null | head -n 1 || true)
[ -n "$wheel" ] || skip "no aarch64 wheel in dist/aarch64/ (run tools/build_arm64_wheel.sh)"

echo "== arm64 CPython from Debian (apt-get download, private state) =="
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/debs" "$work/root"
touch "$work/apt/status"
apt_opts=(-o APT::Architecture=arm64 -o "APT::Architectures::=arm64"
    -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache"
    -o "Dir::State::status=$work/apt/status")
apt-get "${apt_opts[@]}" -qq update >"$work/apt.log" 2>&1 || {
    tail -n 5 "$work/apt.log"
    skip "apt-get update for arm64 failed"
}
# python3.11-minimal and libpython3.11-stdlib with the shared libraries they load.
packages=(python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libc6 libgcc-s1
    libexpat1 zlib1g libssl3 libffi8 libbz2-1.0 liblzma5 libuuid1 libsqlite3-0 libncursesw6
    libtinfo6 libreadline8 libdb5.3 libcrypt1 libnsl2 libtirpc3 libgssapi-krb5-2 libkrb5-3
    libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1)
(cd "$work/debs" && apt-get "${apt_opts[@]}" -qq download "${packages[@]/%/:arm64}") \
    >>"$work/apt.log" 2>&1 || {
    tail -n 5 "$work/apt.log"
    skip "apt-get download of the arm64 packages failed"
}
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done
py=("$QEMU" -cpu max -L "$work/root" -E "PYTHONPATH=$work/site" -E "HOME=$work"
    "$work/root/usr/bin/python3.11" -P)
"${py[@]}" -c "import platform, sys; print('python', sys.version.split()[0], platform.machine())"

echo "== aarch64 wheels: the test dependencies and $(basename "$wheel") =="
pip_target=(-m pip install -q --target "$work/site" --python-version 3.11 --implementation cp
    --only-binary=:all: --platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64)
"$PYTHON" "${pip_target[@]}" pytest hypothesis pycryptodome cffi 2>&1 | grep -v '^WARNING' || true
"$PYTHON" "${pip_target[@]}" --no-deps --platform manylinux_2_34_aarch64 "$wheel" 2>&1 \
    | grep -v '^WARNING' || true
"${py[@]}" -c "import Crypto, hypothesis, pytest, mtcrypt.crypto as c; print(c.backend_info())"

# The tests from outside the checkout, so that the installed (aarch64) mtcrypt is the one
# imported.
mkdir "$work/run"
cp -r tests pyproject.toml "$work/run/"
files=(tests/test_aes.py tests/test_hashes.py tests/test_message.py tests/test_session.py
    tests/test_session_msgid.py tests/test_e2e_crypto.py tests/test_backend.py
    tests/test_bignum.py)
deselect=(--deselect tests/test_backend.py::test_env_var_forces_portable_in_a_fresh_process
    --deselect tests/test_backend.py::test_bad_env_var_gives_clear_error)
for backend in $BACKENDS; do
    t0=$(date +%s)
    echo "== ${files[*]} on arm64, MTCRYPT_BACKEND=$backend =="
    # -U CI: the peers the tests compare against (tgcrypto, cryptg, Telethon, Pyrogram) have no
    # aarch64 wheels here, so their tests skip, which tests/conftest.py makes a failure under
    # CI=true; pycryptodome and the published vectors remain the independent checks.
    (cd "$work/run" && "$QEMU" -cpu max -L "$work/root" -U CI -E "PYTHONPATH=$work/site" \
        -E "HOME=$work" -E "MTCRYPT_BACKEND=$backend" "$work/root/usr/bin/python3.11" \
        -m pytest -p no:cacheprovider -o addopts= -m "not tools" -q -rs "${deselect[@]}" "${files[@]}" \
        | grep -v '^[.sx]*  *\[')
    echo "-- MTCRYPT_BACKEND=$backend: $(($(date +%s) - t0)) s"
done
echo "arm64 Python tests passed; total $(($(date +%s) - start)) s"
