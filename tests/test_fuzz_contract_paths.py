"""The fuzz contract for the receive paths and the remaining public parsers
(tests/test_fuzz_contract.py covers the codec, message decryption and the
primitives): any input works or raises one of the documented
:mod:`mtcrypt.errors` classes listed per entry point here, and never the bare
:class:`~mtcrypt.errors.MtcryptError` bug guard or anything outside the
hierarchy.  The connection objects promise more: their ``receive_data`` never
raises at all (bad bytes become events and a close).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from connection_pair import FakeClock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtcrypt.connection import ClientConnection, Closed, ServerConnection
from mtcrypt.e2e import decrypt_e2e, encrypt_e2e
from mtcrypt.errors import (
    DecryptionFailed,
    HandshakeError,
    InvalidArgument,
    InvalidType,
    MtcryptError,
    SessionError,
    TransportError,
)
from mtcrypt.handshake import ClientHandshake, ServerHandshake
from mtcrypt.handshake.rsa import RsaPrivateKey, load_private_key, load_public_key
from mtcrypt.mtproto import AuthKey, Role, Session
from mtcrypt.transport import ClientTransport, ProxySecret, ServerTransport, parse_proxy_link
from mtcrypt.transport.obfuscation import parse_client_header

KEY = AuthKey(bytes(range(256)))
SECRET = ProxySecret.parse("dd" + "ab" * 16)
FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

junk = st.one_of(
    st.binary(max_size=300),
    st.binary(min_size=60, max_size=70),  # around an obfuscated2 header
    st.sampled_from(
        [b"\xef", b"\xee" * 4, b"\xdd" * 4, b"\x16\x03\x01\x02\x00", b"GET / HTTP/1.1\r\n"]
    ).flatmap(lambda head: st.binary(max_size=200).map(lambda tail: head + tail)),
)
values = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    junk,
    st.lists(st.integers(), max_size=3),
)


def obeys(call: Callable[[], Any], *documented: type[Exception]) -> None:
    """The contract: a result, or one of ``documented`` (never the bare base class)."""
    try:
        call()
    except documented as exc:
        assert type(exc) is not MtcryptError, f"bug guard reached: {exc}"
    except Exception as exc:  # pragma: no cover - what the contract forbids
        raise AssertionError(f"undocumented {type(exc).__name__}: {exc}") from exc


# ---- parsers of user-supplied text --------------------------------------------------------


@FAST
@given(values)
def test_proxy_secret_parse(value: object) -> None:
    obeys(lambda: ProxySecret.parse(value), InvalidArgument, InvalidType)  # type: ignore[arg-type]


@FAST
@given(
    st.one_of(values, st.text(max_size=80), st.text(max_size=40).map(lambda t: "tg://proxy?" + t))
)
def test_parse_proxy_link(value: object) -> None:
    obeys(lambda: parse_proxy_link(value), InvalidArgument, InvalidType)  # type: ignore[arg-type]


@FAST
@given(st.one_of(values, junk.map(lambda b: b"-----BEGIN RSA PUBLIC KEY-----\n" + b)))
def test_load_keys(value: object) -> None:
    obeys(lambda: load_public_key(value), InvalidArgument, InvalidType)  # type: ignore[arg-type]
    obeys(lambda: load_private_key(value), InvalidArgument, InvalidType)  # type: ignore[arg-type]


@FAST
@given(junk, st.lists(st.one_of(st.none(), st.binary(min_size=16, max_size=16)), max_size=3))
def test_parse_client_header(header: bytes, secrets: list[bytes | None]) -> None:
    obeys(lambda: parse_client_header(header, secrets), TransportError, InvalidArgument)


# ---- receive paths -------------------------------------------------------------------------


@FAST
@given(st.lists(junk, min_size=1, max_size=4), st.sampled_from(["plain", "obfuscated", "dd"]))
def test_client_transport_receive(chunks: list[bytes], kind: str) -> None:
    if kind == "dd":
        transport = ClientTransport(secret=SECRET, dc_id=2)
    else:
        transport = ClientTransport("intermediate", obfuscated=kind == "obfuscated", dc_id=2)
    transport.data_to_send()  # the header, where there is one
    for chunk in chunks:
        obeys(lambda c=chunk: transport.receive(c), TransportError, SessionError)  # type: ignore[misc]


@FAST
@given(st.lists(junk, min_size=1, max_size=4), st.booleans())
def test_server_transport_receive(chunks: list[bytes], with_secret: bool) -> None:
    transport = ServerTransport(secrets=[SECRET] if with_secret else ())
    for chunk in chunks:
        obeys(lambda c=chunk: transport.receive(c), TransportError, SessionError)  # type: ignore[misc]


@FAST
@given(st.lists(junk, min_size=1, max_size=3))
def test_handshake_receive(server_key: RsaPrivateKey, packets: list[bytes]) -> None:
    client = ClientHandshake(dc=2, public_keys=[server_key.public_key])
    client.start()
    server = ServerHandshake(server_key)
    for packet in packets:
        obeys(lambda p=packet: client.receive(p), HandshakeError, SessionError)  # type: ignore[misc]
        obeys(lambda p=packet: server.receive(p), HandshakeError, SessionError)  # type: ignore[misc]


@FAST
@given(junk, st.booleans())
def test_session_receive(packet: bytes, client: bool) -> None:
    session = Session(KEY, Role.CLIENT if client else Role.SERVER)
    obeys(lambda: session.receive(packet), DecryptionFailed)
    obeys(lambda: session.receive_plaintext(packet), InvalidArgument)


@FAST
@given(junk, st.booleans())
def test_decrypt_e2e(packet: bytes, from_creator: bool) -> None:
    obeys(lambda: decrypt_e2e(KEY, packet, from_creator=from_creator), DecryptionFailed)


def test_decrypt_e2e_round_trip_still_opens() -> None:
    payload = os.urandom(64)
    packet = encrypt_e2e(KEY, payload, from_creator=True)
    assert decrypt_e2e(KEY, packet, from_creator=True) == payload


@FAST
@given(st.lists(junk, min_size=1, max_size=5))
def test_connections_never_raise(server_key: RsaPrivateKey, chunks: list[bytes]) -> None:
    clock = FakeClock()
    server = ServerConnection(server_key, clock=clock)
    client = ClientConnection(
        ClientTransport("intermediate"), public_keys=[server_key.public_key], clock=clock
    )
    client.start()
    for chunk in chunks:
        for conn in (server, client):
            if conn.closed:
                continue
            events = conn.receive_data(chunk)
            assert all(not isinstance(e, Exception) for e in events)
            conn.data_to_send()
    for conn in (server, client):
        if conn.closed:
            assert conn.receive_data(b"more") == [] or all(
                isinstance(e, Closed) for e in conn.receive_data(b"more")
            )
