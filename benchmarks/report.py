"""Run the benchmarks and write docs/performance.md (tables and charts).

    python benchmarks/report.py            # full run, writes docs/performance.md
    python benchmarks/report.py --json F   # format an existing pytest-benchmark JSON

Every table compares implementations measured in the same run; ratios are
mtcrypt's speed over each peer's (higher is better for mtcrypt).  The hardware
limits are measured at the start of the same run (benchmarks/limits.py) and
every throughput is also given as a percentage of its limit.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from limits import LimitsError, describe
from limits import measure as measure_limits

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
LIMITS_KEY = "mtcrypt_limits"  # where the measured limits go in the benchmark JSON

# What bounds each benchmark group (benchmarks/README.md, "Hardware limits").  A bound is
# the limits.c figure(s) in GB/s; groups not listed (small fixed-cost operations, the
# portable software AES, thread scaling, handshakes) have none.
LIMIT_LABELS = {
    "aes_latency_bound_gbps": "one IGE stream: 14 dependent AES rounds and one XOR per block",
    "aes_dec_latency_bound_gbps": "one IGE decryption stream: 14 dependent AESDEC and one XOR",
    "aes_throughput_gbps": "independent IGE streams interleaved: AES throughput",
    "aes_ctr_gbps": "AES-256-CTR: AES throughput",
    "encrypt_message": "SHA-256 of the message, then one IGE stream",
    "decrypt_message": "IGE decryption and SHA-256 interleaved: the slower of the two chains",
}


def group_limit(group: str, limits: dict[str, Any] | None) -> tuple[str, float] | None:
    """The limit for a benchmark group: (label key, GB/s), or None."""
    if not limits:
        return None

    def get(key: str) -> float | None:
        value = limits.get(key)
        return float(value) if isinstance(value, int | float) and value > 0 else None

    enc, sha = get("aes_latency_bound_gbps"), get("sha256_gbps")
    dec = get("aes_dec_latency_bound_gbps") or enc
    if group.startswith("ige-encrypt-") and enc:
        return "aes_latency_bound_gbps", enc
    if group.startswith("ige-decrypt-") and dec:
        return "aes_dec_latency_bound_gbps", dec
    if group.startswith("ige-batch-") and get("aes_throughput_gbps"):
        return "aes_throughput_gbps", get("aes_throughput_gbps") or 0.0
    if group.startswith("ctr-") and get("aes_ctr_gbps"):
        return "aes_ctr_gbps", get("aes_ctr_gbps") or 0.0
    if group.startswith("message-encrypt-") and enc and sha:
        return "encrypt_message", 1 / (1 / sha + 1 / enc)  # msg_key first, then the key
    if group.startswith("message-decrypt-") and dec and sha:
        return "decrypt_message", min(sha, dec)
    return None


def get_limits(no_limits: bool, quick: bool) -> dict[str, Any] | None:
    if no_limits:
        return None
    print("measuring the hardware limits (benchmarks/limits.py) ...", file=sys.stderr)
    try:
        # not strict: a kernel that fails its known-answer check is not timed (its figure is
        # null), the others still give their limits
        limits = measure_limits(quick=quick, strict=False)
    except LimitsError as exc:
        print(f"limits: {exc}; the report will have no limits", file=sys.stderr)
        return None
    print(describe(limits), file=sys.stderr)
    if str(limits.get("selfcheck", "")).startswith("failed"):
        print(f"limits: WARNING: self-check {limits['selfcheck']}", file=sys.stderr)
    return limits


def run_benchmarks(json_path: Path, select: str | None) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(ROOT / "benchmarks"),
        "-q",
        "--benchmark-only",
        f"--benchmark-json={json_path}",
        "--benchmark-min-rounds=5",
        "--benchmark-max-time=0.5",
        "-p",
        "no:cacheprovider",
    ]
    if importlib.util.find_spec("xdist") is not None:
        # pyproject's addopts has -n auto; pytest-benchmark does not time under xdist
        cmd += ["-n", "0"]
    if select:
        cmd += ["-k", select]
    subprocess.run(cmd, check=True, cwd=ROOT)


def _impl(name: str) -> str:
    # test_ige[encrypt-mtcrypt-64B] -> mtcrypt ; test_seal_batch[batch-4x256B] -> mtcrypt-batch
    params = name.split("[", 1)[1].rstrip("]").split("-") if "[" in name else [name]
    known = ("mtcrypt", "tgcrypto", "cryptg", "cryptography", "telethon", "pyrogram")
    if name.startswith("test_modexp_2048"):
        # The variable base is mtcrypt's row to compare; the fixed base (a cached table) is
        # named apart so that the speed-ups are against the like-for-like operation.
        return {
            "mtcrypt": "mtcrypt (variable base)",
            "mtcrypt-fixed-base": "fixed base: mtcrypt's g^x with its cached table",
            "openssl": "OpenSSL (cryptography's DH exchange)",
        }.get("-".join(params), "-".join(params))
    for i, part in enumerate(params):
        if part in known or part.startswith("mtcrypt"):
            rest = params[i + 1 : i + 2]
            if (
                part in ("mtcrypt", "tgcrypto", "cryptg")
                and rest
                and rest[0] in ("batch", "loop", "into", "list")
            ):
                return f"{part}-{rest[0]}"
            return part
    if name.startswith("test_ige_portable"):
        return "mtcrypt (portable backend)"
    if name.startswith("test_backends"):
        return f"mtcrypt ({params[-1]} backend)"
    if name.startswith(("test_seal_batch", "test_open_batch")):
        return f"mtcrypt-{params[0]}"  # the list API or a loop of single calls
    if name.startswith("test_seal_64k_threads"):
        return f"mtcrypt, {params[0]} thread(s)"
    base = name.split("[", 1)[0].removeprefix("test_")
    return f"{base}[{'-'.join(params)}]" if "[" in name else base


def load(json_path: Path) -> dict[str, list[dict[str, Any]]]:
    data = json.loads(json_path.read_text())
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for bench in data["benchmarks"]:
        stats = bench["stats"]
        extra = bench.get("extra_info", {})
        nbytes = extra.get("bytes")
        # A timed call of several round trips (test_bench_server): report one round trip.
        per_call = extra.get("round_trips_per_call", 1) or 1
        groups[bench["group"] or bench["name"]].append(
            {
                "impl": _impl(bench["name"]),
                "name": bench["name"],
                "median": stats["median"] / per_call,
                "bytes": nbytes,
            }
        )
    return groups


def _fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.2f} ms"


def _fmt_rate(nbytes: int | None, seconds: float) -> str:
    if not nbytes:
        return ""
    rate = nbytes / seconds
    return f"{rate / 1e9:.2f} GB/s" if rate >= 1e8 else f"{rate / 1e6:.1f} MB/s"


def _fmt_share(nbytes: int | None, seconds: float, limit_gbps: float) -> str:
    if not nbytes:
        return ""
    share = nbytes / seconds / 1e9 / limit_gbps * 100
    return f"{share:.0f}%" if share >= 10 else f"{share:.1f}%"


def tables(groups: dict[str, list[dict[str, Any]]], limits: dict[str, Any] | None = None) -> str:
    out = []
    for group in sorted(groups):
        rows = sorted(groups[group], key=lambda r: r["median"])
        ours = [
            r
            for r in rows
            if r["impl"].startswith("mtcrypt")
            or group.startswith(
                (
                    "message-seal-64KiB",
                    "ige-portable",
                    "session",
                    "handshake-full",
                )
            )
        ]
        ref = ours[0]["median"] if ours else None
        limit = group_limit(group, limits)
        out.append(f"### {group}\n")
        if limit:
            out.append(
                "| implementation | median per call | throughput | mtcrypt speed-up | % of limit |"
            )
            out.append("|---|---|---|---|---|")
        else:
            out.append("| implementation | median per call | throughput | mtcrypt speed-up |")
            out.append("|---|---|---|---|")
        for r in rows:
            ratio = (
                f"{r['median'] / ref:.2f}x" if ref and not r["impl"].startswith("mtcrypt") else ""
            )
            share = f" {_fmt_share(r['bytes'], r['median'], limit[1])} |" if limit else ""
            out.append(
                f"| {r['impl']} | {_fmt_time(r['median'])} | {_fmt_rate(r['bytes'], r['median'])} "
                f"| {ratio} |{share}"
            )
        if limit:
            key, gbps = limit
            out.append(
                f"\nHardware limit on this machine: about {gbps:.2f} GB/s ({LIMIT_LABELS[key]})."
            )
        out.append("")
    return "\n".join(out)


def charts(
    groups: dict[str, list[dict[str, Any]]], limits: dict[str, Any] | None, outdir: Path
) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    outdir.mkdir(parents=True, exist_ok=True)
    for family, title, limit_name in (
        ("ige-encrypt", "AES-256-IGE encryption", "one-stream limit (measured)"),
        ("ige-decrypt", "AES-256-IGE decryption", "one-stream limit (measured)"),
        ("ctr", "AES-256-CTR", "AES throughput limit (measured)"),
        ("message-encrypt", "MTProto 2.0 message encryption", "SHA-256 + IGE limit (measured)"),
        ("message-decrypt", "MTProto 2.0 message decryption", "SHA-256 / IGE limit (measured)"),
    ):
        limit = group_limit(family + "-", limits)
        series: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for group, rows in groups.items():
            if not group.startswith(family + "-"):
                continue
            for r in rows:
                if r["bytes"]:
                    series[r["impl"]].append((r["bytes"], r["bytes"] / r["median"] / 1e9))
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(6.4, 4))
        for impl, points in sorted(series.items()):
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=impl)
        if limit:
            ax.axhline(limit[1], linestyle="--", color="grey", label=limit_name)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("message size (bytes)")
        ax.set_ylabel("GB/s")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
        name = f"perf-{family}.png"
        fig.tight_layout()
        fig.savefig(outdir / name, dpi=100)
        plt.close(fig)
        made.append(name)
    return made


def machine() -> str:
    from mtcrypt.crypto import backend_info

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = backend_info()
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"backend `{info.aes}`, SHA extensions: {info.sha_accelerated}"
    )


def limits_section(limits: dict[str, Any] | None, source: str) -> list[str]:
    if not limits:
        return ["Hardware limits: not measured (`--no-limits`, or limits.py failed).", ""]

    def v(key: str, unit: str = "GB/s", fmt: str = ".2f") -> str:
        value = limits.get(key)
        return "n/a" if value is None else f"{value:{fmt}} {unit}"

    return [
        f"Hardware limits, {source} (`benchmarks/limits.py`: its own AES/SHA code, checked "
        "against known answers, best of many repetitions; benchmarks/README.md explains "
        f"them).  CPU features used: {', '.join(limits.get('cpu_flags_used', [])) or 'none'}; "
        f"self-check: {limits.get('selfcheck')}.",
        "",
        "| limit | measured | bounds |",
        "|---|---|---|",
        f"| one IGE stream (AES latency), encrypt / decrypt | "
        f"{v('aes_latency_bound_gbps')} / {v('aes_dec_latency_bound_gbps')} "
        f"({v('aes_block_chain_ns', 'ns', '.1f')} per block) | ige-encrypt, ige-decrypt |",
        f"| independent IGE streams (AES throughput) | {v('aes_throughput_gbps')} "
        f"(`{limits.get('aes_throughput_kernel')}`) | ige-batch |",
        f"| AES-256-CTR | {v('aes_ctr_gbps')} (`{limits.get('aes_ctr_kernel')}`) | ctr |",
        f"| SHA-256 / SHA-1 (one chain) | {v('sha256_gbps')} / {v('sha1_gbps')} "
        "| message-encrypt (SHA-256 then IGE), message-decrypt (the slower of the two) |",
        f"| memcpy, 1 MiB | {v('memcpy_gbps')} | any copy |",
        f"| first write to fresh memory | {v('page_fault_us_per_4k', 'µs', '.2f')} per 4 KiB "
        "| any new buffer |",
        "",
    ]


def store_limits(src: Path, dest: Path, limits: dict[str, Any] | None) -> None:
    data = json.loads(src.read_text())
    if limits:
        data[LIMITS_KEY] = limits
    # Keep the statistics, not every timing (pytest-benchmark's "data": tens of MB).
    for bench in data.get("benchmarks", []):
        bench.get("stats", {}).pop("data", None)
    dest.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, help="use an existing benchmark JSON")
    parser.add_argument("-k", dest="select", help="only benchmarks matching this expression")
    parser.add_argument("--out", type=Path, default=DOCS / "performance-results.md")
    parser.add_argument(
        "--save-json", type=Path, help="keep the benchmark JSON, with the measured limits, here"
    )
    parser.add_argument(
        "--no-limits", action="store_true", help="do not measure the hardware limits"
    )
    parser.add_argument(
        "--quick-limits", action="store_true", help="20 ms per limit instead of 100 ms"
    )
    args = parser.parse_args()
    json_path = args.json
    if json_path is None:
        # The limits first, in the same run, before the benchmarks heat the machine up.
        limits = get_limits(args.no_limits, args.quick_limits)
        source = "measured at the start of this run"
        json_path = args.save_json or Path(tempfile.mkdtemp()) / "bench.json"
        run_benchmarks(json_path, args.select)
        store_limits(json_path, json_path, limits)
        print(f"benchmark JSON (with the limits): {json_path}")
    else:
        limits = None if args.no_limits else json.loads(json_path.read_text()).get(LIMITS_KEY)
        source = "measured at the start of the benchmark run"
        if limits is None and not args.no_limits:
            limits = get_limits(False, args.quick_limits)
            source = "measured when this report was formatted, not in the benchmark run"
        if args.save_json:
            store_limits(json_path, args.save_json, limits)
    groups = load(json_path)
    pictures = charts(groups, limits, args.out.parent)
    body = [
        "## Benchmark results (generated)",
        "",
        f"Generated by `python benchmarks/report.py` on: {machine()}.",
        'All rows of a table were measured in the same run. "mtcrypt speed-up" is the',
        "peer's median time divided by mtcrypt's (above 1: mtcrypt is faster).",
        '"% of limit" is the row\'s throughput (a median) over the hardware limit for its',
        "table (a best-of bound, listed below): 100% is all this CPU can do.",
        "",
        *limits_section(limits, source),
    ]
    body += [f"![{p}]({p})" for p in pictures]
    body += ["", tables(groups, limits)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(body) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
