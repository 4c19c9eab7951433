#!/usr/bin/env python3
"""Download benchmark: upload.getFile transfers end to end, over loopback.

One mtcrypt server process (``mtcrypt.aio.Server`` with an ``upload.getFile`` handler that
serves a pre-generated pseudo-random file) and one process per client, each fetching the
file in 512 KiB parts with ``--in-flight`` parts outstanding:

* ``mtcrypt``: ``mtcrypt.aio.Client.invoke`` with a hand-serialized ``upload.getFile``;
* ``telethon``: Telethon's ``MTProtoSender.send(GetFileRequest(...))`` (AES by cryptg);
* ``pyrogram``: Pyrogram's (kurigram's) ``Session.invoke(upload.GetFile(...))`` (tgcrypto).

All three use the intermediate transport against the same server.  Each client checks the
SHA-256 of what it received against the file's.  Reported per (server, client, in flight):
MB/s (10^6 bytes/s), wall time, client CPU seconds per GB (getrusage of the client process
over the transfer, all threads), server CPU seconds per GB (/proc/PID/task/*/schedstat of the
server process) and minor page faults per part on both sides.

The bound: the server's own cost per part, measured in this process through the public API
the server uses: ``mtcrypt.mtproto.encrypt_message`` of a 512 KiB ``rpc_result(upload.file)``
message (best of several): bound MB/s = part size / seal time.  Also measured: the whole reply
path, ``mtcrypt.mtproto.Session.send_result`` + ``data_to_send``, as the server runs it (its
sessions try ``gzip_packed`` on results over 512 bytes) and with ``gzip_threshold=None``.

Server variants (``--server``): ``shipped`` is ``mtcrypt.aio.Server`` as it ships; ``nogzip``
is the same server with its sessions' ``gzip_threshold`` set to None.  ``aio.Server`` has no
option for that, so ``nogzip`` sets it through a private attribute of the connection
(``ServerConnection._session_options``); it shows what the clients do when the server's gzip
attempt on incompressible parts is not the bottleneck.

    python benchmarks/download.py --quick
    python benchmarks/download.py --json benchmarks/results/download.json
    python benchmarks/download.py --clients mtcrypt --in-flight 1,4,16 --profile
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as _dt
import hashlib
import json
import os
import queue
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve()
KIB = 1024
MIB = 1 << 20
PART = 512 * KIB
CLIENTS = ("mtcrypt", "telethon", "pyrogram")
SERVERS = ("shipped", "nogzip")
PROTO = "@@ "  # prefix of the protocol lines on a child's stdout

# TL constructors of layer 229 (checked against Telethon's and Pyrogram's generated TL by the
# client processes: see _tl_check).
UPLOAD_GET_FILE = 0xBE5335BE  # upload.getFile flags:# precise:flags.0?true
#   cdn_supported:flags.1?true location:InputFileLocation offset:long limit:int = upload.File
UPLOAD_FILE = 0x096A18D5  # upload.file type:storage.FileType mtime:int bytes:bytes
STORAGE_FILE_PARTIAL = 0x40BC6F52  # storage.filePartial
INPUT_DOCUMENT_FILE_LOCATION = 0xBAD07584  # id:long access_hash:long file_reference:bytes
#   thumb_size:string
HELP_GET_CONFIG = 0xC4F9186B
RPC_RESULT = 0xF35C6D01
MAX_LIMIT = 1 * MIB  # what Telegram allows per upload.getFile


# ---- TL, by hand ---------------------------------------------------------------------------


def tl_bytes_header(n: int) -> bytes:
    """The length prefix of a TL ``bytes`` of ``n`` bytes."""
    return bytes([n]) if n < 254 else b"\xfe" + n.to_bytes(3, "little")


def tl_pad(header_len: int, n: int) -> bytes:
    return bytes(-(header_len + n) % 4)


def get_file_request(offset: int, limit: int) -> bytes:
    """upload.getFile(location=inputDocumentFileLocation(1, 2, b"", ""), offset, limit)."""
    location = struct.pack("<Iqq", INPUT_DOCUMENT_FILE_LOCATION, 1, 2) + bytes(8)  # b"", ""
    return struct.pack("<II", UPLOAD_GET_FILE, 0) + location + struct.pack("<qi", offset, limit)


def upload_file_header(n: int) -> bytes:
    """upload.file(type=storage.filePartial, mtime=0, bytes=<n bytes follow>) up to the data."""
    return struct.pack("<IIi", UPLOAD_FILE, STORAGE_FILE_PARTIAL, 0) + tl_bytes_header(n)


def parse_upload_file(result: bytes) -> bytes:
    """The ``bytes`` of a serialized upload.file."""
    if len(result) < 16 or struct.unpack_from("<I", result)[0] != UPLOAD_FILE:
        raise ValueError(f"not an upload.file: {bytes(result[:16]).hex()}")
    n = result[12]
    if n == 254:
        n = int.from_bytes(result[13:16], "little")
        start = 16
    elif n == 255:
        raise ValueError("bad TL bytes length prefix")
    else:
        start = 13
    if start + n > len(result):
        raise ValueError("upload.file bytes run past the result")
    return result[start : start + n]


# ---- /proc and machine notes (shared with server_load.py) -----------------------------------

sys.path.insert(0, str(HERE.parent))
try:
    from server_load import (
        _rusage_cpu,
        busy_processes,
        git_state,
        machine_busy_seconds,
        machine_notes,
        process_tree,
        set_parent_death_signal,
        tree_cpu_seconds,
        wait_quiet,
    )
finally:  # imported by a test: leave its sys.path (and its conftest) alone
    sys.path.remove(str(HERE.parent))


def tree_cpu_precise(root: int) -> float:
    """CPU seconds of a live process tree from /proc/PID/task/TID/schedstat (nanoseconds on a
    CPU, where /proc/PID/stat counts 10 ms ticks); the tick count where schedstat is missing."""
    total = 0
    try:
        for pid in process_tree(root):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
    except OSError:
        return tree_cpu_seconds(root)
    return total / 1e9 if total else tree_cpu_seconds(root)


def _rusage_sys() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def minor_faults(pid: int) -> int:
    """Minor page faults of a live process (/proc/PID/stat field 10)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        raw = Path(f"/proc/{pid}/stat").read_text()
        return int(raw[raw.rindex(")") + 2 :].split()[7])
    return 0


