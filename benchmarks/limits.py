"""Measure what this machine can do at best: the limits the benchmark report compares against.

    python benchmarks/limits.py              # build limits/limits.c (cached), run, print JSON
    python benchmarks/limits.py --text       # the same, as a summary for people
    python benchmarks/limits.py --quick      # 20 ms per figure instead of 100 ms
    python benchmarks/limits.py --no vaes256 # as if the CPU had no VAES

The C program is mtcrypt-independent (its own AES-256 and SHA code) and checks every kernel
against known answers before timing it; benchmarks/README.md says what each figure means.
``report.py`` calls :func:`measure` at the start of a run.  The binary is built with
``$CC`` (default ``cc``) ``-O2`` in a temporary directory and kept under ``build/limits/``,
keyed by a hash of the source, the compiler and the flags.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOURCE = HERE / "limits" / "limits.c"
CACHE = ROOT / "build" / "limits"
CFLAGS = ("-O2", "-std=c99")

#: figures in GB/s (null in the JSON, None here, where the CPU lacks the instructions)
RATE_KEYS = (
    "aes_latency_bound_gbps",
    "aes_dec_latency_bound_gbps",
    "aes_throughput_gbps",
    "aes_ctr_gbps",
    "sha256_gbps",
    "sha1_gbps",
    "memcpy_gbps",
)
KEYS = (*RATE_KEYS, "aes_block_chain_ns", "page_fault_us_per_4k", "selfcheck", "cpu")


class LimitsError(RuntimeError):
    """The limits could not be measured (no compiler, build failure, failed self-check)."""


def _compiler(cc: str | None) -> list[str]:
    spec = cc or os.environ.get("CC") or "cc"
    argv = shlex.split(spec)
    if not argv or shutil.which(argv[0]) is None:
        raise LimitsError(
            f"no C compiler: {spec!r} not found; install one or set CC to build "
            f"{SOURCE.relative_to(ROOT)}"
        )
    return argv


def build(cc: str | None = None, defines: Sequence[str] = (), cache: Path = CACHE) -> Path:
    """Compile limits.c (or reuse the cached binary) and return the executable's path."""
    argv = _compiler(cc)
    flags = [*CFLAGS, *(f"-D{d}" for d in defines)]
    tool = Path(shutil.which(argv[0]) or argv[0])
    try:
        tool_id = f"{tool.resolve()}:{tool.stat().st_mtime_ns}"
    except OSError:
        tool_id = str(tool)
    digest = hashlib.sha256()
    for part in (
        SOURCE.read_bytes(),
        " ".join(argv).encode(),
        " ".join(flags).encode(),
        tool_id.encode(),
        platform.machine().encode(),
    ):
        digest.update(part + b"\0")
    name = f"limits-{digest.hexdigest()[:16]}" + (".exe" if os.name == "nt" else "")
    for directory in (cache, Path(tempfile.gettempdir()) / "mtcrypt-limits"):
        if (directory / name).is_file():
            return directory / name
    with tempfile.TemporaryDirectory(prefix="mtcrypt-limits-") as tmp:
        exe = Path(tmp) / name
        proc = subprocess.run(
            [*argv, *flags, "-o", str(exe), str(SOURCE)], capture_output=True, text=True
        )
        if proc.returncode != 0 or not exe.is_file():
            first = next(
                (ln for ln in proc.stderr.splitlines() if "error" in ln),
                proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else "",
            )
            raise LimitsError(f"{shlex.join([*argv, *flags])} failed on {SOURCE.name}: {first}")
        for directory in (cache, Path(tempfile.gettempdir()) / "mtcrypt-limits"):
            try:  # a read-only checkout falls back to the temporary directory
                directory.mkdir(parents=True, exist_ok=True)
                partial = directory / f".{name}.{os.getpid()}"
                shutil.copy2(exe, partial)
                os.replace(partial, directory / name)  # atomic: concurrent runs are fine
                return directory / name
            except OSError:
                continue
    raise LimitsError(f"cannot store the built {SOURCE.name} under {cache}")


