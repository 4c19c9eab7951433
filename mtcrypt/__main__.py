"""Command line: ``python -m mtcrypt {demo,info}``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mtcrypt", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("demo", help="self-check of the native core with throughput figures")
    sub.add_parser("info", help="CPU features, backend and version")
    args = parser.parse_args(argv)
    from . import _selfcheck

    if args.command == "info":
        _selfcheck.info()
        return 0
    if args.command in (None, "demo"):
        return _selfcheck.demo()
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
