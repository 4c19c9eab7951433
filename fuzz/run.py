"""Build and run mtcrypt's fuzz targets, one at a time, for a given time each.

    python fuzz/run.py --time 600                      # every target, 10 minutes each
    python fuzz/run.py --time 60 --only fuzz_pq,fuzz_tl_codec
    python fuzz/run.py --list

What it does, per target:

* C targets (fuzz/c/fuzz_*.c) are built first by fuzz/build.sh (clang,
  -fsanitize=fuzzer,address,undefined, into build/fuzz/); atheris targets
  (fuzz/python/fuzz_*.py) run with this interpreter, which needs atheris.
  With clang present, the atheris targets run over a copy of the package
  whose native core is built with -fsanitize=address,fuzzer-no-link
  (fuzz/python/build_native.py, into build/fuzz/pyroot/) and atheris's ASan
  runtime preloaded, so libFuzzer also sees the C edges the Python calls
  reach and AddressSanitizer checks them; --plain-native uses the installed
  extension instead.
* The corpus lives in fuzz/corpus/<target>/ (not in git); an empty one is
  seeded by fuzz/gen_corpus.py.  Saved regression inputs in
  fuzz/regressions/<target>/ are run first, as part of the corpus.
* A crash, sanitizer report, failed oracle, timeout (10 s per input) or
  out-of-memory is written to fuzz/regressions/<target>/ (libFuzzer's
  crash-/timeout-/oom-<sha1> names), and fuzzing resumes until the time is
  used up (at most --max-findings per target).
* Prints, per target: executions, libFuzzer's final ``cov:`` (coverage
  counters hit; for atheris, Python and native edges) and ``ft:`` (features),
  corpus size and findings.  Full logs in build/fuzz/logs/, a JSON summary in
  build/fuzz/summary.json.  Exit status 1 if anything was found.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "build" / "fuzz"  # build/ is ignored by git
CORPUS = HERE / "corpus"
REGRESSIONS = HERE / "regressions"

STATUS = re.compile(r"^#(\d+)\s+(\w+)\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
EXECUTED = re.compile(r"stat::number_of_executed_units: (\d+)")
ARTIFACT = re.compile(r"(?:Test unit|artifact) written to (\S+)")
CAUSE = re.compile(
    r"(ORACLE FAILURE.*|ERROR: AddressSanitizer: \S+.*|runtime error: .*|"
    r"ERROR: libFuzzer: \S+.*|=== Uncaught Python exception: ===|"
    r"^\w*(?:Error|Exception|Failure): .*)",
    re.M,
)


@dataclass
class Target:
    name: str
    kind: str  # "c" or "python"
    path: Path

    def command(self, python: str) -> list[str]:
        if self.kind == "c":
            return [str(OUT / self.name)]
        return [python, str(self.path)]


@dataclass
class Result:
    name: str
    kind: str
    seconds: float = 0.0
    executions: int = 0
    cov: int = 0
    ft: int = 0
    corpus: int = 0
    findings: list[str] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)
    skipped: str = ""
    native: str = ""


def discover() -> list[Target]:
    targets = [Target(p.stem, "c", p) for p in sorted((HERE / "c").glob("fuzz_*.c"))]
    targets += [Target(p.stem, "python", p) for p in sorted((HERE / "python").glob("fuzz_*.py"))]
    return targets


def build(python: str) -> str:
    """Build the C targets; returns an error message or ''."""
    if not shutil.which("clang"):
        return "clang not found (Debian: apt-get install clang libclang-rt-14-dev)"
    env = dict(os.environ, PYTHON=python, OUT=str(OUT))
    env.pop("LIB_FUZZING_ENGINE", None)
    res = subprocess.run(["bash", str(HERE / "build.sh")], env=env, capture_output=True, text=True)
    if res.returncode != 0:
        return "build failed:\n" + res.stdout[-2000:] + res.stderr[-4000:]
    return ""


def build_native(python: str) -> tuple[Path | None, str]:
    """The instrumented overlay for the atheris targets: (pyroot, error)."""
    if not shutil.which("clang"):
        return None, "clang not found"
    pyroot = OUT / "pyroot"
    env = dict(os.environ, CC="clang", CFLAGS="-g -fsanitize=address,fuzzer-no-link")
    env.pop("MTCRYPT_SANITIZE", None)
    res = subprocess.run(
        [python, str(HERE / "python" / "build_native.py"), "--overlay", str(pyroot)],
        env=env,
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        return None, res.stderr[-2000:]
    return pyroot, ""


def atheris_asan(python: str) -> str | None:
    res = subprocess.run(
        [python, "-c", "import atheris; print(atheris.path())"], capture_output=True, text=True
    )
    if res.returncode != 0:
        return None
    runtime = Path(res.stdout.strip()) / "asan_with_fuzzer.so"
    return str(runtime) if runtime.exists() else None


def seed(targets: list[Target], python: str) -> None:
    missing = [t.name for t in targets if not any((CORPUS / t.name).glob("*"))]
    if missing:
        subprocess.run(
            [
                python,
                str(HERE / "gen_corpus.py"),
                "--out",
                str(CORPUS),
                "--only",
                ",".join(missing),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def run_target(
    target: Target,
    seconds: int,
    python: str,
    max_findings: int,
    extra: list[str],
    native: tuple[Path, str] | None = None,
) -> Result:
    result = Result(target.name, target.kind)
    if target.kind == "c" and not (OUT / target.name).exists():
        result.skipped = "not built"
        return result
    if target.kind == "python":
        probe = subprocess.run([python, "-c", "import atheris"], capture_output=True)
        if probe.returncode != 0:
            result.skipped = f"atheris is not installed for {python}"
            return result
    corpus = CORPUS / target.name
    artifacts = REGRESSIONS / target.name
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    logs = OUT / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    dictionary = CORPUS / f"{target.name}.dict"

    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    if target.kind == "python":
        # atheris brings its own libFuzzer; leaks of the interpreter are not
        # findings.
        env["ASAN_OPTIONS"] = "detect_leaks=0:allocator_may_return_null=1"
        if native is not None:
            pyroot, runtime = native
            env["PYTHONPATH"] = os.pathsep.join(
                [str(pyroot), *filter(None, [env.get("PYTHONPATH")])]
            )
            env["LD_PRELOAD"] = runtime
            env["PYCRYPTODOME_DISABLE_DEEPBIND"] = "1"  # RTLD_DEEPBIND breaks ASan
            result.native = "asan+cov"

    start = time.monotonic()
    log_path = logs / f"{target.name}.log"
    with log_path.open("w") as log:
        while True:
            left = int(seconds - (time.monotonic() - start))
            if left < 1 or len(result.findings) >= max_findings:
                break
            dirs = [str(corpus)] + ([str(artifacts)] if any(artifacts.iterdir()) else [])
            cmd = [
                *target.command(python),
                *dirs,
                f"-max_total_time={left}",
                "-timeout=10",
                "-rss_limit_mb=2048",
                "-max_len=8192",
                "-print_final_stats=1",
                f"-artifact_prefix={artifacts}/",
                *([f"-dict={dictionary}"] if dictionary.exists() else []),
                *extra,
            ]
            log.write("$ " + " ".join(cmd) + "\n")
            log.flush()
            begin = log.tell()
            # Streamed to the log, so a long run can be watched with tail -f.
            proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
            log.flush()
            with log_path.open("rb") as read_back:
                read_back.seek(begin)
                text = read_back.read().decode("utf-8", "replace")
            for line in text.splitlines():
                m = STATUS.match(line)
                if m:
                    result.cov = max(result.cov, int(m.group(3)))
                    result.ft = max(result.ft, int(m.group(4)))
                    result.corpus = int(m.group(5))
            executed = EXECUTED.findall(text)
            if executed:
                result.executions += int(executed[-1])
            found = ARTIFACT.findall(text)
            if proc.returncode != 0:
                if not found:
                    found = [f"<exit {proc.returncode}, no artifact>"]
                result.findings += found
                causes = CAUSE.findall(text)
                result.causes.append(causes[0] if causes else text.strip().splitlines()[-1:][0])
                # Same input twice in a row: stop rather than loop on it.
                if len(result.findings) >= 2 and result.findings[-1] == result.findings[-2]:
                    break
            else:
                break
    result.seconds = round(time.monotonic() - start, 1)
    return result


def report(results: list[Result]) -> str:
    head = (
        f"{'target':24} {'kind':6} {'secs':>6} {'execs':>11} {'cov':>6} {'ft':>7} "
        f"{'corpus':>7}  findings"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        if r.skipped:
            lines.append(f"{r.name:24} {r.kind:6} skipped: {r.skipped}")
            continue
        lines.append(
            f"{r.name:24} {r.kind:6} {r.seconds:6.0f} {r.executions:11d} {r.cov:6d} {r.ft:7d} "
            f"{r.corpus:7d}  {len(r.findings)}"
        )
        for path, cause in zip(r.findings, r.causes, strict=False):
            lines.append(f"    {path}: {cause}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time", type=int, default=60, help="seconds per target (default 60)")
    parser.add_argument("--only", default="", help="comma-separated target names")
    parser.add_argument("--no-build", action="store_true", help="use the C targets in build/fuzz")
    parser.add_argument("--python", default=sys.executable, help="interpreter for atheris")
    parser.add_argument("--max-findings", type=int, default=5, help="per target (default 5)")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument(
        "--plain-native",
        action="store_true",
        help="atheris targets use the installed (uninstrumented) extension",
    )
    parser.add_argument("extra", nargs="*", help="extra libFuzzer flags (after --)")
    args = parser.parse_args(argv)

    targets = discover()
    if args.list:
        for t in targets:
            print(f"{t.name:24} {t.kind:6} {t.path.relative_to(HERE.parent)}")
        return 0
    if args.only:
        wanted = {s.strip() for s in args.only.split(",") if s.strip()}
        unknown = wanted - {t.name for t in targets}
        if unknown:
            parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
        targets = [t for t in targets if t.name in wanted]

    if any(t.kind == "c" for t in targets) and not args.no_build:
        error = build(args.python)
        if error:
            print(f"C targets not built: {error}", file=sys.stderr)
    seed(targets, args.python)
    native = None
    if any(t.kind == "python" for t in targets) and not args.plain_native:
        pyroot, error = build_native(args.python)
        runtime = atheris_asan(args.python)
        if pyroot is not None and runtime is not None:
            native = (pyroot, runtime)
        else:
            print(f"atheris targets use the installed extension: {error}", file=sys.stderr)

    results = []
    for target in targets:
        print(f"== {target.name} ({args.time} s)", flush=True)
        results.append(
            run_target(target, args.time, args.python, args.max_findings, args.extra, native)
        )
        print("\n".join(report(results[-1:]).splitlines()[2:]), flush=True)
    print()
    print(report(results))
    OUT.mkdir(exist_ok=True)
    (OUT / "summary.json").write_text(
        json.dumps([asdict(r) for r in results], indent=2) + "\n", encoding="utf-8"
    )
    return 1 if any(r.findings for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
