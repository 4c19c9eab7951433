"""``python -m mtcrypt conformance``: play the scenarios against a target.

Targets that are **clients** (the adversarial server plays against them):
``mtcrypt``, ``telethon``, ``pyrogram``, ``command:<program and arguments>``.
Targets that are **servers** (the mirror client plays against them):
``mtcrypt-server`` (a reference server started here, enforcing salts) and
``server:HOST:PORT`` (needs ``--rsa-key`` with the server's public key, and
``--secret`` for the fake-TLS scenarios).
Targets that are **secret-chat implementations** (the adversary plays the
other end of the chat): ``secret:mtcrypt`` and ``secret:command:<program>``
(the JSON-lines protocol of :mod:`.secret_command`); ``--layer`` sets the
layer the target's chats use.

Prints a table (and progress on stderr unless ``--quiet``), writes JSON with
``--json FILE`` and JUnit XML with ``--junit FILE``, and exits with 0 when no
scenario failed, 1 when one did (with ``--fail-on warn`` also when deprecated
behaviour was accepted), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fnmatch
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runner import Report, ScenarioResult
    from .scenarios import Scenario
    from .secret import SecretScenario

__all__ = ["DESCRIPTION", "add_arguments", "main", "run"]

DESCRIPTION = """\
Play the conformance scenarios against a target and report what it accepts.

Client targets (an adversarial server plays against them): mtcrypt, telethon,
pyrogram, command:"PROGRAM ARGS..." (a JSON-lines adapter).  Server targets (a
mirror client plays against them): mtcrypt-server (a reference server started
here) and server:HOST:PORT (needs --rsa-key, and --secret for fake-TLS).
Secret-chat targets (the adversary plays the other end of a secret chat):
secret:mtcrypt and secret:command:"PROGRAM ARGS..." (JSON lines on stdin/stdout).

