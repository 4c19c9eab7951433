"""``python -m mtcrypt serve``: the reference server, with deadlines and limits."""

from __future__ import annotations

import argparse
import asyncio
import logging

from ..errors import MtcryptError
from ._common import (
    CliError,
    Options,
    UsageError,
    add_options,
    count,
    log_level_option,
    log_to_stderr,
    os_reason,
    port,
    positive_int,
    print_json,
    read_private_key,
    seconds,
)

log = logging.getLogger("mtcrypt.server")


_OPTIONS: Options = (
    ("--host", {"default": "127.0.0.1", "help": "address to listen on (default 127.0.0.1)"}),
    (
        "--port",
        {
            "type": port,
            "default": 0,
            "help": "port to listen on (default 0: any free port)",
        },
    ),
    (
        "--rsa-key",
        {
            "metavar": "PEM",
            "help": "the server's RSA private key (default: a fresh one)",
        },
    ),
    (
        "--secret",
        {
            "action": "append",
            "metavar": "SECRET",
            "help": "accept MTProxy clients with this secret: 32 hex digits (plain obfuscated2), "
            "dd + 32 hex digits, or ee + 32 hex digits + hex domain (fake-TLS); repeatable",
        },
    ),
    ("--echo", {"action": "store_true", "help": "answer every query with the query itself"}),
    (
        "--enforce-salt",
        {
            "action": "store_true",
            "help": "reject messages with a wrong server salt (bad_server_salt), as Telegram does",
        },
    ),
    (
        "--seed",
        {
            "type": int,
            "help": "seed the server's randomness (reproducible test runs only)",
        },
    ),
    (
        "--handshake-timeout",
        {
            "type": seconds,
            "default": 30.0,
            "metavar": "SECONDS",
            "help": "close a connection that has not created or used a key by then (default 30)",
        },
    ),
    (
        "--idle-timeout",
        {
            "type": seconds,
            "default": 300.0,
            "metavar": "SECONDS",
            "help": "close a connection that sent no complete frame for this long (default 300)",
        },
    ),
    (
        "--max-connections",
        {
            "type": positive_int,
            "metavar": "N",
            "help": "refuse connections beyond N open ones (default: no cap)",
        },
    ),
    (
        "--max-buffered-bytes",
        {
            "type": positive_int,
            "metavar": "N",
            "help": "one budget for the partial frames of all connections; the connection "
            "that would exceed it is closed (default: no shared cap; 8 MiB per connection)",
        },
    ),
    (
        "--max-frame",
        {
            "type": positive_int,
            "default": 2 * 1024 * 1024,
            "metavar": "BYTES",
            "help": "largest frame accepted (default 2 MiB)",
        },
    ),
    (
        "--handshake-workers",
        {
            "type": count,
            "default": 2,
            "metavar": "N",
            "help": "worker processes for the handshakes' RSA and DH work, off the event loop "
            "(default 2; 0 runs them on the loop; threads instead with --seed)",
        },
    ),
    (
        "--no-legacy-rsa",
        {
            "action": "store_true",
            "help": "refuse the legacy RSA padding (Telethon and Pyrogram still send it)",
        },
    ),
    (
        "--backlog",
        {
            "type": positive_int,
            "default": 1024,
            "metavar": "N",
            "help": "listen backlog (default 1024)",
        },
    ),
    log_level_option(
        "what the server logs to stderr (default info: connections, handshakes, drops)"
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, _OPTIONS)


def _describe_secrets(secrets: list[str]) -> str:
    """What the server accepts, without the secrets themselves."""
    from ..transport import ProxySecret

    kinds = []
    for text in secrets:
        secret = ProxySecret.parse(text)
        kind = secret.kind.value
        kinds.append(f"{kind} ({secret.domain})" if secret.domain else kind)
    return ", ".join(kinds)


def run(args: argparse.Namespace) -> int:
    import gc
    import signal

    from ..connection import ConnectionLimits, Timeouts
    from ..handshake.rsa import generate_private_key
    from ..testing import ReferenceServer, echo_handler
    from ..transport import ProxySecret

    for secret in args.secret or ():
        try:
            ProxySecret.parse(secret)
        except MtcryptError as exc:
            raise UsageError(f"bad --secret: {exc}") from None
    key = read_private_key(args.rsa_key) if args.rsa_key else None
    try:
        timeouts = Timeouts(handshake=args.handshake_timeout, idle=args.idle_timeout)
        limits = ConnectionLimits(max_frame=args.max_frame)
    except MtcryptError as exc:
        raise UsageError(str(exc)) from None
    log_to_stderr(args.log_level)
    if key is None:
        log.info("no --rsa-key: generating a fresh 2048-bit RSA key")
        key = generate_private_key()

    async def serve() -> None:
        server = ReferenceServer(
            key,
            host=args.host,
            port=args.port,
            secrets=args.secret or (),
            handler=echo_handler if args.echo else None,
            enforce_salt=args.enforce_salt,
            seed=args.seed,
            handshake_workers=args.handshake_workers,
            handshake_processes=args.handshake_workers > 0 and args.seed is None,
            timeouts=timeouts,
            limits=limits,
            max_connections=args.max_connections,
            max_buffered_bytes=args.max_buffered_bytes,
            accept_legacy_rsa=not args.no_legacy_rsa,
            backlog=args.backlog,
        )
        await server.start()
        # Everything loaded so far lives as long as the process: keep it out of
        # the collector's full passes, which otherwise pause the event loop for
        # tens of milliseconds under load.
        gc.freeze()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        public = server.public_key
        log.info(
            "key fingerprint %d; transports: abridged, intermediate, padded, full, "
            "obfuscated2%s; handshake timeout %gs, idle timeout %gs, max frame %d bytes, "
            "max connections %s; handshake work: %s",
            public.fingerprint,
            f"; MTProxy secrets: {_describe_secrets(args.secret)}" if args.secret else "",
            args.handshake_timeout,
            args.idle_timeout,
            args.max_frame,
            args.max_connections or "unlimited",
            (
                f"{args.handshake_workers} worker {'processes' if args.seed is None else 'threads'}"
                if args.handshake_workers
                else "on the event loop"
            ),
        )
        print_json(
            {
                "host": args.host,
                "port": server.port,
                "fingerprint": str(public.fingerprint),
                "n": str(public.n),
                "e": public.e,
                "public_key_pem": public.to_pem(),
            }
        )
        await stop.wait()
        log.info("shutting down")
        await server.close()

    try:
        asyncio.run(serve())
    except OSError as exc:  # the port is taken, the address is not ours or not resolvable
        raise CliError(f"cannot listen on {args.host}:{args.port}: {os_reason(exc)}") from None
    except MtcryptError as exc:  # an option combination the server refuses
        raise UsageError(str(exc)) from None
    return 0
