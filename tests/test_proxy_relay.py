"""The sans-I/O MTProxy relay: mtcrypt's own client transport on one side,
its server transport (as the DC) on the other, and the probes a censor sends.

The two transports are independent of the relay (they are the ones the
reference server and client use, checked against Telethon and Pyrogram in
tests/test_interop_server.py), so a frame that crosses the relay intact in
both directions shows the re-encryption is right."""

from __future__ import annotations

import os
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mtcrypt.connection import Timeouts
from mtcrypt.crypto import Ctr256
from mtcrypt.errors import InvalidArgument, InvalidType, MtcryptError
from mtcrypt.proxy import (
    RELAY_TRANSITIONS,
    TELEGRAM_DCS,
    DcRequested,
    DcTable,
    MaskRequested,
    NamedSecret,
    Rejected,
    Relay,
    RelayClosed,
    RelayCloseReason,
    RelayInput,
    RelayPolicy,
    RelayState,
)
from mtcrypt.transport import (
    ClientRandomCache,
    ClientTransport,
    FakeTlsPolicy,
    Frame,
    ProxyLink,
    ProxySecret,
    ServerTransport,
    make_client_header,
    parse_proxy_link,
)
from mtcrypt.transport.faketls import build_client_hello
from mtcrypt.transport.obfuscation import derive_keys

PLAIN = "11" * 16
DD = "dd" + "22" * 16
EE = "ee" + "33" * 16 + b"example.com".hex()
NOW = 1_700_000_000.0
FIRST = b"first frame " * 3 + b"40b."  # 24 + 16 bytes, like an encrypted message


def _secrets() -> list[NamedSecret]:
    return [
        NamedSecret("plain", ProxySecret.parse(PLAIN)),
        NamedSecret("dd", ProxySecret.parse(DD)),
        NamedSecret("tls", ProxySecret.parse(EE)),
    ]


def _policy(*, mask: bool = True, cache: ClientRandomCache | None = None) -> RelayPolicy:
    return RelayPolicy(
        _secrets(),
        dcs=DcTable({2: ("dc2.test", 443), 10002: ("test-dc2.test", 443)}),
        timeouts=Timeouts(handshake=10.0, idle=60.0),
        tls=FakeTlsPolicy(replay_cache=cache),
        mask=mask,
    )


class _Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def _client(secret: str, dc_id: int = 2, framing: str | None = None) -> ClientTransport:
    return ClientTransport(framing, secret=secret, dc_id=dc_id, clock=lambda: NOW)


def _feed(relay: Relay, data: bytes, step: int) -> list[object]:
    events: list[object] = []
    for i in range(0, len(data), step):
        events += relay.receive_from_client(data[i : i + step])
    return events


def _connect(relay: Relay, client: ClientTransport, step: int = 1 << 20) -> DcRequested:
    """Drive the client's opening (and the fake-TLS answer) through the relay."""
    events = _feed(relay, client.data_to_send() + client.send(FIRST), step)
    answer = relay.data_for_client()
    if answer:  # fake-TLS: the ServerHello, then the client's held frame
        assert events == []
        assert client.receive(answer) == []
        events = _feed(relay, client.data_to_send(), step)
    (requested,) = events
    assert isinstance(requested, DcRequested)
    return requested


