"""Clients under test: how the runner drives them.

An adapter connects a client implementation to an :class:`Endpoint` (the
adversarial server) and runs the **probe script**:

1. the handshake (unless an auth key is given);
2. ping ``1`` and wait for the pong;
3. pings ``2`` (the one the server mutates) and ``3`` (the sentinel) at once;
   wait for pong ``3``, then a short grace period, and note whether pong ``2``
   was delivered;
4. ping ``4`` (its salt tells whether a salt was adopted).

It reports a :class:`ClientReport`.  In-process adapters subclass
:class:`InProcessAdapter` and implement :meth:`~InProcessAdapter.handshake`
and :meth:`~InProcessAdapter.open_session`; :class:`CommandAdapter` starts
any program that follows the same script (see :mod:`.example_client`).

Ready-made: :class:`MtcryptAdapter` (``mtcrypt.aio.Client``, the control),
:class:`TelethonAdapter` (``authenticator.do_authentication`` and
``MTProtoSender``) and :class:`PyrogramAdapter` (``Auth.create()`` and
``Session``), each using the library's own, unmodified code paths.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import importlib
import inspect
import json
import logging
import os
import shlex
import shutil
import struct
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal
from unittest import mock

from ... import tl
from ..._validation import Rng
from ...connection import ReconnectPolicy
from ...handshake.rsa import RsaPublicKey
from ._shared import first_draw
from .adversary import PING_AFTER, PING_MUTATED, PING_SENTINEL, PING_WARMUP, RpcHandler

__all__ = [
    "ENV_PREFIX",
    "ClientAdapter",
    "ClientReport",
    "CommandAdapter",
    "Endpoint",
    "InProcessAdapter",
    "Mode",
    "MtcryptAdapter",
    "PyrogramAdapter",
    "SessionProbe",
    "TelethonAdapter",
    "make_adapter",
]

Mode = Literal["handshake", "session"]
"""``handshake``: create a key and stop; ``session``: the whole probe script."""

ENV_PREFIX = "MTCRYPT_CONFORMANCE_"


@dataclass(frozen=True)
class Endpoint:
    """Where and how the client must connect.

    ``header_candidate`` (obfuscation scenarios) is the 64-byte value the
    client's first header draw must return; an adapter that cannot inject it
    does not declare the ``header_rng`` feature.
    """

    host: str
    port: int
    public_key: RsaPublicKey
    dc_id: int = 2
    framing: str = "intermediate"
    obfuscated: bool = False
    secret: str | None = None
    header_candidate: bytes | None = None
    temp_key_expires_in: int | None = None
    """Set when the client must create a temporary key (this lifetime, in
    seconds), bind it to its permanent key and work under it (PFS)."""
    reconnect: bool = False
    """The scenario answers with transport error -404 where the spec says the
    client starts again (a refused handshake query, a lost temporary key): the
    client must be allowed to connect again, as its own reconnection policy
    does, within the one run; the server judges every connection."""

    @property
    def client_framing(self) -> str:
        """The framing to use: padded intermediate for ``dd`` and ``ee``
        secrets (what they mean), else :attr:`framing`."""
        if self.secret is not None and self.secret[:2].lower() in ("dd", "ee"):
            return "padded_intermediate"
        return self.framing


@dataclass
class ClientReport:
    """What the client (or its adapter) says happened."""

    handshake: bool | None = None
    """True: a key was created (or given); False: the handshake failed; None: unknown."""
    auth_key: bytes | None = None
    pongs: dict[int, bool] = field(default_factory=dict)
    """ping_id -> whether its pong reached the application."""
    errors: list[str] = field(default_factory=list)
    """Errors the client raised or logged after the warm-up ping."""
    error: str | None = None
    """Why the handshake or the session failed."""


def _ours(exc: BaseException) -> bool:
    """Exceptions that must propagate; anything else a client library leaks
    (a pyo3 ``PanicException`` from cryptg derives from ``BaseException``) is
    an observation."""
    return isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit | asyncio.CancelledError)


def describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class SessionProbe(abc.ABC):
    """An encrypted session of the client under test."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    @abc.abstractmethod
    async def ping(self, ping_id: int, timeout: float) -> bool:
        """Send ``ping`` with ``ping_id``; True once its pong reaches the caller."""

    @abc.abstractmethod
    async def close(self) -> None: ...


