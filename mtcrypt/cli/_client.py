"""``python -m mtcrypt client HOST:PORT``: handshake and pings against a server
or an MTProxy, one JSON line out.  For people who run servers and proxies."""

from __future__ import annotations

import argparse
import asyncio
import math

from ..errors import HandshakeError, MtcryptError, TransportError
from ._common import (
    CliError,
    UsageError,
    address,
    os_reason,
    positive_int,
    print_json,
    read_public_key,
    seconds,
)

TRANSPORTS = {
    "abridged": "abridged",
    "intermediate": "intermediate",
    "padded": "padded_intermediate",
    "full": "full",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "address",
        nargs="?",
        type=address,
        metavar="HOST:PORT",
        help="the server or proxy (optional with --link, which names one)",
    )
    parser.add_argument(
        "--rsa-key",
        metavar="PEM",
        help="the server's RSA public key (a private key file works too; "
        "default: Telegram's production keys)",
    )
    parser.add_argument(
        "--transport",
        choices=sorted(TRANSPORTS),
        help="framing (default: padded with dd/ee secrets, otherwise intermediate)",
    )
    parser.add_argument(
        "--obfuscated", action="store_true", help="send an obfuscated2 header (implied by a secret)"
    )
    proxy = parser.add_mutually_exclusive_group()
    proxy.add_argument(
        "--secret",
        metavar="SECRET",
        help="connect through an MTProxy with this secret (hex, base64 or base64url; "
        "plain, dd or ee)",
    )
    proxy.add_argument(
        "--link",
        metavar="URL",
        help="an MTProxy link, tg://proxy?server=...&port=...&secret=... or https://t.me/proxy?...",
    )
    parser.add_argument(
        "--dc",
        type=int,
        default=2,
        metavar="ID",
        help="DC id written into the obfuscation header (default 2)",
    )
    parser.add_argument(
        "--count", type=positive_int, default=10, metavar="N", help="pings to send (default 10)"
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=10.0,
        metavar="SECONDS",
        help="give up on the connection, the handshake or a ping after this long (default 10)",
    )


def _percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def _plan(args: argparse.Namespace) -> tuple[str, int, dict[str, object]]:
    """Host, port and ``Client.connect`` options, validated before any I/O."""
    from ..transport import ClientTransport, ProxySecret, parse_proxy_link

    secret: ProxySecret | None = None
    host_port = args.address
    if args.link is not None:
        try:
            link = parse_proxy_link(args.link)
        except MtcryptError as exc:
            raise UsageError(f"bad --link: {exc}") from None
        secret = link.secret
        host_port = host_port or (link.server, link.port)
    elif args.secret is not None:
        try:
            secret = ProxySecret.parse(args.secret)
        except MtcryptError as exc:
            raise UsageError(f"bad --secret: {exc}") from None
    if host_port is None:
        raise UsageError("name the server as HOST:PORT (or give an MTProxy --link)")
    framing = TRANSPORTS[args.transport] if args.transport else None
    try:  # the transport checks framing/secret/dc combinations; no I/O yet
        transport = ClientTransport(
            framing, obfuscated=args.obfuscated, secret=secret, dc_id=args.dc
        )
    except MtcryptError as exc:
        raise UsageError(str(exc)) from None
    options: dict[str, object] = {
        "framing": transport.info.framing.value,
        "obfuscated": args.obfuscated or secret is not None,
        "secret": secret,
        "dc_id": args.dc,
    }
    return host_port[0], host_port[1], options


async def _session(
    host: str, port: int, options: dict[str, object], args: argparse.Namespace
) -> dict[str, object]:
    from ..aio import Client
    from ..handshake.rsa import TELEGRAM_PRODUCTION_KEYS

    public_keys = [read_public_key(args.rsa_key)] if args.rsa_key else TELEGRAM_PRODUCTION_KEYS
    where = f"{host}:{port}"
    stage = "connecting"
    try:
        client = await Client.connect(
            host,
            port,
            public_keys=public_keys,
            timeout=args.timeout,
            **options,  # type: ignore[arg-type]
        )
        stage = "pinging"
        try:
            rtts = [await client.ping(timeout=args.timeout) for _ in range(args.count)]
            key = client.auth_key
            handshake_ms = client.handshake_seconds * 1e3
            offset = client.time_offset
        finally:
            await client.close()
    except TimeoutError:
        raise CliError(f"{where}: no answer within {args.timeout:g} s ({stage})") from None
    except HandshakeError as exc:
        raise CliError(f"{where}: the handshake failed: {exc}") from None
    except TransportError as exc:
        raise CliError(f"{where}: {exc} ({stage})") from None
    except OSError as exc:
        raise CliError(f"cannot connect to {where}: {os_reason(exc)}") from None
    except MtcryptError as exc:
        raise CliError(f"{where}: {exc} ({stage})") from None
    rtts.sort()
    secret = options["secret"]
    return {
        "address": where,
        "transport": options["framing"],
        "obfuscated": options["obfuscated"],
        "proxy": None if secret is None else secret.kind.value,  # type: ignore[attr-defined]
        "dc": args.dc,
        "handshake_ms": round(handshake_ms, 3),
        "pings": len(rtts),
        "rtt_ms": {
            "min": round(rtts[0] * 1e3, 3),
            "p50": round(_percentile(rtts, 0.50) * 1e3, 3),
            "p90": round(_percentile(rtts, 0.90) * 1e3, 3),
            "p99": round(_percentile(rtts, 0.99) * 1e3, 3),
            "max": round(rtts[-1] * 1e3, 3),
        },
        "auth_key_id": None if key is None else f"{key.key_id & 0xFFFFFFFFFFFFFFFF:016x}",
        "server_time_offset_s": round(offset, 3),
    }


def run(args: argparse.Namespace) -> int:
    host, port, options = _plan(args)
    print_json(asyncio.run(_session(host, port, options, args)))
    return 0
