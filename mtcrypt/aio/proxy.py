"""An asyncio MTProxy relay: a thin pump over :class:`mtcrypt.proxy.Relay`.

Every decision (recognise, mask, hold, which DC, the deadlines) is the
relay's; this module accepts sockets, opens the DC and masking-host
connections the relay asks for, moves bytes, sleeps until each relay's next
deadline, enforces the connection caps, keeps the counters and logs.

How bytes move: the sockets are non-blocking and driven by the event loop's
``add_reader``/``add_writer`` (asyncio's own loop or uvloop), not by
``asyncio`` transports.  Each readable socket is read straight into one
buffer per process (``recv_into``), re-encrypted there in place
(:meth:`~mtcrypt.proxy.Relay.transcode_from_client`, two AES-256-CTR passes
with no copy), and sent on at once.  Transports would cost a fresh ``bytes``
per read and a buffer copy per write, which at loopback speeds is most of a
relay's CPU; this path measured about twice the throughput per core (see the
performance page).

Flow control: what a socket does not take at once is kept (a copy of the
remainder, at most ``buffer_bytes``) and the side that feeds it is not read
again until it has drained, so a connection holds at most about
``buffer_bytes`` of relayed data per direction, whichever side is slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from .._random import random_bytes
from .._validation import Clock, Rng, is_int
from ..connection.limits import Timeouts
from ..errors import InvalidArgument
from ..proxy import (
    DcRequested,
    DcTable,
    MaskRequested,
    NamedSecret,
    Rejected,
    Relay,
    RelayClosed,
    RelayCloseReason,
    RelayEvent,
    RelayPolicy,
    RelayState,
)
from ..proxy.stats import (
    ACCEPTED,
    BYTES_FROM_CLIENTS,
    BYTES_TO_CLIENTS,
    CONNECTIONS_OPEN,
    CONNECTIONS_TOTAL,
    DC_FAILURES,
    HANDSHAKE_TIMEOUTS,
    HELD,
    MASKED,
    REFUSED,
    SECRET_REFUSED,
    RelayStats,
    prometheus_text,
)
from ..transport import FakeTlsPolicy
from ._timer import DeadlineTimer
from .server import listening_port

__all__ = ["ProxyServer", "StatsServer"]

log = logging.getLogger("mtcrypt.proxy")

_CLOSE_GRACE = 2.0
"""Seconds a closing socket may take to flush its last bytes before it is aborted."""

_READS_PER_WAKEUP = 4
"""Full buffers relayed per readiness callback before the loop serves others."""

_ACCEPTS_PER_WAKEUP = 64

_ACCEPT_PAUSE = 1.0
"""Seconds accepting stops after the process runs out of descriptors (a
level-triggered listener would otherwise spin)."""


class ProxyServer:
    """An MTProxy relay listening on ``host:port``.

    :param secrets: the accepted secrets, each with a name for the counters.
    :param dcs: where each DC id goes (default: Telegram's addresses).
    :param mask: the masking host ``(host, port)`` that connections failing
        the checks are handed to byte for byte; None holds them silently.
    :param timeouts: ``handshake`` (recognise the client, and reach the DC or
        the mask host) and ``idle`` (no bytes either way).
    :param tls: fake-TLS checks; give it a ``replay_cache`` (the default
        policy has an in-process one; worker processes share a
        :class:`~mtcrypt.proxy.SharedReplayCache`).
    :param max_connections: open client connections at once (more are closed
        at accept); ``max_connections_per_secret``: recognised clients per
        secret (more are closed once recognised).
    :param buffer_bytes: the read size, and the most unsent bytes held towards
        one side before the other side stops being read.
    :param log_ips: put client addresses in the log (default: never).
    :param reuse_port: bind with ``SO_REUSEPORT`` (several processes on one port).
    :param stats: the counters (default: this process's own).

    It needs an event loop with ``add_reader`` (asyncio's selector loop, the
    default on Linux and macOS, or uvloop).
    """

    def __init__(
        self,
        secrets: Sequence[NamedSecret],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        dcs: DcTable | None = None,
        mask: tuple[str, int] | None = None,
        timeouts: Timeouts | None = None,
        tls: FakeTlsPolicy | None = None,
        max_connections: int | None = None,
        max_connections_per_secret: int | None = None,
        buffer_bytes: int = 256 * 1024,
        log_ips: bool = False,
        reuse_port: bool = False,
        backlog: int = 1024,
        stats: RelayStats | None = None,
        rng: Rng = random_bytes,
        clock: Clock = time.time,
    ) -> None:
        for name, value in (
            ("max_connections", max_connections),
            ("max_connections_per_secret", max_connections_per_secret),
        ):
            if value is not None and (not is_int(value) or value < 1):
                raise InvalidArgument(f"{name} must be a positive int or None")
        if not is_int(buffer_bytes) or buffer_bytes < 1024:
            raise InvalidArgument("buffer_bytes must be an int of at least 1024")
        if mask is not None and (
            not isinstance(mask, tuple) or len(mask) != 2 or not is_int(mask[1])
        ):
            raise InvalidArgument("mask is a (host, port) pair or None")
        if tls is None:
            from ..transport import ClientRandomCache

            tls = FakeTlsPolicy(replay_cache=ClientRandomCache())
        self.policy = RelayPolicy(
            secrets,
            dcs=DcTable() if dcs is None else dcs,
            timeouts=timeouts or Timeouts(handshake=10.0, idle=300.0),
            tls=tls,
            mask=mask is not None,
        )
        self.host = host
        self._port = port
        self.mask = mask
        self.max_connections = max_connections
        self.max_connections_per_secret = max_connections_per_secret
        self.buffer_bytes = buffer_bytes
        self.log_ips = log_ips
        self._reuse_port = reuse_port
        self._backlog = backlog
        self.stats = stats if stats is not None else RelayStats([s.name for s in secrets])
        self._slots = {s.name: self.stats.secret_slot(s.name) for s in secrets}
        self._per_secret: dict[str, int] = {s.name: 0 for s in secrets}
        self._rng = rng
        self._clock = clock
        self._listeners: list[socket.socket] = []
        self._active: set[_Client] = set()
        self._flushing: set[_Client] = set()  # closed, still sending their last bytes
        # One read buffer for every connection of this process: a callback
        # reads, re-encrypts and sends it before it returns (a remainder the
        # socket did not take is copied out), so nothing outlives the callback.
        self._scratch = bytearray(buffer_bytes)
        self._scratch_view = memoryview(self._scratch)
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def port(self) -> int:
        if self._listeners:
            return int(self._listeners[0].getsockname()[1])
        return self._port

    @property
    def connections_open(self) -> int:
        return len(self._active)

    async def start(self) -> ProxyServer:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._listeners = await _listen(
            loop, self.host, self._port, self._backlog, self._reuse_port
        )
        for listener in self._listeners:
            loop.add_reader(listener.fileno(), self._accept, listener)
        log.info("listening on %s:%d", self.host, self.port)
        return self

    async def close(self, grace: float = 0.0) -> None:
        """Stop listening; give open connections ``grace`` seconds to end on
        their own, then close the rest."""
        self._stop_listening()
        if grace > 0:
            deadline = time.monotonic() + grace
            while self._active and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        for client in list(self._active):
            client.shutdown()
        # What the closed connections still had to send gets its last moments
        # (at most _CLOSE_GRACE); then nothing of this server is left open.
        deadline = time.monotonic() + _CLOSE_GRACE
        while self._flushing and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for client in list(self._flushing):
            client._abort()

    async def __aenter__(self) -> ProxyServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _stop_listening(self) -> None:
        for listener in self._listeners:
            if self._loop is not None and listener.fileno() >= 0:
                self._loop.remove_reader(listener.fileno())
            listener.close()
        self._listeners = []

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(_ACCEPTS_PER_WAKEUP):
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("accept failed: %s", exc.strerror or type(exc).__name__)
                    return
                log.warning(
                    "accept failed (%s): pausing accepts for %.0f s", exc.strerror, _ACCEPT_PAUSE
                )
                assert self._loop is not None
                self._loop.remove_reader(listener.fileno())
                self._loop.call_later(_ACCEPT_PAUSE, self._resume_accepting, listener)
                return
            _Client(self, sock, address)

    def _resume_accepting(self, listener: socket.socket) -> None:
        if self._loop is not None and listener.fileno() >= 0:
            self._loop.add_reader(listener.fileno(), self._accept, listener)


async def _listen(
    loop: asyncio.AbstractEventLoop, host: str, port: int, backlog: int, reuse_port: bool
) -> list[socket.socket]:
    """Non-blocking listening sockets on every address ``host`` names (one
    port for all of them, also when ``port`` is 0)."""
    infos = await loop.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    listeners: list[socket.socket] = []
    seen: set[object] = set()
    try:
        for family, kind, proto, _, address in infos:
            if address in seen:
                continue
            seen.add(address)
            sock = socket.socket(family, kind, proto)
            listeners.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(listeners) > 1:  # the same port on every address
                address = (address[0], listeners[0].getsockname()[1], *address[2:])
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        for sock in listeners:
            sock.close()
        raise
    return listeners


class _Dial:
    """A non-blocking connect to the first address of ``host`` that answers,
    within ``timeout`` seconds; then ``done(socket)`` or ``failed(error)``,
    once.  A numeric address (the DC table's usual form) is dialled at once on
    the loop's writer: no task, no future, no resolver round trip through the
    loop's thread pool, which is most of a new connection's cost otherwise."""

    __slots__ = ("_addresses", "_done", "_failed", "_failure", "_loop", "_sock", "_task", "_timer")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        host: str,
        port: int,
        timeout: float,
        done: Callable[[socket.socket], None],
        failed: Callable[[OSError], None],
    ) -> None:
        self._loop = loop
        self._done = done
        self._failed = failed
        self._sock: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self._addresses: list[tuple[int, int, int, Any]] = []
        self._failure = OSError(f"no address for {host}")
        self._timer = loop.call_later(timeout, self._give_up, TimeoutError())
        numeric = _numeric(host, port)
        if numeric:
            self._try(numeric)
        else:
            self._task = loop.create_task(self._resolve(host, port))

    async def _resolve(self, host: str, port: int) -> None:
        try:
            infos = await self._loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            self._give_up(exc)
            return
        self._task = None
        self._try(infos)

    def _try(self, infos: Sequence[tuple[Any, ...]]) -> None:
        self._addresses = [
            (family, kind, proto, address) for family, kind, proto, _, address in infos
        ]
        self._next()

    def _next(self) -> None:
        while self._addresses:
            family, kind, proto, address = self._addresses.pop(0)
            try:
                sock = socket.socket(family, kind, proto)
            except OSError as exc:
                self._failure = exc
                continue
            try:
                sock.setblocking(False)
                err = sock.connect_ex(address)
            except OSError as exc:
                sock.close()
                self._failure = exc
                continue
            if err == 0:
                self._succeed(sock)
                return
            if err in (errno.EINPROGRESS, errno.EAGAIN, errno.EINTR):
                self._sock = sock
                self._loop.add_writer(sock.fileno(), self._writable)
                return
            sock.close()
            self._failure = OSError(err, os.strerror(err))
        self._give_up(self._failure)

    def _writable(self) -> None:
        sock = self._sock
        assert sock is not None
        self._loop.remove_writer(sock.fileno())
        self._sock = None
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            sock.close()
            self._failure = OSError(err, os.strerror(err))
            self._next()
            return
        self._succeed(sock)

    def _succeed(self, sock: socket.socket) -> None:
        self._timer.cancel()
        self._done(sock)

    def _give_up(self, error: OSError) -> None:
        self.cancel()
        self._failed(error)

    def cancel(self) -> None:
        """Stop trying (idempotent); neither callback runs afterwards."""
        self._timer.cancel()
        self._addresses = []
        task, self._task = self._task, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
        sock, self._sock = self._sock, None
        if sock is not None:
            self._loop.remove_writer(sock.fileno())
            sock.close()


def _numeric(host: str, port: int) -> list[tuple[int, int, int, str, tuple[str, int]]]:
    """``host`` as an address if it is one (the DC table's usual form): no
    resolver round trip through the loop's thread pool per connection."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))]
    return []


def _nodelay(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _End:
    """One socket of a connection: what it has not taken yet, and whether it
    has ended."""

    __slots__ = (
        "closed",
        "eof",
        "fd",
        "pending",
        "reading",
        "shut_when_flushed",
        "sock",
        "writing",
    )

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.pending = bytearray()  # accepted for this socket, not yet sent
        self.eof = False  # the peer sent FIN (or the socket failed)
        self.shut_when_flushed = False  # send FIN once ``pending`` is out
        self.reading = False  # registered with the loop
        self.writing = False
        self.closed = False


class _Client:
    """One client socket, its relay, and the DC or masking-host socket."""

    def __init__(self, server: ProxyServer, sock: socket.socket, address: object) -> None:
        loop = server._loop
        assert loop is not None
        self.server = server
        self.loop = loop
        self.client = _End(sock)
        self.other: _End | None = None  # the DC or the masking host
        self.relay: Relay | None = None
        self.name = "-"
        self._slot = -1  # the secret's counters, once recognised
        self._masked = False
        self._connecting = False
        self._closing = False
        self._mask_deadline: float | None = None
        self._dial: _Dial | None = None
        self._grace: asyncio.TimerHandle | None = None
        self._timer = DeadlineTimer(loop, server._clock, self._on_timer)
        srv = server
        srv.stats.add(0, ACCEPTED)
        if srv.max_connections is not None and len(srv._active) >= srv.max_connections:
            srv.stats.add(0, REFUSED)
            log.warning("refused a connection: max_connections (%d) reached", srv.max_connections)
            self._closing = True
            self._close_end(self.client)
            return
        sock.setblocking(False)
        _nodelay(sock)
        if srv.log_ips and isinstance(address, tuple) and len(address) >= 2:
            self.name = f"{address[0]}:{address[1]}"
        else:
            self.name = f"#{id(self) & 0xFFFFFF:06x}"
        self.relay = Relay(srv.policy, rng=srv._rng, clock=srv._clock)
        srv._active.add(self)
        log.debug("%s: open", self.name)
        self._refresh()
        self._timer.update(self.relay.next_deadline())

    @property
    def held(self) -> tuple[int, int]:
        """Unsent bytes held towards (the client, the other side)."""
        return len(self.client.pending), 0 if self.other is None else len(self.other.pending)

    def shutdown(self) -> None:
        if self.relay is not None and not self._masked:
            self._process(self.relay.close())
        self._close_all()

    # ---- reading ------------------------------------------------------------------------

    def _read(self, end: _End) -> memoryview | None:
        """The next bytes from ``end`` in the shared buffer (empty: end of
        stream), or None if there is nothing now or the socket failed."""
        try:
            n = end.sock.recv_into(self.server._scratch)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            self._failed(end, exc)
            return None
        return self.server._scratch_view[:n]

    def _client_readable(self) -> None:
        relay = self.relay
        assert relay is not None
        for _ in range(_READS_PER_WAKEUP):
            data = self._read(self.client)
            if data is None:
                return
            if not data:
                self._end_of_stream(self.client)
                return
            other = self.other
            if self._masked:
                assert other is not None
                self._send(other, data)
                self._mask_active()
            elif relay.state is RelayState.RELAYING and other is not None:
                out = relay.transcode_from_client(data)
                if relay.closed_event is not None:
                    self._closed(relay.closed_event)
                    return
                if out:
                    self._send(other, out)
                    self.server.stats.add(self._slot, BYTES_FROM_CLIENTS, len(out))
                self._timer.update(relay.next_deadline())
            else:
                self._process(relay.receive_from_client(bytes(data)))
                return
            if len(data) < len(self.server._scratch) or not self.client.reading:
                return

    def _other_readable(self) -> None:
        relay = self.relay
        other = self.other
        assert relay is not None and other is not None
        for _ in range(_READS_PER_WAKEUP):
            data = self._read(other)
            if data is None:
                return
            if not data:
                self._end_of_stream(other)
                return
            if self._masked:
                self._send(self.client, data)
                self._mask_active()
            elif relay.state is RelayState.RELAYING:
                self._send(self.client, relay.transcode_from_dc(data))
                self.server.stats.add(self._slot, BYTES_TO_CLIENTS, len(data))
                self._timer.update(relay.next_deadline())
            else:
                return
            if len(data) < len(self.server._scratch) or not other.reading:
                return

    def _end_of_stream(self, end: _End) -> None:
        end.eof = True
        relay = self.relay
        if self._masked:  # pass the half-close on; the answer may still come
            peer = self.other if end is self.client else self.client
            if peer is not None:
                self._shut_when_flushed(peer)
            if self.client.eof and self.other is not None and self.other.eof:
                self._close_all()
            else:
                self._refresh()
            return
        if relay is not None:
            if end is self.client:
                events = relay.receive_from_client(b"")
            else:
                events = relay.receive_from_dc(b"")
            self._process(events)
        if not self._closing and not self._masked:
            self._refresh()

    def _failed(self, end: _End, exc: OSError) -> None:
        """A socket error (reset, broken pipe): the connection ends now."""
        relay = self.relay
        if relay is not None and not self._masked and relay.closed_event is None:
            lost = relay.receive_from_client if end is self.client else relay.receive_from_dc
            self._process(lost(b""))
        log.debug("%s: %s", self.name, exc.strerror or type(exc).__name__)
        self._abort()

    # ---- writing ------------------------------------------------------------------------

    def _send(self, end: _End, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` now, as far as the socket takes it; keep a copy of the
        rest and stop reading the side that feeds ``end`` until it drains."""
        if end.closed or not data:
            return
        if end.pending:
            end.pending += data
            return
        try:
            sent = end.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self._failed(end, exc)
            return
        if sent < len(data):
            end.pending += memoryview(data)[sent:]
            self._refresh()

    def _writable(self, end: _End) -> None:
        try:
            sent = end.sock.send(end.pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._failed(end, exc)
            return
        del end.pending[:sent]
        if end.pending:
            return
        if self._closing:
            self._close_end(end)
            if self._flushed():
                self._abort()
            return
        if end.shut_when_flushed:
            self._shut(end)
        self._refresh()

    def _shut_when_flushed(self, end: _End) -> None:
        if end.pending:
            end.shut_when_flushed = True
        else:
            self._shut(end)

    def _shut(self, end: _End) -> None:
        end.shut_when_flushed = False
        with contextlib.suppress(OSError):
            end.sock.shutdown(socket.SHUT_WR)

    # ---- which sockets the loop watches --------------------------------------------------

    def _refresh(self) -> None:
        """Register with the loop exactly the reads and writes wanted now."""
        client, other = self.client, self.other
        open_ = not self._closing
        self._watch(
            client,
            read=open_
            and not client.eof
            and not self._connecting
            and (other is None or not other.pending),
            write=bool(client.pending),
        )
        if other is not None:
            self._watch(
                other,
                read=open_ and not other.eof and not client.pending,
                write=bool(other.pending),
            )

    def _watch(self, end: _End, *, read: bool, write: bool) -> None:
        if end.closed:
            return
        loop = self.loop
        if read != end.reading:
            end.reading = read
            if read:
                loop.add_reader(
                    end.fd, self._client_readable if end is self.client else self._other_readable
                )
            else:
                loop.remove_reader(end.fd)
        if write != end.writing:
            end.writing = write
            if write:
                loop.add_writer(end.fd, self._writable, end)
            else:
                loop.remove_writer(end.fd)

    # ---- the relay's events -------------------------------------------------------------

    def _process(self, events: list[RelayEvent]) -> None:
        relay = self.relay
        assert relay is not None
        out = relay.data_for_client()
        if out:
            self._send(self.client, out)
        for event in events:
            if isinstance(event, DcRequested):
                self._open_dc(event)
            elif isinstance(event, MaskRequested):
                self._open_mask(event)
            elif isinstance(event, Rejected):
                self.server.stats.add(0, HELD)
                log.info("%s: held: %s", self.name, event.reason)
            elif isinstance(event, RelayClosed):
                self._closed(event)
                return
        if self.other is not None:
            out = relay.data_for_dc()
            if out:
                self._send(self.other, out)
        self._timer.update(relay.next_deadline())

    def _open_dc(self, event: DcRequested) -> None:
        srv = self.server
        slot = srv._slots[event.secret_name]
        cap = srv.max_connections_per_secret
        if cap is not None and srv._per_secret[event.secret_name] >= cap:
            srv.stats.add(slot, SECRET_REFUSED)
            log.warning("%s: refused: secret %s at its cap (%d)", self.name, event.secret_name, cap)
            self._abort()
            return
        self._slot = slot
        srv._per_secret[event.secret_name] += 1
        srv.stats.add(slot, CONNECTIONS_TOTAL)
        srv.stats.add(slot, CONNECTIONS_OPEN)
        log.debug(
            "%s: secret %s, DC %d (%s%s)",
            self.name,
            event.secret_name,
            event.dc_id,
            event.framing.value,
            ", fake-TLS" if event.fake_tls else "",
        )
        self._start_connecting(event.host, event.port, None)

    def _open_mask(self, event: MaskRequested) -> None:
        srv = self.server
        srv.stats.add(0, MASKED)
        log.info("%s: masked: %s", self.name, event.reason)
        assert srv.mask is not None
        self._masked = True
        self._timer.cancel()
        self._mask_active()
        self._start_connecting(srv.mask[0], srv.mask[1], event.data)

    def _start_connecting(self, host: str, port: int, first: bytes | None) -> None:
        self._connecting = True
        self._refresh()
        timeout = self.server.policy.timeouts.handshake or 10.0
        self._dial = _Dial(
            self.loop,
            host,
            port,
            timeout,
            functools.partial(self._connected, first),
            functools.partial(self._unreachable, first),
        )

    def _unreachable(self, first: bytes | None, error: OSError) -> None:
        self._dial = None
        what = "mask host" if first is not None else "DC"
        log.warning("%s: cannot reach the %s: %s", self.name, what, type(error).__name__)
        if first is None and self.relay is not None:
            self.server.stats.add(0, DC_FAILURES)
            self._process(self.relay.dc_failed(type(error).__name__))
        self._abort()

    def _connected(self, first: bytes | None, sock: socket.socket) -> None:
        self._dial = None
        if self._closing:
            sock.close()
            return
        _nodelay(sock)
        other = self.other = _End(sock)
        self._connecting = False
        if first is not None:
            self._send(other, first)
            if self.client.eof:
                self._shut_when_flushed(other)
        elif self.relay is not None:
            self._send(other, self.relay.data_for_dc())
        self._refresh()

    def _closed(self, event: RelayClosed) -> None:
        if event.reason is RelayCloseReason.MASKED:
            return  # the mask hand-over carries on
        if event.reason is RelayCloseReason.HANDSHAKE_TIMEOUT:
            self.server.stats.add(0, HANDSHAKE_TIMEOUTS)
        detail = f" ({event.detail})" if event.detail else ""
        log.debug("%s: close: %s%s", self.name, event.reason.value, detail)
        self._close_all()

    def _on_timer(self) -> None:
        if self._masked:
            if self._mask_deadline is not None and self.server._clock() >= self._mask_deadline:
                log.debug("%s: close: masked connection idle", self.name)
                self._close_all()
            else:
                self._timer.update(self._mask_deadline)
        elif self.relay is not None and self.relay.closed_event is None:
            self._process(self.relay.on_timer())

    def _mask_active(self) -> None:
        """A masked connection is held to the idle timeout too (the relay's
        own deadlines end with the hand-over)."""
        idle = self.server.policy.timeouts.idle
        if idle is not None:
            self._mask_deadline = self.server._clock() + idle
            self._timer.update(self._mask_deadline)

    # ---- endings ------------------------------------------------------------------------

    def _close_all(self) -> None:
        """Stop reading; close each socket once what it holds is sent (at most
        ``_CLOSE_GRACE`` seconds), the others now."""
        if not self._closing:
            self._closing = True
            for end in (self.client, self.other):
                if end is not None and not end.pending:
                    self._close_end(end)
            if self._flushed():
                self._finish()
                return
            self._refresh()
            self._grace = self.loop.call_later(_CLOSE_GRACE, self._abort)
            self.server._flushing.add(self)
        self._finish()

    def _flushed(self) -> bool:
        return all(end is None or end.closed for end in (self.client, self.other))

    def _abort(self) -> None:
        self._closing = True
        for end in (self.client, self.other):
            if end is not None:
                self._close_end(end)
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        self.server._flushing.discard(self)
        self._finish()

    def _close_end(self, end: _End) -> None:
        if end.closed:
            return
        self._watch(end, read=False, write=False)
        end.closed = True
        end.pending.clear()
        end.sock.close()

    def _finish(self) -> None:
        relay = self.relay
        if relay is not None and relay.closed_event is None:
            relay.close()  # wipes the four streams' keys; no deadline is left to re-arm the timer
        self._timer.cancel()
        srv = self.server
        if self in srv._active:
            srv._active.discard(self)
            if self._slot >= 0 and self.relay is not None and self.relay.secret_name:
                srv._per_secret[self.relay.secret_name] -= 1
                srv.stats.add(self._slot, CONNECTIONS_OPEN, -1)
        if self._dial is not None:
            self._dial.cancel()
            self._dial = None


class StatsServer:
    """Serves the counters of ``rows`` (one per process) in Prometheus text
    format to any HTTP GET on ``host:port``."""

    def __init__(
        self, names: Sequence[str], rows: Sequence[memoryview], host: str, port: int
    ) -> None:
        self.names = tuple(names)
        self.rows = list(rows)
        self.host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        return listening_port(self._server, self._port)

    async def start(self) -> StatsServer:
        self._server = await asyncio.start_server(self._serve, self.host, self._port)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.IncompleteReadError):
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            body = prometheus_text(self.names, self.rows).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\n"
                b"Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                b"Connection: close\r\n\r\n" + body
            )
            await writer.drain()
        except (OSError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
