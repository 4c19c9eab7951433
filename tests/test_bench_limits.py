"""benchmarks/limits.py and benchmarks/limits/limits.c: the hardware limits the benchmark
report compares against.  The tests that compile limits.c carry the ``tools`` marker (a C
compiler, a few seconds each): ``pytest -m tools tests/test_bench_limits.py``."""

from __future__ import annotations

import importlib
import platform
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
X86 = platform.machine().lower() in ("x86_64", "amd64")


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


FLAGS = _cpu_flags()


@pytest.fixture(scope="module")
def bench() -> Iterator[dict[str, ModuleType]]:
    """benchmarks/limits.py and report.py, imported the way report.py runs (its directory
    first on sys.path), and taken out of sys.modules afterwards."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield {name: importlib.import_module(name) for name in ("limits", "report")}
    finally:
        sys.path.remove(str(BENCHMARKS))
        for name in ("limits", "report"):
            sys.modules.pop(name, None)


needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc)")


def _check_numbers(data: dict[str, Any], limits: ModuleType) -> None:
    for key in limits.KEYS:
        assert key in data, key
    for key in (*limits.RATE_KEYS, "aes_block_chain_ns", "page_fault_us_per_4k"):
        value = data[key]
        assert value is None or (isinstance(value, int | float) and value > 0), (key, value)
    assert data["memcpy_gbps"] > 0


@pytest.mark.tools
@needs_cc
def test_measures_positive_numbers_and_passes_the_known_answers(bench: Any) -> None:
    limits = bench["limits"]
    data = limits.measure(quick=True)
    _check_numbers(data, limits)
    if not X86:
        assert data["aes_latency_bound_gbps"] is None
        return
    # the AES kernels ran only after FIPS-197 C.3 and the IGE/CTR cross-checks passed
    assert data["selfcheck"] == "ok"
    if "aes" in FLAGS:
        assert "aesni" in data["cpu_flags_used"]
        lat, thr = data["aes_latency_bound_gbps"], data["aes_throughput_gbps"]
        assert lat and thr and data["aes_dec_latency_bound_gbps"] and data["aes_ctr_gbps"]
        # independent streams are never slower than one dependent chain
        assert thr > lat
        assert data["aes_block_chain_ns"] == pytest.approx(16 / lat, rel=0.01)
    if "sha_ni" in FLAGS:
        assert data["sha256_gbps"] and data["sha1_gbps"]
    if "vaes" not in FLAGS:
        assert "vaes" not in data["aes_throughput_kernel"]
    assert set(data["detail_gbps"]) >= (
        {"ige_lanes_aesni_x8", "ctr_aesni_x8"} if "aes" in FLAGS else set()
    )


@pytest.mark.tools
@needs_cc
@pytest.mark.skipif(not X86, reason="CPU features are only dispatched on x86-64")
def test_missing_features_are_null(bench: Any) -> None:
    limits = bench["limits"]
    data = limits.measure(quick=True, no=["vaes256", "sha_ni"])
    _check_numbers(data, limits)
    assert data["sha256_gbps"] is None and data["sha1_gbps"] is None
    assert "sha_ni" not in data["cpu_flags_used"] and "vaes256" not in data["cpu_flags_used"]
    assert not any("vaes" in name for name in data["detail_gbps"])
    assert "vaes" not in data["aes_throughput_kernel"]
    data = limits.measure(quick=True, no=["aesni"])
    assert data["aes_latency_bound_gbps"] is None and data["aes_throughput_kernel"] == "n/a"
    assert data["memcpy_gbps"] > 0


@pytest.mark.tools
@needs_cc
@pytest.mark.skipif(not X86 or "aes" not in FLAGS, reason="needs AES-NI")
def test_a_wrong_aes_is_never_timed(bench: Any) -> None:
    limits = bench["limits"]
    # LIMITS_BREAK_SELFCHECK corrupts one round key: the FIPS-197 answer no longer matches
    with pytest.raises(limits.LimitsError, match="self-check failed: AES-256 block"):
        limits.measure(quick=True, defines=["LIMITS_BREAK_SELFCHECK"])
    data = limits.measure(quick=True, defines=["LIMITS_BREAK_SELFCHECK"], strict=False)
    assert data["selfcheck"].startswith("failed")
    for key in ("aes_latency_bound_gbps", "aes_throughput_gbps", "aes_ctr_gbps"):
        assert data[key] is None
    assert data["detail_gbps"] == {}


@pytest.mark.tools
@needs_cc
def test_the_portable_stub_builds_and_reports_na(bench: Any) -> None:
    # what a non-x86 build (aarch64 ...) compiles: memcpy and page faults only
    limits = bench["limits"]
    data = limits.measure(quick=True, defines=["LIMITS_FORCE_STUB"])
    _check_numbers(data, limits)
    assert data["selfcheck"].startswith("n/a")
    assert data["aes_latency_bound_gbps"] is None and data["sha256_gbps"] is None


def test_no_compiler_is_one_clear_error(bench: Any) -> None:
    limits = bench["limits"]
    with pytest.raises(limits.LimitsError, match="no C compiler"):
        limits.measure(cc="no-such-cc-for-mtcrypt-limits")


def test_report_uses_the_measured_limits(bench: Any) -> None:
    report = bench["report"]
    assert not hasattr(report, "LIMITS_GBPS")  # nothing hard-coded any more
    limits = {
        "aes_latency_bound_gbps": 1.0,
        "aes_dec_latency_bound_gbps": 0.8,
        "aes_throughput_gbps": 10.0,
        "aes_ctr_gbps": 20.0,
        "sha256_gbps": 1.0,
    }
    assert report.group_limit("ige-encrypt-1MiB", limits) == ("aes_latency_bound_gbps", 1.0)
    assert report.group_limit("ige-decrypt-64KiB", limits)[1] == 0.8
    assert report.group_limit("ige-batch-256x4KiB", limits)[1] == 10.0
    assert report.group_limit("ctr-1MiB", limits)[1] == 20.0
    assert report.group_limit("message-encrypt-64KiB", limits)[1] == pytest.approx(0.5)
    assert report.group_limit("message-decrypt-64KiB", limits)[1] == 0.8
    assert report.group_limit("ige-portable-1MiB", limits) is None
    assert report.group_limit("ige-encrypt-1MiB", None) is None
    assert report.group_limit("ige-encrypt-1MiB", {"aes_latency_bound_gbps": None}) is None

    groups = {
        "ige-encrypt-1MiB": [
            {"impl": "mtcrypt", "name": "a", "median": (1 << 20) / 0.9e9, "bytes": 1 << 20},
            {"impl": "cryptg", "name": "b", "median": (1 << 20) / 0.3e9, "bytes": 1 << 20},
        ],
        "handshake-inprocess": [{"impl": "x", "name": "x", "median": 0.01, "bytes": None}],
    }
    text = report.tables(groups, limits)
    assert "| mtcrypt speed-up | % of limit |" in text
    assert "| mtcrypt | 1.17 ms | 0.90 GB/s |  | 90% |" in text
    assert "| 3.00x | 30% |" in text
    assert "Hardware limit on this machine: about 1.00 GB/s (one IGE stream" in text
    # a group without a limit keeps the old four columns
    assert (
        "### handshake-inprocess\n\n| implementation | median per call | throughput | "
        "mtcrypt speed-up |\n" in text
    )
    assert "% of limit" not in report.tables(groups, None)