def measure(
    *,
    quick: bool = False,
    budget_ms: float | None = None,
    no: Sequence[str] = (),
    cc: str | None = None,
    defines: Sequence[str] = (),
    strict: bool = True,
) -> dict[str, Any]:
    """Build and run limits.c; return its JSON object as a dict (GB/s figures, None for n/a).

    With ``strict`` a failed self-check raises :class:`LimitsError` (the failing kernels'
    figures are None in any case: a bound is never reported for code that computes the wrong
    thing)."""
    exe = build(cc, defines)
    args = [str(exe)]
    if quick:
        args.append("--quick")
    if budget_ms is not None:
        args += ["--budget-ms", str(budget_ms)]
    for feature in no:
        args += ["--no", feature]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as exc:
        raise LimitsError(f"{exe.name} did not finish in {exc.timeout} s") from exc
    if proc.returncode not in (0, 1):
        raise LimitsError(f"{exe.name} exited with {proc.returncode}: {proc.stderr.strip()}")
    try:
        data: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise LimitsError(f"{exe.name} printed no valid JSON: {exc}") from exc
    if data.get("cpu") in (None, "", "unknown"):
        data["cpu"] = platform.processor() or platform.machine() or "unknown"
    data["build"] = {
        "command": shlex.join([*_compiler(cc), *CFLAGS, *(f"-D{d}" for d in defines)]),
        "binary": str(exe),
    }
    selfcheck = str(data.get("selfcheck", ""))
    if strict and (proc.returncode != 0 or selfcheck.startswith("failed")):
        raise LimitsError(f"{SOURCE.name} self-check {selfcheck or 'failed'}")
    return data


def describe(limits: dict[str, Any]) -> str:
    """One line per figure, for people (n/a where the CPU lacks the instructions)."""

    def val(key: str, unit: str) -> str:
        v = limits.get(key)
        return "n/a" if v is None else f"{v:.3g} {unit}"

    return "\n".join(
        [
            f"CPU: {limits.get('cpu')} ({', '.join(limits.get('cpu_flags_used', [])) or 'none'})",
            f"self-check: {limits.get('selfcheck')}",
            f"one IGE stream (AES latency): {val('aes_latency_bound_gbps', 'GB/s')} encrypt, "
            f"{val('aes_dec_latency_bound_gbps', 'GB/s')} decrypt, "
            f"{val('aes_block_chain_ns', 'ns')} per block",
            f"many IGE streams (AES throughput): {val('aes_throughput_gbps', 'GB/s')} "
            f"({limits.get('aes_throughput_kernel')})",
            f"CTR: {val('aes_ctr_gbps', 'GB/s')} ({limits.get('aes_ctr_kernel')})",
            f"SHA-256: {val('sha256_gbps', 'GB/s')}, SHA-1: {val('sha1_gbps', 'GB/s')}",
            f"memcpy 1 MiB: {val('memcpy_gbps', 'GB/s')}, "
            f"first touch: {val('page_fault_us_per_4k', 'µs')} per 4 KiB",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 ms per figure")
    parser.add_argument("--budget-ms", type=float, help="time per figure (default 100)")
    parser.add_argument(
        "--no",
        action="append",
        default=[],
        choices=["aesni", "vaes256", "vaes512", "sha_ni"],
        help="treat this CPU feature as absent (repeatable)",
    )
    parser.add_argument("--cc", help="C compiler command (default: $CC or cc)")
    parser.add_argument("--text", action="store_true", help="print a summary, not JSON")
    args = parser.parse_args(argv)
    try:
        data = measure(
            quick=args.quick, budget_ms=args.budget_ms, no=args.no, cc=args.cc, strict=False
        )
    except LimitsError as exc:
        print(f"limits: {exc}", file=sys.stderr)
        return 1
    print(describe(data) if args.text else json.dumps(data, indent=2))
    if str(data.get("selfcheck", "")).startswith("failed"):
        print(f"limits: self-check {data['selfcheck']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
