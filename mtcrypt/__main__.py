"""Command line: ``python -m mtcrypt {demo,serve,keygen,info,bench,conformance}``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path


def _fail(message: str, status: int = 2) -> int:
    """One line on stderr instead of a traceback (a user's mistake, not a bug)."""
    print(f"mtcrypt: error: {message}", file=sys.stderr)
    return status


def _serve(args: argparse.Namespace) -> int:
    import gc
    import logging
    import signal

    from .connection import ConnectionLimits, Timeouts
    from .errors import MtcryptError
    from .handshake.rsa import generate_private_key, load_private_key
    from .testing import ReferenceServer, echo_handler
    from .transport import ProxySecret

    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        key = (
            load_private_key(Path(args.rsa_key).read_bytes())
            if args.rsa_key
            else generate_private_key()
        )
    except OSError as exc:
        return _fail(f"cannot read the RSA key {args.rsa_key}: {exc.strerror or exc}")
    except MtcryptError as exc:
        return _fail(f"{args.rsa_key} is not an RSA private key: {exc}")
    for secret in args.secret or ():
        try:
            ProxySecret.parse(secret)
        except MtcryptError as exc:
            return _fail(f"bad --secret {secret!r}: {exc}")
    try:
        timeouts = Timeouts(handshake=args.handshake_timeout, idle=args.idle_timeout)
        limits = ConnectionLimits(max_frame=args.max_frame)
    except MtcryptError as exc:
        return _fail(str(exc))

    async def run() -> None:
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
        print(
            json.dumps(
                {
                    "host": args.host,
                    "port": server.port,
                    "fingerprint": str(public.fingerprint),
                    "n": str(public.n),
                    "e": public.e,
                    "public_key_pem": public.to_pem(),
                }
            ),
            flush=True,
        )
        await stop.wait()
        logging.getLogger("mtcrypt.server").info("shutting down")
        await server.close()

    try:
        asyncio.run(run())
    except OSError as exc:  # the port is taken, the address is not ours...
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", 1)
    except MtcryptError as exc:  # an option combination the server refuses
        return _fail(str(exc))
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be a port number, 0..65535 (0: any free port)")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def _keygen(args: argparse.Namespace) -> int:
    from .handshake.rsa import generate_private_key

    key = generate_private_key()
    Path(args.out).write_text(key.to_pem(), encoding="utf-8")
    Path(args.out + ".pub").write_text(key.public_key.to_pem(), encoding="utf-8")
    print(
        json.dumps(
            {
                "private_key": args.out,
                "public_key": args.out + ".pub",
                "fingerprint": str(key.fingerprint),
            }
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mtcrypt", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("demo", help="reference server + client on every transport, with figures")
    sub.add_parser("info", help="CPU features, backend and version")
    sub.add_parser("bench", help="quick throughput figures of the native core")
    serve = sub.add_parser("serve", help="run the reference server (prints one JSON line)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=0, help="0 (default): any free port")
    serve.add_argument("--rsa-key", help="PEM private key (default: a fresh one)")
    serve.add_argument("--secret", action="append", help="accept this MTProxy secret")
    serve.add_argument("--echo", action="store_true", help="answer queries with themselves")
    serve.add_argument("--enforce-salt", action="store_true")
    serve.add_argument("--seed", type=int, help="seed the server's randomness (tests)")
    serve.add_argument(
        "--handshake-timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="close a connection that has not created or used a key by then (default 30)",
    )
    serve.add_argument(
        "--idle-timeout",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="close a connection that sent no complete frame for this long (default 300)",
    )
    serve.add_argument(
        "--max-connections",
        type=_positive_int,
        metavar="N",
        help="refuse connections beyond N open ones (default: no cap)",
    )
    serve.add_argument(
        "--max-buffered-bytes",
        type=_positive_int,
        metavar="N",
        help="one budget for the partial frames of all connections; the connection "
        "that would exceed it is closed (default: no shared cap; 8 MiB per connection)",
    )
    serve.add_argument(
        "--max-frame",
        type=_positive_int,
        default=2 * 1024 * 1024,
        metavar="BYTES",
        help="largest frame accepted (default 2 MiB)",
    )
    serve.add_argument(
        "--handshake-workers",
        type=_count,
        default=2,
        metavar="N",
        help="worker processes for the handshakes' RSA and DH work, off the event loop "
        "(default 2; 0 runs them on the loop; threads instead with --seed)",
    )
    serve.add_argument(
        "--no-legacy-rsa",
        action="store_true",
        help="refuse the legacy RSA padding (Telethon and Pyrogram still send it)",
    )
    serve.add_argument("--backlog", type=_positive_int, default=1024, help="listen backlog")
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error", "critical"],
        help="what the server logs to stderr (default info: connections, handshakes, drops)",
    )
    keygen = sub.add_parser("keygen", help="write an RSA key pair and print its fingerprint")
    keygen.add_argument("out", help="private key file (public key goes to OUT.pub)")
    sub.add_parser(
        "conformance", add_help=False, help="play conformance scenarios against a client or server"
    )
    args, extra = parser.parse_known_args(argv)
    if args.command == "conformance":  # its options are parsed by the conformance package
        from .testing.conformance.cli import main as conformance_main

        return conformance_main(extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "serve":
        return _serve(args)
    if args.command == "keygen":
        return _keygen(args)
    from . import _selfcheck

    if args.command == "info":
        _selfcheck.info()
        return 0
    if args.command == "bench":
        _selfcheck.info()
        _selfcheck.throughput()
        return 0
    from ._demo import demo

    return demo()


if __name__ == "__main__":
    sys.exit(main())
