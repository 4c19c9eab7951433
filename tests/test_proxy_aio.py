"""The asyncio relay (mtcrypt.aio.ProxyServer) and ``python -m mtcrypt proxy``
over real sockets: mtcrypt's client through the relay to the reference server
on every secret kind, the probes a censor sends reaching a masking server byte
for byte, abusive clients next to an honest one, flow control, the counters,
worker processes sharing the replay cache, and the command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from mtcrypt.aio import Client, ProxyServer
from mtcrypt.cli import main as cli_main
from mtcrypt.connection import Timeouts
from mtcrypt.errors import MtcryptError
from mtcrypt.handshake.rsa import RsaPrivateKey
from mtcrypt.proxy import DcTable, NamedSecret, SharedReplayCache, prometheus_text
from mtcrypt.testing import ReferenceServer
from mtcrypt.transport import ProxySecret
from mtcrypt.transport.faketls import build_client_hello

PLAIN = "11" * 16
DD = "dd" + "22" * 16
EE = "ee" + "33" * 16 + b"localhost".hex()
SECRETS = {"plain": PLAIN, "dd": DD, "tls": EE}


def named(**only: str) -> list[NamedSecret]:
    return [NamedSecret(n, ProxySecret.parse(s)) for n, s in (only or SECRETS).items()]


def local_dcs(port: int) -> DcTable:
    """Every DC (production, media, test) at the reference server."""
    where = ("127.0.0.1", port)
    ids = [*range(1, 6), *range(-5, 0), 10001, 10002, 10003]
    return DcTable({dc: where for dc in ids}, addresses={})


class MaskServer:
    """A stand-in for the masking web site: records what each connection sent
    and answers every request with a fixed reply, then closes."""

    REPLY = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = b""
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
            while True:
                chunk = await asyncio.wait_for(reader.read(65536), 0.15)
                if not chunk:
                    break
                data += chunk
        self.received.append(data)
        writer.write(self.REPLY)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    @property
    def address(self) -> tuple[str, int]:
        assert self.server is not None
        return "127.0.0.1", self.server.sockets[0].getsockname()[1]

    async def __aenter__(self) -> MaskServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


@contextlib.asynccontextmanager
async def relay_to(server_port: int, **options: Any) -> AsyncIterator[ProxyServer]:
    options.setdefault("timeouts", Timeouts(handshake=3.0, idle=30.0))
    options.setdefault("dcs", local_dcs(server_port))
    proxy = ProxyServer(options.pop("secrets", named()), **options)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


async def _client(port: int, secret: str, key: RsaPrivateKey) -> Client:
    return await Client.connect(
        "127.0.0.1",
        port,
        secret=secret,
        dc_id=2,
        framing="padded_intermediate",
        public_keys=[key.public_key],
        timeout=10,
    )


def test_mtcrypt_client_through_the_relay_on_every_secret(server_key: RsaPrivateKey) -> None:
    async def run() -> None:
        async with ReferenceServer(server_key) as server, relay_to(server.port) as proxy:
            for name, secret in SECRETS.items():
                client = await _client(proxy.port, secret, server_key)
                try:
                    await client.ping()
                    assert client.auth_key is not None
                    assert server.handshakes[-1].key_id == client.auth_key.key_id
                    # the DC saw the relay's own obfuscated2 connection, not a secret
                    info = server.handshakes[-1].transport
                    assert info is not None and info.obfuscated and info.secret_index is None
                    assert not info.fake_tls
                finally:
                    await client.close()
                assert proxy.stats.get("connections_total", name) == 1
                assert proxy.stats.get("bytes_to_clients_total", name) > 500
            for _ in range(50):
                if proxy.connections_open == 0:
                    break
                await asyncio.sleep(0.02)
            assert proxy.connections_open == 0
            assert all(proxy.stats.get("connections_open", n) == 0 for n in SECRETS)

    asyncio.run(run())


# ---- probes --------------------------------------------------------------------------


def _hello(secret: str = EE, *, key: bytes | None = None) -> bytes:
    parsed = ProxySecret.parse(secret)
    assert parsed.domain is not None
    return build_client_hello(key or parsed.key, parsed.domain, int(time.time())).record


async def _probe(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    try:
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


def test_probes_reach_the_mask_host_byte_for_byte(server_key: RsaPrivateKey) -> None:
    good = _hello()
    bad_hmac = bytearray(_hello())
    bad_hmac[30] ^= 0x40
    probes = {
        "http": b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: probe\r\n\r\n",
        "bad_hmac": bytes(bad_hmac),
        "wrong_key": _hello(key=b"\x44" * 16),
        "random": os.urandom(200),
    }

    async def run() -> None:
        async with (
            ReferenceServer(server_key) as server,
            MaskServer() as mask,
            relay_to(server.port, mask=mask.address) as proxy,
        ):
            answers = await asyncio.gather(*(_probe(proxy.port, p) for p in probes.values()))
            assert answers == [MaskServer.REPLY] * len(probes)
            assert sorted(mask.received) == sorted(probes.values())
            # a replayed good ClientHello: the first one is answered by the relay
            # itself (a ServerHello), the replay goes to the mask host
            mask.received.clear()
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(good)
            first = await asyncio.wait_for(reader.read(5), 5)
            assert first[:3] == b"\x16\x03\x03"
            assert await _probe(proxy.port, good) == MaskServer.REPLY
            assert mask.received == [good]
            writer.close()
            assert proxy.stats.get("masked_total") == len(probes) + 1

    asyncio.run(run())


def test_a_prober_that_half_closes_gets_the_mask_hosts_answer() -> None:
    async def run() -> None:
        async with MaskServer() as mask, relay_to(1, mask=mask.address) as proxy:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(b"\x00\x01garbage")
            writer.write_eof()
            assert await asyncio.wait_for(reader.read(), 5) == MaskServer.REPLY
            assert mask.received == [b"\x00\x01garbage"]
            writer.close()

    asyncio.run(run())


def test_a_masked_connection_that_goes_quiet_is_closed_at_the_idle_timeout() -> None:
    """A prober (or anyone) handed to a mask host that never answers does not
    hold the relay's sockets for ever."""

    async def run() -> None:
        silent: list[asyncio.StreamWriter] = []

        async def mask_host(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            silent.append(writer)  # reads nothing, says nothing, never closes

        mask = await asyncio.start_server(mask_host, "127.0.0.1", 0)
        address = ("127.0.0.1", mask.sockets[0].getsockname()[1])
        timeouts = Timeouts(handshake=3.0, idle=0.3)
        async with relay_to(1, mask=address, timeouts=timeouts) as proxy:
            started = time.monotonic()
            assert await _probe(proxy.port, b"GET / HTTP/1.1\r\n\r\n") == b""
            assert 0.25 < time.monotonic() - started < 3
            assert proxy.stats.get("masked_total") == 1
            assert proxy.connections_open == 0
        mask.close()
        for writer in silent:
            writer.close()

    asyncio.run(run())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _dd_client_until_closed(port: int) -> bytes:
    from mtcrypt.transport import ClientTransport

    transport = ClientTransport(secret=DD, dc_id=2)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(transport.data_to_send() + transport.send(b"\x00" * 40))
    try:
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(("127.0.0.1", None), id="refused"),
        pytest.param(("localhost", None), id="refused-by-name"),
        pytest.param(("127.0.0.1", -1), id="never-answers"),
    ],
)
def test_a_dc_that_cannot_be_reached_closes_the_client(where: tuple[str, int | None]) -> None:
    """Refused, by name (resolved first) or never answering (the handshake
    timeout): the client is closed, the failure counted, nothing leaks."""

    async def run() -> None:
        host, port = where
        with contextlib.ExitStack() as stack:
            if port == -1:  # a listener whose accept queue is full: SYNs are dropped
                full = stack.enter_context(socket.socket())
                full.bind(("127.0.0.1", 0))
                full.listen(0)
                port = int(full.getsockname()[1])
                for _ in range(3):
                    queued = stack.enter_context(socket.socket())
                    queued.setblocking(False)
                    queued.connect_ex(("127.0.0.1", port))
            await _unreachable_dc(host, port or _closed_port(), waits=where[1] == -1)

    async def _unreachable_dc(host: str, port: int, *, waits: bool) -> None:
        dcs = DcTable({2: (host, port)}, addresses={})
        timeouts = Timeouts(handshake=0.5, idle=30.0)
        async with relay_to(1, dcs=dcs, timeouts=timeouts, secrets=named(dd=DD)) as proxy:
            started = time.monotonic()
            assert await _dd_client_until_closed(proxy.port) == b""
            assert (time.monotonic() - started >= 0.45) == waits  # the timeout, or at once
            assert time.monotonic() - started < 3
            assert proxy.stats.get("dc_failures_total") == 1
            assert proxy.connections_open == 0
            assert proxy.stats.get("connections_open", "dd") == 0

    asyncio.run(run())


