"""``import mtcrypt``: cheap, lazy subpackages, and a version that matches the
installed distribution."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import mtcrypt


def test_import_is_lazy_and_subpackages_are_attributes() -> None:
    code = (
        "import sys, mtcrypt\n"
        "heavy = [m for m in sys.modules if m.startswith(('mtcrypt.', 'cffi', 'Crypto'))]\n"
        "assert heavy == ['mtcrypt.errors'], heavy\n"
        "assert mtcrypt.crypto.sha256(b'abc').hex().startswith('ba7816bf')\n"
        "assert 'mtcrypt._native' in sys.modules\n"
        "assert mtcrypt.transport.ProxySecret.parse('dd' + '00' * 16).kind.value == 'dd'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_every_subpackage_is_reachable() -> None:
    for name in mtcrypt.SUBPACKAGES:
        module = getattr(mtcrypt, name)
        assert module.__name__ == f"mtcrypt.{name}"
        assert name in dir(mtcrypt)
    try:
        _ = mtcrypt.no_such_thing  # type: ignore[attr-defined]
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("unknown attribute did not raise")


def test_version_matches_the_distribution() -> None:
    assert mtcrypt.__version__ == importlib.metadata.version("mtcrypt")
