"""Command line: ``python -m mtcrypt {demo,serve,keygen,info,bench,conformance}``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    from .handshake.rsa import generate_private_key, load_private_key
    from .testing import ReferenceServer, echo_handler

    key = (
        load_private_key(Path(args.rsa_key).read_bytes())
        if args.rsa_key
        else generate_private_key()
    )

    async def run() -> None:
        server = ReferenceServer(
            key,
            host=args.host,
            port=args.port,
            secrets=args.secret or (),
            handler=echo_handler if args.echo else None,
            enforce_salt=args.enforce_salt,
            seed=args.seed,
        )
        async with server:
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
            await server.server.serve_forever()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0


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
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--rsa-key", help="PEM private key (default: a fresh one)")
    serve.add_argument("--secret", action="append", help="accept this MTProxy secret")
    serve.add_argument("--echo", action="store_true", help="answer queries with themselves")
    serve.add_argument("--enforce-salt", action="store_true")
    serve.add_argument("--seed", type=int, help="seed the server's randomness (tests)")
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
