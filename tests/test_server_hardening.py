"""The asyncio server facing bad clients over real TCP: deadlines, caps, the
shared buffer budget, handshake work in threads, logging without secrets,
counters, graceful shutdown of ``python -m mtcrypt serve``, and no file
descriptors left behind.  (No timing assertions: deadlines are checked with
generous margins, figures live in benchmarks/server_load.py.)"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from mtcrypt.aio import Client, ConnectionInfo, RpcCallError, RpcReply
from mtcrypt.connection import ConnectionLimits, Timeouts
from mtcrypt.handshake.rsa import RsaPrivateKey
from mtcrypt.testing import ReferenceServer, echo_handler

TAG = b"\xee\xee\xee\xee"
ECHO = struct.pack("<I", 0x0D0E0D0E)


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sent until it closed (fails if it did not close)."""
    data = b""
    async with asyncio.timeout(seconds):
        while chunk := await reader.read(4096):
            data += chunk
    return data


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_deadlines_close_slowloris_idle_and_oversize(server_key: RsaPrivateKey) -> None:
    async def run() -> None:
        timeouts = Timeouts(handshake=0.6, idle=1.2)
        async with ReferenceServer(server_key, timeouts=timeouts, handler=echo_handler) as server:
            fds = _open_fds()
            good = await Client.connect("127.0.0.1", server.port, public_keys=[server.public_key])
            loris = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(5)]
            idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(5)]
            huge = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(5)]
            for _, writer in loris:
                writer.write(TAG + struct.pack("<I", 4096))
            for _, writer in huge:
                writer.write(TAG + struct.pack("<I", 16 << 20) + bytes(4096))

            async def trickle() -> None:
                for _ in range(20):
                    for _, writer in loris:
                        if not writer.is_closing():
                            writer.write(b"\x00")
                    await asyncio.sleep(0.1)

            trickling = asyncio.create_task(trickle())
            for reader, _ in huge:  # refused at once, with -404
                assert (await _closed_within(reader, 2)).endswith(struct.pack("<i", -404))
            for reader, _ in loris + idle:
                await _closed_within(reader, 5)
            trickling.cancel()
            # The honest client was never disturbed (it pings, so it is not idle).
            assert await good.invoke(ECHO) == ECHO
            stats = server.server.stats
            assert stats.connections_closed["handshake_timeout"] == 10
            assert stats.connections_closed["bad_transport"] == 5
            await good.close()
            for _, writer in loris + idle + huge:
                writer.close()
            await asyncio.sleep(0.2)
            assert _open_fds() <= fds + 1

    asyncio.run(run())


def test_idle_authenticated_connection_is_closed(server_key: RsaPrivateKey) -> None:
    async def run() -> None:
        async with ReferenceServer(server_key, timeouts=Timeouts(idle=0.5)) as server:
            client = await Client.connect(
                "127.0.0.1",
                server.port,
                public_keys=[server.public_key],
                timeouts=Timeouts(keepalive=None),
            )
            await asyncio.sleep(1.5)
            with pytest.raises(Exception) as info:
                await client.ping(timeout=2)
            assert "connection" in str(info.value) or "closed" in str(info.value)
            assert server.server.stats.connections_closed["idle_timeout"] == 1
            await client.close()

    asyncio.run(run())


def test_keepalive_keeps_an_idle_client_connected(server_key: RsaPrivateKey) -> None:
    async def run() -> None:
        async with ReferenceServer(server_key, timeouts=Timeouts(idle=0.8)) as server:
            client = await Client.connect(
                "127.0.0.1",
                server.port,
                public_keys=[server.public_key],
                timeouts=Timeouts(keepalive=0.3),
            )
            await asyncio.sleep(2.0)
            assert await client.ping() > 0
            assert server.server.stats.connections_closed["idle_timeout"] == 0
            await client.close()

    asyncio.run(run())


def test_max_connections(server_key: RsaPrivateKey) -> None:
    async def run() -> None:
        async with ReferenceServer(server_key, max_connections=2) as server:
            kept = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            await _closed_within(reader, 2)
            assert server.server.stats.connections_refused == 1
            for _, w in kept:
                w.close()
            writer.close()
            await asyncio.sleep(0.1)
            # A slot is free again.
            client = await Client.connect("127.0.0.1", server.port, public_keys=[server.public_key])
            await client.close()

    asyncio.run(run())


