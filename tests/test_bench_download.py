"""Smoke test of benchmarks/download.py, in-process: its hand-made upload.getFile and
upload.file against Telethon's and Pyrogram's generated TL, and a small download by each of
its three clients from its server handler (both server variants).  No timing assertions:
the figures come from running the script."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import require

from mtcrypt.handshake.rsa import RsaPrivateKey

pytestmark = pytest.mark.interop

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "download.py"
PART = 64 * 1024
SIZE = 3 * PART + 4096  # three whole parts and a short last one


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_download", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def trusted(server_key: RsaPrivateKey) -> Iterator[None]:
    """Telethon's and Pyrogram's global key tables, restored afterwards."""
    fp = server_key.fingerprint
    yield
    for module, table in (
        ("telethon.crypto.rsa", "_server_keys"),
        ("pyrogram.crypto.rsa", "server_public_keys"),
    ):
        try:
            getattr(importlib.import_module(module), table).pop(fp, None)
        except ImportError:
            pass


def test_tl_matches_telethon_and_pyrogram(bench: ModuleType) -> None:
    require("telethon")
    require("pyrogram")
    assert bench._tl_check_telethon()
    assert bench._tl_check_pyrogram()


def test_parse_upload_file_refuses_garbage(bench: ModuleType) -> None:
    with pytest.raises(ValueError):
        bench.parse_upload_file(b"\x00" * 32)
    head = bench.upload_file_header(100)
    with pytest.raises(ValueError):
        bench.parse_upload_file(head + b"x" * 50)  # runs past the result


@pytest.mark.parametrize(
    ("kind", "variant"),
    [
        ("mtcrypt", "shipped"),
        ("mtcrypt", "nogzip"),
        ("telethon", "nogzip"),
        ("pyrogram", "nogzip"),
    ],
)
def test_download(
    bench: ModuleType, server_key: RsaPrivateKey, trusted: None, kind: str, variant: str
) -> None:
    if kind == "telethon":
        require("telethon")
        require("cryptg")
    if kind == "pyrogram":
        require("pyrogram")
        require("tgcrypto")
    data = bench.make_file(SIZE, 7)
    config: list[bytes] = []

    async def run() -> None:
        server = bench.server_class(variant)(
            server_key, port=0, handler=bench.make_handler(data, config), handshake_workers=0
        )
        await server.start()
        try:
            if kind == "pyrogram":
                config.append(bench._pyrogram_config(server.port))
            public = server_key.public_key
            p: dict[str, Any] = {
                "port": server.port,
                "pem": public.to_pem(pkcs1=True),
                "n": str(public.n),
                "e": public.e,
                "fingerprint": str(public.fingerprint),
            }
            d = bench.DOWNLOADERS[kind](p)
            await asyncio.wait_for(d.setup(), 60)
            try:
                for in_flight in (1, 3):
                    parts = await asyncio.wait_for(bench.transfer(d, SIZE, PART, in_flight), 60)
                    assert [len(x) for x in parts] == [PART, PART, PART, 4096]
                    got = hashlib.sha256(b"".join(parts)).digest()
                    assert got == hashlib.sha256(data).digest()
                assert await d.fetch(SIZE, PART) == b""  # past the end: empty
            finally:
                await d.close()
        finally:
            await server.close()

    asyncio.run(run())


def test_handler_refuses_bad_limits(bench: ModuleType) -> None:
    handler = bench.make_handler(bytes(4096), [])
    for offset, limit, error in (
        (0, 0, "LIMIT_INVALID"),
        (0, 2 << 20, "LIMIT_INVALID"),
        (-4096, 4096, "OFFSET_INVALID"),
    ):
        reply = handler(bench.get_file_request(offset, limit), None)
        assert reply.result is None and reply.error_message == error
    assert handler(b"\x01\x02\x03\x04", None).error_code == 400
    ok = handler(bench.get_file_request(1024, 1024), None)
    assert bench.parse_upload_file(ok.result) == bytes(1024)
