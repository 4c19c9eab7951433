"""``python -m mtcrypt conformance``: play the scenarios against a target.

Targets that are **clients** (the adversarial server plays against them):
``mtcrypt``, ``telethon``, ``pyrogram``, ``command:<program and arguments>``.
Targets that are **servers** (the mirror client plays against them):
``mtcrypt-server`` (a reference server started here, enforcing salts) and
``server:HOST:PORT`` (needs ``--rsa-key`` with the server's public key, and
``--secret`` for the fake-TLS scenarios).

Prints a table (and progress on stderr unless ``--quiet``), writes JSON with
``--json FILE``, and exits with 0 when every scenario passed, 1 when there are
findings, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fnmatch
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runner import Report, ScenarioResult
    from .scenarios import Scenario

__all__ = ["DESCRIPTION", "add_arguments", "main", "run"]

DESCRIPTION = """\
Play the conformance scenarios against a target and report what it accepts.

Client targets (an adversarial server plays against them): mtcrypt, telethon,
pyrogram, command:"PROGRAM ARGS..." (a JSON-lines adapter).  Server targets (a
mirror client plays against them): mtcrypt-server (a reference server started
here) and server:HOST:PORT (needs --rsa-key, and --secret for fake-TLS).

Exit status: 0 when every scenario passed, 1 with findings, 2 on usage errors.
"""

_SERVER_SECRET = "ee" + "5e" * 16 + b"conformance.example".hex()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``conformance`` subcommand's options."""
    parser.add_argument(
        "--target",
        default="mtcrypt",
        help="telethon | pyrogram | mtcrypt | command:CMD (clients); "
        "mtcrypt-server | server:HOST:PORT (servers)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
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
        patterns = [p.strip() for p in args.only.split(",") if p.strip()]
        chosen = [s for s in chosen if any(fnmatch.fnmatchcase(s.id, p) for p in patterns)]
    if args.skip:
        patterns = [p.strip() for p in args.skip.split(",") if p.strip()]
        chosen = [s for s in chosen if not any(fnmatch.fnmatchcase(s.id, p) for p in patterns)]
    return chosen


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
                ReferenceServer(enforce_salt=True, secrets=[_SERVER_SECRET])
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


def run(args: argparse.Namespace) -> int:
    """Run the ``conformance`` subcommand; returns the exit status."""
    from ...errors import MtcryptError

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
    print(report.to_table())
    if args.json:
        report.to_json(args.json)
    return 0 if report.passed else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m mtcrypt conformance [options]``."""
    parser = argparse.ArgumentParser(
        prog="python -m mtcrypt conformance",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