def emit(kind: str, **fields: Any) -> None:
    """A protocol line for the parent process."""
    sys.stdout.write(PROTO + json.dumps({"type": kind, **fields}) + "\n")
    sys.stdout.flush()


# ---- the server process ---------------------------------------------------------------------


def make_file(size: int, seed: int) -> bytes:
    import random

    return random.Random(seed).randbytes(size)


def _pyrogram_config(port: int) -> bytes | None:
    """A Config for Pyrogram's Session.start (help.getConfig); None without Pyrogram."""
    from mtcrypt.testing.conformance.adapters import _pyrogram_config as config

    try:
        return config(port)
    except ImportError:
        return None


def make_handler(data: bytes, config: list[bytes]) -> Any:
    """The server's RPC handler: ``upload.getFile`` answered from ``data`` (no data is made
    per request: a slice of it goes into the reply), ``help.getConfig`` with ``config[0]``
    (Pyrogram's Session.start asks for it), anything else ``rpc_error 400``."""
    from mtcrypt.aio import ConnectionInfo, RpcReply

    view = memoryview(data)

    def handler(query: bytes, info: ConnectionInfo) -> RpcReply:
        del info
        if len(query) < 4:
            return RpcReply.error(400, "QUERY_INVALID")
        cid = struct.unpack_from("<I", query)[0]
        if cid == UPLOAD_GET_FILE:
            # constructor, flags, location (variable length), offset:long, limit:int.  The
            # flags are true-flags only, so offset and limit are always the last 12 bytes.
            if len(query) < 4 + 4 + 4 + 12:
                return RpcReply.error(400, "QUERY_INVALID")
            offset, limit = struct.unpack_from("<qi", query, len(query) - 12)
            if not 0 < limit <= MAX_LIMIT:
                return RpcReply.error(400, "LIMIT_INVALID")
            if offset < 0:
                return RpcReply.error(400, "OFFSET_INVALID")
            chunk = view[offset : offset + limit]
            n = len(chunk)
            head = upload_file_header(n)
            return RpcReply(b"".join((head, chunk, tl_pad(len(head) - 12, n))))
        if cid == HELP_GET_CONFIG and config:
            return RpcReply(config[0])
        return RpcReply.error(400, "METHOD_NOT_SUPPORTED")

    return handler


def server_class(variant: str) -> Any:
    """``mtcrypt.aio.Server`` (``shipped``) or a subclass whose sessions never try gzip
    (``nogzip``: through the private ``ServerConnection._session_options``)."""
    from mtcrypt.aio import Server

    if variant == "shipped":
        return Server

    class NoGzipServer(Server):
        def _new_connection(self):  # type: ignore[no-untyped-def]
            conn = super()._new_connection()
            options = getattr(conn, "_session_options", None)
            if not isinstance(options, dict):
                raise RuntimeError("ServerConnection._session_options is gone: update nogzip")
            options["gzip_threshold"] = None
            return conn

    return NoGzipServer


def server_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="download.py _server")
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variant", choices=SERVERS, default="shipped")
    ap.add_argument("--log-level", default="WARNING")
    args = ap.parse_args(argv)

    import gc
    import logging

    from mtcrypt.handshake import generate_private_key

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    data = make_file(args.size, args.seed)
    digest = hashlib.sha256(data).hexdigest()
    config: list[bytes] = []
    handler = make_handler(data, config)
    server_cls = server_class(args.variant)

    async def serve() -> None:
        key = generate_private_key()
        server = server_cls(key, host="127.0.0.1", port=0, handler=handler, handshake_workers=0)
        await server.start()
        blob = _pyrogram_config(server.port)
        if blob is not None:
            config.append(blob)
        gc.freeze()  # as `python -m mtcrypt serve` does
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        public = key.public_key
        emit(
            "ready",
            port=server.port,
            pid=os.getpid(),
            sha256=digest,
            size=len(data),
            pem=public.to_pem(pkcs1=True),
            n=str(public.n),
            e=public.e,
            fingerprint=str(public.fingerprint),
            variant=args.variant,
        )
        await stop.wait()
        emit("stats", requests=server.stats.requests, dropped=dict(server.stats.dropped))
        await server.close()

    asyncio.run(serve())
    return 0


# ---- the client processes -------------------------------------------------------------------


class Loggers(dict):  # type: ignore[type-arg]
    """Telethon's internals want a ``loggers`` mapping."""

    def __missing__(self, key: str) -> Any:
        import logging

        return logging.getLogger(key)