@pytest.mark.parametrize(
    ("secret", "name", "framing"),
    [
        (PLAIN, "plain", "abridged"),
        (PLAIN, "plain", "intermediate"),
        (DD, "dd", None),
        (EE, "tls", None),
    ],
)
@pytest.mark.parametrize("step", [1, 1 << 20])
def test_relays_both_ways_with_independent_keys(
    secret: str, name: str, framing: str | None, step: int
) -> None:
    relay = Relay(_policy(), clock=_Clock())
    client = _client(secret, framing=framing)
    requested = _connect(relay, client, step)
    assert (requested.dc_id, requested.host, requested.port) == (2, "dc2.test", 443)
    assert requested.secret_name == name and requested.fake_tls == (name == "tls")
    assert relay.state is RelayState.RELAYING and relay.secret_name == name

    dc = ServerTransport()  # the DC: no secrets, plain obfuscated2 only
    to_dc = relay.data_for_dc()
    events = dc.receive(to_dc)
    info = dc.info
    assert info is not None and info.obfuscated and not info.fake_tls and info.dc_id == 2
    assert info.framing is client.codec.framing  # the client's protocol tag, passed on
    assert [e.payload for e in events if isinstance(e, Frame)] == [FIRST]

    for blocks in (3, 62, 4400):  # sizes of encrypted messages: 24 + 16k bytes
        payload = os.urandom(24 + 16 * blocks)
        up = client.send(payload)
        _feed(relay, up, step if step > 1 or blocks < 100 else 4093)
        relayed = relay.data_for_dc()
        assert relayed != up[-len(relayed) :]  # re-encrypted, not passed through
        assert [e.payload for e in dc.receive(relayed) if isinstance(e, Frame)] == [payload]
        down = dc.send(payload)
        assert relay.receive_from_dc(down) == []
        frames = [e for e in client.receive(relay.data_for_client()) if isinstance(e, Frame)]
        assert [f.payload for f in frames] == [payload]
    assert relay.bytes_from_client > 70_000 and relay.bytes_from_dc > 70_000


def test_dc_header_has_its_own_keys() -> None:
    """Two connections with the same client header get different DC headers."""
    header = make_client_header(b"\xef" * 4, secret=bytes.fromhex(PLAIN), dc_id=2)
    wires = []
    for _ in range(2):
        relay = Relay(_policy())
        relay.receive_from_client(header.wire)
        wires.append(relay.data_for_dc())
    assert wires[0][:56] != wires[1][:56] != header.wire[:56]


def test_media_and_test_dcs() -> None:
    table = DcTable({2: ("a", 1), -4: ("m", 2), 10002: ("t", 3)}, addresses={})
    assert table.resolve(2) == ("a", 1)
    assert table.resolve(-2) == ("a", 1)  # no media entry: the main DC, like mtprotoproxy
    assert table.resolve(-4) == ("m", 2)
    assert table.resolve(4) is None
    assert table.resolve(10002) == ("t", 3) and table.resolve(-10002) == ("t", 3)
    assert table.resolve(10001) is None  # never a production DC for a test id
    assert DcTable().resolve(-2) == TELEGRAM_DCS[-2] != TELEGRAM_DCS[2]
    for bad in ({0: ("a", 1)}, {2: ("a", 0)}, {2: "a:1"}, {1 << 20: ("a", 1)}):
        with pytest.raises(InvalidArgument):
            DcTable(bad)  # type: ignore[arg-type]


def test_test_dc_id_reaches_the_test_entry() -> None:
    relay = Relay(_policy())
    requested = _connect(relay, _client(DD, dc_id=10002))
    assert (requested.dc_id, requested.host) == (10002, "test-dc2.test")


def test_unknown_dc_closes() -> None:
    relay = Relay(_policy())
    events = relay.receive_from_client(_client(DD, dc_id=7).data_to_send())
    assert events == [RelayClosed(RelayCloseReason.DC_UNAVAILABLE, "no address for DC 7")]
    assert relay.data_for_client() == b"" and relay.data_for_dc() == b""


# ---- probes ------------------------------------------------------------------------


def _hello(key_hex: str = EE, *, at: float = NOW, seed: int = 1) -> bytes:
    secret = ProxySecret.parse(key_hex)
    assert secret.domain is not None
    counter = iter(range(1 << 30))

    def rng(n: int) -> bytes:
        return bytes((seed * 131 + next(counter)) & 0xFF for _ in range(n))

    return build_client_hello(secret.key, secret.domain, int(at), rng=rng).record


