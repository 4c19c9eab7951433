"""Constant-time check of the portable AES under valgrind memcheck.

tests/ct/ct_aes_portable.c marks the key and the blocks undefined; memcheck
then reports every branch on them and every memory access indexed by them.
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent
CT = HERE / "ct"
SOURCES = [CT / "ct_aes_portable.c", ROOT / "csrc" / "aes_portable.c", CT / "ct_stubs.c"]
LEAK_MARKERS = ("Conditional jump or move depends on uninitialised value",
                "Use of uninitialised value")


def _require_tools():
    gcc = shutil.which("gcc")
    valgrind = shutil.which("valgrind")
    if not gcc or not valgrind:
        pytest.skip("gcc and valgrind are needed for the constant-time check")
    probe = subprocess.run([gcc, "-E", "-x", "c", "-"], input="#include <valgrind/memcheck.h>\n",
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("valgrind/memcheck.h is missing (Debian package: valgrind)")
    return gcc, valgrind


def _build(tmp_path, opt, *defines):
    gcc, valgrind = _require_tools()
    exe = tmp_path / ("ct" + opt + "".join(defines))
    cmd = [gcc, opt, "-std=c99", "-g", "-o", str(exe), *defines, *map(str, SOURCES)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return valgrind, exe


def _memcheck(valgrind, exe):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return subprocess.run([valgrind, "--error-exitcode=99", "--track-origins=no", "-q", str(exe)],
                          capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.parametrize("opt", ["-O2", "-O3"])
def test_aes_portable_constant_time(tmp_path, opt):
    valgrind, exe = _build(tmp_path, opt)
    res = _memcheck(valgrind, exe)
    out = res.stdout + res.stderr
    assert not any(m in out for m in LEAK_MARKERS), out
    assert res.returncode == 0, out


def test_memcheck_detects_deliberate_leak(tmp_path):
    valgrind, exe = _build(tmp_path, "-O2", "-DCT_SELFTEST_LEAK")
    res = _memcheck(valgrind, exe)
    out = res.stdout + res.stderr
    assert res.returncode == 99, out
    assert "Use of uninitialised value" in out, out
    assert "Conditional jump or move depends on uninitialised value" in out, out
