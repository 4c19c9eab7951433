"""Run the benchmarks and write docs/performance.md (tables and charts).

    python benchmarks/report.py            # full run, writes docs/performance.md
    python benchmarks/report.py --json F   # format an existing pytest-benchmark JSON

Every table compares implementations measured in the same run; ratios are
mtcrypt's speed over each peer's (higher is better for mtcrypt).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# Hardware limits on the reference machine (docs/performance.md explains them).
LIMITS_GBPS = {
    "ige-encrypt-1MiB": 1.20,
    "ige-decrypt-1MiB": 1.20,
    "ige-batch-256x4KiB": 12.1,
}


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
    if select:
        cmd += ["-k", select]
    subprocess.run(cmd, check=True, cwd=ROOT)


def _impl(name: str) -> str:
    # test_ige[encrypt-mtcrypt-64B] -> mtcrypt ; test_seal_1000_x_1k[batch] -> batch
    params = name.split("[", 1)[1].rstrip("]").split("-") if "[" in name else [name]
    known = ("mtcrypt", "tgcrypto", "cryptg", "cryptography", "telethon", "pyrogram")
    for i, part in enumerate(params):
        if part in known or part.startswith("mtcrypt"):
            rest = params[i + 1 : i + 2]
            if part in ("mtcrypt", "tgcrypto", "cryptg") and rest and rest[0] in ("batch", "loop"):
                return f"{part}-{rest[0]}"
            return part
    if name.startswith("test_ige_portable"):
        return "mtcrypt (portable backend)"
    if name.startswith("test_seal_64k_threads"):
        return f"mtcrypt, {params[0]} thread(s)"
    base = name.split("[", 1)[0].removeprefix("test_")
    return f"{base}[{'-'.join(params)}]" if "[" in name else base


def load(json_path: Path) -> dict[str, list[dict[str, Any]]]:
    data = json.loads(json_path.read_text())
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for bench in data["benchmarks"]:
        stats = bench["stats"]
        nbytes = bench.get("extra_info", {}).get("bytes")
        groups[bench["group"] or bench["name"]].append(
            {
                "impl": _impl(bench["name"]),
                "name": bench["name"],
                "median": stats["median"],
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


def tables(groups: dict[str, list[dict[str, Any]]]) -> str:
    out = []
    for group in sorted(groups):
        rows = sorted(groups[group], key=lambda r: r["median"])
        ours = [
            r
            for r in rows
            if r["impl"].startswith("mtcrypt")
            or group.startswith(
                (
                    "message-seal-1000",
                    "message-seal-64KiB",
                    "ige-portable",
                    "session",
                    "handshake-full",
                )
            )
        ]
        ref = ours[0]["median"] if ours else None
        out.append(f"### {group}\n")
        out.append("| implementation | median per call | throughput | mtcrypt speed-up |")
        out.append("|---|---|---|---|")
        for r in rows:
            ratio = (
                f"{r['median'] / ref:.2f}x" if ref and not r["impl"].startswith("mtcrypt") else ""
            )
            out.append(
                f"| {r['impl']} | {_fmt_time(r['median'])} | {_fmt_rate(r['bytes'], r['median'])} "
                f"| {ratio} |"
            )
        limit = LIMITS_GBPS.get(group)
        if limit:
            out.append(f"\nHardware limit on this machine: about {limit:.2f} GB/s.")
        out.append("")
    return "\n".join(out)


def charts(groups: dict[str, list[dict[str, Any]]]) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    DOCS.mkdir(exist_ok=True)
    for family, title, limit in (
        ("ige-encrypt", "AES-256-IGE encryption", 1.20),
        ("ige-decrypt", "AES-256-IGE decryption", 1.20),
        ("ctr", "AES-256-CTR", None),
        ("message-encrypt", "MTProto 2.0 message encryption", None),
        ("message-decrypt", "MTProto 2.0 message decryption", None),
    ):
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
            ax.axhline(limit, linestyle="--", color="grey", label="AES-NI one-stream limit")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("message size (bytes)")
        ax.set_ylabel("GB/s")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
        name = f"perf-{family}.png"
        fig.tight_layout()
        fig.savefig(DOCS / name, dpi=100)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, help="use an existing benchmark JSON")
    parser.add_argument("-k", dest="select", help="only benchmarks matching this expression")
    parser.add_argument("--out", type=Path, default=DOCS / "performance-results.md")
    args = parser.parse_args()
    json_path = args.json
    if json_path is None:
        json_path = Path(tempfile.mkdtemp()) / "bench.json"
        run_benchmarks(json_path, args.select)
    groups = load(json_path)
    pictures = charts(groups)
    body = [
        "## Benchmark results (generated)",
        "",
        f"Generated by `python benchmarks/report.py` on: {machine()}.",
        'All rows of a table were measured in the same run. "mtcrypt speed-up" is the',
        "peer's median time divided by mtcrypt's (above 1: mtcrypt is faster).",
        "",
    ]
    body += [f"![{p}]({p})" for p in pictures]
    body += ["", tables(groups)]
    args.out.write_text("\n".join(body) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
