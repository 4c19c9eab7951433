"""``python -m mtcrypt keygen OUT``: an RSA key pair for ``serve``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ._common import CliError, UsageError, os_reason, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "out",
        metavar="OUT",
        help="private key file (PEM, mode 0600); the public key goes to OUT.pub",
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite OUT and OUT.pub if they exist"
    )
    parser.add_argument(
        "--bits",
        type=int,
        default=2048,
        choices=[2048, 3072, 4096],
        help="modulus size (default 2048, what Telegram's servers use)",
    )


def _write(path: Path, text: str, *, mode: int, force: bool) -> None:
    """Create ``path`` with ``mode`` from the start (never world-readable for a
    moment), refusing to replace an existing file unless ``force``."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise UsageError(f"{path} exists; pass --force to overwrite it") from None
    except OSError as exc:
        raise CliError(f"cannot write {path}: {os_reason(exc)}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), mode)  # an overwritten file keeps its old mode otherwise
        out.write(text)


def run(args: argparse.Namespace) -> int:
    from ..handshake.rsa import generate_private_key

    private_path = Path(args.out)
    public_path = Path(args.out + ".pub")
    if not args.force:
        for path in (private_path, public_path):
            if path.exists():
                raise UsageError(f"{path} exists; pass --force to overwrite it")
    if private_path.is_dir():
        raise UsageError(f"{private_path} is a directory")
    key = generate_private_key(args.bits)
    _write(private_path, key.to_pem(), mode=0o600, force=args.force)
    public_pem = key.public_key.to_pem()
    _write(public_path, public_pem, mode=0o644, force=args.force)
    print_json(
        {
            "private_key": str(private_path),
            "public_key": str(public_path),
            "fingerprint": str(key.fingerprint),
            "fingerprint_hex": f"{key.fingerprint & 0xFFFFFFFFFFFFFFFF:016x}",
            "public_key_pem": public_pem,
        }
    )
    return 0
