"""Shared test configuration: hypothesis profiles and vector loading.

HYPOTHESIS_PROFILE selects ``dev`` (default), ``ci`` (chosen automatically when
CI=true) or ``thorough`` (long runs, by hand).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# ---- import the installed mtcrypt, not the checkout (before anything imports it) ----
# `python -m pytest` puts the working directory first on sys.path, so run from the clone
# root the checkout's mtcrypt/ shadows a non-editable install (`pip install .`), and the
# checkout has no compiled core: that is built into site-packages only.  So when the
# checkout has no compiled core, take the clone root off sys.path, unless no other mtcrypt
# is then found (the checkout's own ImportError then says what is missing).  An editable
# install (`pip install -e .`) compiles the core into the checkout: nothing changes there.
# Only mtcrypt comes from the clone root: the helpers the tests import (conftest, oracle,
# connection_pair) come from tests/, which pytest itself puts on sys.path (no __init__.py
# in tests/), and fuzz/ files are loaded by path.  PYTHONSAFEPATH=1 does the same for the
# `python -c` / `python -m` subprocesses the tests start (no working directory on sys.path).
_CLONE = Path(__file__).resolve().parent.parent
if not any(
    (_CLONE / "mtcrypt" / "_native" / f"_mtcrypt{suffix}").is_file()
    for suffix in importlib.machinery.EXTENSION_SUFFIXES
):
    _path = list(sys.path)
    sys.path[:] = [p for p in _path if Path(p or ".").resolve() != _CLONE]
    if importlib.util.find_spec("mtcrypt") is None:
        sys.path[:] = _path
    else:
        os.environ["PYTHONSAFEPATH"] = "1"
# --------------------------------------------------------------------------------------

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=5000, deadline=None)
_default = "ci" if os.environ.get("CI", "").lower() == "true" else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))

VECTORS = Path(__file__).parent / "vectors"

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(module: str) -> Any:
    """Import a package the ``test`` extra pins.  Where it is missing the test
    is skipped, except under ``CI=true``: there a missing dependency is a broken
    install and fails the test instead of hiding it."""
    if IN_CI:
        return importlib.import_module(module)
    return pytest.importorskip(module)


def assert_generated_file(script: str, generated: str) -> None:
    """Run the generator ``script`` (relative to the clone) and check that it
    passed its own checks and printed exactly the committed file ``generated``."""
    res = subprocess.run(
        [sys.executable, str(_CLONE / script)], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr  # the generator's own checks passed
    assert res.stdout == (_CLONE / generated).read_text(encoding="utf-8")


@contextmanager
def on_backend(name: str) -> Iterator[None]:
    """Run the block on backend ``name`` (skipping the test where the CPU lacks it), then
    switch back to the backend in use before."""
    import mtcrypt.crypto as mc
    from mtcrypt.errors import BackendUnavailable

    before = mc.backend_info().aes
    try:
        mc.select_backend(name)
    except BackendUnavailable:
        pytest.skip(f"{name} not supported here")
    try:
        yield
    finally:
        mc.select_backend(before)


@pytest.fixture(scope="session")
def server_key() -> Any:
    """One RSA server key per test run (generating one takes up to a second)."""
    from mtcrypt.handshake.rsa import generate_private_key

    return generate_private_key()


def load_vectors(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    assert data.get("source"), f"{name} must name its source"
    return data


def tdlib_lcg_bytes(length: int) -> tuple[bytes, bytes, bytes]:
    """tdlib's test generator: (plaintext, key, iv32) for a given length."""
    seed = length & 0xFFFFFFFF

    def take(n: int) -> bytes:
        nonlocal seed
        out = bytearray(n)
        for i in range(n):
            seed = (seed * 123457567 + 987651241) & 0xFFFFFFFF
            out[i] = (seed >> 23) & 255
        return bytes(out)

    plain = take(length)
    key = take(32)
    iv = take(32)
    return plain, key, iv