async def _answered(probe: SessionProbe, call: Callable[[], Awaitable[object]]) -> bool:
    """Await ``call()`` (a ping); False, with the error noted, if it raised."""
    try:
        await call()
    except Exception as exc:
        probe.errors.append(describe(exc))
        return False
    return True


async def probe_script(
    probe: SessionProbe, report: ClientReport, timeout: float, grace: float = 0.15
) -> None:
    """Steps 2-4 of the probe script (see the module docstring)."""
    report.pongs[PING_WARMUP] = await probe.ping(PING_WARMUP, timeout)
    if not report.pongs[PING_WARMUP]:
        report.error = "the warm-up ping was not answered"
        report.errors += probe.errors
        return
    probe.errors.clear()
    mutated = asyncio.ensure_future(probe.ping(PING_MUTATED, timeout))
    await asyncio.sleep(0.01)
    sentinel = asyncio.ensure_future(probe.ping(PING_SENTINEL, timeout))
    report.pongs[PING_SENTINEL] = await sentinel
    if not mutated.done():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(mutated), grace)
    delivered = mutated.done() and not mutated.cancelled() and mutated.exception() is None
    report.pongs[PING_MUTATED] = bool(delivered and mutated.result())
    if not mutated.done():
        mutated.cancel()
        with contextlib.suppress(BaseException):
            await mutated
    report.pongs[PING_AFTER] = await probe.ping(PING_AFTER, min(timeout, 1.0))
    report.errors += probe.errors


class ClientAdapter(abc.ABC):
    """Drives one client implementation through the probe script."""

    name = "client"
    features: frozenset[str] = frozenset()
    """What the client can do beyond the basics: ``full`` (framing),
    ``obfuscated``, ``header_rng`` (inject the first obfuscation header
    candidate), ``mtproxy`` (MTProxy with plain and ``dd`` secrets),
    ``fake_tls`` (MTProxy ``ee`` secrets), ``temp_keys`` (PFS: a temporary key
    bound to the permanent one), ``reconnect`` (it connects again, as its
    reconnection policy says, when :attr:`Endpoint.reconnect` is set)."""
    reuses_keys = True
    """Whether message scenarios may give it an existing key (no handshake)."""

    def trusting(self, public_key: RsaPublicKey) -> contextlib.AbstractContextManager[None]:
        """Make the client trust the adversarial server's RSA key while active."""
        del public_key
        return contextlib.nullcontext()

    def rpc_handler(self) -> RpcHandler | None:
        """Answers for RPCs the client needs before it can ping (e.g. a Config)."""
        return None

    def versions(self) -> dict[str, str]:
        """Versions of the software under test, for the report."""
        return {}

    @abc.abstractmethod
    async def run(
        self, endpoint: Endpoint, mode: Mode, auth_key: bytes | None, timeout: float
    ) -> ClientReport:
        """Run the probe script (or just the handshake) and report."""