class Downloader:
    """One client library: ``setup()``, ``fetch(offset, limit) -> bytes``, ``close()``."""

    name = ""

    def __init__(self, p: dict[str, Any]) -> None:
        self.p = p
        self.notes: dict[str, Any] = {}

    async def setup(self) -> None:
        raise NotImplementedError

    async def fetch(self, offset: int, limit: int) -> bytes:
        raise NotImplementedError

    async def close(self) -> None:
        pass


class MtcryptDownloader(Downloader):
    name = "mtcrypt"

    async def setup(self) -> None:
        from mtcrypt.aio import Client
        from mtcrypt.handshake import load_public_key

        self.client = await Client.connect(
            "127.0.0.1",
            self.p["port"],
            framing="intermediate",
            public_keys=[load_public_key(self.p["pem"])],
            timeout=60,
        )
        self.notes["api"] = "mtcrypt.aio.Client.invoke(bytes) -> bytes"

    async def fetch(self, offset: int, limit: int) -> bytes:
        result = await self.client.invoke(get_file_request(offset, limit), timeout=120)
        return parse_upload_file(result)

    async def close(self) -> None:
        await self.client.close()


class TelethonDownloader(Downloader):
    name = "telethon"

    async def setup(self) -> None:
        import telethon
        from telethon.crypto import aes as t_aes
        from telethon.crypto import rsa as t_rsa
        from telethon.network.connection import ConnectionTcpIntermediate
        from telethon.network.mtprotosender import MTProtoSender
        from telethon.tl import functions, types

        if t_aes.cryptg is None:
            raise RuntimeError("cryptg is not installed: Telethon would use pure-Python AES")
        t_rsa.add_key(self.p["pem"], old=False)
        self.types, self.functions = types, functions
        self.location = types.InputDocumentFileLocation(
            id=1, access_hash=2, file_reference=b"", thumb_size=""
        )
        self.notes["tl_check"] = _tl_check_telethon()
        self.notes["version"] = telethon.__version__
        self.notes["api"] = "telethon MTProtoSender.send(GetFileRequest) (cryptg)"
        loggers = Loggers()
        # Telethon shortens an auth key with a leading zero byte and then fails its own
        # check (~1 handshake in 256): MTProtoSender retries the connection.
        self.sender = MTProtoSender(None, loggers=loggers, retries=5, delay=0.1)
        await self.sender.connect(
            ConnectionTcpIntermediate("127.0.0.1", self.p["port"], 2, loggers=loggers)
        )

    async def fetch(self, offset: int, limit: int) -> bytes:
        request = self.functions.upload.GetFileRequest(
            location=self.location, offset=offset, limit=limit
        )
        result = await self.sender.send(request)
        return bytes(result.bytes)

    async def close(self) -> None:
        await self.sender.disconnect()


class PyrogramDownloader(Downloader):
    name = "pyrogram"

    async def setup(self) -> None:
        import pyrogram
        import tgcrypto  # noqa: F401  (fail here, not with pyaes, if it is missing)
        from pyrogram import raw
        from pyrogram.connection.transport import TCPIntermediate
        from pyrogram.crypto import rsa as p_rsa
        from pyrogram.session.auth import Auth
        from pyrogram.session.session import Session

        p_rsa.server_public_keys[int(self.p["fingerprint"])] = p_rsa.PublicKey(
            m=int(self.p["n"]), e=int(self.p["e"])
        )
        self.raw = raw
        self.location = raw.types.InputDocumentFileLocation(
            id=1, access_hash=2, file_reference=b"", thumb_size=""
        )
        self.notes["tl_check"] = _tl_check_pyrogram()
        self.notes["version"] = pyrogram.__version__
        self.notes["api"] = "pyrogram Session.invoke(upload.GetFile) (tgcrypto)"
        self.client = pyrogram.Client(
            "mtcrypt-download-bench",
            api_id=1,
            api_hash="0" * 32,
            in_memory=True,
            protocol_factory=TCPIntermediate,
            no_updates=True,
        )
        key = await asyncio.wait_for(
            Auth(self.client, 2, "127.0.0.1", self.p["port"], False).create(), 60
        )
        await self.client.storage.open()
        await self.client.storage.api_id(1)
        self.session = Session(self.client, 2, "127.0.0.1", self.p["port"], key, False)
        await asyncio.wait_for(self.session.start(), 30)
        if not self.session.is_started.is_set():
            raise RuntimeError("Pyrogram's Session did not start (see the client log)")

    async def fetch(self, offset: int, limit: int) -> bytes:
        query = self.raw.functions.upload.GetFile(
            location=self.location, offset=offset, limit=limit
        )
        result = await self.session.invoke(query, retries=1, timeout=120)
        return bytes(result.bytes)

    async def close(self) -> None:
        await self.session.stop()
        await self.client.storage.close()


DOWNLOADERS: dict[str, type[Downloader]] = {
    d.name: d for d in (MtcryptDownloader, TelethonDownloader, PyrogramDownloader)
}


