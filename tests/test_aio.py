"""The asyncio client against the reference server over real TCP, on every
transport and obfuscation mode."""

from __future__ import annotations

import asyncio
import os
import socket
import struct

import pytest
from conftest import require

from mtcrypt.aio import Client, RpcCallError
from mtcrypt.connection import ReconnectPolicy
from mtcrypt.errors import InvalidArgument, ReconnectFailed, TransportError
from mtcrypt.handshake.rsa import RsaPrivateKey
from mtcrypt.testing import ReferenceServer, ThreadedReferenceServer, echo_handler
from mtcrypt.testing.conformance.adversary import AdversarialServer, Evidence, HandshakePlan

DD = "dd" + "5a" * 16
EE = "ee" + "a5" * 16 + b"example.com".hex()

CASES = [
    {"framing": "abridged"},
    {"framing": "intermediate"},
    {"framing": "padded_intermediate"},
    {"framing": "full"},
    {"framing": "abridged", "obfuscated": True},
    {"framing": "intermediate", "obfuscated": True},
    {"framing": "padded_intermediate", "obfuscated": True},
    {"framing": "padded_intermediate", "secret": DD},
    {"framing": "padded_intermediate", "secret": EE},
]


def _id(case: dict[str, object]) -> str:
    parts = [str(case["framing"])]
    if case.get("obfuscated"):
        parts.append("obfuscated")
    if "secret" in case:
        parts.append(str(case["secret"])[:2] + "-secret")
    return "-".join(parts)


async def _round_trips(server_key: RsaPrivateKey, case: dict[str, object]) -> None:
    """A handshake, a ping, 50 requests at once and a 200 KB one over ``case``."""
    async with ReferenceServer(
        server_key, handler=echo_handler, secrets=[DD, EE], seed=7
    ) as server:
        client = await Client.connect(
            "127.0.0.1", server.port, public_keys=[server.public_key], **case
        )  # type: ignore[arg-type]
        try:
            assert client.auth_key is not None
            record = server.handshakes[-1]
            assert record.key_id == client.auth_key.key_id
            assert record.rsa_scheme == "rsa_pad"
            assert await client.ping() > 0
            payloads = [struct.pack("<I", 0x0D0E0D0E) + os.urandom(4 * i) for i in range(50)]
            results = await asyncio.gather(*(client.invoke(p) for p in payloads))
            assert results == payloads
            big = struct.pack("<I", 0x0D0E0D0E) + os.urandom(200_000)
            assert await client.invoke(big) == big
        finally:
            await client.close()


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_client_server_every_transport(server_key: RsaPrivateKey, case: dict[str, object]) -> None:
    asyncio.run(_round_trips(server_key, case))


def test_default_handler_answers_401(server_key: RsaPrivateKey) -> None:
    async def run() -> None:
        async with ReferenceServer(server_key) as server:
            async with await Client.connect(
                "127.0.0.1", server.port, public_keys=[server.public_key]
            ) as client:
                with pytest.raises(RpcCallError) as info:
                    await client.invoke(struct.pack("<I", 0x12345678))
                assert info.value.code == 401

    asyncio.run(run())


def test_saved_key_is_reused_and_unknown_key_gets_404(server_key: RsaPrivateKey) -> None:
    async def run() -> None:
        async with ReferenceServer(server_key, handler=echo_handler) as server:
            first = await Client.connect("127.0.0.1", server.port, public_keys=[server.public_key])
            key, salt = first.auth_key, first.server_salt
            await first.close()
            assert key is not None
            again = await Client.connect("127.0.0.1", server.port, auth_key=key, salt=salt)
            assert await again.invoke(b"\x01\x02\x03\x04") == b"\x01\x02\x03\x04"
            await again.close()
            assert len(server.handshakes) == 1
            from mtcrypt.errors import TransportError
            from mtcrypt.mtproto import AuthKey

            stranger = await Client.connect(
                "127.0.0.1", server.port, auth_key=AuthKey(os.urandom(256))
            )
            with pytest.raises(TransportError) as info:
                await stranger.invoke(b"\x01\x02\x03\x04", timeout=5)
            assert info.value.code == -404
            await stranger.close()

    asyncio.run(run())


def test_garbage_closes_only_that_connection(server_key: RsaPrivateKey) -> None:
    async def run() -> None:
        async with ReferenceServer(server_key, handler=echo_handler) as server:
            good = await Client.connect("127.0.0.1", server.port, public_keys=[server.public_key])
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"\xee\xee\xee\xee" + b"\xff\xff\xff\x7f" + os.urandom(64))
            await writer.drain()
            closed = await asyncio.wait_for(reader.read(100), 5)
            assert len(closed) <= 8  # at most a transport error code, then EOF
            writer.close()
            assert await good.invoke(b"\x05\x06\x07\x08") == b"\x05\x06\x07\x08"
            await good.close()

    asyncio.run(run())


def test_threaded_server_for_sync_tests(server_key: RsaPrivateKey) -> None:
    with ThreadedReferenceServer(server_key, handler=echo_handler) as server:

        async def run() -> bytes:
            async with await Client.connect(
                "127.0.0.1", server.port, public_keys=[server.public_key]
            ) as client:
                return await client.invoke(b"\x09\x09\x09\x09")

        assert asyncio.run(run()) == b"\x09\x09\x09\x09"
        assert len(server.handshakes) == 1


@pytest.mark.parametrize("case", [CASES[1], CASES[5], CASES[8]], ids=_id)
def test_client_server_on_uvloop(server_key: RsaPrivateKey, case: dict[str, object]) -> None:
    """The same on uvloop's event loop, whose transports are not
    asyncio.Transport subclasses (an isinstance check once refused them)."""
    uvloop = require("uvloop")
    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(_round_trips(server_key, case))
    finally:
        loop.close()