def _probes() -> dict[str, bytes]:
    bad_mac = bytearray(_hello())
    bad_mac[20] ^= 1
    return {
        "http": b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "bad_hmac": bytes(bad_mac),
        "wrong_key": _hello("ee" + "44" * 16 + b"example.com".hex()),
        "stale": _hello(at=NOW - 3600),
        "wrong_sni": _hello("ee" + "33" * 16 + b"example.org".hex()),
        "random": os.urandom(300),
        "unknown_secret": make_client_header(b"\xdd" * 4, secret=b"\x55" * 16, dc_id=2).wire,
        "ee_key_without_tls": make_client_header(b"\xdd" * 4, secret=b"\x33" * 16, dc_id=2).wire,
        "abridged_tag": b"\xef" + os.urandom(100),
        "intermediate_tag": b"\xee" * 4 + os.urandom(100),
    }


@pytest.mark.parametrize("probe", sorted(_probes()))
def test_probes_are_masked_byte_for_byte(probe: str) -> None:
    data = _probes()[probe]
    relay = Relay(_policy(), clock=_Clock())
    events = relay.receive_from_client(data)
    assert len(events) == 2, events
    mask, closed = events
    assert isinstance(mask, MaskRequested) and mask.data == data
    assert closed == RelayClosed(RelayCloseReason.MASKED, mask.reason)
    assert relay.data_for_client() == b"" and relay.data_for_dc() == b""
    assert relay.receive_from_client(b"more") == []


def test_http_is_masked_before_64_bytes() -> None:
    relay = Relay(_policy())
    (mask, _) = relay.receive_from_client(b"GET / HT")
    assert isinstance(mask, MaskRequested) and mask.data == b"GET / HT"


def test_replayed_client_hello_is_masked() -> None:
    cache = ClientRandomCache()
    first = Relay(_policy(cache=cache), clock=_Clock())
    hello = _hello()
    assert first.receive_from_client(hello) == []
    assert first.state is RelayState.TLS_HEADER and first.data_for_client()[:3] == b"\x16\x03\x03"
    replay = Relay(_policy(cache=cache), clock=_Clock())
    mask, _ = replay.receive_from_client(hello)
    assert isinstance(mask, MaskRequested) and mask.data == hello
    assert "replayed" in mask.reason


def test_short_garbage_is_masked_at_the_deadline() -> None:
    clock = _Clock()
    relay = Relay(_policy(), clock=clock)
    assert relay.receive_from_client(b"\x01\x02\x03") == []
    assert relay.next_deadline() == NOW + 10.0
    assert relay.on_timer(NOW + 9.0) == []
    mask, _ = relay.on_timer(NOW + 10.0)
    assert isinstance(mask, MaskRequested) and mask.data == b"\x01\x02\x03"


def test_without_a_mask_host_rejects_are_held_silently() -> None:
    clock = _Clock()
    relay = Relay(_policy(mask=False), clock=clock)
    (rejected,) = relay.receive_from_client(b"GET / HTTP/1.1\r\n\r\n")
    assert isinstance(rejected, Rejected)
    assert relay.state is RelayState.HOLDING
    assert relay.receive_from_client(os.urandom(5000)) == []
    assert relay.data_for_client() == b"" and relay.buffered == 0
    assert relay.on_timer(NOW + 10.0) == [RelayClosed(RelayCloseReason.HELD)]
    silent = Relay(_policy(mask=False), clock=clock)
    assert silent.on_timer(NOW + 10.0) == [RelayClosed(RelayCloseReason.HANDSHAKE_TIMEOUT)]


def test_authenticated_client_that_breaks_the_records_is_closed_not_masked() -> None:
    relay = Relay(_policy(), clock=_Clock())
    relay.receive_from_client(_hello())
    assert relay.data_for_client()
    (closed,) = relay.receive_from_client(b"\x15\x03\x03\x00\x02\x02\x28")  # a TLS alert
    assert isinstance(closed, RelayClosed) and closed.reason is RelayCloseReason.BAD_STREAM


