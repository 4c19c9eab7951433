"""The vector-permute AES constants (csrc/aes_vpaes_tables.h) are the output of
their generator, tools/vpaes_tables.py, which derives them from the GF(2^8) /
GF(2^4) tower-field arithmetic and, before printing, checks them: every AES
S-box and inverse S-box entry through the lookup program, and a whole AES-256
encryption and decryption modelled on the C code against FIPS-197 C.3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_header_is_the_generators_checked_output() -> None:
    res = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "vpaes_tables.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr  # the generator's own checks passed
    header = (ROOT / "csrc" / "aes_vpaes_tables.h").read_text(encoding="utf-8")
    assert res.stdout == header
