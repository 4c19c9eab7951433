#!/usr/bin/env python3
"""Server load benchmark: the reference server in its own process, the clients in others.

Starts ``python -m mtcrypt serve`` as a subprocess (a fresh one per scenario) and drives it
from client processes, each with its own asyncio loop, so the figures are the server's own
share of the machine: its CPU seconds come from /proc/PID/stat (the server's whole process
tree) and its memory from /proc/PID/status.

Scenarios (``--only``, comma separated; default all):

* ``handshakes``: N concurrent full handshakes (``Client.connect`` then close) spread over P
  client processes; completed/failed, wall time, handshakes/s, server CPU seconds and
  handshakes per server CPU-second.
* ``ping``: one honest client with an established key pings every 50 ms before and during
  the handshake flood (which runs as its load); RTT p50/p99/max and timeouts.
* ``abuse``: slowloris, idle and oversize-frame connections; when the server closes them.
* ``memory``: connections each declaring a 16 MiB frame and streaming it; server RSS before,
  peak (sampled every 100 ms) and after.
* ``rpc``: encrypted 256-byte RPC round trips/s on one connection, sequential and pipelined.

Hardening options of the server (``--handshake-timeout``, ``--idle-timeout``,
``--max-buffered-bytes``, ...) are passed only when ``serve --help`` lists them; the report
says which were not supported.

    python benchmarks/server_load.py --quick
    python benchmarks/server_load.py --label before --json benchmarks/results/before.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import datetime as _dt
import itertools
import json
import multiprocessing as mp
import os
import platform
import queue
import re
import resource
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20
INTERMEDIATE_TAG = b"\xee\xee\xee\xee"
RPC_PAYLOAD = struct.pack("<I", 0x0D0E0D0E) + bytes(252)  # as in mtcrypt/_demo.py
SCENARIOS = ("handshakes", "ping", "abuse", "memory", "rpc")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

# The full run's sizes and the --quick ones; an option given explicitly wins over both.
FULL = {
    "handshakes": 1000,
    "processes": 2,
    "handshake_time_limit": 240.0,
    "slowloris": 100,
    "idle": 50,
    "oversize": 100,
    "abuse_seconds": 45.0,
    "memory_connections": 50,
    "rpc_seconds": 5.0,
    "ping_baseline": 3.0,
}
QUICK = {
    "handshakes": 50,
    "processes": 2,
    "handshake_time_limit": 60.0,
    "slowloris": 10,
    "idle": 10,
    "oversize": 10,
    "abuse_seconds": 5.0,
    "memory_connections": 5,
    "rpc_seconds": 1.0,
    "ping_baseline": 1.0,
}


# ---- process hygiene ------------------------------------------------------------------------


def raise_nofile(wanted: int = 65536) -> int:
    """Raise the soft open-files limit towards ``wanted`` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def set_parent_death_signal() -> None:
    """Linux: get SIGKILL when the parent dies, so nothing outlives a killed benchmark."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def _server_preexec() -> None:
    set_parent_death_signal()
    raise_nofile()


# ---- /proc readers ----------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from 3 (state) on


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        with contextlib.suppress(OSError, ValueError):
            out.extend(int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split())
    return out


def process_tree(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(_children(pid))
    return pids


def tree_cpu_seconds(root: int) -> float:
    """utime+stime of every live process in the tree, plus the root's reaped children."""
    ticks = 0
    for pid in process_tree(root):
        f = _stat_fields(pid)
        if f is None:
            continue
        ticks += int(f[11]) + int(f[12])  # utime, stime (fields 14, 15)
        if pid == root:
            ticks += int(f[13]) + int(f[14])  # cutime, cstime
    return ticks / CLK_TCK


def status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_rss_kib(root: int) -> int:
    total = 0
    for pid in process_tree(root):
        f = _stat_fields(pid)
        if f is not None:
            total += int(f[21]) * PAGE_KIB  # rss in pages (field 24)
    return total


def machine_busy_seconds() -> float:
    """Non-idle CPU time of the whole machine (all cores) from /proc/stat."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    v = [int(x) for x in parts[:8]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK  # user nice system irq softirq steal


def busy_processes(seconds: float = 1.0, exclude: Iterable[int] = ()) -> list[dict[str, Any]]:
    """Processes that used > 5% of a core over ``seconds`` (the other load on the machine)."""

    def snapshot() -> dict[int, tuple[int, str]]:
        snap = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            f = _stat_fields(int(name))
            if f is None:
                continue
            try:
                cmd = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").strip()
            except OSError:
                cmd = b""
            snap[int(name)] = (int(f[11]) + int(f[12]), cmd.decode(errors="replace")[:140])
        return snap

    skip = set(exclude) | {os.getpid()}
    a = snapshot()
    time.sleep(seconds)
    b = snapshot()
    out = []
    for pid, (ticks, cmd) in b.items():
        if pid in skip or pid not in a:
            continue
        share = (ticks - a[pid][0]) / CLK_TCK / seconds
        if share > 0.05:
            out.append({"pid": pid, "cpu": round(share, 2), "cmd": cmd})
    return sorted(out, key=lambda r: -r["cpu"])


def wait_quiet(limit: float, threshold: float = 0.25, probe: float = 3.0) -> dict[str, Any]:
    """Wait up to ``limit`` seconds for the machine to be nearly idle (busy < ``threshold``
    cores over ``probe`` seconds).  Returns how long it waited and the last busy figure."""
    start = time.monotonic()
    busy = 0.0
    while True:
        a = machine_busy_seconds()
        time.sleep(probe)
        busy = (machine_busy_seconds() - a) / probe
        if busy < threshold or time.monotonic() - start >= limit:
            break
    return {
        "waited_s": round(time.monotonic() - start, 1),
        "busy_cores": round(busy, 2),
        "quiet": busy < threshold,
    }


class Sampler(threading.Thread):
    """Samples the server tree's CPU and RSS and the machine's busy time every ``interval``."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, float, int, int, float]] = []
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    def sample(self) -> tuple[float, float, int, int, float]:
        s = (
            time.monotonic(),
            tree_cpu_seconds(self.pid),
            status_kib(self.pid, "VmRSS"),
            tree_rss_kib(self.pid),
            machine_busy_seconds(),
        )
        with self._lock:
            self.samples.append(s)
        return s

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(2)

    def _at(self, t: float, index: int) -> float:
        with self._lock:
            samples = list(self.samples)
        if not samples:
            return 0.0
        if t <= samples[0][0]:
            return float(samples[0][index])
        for a, b in itertools.pairwise(samples):
            if a[0] <= t <= b[0]:
                if b[0] == a[0]:
                    return float(b[index])
                return a[index] + (b[index] - a[index]) * (t - a[0]) / (b[0] - a[0])
        return float(samples[-1][index])

    def cpu_between(self, t0: float, t1: float) -> float:
        return self._at(t1, 1) - self._at(t0, 1)

    def machine_between(self, t0: float, t1: float) -> float:
        return self._at(t1, 4) - self._at(t0, 4)

    def peak_rss(self, t0: float, t1: float) -> tuple[int, int]:
        with self._lock:
            window = [s for s in self.samples if t0 <= s[0] <= t1]
        if not window:
            return 0, 0
        return max(s[2] for s in window), max(s[3] for s in window)


# ---- statistics helpers --------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))  # nearest rank
    return s[k]


def rnd(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1e3:.1f} ms"


def secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f} s"


def secs3(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f} s"


def mib(kib: float | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f} MiB"