def test_header_that_starts_like_tls_under_a_plain_secret() -> None:
    """tdlib only avoids 16 03 01 02: a header starting 16 03 01 05 is a client."""
    plain = bytearray(os.urandom(64))
    plain[:4] = b"\x16\x03\x01\x05"
    plain[56:62] = b"\xee" * 4 + b"\x02\x00"
    (key, iv), _ = derive_keys(bytes(plain), bytes.fromhex(PLAIN))
    wire = bytes(plain[:56]) + Ctr256(key, iv).update(bytes(plain))[56:]  # as tdlib builds it
    for policy in (_policy(), RelayPolicy([_secrets()[0]], dcs=DcTable({2: ("d", 1)}))):
        relay = Relay(policy)
        assert relay.receive_from_client(wire[:40]) == []
        (requested,) = relay.receive_from_client(wire[40:])
        assert isinstance(requested, DcRequested) and requested.secret_name == "plain"


def test_idle_timeout_and_end_of_stream() -> None:
    clock = _Clock()
    relay = Relay(_policy(), clock=clock)
    _connect(relay, _client(DD))
    assert relay.next_deadline() == NOW + 60.0
    clock.now += 30
    relay.receive_from_dc(b"\x00" * 8)
    assert relay.on_timer(NOW + 60.0) == []
    assert relay.on_timer(NOW + 90.0) == [RelayClosed(RelayCloseReason.IDLE_TIMEOUT)]
    assert relay.next_deadline() is None
    for side in ("client", "dc"):
        relay = Relay(_policy())
        _connect(relay, _client(DD))
        receive = relay.receive_from_client if side == "client" else relay.receive_from_dc
        (closed,) = receive(b"")
        assert isinstance(closed, RelayClosed)
        assert closed.reason.value == f"{side}_closed"
        assert receive(b"late") == []


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgument):
        RelayPolicy([])
    with pytest.raises(InvalidArgument):
        RelayPolicy([NamedSecret("a", ProxySecret.parse(PLAIN))] * 2)
    with pytest.raises(InvalidType):
        RelayPolicy(["x"])  # type: ignore[list-item]
    with pytest.raises(InvalidArgument):
        NamedSecret("", ProxySecret.parse(PLAIN))
    with pytest.raises(InvalidType):
        Relay("policy")  # type: ignore[arg-type]
    relay = Relay(_policy())
    with pytest.raises(InvalidArgument):
        relay.receive_from_dc(b"x")  # no DC before the client is recognised
    with pytest.raises(MtcryptError):
        relay.receive_from_client("text")  # type: ignore[arg-type]
    assert "33" * 16 not in repr(_policy()) and "33" * 16 not in repr(relay)


@given(st.lists(st.binary(max_size=300), max_size=8))
def test_any_bytes_mask_hold_or_wait(chunks: list[bytes]) -> None:
    """Whatever a client sends before it is recognised, the relay never raises,
    never answers, and a mask always carries exactly what was sent."""
    relay = Relay(_policy(), clock=_Clock())
    sent = b""
    for chunk in chunks:
        if not chunk:
            continue
        sent += chunk
        for event in relay.receive_from_client(chunk):
            if isinstance(event, MaskRequested):
                assert event.data == sent
        assert relay.data_for_client() == b""
        if relay.state is not RelayState.DETECTING:
            break
    assert relay.buffered <= len(sent)


def test_proxy_link_round_trip() -> None:
    for text in (PLAIN, DD, EE):
        link = ProxyLink("proxy.example", 443, ProxySecret.parse(text))
        url = link.url()
        assert url.startswith("tg://proxy?server=proxy.example&port=443&secret=")
        assert parse_proxy_link(url) == link