def test_shared_buffer_budget(server_key: RsaPrivateKey) -> None:
    async def run() -> None:
        async with ReferenceServer(server_key, max_buffered_bytes=256 << 10) as server:
            streams = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(4)]
            for _, writer in streams:
                writer.write(TAG + struct.pack("<I", 1 << 20) + bytes(100 << 10))
                await writer.drain()
            await asyncio.sleep(0.3)
            stats = server.server.stats
            assert stats.limits_exceeded["server_buffer_budget"] >= 2
            assert server.server._budget is not None
            assert server.server._budget.total <= 256 << 10
            for _, writer in streams:
                writer.close()

    asyncio.run(run())


def test_many_handshakes_in_worker_threads(server_key: RsaPrivateKey) -> None:
    async def run() -> None:
        async with ReferenceServer(server_key, handler=echo_handler, handshake_workers=2) as server:
            clients = await asyncio.gather(
                *(
                    Client.connect(
                        "127.0.0.1", server.port, public_keys=[server.public_key], timeout=60
                    )
                    for _ in range(12)
                )
            )
            assert len({c.auth_key for c in clients}) == 12
            assert await asyncio.gather(*(c.invoke(ECHO) for c in clients)) == [ECHO] * 12
            assert server.server.stats.handshakes_ok == 12
            for client in clients:
                await client.close()

    asyncio.run(run())


def test_temporary_key_over_tcp(server_key: RsaPrivateKey) -> None:
    seen: list[ConnectionInfo] = []

    def handler(query: bytes, info: ConnectionInfo) -> RpcReply:
        seen.append(info)
        return RpcReply(query)

    async def run() -> None:
        async with ReferenceServer(server_key, handler=handler) as server:
            client = await Client.connect(
                "127.0.0.1",
                server.port,
                public_keys=[server.public_key],
                temp_key_expires_in=600,
            )
            assert await client.invoke(ECHO) == ECHO
            assert [h.temporary for h in server.handshakes] == [False, True]
            temp = client.connection.auth_key
            assert temp is not None and temp != client.auth_key
            stored = server.server.keys.get(temp.key_id, 0)
            assert stored is not None and client.auth_key is not None
            assert stored.perm_key_id == client.auth_key.key_id
            (info,) = seen
            assert info.temporary and info.perm_key_id == client.auth_key.key_id
            await client.close()

    asyncio.run(run())


def test_handler_failures_and_async_handlers(server_key: RsaPrivateKey) -> None:
    async def handler(query: bytes, info: ConnectionInfo) -> RpcReply:
        if query == b"\x00\x00\x00\x00":
            raise RuntimeError("handler bug")
        await asyncio.sleep(0.01)
        return RpcReply(query)

    async def run() -> None:
        async with ReferenceServer(server_key, handler=handler) as server:
            client = await Client.connect("127.0.0.1", server.port, public_keys=[server.public_key])
            with pytest.raises(RpcCallError) as info:
                await client.invoke(b"\x00\x00\x00\x00")
            assert info.value.code == 500
            assert await client.invoke(ECHO) == ECHO
            await client.close()

    logging.getLogger("mtcrypt.server").disabled = True
    try:
        asyncio.run(run())
    finally:
        logging.getLogger("mtcrypt.server").disabled = False


