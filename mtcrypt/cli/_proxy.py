"""``python -m mtcrypt proxy``: an MTProxy relay (direct mode) with masking,
limits, counters and worker processes."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
from collections.abc import Callable, Coroutine
from typing import Any, cast

from ..errors import MtcryptError
from ._common import (
    CliError,
    Options,
    UsageError,
    add_options,
    address,
    listen_address,
    log_level_option,
    log_to_stderr,
    os_reason,
    port,
    positive_int,
    seconds,
)

log = logging.getLogger("mtcrypt.proxy")

_WILDCARDS = ("", "0.0.0.0", "::")


def _named_secret(text: str) -> tuple[str, str]:
    name, sep, secret = text.partition("=")
    if not sep or not name or not secret:
        raise argparse.ArgumentTypeError(
            "is not NAME=SECRET (e.g. phones=dd0123456789abcdef0123456789abcdef)"
        )
    return name, secret


def _dc(text: str) -> tuple[int, tuple[str, int]]:
    ident, sep, where = text.partition("=")
    try:
        dc_id = int(ident)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not ID=HOST:PORT") from None
    if not sep or not -0x8000 <= dc_id <= 0x7FFF or dc_id == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not ID=HOST:PORT with a DC id")
    return dc_id, address(where)


_OPTIONS: Options = (
    (
        "--secret",
        {
            "action": "append",
            "type": _named_secret,
            "metavar": "NAME=SECRET",
            "help": "accept clients with SECRET, counted under NAME (repeatable): 32 hex digits "
            "(plain obfuscated2), dd + 32 hex digits, or ee + 32 hex digits + the hex of a domain "
            "(fake-TLS, also accepted as base64url)",
        },
    ),
    ("--host", {"default": "0.0.0.0", "help": "address to listen on (default 0.0.0.0)"}),
    ("--port", {"type": port, "default": 443, "help": "port to listen on (default 443; 0: any)"}),
    (
        "--link-host",
        {
            "metavar": "HOST",
            "help": "the server name put in the printed tg://proxy links "
            "(default: --host, or this machine's name when --host is a wildcard)",
        },
    ),
    (
        "--dc",
        {
            "action": "append",
            "type": _dc,
            "metavar": "ID=HOST:PORT",
            "help": "send clients asking for DC ID here (repeatable; negative: media, "
            "+10000: test); defaults are Telegram's published addresses",
        },
    ),
    (
        "--mask-host",
        {
            "type": address,
            "metavar": "HOST:PORT",
            "help": "forward connections that fail the checks here, byte for byte "
            "(default: the first ee secret's domain on port 443)",
        },
    ),
    (
        "--no-mask",
        {
            "action": "store_true",
            "help": "hold failing connections silently until the handshake timeout instead",
        },
    ),
    (
        "--handshake-timeout",
        {
            "type": seconds,
            "default": 10.0,
            "metavar": "SECONDS",
            "help": "a client must be recognised, and the DC reached, within this (default 10)",
        },
    ),
    (
        "--idle-timeout",
        {
            "type": seconds,
            "default": 300.0,
            "metavar": "SECONDS",
            "help": "close a relayed connection with no bytes either way for this long "
            "(default 300)",
        },
    ),
    (
        "--max-connections",
        {"type": positive_int, "metavar": "N", "help": "open connections at once, per worker"},
    ),
    (
        "--max-connections-per-secret",
        {"type": positive_int, "metavar": "N", "help": "relayed clients per secret, per worker"},
    ),
    (
        "--buffer-bytes",
        {
            "type": positive_int,
            "default": 256 * 1024,
            "metavar": "N",
            "help": "unsent bytes held towards one side before the other side stops being "
            "read (default 262144)",
        },
    ),
    (
        "--workers",
        {
            "type": positive_int,
            "default": 1,
            "metavar": "N",
            "help": "worker processes on the one port (SO_REUSEPORT), sharing the fake-TLS "
            "replay cache and the counters (default 1)",
        },
    ),
    (
        "--replay-cache-entries",
        {
            "type": positive_int,
            "default": 1 << 20,
            "metavar": "N",
            "help": "ClientHellos remembered (16 bytes each; default 1048576)",
        },
    ),
    (
        "--redis",
        {
            "metavar": "URL",
            "help": "keep the fake-TLS replay cache in Redis (redis://host:port/db), shared by "
            "relays on several hosts (the redis extra); replaces the in-memory one",
        },
    ),
    (
        "--stats",
        {
            "type": listen_address,
            "metavar": "HOST:PORT",
            "help": "serve per-secret counters in Prometheus text format here",
        },
    ),
    (
        "--shutdown-grace",
        {
            "type": seconds,
            "default": 5.0,
            "metavar": "SECONDS",
            "help": "on SIGTERM/SIGINT, let open connections run this long (default 5)",
        },
    ),
    (
        "--loop",
        {
            "default": "auto",
            "choices": ["auto", "asyncio", "uvloop"],
            "help": "event loop: uvloop (the uvloop extra) relays faster; auto uses it when "
            "installed (default auto)",
        },
    ),
    ("--log-ips", {"action": "store_true", "help": "put client addresses in the log"}),
    (
        "--backlog",
        {"type": positive_int, "default": 1024, "metavar": "N", "help": "listen backlog"},
    ),
    log_level_option("what is logged to stderr (default info; never a secret)"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, _OPTIONS)


class _Config:
    """The parsed options, checked; what every worker builds its server from."""

    def __init__(self, args: argparse.Namespace) -> None:
        from ..connection import Timeouts
        from ..proxy import DcTable, NamedSecret
        from ..transport import ProxySecret

        if not args.secret:
            raise UsageError("give at least one --secret NAME=SECRET")
        self.secrets: list[NamedSecret] = []
        for name, text in args.secret:
            try:
                self.secrets.append(NamedSecret(name, ProxySecret.parse(text)))
            except MtcryptError as exc:
                raise UsageError(f"bad --secret {name}: {exc}") from None
        names = [s.name for s in self.secrets]
        if len(set(names)) != len(names):
            raise UsageError("--secret names must be unique")
        try:
            self.dcs = DcTable(dict(args.dc or ()))
            self.timeouts = Timeouts(handshake=args.handshake_timeout, idle=args.idle_timeout)
        except MtcryptError as exc:
            raise UsageError(str(exc)) from None
        domains = [s.secret.domain for s in self.secrets if s.secret.domain]
        self.mask: tuple[str, int] | None = None
        if not args.no_mask:
            self.mask = args.mask_host or ((domains[0], 443) if domains else None)
        elif args.mask_host:
            raise UsageError("--mask-host and --no-mask contradict each other")
        if args.buffer_bytes < 1024:
            raise UsageError("--buffer-bytes must be at least 1024")
        self.loop_factory = _loop_factory(args.loop)
        self.args = args
        self.replay_cache()  # a bad --redis URL, or no redis-py: a usage error now

    def replay_cache(self) -> Any:
        """The Redis replay cache when ``--redis`` is given (one client per process)."""
        from ..proxy import RedisReplayCache
        from ..transport import FakeTlsPolicy

        if not self.args.redis:
            return None
        window = FakeTlsPolicy()
        try:
            return RedisReplayCache(self.args.redis, window=window.max_past + window.max_future)
        except MtcryptError as exc:
            raise UsageError(f"--redis: {exc}") from None

    def server(self, **extra: Any) -> Any:
        from ..aio.proxy import ProxyServer
        from ..transport import FakeTlsPolicy

        a = self.args
        redis = self.replay_cache()
        if redis is not None:
            extra["tls"] = FakeTlsPolicy(replay_cache=redis)
        return ProxyServer(
            self.secrets,
            host=a.host,
            port=a.port,
            dcs=self.dcs,
            mask=self.mask,
            timeouts=self.timeouts,
            max_connections=a.max_connections,
            max_connections_per_secret=a.max_connections_per_secret,
            buffer_bytes=a.buffer_bytes,
            log_ips=a.log_ips,
            backlog=a.backlog,
            **extra,
        )

    def links(self, bound_port: int) -> dict[str, str]:
        from ..transport import ProxyLink

        a = self.args
        host = a.link_host or (socket.getfqdn() if a.host in _WILDCARDS else a.host)
        return {s.name: ProxyLink(host, bound_port, s.secret).url() for s in self.secrets}

    def describe(self) -> str:
        """What is served, without the secrets."""
        kinds = ", ".join(
            f"{s.name}: {s.secret.kind.value}"
            + (f" ({s.secret.domain})" if s.secret.domain else "")
            for s in self.secrets
        )
        mask = "hold silently" if self.mask is None else f"mask to {self.mask[0]}:{self.mask[1]}"
        replay = "Redis" if self.args.redis else "in memory"
        return (
            f"secrets {kinds}; {len(self.dcs)} DCs; failing connections: {mask}; replay "
            f"cache {replay}; handshake "
            f"timeout {self.args.handshake_timeout:g}s, idle timeout {self.args.idle_timeout:g}s"
        )


def _loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop to run on: uvloop's when asked for, or for ``auto`` when installed."""
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise UsageError("--loop uvloop: uvloop is not installed") from None
        else:
            return cast(Callable[[], asyncio.AbstractEventLoop], uvloop.new_event_loop)
    return asyncio.new_event_loop


