"""Benchmarks: mtcrypt against the peers installed in the same environment.

Run with ``python -m pytest benchmarks`` (pytest-benchmark) or through
``python benchmarks/report.py``, which writes docs/performance.md.
Each benchmark's ``extra_info`` carries the bytes processed per call so the
report can turn times into throughput.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest


def optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


@pytest.fixture
def nbytes(benchmark: object) -> object:
    def set_bytes(n: int) -> None:
        benchmark.extra_info["bytes"] = n  # type: ignore[attr-defined]

    return set_bytes