def test_a_mask_host_given_by_name_is_resolved() -> None:
    async def run() -> None:
        async with MaskServer() as mask:
            by_name = ("localhost", mask.address[1])
            async with relay_to(1, mask=by_name) as proxy:
                assert await _probe(proxy.port, b"GET / HTTP/1.1\r\n\r\n") == MaskServer.REPLY

    asyncio.run(run())


def test_without_a_mask_host_failures_are_held_silently() -> None:
    async def run() -> None:
        async with relay_to(1, timeouts=Timeouts(handshake=0.25, idle=30.0)) as proxy:
            started = time.monotonic()
            answer = await _probe(proxy.port, b"GET / HTTP/1.1\r\n\r\n")
            assert answer == b""  # nothing said, closed at the handshake deadline
            assert 0.2 < time.monotonic() - started < 3
            assert proxy.stats.get("held_total") == 1

    asyncio.run(run())


def test_abusive_clients_do_not_disturb_an_honest_one(server_key: RsaPrivateKey) -> None:
    async def run() -> None:
        async with (
            ReferenceServer(server_key) as server,
            MaskServer() as mask,
            relay_to(server.port, mask=mask.address, max_connections=40) as proxy,
        ):
            idle = []
            for _ in range(10):  # slowloris: one byte, then nothing
                _, w = await asyncio.open_connection("127.0.0.1", proxy.port)
                w.write(b"\x01")
                idle.append(w)
            floods = [_probe(proxy.port, os.urandom(5000)) for _ in range(10)]
            garbage = [_probe(proxy.port, b"\x16\x03\x01\xff\xff" + os.urandom(300))]
            honest = _client(proxy.port, DD, server_key)
            results = await asyncio.gather(*floods, *garbage, honest)
            client = results[-1]
            assert isinstance(client, Client)
            try:
                await client.ping()
                await client.ping()
            finally:
                await client.close()
            for w in idle:
                w.close()

    asyncio.run(run())