class InProcessAdapter(ClientAdapter):
    """An adapter whose client runs in this process (the same event loop)."""

    @abc.abstractmethod
    async def handshake(self, endpoint: Endpoint) -> bytes:
        """Create an auth key with the endpoint; return it (raise on failure)."""

    @abc.abstractmethod
    async def open_session(self, endpoint: Endpoint, auth_key: bytes | None) -> SessionProbe:
        """An encrypted session, creating a key first when ``auth_key`` is None."""

    async def run(
        self, endpoint: Endpoint, mode: Mode, auth_key: bytes | None, timeout: float
    ) -> ClientReport:
        report = ClientReport()
        if mode == "handshake":
            try:
                report.auth_key = await asyncio.wait_for(self.handshake(endpoint), 2 * timeout)
                report.handshake = True
            except Exception as exc:  # the client refused: that is the observation
                report.handshake = False
                report.error = describe(exc)
            return report
        try:
            probe = await asyncio.wait_for(self.open_session(endpoint, auth_key), 2 * timeout)
        except Exception as exc:
            report.handshake = False if auth_key is None else None
            report.error = describe(exc)
            return report
        report.handshake = True
        report.auth_key = auth_key
        try:
            await probe_script(probe, report, timeout)
        finally:
            try:
                await asyncio.wait_for(probe.close(), timeout)
            except BaseException as exc:  # e.g. a Rust panic escaping the client's tasks
                if _ours(exc):
                    raise
                report.errors.append(f"on close: {describe(exc)}")
        return report


class _FirstDraw:
    """Stands in for the ``os`` module: the first 64-byte ``urandom`` draw
    returns ``candidate``; everything else is the real ``os``."""

    def __init__(self, candidate: bytes) -> None:
        self.urandom = first_draw(candidate, os.urandom)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


@contextlib.contextmanager
def _first_header(module: ModuleType | None, candidate: bytes | None) -> Iterator[None]:
    if module is None or candidate is None:
        yield
        return
    with mock.patch.object(module, "os", _FirstDraw(candidate)):
        yield


# ---- mtcrypt ------------------------------------------------------------------------------


class _MtcryptSession(SessionProbe):
    def __init__(self, client: Any) -> None:
        super().__init__()
        self.client = client

    async def ping(self, ping_id: int, timeout: float) -> bool:
        request = tl.serialize(tl.make("ping", ping_id=ping_id))
        return await _answered(self, lambda: self.client.invoke(request, timeout=timeout))

    async def close(self) -> None:
        await self.client.close()


def reconnect_policy(allowed: bool) -> ReconnectPolicy | None:
    """The reconnection policy mtcrypt's clients use in a scenario: the default
    one with short waits when the scenario lets the client reconnect
    (:attr:`Endpoint.reconnect`); else None (one connection, as the probe script has)."""
    return ReconnectPolicy(backoff=0.05, max_backoff=0.2) if allowed else None


class MtcryptAdapter(InProcessAdapter):
    """mtcrypt's own :class:`mtcrypt.aio.Client`: the control, which must pass
    every scenario."""

    name = "mtcrypt"
    features = frozenset(
        {"full", "obfuscated", "header_rng", "mtproxy", "fake_tls", "temp_keys", "reconnect"}
    )

    def versions(self) -> dict[str, str]:
        from ... import __version__

        return {"mtcrypt": __version__}

    def _rng(self, endpoint: Endpoint) -> Rng:
        from ..._random import random_bytes

        candidate = endpoint.header_candidate
        return random_bytes if candidate is None else first_draw(candidate, random_bytes)

    async def _connect(self, endpoint: Endpoint, auth_key: bytes | None) -> Any:
        from ...aio import Client
        from ...mtproto import AuthKey

        return await Client.connect(
            endpoint.host,
            endpoint.port,
            framing=endpoint.client_framing,
            obfuscated=endpoint.obfuscated,
            secret=endpoint.secret,
            dc_id=endpoint.dc_id,
            public_keys=[endpoint.public_key],
            auth_key=None if auth_key is None else AuthKey(auth_key),
            temp_key_expires_in=endpoint.temp_key_expires_in,
            timeout=5.0,
            reconnect=reconnect_policy(endpoint.reconnect),
            rng=self._rng(endpoint),
        )

    async def handshake(self, endpoint: Endpoint) -> bytes:
        client = await self._connect(endpoint, None)
        try:
            assert client.auth_key is not None
            return bytes(client.auth_key.key)
        finally:
            await client.close()

    async def open_session(self, endpoint: Endpoint, auth_key: bytes | None) -> SessionProbe:
        return _MtcryptSession(await self._connect(endpoint, auth_key))


