"""ruff and mypy (strict outside the FFI seam) stay clean.  Skipped when the
tools are not installed (they come with the `dev` extra)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import IN_CI, require

pytestmark = pytest.mark.tools  # run with `pytest -m tools` (.ci/run does)

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        if IN_CI:
            pytest.fail("ruff is not installed (the test extra pins it)")
        pytest.skip("ruff not installed")
    result = subprocess.run([ruff, "check", "mtcrypt"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_clean() -> None:
    require("mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "mtcrypt"], cwd=ROOT,
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