def _run(config: _Config, main: Coroutine[Any, Any, None]) -> None:
    with asyncio.Runner(loop_factory=config.loop_factory) as runner:
        runner.run(main)


def _announce(config: _Config, bound_port: int, stats_port: int | None) -> None:
    links = config.links(bound_port)
    record: dict[str, object] = {"host": config.args.host, "port": bound_port, "links": links}
    if stats_port is not None:
        record["stats_port"] = stats_port
    print(json.dumps(record), flush=True)
    for name, link in links.items():
        print(f"{name}: {link}", flush=True)


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def run(args: argparse.Namespace) -> int:
    config = _Config(args)
    log_to_stderr(args.log_level, with_pid=True)
    if args.workers > 1:
        return _run_workers(config)

    async def serve() -> None:
        import gc

        from ..aio.proxy import StatsServer

        server = config.server()
        await server.start()
        stats = None
        if args.stats:
            stats = StatsServer(
                [s.name for s in config.secrets], [server.stats.values], *args.stats
            )
            await stats.start()
        gc.freeze()
        log.info(
            "relay on %s:%d (%s); %s",
            args.host,
            server.port,
            type(asyncio.get_running_loop()).__module__.split(".")[0],
            config.describe(),
        )
        _announce(config, server.port, None if stats is None else stats.port)
        await _wait_for_signal()
        log.info("shutting down (%d open connections)", server.connections_open)
        if stats is not None:
            await stats.close()
        await server.close(grace=args.shutdown_grace)

    try:
        _run(config, serve())
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {os_reason(exc)}") from None
    return 0