# ---- third-party libraries ----------------------------------------------------------------


class _LibraryAdapter(InProcessAdapter):
    """An adapter for a client library: importable (it fails early when the
    library is missing), reported with its version and whether its optional
    native accelerator is installed."""

    name: str
    """The library's import name."""
    accelerator: str
    """Its optional native crypto module."""

    def __init__(self) -> None:
        importlib.import_module(self.name)

    def versions(self) -> dict[str, str]:
        library: Any = importlib.import_module(self.name)
        versions = {self.name: str(library.__version__)}
        with contextlib.suppress(ImportError):
            importlib.import_module(self.accelerator)
            versions[self.accelerator] = "present"
        return versions


# ---- Telethon -----------------------------------------------------------------------------


class _CaptureLoggers(dict):  # type: ignore[type-arg]
    """Telethon's ``loggers`` mapping: private loggers whose warnings are kept."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__()
        self.sink = sink
        self.handler = _Sink(sink, logging.WARNING)

    def __missing__(self, name: str) -> logging.Logger:
        logger = logging.getLogger(f"mtcrypt.conformance.telethon.{id(self)}.{name}")
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        logger.handlers = [self.handler]
        self[name] = logger
        return logger


class _Sink(logging.Handler):
    def __init__(self, sink: list[str], level: int, needles: Sequence[str] = ()) -> None:
        super().__init__(level)
        self.sink = sink
        self.needles = needles

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # pragma: no cover - a broken log call in the client
            return
        if record.levelno >= logging.WARNING or any(n in text for n in self.needles):
            self.sink.append(text.splitlines()[0] if text else record.msg)


class _TelethonSession(SessionProbe):
    def __init__(self, sender: Any, errors: list[str]) -> None:
        super().__init__()
        self.sender = sender
        self.errors = errors

    async def ping(self, ping_id: int, timeout: float) -> bool:
        from telethon.tl import functions

        request = functions.PingRequest(ping_id=ping_id)
        return await _answered(self, lambda: asyncio.wait_for(self.sender.send(request), timeout))

    async def close(self) -> None:
        await self.sender.disconnect()


class TelethonAdapter(_LibraryAdapter):
    """Telethon (``telethon.network.authenticator.do_authentication`` for
    handshakes, ``MTProtoSender`` for sessions, its own connection classes)."""

    name = "telethon"
    accelerator = "cryptg"
    features = frozenset({"full", "obfuscated", "header_rng", "reconnect"})

    @contextlib.contextmanager
    def trusting(self, public_key: RsaPublicKey) -> Iterator[None]:
        from telethon.crypto import rsa as t_rsa

        t_rsa.add_key(public_key.to_pem(pkcs1=True), old=False)
        try:
            yield
        finally:
            t_rsa._server_keys.pop(public_key.fingerprint, None)

    def _connection(self, endpoint: Endpoint, loggers: _CaptureLoggers) -> Any:
        from telethon.network import connection as c

        if endpoint.secret is not None:
            raise NotImplementedError("this adapter does not drive Telethon through MTProxy")
        if endpoint.obfuscated:
            cls = c.ConnectionTcpObfuscated
        elif endpoint.framing == "padded_intermediate":
            cls = _telethon_padded_connection()
        else:
            cls = {
                "intermediate": c.ConnectionTcpIntermediate,
                "abridged": c.ConnectionTcpAbridged,
                "full": c.ConnectionTcpFull,
            }[endpoint.framing]
        return cls(endpoint.host, endpoint.port, endpoint.dc_id, loggers=loggers)

    def _header_module(self) -> ModuleType:
        return importlib.import_module("telethon.network.connection.tcpobfuscated")

    async def handshake(self, endpoint: Endpoint) -> bytes:
        from telethon.network import authenticator
        from telethon.network.mtprotoplainsender import MTProtoPlainSender

        if endpoint.reconnect:  # its own retry loop: MTProtoSender.connect
            probe = await self.open_session(endpoint, None)
            assert isinstance(probe, _TelethonSession)
            try:
                return bytes(probe.sender.auth_key.key)
            finally:
                await probe.close()
        loggers = _CaptureLoggers([])
        conn = self._connection(endpoint, loggers)
        with _first_header(self._header_module(), endpoint.header_candidate):
            await conn.connect(timeout=5)
        try:
            key, _ = await authenticator.do_authentication(
                MTProtoPlainSender(conn, loggers=loggers)
            )
            return bytes(key.key)
        finally:
            await conn.disconnect()

    async def open_session(self, endpoint: Endpoint, auth_key: bytes | None) -> SessionProbe:
        from telethon.crypto import AuthKey
        from telethon.network.mtprotosender import MTProtoSender

        errors: list[str] = []
        loggers = _CaptureLoggers(errors)
        sender = MTProtoSender(
            None if auth_key is None else AuthKey(auth_key),
            loggers=loggers,
            retries=2,
            delay=0.05,
        )
        with _first_header(self._header_module(), endpoint.header_candidate):
            await sender.connect(self._connection(endpoint, loggers))
        return _TelethonSession(sender, errors)


# ---- Pyrogram -------------------------------------------------------------------------------

_HELP_GET_CONFIG = 0xC4F9186B


def _pyrogram_config(port: int = 443) -> bytes:
    """A ``Config`` (the answer to ``help.getConfig``) that Pyrogram's
    ``Session.start`` accepts from a test server on 127.0.0.1:``port``.  The
    download benchmark and the interop tests use it too."""
    raw: Any = importlib.import_module("pyrogram.raw")

    kw: dict[str, Any] = {}
    for name, param in inspect.signature(raw.types.Config.__init__).parameters.items():
        if name == "self" or param.default is not inspect.Parameter.empty:
            continue
        annotation = str(param.annotation)
        if name == "dc_options":
            kw[name] = [raw.types.DcOption(id=2, ip_address="127.0.0.1", port=port)]
        elif name == "this_dc":
            kw[name] = 2
        elif "bool" in annotation:
            kw[name] = False
        elif "str" in annotation:
            kw[name] = ""
        else:
            kw[name] = 0
    return bytes(raw.types.Config(**kw).write())


class _PyrogramSession(SessionProbe):
    def __init__(self, client: Any, session: Any, errors: list[str]) -> None:
        super().__init__()
        self.client = client
        self.session = session
        self.errors = errors

    async def ping(self, ping_id: int, timeout: float) -> bool:
        raw: Any = importlib.import_module("pyrogram.raw")
        request = raw.functions.Ping(ping_id=ping_id)
        return await _answered(self, lambda: self.session.send(request, timeout=timeout))

    async def close(self) -> None:
        try:
            await self.session.stop()
        finally:
            await self.client.storage.close()


def _telethon_padded_connection() -> Any:
    """Telethon's padded intermediate framing, which it ships only inside its
    MTProxy connection: its own codec with the plain ``dddddddd`` tag."""
    from telethon.network import connection as c
    from telethon.network.connection.tcpmtproxy import RandomizedIntermediatePacketCodec

    class PaddedCodec(RandomizedIntermediatePacketCodec):  # type: ignore[misc]
        tag = b"\xdd" * 4

    class ConnectionTcpPadded(c.ConnectionTcpIntermediate):  # type: ignore[misc]
        packet_codec = PaddedCodec

    return ConnectionTcpPadded


class PyrogramAdapter(_LibraryAdapter):
    """Pyrogram (kurigram): ``pyrogram.session.auth.Auth.create()`` for
    handshakes, ``pyrogram.session.Session`` (and through it
    ``pyrogram.crypto.mtproto.unpack``) for sessions."""

    name = "pyrogram"
    accelerator = "tgcrypto"
    features = frozenset({"full", "obfuscated", "header_rng", "fake_tls", "reconnect"})

    @contextlib.contextmanager
    def trusting(self, public_key: RsaPublicKey) -> Iterator[None]:
        from pyrogram.crypto import rsa as p_rsa

        p_rsa.server_public_keys[public_key.fingerprint] = p_rsa.PublicKey(
            m=public_key.n, e=public_key.e
        )
        try:
            yield
        finally:
            p_rsa.server_public_keys.pop(public_key.fingerprint, None)

    def rpc_handler(self) -> RpcHandler | None:
        config = _pyrogram_config()

        def handler(query: bytes) -> bytes | None:
            if len(query) >= 4 and struct.unpack_from("<I", query)[0] == _HELP_GET_CONFIG:
                return config
            return None

        return handler

    def _client(self, endpoint: Endpoint) -> Any:
        import pyrogram
        from pyrogram.connection.transport import tcp

        proxy: Any = None
        if endpoint.secret is not None:
            protocol: Any = tcp.TCPIntermediatePadded
            proxy = {
                "scheme": "mtproxy",
                "hostname": endpoint.host,
                "port": endpoint.port,
                "secret": endpoint.secret,
            }
        elif endpoint.obfuscated:
            protocol = tcp.TCPAbridgedO if endpoint.framing == "abridged" else tcp.TCPIntermediateO
        else:
            protocol = {
                "intermediate": tcp.TCPIntermediate,
                "abridged": tcp.TCPAbridged,
                "full": tcp.TCPFull,
                "padded_intermediate": tcp.TCPIntermediatePadded,
            }[endpoint.framing]
        return pyrogram.Client(
            "mtcrypt-conformance",
            api_id=1,
            api_hash="0" * 32,
            in_memory=True,
            protocol_factory=protocol,
            no_updates=True,
            proxy=proxy,
        )

    def _header_module(self) -> ModuleType:
        return importlib.import_module("pyrogram.connection.transport.tcp.tcp")

    async def _auth(self, client: Any, endpoint: Endpoint) -> bytes:
        auth_module: Any = importlib.import_module("pyrogram.session.auth")
        auth = auth_module.Auth(client, endpoint.dc_id, endpoint.host, endpoint.port, False)
        if not endpoint.reconnect:
            auth.MAX_RETRIES = 0  # surface failures instead of retrying them
        with _first_header(self._header_module(), endpoint.header_candidate):
            key: bytes = await auth.create()
        return key

    async def handshake(self, endpoint: Endpoint) -> bytes:
        with _quiet_pyrogram([]):
            return await self._auth(self._client(endpoint), endpoint)

    async def open_session(self, endpoint: Endpoint, auth_key: bytes | None) -> SessionProbe:
        session_module: Any = importlib.import_module("pyrogram.session.session")
        client = self._client(endpoint)
        errors: list[str] = []
        key = auth_key if auth_key is not None else await self._auth(client, endpoint)
        await client.storage.open()
        await client.storage.api_id(1)
        session = session_module.Session(
            client, endpoint.dc_id, endpoint.host, endpoint.port, key, False
        )
        capture = contextlib.ExitStack()
        capture.enter_context(_quiet_pyrogram(errors))
        capture.enter_context(_watch_unpack(errors))
        try:
            await session.start()
        except BaseException:
            capture.close()
            await client.storage.close()
            raise
        probe = _PyrogramSession(client, session, errors)
        original_close = probe.close

        async def close() -> None:
            try:
                await original_close()
            finally:
                capture.close()

        probe.close = close  # type: ignore[method-assign]
        return probe


@contextlib.contextmanager
def _watch_unpack(sink: list[str]) -> Iterator[None]:
    """Record what ``pyrogram.crypto.mtproto.unpack`` raises (unchanged
    behaviour): Pyrogram drops a packet that fails a security check by letting
    the exception end the task that handled it, which logs nothing."""
    session_module: Any = importlib.import_module("pyrogram.session.session")
    original = session_module.mtproto.unpack

    def unpack(*args: Any) -> Any:
        try:
            return original(*args)
        except Exception as exc:
            sink.append(describe(exc))
            raise

    with mock.patch.object(session_module.mtproto, "unpack", unpack):
        yield


@contextlib.contextmanager
def _quiet_pyrogram(sink: list[str]) -> Iterator[None]:
    """Keep Pyrogram's log lines out of the output, and its rejections in ``sink``."""
    logger = logging.getLogger("pyrogram")
    handler = _Sink(sink, logging.INFO, needles=("Restarting session due to", "Discarding packet"))
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


