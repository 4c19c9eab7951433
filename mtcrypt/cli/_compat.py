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
            compat.enable_startup_hook(replace=args.replace)
        elif args.action == "disable":
            compat.disable_startup_hook()
    except MtcryptError as exc:
        raise CliError(str(exc)) from None
    status = compat.startup_hook_status()
    print_json(
        {
            "startup_hook": str(status.path),
            "enabled": status.enabled,
            "replace": status.replace,
            "switched_off_by_MTCRYPT_COMPAT": status.switched_off,
        }
    )
    return 0
