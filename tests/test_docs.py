"""The documentation builds with warnings as errors, and its examples run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _files_with_examples() -> list[Path]:
    return [p for p in DOC_FILES if _BLOCK.search(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("path", _files_with_examples(), ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_run(path: Path) -> None:
    """Each page's python blocks run in order in one namespace, like a reader would."""
    namespace: dict[str, object] = {"__name__": "docs_example"}
    for i, match in enumerate(_BLOCK.finditer(path.read_text(encoding="utf-8"))):
        where = f"{path.relative_to(ROOT)} (example {i + 1})"
        exec(compile(match.group(1), where, "exec"), namespace)


@pytest.mark.tools  # Sphinx: `pytest -m tools`
def test_docs_build_without_warnings(tmp_path: Path) -> None:
    require("sphinx")
    require("myst_parser")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "-q",
            "-b",
            "html",
            str(ROOT / "docs"),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
