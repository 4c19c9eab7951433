"""Real clients nobody on this project wrote (Telethon, Pyrogram/kurigram)
through the relay to the reference server: each completes a handshake (the
server holds the same key) and an encrypted ping, on the MTProxy secret kinds
each client supports (Telethon: plain and dd, no fake-TLS; kurigram: plain,
dd and ee).  The default run plays mtcrypt's client on every kind
(tests/test_proxy_aio.py) and kurigram's fake-TLS; the rest runs with
``MTCRYPT_CONFORMANCE_FULL=1``."""

from __future__ import annotations

import asyncio
import os
import struct
from typing import Any

import pytest
from test_interop_server import (  # the fixtures too: pytest finds them imported here
    _key_id,
    _Loggers,
    pyrogram_trusts,  # noqa: F401
    telethon_trusts,  # noqa: F401
)
from test_proxy_aio import DD, EE, PLAIN, relay_to

from mtcrypt.aio import ConnectionInfo, RpcReply
from mtcrypt.handshake.rsa import RsaPrivateKey
from mtcrypt.testing import ReferenceServer
from mtcrypt.testing.conformance.adapters import _pyrogram_config as pyrogram_config

pytestmark = pytest.mark.interop

_HELP_GET_CONFIG = 0xC4F9186B

# Telethon waits 2 s after connecting to any MTProxy, so its run and kurigram's plain
# and dd ones are in the full runs; kurigram's fake-TLS one (the longest path) runs always.
FULL = pytest.mark.skipif(
    os.environ.get("MTCRYPT_CONFORMANCE_FULL") != "1", reason="set MTCRYPT_CONFORMANCE_FULL=1"
)


TELETHON_CASES = [
    ("ConnectionTcpMTProxyAbridged", PLAIN),
    ("ConnectionTcpMTProxyIntermediate", PLAIN),
    ("ConnectionTcpMTProxyRandomizedIntermediate", DD),
]


@FULL
@pytest.mark.usefixtures("telethon_trusts")
def test_telethon_through_the_relay(server_key: RsaPrivateKey) -> None:
    """Telethon's MTProxy connection classes (it has no fake-TLS one), all at
    once: each waits 2 s after connecting to see whether the proxy hangs up."""
    from telethon.network import connection as connections
    from telethon.network.mtprotosender import MTProtoSender
    from telethon.tl import functions

    async def one(proxy_port: int, connection: str, secret: str, ping_id: int) -> bytes:
        # Telethon drops a leading zero byte of the key about once in 256
        # handshakes and retries (a known client bug): retries=3.
        sender = MTProtoSender(None, loggers=_Loggers(), retries=3)
        conn = getattr(connections, connection)(
            "149.154.167.51",  # the DC's address, unused: MTProxy connects to the proxy
            443,
            2,
            loggers=_Loggers(),
            proxy=("127.0.0.1", proxy_port, secret),
        )
        await sender.connect(conn)
        try:
            pong = await asyncio.wait_for(sender.send(functions.PingRequest(ping_id=ping_id)), 10)
            assert pong.ping_id == ping_id
            return bytes(sender.auth_key.key)
        finally:
            await sender.disconnect()

    async def run() -> None:
        async with ReferenceServer(server_key) as server, relay_to(server.port) as proxy:
            keys = await asyncio.gather(
                *(one(proxy.port, c, s, i) for i, (c, s) in enumerate(TELETHON_CASES))
            )
            assert {_key_id(k) for k in keys} <= {h.key_id for h in server.handshakes}
            assert proxy.stats.get("connections_total", "plain") >= 2
            assert proxy.stats.get("connections_total", "dd") >= 1

    asyncio.run(run())


def _pyrogram_client(secret: str, port: int) -> Any:
    import pyrogram
    from pyrogram.connection.transport import TCPAbridged

    proxy = {"scheme": "mtproxy", "hostname": "127.0.0.1", "port": port, "secret": secret}
    return pyrogram.Client(
        "mtcrypt-relay-test",
        api_id=1,
        api_hash="0" * 32,
        in_memory=True,
        protocol_factory=TCPAbridged,  # a dd or ee secret makes kurigram pad instead
        no_updates=True,
        proxy=proxy,
    )


@pytest.mark.usefixtures("pyrogram_trusts")
@pytest.mark.parametrize(
    "secret",
    [pytest.param(PLAIN, marks=FULL), pytest.param(DD, marks=FULL), EE],
    ids=["plain", "dd", "ee"],
)
def test_pyrogram_through_the_relay(server_key: RsaPrivateKey, secret: str) -> None:
    """kurigram's MTProxy support: handshake, then its own session (a ping,
    initConnection(help.getConfig)) and an encrypted ping."""
    from pyrogram import raw
    from pyrogram.session.auth import Auth
    from pyrogram.session.session import Session

    config: list[bytes] = []

    def handler(query: bytes, info: ConnectionInfo) -> RpcReply:
        del info
        if struct.unpack_from("<I", query)[0] == _HELP_GET_CONFIG:
            return RpcReply(config[0])
        return RpcReply.error(401, "AUTH_KEY_UNREGISTERED")

    async def run() -> None:
        async with (
            ReferenceServer(server_key, handler=handler) as server,
            relay_to(server.port) as proxy,
        ):
            config.append(pyrogram_config(server.port))
            Auth.MAX_RETRIES = 0
            client = _pyrogram_client(secret, proxy.port)
            key = await asyncio.wait_for(Auth(client, 2, "149.154.167.51", 443, False).create(), 20)
            assert server.handshakes[-1].key_id == _key_id(key)
            await client.storage.open()
            await client.storage.api_id(1)
            session = Session(client, 2, "149.154.167.51", 443, key, False)
            await asyncio.wait_for(session.start(), 20)
            try:
                pong = await asyncio.wait_for(session.invoke(raw.functions.Ping(ping_id=5)), 10)
                assert pong.ping_id == 5
            finally:
                await session.stop()
                await client.storage.close()
            name = {PLAIN: "plain", DD: "dd", EE: "tls"}[secret]
            assert proxy.stats.get("connections_total", name) == 2  # auth, then session

    asyncio.run(run())