# ---- any program ----------------------------------------------------------------------------


class CommandAdapter(ClientAdapter):
    """A client in another process, in any language: ``command`` runs once per
    scenario.

    **Input**: the environment says where and how to connect:
    ``MTCRYPT_CONFORMANCE_HOST``, ``_PORT``, ``_DC``, ``_RSA_PUBLIC_KEY`` (a
    PKCS#1 PEM), ``_FRAMING`` (``abridged``, ``intermediate``,
    ``padded_intermediate``, ``full``), ``_OBFUSCATED`` (``0``/``1``),
    ``_SECRET`` (an MTProxy secret in hex: 16 bytes, ``dd`` + 16 or ``ee`` + 16
    + domain; empty for none), ``_HEADER_CANDIDATE`` (set in the obfuscation
    header scenarios: 64 bytes in hex that must be the client's *first*
    candidate for the obfuscated2 header; it must draw again if the candidate
    is forbidden), ``_TEMP_KEY_EXPIRES_IN`` (set in the PFS scenario: create a
    temporary key of that lifetime, bind it with ``auth.bindTempAuthKey`` and
    send everything under it), ``_RECONNECT`` (``1`` in the scenarios that answer
    -404 where the spec says to start again -- a refused handshake query, a lost
    temporary key: connect again as the client's reconnection policy does, within
    the one run, and go on with the script), ``_MODE`` (``handshake``: create a key and stop;
    ``session``: then run the probe script) and ``_PING_TIMEOUT`` (seconds).

    **Output**: one line per event on stdout, either words or JSON objects:

    =====================================  ==============================================
    words                                  JSON line
    =====================================  ==============================================
    ``HANDSHAKE OK``                       ``{"event": "handshake", "ok": true}``
    ``HANDSHAKE FAILED <reason>``          ``{"event": "handshake", "ok": false,
                                           "error": "<reason>"}``
    ``PONG <ping_id>``                     ``{"event": "pong", "ping_id": <ping_id>}``
    ``TIMEOUT <ping_id>``                  ``{"event": "timeout", "ping_id": <ping_id>}``
    ``ERROR <text>``                       ``{"event": "error", "error": "<text>"}``
    =====================================  ==============================================

    ``TIMEOUT`` (a ping that got neither an answer nor an error in time) is
    how a hung receive loop shows: it makes the scenario a ``FAIL``. The
    program is killed after ``4 * timeout`` seconds. ``features`` declares what
    it supports (``full``, ``obfuscated``, ``header_rng``, ``mtproxy``,
    ``fake_tls``, ``temp_keys``, ``reconnect``); scenarios needing more are skipped.
    ``python -m mtcrypt.testing.conformance.example_client`` is a complete
    example in Python; the conformance guide has one for Node.js.
    """

    name = "command"
    reuses_keys = False

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        features: Sequence[str] = ("full", "obfuscated"),
        env: dict[str, str] | None = None,
    ) -> None:
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not self.argv:
            raise ValueError("empty command")
        self.features = frozenset(features)
        self.env = dict(env or {})
        self.name = f"command:{shlex.join(self.argv)}"

    def environment(self, endpoint: Endpoint, mode: Mode, timeout: float) -> dict[str, str]:
        """The variables the program gets (on top of this process's own)."""
        env = dict(self.env)
        env.update(
            {
                ENV_PREFIX + "HOST": endpoint.host,
                ENV_PREFIX + "PORT": str(endpoint.port),
                ENV_PREFIX + "DC": str(endpoint.dc_id),
                ENV_PREFIX + "RSA_PUBLIC_KEY": endpoint.public_key.to_pem(pkcs1=True),
                ENV_PREFIX + "FRAMING": endpoint.client_framing,
                ENV_PREFIX + "OBFUSCATED": "1" if endpoint.obfuscated else "0",
                ENV_PREFIX + "SECRET": endpoint.secret or "",
                ENV_PREFIX + "MODE": mode,
                ENV_PREFIX + "PING_TIMEOUT": str(timeout),
            }
        )
        if endpoint.header_candidate is not None:
            env[ENV_PREFIX + "HEADER_CANDIDATE"] = endpoint.header_candidate.hex()
        if endpoint.temp_key_expires_in is not None:
            env[ENV_PREFIX + "TEMP_KEY_EXPIRES_IN"] = str(endpoint.temp_key_expires_in)
        if endpoint.reconnect:
            env[ENV_PREFIX + "RECONNECT"] = "1"
        return env

    async def run(
        self, endpoint: Endpoint, mode: Mode, auth_key: bytes | None, timeout: float
    ) -> ClientReport:
        del auth_key
        env = dict(os.environ)
        env.update(self.environment(endpoint, mode, timeout))
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            return ClientReport(error=f"cannot start {self.argv[0]}: {exc.strerror}")
        report = ClientReport()
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 4 * timeout + 5)
        except TimeoutError:
            proc.kill()
            out, err = await proc.communicate()
            report.error = "timed out (killed)"
        for line in out.decode("utf-8", "replace").splitlines():
            _read_event(line.strip(), report)
        for ping_id in (PING_WARMUP, PING_MUTATED, PING_SENTINEL, PING_AFTER):
            report.pongs.setdefault(ping_id, False)
        if proc.returncode not in (0, None) and report.error is None and report.handshake is None:
            tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            report.error = f"exit status {proc.returncode}: {tail[0]}"
        return report


