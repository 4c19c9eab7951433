#!/usr/bin/env python3
"""MTProxy relay benchmark: throughput and new connections per second over loopback.

Processes: a stand-in DC (reads the 64-byte obfuscated2 header, then sends, swallows or echoes
bytes; it never decrypts, so its cost is the same for every relay), the relay under test, and
this process as the clients (``dd`` secret, padded-intermediate tag, DC 2).  Relays:

* ``mtcrypt``: ``python -m mtcrypt proxy`` as shipped (on uvloop when it is installed);
* ``mtcrypt-asyncio``: the same with ``--loop asyncio`` (the standard event loop);
* ``mtcrypt-ee``: the shipped relay with fake-TLS clients (an ``ee`` secret): the client side
  of the TLS records is done here, the relay unwraps and wraps every record (throughput only);
* ``mtprotoproxy``: alexbers/mtprotoproxy's single file (``--mtprotoproxy PATH``; not a pip
  package), configured for the local DC, with its defaults (uvloop and ``cryptography``'s
  AES-CTR when installed; ``FAST_MODE``: the DC-side keys are derived from the client's, so
  DC-to-client bytes are forwarded without re-encryption);
* ``mtprotoproxy-nofast``: the same with ``FAST_MODE = False`` (independent keys both ways,
  as mtcrypt always does);
* ``forwarder``: no crypto at all, the same I/O as mtcrypt's relay (non-blocking sockets on
  the loop's readers, ``recv_into`` one buffer, send at once), on uvloop when it is installed:
  the socket-copy part of the bound, in the same harness.

Reported per relay: MB/s (10^6 bytes/s) down (DC to client) and up, with 1 and with
``--many`` connections; the relay process's CPU seconds over each transfer (from
/proc/PID/stat), and MB/s per core = bytes / relay CPU seconds; new connections per second
(connect, header, a 64-byte request echoed by the DC, close) with 32 at a time.

The bound: two AES-256-CTR passes per byte (``mtcrypt.crypto.Ctr256``, 1 MiB chunks, best
of several, measured in this run), combined with the forwarder's CPU cost per byte:
``1 / (2 / ctr + 1 / forwarder)`` MB/s per core, for each direction and connection count.

    python benchmarks/relay.py --mtprotoproxy /tmp/mtprotoproxy.py
    python benchmarks/relay.py --quick --json benchmarks/results/relay.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as _dt
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve()
MB = 1_000_000
MIB = 1 << 20
SECRET = "dd" + "5c" * 16
TLS_SECRET = "ee" + "5c" * 16 + b"localhost".hex()
HEADER = 64
TICKS = os.sysconf("SC_CLK_TCK")


# ---- helpers --------------------------------------------------------------------------------


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (all held open while they are picked)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all threads (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def install_uvloop() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


# ---- the stand-in DC (a child process) ----------------------------------------------------


class _Dc(asyncio.Protocol):
    """After the 64-byte header: ``source`` sends ``amount`` bytes; ``sink``
    swallows ``amount`` bytes and closes; ``echo`` sends back what it gets."""

    CHUNK = bytes(range(256)) * 4096  # 1 MiB

    def __init__(self, mode: str, amount: int) -> None:
        self.mode, self.amount = mode, amount
        self.seen = 0
        self.left = amount
        self.paused = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        before = self.seen
        self.seen += len(data)
        payload = self.seen - max(before, HEADER)
        if self.mode == "echo":
            if payload > 0:
                self.transport.write(data[-payload:])
        elif self.mode == "sink":
            if payload > 0:
                self.left -= payload
                if self.left <= 0:
                    self.transport.close()
        elif before < HEADER <= self.seen:
            self._send()

    def _send(self) -> None:
        # The connection stays open: the client closes it once it has every byte (a relay
        # may drop what is in flight when the DC closes first; mtprotoproxy does).
        while self.left > 0 and not self.paused:
            n = min(self.left, len(self.CHUNK))
            self.transport.write(self.CHUNK if n == len(self.CHUNK) else self.CHUNK[:n])
            self.left -= n

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._send()


def run_dc(port: int, mode: str, amount: int) -> None:
    install_uvloop()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Dc(mode, amount), "127.0.0.1", port)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        server.close()

    asyncio.run(main())


# ---- relays under test ---------------------------------------------------------------------


def run_forwarder(port: int, dc_port: int) -> None:
    """No crypto, the relay's own I/O pattern: non-blocking sockets on the
    loop's readers, each read into one buffer (``recv_into``) and sent on at
    once; a remainder the socket did not take is kept and its source is not
    read until it drains.  What is left when the crypto is taken out."""
    install_uvloop()
    scratch = bytearray(256 * 1024)
    view = memoryview(scratch)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        listener = socket.create_server(("127.0.0.1", port), backlog=1024)
        listener.setblocking(False)

        def pipe(src: socket.socket, dst: socket.socket) -> None:
            held = bytearray()

            def readable() -> None:
                try:
                    n = src.recv_into(scratch)
                except BlockingIOError:
                    return
                except OSError:
                    n = 0
                if n == 0:
                    loop.remove_reader(src.fileno())
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
                    return
                try:
                    sent = dst.send(view[:n])
                except BlockingIOError:
                    sent = 0
                if sent < n:
                    held.extend(view[sent:n])
                    loop.remove_reader(src.fileno())
                    loop.add_writer(dst.fileno(), writable)

            def writable() -> None:
                try:
                    del held[: dst.send(held)]
                except BlockingIOError:
                    return
                if not held:
                    loop.remove_writer(dst.fileno())
                    loop.add_reader(src.fileno(), readable)

            loop.add_reader(src.fileno(), readable)

        async def accept() -> None:
            while True:
                client, _ = await loop.sock_accept(listener)
                dc = socket.socket()
                dc.setblocking(False)
                await loop.sock_connect(dc, ("127.0.0.1", dc_port))
                for sock in (client, dc):
                    sock.setblocking(False)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                pipe(client, dc)
                pipe(dc, client)

        task = asyncio.ensure_future(accept())
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        task.cancel()

    asyncio.run(main())


MTPP_LAUNCHER = """\
import sys
sys.argv = [sys.argv[0]]
import mtprotoproxy as m
m.TG_DATACENTERS_V4 = ["127.0.0.1"] * 5
m.TG_DATACENTER_PORT = {dc_port}
def _no_lookup():
    m.my_ip_info["ipv4"] = "127.0.0.1"
    m.my_ip_info["ipv6"] = None