# ---- several processes on one port ---------------------------------------------------


def _run_workers(config: _Config) -> int:
    import multiprocessing

    from ..aio.proxy import StatsServer
    from ..proxy.shared import SharedReplayCache, SharedStats
    from ..transport import FakeTlsPolicy

    args = config.args
    tls_window = FakeTlsPolicy()
    cache = None
    if not args.redis:  # Redis, when given, is the one replay cache of every worker
        cache = SharedReplayCache(
            args.replay_cache_entries, window=tls_window.max_past + tls_window.max_future
        )
    stats = SharedStats([s.name for s in config.secrets], args.workers)
    # Reserve the port (port 0: pick one) with SO_REUSEPORT; the workers bind
    # beside this socket, which never listens, and it is closed once they do.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    holder = socket.socket(family, socket.SOCK_STREAM)
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind((args.host, args.port))
    except OSError as exc:
        holder.close()
        _free(cache)
        raise CliError(f"cannot listen on {args.host}:{args.port}: {os_reason(exc)}") from None
    bound_port = holder.getsockname()[1]
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Queue()
    workers = [
        ctx.Process(
            target=_worker,
            args=(config, index, bound_port, cache, stats, ready),
            name=f"mtcrypt-proxy-{index}",
        )
        for index in range(args.workers)
    ]
    for process in workers:
        process.start()
    try:
        failures = [ready.get(timeout=30) for _ in workers]
        holder.close()
        errors = [f for f in failures if f]
        if errors:
            raise CliError(errors[0])

        async def supervise() -> None:
            server = None
            if args.stats:
                server = StatsServer(stats.names, stats.rows, *args.stats)
                await server.start()
            log.info(
                "relay on %s:%d with %d workers; %s",
                args.host,
                bound_port,
                args.workers,
                config.describe(),
            )
            _announce(config, bound_port, None if server is None else server.port)
            await _wait_for_signal()
            log.info("shutting down the workers")
            if server is not None:
                await server.close()

        _run(config, supervise())
    finally:
        for process in workers:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        for process in workers:
            process.join(args.shutdown_grace + 5)
            if process.is_alive():
                process.kill()
                process.join()
        _free(cache)
    return 0


def _free(cache: Any) -> None:
    if cache is not None:
        cache.close()
        cache.unlink()


def _worker(
    config: _Config,
    index: int,
    bound_port: int,
    cache: Any,
    stats: Any,
    ready: Any,
) -> None:
    from ..transport import FakeTlsPolicy

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM

    async def serve() -> None:
        config.args.port = bound_port
        extra: dict[str, Any] = {} if cache is None else {"tls": FakeTlsPolicy(replay_cache=cache)}
        server = config.server(reuse_port=True, stats=stats.row(index), **extra)
        try:
            await server.start()
        except OSError as exc:
            ready.put(f"cannot listen on {config.args.host}:{bound_port}: {os_reason(exc)}")
            return
        ready.put("")
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await server.close(grace=config.args.shutdown_grace)

    _run(config, serve())
    if cache is not None:
        cache.close()
