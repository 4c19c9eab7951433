"""The C core under AddressSanitizer and UndefinedBehaviorSanitizer, without
Python in the way.

* fuzz/c/edge_lengths.c: every entry point at the edges of its lengths, on
  every backend, with exactly sized heap buffers.
* each libFuzzer target of fuzz/c/ linked with fuzz/c/replay_main.c instead
  of libFuzzer, run over its seed corpus (fuzz/gen_corpus.py) and over the
  inputs saved in fuzz/regressions/<target>/ (the same oracles as in the
  fuzzing runs).

gcc builds everything with -fsanitize=address,undefined
-fno-sanitize-recover=all, so any report fails the run.  Skipped when gcc or
its sanitizer runtimes are missing.  (The Python extension itself under the
sanitizers: MTCRYPT_SANITIZE, see fuzz/README.md.)
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.tools  # compiles and runs external tools: `pytest -m tools`

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
FUZZ_C = ROOT / "fuzz" / "c"
REGRESSIONS = ROOT / "fuzz" / "regressions"
CFLAGS = [
    "-O1",
    "-g",
    "-std=gnu11",
    "-pthread",
    "-fno-omit-frame-pointer",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    f"-I{CSRC}",
    f"-I{FUZZ_C}",
]
TARGETS = sorted(p.stem for p in FUZZ_C.glob("fuzz_*.c"))


def _gcc() -> str:
    gcc = shutil.which("gcc")
    if not gcc:
        pytest.skip("gcc is needed for the sanitizer build")
    probe = subprocess.run(
        [gcc, "-fsanitize=address,undefined", "-x", "c", "-", "-o", os.devnull],
        input="int main(void) { return 0; }\n",
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"gcc cannot link the sanitizer runtimes: {probe.stderr.strip()[:200]}")
    return gcc


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """csrc/*.c compiled once with the sanitizers."""
    gcc = _gcc()
    where = tmp_path_factory.mktemp("asan-core")
    objs = []
    for src in sorted(CSRC.glob("*.c")):
        obj = where / f"{src.stem}.o"
        res = subprocess.run(
            [gcc, *CFLAGS, "-c", str(src), "-o", str(obj)], capture_output=True, text=True
        )
        assert res.returncode == 0, res.stderr
        objs.append(obj)
    return objs


def _link(tmp_path: Path, name: str, sources: list[Path], core: list[Path]) -> Path:
    exe = tmp_path / name
    cmd = [_gcc(), *CFLAGS, *map(str, sources), *map(str, core), "-o", str(exe)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return exe


def _run(exe: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:halt_on_error=1"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300, env=env)


def test_edge_lengths(tmp_path: Path, core: list[Path]) -> None:
    exe = _link(tmp_path, "edge_lengths", [FUZZ_C / "edge_lengths.c"], core)
    res = _run(exe)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "checks passed" in res.stderr


def _seeds(target: str, where: Path) -> Path:
    spec = importlib.util.spec_from_file_location(
        "_fuzz_gen_corpus", ROOT / "fuzz" / "gen_corpus.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(where, {target})
    return where / target


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target_replays_seeds_and_regressions(
    tmp_path: Path, core: list[Path], target: str
) -> None:
    exe = _link(tmp_path, target, [FUZZ_C / f"{target}.c", FUZZ_C / "replay_main.c"], core)
    inputs = [str(_seeds(target, tmp_path / "seeds"))]
    if (REGRESSIONS / target).is_dir():
        inputs.append(str(REGRESSIONS / target))
    res = _run(exe, *inputs)
    assert res.returncode == 0, res.stdout + res.stderr[-4000:]
    assert "replayed" in res.stderr
