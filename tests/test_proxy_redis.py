"""The relay's replay cache in Redis (mtcrypt.proxy.RedisReplayCache) against a
real redis-server that the test starts: two relays standing for two hosts share
it, and a ClientHello accepted by one is masked by the other.

Skipped with the reason where Debian's redis-server is not installed, except
under CI=true (.ci/run installs it): there its absence fails the test."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from conftest import IN_CI, require
from test_proxy_aio import EE, MaskServer, _hello, _probe, relay_to

from mtcrypt.errors import InvalidArgument
from mtcrypt.proxy import RedisReplayCache
from mtcrypt.transport import FakeTlsPolicy


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    require("redis")
    server = shutil.which("redis-server")
    if server is None:
        if IN_CI:
            pytest.fail("redis-server is not installed (.ci/run installs Debian's package)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), 0.2) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def test_two_hosts_share_the_cache(redis_url: str) -> None:
    import redis

    one, two = RedisReplayCache(redis_url, window=60), RedisReplayCache(redis_url, window=60)
    fresh = _hello()[11:43]
    assert one.check_and_add(fresh)
    assert not two.check_and_add(fresh)  # the other host sees the replay
    assert not one.check_and_add(fresh)
    assert two.check_and_add(_hello()[11:43])
    ttl = redis.Redis.from_url(redis_url).ttl("mtcrypt:proxy:hello:" + fresh[:16].hex())
    assert 0 < ttl <= 60  # forgotten after the timestamp window
    assert not one.degraded


def test_relays_on_two_hosts_mask_a_replay(redis_url: str) -> None:
    async def run() -> None:
        hello = _hello()
        async with MaskServer() as mask:
            policy = FakeTlsPolicy(replay_cache=RedisReplayCache(redis_url))
            other = FakeTlsPolicy(replay_cache=RedisReplayCache(redis_url))
            async with (
                relay_to(1, mask=mask.address, tls=policy) as first,
                relay_to(1, mask=mask.address, tls=other) as second,
            ):
                reader, writer = await asyncio.open_connection("127.0.0.1", first.port)
                writer.write(hello)
                assert (await asyncio.wait_for(reader.read(3), 5)) == b"\x16\x03\x03"
                assert await _probe(second.port, hello) == MaskServer.REPLY
                assert mask.received == [hello]
                writer.close()

    asyncio.run(run())


def test_unreachable_redis_falls_back_to_this_process() -> None:
    require("redis")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cache = RedisReplayCache(f"redis://127.0.0.1:{port}/0", timeout=0.2)
    fresh = _hello(EE)[11:43]
    assert cache.check_and_add(fresh)
    assert cache.degraded
    assert not cache.check_and_add(fresh)  # still refused, in this process


def test_bad_arguments() -> None:
    require("redis")
    for kwargs in ({}, {"url": "redis://x", "client": object()}, {"url": "redis://x", "window": 0}):
        with pytest.raises(InvalidArgument):
            RedisReplayCache(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        RedisReplayCache("nonsense://")


def test_cli_redis_option_builds_relays_on_the_shared_cache(redis_url: str) -> None:
    from mtcrypt.cli import _build_parser
    from mtcrypt.cli._proxy import _Config

    parser, _ = _build_parser()
    args = parser.parse_args(["proxy", f"--secret=t={EE}", f"--redis={redis_url}", "--port=0"])
    server = _Config(args).server()
    assert isinstance(server.policy.tls.replay_cache, RedisReplayCache)
