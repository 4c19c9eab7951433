"""An asyncio MTProxy relay: a thin pump over :class:`mtcrypt.proxy.Relay`.

Every decision (recognise, mask, hold, which DC, the deadlines) is the
relay's; this module accepts sockets, opens the DC and masking-host
connections the relay asks for, moves bytes, sleeps until each relay's next
deadline, enforces the connection caps, keeps the counters and logs.

Flow control: a side is read only while the other side's socket takes what it
is given.  When the socket towards one side holds more than ``buffer_bytes``
unsent, the other side stops being read until it drains below a quarter of
that (asyncio's ``pause_writing``/``resume_writing``), so a connection never
holds more than about ``2 * buffer_bytes`` of relayed data, whichever side is
slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Sequence
from typing import cast

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
from .server import listening_port, peer_name

__all__ = ["ProxyServer", "StatsServer"]

log = logging.getLogger("mtcrypt.proxy")

_CLOSE_GRACE = 2.0
"""Seconds a closing socket may take to flush its last bytes before it is aborted."""


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
    :param buffer_bytes: unsent bytes held towards one side before the other
        side stops being read.
    :param log_ips: put client addresses in the log (default: never).
    :param reuse_port: bind with ``SO_REUSEPORT`` (several processes on one port).
    :param stats: the counters (default: this process's own).
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
        self._server: asyncio.Server | None = None
        self._active: set[_Client] = set()

    @property
    def port(self) -> int:
        return listening_port(self._server, self._port)

    @property
    def connections_open(self) -> int:
        return len(self._active)

    async def start(self) -> ProxyServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Client(self),
            self.host,
            self._port,
            backlog=self._backlog,
            reuse_port=self._reuse_port or None,
        )
        log.info("listening on %s:%d", self.host, self.port)
        return self

    async def close(self, grace: float = 0.0) -> None:
        """Stop listening; give open connections ``grace`` seconds to end on
        their own, then close the rest."""
        if self._server is not None:
            self._server.close()
        if grace > 0:
            deadline = time.monotonic() + grace
            while self._active and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        for client in list(self._active):
            client.shutdown()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def __aenter__(self) -> ProxyServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _set_limits(transport: asyncio.Transport, high: int) -> None:
    transport.set_write_buffer_limits(high=high, low=high // 4)
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Client(asyncio.Protocol):
    """One client socket, its relay, and the DC or masking-host socket."""

    def __init__(self, server: ProxyServer) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.relay: Relay | None = None
        self.transport: asyncio.Transport | None = None
        self.other: asyncio.Transport | None = None  # the DC or the masking host
        self.name = "-"
        self._slot = -1  # the secret's counters, once recognised
        self._masked = False
        self._client_eof = False
        self._paused_for: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._timer = DeadlineTimer(self.loop, server._clock, self._on_timer)

    # ---- the client socket ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)
        srv = self.server
        self.transport = transport
        srv.stats.add(0, ACCEPTED)
        if srv.max_connections is not None and len(srv._active) >= srv.max_connections:
            srv.stats.add(0, REFUSED)
            log.warning("refused a connection: max_connections (%d) reached", srv.max_connections)
            transport.abort()
            return
        self.name = peer_name(transport) if srv.log_ips else f"#{id(self) & 0xFFFFFF:06x}"
        _set_limits(transport, srv.buffer_bytes)
        self.relay = Relay(srv.policy, rng=srv._rng, clock=srv._clock)
        srv._active.add(self)
        log.debug("%s: open", self.name)
        self._timer.update(self.relay.next_deadline())

    def data_received(self, data: bytes) -> None:
        if self._masked:
            if self.other is not None:
                self.other.write(data)
            return
        relay = self.relay
        if relay is None:
            return
        events = relay.receive_from_client(data)
        other = self.other
        if events or other is None:  # not (yet) relaying: the general path
            self._process(events)
            return
        out = relay.data_for_dc()
        if out:
            other.write(out)
            self.server.stats.add(self._slot, BYTES_FROM_CLIENTS, len(out))
        self._timer.update(relay.next_deadline())

    def eof_received(self) -> bool:
        self._client_eof = True
        if not self._masked and self.relay is not None:
            self._process(self.relay.receive_from_client(b""))
        if self._masked:  # now, or just now: the client may still read the answer
            if self.other is not None and self.other.can_write_eof():
                self.other.write_eof()
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        relay = self.relay
        if relay is not None and not self._masked and relay.closed_event is None:
            self._process(relay.receive_from_client(b""))
        self._close_all()

    def pause_writing(self) -> None:  # the client reads slower than the DC sends
        self._pause_other()

    def resume_writing(self) -> None:
        self._resume_other()

    def shutdown(self) -> None:
        if self.relay is not None and not self._masked:
            self._process(self.relay.close())
        self._close_all()

    # ---- the other socket -------------------------------------------------------------

    def from_other(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._masked:
            transport.write(data)
            return
        relay = self.relay
        assert relay is not None
        events = relay.receive_from_dc(data)
        out = relay.data_for_client()
        if out:
            transport.write(out)
            self.server.stats.add(self._slot, BYTES_TO_CLIENTS, len(data))
        if events:
            self._process(events)
        else:
            self._timer.update(relay.next_deadline())

    def other_eof(self) -> None:
        if self._masked:
            if self.transport is not None and self.transport.can_write_eof():
                self.transport.write_eof()
            return
        if self.relay is not None:
            self._process(self.relay.receive_from_dc(b""))

    def other_lost(self) -> None:
        relay = self.relay
        if not self._masked and relay is not None and relay.closed_event is None:
            self._process(relay.receive_from_dc(b""))
        self._close_all()

    # ---- flow control -------------------------------------------------------------------

    def _pause_self(self, why: str) -> None:
        if not self._paused_for and self.transport is not None:
            self.transport.pause_reading()
        self._paused_for.add(why)

    def _resume_self(self, why: str) -> None:
        self._paused_for.discard(why)
        if not self._paused_for and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def _pause_other(self) -> None:
        if self.other is not None and not self.other.is_closing():
            self.other.pause_reading()

    def _resume_other(self) -> None:
        if self.other is not None and not self.other.is_closing():
            self.other.resume_reading()

    # ---- the relay's events -------------------------------------------------------------

    def _process(self, events: list[RelayEvent]) -> None:
        relay = self.relay
        assert relay is not None
        transport = self.transport
        out = relay.data_for_client()
        if out and transport is not None and not transport.is_closing():
            transport.write(out)
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
                self.other.write(out)
        self._timer.update(relay.next_deadline())

    def _open_dc(self, event: DcRequested) -> None:
        srv = self.server
        slot = srv._slots[event.secret_name]
        cap = srv.max_connections_per_secret
        if cap is not None and srv._per_secret[event.secret_name] >= cap:
            srv.stats.add(slot, SECRET_REFUSED)
            log.warning("%s: refused: secret %s at its cap (%d)", self.name, event.secret_name, cap)
            self._close_all()
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
        self._pause_self("connecting")
        self._task = self.loop.create_task(self._connect(event.host, event.port, None))

    def _open_mask(self, event: MaskRequested) -> None:
        srv = self.server
        srv.stats.add(0, MASKED)
        log.info("%s: masked: %s", self.name, event.reason)
        assert srv.mask is not None
        self._masked = True
        self._timer.cancel()
        self._pause_self("connecting")
        self._task = self.loop.create_task(self._connect(srv.mask[0], srv.mask[1], event.data))

    async def _connect(self, host: str, port: int, first: bytes | None) -> None:
        timeout = self.server.policy.timeouts.handshake or 10.0
        try:
            other, _ = await asyncio.wait_for(
                self.loop.create_connection(lambda: _Other(self), host, port), timeout
            )
        except (TimeoutError, OSError) as exc:
            what = "mask host" if first is not None else "DC"
            log.warning("%s: cannot reach the %s: %s", self.name, what, type(exc).__name__)
            if first is None and self.relay is not None:
                self.server.stats.add(0, DC_FAILURES)
                self._process(self.relay.dc_failed(type(exc).__name__))
            self._close_all()
            return
        if self.transport is None or self.transport.is_closing():
            other.close()
            return
        transport = other
        _set_limits(transport, self.server.buffer_bytes)
        self.other = transport
        if first is not None:
            transport.write(first)
            if self._client_eof and transport.can_write_eof():
                transport.write_eof()
        elif self.relay is not None:
            out = self.relay.data_for_dc()
            if out:
                transport.write(out)
        self._resume_self("connecting")

    def _closed(self, event: RelayClosed) -> None:
        if event.reason is RelayCloseReason.MASKED:
            return  # the mask hand-over carries on
        if event.reason is RelayCloseReason.HANDSHAKE_TIMEOUT:
            self.server.stats.add(0, HANDSHAKE_TIMEOUTS)
        detail = f" ({event.detail})" if event.detail else ""
        log.debug("%s: close: %s%s", self.name, event.reason.value, detail)
        self._close_all()

    def _on_timer(self) -> None:
        if self.relay is not None and not self._masked and self.relay.closed_event is None:
            self._process(self.relay.on_timer())

    # ---- endings ------------------------------------------------------------------------

    def _close_all(self) -> None:
        for transport in (self.transport, self.other):
            if transport is not None and not transport.is_closing():
                transport.close()  # after the buffered bytes
                if transport.get_write_buffer_size():
                    self.loop.call_later(_CLOSE_GRACE, transport.abort)
        self._finish()

    def _finish(self) -> None:
        self._timer.cancel()
        srv = self.server
        if self in srv._active:
            srv._active.discard(self)
            if self._slot >= 0 and self.relay is not None and self.relay.secret_name:
                srv._per_secret[self.relay.secret_name] -= 1
                srv.stats.add(self._slot, CONNECTIONS_OPEN, -1)
        if self._task is not None and not self._task.done():
            self._task.cancel()


class _Other(asyncio.Protocol):
    """The DC or masking-host socket of one client."""

    def __init__(self, client: _Client) -> None:
        self.client = client

    def data_received(self, data: bytes) -> None:
        self.client.from_other(data)

    def eof_received(self) -> bool:
        self.client.other_eof()
        return self.client._masked  # a masked client may still be sending

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.other_lost()

    def pause_writing(self) -> None:  # the DC reads slower than the client sends
        self.client._pause_self("other-slow")

    def resume_writing(self) -> None:
        self.client._resume_self("other-slow")


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
