"""The command line: help, one-line errors with the right exit status, keygen's
file handling, and ``serve`` and ``client`` against each other on every
transport and through dd and ee secrets."""

from __future__ import annotations

import argparse
import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mtcrypt
from mtcrypt.cli import _build_parser, main
from mtcrypt.handshake.rsa import RsaPrivateKey, load_private_key, load_public_key

DD = "dd" + "11" * 16
EE = "ee" + "22" * 16 + b"example.com".hex()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line(err: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and lines[0].startswith("python -m mtcrypt")


# ---- help and version -----------------------------------------------------------------


def test_no_command_prints_help_not_the_demo(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run([], capsys)
    assert status == 2
    assert out.startswith("usage: python -m mtcrypt")
    for command in ("demo", "serve", "client", "keygen", "info", "bench", "compat", "conformance"):
        assert f"    {command} " in out or f"    {command}\n" in out, command


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["--version"], capsys)
    assert status == 0 and out.strip() == f"mtcrypt {mtcrypt.__version__}"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def test_every_option_has_help_in_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    parser, _ = _build_parser()
    for name, sub in _subparsers(parser).items():
        if name == "conformance":  # parsed by the conformance kit: checked below
            continue
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
        text = sub.format_help()
        for markup in ("``", ":mod:", ":class:", ":func:"):
            assert markup not in text, (name, markup)
    for command in ("serve", "client", "keygen", "compat", "conformance", "info"):
        assert main([command, "--help"]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: python -m mtcrypt {command}")
        assert "``" not in out and ":mod:" not in out


def test_readme_lists_every_subcommand() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    parser, _ = _build_parser()
    for name in _subparsers(parser):
        assert f"python -m mtcrypt {name}" in readme, name


# ---- one line, the right status ---------------------------------------------------------


def test_usage_errors_are_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    cases = [
        ["--no-such-option"],
        ["no-such-command"],
        ["serve", "--port", "99999"],
        ["serve", "--port", "http"],
        ["serve", "--secret", "zz"],
        ["serve", "--secret", "ee" + "00" * 16],  # fake-TLS without a domain
        ["serve", "--rsa-key", str(tmp_path / "missing.pem")],
        ["serve", "--rsa-key", str(not_pem)],
        ["client"],
        ["client", "localhost"],
        ["client", "127.0.0.1:1", "--rsa-key", str(not_pem)],
        ["client", "127.0.0.1:1", "--secret", "zz"],
        ["client", "127.0.0.1:1", "--secret", DD, "--transport", "abridged"],
        ["client", "127.0.0.1:1", "--transport", "full", "--obfuscated"],
        ["client", "--link", "//-]"],
        ["client", "--link", "tg://proxy?server=x&port=1&secret=zz"],
        ["client", "127.0.0.1:1", "--secret", DD, "--link", "tg://proxy?server=x"],
        ["client", "127.0.0.1:1", "--count", "0"],
        ["keygen"],
    ]
    for argv in cases:
        status, _, err = run(argv, capsys)
        assert status == 2, (argv, err)
        assert_one_line(err)


def test_failures_are_one_line_and_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        status, _, err = run(["serve", "--port", str(port), "--handshake-workers", "0"], capsys)
        assert status == 1 and "cannot listen" in err and "in use" in err
        assert_one_line(err.splitlines()[-1])
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        free = closed.getsockname()[1]
    status, _, err = run(["client", f"127.0.0.1:{free}"], capsys)
    assert status == 1 and "refused" in err.lower()
    assert_one_line(err)
    status, _, err = run(["client", "no-such-host.invalid:443", "--timeout", "5"], capsys)
    assert status == 1 and "cannot connect to no-such-host.invalid:443" in err
    assert_one_line(err)


def test_bad_backend_in_the_environment_is_one_line() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mtcrypt", "info"],
        capture_output=True,
        text=True,
        env={**os.environ, "MTCRYPT_BACKEND": "turbo"},
        timeout=60,
    )
    assert out.returncode == 2
    assert_one_line(out.stderr)
    assert "MTCRYPT_BACKEND" in out.stderr


def test_a_bug_is_one_line_unless_debug(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mtcrypt import cli

    def broken(args: argparse.Namespace) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "_info", broken)
    status, _, err = run(["info"], capsys)
    assert status == 70 and "internal error" in err and "--debug" in err
    assert_one_line(err)
    status, _, err = run(["info", "--debug"], capsys)
    assert status == 70 and "Traceback" in err and "boom" in err


# ---- keygen -------------------------------------------------------------------------------


def test_keygen_writes_0600_refuses_to_overwrite_and_prints_the_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_path = tmp_path / "server.pem"
    status, out, _ = run(["keygen", str(out_path)], capsys)
    assert status == 0
    record = json.loads(out)
    key = load_private_key(out_path.read_bytes())
    public = load_public_key(Path(record["public_key"]).read_bytes())
    assert public == key.public_key and record["public_key_pem"] == key.public_key.to_pem()
    assert record["fingerprint"] == str(key.fingerprint)
    assert stat.S_IMODE(out_path.stat().st_mode) == 0o600
    before = out_path.read_bytes()
    status, _, err = run(["keygen", str(out_path)], capsys)
    assert status == 2 and "--force" in err and out_path.read_bytes() == before
    out_path.chmod(0o644)
    status, _, _ = run(["keygen", str(out_path), "--force"], capsys)
    assert status == 0 and out_path.read_bytes() != before
    assert stat.S_IMODE(out_path.stat().st_mode) == 0o600
    status, _, err = run(["keygen", str(tmp_path / "missing-dir" / "k.pem")], capsys)
    assert status == 1 and "cannot write" in err
    assert_one_line(err)


# ---- serve and client against each other ----------------------------------------------------


@pytest.fixture(scope="module")
def served(
    server_key: RsaPrivateKey, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    directory = tmp_path_factory.mktemp("serve")
    key_file = directory / "server.pem"
    key_file.write_text(server_key.to_pem())
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mtcrypt",
            "serve",
            "--rsa-key",
            str(key_file),
            "--secret",
            DD,
            "--secret",
            EE,
            "--echo",
            "--handshake-workers",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        yield {"port": info["port"], "key": str(key_file), "proc": proc}
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=20)
        assert proc.returncode == 0, stderr
        assert "Traceback" not in stderr
        # serve says what it does, without the secrets
        assert "MTProxy secrets: dd, ee (example.com)" in stderr
        assert DD[2:] not in stderr and EE[2:34] not in stderr


CASES = [
    (["--transport", "abridged"], "abridged", None),
    (["--transport", "intermediate"], "intermediate", None),
    (["--transport", "padded"], "padded_intermediate", None),
    (["--transport", "full"], "full", None),
    (["--transport", "abridged", "--obfuscated"], "abridged", None),
    (["--transport", "padded", "--obfuscated"], "padded_intermediate", None),
    (["--secret", DD], "padded_intermediate", "dd"),
    (["--secret", EE], "padded_intermediate", "ee"),
]


@pytest.mark.parametrize(("options", "transport", "proxy"), CASES)
def test_client_against_serve(
    served: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    transport: str,
    proxy: str | None,
) -> None:
    argv = ["client", f"127.0.0.1:{served['port']}", "--rsa-key", served["key"], "--count", "5"]
    status, out, err = run([*argv, *options], capsys)
    assert status == 0, err
    record = json.loads(out)
    assert record["transport"] == transport and record["proxy"] == proxy
    assert record["pings"] == 5 and record["handshake_ms"] > 0
    rtt = record["rtt_ms"]
    assert 0 < rtt["min"] <= rtt["p50"] <= rtt["p90"] <= rtt["p99"] <= rtt["max"]
    assert len(record["auth_key_id"]) == 16


def test_client_with_a_proxy_link(
    served: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    port = served["port"]
    for link in (
        f"tg://proxy?server=127.0.0.1&port={port}&secret={EE}",
        f"https://t.me/proxy?server=127.0.0.1&port={port}&secret={DD}",
    ):
        status, out, err = run(["client", "--rsa-key", served["key"], "--link", link], capsys)
        assert status == 0, err
        assert json.loads(out)["address"] == f"127.0.0.1:{port}"


def test_client_with_a_wrong_secret_or_key_fails_in_one_line(
    served: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    address = f"127.0.0.1:{served['port']}"
    wrong = "dd" + "33" * 16
    status, _, err = run(
        ["client", address, "--rsa-key", served["key"], "--secret", wrong, "--timeout", "2"], capsys
    )
    assert status == 1
    assert_one_line(err)
    other = tmp_path / "other.pem"
    assert main(["keygen", str(other)]) == 0
    capsys.readouterr()
    status, _, err = run(["client", address, "--rsa-key", str(other), "--timeout", "5"], capsys)
    assert status == 1 and "handshake" in err
    assert_one_line(err)


def test_compat_enable_status_disable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The command drives the startup hook; pointed at a temporary directory
    here so the test never touches the environment's site-packages."""
    import sysconfig

    real_paths = sysconfig.get_paths

    def paths(*args: Any, **kwargs: Any) -> dict[str, str]:
        return {**real_paths(*args, **kwargs), "purelib": str(tmp_path)}

    monkeypatch.setattr(sysconfig, "get_paths", paths)
    status, out, _ = run(["compat", "status"], capsys)
    assert status == 0 and json.loads(out)["enabled"] is False
    status, out, _ = run(["compat", "enable", "--replace"], capsys)
    record = json.loads(out)
    assert status == 0 and record["enabled"] is True and record["replace"] is True
    assert Path(record["startup_hook"]).parent == tmp_path
    status, out, _ = run(["compat", "disable"], capsys)
    assert status == 0 and json.loads(out)["enabled"] is False
    assert not any(tmp_path.iterdir())
    # An unwritable site-packages (a regular file in the way; the mode bits
    # would not stop root): one line, status 1.
    blocked = tmp_path / "blocked"
    blocked.write_text("")
    monkeypatch.setattr(
        sysconfig, "get_paths", lambda *a, **k: {**real_paths(*a, **k), "purelib": str(blocked)}
    )
    status, _, err = run(["compat", "enable"], capsys)
    assert status == 1
    assert_one_line(err)
