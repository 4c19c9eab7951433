"""The command line, ``python -m mtcrypt``.

Every subcommand reports a mistake in its invocation as one line on stderr and
exit status 2, a failed operation as one line and status 1; a traceback only
with ``--debug`` (or, with a one-line summary, for a bug in mtcrypt itself).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from typing import NoReturn

from ..errors import BackendUnavailable, MtcryptError
from ._common import USAGE, CliError, os_reason

__all__ = ["main"]

PROG = "python -m mtcrypt"

DESCRIPTION = "MTProto 2.0 cryptography and protocol tools."

EPILOG = """\
environment: MTCRYPT_BACKEND=auto|vaes|aesni|armv8|vpaes|portable picks the AES backend.
Run "python -m mtcrypt COMMAND --help" for a command's options.
"""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (its default prints the usage too)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(USAGE)


def _version() -> str:
    from .. import __version__

    return f"mtcrypt {__version__}"


def _build_parser() -> tuple[_Parser, dict[str, Callable[[argparse.Namespace], int]]]:
    from . import _client, _compat, _keygen, _proxy, _serve

    parser = _Parser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks instead of one-line errors"
    )
    sub = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", parser_class=_Parser
    )
    runners: dict[str, Callable[[argparse.Namespace], int]] = {}

    def command(name: str, summary: str, run: Callable[[argparse.Namespace], int]) -> _Parser:
        runners[name] = run
        sub_parser: _Parser = sub.add_parser(name, help=summary, description=summary + ".")
        sub_parser.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show tracebacks instead of one-line errors",
        )
        return sub_parser

    command("demo", "reference server and client on every transport, with figures", _demo)
    _serve.add_arguments(
        command("serve", "run the reference server (one JSON line out, logs on stderr)", _serve.run)
    )
    _proxy.add_arguments(
        command(
            "proxy",
            "run an MTProxy relay (plain, dd and ee secrets) with masking; links on stdout",
            _proxy.run,
        )
    )
    _client.add_arguments(
        command(
            "client", "connect to a server or MTProxy, handshake, ping; one JSON line", _client.run
        )
    )
    _keygen.add_arguments(
        command("keygen", "write an RSA key pair for serve and print its fingerprint", _keygen.run)
    )
    command("info", "CPU features, the native backend in use, and the version", _info)
    command("bench", "quick throughput figures of the native core", _bench)
    _compat.add_arguments(
        command(
            "compat",
            "make Telethon and Pyrogram use mtcrypt (enable | disable | status)",
            _compat.run,
        )
    )
    # conformance parses its own options (see _run_conformance); listed here for --help
    sub.add_parser(
        "conformance", add_help=False, help="play conformance scenarios against a client or server"
    )
    return parser, runners


def _demo(args: argparse.Namespace) -> int:
    from .._demo import demo

    return demo()


def _info(args: argparse.Namespace) -> int:
    from .. import _selfcheck

    _selfcheck.info()
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .. import _selfcheck

    _selfcheck.info()
    _selfcheck.throughput()
    return 0


def _run_conformance(argv: list[str]) -> int:
    # Its parser lives with the conformance kit, which is slow to import: only
    # when asked for.
    from ..testing.conformance import cli as conformance

    parser = _Parser(
        prog=f"{PROG} conformance",
        description=conformance.DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    conformance.add_arguments(parser)
    return conformance.run(parser.parse_args(argv))


def _report(exc: BaseException, prog: str, debug: bool) -> int:
    """One line for a user's mistake or a failure; the traceback for a bug."""
    if debug:
        traceback.print_exception(exc)
    if isinstance(exc, CliError):
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.status
    if isinstance(exc, BackendUnavailable):  # MTCRYPT_BACKEND names something unusable
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return USAGE
    if isinstance(exc, MtcryptError):
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    if isinstance(exc, OSError):  # the operating system said no: a failure, not a bug
        print(f"{prog}: error: {os_reason(exc)}", file=sys.stderr)
        return 1
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if not debug:
        print(
            f"{prog}: internal error: {type(exc).__name__}: {exc} "
            "(a bug in mtcrypt; run again with --debug for the traceback and please report it)",
            file=sys.stderr,
        )
    return 70  # EX_SOFTWARE


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("MTCRYPT_DEBUG") == "1"
    parser, runners = _build_parser()
    prog = PROG
    try:
        # conformance has its own parser: everything after the word is its
        if "conformance" in argv:
            index = argv.index("conformance")
            if all(a.startswith("-") for a in argv[:index]):
                prog = f"{PROG} conformance"
                return _run_conformance([a for a in argv[index + 1 :] if a != "--debug"])
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return USAGE
        prog = f"{PROG} {args.command}"
        return runners[args.command](args)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else USAGE
    except BaseException as exc:  # the one place that turns errors into lines
        return _report(exc, prog, debug)