def _read_event(line: str, report: ClientReport) -> None:
    """One output line of a command client (words or a JSON object) into ``report``."""
    if line.startswith("{"):
        try:
            event = json.loads(line)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        kind = str(event.get("event", "")).upper()
        if kind == "HANDSHAKE":
            ok = event.get("ok") is True
            word, rest = kind, "OK" if ok else f"FAILED {event.get('error', '')}"
        elif kind in ("PONG", "TIMEOUT"):
            word, rest = kind, str(event.get("ping_id", ""))
        else:
            word, rest = kind, str(event.get("error", ""))
    else:
        word, _, rest = line.partition(" ")
    if word == "HANDSHAKE":
        report.handshake = rest.startswith("OK")
        if not report.handshake:
            report.error = rest.removeprefix("FAILED").strip() or "handshake failed"
    elif word == "PONG" and rest.strip().lstrip("-").isdigit():
        report.pongs[int(rest)] = True
    elif word == "TIMEOUT":
        report.errors.append(f"TimeoutError: ping {rest.strip()} got no answer")
    elif word == "ERROR":
        report.errors.append(rest)


def make_adapter(target: str) -> ClientAdapter:
    """``mtcrypt``, ``telethon``, ``pyrogram`` or ``command:<shell words>``."""
    if target == "mtcrypt":
        return MtcryptAdapter()
    if target == "telethon":
        return TelethonAdapter()
    if target == "pyrogram":
        return PyrogramAdapter()
    if target.startswith("command:"):
        adapter = CommandAdapter(target.removeprefix("command:"))
        program = adapter.argv[0]
        if shutil.which(program) is None and not os.access(program, os.X_OK):
            raise ValueError(f"cannot find the program {program!r}")
        return adapter
    raise ValueError(f"unknown client target {target!r}")
