"""The self-contained C known-answer test of the vector-permute AES,
tests/native/kat_vpaes.c: its vectors are the published ones in tests/vectors/
(checked here by name and value, in the default run), and it passes natively
(SSSE3 on x86-64) and, where Debian's cross compiler and qemu-user are
installed, as aarch64 code (NEON) under qemu-aarch64 (`pytest -m tools`)."""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KAT = ROOT / "tests" / "native" / "kat_vpaes.c"
SOURCES = [str(KAT), str(ROOT / "csrc" / "aes_vpaes.c")]
FLAGS = ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'csrc'}"]
FILES = {
    "ECB": "aes256_ecb.json",
    "CBC": "aes256_cbc.json",
    "CTR": "aes256_ctr.json",
    "IGE": "aes256_ige.json",
}
ENTRY = re.compile(r'\{MODE_(\w+), "([^"]+)",\s*"(\w+)",\s*"(\w*)",\s*"(\w+)",\s*"(\w+)"\}', re.S)
SUMMARY = re.compile(r"^vpaes \((SSSE3|NEON)\) known answers: (\d+) passed, 0 failed$", re.M)


def test_embedded_vectors_are_the_published_ones() -> None:
    entries = ENTRY.findall(KAT.read_text(encoding="utf-8"))
    assert len(entries) >= 8
    for mode, name, key, iv, plaintext, ciphertext in entries:
        vectors = json.loads((ROOT / "tests" / "vectors" / FILES[mode]).read_text())["vectors"]
        (vec,) = [v for v in vectors if v["name"] == name]
        assert (vec["key"], vec["plaintext"], vec["ciphertext"]) == (key, plaintext, ciphertext)
        assert vec.get("iv", vec.get("initial_counter", "")) == iv


def _run(cmd: list[str]) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


@pytest.mark.tools
def test_kat_native(tmp_path: Path) -> None:
    gcc = shutil.which("gcc")
    if gcc is None or platform.machine() not in ("x86_64", "aarch64"):
        pytest.skip("needs gcc on x86-64 or aarch64")
    exe = tmp_path / "kat_vpaes"
    _run([gcc, *FLAGS, *SOURCES, "-o", str(exe)])
    assert SUMMARY.search(_run([str(exe)])), "no summary line"


@pytest.mark.tools
def test_kat_neon_under_qemu(tmp_path: Path) -> None:
    cc, qemu = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64")
    if cc is None or qemu is None:
        pytest.skip("needs gcc-aarch64-linux-gnu and qemu-user (apt-get install)")
    exe = tmp_path / "kat_vpaes_arm64"
    _run([cc, *FLAGS, *SOURCES, "-o", str(exe)])
    out = _run([qemu, "-L", "/usr/aarch64-linux-gnu", str(exe)])
    match = SUMMARY.search(out)
    assert match and match.group(1) == "NEON", out