def _tl_check_telethon() -> bool:
    """Our hand-made TL against Telethon's generated classes (raises on a mismatch)."""
    from telethon.extensions import BinaryReader
    from telethon.tl import functions, types

    assert functions.upload.GetFileRequest.CONSTRUCTOR_ID == UPLOAD_GET_FILE
    assert types.upload.File.CONSTRUCTOR_ID == UPLOAD_FILE
    assert types.storage.FilePartial.CONSTRUCTOR_ID == STORAGE_FILE_PARTIAL
    assert types.InputDocumentFileLocation.CONSTRUCTOR_ID == INPUT_DOCUMENT_FILE_LOCATION
    assert functions.help.GetConfigRequest.CONSTRUCTOR_ID == HELP_GET_CONFIG
    loc = types.InputDocumentFileLocation(id=1, access_hash=2, file_reference=b"", thumb_size="")
    for offset, limit in ((0, PART), (3 * PART, PART), (10**10, 4096)):
        req = functions.upload.GetFileRequest(location=loc, offset=offset, limit=limit)
        assert bytes(req) == get_file_request(offset, limit), "upload.getFile encoding differs"
    for n in (0, 3, 253, 254, 4096, PART):
        payload = bytes(range(256)) * (n // 256) + bytes(n % 256)
        head = upload_file_header(n)
        blob = head + payload + tl_pad(len(head) - 12, n)
        obj = BinaryReader(blob).tgread_object()
        assert isinstance(obj, types.upload.File) and obj.bytes == payload
        assert isinstance(obj.type, types.storage.FilePartial)
        assert parse_upload_file(blob) == payload
    return True


def _tl_check_pyrogram() -> bool:
    from io import BytesIO

    from pyrogram import raw
    from pyrogram.raw.core import TLObject

    assert raw.functions.upload.GetFile.ID == UPLOAD_GET_FILE
    assert raw.types.upload.File.ID == UPLOAD_FILE
    assert raw.types.storage.FilePartial.ID == STORAGE_FILE_PARTIAL
    loc = raw.types.InputDocumentFileLocation(
        id=1, access_hash=2, file_reference=b"", thumb_size=""
    )
    for offset, limit in ((0, PART), (3 * PART, PART)):
        req = raw.functions.upload.GetFile(location=loc, offset=offset, limit=limit)
        assert bytes(req.write()) == get_file_request(offset, limit)
    for n in (0, 3, 254, PART):
        payload = bytes(range(256)) * (n // 256) + bytes(n % 256)
        head = upload_file_header(n)
        obj = TLObject.read(BytesIO(head + payload + tl_pad(len(head) - 12, n)))
        assert isinstance(obj, raw.types.upload.File) and obj.bytes == payload
    return True


async def transfer(d: Downloader, size: int, part: int, in_flight: int) -> list[bytes]:
    """Fetch [0, size) in parts with ``in_flight`` requests outstanding at all times (a
    worker per slot takes the next offset when its part arrives)."""
    count = (size + part - 1) // part
    parts: list[bytes] = [b""] * count
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < count:
            i = next_index
            next_index += 1
            limit = min(part, size - i * part)
            parts[i] = await d.fetch(i * part, limit)

    await asyncio.gather(*(worker() for _ in range(max(1, min(in_flight, count)))))
    return parts


def profile_text(prof: Any, top: int = 15) -> str:
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    text = out.getvalue()
    # drop pstats' preamble up to the table
    start = text.find("   ncalls")
    return text[start:] if start >= 0 else text


async def client_async(p: dict[str, Any]) -> None:
    d = DOWNLOADERS[p["kind"]](p)
    t = time.monotonic()
    await d.setup()
    setup_s = time.monotonic() - t
    # warm-up: the largest window once, verified like the timed runs
    warm = min(p["size"], p["part"] * max(p["in_flight_max"], 1))
    parts = await transfer(d, warm, p["part"], p["in_flight_max"])
    warm_ok = hashlib.sha256(b"".join(parts)).hexdigest() == p["warm_sha256"]
    emit("ready", setup_s=round(setup_s, 3), warmup_ok=warm_ok, notes=d.notes)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            break
        cmd, k = line[0], int(line[1])
        prof = None
        if cmd == "profile":
            import cProfile

            prof = cProfile.Profile(time.thread_time)  # CPU time: no preemption in it
        error = None
        faults0, sys0 = _minor_faults(), _rusage_sys()
        cpu0, t0 = _rusage_cpu(), time.perf_counter()
        if prof is not None:
            prof.enable()
        try:
            parts = await transfer(d, p["size"], p["part"], k)
        except Exception as exc:  # reported, not raised: the parent prints it
            error = f"{type(exc).__name__}: {exc}"
            parts = []
        if prof is not None:
            prof.disable()
        wall, cpu = time.perf_counter() - t0, _rusage_cpu() - cpu0
        faults, sys_cpu = _minor_faults() - faults0, _rusage_sys() - sys0
        received = sum(len(x) for x in parts)
        digest = hashlib.sha256(b"".join(parts)).hexdigest() if parts else ""
        del parts
        emit(
            "result",
            cmd=cmd,
            in_flight=k,
            wall_s=wall,
            cpu_s=cpu,
            sys_cpu_s=sys_cpu,
            minor_faults=faults,
            bytes=received,
            verified=error is None and digest == p["sha256"] and received == p["size"],
            error=error,
            profile=profile_text(prof) if prof is not None else None,
        )
    await d.close()


def client_main(argv: list[str]) -> int:
    import logging

    p = json.loads(argv[0])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        asyncio.run(client_async(p))
    except Exception as exc:
        emit("error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        return 1
    return 0


# ---- the bound ------------------------------------------------------------------------------


def measure_bound(part: int, repeats: int) -> dict[str, Any]:
    """The server's own cost per part, through the public API it uses."""
    from mtcrypt.mtproto import AuthKey, Role, Session, encrypt_message

    key = AuthKey(os.urandom(256))
    payload = os.urandom(part)
    head = upload_file_header(part)
    result = head + payload + tl_pad(len(head) - 12, part)
    body = struct.pack("<Iq", RPC_RESULT, 0x5F00_0000_0000_0004) + result
    plaintext = struct.pack("<qqqii", 1, 2, 0x5F00_0000_0000_0001, 1, len(body)) + body

    def best(fn: Any) -> float:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    seal = best(lambda: encrypt_message(key, plaintext, from_server=True))
    out: dict[str, Any] = {
        "part_bytes": part,
        "repeats": repeats,
        "seal_s": seal,
        "seal_bound_MBps": part / seal / 1e6,
    }
    for label, threshold in (("shipped", 512), ("nogzip", None)):
        session = Session(key, Role.SERVER, session_id=7, gzip_threshold=threshold)
        req = [0x5F00_0000_0000_0000]

        def reply(s: Any = session, r: list[int] = req) -> None:
            r[0] += 4
            s.send_result(r[0], result)
            s.data_to_send()

        t = best(reply)
        out[f"reply_path_{label}_s"] = t
        out[f"reply_path_{label}_MBps"] = part / t / 1e6
    return out


# ---- the parent: processes, figures, report -------------------------------------------------


class Child:
    """A child process speaking the line protocol on stdout (and taking commands on stdin)."""

    def __init__(
        self, argv: list[str], name: str, log_dir: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        env = {**os.environ, **(extra_env or {})}
        env["PYTHONPATH"] = os.pathsep.join(x for x in (str(ROOT), env.get("PYTHONPATH", "")) if x)
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=ROOT,
            env=env,
            text=True,
            bufsize=1,
            preexec_fn=set_parent_death_signal,
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.other_output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(PROTO):
                self.lines.put(json.loads(line[len(PROTO) :]))
            else:
                self.other_output.append(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, kind: str, timeout: float) -> dict[str, Any]:
        try:
            msg = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"{self.name}: no {kind!r} within {timeout:g} s") from None
        if msg is None:
            self.proc.wait(5)
            raise RuntimeError(
                f"{self.name} exited ({self.proc.returncode}) before {kind!r}:\n{self.log_tail()}"
            )
        if msg["type"] == "error":
            raise RuntimeError(f"{self.name}: {msg['error']}\n{msg.get('traceback', '')}")
        if msg["type"] != kind:
            raise RuntimeError(f"{self.name}: expected {kind!r}, got {msg}")
        return msg

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def log_tail(self, lines: int = 25) -> str:
        with contextlib.suppress(ValueError):  # closed already
            self._log.flush()
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, timeout: float = 10) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def mbps(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e6 if seconds > 0 else 0.0


def per_gb(cpu: float, nbytes: int) -> float:
    return cpu / (nbytes / 1e9) if nbytes else 0.0


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="mtcrypt-download-"))
        self.runs: list[dict[str, Any]] = []
        self.profiles: list[dict[str, Any]] = []
        self.client_notes: dict[str, Any] = {}
        self.servers: dict[str, Any] = {}
        self.children: list[Child] = []
        self.waits: dict[str, Any] = {}

    def spawn(self, argv: list[str], name: str, env: dict[str, str] | None = None) -> Child:
        child = Child([self.args.python, str(HERE), *argv], name, self.tmp, env)
        self.children.append(child)
        return child

    def run_server(self, variant: str) -> None:
        a = self.args
        server = self.spawn(
            ["_server", "--size", str(a.size), "--seed", str(a.seed), "--variant", variant],
            f"server-{variant}",
            dict(a.server_env),
        )
        try:
            info = server.expect("ready", 120)
            self.servers[variant] = {k: info[k] for k in ("port", "pid", "sha256", "size")}
            warm = min(a.size, a.part * max(a.in_flight))
            warm_sha = hashlib.sha256(make_file(a.size, a.seed)[:warm]).hexdigest()
            for kind in a.clients:
                print(f"  server {variant}: {kind} ...", end=" ", flush=True)
                try:
                    self.run_client(server, info, variant, kind, warm_sha)
                    print("done", flush=True)
                except Exception as exc:
                    print(f"FAILED: {exc}", flush=True)
                    self.runs.append({"server": variant, "client": kind, "error": str(exc)[:2000]})
        finally:
            server.stop()
            self.children.remove(server)
            with contextlib.suppress(queue.Empty):
                while (msg := server.lines.get(timeout=2)) is not None:
                    if msg.get("type") == "stats":
                        self.servers[variant]["stats"] = msg
            self.servers[variant]["log_tail"] = server.log_tail(10)

    def run_client(
        self, server: Child, info: dict[str, Any], variant: str, kind: str, warm_sha: str
    ) -> None:
        a = self.args
        p = {
            "kind": kind,
            "port": info["port"],
            "pem": info["pem"],
            "n": info["n"],
            "e": info["e"],
            "fingerprint": info["fingerprint"],
            "size": a.size,
            "part": a.part,
            "sha256": info["sha256"],
            "warm_sha256": warm_sha,
            "in_flight_max": max(a.in_flight),
        }
        client = self.spawn(["_client", json.dumps(p)], f"{variant}-{kind}")
        try:
            ready = client.expect("ready", 180)
            if a.wait_quiet > 0:
                self.waits[f"{variant}/{kind}"] = wait_quiet(a.wait_quiet)
            self.client_notes[kind] = ready["notes"]
            if not ready["warmup_ok"]:
                raise RuntimeError("the warm-up download did not match the file")
            for k in a.in_flight:
                for rep in range(a.repeat):
                    f0 = minor_faults(server.pid)
                    s0, m0 = tree_cpu_precise(server.pid), machine_busy_seconds()
                    client.send(f"run {k}")
                    res = client.expect("result", a.timeout)
                    s1, m1 = tree_cpu_precise(server.pid), machine_busy_seconds()
                    parts = (res["bytes"] + a.part - 1) // a.part or 1
                    if res["error"]:
                        raise RuntimeError(f"in flight {k}: {res['error']}")
                    server_cpu = s1 - s0
                    self.runs.append(
                        {
                            "server": variant,
                            "client": kind,
                            "in_flight": k,
                            "repeat": rep,
                            "bytes": res["bytes"],
                            "wall_s": res["wall_s"],
                            "MBps": mbps(res["bytes"], res["wall_s"]),
                            "client_cpu_s": res["cpu_s"],
                            "client_sys_cpu_s": res["sys_cpu_s"],
                            "server_cpu_s": server_cpu,
                            "client_cpu_s_per_GB": per_gb(res["cpu_s"], res["bytes"]),
                            "server_cpu_s_per_GB": per_gb(server_cpu, res["bytes"]),
                            "other_cpu_s": max(0.0, (m1 - m0) - server_cpu - res["cpu_s"]),
                            "client_minor_faults_per_part": res["minor_faults"] / parts,
                            "server_minor_faults_per_part": (minor_faults(server.pid) - f0) / parts,
                            "verified": res["verified"],
                        }
                    )
                    if not res["verified"]:
                        raise RuntimeError(f"in flight {k}: the bytes received differ")
            if kind in a.profile:
                for k in a.in_flight:
                    client.send(f"profile {k}")
                    res = client.expect("result", a.timeout * 3)
                    self.profiles.append(
                        {
                            "server": variant,
                            "client": kind,
                            "in_flight": k,
                            "MBps_under_profiler": mbps(res["bytes"], res["wall_s"]),
                            "verified": res["verified"],
                            "top_tottime": res["profile"],
                        }
                    )
            client.send("quit")
            client.proc.wait(30)
        except Exception as exc:
            tail = client.log_tail(8)
            raise RuntimeError(f"{exc}" + (f"\n  client log:\n{tail}" if tail else "")) from exc
        finally:
            client.stop()
            self.children.remove(client)

    def cleanup(self) -> None:
        for child in list(self.children):
            with contextlib.suppress(Exception):
                child.stop(5)
        self.children.clear()


# ---- the report -----------------------------------------------------------------------------


def best_runs(runs: list[dict[str, Any]]) -> dict[tuple[str, str, int], dict[str, Any]]:
    """The fastest repeat of each (server, client, in flight)."""
    best: dict[tuple[str, str, int], dict[str, Any]] = {}
    for r in runs:
        if "error" in r:
            continue
        key = (r["server"], r["client"], r["in_flight"])
        if key not in best or r["MBps"] > best[key]["MBps"]:
            best[key] = r
    return best


def summarize(bench: Bench, bound: dict[str, Any]) -> dict[str, Any]:
    a = bench.args
    best = best_runs(bench.runs)
    for r in best.values():
        r["pct_of_seal_bound"] = 100 * r["MBps"] / bound["seal_bound_MBps"]
    ratios = []
    for variant in a.server:
        for k in a.in_flight:
            m = best.get((variant, "mtcrypt", k))
            if m is None:
                continue
            row: dict[str, Any] = {
                "server": variant,
                "in_flight": k,
                "pct_of_seal_bound": m["pct_of_seal_bound"],
                "goal_80pct_of_bound": m["pct_of_seal_bound"] >= 80,
            }
            for other, goal in (("telethon", 2.0), ("pyrogram", 3.0)):
                o = best.get((variant, other, k))
                if o is None:
                    continue
                row[f"MBps_vs_{other}"] = m["MBps"] / o["MBps"]
                row[f"client_cpu_per_GB_{other}_over_mtcrypt"] = (
                    o["client_cpu_s_per_GB"] / m["client_cpu_s_per_GB"]
                    if m["client_cpu_s_per_GB"]
                    else None
                )
                row[f"goal_{goal:g}x_{other}"] = m["MBps"] / o["MBps"] >= goal
            ratios.append(row)
    return {"best": list(best.values()), "ratios": ratios}


def _f(x: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def markdown(bench: Bench, bound: dict[str, Any], summary: dict[str, Any], meta: dict) -> str:
    a = bench.args
    m = meta["machine"]
    git = meta["git"]
    dirty = git.get("dirty_server_files") or []
    notes = bench.client_notes
    versions = ", ".join(
        f"{k} {v['version']}" for k, v in notes.items() if isinstance(v, dict) and "version" in v
    )
    lines = [
        f"### Download (upload.getFile): {meta['label']} ({meta['date']})",
        "",
        f"Code: {ROOT} at git {git.get('head', '?')}"
        + (f" with {len(dirty)} uncommitted change(s) under mtcrypt/" if dirty else "")
        + f"; {versions or 'no third-party client'}.",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), Python {m['python']}, load average "
        f"at start {m['loadavg_start'][0]:.2f}; server and client in separate processes on "
        "the same cores, over loopback, intermediate transport.",
        f"Transfer: {a.size / MIB:g} MiB in {a.part // KIB} KiB parts "
        f"({(a.size + a.part - 1) // a.part} upload.getFile calls), best of {a.repeat}; "
        "MB/s = 10^6 bytes/s; CPU s/GB = CPU seconds per 10^9 bytes.",
    ]
    if a.server_env:
        lines.append("Server environment: " + " ".join(f"`{k}={v}`" for k, v in a.server_env) + ".")
    busy = meta.get("other_busy_processes_at_start") or []
    if busy:
        lines.append(
            "Other processes busy at start: "
            + "; ".join(f"{b['cpu']:.0%} of a core: `{b['cmd'][:60]}`" for b in busy[:4])
            + "."
        )
    waits = meta.get("wait_quiet") or {}
    if waits:
        lines.append(
            "Before each client the script waited for an idle machine (< 0.25 cores busy): "
            + "; ".join(
                f"{name} {w['waited_s']:g} s"
                + ("" if w["quiet"] else f" (gave up, {w['busy_cores']} cores busy)")
                for name, w in waits.items()
            )
            + "."
        )
    lines += [
        "",
        f"The bound: the server's seal of one {a.part // KIB} KiB rpc_result(upload.file) "
        f"message (`mtcrypt.mtproto.encrypt_message`, best of {bound['repeats']}) takes "
        f"{bound['seal_s'] * 1e3:.3f} ms: **{bound['seal_bound_MBps']:.0f} MB/s**.  The whole "
        f"reply path (`Session.send_result` + `data_to_send`) takes "
        f"{bound['reply_path_shipped_s'] * 1e3:.3f} ms as shipped "
        f"({bound['reply_path_shipped_MBps']:.0f} MB/s; its sessions try gzip on every result "
        f"over 512 bytes) and {bound['reply_path_nogzip_s'] * 1e3:.3f} ms with "
        f"`gzip_threshold=None` ({bound['reply_path_nogzip_MBps']:.0f} MB/s).",
        "",
        "| server | client | in flight | MB/s | % of seal bound | wall | client CPU s/GB "
        "| server CPU s/GB | page faults/part (client / server) | other load | verified |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    best = {(r["server"], r["client"], r["in_flight"]): r for r in summary["best"]}
    for variant in a.server:
        for k in a.in_flight:
            for kind in a.clients:
                r = best.get((variant, kind, k))
                if r is None:
                    err = next(
                        (
                            x
                            for x in bench.runs
                            if x["server"] == variant and x["client"] == kind and "error" in x
                        ),
                        None,
                    )
                    what = "failed: " + err["error"].splitlines()[0][:80] if err else "not run"
                    lines.append(f"| {variant} | {kind} | {k} | {what} | | | | | | | |")
                    continue
                wall = r["wall_s"]
                lines.append(
                    f"| {variant} | {kind} | {k} | **{r['MBps']:.1f}** | "
                    f"{r['pct_of_seal_bound']:.0f} % | {wall:.2f} s | "
                    f"{r['client_cpu_s_per_GB']:.2f} | {r['server_cpu_s_per_GB']:.2f} | "
                    f"{r['client_minor_faults_per_part']:.0f} / "
                    f"{r['server_minor_faults_per_part']:.0f} | "
                    f"{r['other_cpu_s'] / wall:.2f} cores | {'yes' if r['verified'] else 'NO'} |"
                )
    if summary["ratios"]:
        lines += [
            "",
            "mtcrypt against the others (MB/s ratio; client CPU per GB, theirs over ours) and "
            "the goals (2x Telethon, 3x Pyrogram, 80 % of the seal bound):",
            "",
            "| server | in flight | vs Telethon | vs Pyrogram | CPU/GB Telethon/ours "
            "| CPU/GB Pyrogram/ours | % of bound | goals met |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in summary["ratios"]:
            goals = [
                f"{name} {'yes' if r[key] else 'no'}"
                for name, key in (
                    ("2x T", "goal_2x_telethon"),
                    ("3x P", "goal_3x_pyrogram"),
                    ("80 %", "goal_80pct_of_bound"),
                )
                if key in r
            ]
            lines.append(
                f"| {r['server']} | {r['in_flight']} | {_f(r.get('MBps_vs_telethon'), '{:.2f}x')} "
                f"| {_f(r.get('MBps_vs_pyrogram'), '{:.2f}x')} "
                f"| {_f(r.get('client_cpu_per_GB_telethon_over_mtcrypt'), '{:.2f}')} "
                f"| {_f(r.get('client_cpu_per_GB_pyrogram_over_mtcrypt'), '{:.2f}')} "
                f"| {r['pct_of_seal_bound']:.0f} % | {', '.join(goals)} |"
            )
    if "nogzip" in a.server:
        lines += [
            "",
            "`nogzip`: the same server with its sessions' `gzip_threshold` set to None through "
            "a private attribute (`ServerConnection._session_options`); `aio.Server` has no "
            "option for it.",
        ]
    for prof in bench.profiles:
        lines += [
            "",
            f"Profile of the {prof['client']} client (server {prof['server']}, "
            f"{prof['in_flight']} in flight, {prof['MBps_under_profiler']:.1f} MB/s under "
            "cProfile), top 15 by tottime (CPU seconds of the client's main thread):",
            "",
            "```",
            prof["top_tottime"].rstrip(),
            "```",
        ]
    return "\n".join(lines)


# ---- main -----------------------------------------------------------------------------------


def _csv(text: str, allowed: tuple[str, ...] | None = None) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    if allowed is not None:
        bad = [x for x in items if x not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown: {', '.join(bad)} (known: {allowed})")
    return items


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in the help, except empty ones (None, [], "", False)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if not action.default:
            return action.help
        return super()._get_help_string(action)


def _bad_env(text: str) -> tuple[str, str]:
    raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=_Help,
    )
    ap.add_argument(
        "--quick", action="store_true", help="smoke run: 8 MiB (unless --size is given)"
    )
    ap.add_argument("--size", type=float, help="MiB to download per run: 64, or 8 with --quick")
    ap.add_argument("--part", type=int, default=512, help="part size in KiB (at most 1024)")
    ap.add_argument(
        "--in-flight",
        type=lambda s: [int(x) for x in _csv(s)],
        default=[1, 8],
        help="parts outstanding, comma separated (each is a run)",
    )
    ap.add_argument(
        "--clients",
        type=lambda s: _csv(s, CLIENTS),
        default=list(CLIENTS),
        help="comma separated: " + ",".join(CLIENTS),
    )
    ap.add_argument(
        "--server",
        type=lambda s: _csv(s, SERVERS),
        default=list(SERVERS),
        help="server variants, comma separated: shipped (mtcrypt.aio.Server as is), nogzip "
        "(its sessions' gzip_threshold=None, through a private attribute)",
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs of each; the fastest is reported")
    ap.add_argument(
        "--profile",
        nargs="?",
        const="mtcrypt",
        default="",
        type=lambda s: _csv(s, CLIENTS),
        metavar="CLIENTS",
        help="after the timed runs, one more run of these clients (default mtcrypt) under "
        "cProfile; the top 15 functions by tottime go into the report",
    )
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each client's runs, wait up to this long for the machine to be idle "
        "(< 0.25 cores busy over 3 s)",
    )
    ap.add_argument(
        "--server-env",
        action="append",
        default=[],
        type=lambda s: tuple(s.split("=", 1)) if "=" in s else _bad_env(s),
        metavar="KEY=VALUE",
        help="environment of the server process (repeat), e.g. glibc's "
        "MALLOC_TRIM_THRESHOLD_=134217728 MALLOC_MMAP_THRESHOLD_=8388608",
    )
    ap.add_argument("--bound-repeats", type=int, default=30, help="seal timings (best of)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per transfer")
    ap.add_argument("--seed", type=int, default=1, help="seed of the file's contents")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the children")
    ap.add_argument("--json", metavar="OUT", help="write the results here")
    ap.add_argument("--label", default="run", help="a name for this run in the report")
    args = ap.parse_args(argv)
    if args.size is None:
        args.size = 8.0 if args.quick else 64.0
    args.size = int(args.size * MIB)
    args.part *= KIB
    if not 0 < args.part <= MAX_LIMIT or args.size < 1:
        ap.error("--part must be in 1..1024 KiB and --size positive")
    if not args.in_flight or min(args.in_flight) < 1 or args.repeat < 1:
        ap.error("--in-flight values and --repeat must be at least 1")
    return args


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    started = time.monotonic()
    bench = Bench(args)
    meta: dict[str, Any] = {
        "label": args.label,
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "argv": sys.argv[1:] if argv is None else argv,
        "git": git_state(),
        "machine": machine_notes(),
        "size": args.size,
        "part": args.part,
        "in_flight": args.in_flight,
        "servers": args.server,
        "clients": args.clients,
        "server_env": dict(args.server_env),
    }
    print(
        f"download benchmark ({args.label}): {args.size / MIB:g} MiB in {args.part // KIB} KiB "
        f"parts, in flight {args.in_flight}, clients {args.clients}, servers {args.server}",
        flush=True,
    )
    meta["other_busy_processes_at_start"] = busy_processes(1.0)
    print("  seal bound ...", end=" ", flush=True)
    bound = measure_bound(args.part, args.bound_repeats)
    print(f"{bound['seal_s'] * 1e3:.3f} ms per part: {bound['seal_bound_MBps']:.0f} MB/s")
    code = 0
    try:
        for variant in args.server:
            bench.run_server(variant)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping the children", flush=True)
        code = 130
    finally:
        bench.cleanup()
    if any("error" in r for r in bench.runs):
        code = code or 1
    meta["machine"]["loadavg_end"] = os.getloadavg()
    meta["total_seconds"] = round(time.monotonic() - started, 1)
    meta["client_notes"] = bench.client_notes
    meta["servers_info"] = bench.servers
    meta["wait_quiet"] = bench.waits
    summary = summarize(bench, bound)
    table = markdown(bench, bound, summary, meta)
    print()
    print(table)
    print(f"\n({meta['total_seconds']:g} s; children's logs in {bench.tmp})")
    if args.json:
        out = {
            "meta": meta,
            "bound": bound,
            "runs": bench.runs,
            "best": summary["best"],
            "ratios": summary["ratios"],
            "profiles": bench.profiles,
            "markdown": table,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"results written to {args.json}")
    return code


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_server":
        sys.exit(server_main(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "_client":
        sys.exit(client_main(sys.argv[2:]))
    sys.exit(main())