# ---- starting again after -404 (digest §4.2, §5.2) ----------------------------------------


def test_a_lost_temporary_key_is_replaced_and_the_call_sent_again(
    server_key: RsaPrivateKey,
) -> None:
    async def run() -> None:
        async with ReferenceServer(server_key, handler=echo_handler) as server:
            client = await Client.connect(
                "127.0.0.1",
                server.port,
                public_keys=[server.public_key],
                temp_key_expires_in=600,
                reconnect=ReconnectPolicy(backoff=0.0),
            )
            async with client:
                perm, temp = client.auth_key, client.connection.auth_key
                assert perm is not None and temp is not None
                server.server.keys.remove(temp.key_id)  # the server drops it
                payload = struct.pack("<I", 0x0D0E0D0E) + os.urandom(16)
                assert await client.invoke(payload, timeout=5.0) == payload
                assert client.restarts == 1 and client.auth_key is perm
                new = client.connection.auth_key
                assert new is not None and new.key_id != temp.key_id
                assert client.connection.ready and server.handshakes[-1].key_id == new.key_id
                # When the policy allows no new connection: ReconnectFailed.
            async with await Client.connect(
                "127.0.0.1",
                server.port,
                auth_key=perm,
                public_keys=[server.public_key],
                temp_key_expires_in=600,
                reconnect=ReconnectPolicy(max_attempts=0),
            ) as client:
                temp = client.connection.auth_key
                assert temp is not None
                server.server.keys.remove(temp.key_id)
                with pytest.raises(ReconnectFailed) as info:
                    await client.invoke(struct.pack("<I", 0x0D0E0D0E), timeout=5.0)
                assert info.value.code == -404 and info.value.attempts == 0
                with pytest.raises(ReconnectFailed):
                    await client.ping()

    asyncio.run(run())


def test_a_refused_handshake_starts_again_with_a_new_nonce(server_key: RsaPrivateKey) -> None:
    async def connect(reconnect: ReconnectPolicy | None) -> tuple[object, Evidence]:
        """The client (or what connect() raised) and what the server saw."""
        plan = HandshakePlan(refuse="req_DH_params")  # the first one only
        async with AdversarialServer(server_key, handshake_plan=plan) as server:
            try:
                client = await Client.connect(
                    "127.0.0.1",
                    server.port,
                    public_keys=[server_key.public_key],
                    reconnect=reconnect,
                    timeout=5.0,
                )
            except TransportError as exc:
                return exc, server.evidence
            await client.close()
            return client, server.evidence

    async def run() -> None:
        client, evidence = await connect(ReconnectPolicy(backoff=0.0))
        assert isinstance(client, Client) and client.restarts == 1
        assert len(evidence.nonces) == 2 and evidence.nonces[0] != evidence.nonces[1]
        assert evidence.connections == 2 and evidence.keys
        error, evidence = await connect(ReconnectPolicy(max_attempts=0))
        assert type(error) is ReconnectFailed and error.attempts == 0
        assert isinstance(error.__cause__, TransportError) and len(evidence.nonces) == 1
        # None: one attempt, and the -404 is raised as it comes
        error, evidence = await connect(None)
        assert type(error) is TransportError and error.code == -404
        with pytest.raises(InvalidArgument):
            await Client.connect("127.0.0.1", 1, public_keys=[], reconnect=3)  # type: ignore[arg-type]

    asyncio.run(run())


# ---- large results to a client that reads slowly ------------------------------------------


async def _slow_reader(server_key: RsaPrivateKey, case: dict[str, object]) -> None:
    """Large results, each sealed into its own frame, queued in the server's write
    buffer while the client does not read: every byte arrives as sealed."""
    from mtcrypt.aio import RpcReply

    # 8 MB in all: more than the server's socket (at most 4 MB on Linux) and the
    # client's (64 KB here) hold, so asyncio (or uvloop) keeps the rest queued.
    parts = {i: struct.pack("<I", 0x0D0E0D0E) + os.urandom(700_000 + 4 * i) for i in range(12)}

    def handler(query: bytes, info: object) -> RpcReply:
        return RpcReply(parts[struct.unpack_from("<I", query, 4)[0]])

    async with ReferenceServer(server_key, handler=handler, secrets=[DD, EE], seed=3) as server:
        client = await Client.connect(
            "127.0.0.1", server.port, public_keys=[server.public_key], **case
        )  # type: ignore[arg-type]
        try:
            transport = client._transport
            assert transport is not None
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            transport.pause_reading()
            calls = [
                asyncio.ensure_future(client.invoke(struct.pack("<II", 0x0D0E0D0E, i)))
                for i in parts
            ]
            await asyncio.sleep(0.3)  # the server answers all meanwhile
            transport.resume_reading()
            assert await asyncio.gather(*calls) == list(parts.values())
        finally:
            await client.close()


SLOW_CASES = [
    {"framing": "intermediate"},
    {"framing": "full"},
    {"framing": "padded_intermediate", "obfuscated": True},
    {"framing": "padded_intermediate", "secret": EE},
]


@pytest.mark.parametrize("case", SLOW_CASES, ids=_id)
def test_large_results_to_a_slow_reader(server_key: RsaPrivateKey, case: dict[str, object]) -> None:
    asyncio.run(_slow_reader(server_key, case))


def test_large_results_to_a_slow_reader_on_uvloop(server_key: RsaPrivateKey) -> None:
    uvloop = require("uvloop")
    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(_slow_reader(server_key, {"framing": "intermediate"}))
    finally:
        loop.close()