def test_logging_names_reasons_and_never_keys(
    server_key: RsaPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    async def run() -> bytes:
        async with ReferenceServer(server_key, handler=echo_handler) as server:
            client = await Client.connect("127.0.0.1", server.port, public_keys=[server.public_key])
            assert client.auth_key is not None
            key = client.auth_key.key
            await client.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(TAG + struct.pack("<I", 0x7FFFFFFF))
            await _closed_within(reader, 2)
            writer.close()
            await asyncio.sleep(0.1)
            return key

    with caplog.at_level(logging.INFO, logger="mtcrypt.server"):
        key = asyncio.run(run())
    text = caplog.text
    assert "handshake ok" in text and "rsa_pad" in text
    assert "close" in text and "bad_transport" in text and "peer_closed" in text
    for secret in (key.hex(), key[:16].hex(), repr(key)):
        assert secret not in text


def test_serve_shuts_down_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = dict(os.environ)  # the installed mtcrypt (tests/conftest.py explains)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mtcrypt", "serve", "--port", "0", "--echo", "--log-level", "info"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())

        async def poke() -> None:
            _, writer = await asyncio.open_connection("127.0.0.1", info["port"])
            writer.write(TAG + struct.pack("<I", 64) + bytes(10))  # a half frame, left open
            await writer.drain()
            await asyncio.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            writer.close()

        asyncio.run(poke())
        _, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "shutting down" in stderr and "server shutdown" in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--secret", "zz"], "bad --secret"),
        (["--rsa-key", "/nonexistent/key.pem"], "cannot read the RSA private key"),
        (["--handshake-timeout", "0"], "must be a positive number"),
        (["--max-buffered-bytes", "-1"], "must be a positive integer"),
        (["--port", "70000"], "must be a port number"),
        (["--handshake-workers", "-1"], "must be 0 or more"),
    ],
)
def test_serve_refuses_bad_options_in_one_line(args: list[str], message: str) -> None:
    env = dict(os.environ)  # the installed mtcrypt (tests/conftest.py explains)
    out = subprocess.run(
        [sys.executable, "-m", "mtcrypt", "serve", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr


def test_connection_limits_reach_the_server(server_key: RsaPrivateKey) -> None:
    async def run() -> None:
        limits = ConnectionLimits(max_frame=4096)
        async with ReferenceServer(server_key, handler=echo_handler, limits=limits) as server:
            client = await Client.connect("127.0.0.1", server.port, public_keys=[server.public_key])
            assert await client.invoke(ECHO) == ECHO
            with pytest.raises(Exception):  # noqa: B017 - the connection is closed under it
                await client.invoke(ECHO + os.urandom(8192), timeout=3)
            assert server.server.stats.connections_closed["bad_transport"] == 1
            await client.close()

    asyncio.run(run())


def test_handshakes_in_worker_processes(server_key: RsaPrivateKey) -> None:
    async def run() -> None:
        async with ReferenceServer(
            server_key, handler=echo_handler, handshake_workers=2, handshake_processes=True
        ) as server:
            clients = await asyncio.gather(
                *(
                    Client.connect(
                        "127.0.0.1", server.port, public_keys=[server.public_key], timeout=60
                    )
                    for _ in range(6)
                )
            )
            assert await asyncio.gather(*(c.invoke(ECHO) for c in clients)) == [ECHO] * 6
            assert server.server.stats.handshakes_ok == 6
            # A failing check in a worker comes back as a failed handshake.
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(TAG + struct.pack("<I", 40) + bytes(20) + bytes(20))
            assert (await _closed_within(reader, 10)).endswith(struct.pack("<i", -404))
            assert sum(server.server.stats.handshakes_failed.values()) == 1
            for client in clients:
                await client.close()
            writer.close()

    asyncio.run(run())


def test_bad_handler_replies_become_500(server_key: RsaPrivateKey) -> None:
    def not_tl(query: bytes, info: ConnectionInfo) -> RpcReply:
        return RpcReply(b"abc")  # not a TL object

    async def run() -> None:
        async with ReferenceServer(server_key, handler=not_tl) as server:
            client = await Client.connect("127.0.0.1", server.port, public_keys=[server.public_key])
            for _ in range(2):  # and the connection is still there
                with pytest.raises(RpcCallError) as info:
                    await client.invoke(ECHO)
                assert info.value.code == 500
            await client.close()

    logging.getLogger("mtcrypt.server").disabled = True
    try:
        asyncio.run(run())
    finally:
        logging.getLogger("mtcrypt.server").disabled = False


def test_cancelled_invokes_free_their_slots(server_key: RsaPrivateKey) -> None:
    async def slow(query: bytes, info: ConnectionInfo) -> RpcReply:
        await asyncio.sleep(3600)
        return RpcReply(query)

    async def run() -> None:
        async with ReferenceServer(server_key, handler=slow) as server:
            client = await Client.connect(
                "127.0.0.1",
                server.port,
                public_keys=[server.public_key],
                limits=ConnectionLimits(max_pending_requests=2),
            )
            for _ in range(3):
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(client.invoke(ECHO), 0.05)
            assert client.connection.pending_requests == ()
            assert await client.ping(timeout=5) > 0
            await client.close()

    asyncio.run(run())


def test_a_dead_handshake_process_is_replaced(server_key: RsaPrivateKey) -> None:
    import multiprocessing

    async def run() -> None:
        async with ReferenceServer(
            server_key, handshake_workers=1, handshake_processes=True
        ) as server:
            first = await Client.connect(
                "127.0.0.1", server.port, public_keys=[server.public_key], timeout=30
            )
            await first.close()
            for child in multiprocessing.active_children():
                os.kill(child.pid or 0, signal.SIGKILL)
            await asyncio.sleep(0.5)
            ok = 0
            for _ in range(3):  # the first may fail with the dead worker; then it is back
                try:
                    client = await Client.connect(
                        "127.0.0.1", server.port, public_keys=[server.public_key], timeout=30
                    )
                except Exception:
                    continue
                ok += 1
                await client.close()
            assert ok >= 2

    logging.getLogger("mtcrypt.server").disabled = True
    try:
        asyncio.run(run())
    finally:
        logging.getLogger("mtcrypt.server").disabled = False
