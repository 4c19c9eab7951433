"""Constant-time checks of the C core under valgrind memcheck.

The harnesses in tests/ct/ mark secrets (keys, IVs, plaintexts, ciphertexts)
as undefined with VALGRIND_MAKE_MEM_UNDEFINED; memcheck then reports every
branch on them ("Conditional jump or move depends on uninitialised value")
and every memory access indexed by them ("Use of uninitialised value of
size N"), which is what a timing leak through branches or cache lines needs.

* ct_aes_portable.c: the bitsliced AES block functions alone; no report.
* ct_aes_vpaes.c: the vector-permute AES (csrc/aes_vpaes.c) alone: both key
  schedules, the block functions, IGE, CBC, CTR and the interleaved batch
  IGE, after known-answer checks; no report.
* ct_modes.c: IGE, CBC, CTR, batch IGE, SHA-256/SHA-1, the KDF and
  mtc_msg_seal through the public entry points, on the portable backend and
  again on the vector-permute one (-DCT_BACKEND); no report.
* ct_msg_open.c: mtc_msg_open, mtc_msg_open_batch and the secret-chat
  mtc_e2e_open on valid, tampered and bad-length packets, with the auth key,
  msg_key and encrypted data marked, on the portable and the vector-permute
  backends.
  The only report allowed is the branch on the final status (the decision to
  return the length or wipe the output), which must be there: it proves the
  marking reached the status through decryption and hashing.
* ct_rsa_legacy.c: mtc_rsa_legacy_check (the server's legacy RSA unpadding
  against four p_q_inner_data* templates) on blocks with the first byte zero
  or not, the right or a wrong constructor / fixed field, the right or a
  wrong hash, each template accepted once, with the whole decrypted block
  marked.  The C function returns its verdict through masks; the only report
  allowed (and required) is the harness's own branch on that status, in
  final_status().

* ct_bn.c: mtc_modexp and the fixed-base mtc_modexp_fixed for primes of 64,
  520, 1024 and 2048 bits with the exponent, the base and the modulus (but
  its first and last byte, the public form of its length) marked, on the
  plain C multiplication and on the MULX/ADX one; no report.

The AES-NI and VAES backends are not run here: their AES is done by instructions whose
timing does not depend on the data, around code with no secret-dependent branch or index,
and valgrind 3.19 does not even decode VAES's 256-bit forms (SIGILL).  Every harness selects
its backend explicitly, so none of them reaches that code on a VAES machine.

Each harness also builds with -DCT_SELFTEST_LEAK, which adds deliberate leaks
that memcheck must flag, so the check is seen to fail.

What memcheck cannot see: instructions whose latency depends on their
operands (division, on some CPUs multiplication); the code avoids those on
secrets by construction.  Conditional moves are data flow, not branches, and
are (rightly) not reported.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.tools  # compiles and runs external tools: `pytest -m tools`

HERE = Path(__file__).parent
ROOT = HERE.parent
CT = HERE / "ct"
CSRC = ROOT / "csrc"
AES_SOURCES = [CT / "ct_aes_portable.c", CSRC / "aes_portable.c", CT / "ct_stubs.c"]
VPAES_SOURCES = [CT / "ct_aes_vpaes.c", CSRC / "aes_vpaes.c", CT / "ct_stubs.c"]
LEAK_MARKERS = (
    "Conditional jump or move depends on uninitialised value",
    "Use of uninitialised value",
)

# The final-status branches of the open path, by function: the only lines
# of csrc/message.c where a secret-dependent branch is expected.
# open_one is the single-message open shared by mtc_msg_open and mtc_e2e_open.
# The packed batch open builds its pointers and calls the pointer form, which decides.
STATUS_FUNCTIONS = frozenset({"open_one", "mtc_msg_open_batch_ptrs"})
STATUS_BRANCH = re.compile(r"^\s*(?:\}\s*else\s+)?if \((?:!\s*valid\b|valid\b|open_check\()")


def _require_tools() -> tuple[str, str]:
    gcc = shutil.which("gcc")
    valgrind = shutil.which("valgrind")
    if not gcc or not valgrind:
        pytest.skip("gcc and valgrind are needed for the constant-time check")
    probe = subprocess.run(
        [gcc, "-E", "-x", "c", "-"],
        input="#include <valgrind/memcheck.h>\n",
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        pytest.skip("valgrind/memcheck.h is missing (Debian package: valgrind)")
    return gcc, valgrind


def _build(tmp_path: Path, opt: str, sources: list[Path], *defines: str) -> tuple[str, Path]:
    gcc, valgrind = _require_tools()
    exe = tmp_path / ("ct" + sources[0].stem + opt + "".join(defines))
    cmd = [gcc, opt, "-std=gnu11", "-g", "-pthread", "-o", str(exe), *defines, *map(str, sources)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    # The harnesses check their results too: a broken build must not pass.
    native = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert native.returncode == 0, native.stdout + native.stderr
    return valgrind, exe


_OBJECTS: dict[str, list[Path]] = {}


@pytest.fixture(scope="module")
def core_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ct-core")


def _core_objects(where: Path, opt: str) -> list[Path]:
    """csrc/*.c compiled once per optimization level (-g, for line numbers)."""
    if opt not in _OBJECTS:
        gcc, _ = _require_tools()
        objs = []
        for src in sorted(CSRC.glob("*.c")):
            obj = where / f"{src.stem}{opt}.o"
            cmd = [gcc, opt, "-std=gnu11", "-g", "-pthread", "-c", str(src), "-o", str(obj)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            assert res.returncode == 0, res.stderr
            objs.append(obj)
        _OBJECTS[opt] = objs
    return _OBJECTS[opt]


def _memcheck(valgrind: str, exe: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)  # the sanitizer recipe preloads libasan
    return subprocess.run(
        [valgrind, "--error-exitcode=99", "--track-origins=no", "--num-callers=12", "-q", str(exe)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


@dataclass(frozen=True)
class Report:
    kind: str
    function: str
    file: str
    line: int

    def source_line(self) -> str:
        path = CSRC / self.file
        if not path.exists():
            return ""
        lines = path.read_text(encoding="utf-8").splitlines()
        return lines[self.line - 1] if 0 < self.line <= len(lines) else ""

    @property
    def is_status_branch(self) -> bool:
        return (
            self.kind.startswith("Conditional jump")
            and self.function in STATUS_FUNCTIONS
            and self.file == "message.c"
            and bool(STATUS_BRANCH.match(self.source_line()))
        )

    def __str__(self) -> str:
        return f"{self.kind} at {self.function} ({self.file}:{self.line}): {self.source_line()!r}"


_FRAME = re.compile(r"^==\d+==\s+at 0x[0-9A-Fa-f]+: (\S+) \((?:in )?([^:()]+):(\d+)\)")
_KIND = re.compile(r"^==\d+== (\S.*)$")


def _reports(output: str) -> list[Report]:
    """Memcheck's error reports, each with its innermost frame."""
    reports = []
    kind = None
    for line in output.splitlines():
        frame = _FRAME.match(line)
        if frame and kind:
            reports.append(Report(kind, frame.group(1), frame.group(2), int(frame.group(3))))
            kind = None
            continue
        head = _KIND.match(line)
        if head and any(marker in head.group(1) for marker in LEAK_MARKERS):
            kind = head.group(1)
    return reports


# ---- the AES block functions -------------------------------------------------


@pytest.mark.parametrize("opt", ["-O2", "-O3"])
def test_aes_portable_constant_time(tmp_path: Path, opt: str) -> None:
    valgrind, exe = _build(tmp_path, opt, AES_SOURCES)
    res = _memcheck(valgrind, exe)
    out = res.stdout + res.stderr
    assert not any(m in out for m in LEAK_MARKERS), out
    assert res.returncode == 0, out


def test_memcheck_detects_deliberate_leak(tmp_path: Path) -> None:
    valgrind, exe = _build(tmp_path, "-O2", AES_SOURCES, "-DCT_SELFTEST_LEAK")
    res = _memcheck(valgrind, exe)
    out = res.stdout + res.stderr
    assert res.returncode == 99, out
    assert "Use of uninitialised value" in out, out
    assert "Conditional jump or move depends on uninitialised value" in out, out


@pytest.mark.parametrize("opt", ["-O2", "-O3"])
def test_aes_vpaes_constant_time(tmp_path: Path, opt: str) -> None:
    valgrind, exe = _build(tmp_path, opt, VPAES_SOURCES)
    res = _memcheck(valgrind, exe)
    out = res.stdout + res.stderr
    assert not any(m in out for m in LEAK_MARKERS), out
    assert res.returncode == 0, out


def test_vpaes_check_detects_deliberate_leak(tmp_path: Path) -> None:
    valgrind, exe = _build(tmp_path, "-O2", VPAES_SOURCES, "-DCT_SELFTEST_LEAK")
    res = _memcheck(valgrind, exe)
    out = res.stdout + res.stderr
    assert res.returncode == 99, out
    assert "Use of uninitialised value" in out, out
    assert "Conditional jump or move depends on uninitialised value" in out, out


# ---- IGE, CBC, CTR, batch, SHA, KDF, seal ---------------------------------------


@pytest.mark.parametrize("backend", ["PORTABLE", "VPAES"])
@pytest.mark.parametrize("opt", ["-O2", "-O3"])
def test_modes_hashes_and_seal_constant_time(
    tmp_path: Path, opt: str, backend: str, core_dir: Path
) -> None:
    sources = [CT / "ct_modes.c", *_core_objects(core_dir, opt)]
    valgrind, exe = _build(tmp_path, opt, sources, f"-DCT_BACKEND=MTC_BACKEND_{backend}")
    res = _memcheck(valgrind, exe)
    out = res.stdout + res.stderr
    assert not _reports(out), out
    assert res.returncode == 0, out


def test_modes_check_detects_deliberate_leak(tmp_path: Path, core_dir: Path) -> None:
    sources = [CT / "ct_modes.c", *_core_objects(core_dir, "-O2")]
    valgrind, exe = _build(tmp_path, "-O2", sources, "-DCT_SELFTEST_LEAK")
    res = _memcheck(valgrind, exe)
    kinds = {r.kind.split(" depends")[0].split(" of size")[0] for r in _reports(res.stderr)}
    assert res.returncode == 99, res.stderr
    assert kinds == {"Use of uninitialised value", "Conditional jump or move"}, res.stderr


# ---- the message open path -------------------------------------------------------


@pytest.mark.parametrize("backend", ["PORTABLE", "VPAES"])
@pytest.mark.parametrize("opt", ["-O2", "-O3"])
def test_message_open_constant_time_until_status(
    tmp_path: Path, opt: str, backend: str, core_dir: Path
) -> None:
    sources = [CT / "ct_msg_open.c", *_core_objects(core_dir, opt)]
    valgrind, exe = _build(tmp_path, opt, sources, f"-DCT_BACKEND=MTC_BACKEND_{backend}")
    res = _memcheck(valgrind, exe)
    reports = _reports(res.stderr)
    leaks = [r for r in reports if not r.is_status_branch]
    assert not leaks, "secret-dependent before the status:\n" + "\n".join(map(str, leaks))
    # Not vacuous: the secrets reached the status in both entry points.
    seen = {r.function for r in reports if r.is_status_branch}
    assert seen == STATUS_FUNCTIONS, res.stderr


def test_message_open_check_detects_deliberate_leak(tmp_path: Path, core_dir: Path) -> None:
    sources = [CT / "ct_msg_open.c", *_core_objects(core_dir, "-O2")]
    valgrind, exe = _build(tmp_path, "-O2", sources, "-DCT_SELFTEST_LEAK")
    res = _memcheck(valgrind, exe)
    leaks = [r for r in _reports(res.stderr) if not r.is_status_branch]
    # The early exit on the length field and the secret-indexed lookup.
    assert any(r.function == "leaky_open" and r.kind.startswith("Conditional") for r in leaks), (
        res.stderr
    )
    assert any(r.kind.startswith("Use of uninitialised value") for r in leaks), res.stderr


# ---- the legacy RSA unpadding of the server ----------------------------------------

RSA_LEGACY_HARNESS = CT / "ct_rsa_legacy.c"


def _is_rsa_legacy_status_branch(report: Report) -> bool:
    """The harness's branch on the returned status: the caller's one decision."""
    if not (
        report.kind.startswith("Conditional jump")
        and report.function == "final_status"
        and report.file == RSA_LEGACY_HARNESS.name
    ):
        return False
    lines = RSA_LEGACY_HARNESS.read_text(encoding="utf-8").splitlines()
    return 0 < report.line <= len(lines) and "if (rc == MTC_OK)" in lines[report.line - 1]


@pytest.mark.parametrize("opt", ["-O2", "-O3"])
def test_rsa_legacy_check_constant_time_until_status(
    tmp_path: Path, opt: str, core_dir: Path
) -> None:
    sources = [RSA_LEGACY_HARNESS, *_core_objects(core_dir, opt)]
    valgrind, exe = _build(tmp_path, opt, sources)
    res = _memcheck(valgrind, exe)
    reports = _reports(res.stderr)
    leaks = [r for r in reports if not _is_rsa_legacy_status_branch(r)]
    assert not leaks, "depends on the decrypted block:\n" + "\n".join(map(str, leaks))
    # Not vacuous: the marked block reached the status through hashing and masks.
    assert any(_is_rsa_legacy_status_branch(r) for r in reports), res.stderr
    assert res.returncode == 99, res.stderr


def test_rsa_legacy_check_detects_deliberate_leak(tmp_path: Path, core_dir: Path) -> None:
    sources = [RSA_LEGACY_HARNESS, *_core_objects(core_dir, "-O2")]
    valgrind, exe = _build(tmp_path, "-O2", sources, "-DCT_SELFTEST_LEAK")
    res = _memcheck(valgrind, exe)
    leaks = [r for r in _reports(res.stderr) if not _is_rsa_legacy_status_branch(r)]
    # The early exit on the first byte and the secret-indexed lookup.
    assert any(r.function == "leaky_unpad" and r.kind.startswith("Conditional") for r in leaks), (
        res.stderr
    )
    assert any(r.kind.startswith("Use of uninitialised value") for r in leaks), res.stderr


# ---- modular exponentiation (bn.c) ---------------------------------------------------

BN_HARNESS = CT / "ct_bn.c"


def _bn_defines(path: str) -> list[str]:
    """The plain C multiplication (portable backend), or the MULX/ADX rows forced
    on (valgrind's CPUID hides ADX), where this CPU has them for the native run."""
    if path == "portable":
        return []
    import mtcrypt.crypto as mc

    if "adx" not in mc.backend_info().cpu_features:
        pytest.skip("this CPU has no BMI2/ADX")
    return ["-DCT_FORCE_ADX"]


@pytest.mark.parametrize("path", ["portable", "adx"])
@pytest.mark.parametrize("opt", ["-O2", "-O3"])
def test_modexp_constant_time(tmp_path: Path, opt: str, path: str, core_dir: Path) -> None:
    sources = [BN_HARNESS, *_core_objects(core_dir, opt)]
    valgrind, exe = _build(tmp_path, opt, sources, *_bn_defines(path))
    res = _memcheck(valgrind, exe)
    out = res.stdout + res.stderr
    assert not _reports(out), out
    assert res.returncode == 0, out


def test_modexp_check_detects_deliberate_leak(tmp_path: Path, core_dir: Path) -> None:
    sources = [BN_HARNESS, *_core_objects(core_dir, "-O2")]
    valgrind, exe = _build(tmp_path, "-O2", sources, "-DCT_SELFTEST_LEAK")
    res = _memcheck(valgrind, exe)
    reports = _reports(res.stderr)
    assert res.returncode == 99, res.stderr
    assert {r.function for r in reports} == {"leaky_exponent_walk"}, res.stderr
    kinds = {r.kind.split(" depends")[0].split(" of size")[0] for r in reports}
    assert kinds == {"Use of uninitialised value", "Conditional jump or move"}, res.stderr