m.init_ip_info = _no_lookup
m.main()
"""

MTPP_CONFIG = """\
PORT = {port}
USERS = {{"bench": "{key}"}}
MODES = {{"classic": True, "secure": True, "tls": False}}
LISTEN_ADDR_IPV4 = "127.0.0.1"
LISTEN_ADDR_IPV6 = None
PREFER_IPV6 = False
FAST_MODE = {fast}
MASK = False
STATS_PRINT_PERIOD = 100000
"""


def start_relay(kind: str, port: int, dc_port: int, mtpp: Path | None, tmp: Path) -> Any:
    py = sys.executable
    if kind in ("mtcrypt", "mtcrypt-asyncio", "mtcrypt-ee"):
        argv = [py, "-m", "mtcrypt", "proxy", "--host=127.0.0.1", f"--port={port}"]
        argv += [f"--secret=bench={SECRET}", f"--secret=tls={TLS_SECRET}"]
        argv += [f"--dc=2=127.0.0.1:{dc_port}", "--no-mask"]
        argv += ["--log-level=warning", "--loop=" + ("asyncio" if "asyncio" in kind else "auto")]
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, cwd=ROOT)
    if kind == "forwarder":
        return subprocess.Popen(
            [py, str(HERE), "--role", "forwarder", str(port), str(dc_port)], cwd=ROOT
        )
    assert mtpp is not None
    work = tmp / kind
    work.mkdir(exist_ok=True)
    (work / "mtprotoproxy.py").write_bytes(mtpp.read_bytes())
    fast = kind == "mtprotoproxy"
    (work / "config.py").write_text(MTPP_CONFIG.format(port=port, key=SECRET[2:], fast=fast))
    (work / "launch.py").write_text(MTPP_LAUNCHER.format(dc_port=dc_port))
    return subprocess.Popen(
        [py, "launch.py"], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


# ---- clients ---------------------------------------------------------------------------


def client_header() -> tuple[bytes, Any]:
    from mtcrypt.transport import make_client_header

    header = make_client_header(b"\xdd" * 4, secret=bytes.fromhex(SECRET[2:]), dc_id=2)
    return header.wire, header.encryptor


class _FakeTls:
    """The client's side of an ``ee`` connection, just enough for the benchmark: the
    ClientHello, the relay's answer skipped, the obfuscated2 header and the payload in
    application-data records, and the payload counted out of the records coming back."""

    def __init__(self) -> None:
        from mtcrypt.transport.faketls import build_client_hello

        self.hello = build_client_hello(bytes.fromhex(SECRET[2:]), "localhost", int(time.time()))
        self.answer: bytearray | None = bytearray()  # None once the ServerHello is skipped
        self.head = b""  # a record header split across reads
        self.left = 0  # payload bytes still to come in the current record

    def opening(self) -> bytes:
        return self.hello.record + b"\x14\x03\x03\x00\x01\x01" + wrap(client_header()[0])

    def payload(self, data: bytes) -> int:
        """How many payload bytes ``data`` (the next bytes from the relay) carries."""
        from mtcrypt.transport.faketls import server_hello_length

        if self.answer is not None:
            self.answer += data
            end = server_hello_length(self.answer)
            if not end:
                return 0
            data, self.answer = bytes(self.answer[end:]), None
        got, pos = 0, 0
        while pos < len(data):
            if self.left:
                take = min(self.left, len(data) - pos)
                got, pos, self.left = got + take, pos + take, self.left - take
                continue
            need = 5 - len(self.head)
            self.head += data[pos : pos + need]
            pos += need
            if len(self.head) == 5:
                self.left, self.head = int.from_bytes(self.head[3:5], "big"), b""
        return got


def wrap(data: bytes) -> bytes:
    """``data`` in application-data records of at most 16 KiB."""
    return b"".join(
        b"\x17\x03\x03" + len(chunk).to_bytes(2, "big") + chunk
        for chunk in (data[i : i + 16384] for i in range(0, len(data), 16384))
    )


class _Down(asyncio.Protocol):
    def __init__(self, expect: int, done: asyncio.Future[None], tls: bool = False) -> None:
        self.expect, self.done, self.got = expect, done, 0
        self.tls = _FakeTls() if tls else None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(client_header()[0] if self.tls is None else self.tls.opening())

    def data_received(self, data: bytes) -> None:
        self.got += len(data) if self.tls is None else self.tls.payload(data)
        if self.got >= self.expect and not self.done.done():
            self.done.set_result(None)
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(RuntimeError(f"closed after {self.got} bytes"))


class _Up(asyncio.Protocol):
    CHUNK = os.urandom(MIB)
    RECORDS = wrap(CHUNK)

    def __init__(self, amount: int, done: asyncio.Future[None], tls: bool = False) -> None:
        self.left, self.done, self.paused = amount, done, False
        self.tls = _FakeTls() if tls else None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(client_header()[0] if self.tls is None else self.tls.opening())
        self._send()

    def _send(self) -> None:
        while self.left > 0 and not self.paused:
            n = min(self.left, MIB)
            if self.tls is not None:
                self.transport.write(self.RECORDS if n == MIB else wrap(self.CHUNK[:n]))
            else:
                self.transport.write(self.CHUNK if n == MIB else self.CHUNK[:n])
            self.left -= n

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:  # the DC closes when it has all
        if not self.done.done():
            self.done.set_result(None)


async def transfer(port: int, direction: str, conns: int, each: int, tls: bool = False) -> float:
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(conns)]
    start = time.perf_counter()
    for fut in futures:
        proto = _Down(each, fut, tls) if direction == "down" else _Up(each, fut, tls)
        await loop.create_connection(lambda p=proto: p, "127.0.0.1", port)  # type: ignore[misc]
    await asyncio.wait_for(asyncio.gather(*futures), 600)
    return time.perf_counter() - start


async def churn(port: int, total: int, concurrency: int) -> float:
    request = os.urandom(64)

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(client_header()[0] + request)
        await reader.readexactly(64)
        writer.close()

    async def worker(n: int) -> None:
        for _ in range(n):
            await one()

    start = time.perf_counter()
    share = total // concurrency
    await asyncio.gather(*(worker(share) for _ in range(concurrency)))
    return time.perf_counter() - start


# ---- the bound -------------------------------------------------------------------------


def ctr_mb_per_s(rounds: int = 7) -> float:
    from mtcrypt.crypto import Ctr256

    ctr = Ctr256(os.urandom(32), os.urandom(16))
    data = os.urandom(MIB)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(64):
            ctr.update(data)
        best = min(best, time.perf_counter() - start)
    return 64 * MIB / best / MB


# ---- the run ---------------------------------------------------------------------------


@contextlib.contextmanager
def relay_and_dc(
    kind: str, mode: str, amount: int, args: argparse.Namespace, tmp: Path
) -> Iterator[tuple[int, int]]:
    """A stand-in DC in ``mode`` and the relay in front of it: (relay port, relay pid)."""
    dc_port, port = free_ports(2)
    dc = subprocess.Popen(
        [sys.executable, str(HERE), "--role", "dc", str(dc_port), mode, str(amount)], cwd=ROOT
    )
    relay = start_relay(kind, port, dc_port, args.mtprotoproxy, tmp)
    try:
        wait_port(dc_port)
        wait_port(port)
        time.sleep(0.3)
        yield port, relay.pid
    finally:
        for proc in (relay, dc):
            proc.send_signal(signal.SIGTERM)
        for proc in (relay, dc):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def measure(kind: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"relay": kind}
    cases: list[tuple[str, str, int, int]] = []
    for direction in ("down", "up"):
        cases.append((direction, "1", 1, args.bytes))
        cases.append((direction, "many", args.many, args.bytes // args.many))
    for direction, label, conns, each in cases:
        mode = "source" if direction == "down" else "sink"
        with relay_and_dc(kind, mode, each, args, tmp) as (port, pid):
            before = cpu_seconds(pid)
            seconds = asyncio.run(transfer(port, direction, conns, each, kind.endswith("-ee")))
            cpu = cpu_seconds(pid) - before
        moved = conns * each
        result[f"{direction}_{label}"] = {
            "connections": conns,
            "bytes": moved,
            "mb_s": moved / seconds / MB,
            "relay_cpu_s": cpu,
            "mb_s_per_core": moved / cpu / MB if cpu > 0 else None,
        }
        print(
            f"  {kind:20} {direction:4} x{conns:<3} {moved / seconds / MB:8.1f} MB/s, "
            f"{moved / max(cpu, 1e-9) / MB:8.1f} MB/s per relay core",
            flush=True,
        )
    if kind.endswith("-ee"):  # the same relay as "mtcrypt": its new connections are measured there
        return result
    with relay_and_dc(kind, "echo", 0, args, tmp) as (port, pid):
        before = cpu_seconds(pid)
        seconds = asyncio.run(churn(port, args.conns, 32))
        cpu = cpu_seconds(pid) - before
    result["new_connections"] = {
        "count": args.conns,
        "per_s": args.conns / seconds,
        "relay_cpu_ms_each": cpu / args.conns * 1e3,
    }
    print(
        f"  {kind:20} new connections: {args.conns / seconds:8.0f}/s, "
        f"{cpu / args.conns * 1e3:.2f} ms relay CPU each",
        flush=True,
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--mtprotoproxy", type=Path, help="path to mtprotoproxy.py")
    parser.add_argument("--bytes", type=int, default=512 * MIB, help="bytes per transfer")
    parser.add_argument("--many", type=int, default=16, help="connections in the 'many' runs")
    parser.add_argument("--conns", type=int, default=2048, help="connections in the churn run")
    parser.add_argument(
        "--relays",
        default="forwarder,mtcrypt,mtcrypt-asyncio,mtcrypt-ee,mtprotoproxy,mtprotoproxy-nofast",
    )
    parser.add_argument("--quick", action="store_true", help="64 MiB transfers, 512 connections")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if args.role:
        role, *rest = args.role
        if role == "dc":
            run_dc(int(rest[0]), rest[1], int(rest[2]))
        elif role == "forwarder":
            run_forwarder(int(rest[0]), int(rest[1]))
        return 0
    if args.quick:
        args.bytes, args.conns = 64 * MIB, 512
    relays = [r for r in args.relays.split(",") if r]
    if args.mtprotoproxy is None:
        relays = [r for r in relays if not r.startswith("mtprotoproxy")]
        print("no --mtprotoproxy PATH: mtprotoproxy left out", file=sys.stderr)
    loop_name = install_uvloop()
    import mtcrypt.crypto

    ctr = ctr_mb_per_s()
    print(
        f"AES-256-CTR (mtcrypt, {mtcrypt.crypto.backend_info().aes}): {ctr:.0f} MB/s; "
        f"two passes: {ctr / 2:.0f} MB/s per core; clients on {loop_name}",
        flush=True,
    )
    results: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "ctr_mb_s": ctr,
        "relays": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for kind in relays:
            results["relays"].append(measure(kind, args, Path(tmp)))
    fwd = next((r for r in results["relays"] if r["relay"] == "forwarder"), None)
    if fwd is not None:
        for key in ("down_1", "down_many", "up_1", "up_many"):
            copy = fwd[key]["mb_s_per_core"]
            bound = 1 / (2 / ctr + 1 / copy)
            results[f"bound_{key}_mb_s_per_core"] = bound
            print(f"bound {key}: 1 / (2 / {ctr:.0f} + 1 / {copy:.0f}) = {bound:.0f} MB/s per core")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