def test_connection_caps(server_key: RsaPrivateKey) -> None:
    async def run() -> None:
        async with (
            ReferenceServer(server_key) as server,
            relay_to(server.port, max_connections=2, max_connections_per_secret=1) as proxy,
        ):
            first = await _client(proxy.port, DD, server_key)
            try:
                with pytest.raises(MtcryptError):
                    await _client(proxy.port, DD, server_key)  # secret at its cap
                assert proxy.stats.get("refused_total", "dd") == 1
                _, held = await asyncio.open_connection("127.0.0.1", proxy.port)
                held.write(b"\x01")
                await asyncio.sleep(0.05)
                reader, w = await asyncio.open_connection("127.0.0.1", proxy.port)
                assert await asyncio.wait_for(reader.read(), 5) == b""  # global cap
                assert proxy.stats.get("refused_total") >= 1
                held.close()
                w.close()
                await first.ping()
            finally:
                await first.close()

    asyncio.run(run())


def test_a_dc_that_does_not_read_stops_the_client_being_read() -> None:
    """Flow control: the relay holds about buffer_bytes towards a DC that
    reads nothing, however much the client sends."""

    async def run() -> None:
        stalled: list[asyncio.StreamWriter] = []

        async def dc(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            stalled.append(writer)  # never reads

        dc_server = await asyncio.start_server(dc, "127.0.0.1", 0)
        dc_port = dc_server.sockets[0].getsockname()[1]
        async with relay_to(dc_port, buffer_bytes=64 * 1024) as proxy:
            from mtcrypt.transport import ClientTransport

            transport = ClientTransport(secret=DD, dc_id=2)
            _, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.transport.set_write_buffer_limits(high=1 << 30)
            writer.write(transport.data_to_send())
            chunk = transport.send(os.urandom(1 << 20))
            for _ in range(64):  # 64 MiB offered
                writer.write(chunk)
            await asyncio.sleep(0.3)
            (client,) = proxy._active
            assert client.other is not None
            _, held = client.held
            assert 0 < held <= 64 * 1024, held
            assert writer.transport.get_write_buffer_size() > 32 << 20  # the client is not read
            writer.transport.abort()
        dc_server.close()
        for w in stalled:
            w.close()

    asyncio.run(run())


def test_prometheus_text() -> None:
    from mtcrypt.proxy import RelayStats

    stats = RelayStats(["a", 'we"ird'])
    stats.add(stats.secret_slot("a"), 2, 1234)
    stats.add(0, 2)
    text = prometheus_text(stats.names, [stats.values, stats.values])
    assert 'mtcrypt_proxy_secret_bytes_from_clients_total{secret="a"} 2468' in text
    assert 'mtcrypt_proxy_secret_connections_total{secret="we\\"ird"} 0' in text
    assert "mtcrypt_proxy_masked_total 2" in text
    for line in text.splitlines():  # the 0.0.4 exposition grammar, line by line
        assert (
            line.startswith("# HELP ")
            or line.startswith("# TYPE ")
            or (line.startswith("mtcrypt_proxy_") and line.rsplit(" ", 1)[1].isdigit())
        )


# ---- the shared replay cache -----------------------------------------------------------


def test_shared_replay_cache_across_processes() -> None:
    cache = SharedReplayCache(64, window=60)
    try:
        fresh = os.urandom(32)
        pid = os.fork()
        if pid == 0:  # the child accepts it ...
            os._exit(0 if cache.check_and_add(fresh) else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert not cache.check_and_add(fresh)  # ... the parent sees the replay
        assert cache.check_and_add(os.urandom(32))
        assert cache.memory == 16 + 64 * 16
    finally:
        cache.close()
        cache.unlink()


def test_shared_replay_cache_forgets_after_the_window() -> None:
    now = [1000.0]
    cache = SharedReplayCache(8, window=10, clock=lambda: now[0])
    try:
        seen = os.urandom(32)
        assert cache.check_and_add(seen) and not cache.check_and_add(seen)
        now[0] += 11
        assert cache.check_and_add(seen)  # the hello is outside the time window by now
        for _ in range(20):  # one bucket of 8: the oldest live entries are evicted
            cache.check_and_add(os.urandom(32))
        assert cache.evictions > 0
    finally:
        cache.close()
        cache.unlink()


# ---- the command line ----------------------------------------------------------------


def _proxy_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mtcrypt",
            "proxy",
            "--host=127.0.0.1",
            "--port=0",
            "--shutdown-grace=0.2",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextlib.contextmanager
def running(*args: str) -> Iterator[tuple[dict[str, Any], subprocess.Popen[str]]]:
    process = _proxy_cli(*args)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, process.communicate(timeout=10)
        yield json.loads(line), process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _fetch(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"text/plain; version=0.0.4" in head
    return body.decode()


@pytest.mark.skipif(
    os.environ.get("MTCRYPT_CONFORMANCE_FULL") != "1", reason="set MTCRYPT_CONFORMANCE_FULL=1"
)
def test_cli_relays_prints_links_serves_stats_and_stops(server_key: RsaPrivateKey) -> None:
    async def ping(port: int) -> None:
        for secret in (PLAIN, EE):
            client = await _client(port, secret, server_key)
            await client.ping()
            await client.close()

    with ReferenceServerThread(server_key) as server_port:
        secrets = [f"--secret={n}={s}" for n, s in SECRETS.items()]
        with running(
            *secrets, f"--dc=2=127.0.0.1:{server_port}", "--stats=127.0.0.1:0", "--no-mask"
        ) as (record, process):
            port = record["port"]
            links = record["links"]
            assert links["dd"] == f"tg://proxy?server=127.0.0.1&port={port}&secret={DD}"
            assert ProxySecret.parse(links["tls"].rsplit("=", 1)[1]) == ProxySecret.parse(EE)
            asyncio.run(ping(port))
            text = _fetch(record["stats_port"])
            assert 'mtcrypt_proxy_secret_connections_total{secret="plain"} 1' in text
            assert 'mtcrypt_proxy_secret_connections_total{secret="tls"} 1' in text
            process.send_signal(signal.SIGTERM)
            assert process.wait(15) == 0
            _, err = process.communicate()
    for secret in SECRETS.values():  # no secret in the log
        assert secret not in err and secret[2:34] not in err
    assert "127.0.0.1:" not in err.replace(f"127.0.0.1:{port}", "")  # no client address


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        [],
        ["--secret", PLAIN],  # no name
        ["--secret", "a=zz"],
        ["--secret", f"a={PLAIN}", "--secret", f"a={DD}"],
        ["--secret", f"a={PLAIN}", "--dc", "2=nowhere"],
        ["--secret", f"a={PLAIN}", "--dc", "0=127.0.0.1:1"],
        ["--secret", f"a={PLAIN}", "--no-mask", "--mask-host", "127.0.0.1:1"],
        ["--secret", f"a={PLAIN}", "--redis", "nonsense://"],
    ]
    for argv in cases:
        assert cli_main(["proxy", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err


def test_workers_share_the_replay_cache() -> None:
    """Two worker processes on one port: a ClientHello accepted by one is
    masked by whichever takes the replays; the counters of both are summed."""

    async def run(port: int, mask: MaskServer, replays: int) -> None:
        hello = _hello()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(hello)
        assert (await asyncio.wait_for(reader.read(3), 5)) == b"\x16\x03\x03"
        answers = await asyncio.gather(*(_probe(port, hello) for _ in range(replays)))
        assert answers == [MaskServer.REPLY] * replays
        writer.close()
        assert mask.received == [hello] * replays

    async def main() -> None:
        async with MaskServer() as mask:
            host, mask_port = mask.address
            with running(
                f"--secret=tls={EE}",
                "--workers=2",
                f"--mask-host={host}:{mask_port}",
                "--stats=127.0.0.1:0",
            ) as (record, process):
                await run(record["port"], mask, 8)
                text = await asyncio.to_thread(_fetch, record["stats_port"])
                assert "mtcrypt_proxy_masked_total 8" in text
                assert "mtcrypt_proxy_accepted_total 9" in text
                process.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(process.wait, 15) == 0
                _, err = process.communicate()
        assert "masked" in err  # the log says what happened ...
        assert EE not in err and EE[2:34] not in err  # ... without the secret
        assert "127.0.0.1:" not in err.replace(f"127.0.0.1:{record['port']}", "").replace(
            f"127.0.0.1:{mask_port}", ""
        )  # nor a client address

    asyncio.run(main())


class ReferenceServerThread:
    """The reference server on its own thread, for tests that run the CLI."""

    def __init__(self, key: RsaPrivateKey) -> None:
        from mtcrypt.testing import ThreadedReferenceServer

        self._server = ThreadedReferenceServer(key)

    def __enter__(self) -> int:
        self._server.start()
        return int(self._server.port)

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


def test_a_crowd_of_broken_clients_leaves_nothing_behind() -> None:
    """Honest, slow, resetting, half-closing, garbage and bad-TLS clients at
    once, through the relay to an echoing DC and a mask host: no exception
    reaches the loop, no log record above WARNING, and every connection and
    socket is gone at the end."""
    import random
    import struct

    from mtcrypt.transport import ClientTransport

    rnd = random.Random(2026)
    problems: list[str] = []

    async def echo_dc(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.readexactly(64)
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    def reset(writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def one(port: int, kind: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            if kind in ("dd", "slow", "drop"):
                client = ClientTransport(secret=DD, dc_id=2)
                writer.write(client.data_to_send())
                for _ in range(rnd.randint(1, 6)):
                    writer.write(client.send(os.urandom(24 + 16 * rnd.randint(1, 3000))))
                    if kind == "drop" and rnd.random() < 0.5:
                        return reset(writer)
                    if kind == "dd":
                        await asyncio.wait_for(reader.read(1 << 20), 3)
            elif kind == "ee":
                client = ClientTransport(secret=EE, dc_id=2)
                writer.write(client.data_to_send())
                client.receive(await asyncio.wait_for(reader.read(65536), 3))
                writer.write(client.data_to_send() + client.send(os.urandom(24 + 16 * 500)))
                await asyncio.wait_for(reader.read(65536), 3)
            elif kind == "bad_tls":
                writer.write(_hello())
                await asyncio.wait_for(reader.read(65536), 3)
                writer.write(b"\x17\x03\x03\xff\xff" + os.urandom(64))
                await asyncio.wait_for(reader.read(), 3)
            elif kind == "garbage":
                writer.write(os.urandom(rnd.randint(1, 3000)))
                await asyncio.wait_for(reader.read(), 3)
            elif kind == "half":
                writer.write(os.urandom(rnd.randint(1, 63)))
                writer.write_eof()
                await asyncio.wait_for(reader.read(), 3)
            else:  # "reset"
                writer.write(os.urandom(rnd.randint(1, 200)))
                return reset(writer)
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno > logging.WARNING or record.exc_info:
                problems.append(record.getMessage())

    async def run() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: problems.append(str(context)))
        dc = await asyncio.start_server(echo_dc, "127.0.0.1", 0)
        dcs = DcTable({2: ("127.0.0.1", dc.sockets[0].getsockname()[1])}, addresses={})
        fds_before = len(os.listdir("/proc/self/fd"))
        async with (
            MaskServer() as mask,
            relay_to(
                1,
                dcs=dcs,
                mask=mask.address,
                timeouts=Timeouts(handshake=1.0, idle=1.0),
                buffer_bytes=16384,
            ) as proxy,
        ):
            kinds = ["dd", "slow", "drop", "ee", "bad_tls", "garbage", "half", "reset"]
            await asyncio.gather(*(one(proxy.port, rnd.choice(kinds)) for _ in range(96)))
            for _ in range(60):
                if proxy.connections_open == 0:
                    break
                await asyncio.sleep(0.05)
            assert proxy.connections_open == 0
            assert proxy.stats.get("masked_total") > 0
        dc.close()
        await asyncio.sleep(0.05)
        assert len(os.listdir("/proc/self/fd")) <= fds_before

    handler = Catch()
    logging.getLogger("mtcrypt").addHandler(handler)
    try:
        asyncio.run(run())
    finally:
        logging.getLogger("mtcrypt").removeHandler(handler)
    assert problems == []


def test_close_leaves_no_socket_behind_when_a_client_does_not_read() -> None:
    """A connection closed while its client is not reading keeps its unsent
    bytes for at most the close grace; ProxyServer.close() waits for that and
    then nothing of the relay is left open."""

    async def run() -> None:
        async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                await reader.readexactly(64)
                for _ in range(64):
                    writer.write(os.urandom(1 << 20))
                    await writer.drain()
            writer.close()

        dc = await asyncio.start_server(flood, "127.0.0.1", 0)
        dcs = DcTable({2: ("127.0.0.1", dc.sockets[0].getsockname()[1])}, addresses={})
        fds_before = len(os.listdir("/proc/self/fd"))
        proxy = ProxyServer(named(dd=DD), dcs=dcs, buffer_bytes=64 * 1024)
        await proxy.start()
        from mtcrypt.transport import ClientTransport

        transport = ClientTransport(secret=DD, dc_id=2)
        sock = socket.create_connection(("127.0.0.1", proxy.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(transport.data_to_send())  # then reads nothing
        for _ in range(100):
            await asyncio.sleep(0.02)
            if proxy._active and next(iter(proxy._active)).held[0]:
                break
        (client,) = proxy._active
        assert client.held[0] > 0  # bytes waiting for the client
        started = time.monotonic()
        await proxy.close()
        assert time.monotonic() - started < 3
        assert not proxy._active and not proxy._flushing
        sock.close()
        dc.close()
        await dc.wait_closed()
        assert len(os.listdir("/proc/self/fd")) <= fds_before

    asyncio.run(run())
