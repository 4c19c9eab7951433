"""ClientTransport/ServerTransport: every stack end to end over any split of the
byte stream, server autodetection, MTProxy policies and failure behaviour."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_transport_framing import cut_lists, encrypted_message, mtproto_payloads, split
from test_transport_obfuscation import spec_header

from mtcrypt.errors import InvalidArgument, SessionError, TransportError
from mtcrypt.transport import (
    ClientRandomCache,
    ClientTransport,
    FakeTlsPolicy,
    Frame,
    Framing,
    ProxySecret,
    QuickAck,
    ServerTransport,
    Sniffed,
    TransportDetected,
    TransportErrorCode,
    TransportState,
    sniff,
)
from mtcrypt.transport.events import Event

KEY = bytes.fromhex("c0ffee00112233445566778899aabbcc")
PLAIN = ProxySecret.parse(KEY)
DD = ProxySecret.parse(b"\xdd" + KEY)
EE = ProxySecret.parse(b"\xee" + KEY + b"cdn.example.net")


@dataclass(frozen=True)
class Config:
    name: str
    framing: str | None
    obfuscated: bool = False
    secret: ProxySecret | None = None

    def client(self, **kw: object) -> ClientTransport:
        dc = 2 if self.secret is not None else None
        return ClientTransport(
            self.framing, obfuscated=self.obfuscated, secret=self.secret, dc_id=dc, **kw  # type: ignore[arg-type]
        )

    def server(self, **kw: object) -> ServerTransport:
        secrets = [] if self.secret is None else [self.secret]
        return ServerTransport(secrets=secrets, **kw)  # type: ignore[arg-type]


CONFIGS = [
    Config("abridged", "abridged"),
    Config("intermediate", "intermediate"),
    Config("padded", "padded_intermediate"),
    Config("full", "full"),
    Config("obf-abridged", "abridged", obfuscated=True),
    Config("obf-intermediate", "intermediate", obfuscated=True),
    Config("obf-padded", "padded_intermediate", obfuscated=True),
    Config("proxy-abridged", "abridged", secret=PLAIN),
    Config("proxy-intermediate", "intermediate", secret=PLAIN),
    Config("proxy-padded", "padded_intermediate", secret=PLAIN),
    Config("proxy-dd", None, secret=DD),
    Config("proxy-ee", None, secret=EE),
]
EXPECTED = {
    "abridged": Framing.ABRIDGED,
    "intermediate": Framing.INTERMEDIATE,
    "padded_intermediate": Framing.PADDED_INTERMEDIATE,
    "full": Framing.FULL,
    None: Framing.PADDED_INTERMEDIATE,
}


class Link:
    """Two transports joined by an in-memory wire that cuts every write."""

    def __init__(self, client: ClientTransport, server: ServerTransport, cuts: Sequence[int]):
        self.client, self.server, self.cuts = client, server, cuts
        self.to_server = b""
        self.to_client = b""
        self.server_events: list[Event] = []
        self.client_events: list[Event] = []

    def client_send(self, payload: bytes, **kw: bool) -> None:
        self.to_server += self.client.send(payload, **kw)

    def server_send(self, payload: bytes) -> None:
        self.to_client += self.server.send(payload)

    def pump(self) -> None:
        for _ in range(8):
            self.to_server += self.client.data_to_send()
            data, self.to_server = self.to_server, b""
            for piece in split(data, self.cuts):
                self.server_events += self.server.receive(piece)
            self.to_client += self.server.data_to_send()
            back, self.to_client = self.to_client, b""
            for piece in split(back, self.cuts):
                self.client_events += self.client.receive(piece)
            if not (data or back):
                return


def payloads_of(events: Sequence[Event]) -> list[bytes]:
    return [e.payload for e in events if isinstance(e, Frame)]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
@given(
    up=st.lists(mtproto_payloads, min_size=1, max_size=5),
    down=st.lists(mtproto_payloads, max_size=5),
    cuts=cut_lists,
)
def test_round_trip_every_stack_any_split(
    cfg: Config, up: list[bytes], down: list[bytes], cuts: list[int]
) -> None:
    link = Link(cfg.client(), cfg.server(), cuts)
    for p in up:
        link.client_send(p)
    link.pump()
    detected, *rest = link.server_events
    assert isinstance(detected, TransportDetected)
    info = detected.info
    assert info.framing is EXPECTED[cfg.framing]
    assert info.obfuscated == (cfg.obfuscated or cfg.secret is not None)
    assert info.fake_tls == (cfg.secret is EE)
    if cfg.secret is not None:
        assert (info.dc_id, info.secret_index) == (2, 0)
    if cfg.secret is EE:
        assert info.sni == "cdn.example.net"
    assert payloads_of(rest) == up and len(rest) == len(up)
    for p in down:
        link.server_send(p)
    link.pump()
    assert link.client_events == [Frame(p) for p in down]
    assert link.client.established


@pytest.mark.parametrize("cfg", [c for c in CONFIGS if c.framing != "full"], ids=lambda c: c.name)
def test_quick_acks_and_errors_through_every_stack(cfg: Config) -> None:
    link = Link(cfg.client(), cfg.server(), [5, 70, 300])
    msg = encrypted_message(3)
    link.client_send(msg, quick_ack=True)
    link.pump()
    assert link.server_events[1] == Frame(msg, quick_ack_requested=True)
    link.to_client += link.server.send_quick_ack(0x1234ABCD)
    link.server_send(msg)
    link.to_client += link.server.send_error(-429)
    link.pump()
    assert link.client_events == [QuickAck(0x9234ABCD), Frame(msg), TransportErrorCode(-429)]


# ---- autodetection ----------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "fake_tls", "expected"),
    [
        (b"", False, None),
        (b"\xef", False, Sniffed.ABRIDGED),
        (b"\xee\xee\xee", False, None),
        (b"\xee\xee\xee\xee", False, Sniffed.INTERMEDIATE),
        (b"\xdd\xdd\xdd\xdd", False, Sniffed.PADDED_INTERMEDIATE),
        (b"\x16\x03\x01\x02", True, Sniffed.FAKE_TLS),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01", False, Sniffed.OBFUSCATED2),
        (b"\x28\x00\x00\x00\x00\x00\x00\x00", False, Sniffed.FULL),
        (b"\x28\x00\x00\x00\x00\x00\x00", False, None),
        (b"\x28\x00\x00\x00\x01\x00\x00\x00", False, Sniffed.OBFUSCATED2),
    ],
)
def test_sniff(prefix: bytes, fake_tls: bool, expected: Sniffed | None) -> None:
    assert sniff(prefix, fake_tls=fake_tls) is expected


def test_one_server_detects_every_unproxied_client() -> None:
    for cfg in CONFIGS[:7]:
        server = ServerTransport()
        events = server.receive(cfg.client().send(encrypted_message(1)))
        assert isinstance(events[0], TransportDetected), cfg.name
        assert events[0].info.framing is EXPECTED[cfg.framing]
        assert server.info == events[0].info


def test_mtproxy_server_detects_every_secret_kind() -> None:
    ee = ProxySecret.parse(b"\xee" + os.urandom(16) + b"cdn.example.net")
    server_secrets: list[ProxySecret | bytes] = [os.urandom(16), PLAIN, ee]
    for secret in (PLAIN, DD, ee):
        server = ServerTransport(secrets=server_secrets)
        link = Link(
            ClientTransport(
                "padded_intermediate" if secret.padded else "abridged", secret=secret, dc_id=-3
            ),
            server,
            [],
        )
        link.client_send(encrypted_message(1))
        link.pump()
        info = link.server_events[0].info  # type: ignore[union-attr]
        assert (info.secret_index, info.dc_id, info.fake_tls) == (
            2 if secret is ee else 1,
            -3,
            secret is ee,
        )


# ---- server policies ----------------------------------------------------------


def rejects(server: ServerTransport, data: bytes, match: str, code: int = -404) -> None:
    with pytest.raises(TransportError, match=match) as exc:
        server.receive(data)
    assert exc.value.code == code
    with pytest.raises(SessionError, match=r"receive\(\) called in state failed"):
        server.receive(b"\x00")


def test_mtproxy_refuses_what_it_should() -> None:
    first = encrypted_message(1)
    rejects(ServerTransport(secrets=[PLAIN]), b"\xef\x01abcd", "unobfuscated")
    rejects(
        ServerTransport(secrets=[PLAIN]),
        ClientTransport("abridged", obfuscated=True).send(first),
        "unrecognised",
    )
    other = ProxySecret.parse(os.urandom(16))
    rejects(
        ServerTransport(secrets=[other]),
        ClientTransport("abridged", secret=PLAIN, dc_id=2).send(first),
        "unrecognised",
    )
    rejects(
        ServerTransport(secrets=[EE], tls_only=True),
        ClientTransport("padded_intermediate", secret=PLAIN, dc_id=2).send(first),
        "only fake-TLS",
    )
    rejects(
        ServerTransport(secrets=[PLAIN], require_padding=True),
        ClientTransport("intermediate", secret=PLAIN, dc_id=2).send(first),
        "padded",
    )
    rejects(
        ServerTransport(secrets=[PLAIN], allowed_dc_ids={1, 2, 3}),
        ClientTransport("intermediate", secret=PLAIN, dc_id=5).send(first),
        "DC",
        code=-444,
    )
    # overrides
    server = ServerTransport(secrets=[PLAIN], allow_plain=True, allow_secretless=True)
    assert server.receive(b"\xef\x01abcd")[1] == Frame(b"abcd")
    server = ServerTransport(secrets=[PLAIN], allow_secretless=True)
    assert isinstance(
        server.receive(ClientTransport("abridged", obfuscated=True).send(first))[0],
        TransportDetected,
    )
    server = ServerTransport(secrets=[PLAIN], allowed_dc_ids={5})
    assert server.receive(ClientTransport("intermediate", secret=PLAIN, dc_id=5).send(first))
    # the -444 still reaches the client, framed and obfuscated
    client = ClientTransport("padded_intermediate", secret=DD, dc_id=7)
    server = ServerTransport(secrets=[DD], allowed_dc_ids={5})
    with pytest.raises(TransportError) as exc:
        server.receive(client.send(first))
    assert client.receive(server.send_error(exc.value.code)) == [TransportErrorCode(-444)]


def test_tls_looking_obfuscated2_header_falls_back() -> None:
    """tdlib only avoids ``16 03 01 02``: a header starting ``16 03 01 05`` must
    still work against a server that accepts fake-TLS and obfuscated2."""
    while True:
        init = b"\x16\x03\x01\x05" + os.urandom(60)
        if init[4:8] != bytes(4):
            break
    wire, c2s, _ = spec_header(init, b"\xdd" * 4, KEY, 2)
    first = b"\x28\x00\x00\x00" + encrypted_message(1)
    stream = wire + c2s.encrypt(first)
    # the claimed TLS record (0x05xx bytes) never completes: detected at 64 bytes
    server = ServerTransport(secrets=[PLAIN])
    events = [e for piece in split(stream, [10, 40, 63, 64]) for e in server.receive(piece)]
    assert events[0] == TransportDetected(server.info)  # type: ignore[arg-type]
    assert events[1] == Frame(first[4:]) and server.info is not None
    assert server.info.framing is Framing.PADDED_INTERMEDIATE and not server.info.fake_tls
    # and with tls_only it is refused
    rejects(ServerTransport(secrets=[EE], tls_only=True), stream + bytes(2000), "fake-TLS")


def test_fake_tls_failures() -> None:
    # a forged answer is refused by the client
    client = ClientTransport(secret=EE, dc_id=2)
    hello = client.data_to_send()
    assert hello[:3] == b"\x16\x03\x01"
    server = ServerTransport(secrets=[ProxySecret.parse(b"\xee" + os.urandom(16) + b"x.example")])
    with pytest.raises(TransportError):  # wrong key on the server: not authenticated
        server.receive(hello)
    real = ServerTransport(secrets=[EE])
    real.receive(hello)
    answer = bytearray(real.data_to_send())
    answer[20] ^= 1
    with pytest.raises(TransportError, match="not authentic"):
        client.receive(bytes(answer))
    with pytest.raises(SessionError, match=r"receive\(\) called in state failed"):
        client.receive(b"")
    # a stale hello (client clock 20 minutes slow)
    slow = ClientTransport(secret=EE, dc_id=2, clock=lambda: 1_000_000_000.0)
    fast = ServerTransport(secrets=[EE], clock=lambda: 1_000_001_200.0)
    rejects(fast, slow.data_to_send(), "timestamp")
    # a replayed hello
    cache_policy = FakeTlsPolicy(replay_cache=ClientRandomCache())
    record = ClientTransport(secret=EE, dc_id=2).data_to_send()
    ServerTransport(secrets=[EE], tls=cache_policy).receive(record)
    rejects(ServerTransport(secrets=[EE], tls=cache_policy), record, "replayed")


def test_fake_tls_client_holds_frames_until_verified() -> None:
    client = ClientTransport(secret=EE, dc_id=4)
    assert not client.established
    first, second = encrypted_message(1), encrypted_message(2)
    out = client.send(first)
    assert out[:3] == b"\x16\x03\x01" and client.send(second) == b""
    server = ServerTransport(secrets=[EE])
    assert server.receive(out) == []  # hello accepted, answer pending
    answer = server.data_to_send()
    assert client.receive(answer) == [] and client.established
    records = client.data_to_send()
    assert records[:11] == bytes.fromhex("140303000101") + b"\x17\x03\x03" + records[9:11]
    events = server.receive(records)
    assert isinstance(events[0], TransportDetected) and events[0].info.dc_id == 4
    assert payloads_of(events) == [first, second]


def test_send_before_detection_and_errors_after_failure() -> None:
    server = ServerTransport()
    with pytest.raises(SessionError):
        server.send(encrypted_message(1))
    assert server.send_error(-404) == b""
    plain = ClientTransport("abridged")
    server.receive(plain.send(encrypted_message(1)))
    with pytest.raises(TransportError):
        server.receive(b"\x00")  # an empty abridged packet
    with pytest.raises(SessionError):
        server.send(encrypted_message(1))
    assert plain.receive(server.send_error(-404)) == [TransportErrorCode(-404)]
    # the same through obfuscation: the error still reaches the client
    client = ClientTransport("padded_intermediate", obfuscated=True)
    server = ServerTransport(max_frame=64)
    server.receive(client.send(encrypted_message(1)))
    with pytest.raises(TransportError) as exc:
        server.receive(client.send(encrypted_message(10)))
    assert client.receive(server.send_error(exc.value.code)) == [TransportErrorCode(-404)]


def test_oversized_frames_through_obfuscation() -> None:
    client = ClientTransport("intermediate", obfuscated=True)
    server = ServerTransport(max_frame=1024)
    server.receive(client.send(encrypted_message(1)))
    with pytest.raises(TransportError, match="exceeds"):
        server.receive(client.send(encrypted_message(100))[:10])


@given(data=st.binary(min_size=1, max_size=200), cuts=cut_lists)
def test_fuzz_contract(data: bytes, cuts: list[int]) -> None:
    """Whatever arrives, a server either parses it or raises TransportError."""
    for secrets in ([], [EE]):
        server = ServerTransport(secrets=secrets)
        try:
            for piece in split(data, cuts):
                server.receive(piece)
        except TransportError:
            pass


def test_client_arguments() -> None:
    with pytest.raises(InvalidArgument, match="padded"):
        ClientTransport("abridged", secret=DD, dc_id=2)
    with pytest.raises(InvalidArgument, match="padded"):
        ClientTransport("intermediate", secret=EE, dc_id=2)
    with pytest.raises(InvalidArgument, match="dc_id"):
        ClientTransport(secret=PLAIN)
    with pytest.raises(InvalidArgument, match="full"):
        ClientTransport("full", obfuscated=True)
    with pytest.raises(InvalidArgument):
        ClientTransport("websocket")
    with pytest.raises(InvalidArgument):
        ClientTransport(secret="zz", dc_id=2)
    with pytest.raises(InvalidArgument):
        ServerTransport(fake_tls=True)
    with pytest.raises(InvalidArgument):
        ServerTransport(secrets=KEY)  # type: ignore[arg-type]
    assert ClientTransport(secret=PLAIN, dc_id=1).info.framing is Framing.INTERMEDIATE
    assert ClientTransport(secret=DD, dc_id=1).info.framing is Framing.PADDED_INTERMEDIATE
    assert "c0ffee" not in repr(ClientTransport(secret=EE, dc_id=1))


def seeded(seed: bytes) -> Callable[[int], bytes]:
    state = {"counter": 0}

    def rng(n: int) -> bytes:
        out = b""
        while len(out) < n:
            state["counter"] += 1
            out += hashlib.sha256(seed + state["counter"].to_bytes(8, "little")).digest()
        return out[:n]

    return rng


def test_deterministic_twins() -> None:
    """Randomness and time are parameters: the same ones give the same bytes."""
    for cfg in CONFIGS:
        a = cfg.client(rng=seeded(b"x"), clock=lambda: 1_700_000_000.0)
        b = cfg.client(rng=seeded(b"x"), clock=lambda: 1_700_000_000.0)
        msg = encrypted_message(2)
        assert a.send(msg) == b.send(msg), cfg.name
    sa = ServerTransport(secrets=[EE], rng=seeded(b"s"), clock=lambda: 1_700_000_000.0)
    sb = ServerTransport(secrets=[EE], rng=seeded(b"s"), clock=lambda: 1_700_000_000.0)
    hello = ClientTransport(secret=EE, dc_id=2, clock=lambda: 1_700_000_000.0).data_to_send()
    sa.receive(hello)
    sb.receive(hello)
    assert sa.data_to_send() == sb.data_to_send()


def test_tls_looking_obfuscated_header_with_bad_frames_fails_cleanly() -> None:
    """An obfuscated2 header that starts like a TLS record (16 03 01; our
    clients never send one, a hostile one may) whose first frame is bad: the
    connection fails with a TransportError, and stays failed (it used to be
    left established without a stack, and the next receive() hit an assert)."""
    import struct as _struct

    from mtcrypt.crypto import Ctr256
    from mtcrypt.transport.obfuscation import derive_keys

    plain = bytearray(os.urandom(64))
    plain[0:5] = b"\x16\x03\x01\x02\x00"  # a TLS record length longer than what follows
    plain[56:60] = b"\xef\xef\xef\xef"  # abridged
    plain[60:62] = _struct.pack("<h", 2)
    (c2s_key, c2s_iv), _ = derive_keys(bytes(plain), DD.key)
    encryptor = Ctr256(c2s_key, c2s_iv)
    header = bytes(plain[:56]) + encryptor.update(bytes(plain))[56:]
    bad_frame = encryptor.update(b"\x7f\xff\xff\xff" + bytes(60))  # 64 MiB: over max_frame
    server = ServerTransport(secrets=[DD], allow_secretless=False)
    with pytest.raises(TransportError):
        server.receive(header + bad_frame)
    assert server.state is TransportState.FAILED
    with pytest.raises(SessionError, match=r"receive\(\) called in state failed"):
        server.receive(b"\x00")


def _established_twins(cfg: Config) -> tuple[ServerTransport, ServerTransport, ClientTransport]:
    """Two servers with the same randomness that saw the same client's first bytes."""
    clock = lambda: 1_700_000_000.0  # noqa: E731
    client = cfg.client(clock=clock)
    message = encrypted_message(2)
    first = client.send(message)
    twins = [cfg.server(rng=seeded(b"twin"), clock=clock) for _ in range(2)]
    got = [payloads_of(server.receive(first)) for server in twins]
    hello = twins[0].data_to_send()
    assert hello == twins[1].data_to_send()
    client.receive(hello)  # fake-TLS: the proxy's answer releases the held frame
    held = client.data_to_send()
    for server, frames in zip(twins, got, strict=True):
        frames += payloads_of(server.receive(held)) if held else []
        assert frames == [message] and server.state is TransportState.ESTABLISHED
    return twins[0], twins[1], client


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_send_into_gives_send_bytes_on_every_stack(cfg: Config) -> None:
    """A payload laid out in the frame's buffer (send_into) gives the same bytes as
    send() on every transport, obfuscated or not, fake-TLS included, and the client
    reads it back."""
    plain, in_place, client = _established_twins(cfg)
    payloads = [encrypted_message(k) for k in (2, 40, 4000, 33000)]  # up to ~528 KB
    received: list[bytes] = []
    for payload in payloads:

        def fill(view: memoryview, payload: bytes = payload) -> None:
            view[:] = payload

        expected = plain.send(payload)
        got = in_place.send_into(len(payload), fill)
        assert type(got) is bytes and got == expected
        received += payloads_of(client.receive(got))
    assert received == payloads
    assert plain.send(payloads[0]) == in_place.send(payloads[0])  # still in step