Exit status: 0 when no scenario failed, 1 when one did (FAIL, late, error; with
--fail-on warn also WARN: deprecated behaviour accepted), 2 on usage errors.
"""

_SERVER_SECRET = "ee" + "5e" * 16 + b"conformance.example".hex()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``conformance`` subcommand's options."""
    parser.add_argument(
        "--target",
        default="mtcrypt",
        help="telethon | pyrogram | mtcrypt | command:CMD (clients); "
        "mtcrypt-server | server:HOST:PORT (servers); secret:mtcrypt | secret:command:CMD "
        "(secret chats)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    parser.add_argument("--junit", metavar="FILE", help="also write the report as JUnit XML")
    parser.add_argument(
        "--fail-on",
        choices=("fail", "warn"),
        default="fail",
        help="exit 1 on findings (fail, the default) or also on warnings (warn)",
    )
    parser.add_argument(
        "--layer",
        type=int,
        default=None,
        help="secret-chat targets: the layer their chats use (46..144, default 144)",
    )
    parser.add_argument(
        "--scenarios",
        metavar="FILE",
        action="append",
        default=[],
        help="add scenarios from a JSON or TOML file (repeatable)",
    )
    parser.add_argument(
        "--no-defaults", action="store_true", help="play only the scenarios from --scenarios"
    )
    parser.add_argument("--only", metavar="PATTERNS", help="comma-separated id globs to play")
    parser.add_argument("--skip", metavar="PATTERNS", help="comma-separated id globs to leave out")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per wait (default 3)")
    parser.add_argument("--rsa-key", metavar="PEM", help="server:HOST:PORT: its public key")
    parser.add_argument("--secret", help="server:HOST:PORT: an ee secret it accepts")
    parser.add_argument(
        "--features", help="command targets: comma-separated features (default full,obfuscated)"
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _select(args: argparse.Namespace, role: str | None) -> list[Scenario]:
    from .catalog import default_scenarios
    from .scenarios import check_unique, load_scenarios

    chosen = [] if args.no_defaults else default_scenarios()
    for path in args.scenarios:
        chosen += load_scenarios(path)
    check_unique(chosen)
    if role is not None:
        chosen = [s for s in chosen if s.role == role]
    if args.only:
        patterns = _patterns(args.only)
        chosen = [s for s in chosen if any(fnmatch.fnmatchcase(s.id, p) for p in patterns)]
    if args.skip:
        patterns = _patterns(args.skip)
        chosen = [s for s in chosen if not any(fnmatch.fnmatchcase(s.id, p) for p in patterns)]
    return chosen


def _patterns(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _select_secret(args: argparse.Namespace) -> list[SecretScenario]:
    from .secret import secret_scenarios

    chosen = secret_scenarios()
    only, skip = _patterns(args.only), _patterns(args.skip)

    def matches(scenario_id: str, patterns: list[str]) -> bool:
        # A pattern may name the partner run too (``e2e-replay/partner``):
        # a scenario is kept if either of its ids matches.
        ids = (scenario_id, f"{scenario_id}/partner")
        return any(fnmatch.fnmatchcase(i, p) for i in ids for p in patterns)

    if only:
        chosen = [s for s in chosen if matches(s.id, only)]
    if skip:
        chosen = [s for s in chosen if not matches(s.id, skip)]
    return chosen


def _secret_report(args: argparse.Namespace, scenarios: list[SecretScenario]) -> Report:
    from ...e2e.tl import LAYER, MIN_LAYER
    from .secret import run_secret_suite
    from .secret_command import SecretCommandTarget
    from .secret_target import MtcryptSecretTarget, SecretChatTarget

    layer = LAYER if args.layer is None else args.layer
    if not MIN_LAYER <= layer <= LAYER:
        raise ValueError(f"--layer must be from {MIN_LAYER} to {LAYER}")
    spec = args.target.removeprefix("secret:")
    target: SecretChatTarget
    if spec == "mtcrypt":
        target = MtcryptSecretTarget()
    elif spec.startswith("command:") and spec.removeprefix("command:").strip():
        target = SecretCommandTarget(spec.removeprefix("command:"), timeout=max(args.timeout, 1.0))
    else:
        raise ValueError("a secret-chat target is secret:mtcrypt or secret:command:PROGRAM")
    try:
        return run_secret_suite(
            target,
            scenarios,
            layer=layer,
            progress=_progress(args.quiet),  # type: ignore[arg-type]
        )
    finally:
        if isinstance(target, SecretCommandTarget):
            target.close()


def _progress(quiet: bool) -> object:
    def show(result: ScenarioResult) -> None:
        print(f"  {result.status:5} {result.id}: {result.observed}", file=sys.stderr, flush=True)

    return None if quiet else show


async def _client_report(args: argparse.Namespace, scenarios: list[Scenario]) -> Report:
    from .adapters import CommandAdapter, make_adapter
    from .runner import run_client_suite

    adapter = make_adapter(args.target)
    if isinstance(adapter, CommandAdapter) and args.features is not None:
        adapter.features = frozenset(f.strip() for f in args.features.split(",") if f.strip())
    return await run_client_suite(
        adapter,
        scenarios,
        timeout=args.timeout,
        progress=_progress(args.quiet),  # type: ignore[arg-type]
    )


async def _server_report(args: argparse.Namespace, scenarios: list[Scenario]) -> Report:
    from ...handshake.rsa import load_public_key
    from ..reference import ReferenceServer
    from .mirror import ServerEndpoint, run_server_suite

    progress = _progress(args.quiet)
    async with contextlib.AsyncExitStack() as stack:
        if args.target == "mtcrypt-server":
            server = await stack.enter_async_context(
                ReferenceServer(enforce_salt=True, secrets=[_SERVER_SECRET], dc_id=2)
            )
            endpoint = ServerEndpoint(
                "127.0.0.1", server.port, server.public_key, secret=_SERVER_SECRET
            )
        else:
            host, _, port = args.target.removeprefix("server:").rpartition(":")
            if not host or not port.isdigit() or not args.rsa_key:
                raise ValueError("server:HOST:PORT needs a host, a port and --rsa-key PEM")
            try:
                pem = Path(args.rsa_key).read_bytes()
            except OSError as exc:
                raise ValueError(
                    f"cannot read the RSA key {args.rsa_key}: {exc.strerror}"
                ) from None
            endpoint = ServerEndpoint(host, int(port), load_public_key(pem), secret=args.secret)
        return await run_server_suite(
            endpoint,
            scenarios,
            target=args.target,
            timeout=args.timeout,
            progress=progress,  # type: ignore[arg-type]
        )


def _usage_error(problem: object) -> int:
    print(f"python -m mtcrypt conformance: error: {problem}", file=sys.stderr)
    return 2


def _check_outputs(args: argparse.Namespace) -> str | None:
    """A report file that cannot be written, found before the run (not after it)."""
    for path in (args.json, args.junit):
        if path is None:
            continue
        target = Path(path)
        folder = target.parent if str(target.parent) else Path(".")
        if target.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
            return f"cannot write the report to {path}"
    return None


def run(args: argparse.Namespace) -> int:
    """Run the ``conformance`` subcommand; returns the exit status."""
    from ...errors import MtcryptError

    problem = None if args.list else _check_outputs(args)
    if problem is not None:
        return _usage_error(problem)
    if args.target.startswith("secret:"):
        return _run_secret(args)
    if args.layer is not None:
        return _usage_error("--layer applies to secret-chat targets only")
    server_target = args.target == "mtcrypt-server" or args.target.startswith("server:")
    role = "server" if server_target else "client"
    try:
        scenarios = _select(args, None if args.list else role)
    except (MtcryptError, OSError, ValueError) as exc:
        return _usage_error(exc)
    if args.list:
        for s in scenarios:
            print(f"{s.id:30} {s.role:6} {s.expect:6} {s.checklist:3} {s.description}")
        return 0
    if not scenarios:
        return _usage_error("no scenario selected")
    try:
        coro = _server_report(args, scenarios) if server_target else _client_report(args, scenarios)
        report = asyncio.run(coro)
    except (ImportError, ValueError) as exc:  # MtcryptError's argument errors are ValueErrors
        return _usage_error(exc)
    return _finish(args, report)


def _run_secret(args: argparse.Namespace) -> int:
    if args.scenarios or args.no_defaults:
        return _usage_error("secret-chat targets play the built-in scenarios only")
    scenarios = _select_secret(args)
    if args.list:
        for s in scenarios:
            sides = "both" if len(s.roles) > 1 else "one"
            print(f"{s.id:30} {sides:4} {s.expect:10} {s.checklist:3} {s.description}")
        return 0
    if not scenarios:
        return _usage_error("no scenario selected")
    try:
        report = _secret_report(args, scenarios)
    except ValueError as exc:
        return _usage_error(exc)
    return _finish(args, report)


def _finish(args: argparse.Namespace, report: Report) -> int:
    """Print and write the report; the exit status at ``--fail-on``."""
    print(report.to_table())
    try:
        if args.json:
            report.to_json(args.json)
        if args.junit:
            report.to_junit(args.junit, fail_on=args.fail_on)
    except OSError as exc:
        print(f"python -m mtcrypt conformance: cannot write the report: {exc}", file=sys.stderr)
        return 2
    return 1 if report.failed(args.fail_on) else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m mtcrypt conformance [options]``."""
    parser = argparse.ArgumentParser(
        prog="python -m mtcrypt conformance",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