def rate(x: float | None, unit: str = "/s") -> str:
    return "-" if x is None else f"{x:,.1f}{unit}"


# ---- client-side workers (run in spawned processes) -------------------------------------------


def _rusage_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _wait_mp_event(event: Any, poll: float = 0.005) -> None:
    while not event.is_set():
        await asyncio.sleep(poll)


async def _worker_handshakes(p: dict[str, Any], ready: Callable[[], None], go: Any, stop: Any):
    from mtcrypt.aio import Client
    from mtcrypt.handshake import load_public_key

    pub = load_public_key(p["pem"])
    ready()
    await _wait_mp_event(go)
    t0, cpu0 = time.monotonic(), _rusage_cpu()
    deadline = t0 + p["time_limit"]
    sem = asyncio.Semaphore(p["concurrency"]) if p["concurrency"] > 0 else None
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    last = [t0]

    async def one() -> None:
        async with sem if sem is not None else contextlib.nullcontext():
            start = time.monotonic()
            try:
                client = await Client.connect(
                    p["host"], p["port"], public_keys=[pub], timeout=p["client_timeout"]
                )
            except Exception as exc:
                errors[type(exc).__name__] += 1
                last[0] = time.monotonic()
                return
            latencies.append(time.monotonic() - start)
            last[0] = time.monotonic()
            with contextlib.suppress(Exception):
                await client.close()

    tasks = [asyncio.create_task(one()) for _ in range(p["count"])]
    _done, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
    # the figures as of the time limit (cancelling can take a while on a busy loop)
    completed, failed, window_cpu = len(latencies), sum(errors.values()), _rusage_cpu() - cpu0
    result = {
        "t0": t0,
        "t_last": deadline if pending else last[0],
        "time_limit_hit": bool(pending),
        "count": p["count"],
        "completed": completed,
        "failed": failed,
        "unfinished": p["count"] - completed - failed,
        "errors": dict(errors),
        "latencies": latencies[:completed],
        "window_cpu": window_cpu,
    }
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return result


