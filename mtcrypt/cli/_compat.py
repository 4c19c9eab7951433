"""``python -m mtcrypt compat enable|disable|status``: make Telethon and
Pyrogram use mtcrypt in this Python environment without changing their code."""

from __future__ import annotations

import argparse

from ..errors import MtcryptError
from ._common import CliError, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=["enable", "disable", "status"],
        help="enable: every Python started from this environment serves 'import cryptg' "
        "and 'import tgcrypto' with mtcrypt's shims (a .pth startup hook in site-packages); "
        "disable: remove the hook; status: say what is in place",
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="enable: shadow a real cryptg or tgcrypto that is installed too "
        "(default: a real package wins)",
    )


def run(args: argparse.Namespace) -> int:
    from .. import compat

    try:
        if args.action == "enable":
            path = compat.enable_startup_hook(replace=args.replace)
            print_json({"startup_hook": str(path), "enabled": True, "replace": args.replace})
        elif args.action == "disable":
            removed = compat.disable_startup_hook()
            print_json(
                {
                    "startup_hook": str(compat.startup_hook_path()),
                    "enabled": False,
                    "removed": removed is not None,
                }
            )
        else:
            path = compat.startup_hook_path()
            print_json({"startup_hook": str(path), "enabled": path.exists()})
    except MtcryptError as exc:
        raise CliError(str(exc)) from None
    return 0