def test_every_transition_is_walked_and_no_other() -> None:
    seen: set[tuple[RelayState, RelayInput]] = set()

    class Watched(Relay):
        def _advance(self, event: RelayInput) -> None:
            seen.add((self.state, event))
            super()._advance(event)

    def relay(mask: bool = True) -> Watched:
        return Watched(_policy(mask=mask), clock=_Clock())

    r = relay()
    _connect(r, _client(DD))  # DETECTING -> RELAYING
    r.close()  # RELAYING -> CLOSED
    r = relay()
    r.receive_from_client(_hello())  # DETECTING -> TLS_HEADER
    r.receive_from_client(b"\x15\x03\x03\x00\x01\x00")  # TLS_HEADER -> CLOSED
    r = relay()
    _connect(r, _client(EE))  # ... TLS_HEADER -> RELAYING
    r = relay(mask=False)
    r.receive_from_client(b"GET / HTTP/1.1\r\n")  # DETECTING -> HOLDING
    r.on_timer(NOW + 60)  # HOLDING -> CLOSED
    relay().receive_from_client(b"GET / HTTP/1.1\r\n")  # DETECTING -> CLOSED (masked)
    assert seen == set(RELAY_TRANSITIONS)
    for state, event in product(RelayState, RelayInput):
        if (state, event) in RELAY_TRANSITIONS:
            continue
        r = relay()
        r._state = state
        with pytest.raises(AssertionError):
            r._advance(event)


def test_replay_cache_must_have_check_and_add() -> None:
    with pytest.raises(InvalidArgument):
        FakeTlsPolicy(replay_cache=object())  # type: ignore[arg-type]


def test_a_half_close_before_a_decision_is_masked() -> None:
    relay = Relay(_policy(), clock=_Clock())
    assert relay.receive_from_client(b"\x01\x02\x03") == []
    mask, closed = relay.receive_from_client(b"")
    assert isinstance(mask, MaskRequested) and mask.data == b"\x01\x02\x03"
    assert isinstance(closed, RelayClosed) and closed.reason is RelayCloseReason.MASKED
    held = Relay(_policy(mask=False), clock=_Clock())
    held.receive_from_client(b"\x01\x02\x03")
    assert held.receive_from_client(b"") == [RelayClosed(RelayCloseReason.CLIENT_CLOSED)]


@pytest.mark.parametrize(("secret", "tls"), [(DD, False), (EE, True)])
def test_the_in_place_path_matches_the_queued_one(secret: str, tls: bool) -> None:
    """transcode_from_client/_from_dc (the I/O layer's zero-copy path) produce
    what receive_from_client/_from_dc queue, working in the caller's buffer for
    obfuscated2 clients, and the two paths can be mixed on one connection."""
    relay = Relay(_policy(), clock=_Clock())
    client = _client(secret)
    _connect(relay, client)
    dc = ServerTransport()
    dc.receive(relay.data_for_dc())
    for i, size in enumerate((24 + 16 * 3, 24 + 16 * 300, 24 + 16 * 5000)):
        payload = os.urandom(size)
        up = bytearray(client.send(payload))
        view = memoryview(up)
        out = relay.transcode_from_client(view) if i % 2 == 0 else None
        if out is None:
            relay.receive_from_client(bytes(up))
            out = relay.data_for_dc()
        elif not tls:
            assert out is view  # re-encrypted where it lay
        assert [e.payload for e in dc.receive(bytes(out)) if isinstance(e, Frame)] == [payload]
        down = bytearray(dc.send(payload))
        back = relay.transcode_from_dc(memoryview(down))
        if not tls:
            assert isinstance(back, memoryview) and back.obj is down
        frames = [e for e in client.receive(bytes(back)) if isinstance(e, Frame)]
        assert [f.payload for f in frames] == [payload]


def test_the_in_place_path_refuses_what_it_cannot_use() -> None:
    relay = Relay(_policy(), clock=_Clock())
    with pytest.raises(InvalidArgument):
        relay.transcode_from_client(bytearray(8))  # not relaying yet
    with pytest.raises(InvalidType):
        relay.transcode_from_dc(b"read-only")  # type: ignore[arg-type]
    with pytest.raises(InvalidType):
        relay.transcode_from_client(memoryview(b"read-only"))
    tls = Relay(_policy(), clock=_Clock())
    _connect(tls, _client(EE))
    assert tls.transcode_from_client(bytearray(b"\x15\x03\x03\x00\x02\x02\x28")) == b""
    assert tls.closed_event is not None
    assert tls.closed_event.reason is RelayCloseReason.BAD_STREAM
    with pytest.raises(InvalidArgument):
        tls.transcode_from_dc(bytearray(8))  # closed