async def _worker_ping(p: dict[str, Any], ready: Callable[[], None], go: Any, stop: Any):
    from mtcrypt.aio import Client
    from mtcrypt.handshake import load_public_key

    pub = load_public_key(p["pem"])
    client = await Client.connect(p["host"], p["port"], public_keys=[pub], timeout=30)
    auth = (client.auth_key, client.server_salt, client.time_offset)
    for _ in range(3):  # warm the session up
        await client.ping(timeout=10)
    ready()
    await _wait_mp_event(go)
    cpu0 = _rusage_cpu()
    records: list[tuple[float, float | None, str | None]] = []
    tasks: set[asyncio.Task[None]] = set()
    state = {"broken": False, "reconnects": 0}

    async def one(c: Any, t_send: float) -> None:
        try:
            rtt = await c.ping(timeout=p["timeout"])
            records.append((t_send, rtt, None))
        except TimeoutError:
            records.append((t_send, None, "timeout"))
        except Exception as exc:
            records.append((t_send, None, type(exc).__name__))
            state["broken"] = True

    next_t = time.monotonic()
    while not stop.is_set():
        if state["broken"]:
            with contextlib.suppress(Exception):
                await client.close()
            try:
                client = await Client.connect(
                    p["host"],
                    p["port"],
                    auth_key=auth[0],
                    salt=auth[1],
                    time_offset=auth[2],
                    timeout=p["timeout"],
                )
                state["broken"] = False
                state["reconnects"] += 1
            except Exception as exc:
                records.append((time.monotonic(), None, "reconnect:" + type(exc).__name__))
                await asyncio.sleep(p["interval"])
                next_t = time.monotonic()
                continue
        task = asyncio.create_task(one(client, time.monotonic()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        next_t += p["interval"]
        await asyncio.sleep(max(0.0, next_t - time.monotonic()))
    if tasks:
        await asyncio.wait(tasks, timeout=p["timeout"] + 1)
    with contextlib.suppress(Exception):
        await client.close()
    return {
        "records": records,
        "reconnects": state["reconnects"],
        "window_cpu": _rusage_cpu() - cpu0,
    }


async def _raw_connection(
    p: dict[str, Any], group: str, deadline: float, shutdown: asyncio.Event
) -> dict[str, Any]:
    """One misbehaving (or flooding) connection; returns when the server closed it, at
    ``deadline``, or (flood) ``hold`` seconds after the whole frame was sent."""
    t_start = time.monotonic()
    rec: dict[str, Any] = {"group": group, "closed_after": None, "how": None, "sent": 0}
    rec["received"] = 0
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(p["host"], p["port"]), p["connect_timeout"]
        )
    except Exception as exc:
        rec["how"] = "connect-failed:" + type(exc).__name__
        return rec
    t0 = time.monotonic()
    rec["connect_s"] = round(t0 - t_start, 4)
    closed = asyncio.Event()
    finished = asyncio.Event()

    def mark(how: str) -> None:
        if rec["how"] is None:
            rec["how"] = how
            rec["closed_after"] = round(time.monotonic() - t0, 3)
            closed.set()

    async def read_side() -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    mark("eof")
                    return
                rec["received"] += len(data)
        except (ConnectionError, OSError) as exc:
            mark("reset:" + type(exc).__name__)

    async def send(data: bytes) -> None:
        writer.write(data)
        await writer.drain()
        rec["sent"] += len(data)

    async def write_side() -> None:
        try:
            if group == "idle":
                return
            if group == "slowloris":
                await send(INTERMEDIATE_TAG)
                length = p["slowloris_frame"]
                frame = struct.pack("<I", length) + bytes(length)
                for i in range(len(frame)):
                    await send(frame[i : i + 1])
                    await asyncio.sleep(p["slowloris_interval"])
                return
            if group == "oversize":
                await send(INTERMEDIATE_TAG + struct.pack("<I", p["oversize_length"]))
                chunk = bytes(p["oversize_chunk"])
                while True:
                    await asyncio.sleep(p["oversize_interval"])
                    await send(chunk)
            if group == "flood":
                await send(INTERMEDIATE_TAG + struct.pack("<I", p["flood_length"]))
                left = p["flood_length"]
                chunk = bytes(p["flood_chunk"])
                while left > 0:
                    n = min(left, len(chunk))
                    await send(chunk[:n] if n < len(chunk) else chunk)
                    left -= n
                rec["full_sent_after"] = round(time.monotonic() - t0, 3)
                await asyncio.sleep(p["flood_hold"])
                finished.set()
        except (ConnectionError, OSError) as exc:
            mark("write:" + type(exc).__name__)

    tasks = [asyncio.create_task(read_side()), asyncio.create_task(write_side())]
    waiters = [asyncio.create_task(closed.wait()), asyncio.create_task(finished.wait())]
    waiters.append(asyncio.create_task(shutdown.wait()))
    await asyncio.wait(
        waiters, timeout=max(0.0, deadline - time.monotonic()), return_when=asyncio.FIRST_COMPLETED
    )
    for task in tasks + waiters:
        task.cancel()
    await asyncio.gather(*tasks, *waiters, return_exceptions=True)
    writer.transport.abort()
    return rec


async def _probe(p: dict[str, Any]) -> dict[str, Any]:
    """A fresh honest client: handshake and one ping."""
    from mtcrypt.aio import Client
    from mtcrypt.handshake import load_public_key

    pub = load_public_key(p["pem"])
    start = time.monotonic()
    try:
        client = await Client.connect(p["host"], p["port"], public_keys=[pub], timeout=15)
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    try:
        handshake = time.monotonic() - start
        rtt = await client.ping(timeout=10)
        return {"ok": True, "handshake_s": round(handshake, 4), "ping_s": round(rtt, 5)}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        with contextlib.suppress(Exception):
            await client.close()


async def _worker_raw(p: dict[str, Any], ready: Callable[[], None], go: Any, stop: Any):
    if p.get("probe"):
        import mtcrypt.aio  # noqa: F401  (import before the clock starts)
    ready()
    await _wait_mp_event(go)
    t0, cpu0 = time.monotonic(), _rusage_cpu()
    deadline = t0 + p["window"]
    shutdown = asyncio.Event()
    tasks = [
        asyncio.create_task(_raw_connection(p, group, deadline, shutdown))
        for group, count in p["groups"]
        for _ in range(count)
    ]
    probe = None
    if p.get("probe"):
        await asyncio.sleep(max(0.0, deadline - time.monotonic() - 2.0))
        probe = await _probe(p)
    records = await asyncio.gather(*tasks)
    return {
        "records": records,
        "probe": probe,
        "t0": t0,
        "t_end": time.monotonic(),
        "window_cpu": _rusage_cpu() - cpu0,
    }


async def _worker_rpc(p: dict[str, Any], ready: Callable[[], None], go: Any, stop: Any):
    from mtcrypt.aio import Client
    from mtcrypt.handshake import load_public_key

    pub = load_public_key(p["pem"])
    client = await Client.connect(p["host"], p["port"], public_keys=[pub], timeout=30)
    ok = True
    for _ in range(50):  # warm up
        ok = ok and await client.invoke(RPC_PAYLOAD) == RPC_PAYLOAD
    ready()
    await _wait_mp_event(go)
    phases: dict[str, Any] = {}

    cpu0 = _rusage_cpu()
    t0 = time.monotonic()
    latencies: list[float] = []
    end = t0 + p["seconds"]
    while time.monotonic() < end:
        start = time.monotonic()
        ok = ok and await client.invoke(RPC_PAYLOAD) == RPC_PAYLOAD
        latencies.append(time.monotonic() - start)
    t1 = time.monotonic()
    phases["sequential"] = {
        "t0": t0,
        "t1": t1,
        "count": len(latencies),
        "p50": pct(latencies, 50),
        "p99": pct(latencies, 99),
        "client_cpu": _rusage_cpu() - cpu0,
    }

    await asyncio.sleep(0.3)
    cpu0 = _rusage_cpu()
    t0 = time.monotonic()
    end = t0 + p["seconds"]
    counts = [0] * p["in_flight"]
    errors: Counter[str] = Counter()

    async def lane(i: int) -> None:
        nonlocal ok
        while time.monotonic() < end:
            try:
                ok = ok and await client.invoke(RPC_PAYLOAD, timeout=30) == RPC_PAYLOAD
                counts[i] += 1
            except Exception as exc:
                errors[type(exc).__name__] += 1
                return

    await asyncio.gather(*(lane(i) for i in range(p["in_flight"])))
    t1 = time.monotonic()
    phases["pipelined"] = {
        "t0": t0,
        "t1": t1,
        "count": sum(counts),
        "errors": dict(errors),
        "client_cpu": _rusage_cpu() - cpu0,
    }
    await client.close()
    return {"phases": phases, "echo_ok": ok}


WORKERS = {
    "handshakes": _worker_handshakes,
    "ping": _worker_ping,
    "raw": _worker_raw,
    "rpc": _worker_rpc,
}


def _worker_main(kind: str, name: str, p: dict[str, Any], q: Any, go: Any, stop: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent cleans up
    if p.get("src"):
        sys.path.insert(0, p["src"])  # import mtcrypt from --client-src
    set_parent_death_signal()
    raise_nofile()
    if p.get("nice"):
        # The load generators yield the CPU to the server and to the honest
        # client: the figures are then the server's, not the 2-core machine's
        # scheduling of three busy processes.
        os.nice(p["nice"])
    try:
        result = asyncio.run(WORKERS[kind](p, lambda: q.put(("ready", name, None)), go, stop))
    except BaseException as exc:
        result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    result["cpu_total"] = _rusage_cpu()
    q.put(("result", name, result))


# ---- the server under test --------------------------------------------------------------------


def src_env(src: Path) -> dict[str, str]:
    """The environment that makes ``python -m mtcrypt`` run from ``src`` (cwd + PYTHONPATH)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(x for x in (str(src), env.get("PYTHONPATH")) if x)
    return env


class Server:
    def __init__(
        self, python: str, src: Path, key: Path, options: list[str], log_path: Path
    ) -> None:
        self.argv = [python, "-m", "mtcrypt", "serve", "--port", "0", "--rsa-key", str(key)]
        self.argv += options
        self.src = src
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self._log: Any = None

    def start(self, timeout: float = 60) -> dict[str, Any]:
        self._log = open(self.log_path, "ab")
        self._log.write(f"\n=== {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.src,
            env=src_env(self.src),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,  # its own process group: killed as a whole
            preexec_fn=_server_preexec,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        buf = b""
        while not self.info:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                break
            readable, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.5))
            if not readable:
                continue
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:  # the JSON line; anything else printed goes to the log
                info: Any = None
                if not self.info:
                    with contextlib.suppress(ValueError):
                        info = json.loads(line)
                if isinstance(info, dict) and "port" in info:
                    self.info = info
                else:
                    self._log.write(line + b"\n")
        if not self.info:
            self.stop()
            raise RuntimeError(
                f"server did not start: {' '.join(self.argv)}\n{self.log_tail()}"
            ) from None
        threading.Thread(target=self._drain, daemon=True).start()
        return self.info

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with contextlib.suppress(Exception):
            for chunk in iter(lambda: os.read(self.proc.stdout.fileno(), 65536), b""):  # type: ignore[union-attr]
                self._log.write(chunk)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        tree = process_tree(self.proc.pid) if self.proc.poll() is None else []
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(wait)
        for pid in tree[1:]:  # anything that left the process group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if self._log is not None:
            with contextlib.suppress(Exception):
                self._log.close()
        return self.proc.returncode


def server_help(python: str, src: Path) -> str:
    out = subprocess.run(
        [python, "-m", "mtcrypt", "serve", "--help"],
        cwd=src,
        env=src_env(src),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout + out.stderr


class Options:
    """What ``serve --help`` lists, and building per-scenario option lists from it."""

    def __init__(self, help_text: str) -> None:
        self.help_text = help_text
        # option lines ("  --flag ARG  help", "  -f, --flag") and the usage ("[--flag ARG]"),
        # not flags merely mentioned in some option's help text
        listed = re.findall(r"^\s+(?:-\w[ A-Z_,]*)?(--[a-z][a-z0-9-]*)", help_text, re.M)
        listed += re.findall(r"\[(--[a-z][a-z0-9-]*)", help_text)
        self.supported = sorted(set(listed))
        self.unsupported: set[str] = set()

    def build(self, wanted: list[tuple[str, str | None]]) -> tuple[list[str], list[str]]:
        argv, missing = [], []
        for flag, value in wanted:
            if flag not in self.supported:
                missing.append(flag)
                self.unsupported.add(flag)
                continue
            if flag == "--log-level" and value is not None:
                value = self._log_level(value)
            argv += [flag] if value is None else [flag, value]
        return argv, missing

    def _log_level(self, value: str) -> str:
        m = re.search(r"--log-level[ =]\{([^}]*)\}", self.help_text)
        if m:
            for choice in m.group(1).split(","):
                if choice.strip().lower() == value.lower():
                    return choice.strip()
        return value.upper()


# ---- the benchmark ----------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.ctx = mp.get_context("spawn")
        self.procs: list[Any] = []
        self.servers: list[Server] = []
        self.samplers: list[Sampler] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="mtcrypt-load-"))
        self.log_path = Path(args.server_log) if args.server_log else self.tmp / "server.log"
        self.options = Options(server_help(args.python, args.server_src))
        self.key = Path(args.rsa_key) if args.rsa_key else self._keygen()
        self.results: dict[str, Any] = {}
        self.mailbox: dict[int, dict[tuple[str, str], Any]] = {}
        self.rows: list[tuple[str, str, str]] = []

    def _keygen(self) -> Path:
        path = self.tmp / "server-key.pem"
        subprocess.run(
            [self.args.python, "-m", "mtcrypt", "keygen", str(path)],
            cwd=self.args.server_src,
            env=src_env(self.args.server_src),
            check=True,
            capture_output=True,
            timeout=120,
        )
        return path

    # -- plumbing

    def common_options(self) -> list[tuple[str, str | None]]:
        a = self.args
        wanted: list[tuple[str, str | None]] = []
        if a.server_log_level:
            wanted.append(("--log-level", a.server_log_level))
        if a.max_connections is not None:
            wanted.append(("--max-connections", str(a.max_connections)))
        if a.handshake_workers is not None:
            wanted.append(("--handshake-workers", str(a.handshake_workers)))
        if a.no_legacy_rsa:
            wanted.append(("--no-legacy-rsa", None))
        return wanted

    def start_server(self, extra: list[tuple[str, str | None]]) -> tuple[Server, dict[str, Any]]:
        argv, missing = self.options.build(self.common_options() + extra)
        argv += self.args.server_arg or []
        server = Server(self.args.python, self.args.server_src, self.key, argv, self.log_path)
        self.servers.append(server)
        info = server.start()
        meta = {"argv": server.argv[2:], "unsupported_options": missing, "pid": server.pid}
        time.sleep(self.args.settle)
        return server, {**info, "server": meta}

    def finish_server(self, server: Server, meta: dict[str, Any]) -> None:
        alive = server.alive()
        meta["server"]["alive_at_end"] = alive
        code = server.stop()
        if not alive:
            meta["server"]["exit_code"] = code
            meta["server"]["log_tail"] = server.log_tail()
        self.servers.remove(server)

    def spawn(self, kind: str, name: str, p: dict[str, Any], q: Any, go: Any, stop: Any) -> Any:
        proc = self.ctx.Process(
            target=_worker_main, args=(kind, name, p, q, go, stop), name=name, daemon=True
        )
        proc.start()
        self.procs.append(proc)
        return proc

    def wait_messages(
        self, q: Any, kind: str, names: set[str], timeout: float, procs: list[Any]
    ) -> dict[str, Any]:
        """Wait for a ``(kind, name, payload)`` message from each of ``names``; a worker that
        failed or died early counts as answered (its payload has an "error")."""
        box = self.mailbox.setdefault(id(q), {})
        deadline = time.monotonic() + timeout

        def answered() -> dict[str, Any]:
            out = {}
            for name in names:
                if (kind, name) in box:
                    out[name] = box[(kind, name)]
                elif ("result", name) in box:  # failed before it got ready
                    out[name] = box[("result", name)]
            return out

        while len(answered()) < len(names) and time.monotonic() < deadline:
            try:
                what, name, payload = q.get(timeout=0.2)
                box[(what, name)] = payload or {}
                continue
            except queue.Empty:
                pass
            for proc in procs:
                if proc.name in names and proc.name not in answered() and not proc.is_alive():
                    time.sleep(0.5)  # let a last message through
                    with contextlib.suppress(queue.Empty):
                        while True:
                            what, name, payload = q.get_nowait()
                            box[(what, name)] = payload or {}
                    if proc.name not in answered():
                        box[("result", proc.name)] = {"error": f"worker exited ({proc.exitcode})"}
        got = answered()
        for name in names - set(got):
            got[name] = {"error": f"no {kind} message within {timeout:.0f} s"}
        return got

    def reap(self, procs: list[Any]) -> None:
        for proc in procs:
            proc.join(2)
            if proc.is_alive():
                proc.kill()
                proc.join(2)
            if proc in self.procs:
                self.procs.remove(proc)

    def client_params(self, info: dict[str, Any]) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": info["port"],
            "pem": info["public_key_pem"],
            "src": str(self.args.client_src),
        }

    def cpu_split(
        self, sampler: Sampler, t0: float, t1: float, clients: float, own: float
    ) -> dict[str, Any]:
        """Where the machine's CPU went over [t0, t1]: the server's tree, our client
        processes, and everything else (other processes on the machine; includes the
        benchmark's own orchestrator, ``own``, subtracted here)."""
        server = sampler.cpu_between(t0, t1)
        machine = sampler.machine_between(t0, t1)
        return {
            "window_s": rnd(t1 - t0),
            "server_cpu_s": rnd(server),
            "client_cpu_s": rnd(clients),
            "other_cpu_s": rnd(max(0.0, machine - server - clients - own)),
            "machine_busy_cpu_s": rnd(machine),
        }

    def cpu_row(self, scenario: str, split: dict[str, Any]) -> None:
        self.row(
            scenario,
            "CPU over the window: server / our clients / other processes",
            f"{split['server_cpu_s']:.1f} / {split['client_cpu_s']:.1f} / "
            f"{split['other_cpu_s']:.1f} s in {split['window_s']:.1f} s",
        )

    def row(self, scenario: str, metric: str, value: str) -> None:
        self.rows.append((scenario, metric, value))

    def cleanup(self) -> None:
        for sampler in self.samplers:
            sampler.stop()
        for proc in list(self.procs):
            with contextlib.suppress(Exception):
                if proc.is_alive():
                    proc.kill()
                proc.join(2)
        self.procs.clear()
        for server in list(self.servers):
            with contextlib.suppress(Exception):
                server.stop()
        self.servers.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- scenario 1 + 2: handshake flood, with the honest pinger

    def run_handshakes(self, with_ping: bool) -> None:
        a = self.args
        server, info = self.start_server([])
        base = self.client_params(info)
        sampler = Sampler(server.pid)
        self.samplers.append(sampler)
        q, hs_go, ping_go, stop = (
            self.ctx.Queue(),
            self.ctx.Event(),
            self.ctx.Event(),
            self.ctx.Event(),
        )
        procs, names = [], set()
        counts = [
            a.handshakes // a.processes + (i < a.handshakes % a.processes)
            for i in range(a.processes)
        ]
        for i, count in enumerate(counts):
            p = {
                **base,
                "count": count,
                "time_limit": a.handshake_time_limit,
                "client_timeout": a.client_timeout,
                "concurrency": max(1, a.concurrency // a.processes) if a.concurrency else 0,
                "nice": a.client_nice,
            }
            procs.append(self.spawn("handshakes", f"hs{i}", p, q, hs_go, stop))
            names.add(f"hs{i}")
        if with_ping:
            p = {**base, "interval": a.ping_interval, "timeout": a.ping_timeout}
            procs.append(self.spawn("ping", "ping", p, q, ping_go, stop))
            names.add("ping")
        ready = self.wait_messages(q, "ready", names, 120, procs)
        errors = {n: r["error"] for n, r in ready.items() if r and "error" in r}
        result: dict[str, Any] = {"server": info["server"]}
        if errors:
            result["errors"] = errors
        sampler.sample()
        sampler.start()
        t_ping0 = time.monotonic()
        if with_ping and "ping" not in errors:
            ping_go.set()
            time.sleep(a.ping_baseline)
        t_go = time.monotonic()
        cpu_self0 = _rusage_cpu()
        hs_go.set()
        hs_names = {n for n in names if n.startswith("hs")}
        hs_res = self.wait_messages(q, "result", hs_names, a.handshake_time_limit + 60, procs)
        t_end = max([r.get("t_last", 0.0) for r in hs_res.values()] + [t_go])
        sampler.sample()
        cpu_self = _rusage_cpu() - cpu_self0
        ping_res: dict[str, Any] = {}
        if with_ping:
            time.sleep(a.ping_tail)
            stop.set()
            ping_res = self.wait_messages(q, "result", {"ping"}, a.ping_timeout + 30, procs)["ping"]
        t_stop = time.monotonic()
        sampler.stop()
        self.reap(procs)
        self.finish_server(server, info)

        # handshakes
        ok = [r for r in hs_res.values() if "error" not in r]
        completed = sum(r["completed"] for r in ok)
        failed = sum(r["failed"] for r in ok)
        unfinished = sum(r["unfinished"] for r in ok)
        errs: Counter[str] = Counter()
        for r in ok:
            errs.update(r["errors"])
        lat = [x for r in ok for x in r["latencies"]]
        wall = t_end - t_go
        server_cpu = sampler.cpu_between(t_go, t_end)
        clients_cpu = sum(r["window_cpu"] for r in ok)
        split = self.cpu_split(sampler, t_go, t_end, clients_cpu, cpu_self)
        hs = {
            "requested": a.handshakes,
            "processes": a.processes,
            "in_flight_per_process": max(1, (a.concurrency or a.handshakes) // a.processes),
            "time_limit_s": a.handshake_time_limit,
            "client_timeout_s": a.client_timeout,
            "completed": completed,
            "failed": failed,
            "unfinished_at_time_limit": unfinished,
            "errors": dict(errs),
            "worker_errors": {n: r["error"] for n, r in hs_res.items() if "error" in r},
            "wall_s": rnd(wall),
            "handshakes_per_s": rnd(completed / wall if wall > 0 else None, 2),
            "server_cpu_s": rnd(server_cpu),
            "server_cpu_share_of_one_core": rnd(server_cpu / wall if wall > 0 else None),
            "handshakes_per_server_cpu_s": rnd(completed / server_cpu if server_cpu else None, 2),
            "latency_s": {
                "min": rnd(min(lat) if lat else None),
                "p50": rnd(pct(lat, 50)),
                "p99": rnd(pct(lat, 99)),
                "max": rnd(max(lat) if lat else None),
            },
            "cpu": split,
        }
        result.update(hs)
        s = "handshakes"
        self.row(
            s,
            "completed / failed / unfinished",
            f"{completed} / {failed} / {unfinished} of {a.handshakes}"
            + (f" (errors: {dict(errs)})" if errs else ""),
        )
        self.row(
            s,
            "client processes x in flight",
            f"{a.processes} x {max(1, (a.concurrency or a.handshakes) // a.processes)}",
        )
        self.row(
            s,
            "wall time",
            secs(wall)
            + (f" (time limit {a.handshake_time_limit:.0f} s hit)" if unfinished else ""),
        )
        self.row(s, "handshakes/s", rate(hs["handshakes_per_s"]))
        self.row(
            s,
            "server CPU over the window",
            f"{server_cpu:.2f} s ({server_cpu / wall:.2f} cores)" if wall > 0 else "-",
        )
        self.row(
            s, "**server handshakes per CPU-second**", f"**{hs['handshakes_per_server_cpu_s']}**"
        )
        self.row(
            s,
            "handshake latency min / p50 / p99 / max",
            " / ".join(secs(x) for x in hs["latency_s"].values()),
        )
        self.cpu_row(s, split)
        self.results["handshakes"] = result

        if with_ping:
            self.results["ping"] = self._ping_summary(ping_res, t_ping0, t_go, t_end, t_stop)

    def _ping_summary(
        self, res: dict[str, Any], t0: float, t_go: float, t_end: float, t_stop: float
    ) -> dict[str, Any]:
        s = "ping"
        if "error" in res:
            self.row(s, "error", res["error"])
            return {"error": res["error"], "traceback": res.get("traceback")}
        out: dict[str, Any] = {
            "interval_s": self.args.ping_interval,
            "timeout_s": self.args.ping_timeout,
            "reconnects": res["reconnects"],
        }
        phases = {"idle": (t0, t_go), "under_load": (t_go, t_end), "after": (t_end, t_stop)}
        for phase, (lo, hi) in phases.items():
            recs = [r for r in res["records"] if lo <= r[0] < hi]
            rtts = [r[1] for r in recs if r[1] is not None]
            failures = Counter(r[2] for r in recs if r[2] is not None)
            out[phase] = {
                "sent": len(recs),
                "answered": len(rtts),
                "timed_out": failures.pop("timeout", 0),
                "other_failures": dict(failures),
                "p50_ms": rnd(pct(rtts, 50) * 1e3 if rtts else None, 2),
                "p99_ms": rnd(pct(rtts, 99) * 1e3 if rtts else None, 2),
                "max_ms": rnd(max(rtts) * 1e3 if rtts else None, 2),
            }
        # The slow ones under load, as (seconds after the flood began, RTT ms):
        # where in the flood the tail comes from.
        out["under_load"]["slowest"] = sorted(
            (
                (rnd(r[0] - t_go, 2), rnd(r[1] * 1e3, 1))
                for r in res["records"]
                if t_go <= r[0] < t_end and r[1] is not None
            ),
            key=lambda pair: -pair[1],
        )[:10]
        idle, load = out["idle"], out["under_load"]
        fmt = "{p50_ms} / {p99_ms} / {max_ms} ms"
        self.row(s, "RTT idle p50 / p99 / max", fmt.format(**idle))
        self.row(
            s, "**RTT under handshake load p50 / p99 / max**", "**" + fmt.format(**load) + "**"
        )
        self.row(
            s,
            "pings under load: sent / answered / timed out",
            f"{load['sent']} / {load['answered']} / {load['timed_out']}"
            f" (timeout {self.args.ping_timeout:g} s, every {self.args.ping_interval * 1e3:.0f} ms)"
            + (f"; other failures {load['other_failures']}" if load["other_failures"] else "")
            + (f"; reconnects {res['reconnects']}" if res["reconnects"] else ""),
        )
        return out

    # -- scenario 3: abusive connections

    def run_abuse(self) -> None:
        a = self.args
        extra: list[tuple[str, str | None]] = []
        if a.server_handshake_timeout is not None:
            extra.append(("--handshake-timeout", f"{a.server_handshake_timeout:g}"))
        if a.server_idle_timeout is not None:
            extra.append(("--idle-timeout", f"{a.server_idle_timeout:g}"))
        server, info = self.start_server(extra)
        groups = [("slowloris", a.slowloris), ("idle", a.idle), ("oversize", a.oversize)]
        p = {
            **self.client_params(info),
            "groups": [g for g in groups if g[1] > 0],
            "window": a.abuse_seconds,
            "probe": True,
            "connect_timeout": 30,
            "slowloris_frame": 1024,
            "slowloris_interval": 1.0,
            "oversize_length": a.oversize_length,
            "oversize_chunk": a.oversize_rate,
            "oversize_interval": 1.0,
        }
        res = self._raw_run(server, info, [p], a.abuse_seconds + 60)
        self.finish_server(server, info)
        out: dict[str, Any] = {
            "server": info["server"],
            "cpu": res["cpu"],
            "window_s": a.abuse_seconds,
            "server_rss_kib": res["rss"],
            "server_cpu_s": res["server_cpu"],
            "groups": {},
        }
        records = res["records"]
        descr = {
            "slowloris": "tag, then 1 byte/s of a 1024-byte frame",
            "idle": "connect, send nothing",
            "oversize": f"tag + length {a.oversize_length}, then {a.oversize_rate} B/s",
        }
        for group, count in groups:
            if count <= 0:
                continue
            recs = [r for r in records if r["group"] == group]
            closed = [r["closed_after"] for r in recs if r["closed_after"] is not None]
            failed = [r for r in recs if str(r["how"]).startswith("connect-failed")]
            g = {
                "count": count,
                "what": descr[group],
                "closed_by_server": len(closed),
                "close_median_s": rnd(statistics.median(closed) if closed else None),
                "close_max_s": rnd(max(closed) if closed else None),
                "still_open_at_end": count - len(closed) - len(failed),
                "connect_failed": len(failed),
                "how": dict(Counter(str(r["how"]).split(":")[0] for r in recs if r["how"])),
                "server_bytes_sent_total": sum(r["received"] for r in recs),
                "close_times_s": sorted(closed),
            }
            out["groups"][group] = g
            self.row(
                f"abuse: {group}",
                f"closed / still open after {a.abuse_seconds:g} s",
                f"{len(closed)} / {g['still_open_at_end']} of {count}"
                + (f" ({len(failed)} could not connect)" if failed else ""),
            )
            if closed:
                self.row(
                    f"abuse: {group}",
                    "close time median / max",
                    f"{secs3(g['close_median_s'])} / {secs3(g['close_max_s'])}",
                )
        out["probe"] = res["probe"]
        probe = res["probe"] or {}
        self.row(
            "abuse",
            "fresh client during the abuse: handshake / ping",
            f"{secs(probe.get('handshake_s'))} / {ms(probe.get('ping_s'))}"
            if probe.get("ok")
            else f"FAILED: {probe.get('error')}",
        )
        self.row("abuse", "server RSS before / peak / end", self._rss_text(res["rss"]))
        self.cpu_row("abuse", res["cpu"])
        self.results["abuse"] = out

    def _rss_text(self, rss: dict[str, Any]) -> str:
        text = f"{mib(rss['before_kib'])} / {mib(rss['peak_kib'])} / {mib(rss['after_kib'])}"
        text += f" (VmHWM {mib(rss['hwm_kib'])}"
        if rss["tree_peak_kib"] > rss["peak_kib"] * 1.05:
            text += f", process tree peak {mib(rss['tree_peak_kib'])}"
        return text + ")"

    def _raw_run(
        self, server: Server, info: dict[str, Any], params: list[dict[str, Any]], timeout: float
    ) -> dict[str, Any]:
        sampler = Sampler(server.pid)
        self.samplers.append(sampler)
        q, go, stop = self.ctx.Queue(), self.ctx.Event(), self.ctx.Event()
        procs = [self.spawn("raw", f"raw{i}", p, q, go, stop) for i, p in enumerate(params)]
        names = {f"raw{i}" for i in range(len(params))}
        ready = self.wait_messages(q, "ready", names, 120, procs)
        before = sampler.sample()
        sampler.start()
        t0, own0 = time.monotonic(), _rusage_cpu()
        go.set()
        res = self.wait_messages(q, "result", names, timeout, procs)
        t1, own = time.monotonic(), _rusage_cpu() - own0
        sampler.sample()
        self.reap(procs)
        time.sleep(self.args.settle)
        after = sampler.sample()
        sampler.stop()
        peak, tree_peak = sampler.peak_rss(t0, after[0])
        clients = sum(r.get("window_cpu", 0.0) for r in res.values())
        errors = {n: r["error"] for n, r in {**ready, **res}.items() if r and "error" in r}
        return {
            "records": [rec for r in res.values() if "records" in r for rec in r["records"]],
            "probe": next((r["probe"] for r in res.values() if r.get("probe")), None),
            "errors": errors,
            "t0": t0,
            "t1": t1,
            "server_cpu": rnd(sampler.cpu_between(t0, t1)),
            "cpu": self.cpu_split(sampler, t0, t1, clients, own),
            "rss": {
                "before_kib": before[2],
                "peak_kib": max(peak, before[2]),
                "after_kib": after[2],
                "tree_peak_kib": tree_peak,
                "hwm_kib": status_kib(server.pid, "VmHWM"),
                "samples": len(sampler.samples),
            },
        }

    # -- scenario 4: memory

    def run_memory(self) -> None:
        a = self.args
        extra: list[tuple[str, str | None]] = []
        if a.max_buffered_bytes:
            extra.append(("--max-buffered-bytes", str(a.max_buffered_bytes)))
        server, info = self.start_server(extra)
        n, procs = a.memory_connections, max(1, min(a.processes, a.memory_connections))
        params = []
        for i in range(procs):
            count = n // procs + (i < n % procs)
            params.append(
                {
                    **self.client_params(info),
                    "groups": [("flood", count)],
                    "window": a.memory_time_limit,
                    "connect_timeout": 30,
                    "flood_length": a.memory_frame,
                    "flood_chunk": 256 * 1024,
                    "flood_hold": a.memory_hold,
                }
            )
        res = self._raw_run(server, info, params, a.memory_time_limit + 60)
        rss = res["rss"]
        self.finish_server(server, info)
        recs = res["records"]
        full = [r for r in recs if "full_sent_after" in r]
        closed = [r for r in recs if r["closed_after"] is not None]
        sent = [r["sent"] for r in recs]
        out = {
            "server": info["server"],
            "connections": n,
            "frame_bytes": a.memory_frame,
            "client_processes": procs,
            "server_rss_kib": rss,
            "full_frame_sent": len(full),
            "closed_by_server": len(closed),
            "close_median_s": rnd(statistics.median([r["closed_after"] for r in closed]))
            if closed
            else None,
            "bytes_accepted_median": statistics.median(sent) if sent else None,
            "bytes_accepted_total": sum(sent),
            "how": dict(Counter(str(r["how"]).split(":")[0] for r in recs if r["how"])),
            "duration_s": rnd(res["t1"] - res["t0"]),
            "cpu": res["cpu"],
            "errors": res["errors"],
            "connections_detail": recs,
        }
        self.results["memory"] = out
        s = "memory"
        self.row(
            s,
            f"{n} conns x {a.memory_frame / MIB:g} MiB frame: server RSS before / peak / after",
            "**" + self._rss_text(rss) + "**",
        )
        self.row(
            s,
            "frames fully sent / conns closed by server",
            f"{len(full)} / {len(closed)} of {n}"
            + (f" (median close {secs3(out['close_median_s'])})" if closed else ""),
        )
        self.row(
            s,
            "bytes written before the close (total, median per conn)",
            f"{sum(sent) / MIB:.0f} MiB, {statistics.median(sent) / MIB:.1f} MiB" if sent else "-",
        )
        self.cpu_row(s, res["cpu"])

    # -- scenario 5: rpc

    def run_rpc(self) -> None:
        a = self.args
        server, info = self.start_server([("--echo", None)])
        if "--echo" not in self.options.supported:
            self.row("rpc", "skipped", "the server has no --echo")
            self.finish_server(server, info)
            return
        sampler = Sampler(server.pid)
        self.samplers.append(sampler)
        q, go, stop = self.ctx.Queue(), self.ctx.Event(), self.ctx.Event()
        p = {**self.client_params(info), "seconds": a.rpc_seconds, "in_flight": a.rpc_in_flight}
        procs = [self.spawn("rpc", "rpc", p, q, go, stop)]
        ready = self.wait_messages(q, "ready", {"rpc"}, 120, procs)
        sampler.sample()
        sampler.start()
        go.set()
        res = self.wait_messages(q, "result", {"rpc"}, 2 * a.rpc_seconds + 90, procs)["rpc"]
        sampler.sample()
        sampler.stop()
        self.reap(procs)
        self.finish_server(server, info)
        out: dict[str, Any] = {"server": info["server"], "payload_bytes": len(RPC_PAYLOAD)}
        if "error" in res or "error" in (ready["rpc"] or {}):
            err = res.get("error") or ready["rpc"]["error"]
            out["error"] = err
            self.row("rpc", "error", err)
            self.results["rpc"] = out
            return
        out["echo_ok"] = res["echo_ok"]
        for phase, ph in res["phases"].items():
            wall = ph["t1"] - ph["t0"]
            cpu = sampler.cpu_between(ph["t0"], ph["t1"])
            out[phase] = {
                "count": ph["count"],
                "wall_s": rnd(wall),
                "round_trips_per_s": rnd(ph["count"] / wall, 1),
                "server_cpu_s": rnd(cpu),
                "round_trips_per_server_cpu_s": rnd(ph["count"] / cpu if cpu else None, 1),
                "client_cpu_s": rnd(ph["client_cpu"]),
                "cpu": self.cpu_split(sampler, ph["t0"], ph["t1"], ph["client_cpu"], 0.0),
                **(
                    {
                        "latency_p50_ms": rnd(ph["p50"] * 1e3, 3),
                        "latency_p99_ms": rnd(ph["p99"] * 1e3, 3),
                    }
                    if "p50" in ph
                    else {}
                ),
                **({"errors": ph["errors"]} if ph.get("errors") else {}),
            }
        seq, pipe = out["sequential"], out["pipelined"]
        ph = res["phases"]
        split = self.cpu_split(
            sampler,
            ph["sequential"]["t0"],
            ph["pipelined"]["t1"],
            ph["sequential"]["client_cpu"] + ph["pipelined"]["client_cpu"],
            0.0,
        )
        out["cpu"] = split
        label = f"pipelined ({a.rpc_in_flight} in flight)"
        self.row(
            "rpc",
            "**sequential round trips/s** (256-byte echo)",
            f"**{seq['round_trips_per_s']:,.0f}** (p50 {seq['latency_p50_ms']} ms, "
            f"p99 {seq['latency_p99_ms']} ms; CPU server {seq['server_cpu_s']:.2f} s, "
            f"other processes {seq['cpu']['other_cpu_s']:.2f} s in {seq['wall_s']:.1f} s)",
        )
        self.row(
            "rpc",
            f"**{label} round trips/s**",
            f"**{pipe['round_trips_per_s']:,.0f}** (CPU server {pipe['server_cpu_s']:.2f} s, "
            f"other processes {pipe['cpu']['other_cpu_s']:.2f} s in {pipe['wall_s']:.1f} s)"
            + (f"; errors {pipe['errors']}" if pipe.get("errors") else ""),
        )
        self.row(
            "rpc",
            "round trips per server CPU-second: sequential / pipelined",
            f"{seq['round_trips_per_server_cpu_s']:,.0f} / "
            f"{pipe['round_trips_per_server_cpu_s']:,.0f}",
        )
        self.cpu_row("rpc", split)
        if not res["echo_ok"]:
            self.row("rpc", "WARNING", "an echo did not match its query")
        self.results["rpc"] = out


# ---- report -----------------------------------------------------------------------------------


def git_state() -> dict[str, Any]:
    def git(*cmd: str) -> str:
        r = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, timeout=30)
        return r.stdout.strip()

    with contextlib.suppress(Exception):
        return {
            "head": git("rev-parse", "--short", "HEAD"),
            "dirty_server_files": git("status", "--porcelain", "--", "mtcrypt").splitlines(),
        }
    return {}


def machine_notes() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        total = Path("/proc/meminfo").read_text().splitlines()[0]
        mem = f"{int(total.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_start": os.getloadavg(),
    }


def code_note(meta: dict[str, Any]) -> str:
    git = meta["git"]
    here = f"checkout {ROOT} at git {git.get('head', '?')}"
    if git.get("dirty_server_files"):
        here += f" with {len(git['dirty_server_files'])} uncommitted change(s) under mtcrypt/"
    server = "the " + here if meta["server_src"] == str(ROOT) else meta["server_src"]
    note = f"server from {server}"
    if meta["client_src"] != meta["server_src"]:
        client = "the " + here if meta["client_src"] == str(ROOT) else meta["client_src"]
        note += f"; clients from {client}"
    else:
        note += " (clients too)"
    return note


def markdown(bench: Bench, meta: dict[str, Any]) -> str:
    m = meta["machine"]
    lines = [
        f"### Server load: {meta['label']} ({meta['date']})",
        "",
        f"Code: {code_note(meta)}.",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory']} RAM, "
        f"Python {m['python']}, load average at start {m['loadavg_start'][0]:.2f}; "
        f"server and clients in separate processes on the same cores.",
    ]
    waits = meta.get("wait_quiet") or {}
    if waits:
        lines.append(
            "Before each scenario the script waited for an idle machine (< 0.25 cores busy): "
            + "; ".join(
                f"{name} {w['waited_s']:g} s"
                + ("" if w["quiet"] else f" (gave up, {w['busy_cores']} cores busy)")
                for name, w in waits.items()
            )
            + "."
        )
    busy = meta.get("other_busy_processes_at_start") or []
    if busy:
        lines.append(
            "Other processes busy at start: "
            + "; ".join(f"{b['cpu']:.0%} of a core: `{b['cmd'][:80]}`" for b in busy[:5])
            + "."
        )
    unsupported = meta["unsupported_server_options"]
    lines.append(
        "Server options not supported by this server (not passed): "
        + (", ".join(f"`{u}`" for u in unsupported) if unsupported else "none")
        + "."
    )
    lines += ["", "| scenario | metric | value |", "|---|---|---|"]
    lines += [f"| {s} | {k} | {v} |" for s, k, v in bench.rows]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = ap.add_argument_group("run")
    g.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help="comma-separated scenarios: " + ",".join(SCENARIOS),
    )
    g.add_argument(
        "--quick",
        action="store_true",
        help="smoke-test sizes: " + ", ".join(f"{k}={v}" for k, v in QUICK.items()),
    )
    g.add_argument("--json", metavar="OUT", help="write the results here")
    g.add_argument("--label", default="run", help="a name for this run in the report")
    g.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter that runs `-m mtcrypt serve` (the server under test)",
    )
    g.add_argument(
        "--server-src",
        type=Path,
        default=ROOT,
        help="directory holding the mtcrypt package the server runs (cwd and PYTHONPATH of "
        "`-m mtcrypt serve`), e.g. a `git archive` snapshot built with `setup.py build_ext -i`",
    )
    g.add_argument(
        "--client-src",
        type=Path,
        help="directory holding the mtcrypt package the clients import (default: --server-src)",
    )
    g.add_argument("--rsa-key", help="server key PEM (default: `mtcrypt keygen` a fresh one)")
    g.add_argument(
        "--server-arg",
        action="append",
        metavar="ARG",
        help="extra argument for every server start, passed unchecked (repeat; write "
        "--server-arg=--max-frame --server-arg=16777216)",
    )
    g.add_argument("--server-log", help="append the server's stderr here (default: a temp file)")
    g.add_argument(
        "--settle",
        type=float,
        default=1.0,
        help="seconds to let the server settle after start and after a scenario",
    )
    g.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each scenario, wait up to this long for the machine to be idle "
        "(< 0.25 cores busy over 3 s)",
    )
    g.add_argument("--processes", "-P", type=int, help=f"client processes ({FULL['processes']})")
    g.add_argument(
        "--client-nice",
        type=int,
        default=0,
        help="niceness of the handshake flood's processes (e.g. 10: they yield the CPU to "
        "the server and the pinging client, so the figures are the server's own)",
    )

    g = ap.add_argument_group("server hardening options (passed only if `serve --help` lists them)")
    g.add_argument(
        "--server-handshake-timeout",
        type=float,
        default=10.0,
        help="--handshake-timeout for the abuse scenario",
    )
    g.add_argument(
        "--server-idle-timeout",
        type=float,
        default=20.0,
        help="--idle-timeout for the abuse scenario",
    )
    g.add_argument(
        "--max-buffered-bytes",
        type=int,
        default=8 * MIB,
        help="--max-buffered-bytes for the memory scenario (0: not passed)",
    )
    g.add_argument("--max-connections", type=int, help="--max-connections for every scenario")
    g.add_argument("--handshake-workers", type=int, help="--handshake-workers for every scenario")
    g.add_argument("--no-legacy-rsa", action="store_true", help="pass --no-legacy-rsa")
    g.add_argument(
        "--server-log-level",
        default="warning",
        help="--log-level for every scenario ('' to not pass it)",
    )

    g = ap.add_argument_group("handshakes and ping")
    g.add_argument("--handshakes", "-n", type=int, help=f"handshakes ({FULL['handshakes']})")
    g.add_argument(
        "--concurrency",
        type=int,
        default=0,
        help="handshakes in flight over all processes (0: all at once)",
    )
    g.add_argument(
        "--handshake-time-limit",
        type=float,
        help=f"stop the flood after this many seconds ({FULL['handshake_time_limit']:g})",
    )
    g.add_argument(
        "--client-timeout",
        type=float,
        default=120.0,
        help="Client.connect timeout for each flood handshake",
    )
    g.add_argument("--ping-interval", type=float, default=0.05)
    g.add_argument("--ping-timeout", type=float, default=10.0)
    g.add_argument(
        "--ping-baseline",
        type=float,
        help=f"seconds of idle pings before the flood ({FULL['ping_baseline']:g})",
    )
    g.add_argument("--ping-tail", type=float, default=1.0, help="seconds of pings after the flood")

    g = ap.add_argument_group("abusive connections")
    g.add_argument("--slowloris", type=int, help=f"slowloris connections ({FULL['slowloris']})")
    g.add_argument("--idle", type=int, help=f"idle connections ({FULL['idle']})")
    g.add_argument("--oversize", type=int, help=f"oversize-frame connections ({FULL['oversize']})")
    g.add_argument(
        "--oversize-length",
        type=int,
        default=16 * MIB,
        help="frame length the oversize connections declare",
    )
    g.add_argument(
        "--oversize-rate",
        type=int,
        default=4096,
        help="bytes per second the oversize connections send",
    )
    g.add_argument(
        "--abuse-seconds", type=float, help=f"how long to keep them up ({FULL['abuse_seconds']:g})"
    )

    g = ap.add_argument_group("memory")
    g.add_argument(
        "--memory-connections",
        type=int,
        help=f"connections streaming a big frame ({FULL['memory_connections']})",
    )
    g.add_argument("--memory-frame", type=int, default=16 * MIB, help="declared frame length")
    g.add_argument(
        "--memory-hold",
        type=float,
        default=2.0,
        help="seconds a connection stays open after sending its whole frame",
    )
    g.add_argument("--memory-time-limit", type=float, default=60.0)

    g = ap.add_argument_group("rpc")
    g.add_argument(
        "--rpc-seconds",
        type=float,
        help=f"duration of each of the two phases ({FULL['rpc_seconds']:g})",
    )
    g.add_argument("--rpc-in-flight", type=int, default=64)

    args = ap.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    for key, value in sizes.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.server_src = args.server_src.resolve()
    args.client_src = (args.client_src or args.server_src).resolve()
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        ap.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if args.processes < 1 or args.handshakes < 1:
        ap.error("--processes and --handshakes must be at least 1")
    return args


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    nofile = raise_nofile()
    started = time.monotonic()
    bench = Bench(args)
    meta: dict[str, Any] = {
        "label": args.label,
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "argv": sys.argv[1:] if argv is None else argv,
        "git": git_state(),
        "machine": machine_notes(),
        "nofile_limit": nofile,
        "server_python": args.python,
        "server_src": str(args.server_src),
        "client_src": str(args.client_src),
        "server_help_options": bench.options.supported,
    }
    print(f"server load benchmark ({args.label}): {', '.join(args.only)}", flush=True)
    meta["other_busy_processes_at_start"] = busy_processes(1.0)
    meta["wait_quiet"] = {}
    code = 0
    try:
        steps: list[tuple[str, Callable[[], None]]] = []
        if "handshakes" in args.only or "ping" in args.only:
            steps.append(
                (
                    "handshakes+ping" if "ping" in args.only else "handshakes",
                    lambda: bench.run_handshakes("ping" in args.only),
                )
            )
        for name in ("abuse", "memory", "rpc"):
            if name in args.only:
                steps.append((name, getattr(bench, f"run_{name}")))
        for name, step in steps:
            if args.wait_quiet > 0:
                print(f"  waiting for an idle machine (up to {args.wait_quiet:g} s) ...", end=" ")
                quiet = meta["wait_quiet"][name] = wait_quiet(args.wait_quiet)
                print(f"{'idle' if quiet['quiet'] else 'still busy'} after {quiet['waited_s']:g} s")
            t = time.monotonic()
            print(f"  {name} ...", end=" ", flush=True)
            try:
                step()
                print(f"done ({time.monotonic() - t:.0f} s)", flush=True)
            except Exception as exc:
                code = 1
                print(f"FAILED: {type(exc).__name__}: {exc}", flush=True)
                bench.results.setdefault(name, {})["error"] = traceback.format_exc()
                bench.row(name, "error", f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300])
    except KeyboardInterrupt:
        print("\ninterrupted; stopping the server and the clients", flush=True)
        code = 130
    finally:
        bench.cleanup()
    meta["machine"]["loadavg_end"] = os.getloadavg()
    meta["other_busy_processes_at_end"] = busy_processes(1.0)
    meta["unsupported_server_options"] = sorted(bench.options.unsupported)
    meta["total_seconds"] = round(time.monotonic() - started, 1)
    table = markdown(bench, meta)
    print()
    print(table)
    if args.json:
        out = {"meta": meta, "scenarios": bench.results, "markdown": table}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"\nresults written to {args.json}")
    return code


if __name__ == "__main__":
    sys.exit(main())
