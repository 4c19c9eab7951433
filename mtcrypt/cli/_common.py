"""What every subcommand shares: the two kinds of failure, argument types, option
tables and logging, and reading key files named on the command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import MtcryptError

if TYPE_CHECKING:
    from ..handshake.rsa import RsaPrivateKey, RsaPublicKey

T = TypeVar("T")

USAGE = 2
"""Exit status for a mistake in the invocation: options, files named as input,
the environment."""

FAILURE = 1
"""Exit status for an operation that could not be done: a busy port, a refused
connection, a failed handshake."""


class CliError(Exception):
    """A failure reported as one line on stderr; ``status`` is the exit status."""

    def __init__(self, message: str, status: int = FAILURE) -> None:
        super().__init__(message)
        self.status = status


class UsageError(CliError):
    """A mistake in the invocation (exit status 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, USAGE)


def os_reason(exc: OSError) -> str:
    """``strerror`` without the errno and path decorations; socket name
    resolution errors included."""
    if isinstance(exc, socket.gaierror):  # negative EAI_* codes: strerror is the text
        return str(exc.strerror or exc)
    if exc.errno is not None and exc.errno > 0:  # asyncio words "Connect call failed (...)"
        return os.strerror(exc.errno)
    return str(exc.strerror or exc)


def print_json(record: dict[str, object]) -> None:
    print(json.dumps(record), flush=True)


# ---- option tables and logging (the long-running subcommands: serve, proxy) ------------

Options = tuple[tuple[str, dict[str, Any]], ...]
"""A subcommand's options as data: each flag, then ``add_argument``'s keywords."""

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def add_options(parser: argparse.ArgumentParser, options: Options) -> None:
    """Add every option of the table to ``parser``."""
    for flag, keywords in options:
        parser.add_argument(flag, **keywords)


def log_level_option(help_text: str) -> tuple[str, dict[str, Any]]:
    """The ``--log-level`` entry of an option table (default ``info``)."""
    return ("--log-level", {"default": "info", "choices": list(LOG_LEVELS), "help": help_text})


def log_to_stderr(level: str, *, with_pid: bool = False) -> None:
    """Log at ``level`` (a :data:`LOG_LEVELS` name) to stderr, one timestamped line a
    record; ``with_pid`` adds the process id (for servers that fork workers)."""
    pid = "[%(process)d]" if with_pid else ""
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s %(levelname)s %(name)s{pid}: %(message)s",
        stream=sys.stderr,
    )


# ---- argument types (argparse turns a ValueError into a usage error) -------------------


def _int_at_least(text: str, least: int, refusal: str) -> int:
    value = int(text)
    if value < least:
        raise argparse.ArgumentTypeError(refusal)
    return value


def positive_int(text: str) -> int:
    return _int_at_least(text, 1, "must be a positive integer")


def count(text: str) -> int:
    return _int_at_least(text, 0, "must be 0 or more")


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be a port number, 0..65535 (0: any free port)")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def address(text: str, *, lowest_port: int = 1) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``IPv6:PORT`` (the last colon splits)."""
    host, sep, port_text = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    if not port_text.isdigit() or not lowest_port <= int(port_text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: the port must be {lowest_port}..65535")
    return host, int(port_text)


def listen_address(text: str) -> tuple[str, int]:
    """An address to listen on: ``HOST:PORT`` where port 0 picks any free port."""
    return address(text, lowest_port=0)


# ---- key files ---------------------------------------------------------------------------


def _load(path: str, what: str, parse: Callable[[bytes], T]) -> T:
    """Read ``path`` and parse it; either failure is a usage error naming the file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {path}: {os_reason(exc)}") from None
    try:
        return parse(data)
    except MtcryptError as exc:
        raise UsageError(f"{path} is not an {what} in PEM form: {exc}") from None


def read_private_key(path: str) -> RsaPrivateKey:
    from ..handshake.rsa import load_private_key

    return _load(path, "RSA private key", load_private_key)


def read_public_key(path: str) -> RsaPublicKey:
    """A public key, or the public half of a private key file."""
    from ..handshake.rsa import load_public_key

    return _load(path, "RSA key", load_public_key)
