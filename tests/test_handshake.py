"""ClientHandshake against ServerHandshake in one process: seeds, variants,
retries, failures, temporary keys, retransmission, message ids, API misuse."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_handshake_support import (
    FixedClock,
    SeededRng,
    advance,
    body_of,
    make_pair,
    msg_id_of,
    run,
    server_key,
)

from mtcrypt import tl
from mtcrypt.errors import HandshakeError, InvalidArgument, InvalidType, SessionError
from mtcrypt.handshake import (
    ClientHandshake,
    ServerHandshake,
    generate_pq,
    server_salt,
)
from mtcrypt.handshake.pq import is_prime_u64
from mtcrypt.mtproto import AuthKey, pack_plain

# Seeds (client, server) for which the key's first byte is zero (found by search).
ZERO_LEAD_SEEDS = [419, 668, 773]


def _check_agree(client: ClientHandshake, server: ServerHandshake) -> None:
    c, s = client.result, server.result
    assert c.auth_key == s.auth_key
    assert len(c.auth_key.key) == 256
    assert c.server_salt == s.server_salt
    assert c.expires_at == s.expires_at
    assert c.dc == s.dc
    assert c.retries == s.retries
    assert c.inner_data == s.inner_data
    assert c.rsa_scheme == s.rsa_scheme
    assert client.state == "done" and server.state == "done"


@given(
    seed=st.integers(0, 2**64), temp=st.booleans(), legacy=st.booleans(), dc=st.integers(-5, 10005)
)
def test_random_seeds(seed: int, temp: bool, legacy: bool, dc: int) -> None:
    ck: dict[str, object] = {"dc": dc, "rsa_scheme": "legacy" if legacy else "rsa_pad"}
    if temp:
        ck["expires_in"] = 86400
    client, server = make_pair(seed, client_kwargs=ck)
    run(client, server)
    _check_agree(client, server)
    assert server.result.rsa_scheme == ("legacy" if legacy else "rsa_pad")
    assert server.result.inner_data == ("p_q_inner_data_temp_dc" if temp else "p_q_inner_data_dc")


def test_many_seeds_are_distinct_and_agree() -> None:
    keys = set()
    for seed in range(40):
        client, server = make_pair(("many", seed))
        run(client, server)
        _check_agree(client, server)
        keys.add(client.result.auth_key.key)
    assert len(keys) == 40


@pytest.mark.parametrize("seed", ZERO_LEAD_SEEDS)
def test_keys_with_leading_zero_byte_stay_256_bytes(seed: int) -> None:
    client, server = make_pair(seed)
    run(client, server)
    key = client.result.auth_key.key
    assert key[0] == 0 and len(key) == 256
    _check_agree(client, server)
    # The key id is over all 256 bytes (a client that drops the zero byte gets another id).
    import hashlib

    assert client.result.auth_key.key_id_bytes == hashlib.sha1(key).digest()[12:20]
    assert client.result.auth_key.key_id_bytes != hashlib.sha1(key[1:]).digest()[12:20]


@pytest.mark.parametrize("temp", [False, True])
@pytest.mark.parametrize("dc", [None, 2])
@pytest.mark.parametrize("scheme", ["rsa_pad", "legacy"])
def test_all_inner_data_constructors(temp: bool, dc: int | None, scheme: str) -> None:
    ck: dict[str, object] = {"dc": dc, "rsa_scheme": scheme}
    if temp:
        ck["expires_in"] = 600
    client, server = make_pair(("ctor", temp, dc, scheme), client_kwargs=ck)
    run(client, server)
    _check_agree(client, server)
    name = "p_q_inner_data" + ("_temp" if temp else "") + ("_dc" if dc is not None else "")
    assert server.result.inner_data == name
    assert server.result.rsa_scheme == scheme
    assert server.result.dc == dc
    assert server.result.temporary is temp


def test_temporary_key_expiry() -> None:
    client, server = make_pair("temp", client_kwargs={"expires_in": 3600}, now=1_750_000_000.5)
    flow = run(client, server)
    answer = tl.deserialize(body_of(flow.packets["s2"]))
    assert answer.name == "server_DH_params_ok"
    assert client.result.expires_at == server.result.expires_at
    expires_at = client.result.expires_at
    assert expires_at is not None and 1_750_000_000 + 3600 <= expires_at <= 1_750_000_001 + 3600
    assert client.result.temporary and server.result.temporary


def test_temporary_keys_refused() -> None:
    client, server = make_pair(
        "notemp", client_kwargs={"expires_in": 60}, server_kwargs={"accept_temp_keys": False}
    )
    packets = advance(client, server, "c2")
    with pytest.raises(HandshakeError) as err:
        server.receive(packets["c2"])
    assert err.value.check == "expires_in"


def test_expires_in_over_server_limit() -> None:
    client, server = make_pair(
        "long", client_kwargs={"expires_in": 10**6}, server_kwargs={"max_expires_in": 86400}
    )
    packets = advance(client, server, "c2")
    with pytest.raises(HandshakeError) as err:
        server.receive(packets["c2"])
    assert err.value.check == "expires_in"


def test_retries_then_ok() -> None:
    seen: list[bytes] = []

    def decide(key: AuthKey, attempt: int) -> str:
        seen.append(key.key)
        return "retry" if attempt < 2 else "ok"

    client, server = make_pair("retry", server_kwargs={"decide": decide})
    flow = run(client, server)
    _check_agree(client, server)
    assert client.result.retries == 2
    assert len(seen) == 3 and len(set(seen)) == 3  # a fresh b each time
    assert client.result.auth_key.key == seen[-1]
    assert [tl.deserialize(body_of(flow.packets[f"s{i}"])).name for i in (3, 4, 5)] == [
        "dh_gen_retry",
        "dh_gen_retry",
        "dh_gen_ok",
    ]
    # retry_id = auth_key_aux_hash of the rejected key (as a little-endian long)
    import hashlib

    from test_handshake_support import new_nonce_from, open_sealed

    nn = new_nonce_from(flow.packets["c2"])
    for step, previous in ((4, seen[0]), (5, seen[1])):
        req = tl.deserialize(body_of(flow.packets[f"c{step}"]))
        inner, _ = open_sealed(req.encrypted_data, req.server_nonce, nn)
        assert inner.retry_id == struct.unpack("<q", hashlib.sha1(previous).digest()[:8])[0]
    first = tl.deserialize(body_of(flow.packets["c3"]))
    inner, _ = open_sealed(first.encrypted_data, first.server_nonce, nn)
    assert inner.retry_id == 0


def test_client_gives_up_after_max_retries() -> None:
    client, server = make_pair(
        "giveup",
        client_kwargs={"max_retries": 1},
        server_kwargs={"decide": lambda key, attempt: "retry", "max_retries": 10},
    )
    with pytest.raises(HandshakeError) as err:
        run(client, server)
    assert err.value.check == "dh_gen_retry"
    assert client.state == "failed"


def test_server_fails_after_max_retries() -> None:
    client, server = make_pair(
        "srvmax", server_kwargs={"decide": lambda key, attempt: "retry", "max_retries": 2}
    )
    with pytest.raises(HandshakeError) as err:
        run(client, server)
    assert err.value.check == "dh_gen_fail"
    assert server.state == "failed"


def test_dh_gen_fail() -> None:
    client, server = make_pair("fail", server_kwargs={"decide": lambda key, attempt: "fail"})
    with pytest.raises(HandshakeError) as err:
        run(client, server)
    assert err.value.check == "dh_gen_fail"
    assert client.state == "failed" and server.state == "failed"
    with pytest.raises(SessionError):
        server.receive(b"")


def test_server_dh_params_fail() -> None:
    client, server = make_pair("pfail", server_kwargs={"fail_dh_params": True})
    with pytest.raises(HandshakeError) as err:
        run(client, server)
    assert err.value.check == "server_DH_params_fail"
    assert server.state == "failed"


def test_decide_must_answer_properly() -> None:
    client, server = make_pair("bad", server_kwargs={"decide": lambda key, attempt: "maybe"})
    packets = advance(client, server, "c3")
    with pytest.raises(InvalidArgument):
        server.receive(packets["c3"])


def test_legacy_req_pq_is_accepted() -> None:
    client, server = make_pair("req_pq")
    first = client.start()
    legacy = pack_plain(msg_id_of(first), tl.serialize(tl.make("req_pq", nonce=body_of(first)[4:])))
    packet = client.receive(server.receive(legacy))
    while packet is not None:
        packet = client.receive(server.receive(packet))
    assert server.request_name == "req_pq"
    _check_agree(client, server)


def test_dc_must_match_when_server_checks_it() -> None:
    client, server = make_pair("dc", client_kwargs={"dc": 3}, server_kwargs={"dc": 2})
    packets = advance(client, server, "c2")
    with pytest.raises(HandshakeError) as err:
        server.receive(packets["c2"])
    assert err.value.check == "dc"
    client, server = make_pair("dc2", client_kwargs={"dc": 10002}, server_kwargs={"dc": 10002})
    run(client, server)
    assert server.result.dc == 10002


def test_server_without_legacy_refuses_it() -> None:
    client, server = make_pair(
        "nolegacy",
        client_kwargs={"rsa_scheme": "legacy"},
        server_kwargs={"accept_legacy_rsa": False},
    )
    packets = advance(client, server, "c2")
    with pytest.raises(HandshakeError) as err:
        server.receive(packets["c2"])
    assert err.value.check == "rsa_padding"


def test_key_selection_by_fingerprint() -> None:
    k0, k1 = server_key(0), server_key(1)
    # The server lists k0 then k1; the client trusts only k1.
    client = ClientHandshake(dc=2, public_keys=[k1.public_key], rng=SeededRng("sel"))
    server = ServerHandshake([k0, k1], rng=SeededRng("sel-s"))
    run(client, server)
    assert client.fingerprint == k1.fingerprint
    _check_agree(client, server)
    # The first listed key the client trusts wins.
    client = ClientHandshake(dc=2, public_keys=[k1.public_key, k0.public_key])
    server = ServerHandshake([k0, k1])
    run(client, server)
    assert client.fingerprint == k0.fingerprint
    # No trusted key at all.
    client = ClientHandshake(dc=2)  # Telegram's keys only
    server = ServerHandshake(k0)
    with pytest.raises(HandshakeError) as err:
        client.receive(server.receive(client.start()))
    assert err.value.check == "fingerprint"


def test_retransmission_gets_the_same_answer() -> None:
    client, server = make_pair("rexmit")
    c1 = client.start()
    s1 = server.receive(c1)
    assert server.receive(c1) == s1
    c2 = client.receive(s1)
    assert c2 is not None
    s2 = server.receive(c2)
    assert server.receive(c2) == s2
    c3 = client.receive(s2)
    assert c3 is not None
    s3 = server.receive(c3)
    assert client.receive(s3) is None
    assert server.receive(c3) == s3  # the dh_gen_ok was lost: same answer again
    # Only the same body counts: another message id, same content, still matches.
    assert server.receive(pack_plain(msg_id_of(c3) + 4, body_of(c3))) == s3
    with pytest.raises(HandshakeError) as err:
        server.receive(c2)
    assert err.value.check == "unexpected_message"
    assert server.done and server.result.auth_key == client.result.auth_key


def test_message_ids_and_time_offset() -> None:
    client = ClientHandshake(
        dc=2,
        public_keys=[server_key().public_key],
        rng=SeededRng("ids"),
        clock=FixedClock(1_600_000_000),
    )
    server = ServerHandshake(server_key(), rng=SeededRng("ids-s"), clock=FixedClock(1_600_001_000))
    flow = run(client, server)
    assert client.result.time_offset == 1000
    assert server.result.time_offset == 0
    cids = [msg_id_of(flow.packets[f"c{i}"]) for i in (1, 2, 3)]
    sids = [msg_id_of(flow.packets[f"s{i}"]) for i in (1, 2, 3)]
    assert all(i % 4 == 0 for i in cids) and cids == sorted(set(cids))
    assert all(i % 4 == 1 for i in sids) and sids == sorted(set(sids))
    assert cids[0] >> 32 == 1_600_000_000
    assert cids[2] >> 32 == 1_600_001_000  # after server_DH_inner_data: server time
    assert sids[0] >> 32 == 1_600_001_000


def test_msg_ids_increase_even_if_the_clock_stands_still() -> None:
    key = server_key()
    client = ClientHandshake(dc=2, public_keys=[key.public_key], clock=lambda: 1_600_000_000.0)
    server = ServerHandshake(key, clock=lambda: 1_600_000_000.0)
    flow = run(client, server)
    ids = [msg_id_of(flow.packets[k]) for k in ("c1", "c2", "c3")]
    assert ids == sorted(set(ids))


def test_salt_is_new_nonce_xor_server_nonce() -> None:
    from test_handshake_support import new_nonce_from

    client, server = make_pair("salt")
    flow = run(client, server)
    nn = new_nonce_from(flow.packets["c2"])
    sn = tl.deserialize(body_of(flow.packets["s1"])).server_nonce
    expected = struct.unpack("<q", bytes(a ^ b for a, b in zip(nn[:8], sn[:8], strict=True)))[0]
    assert client.result.server_salt == expected == server_salt(nn, sn)


def test_generate_pq() -> None:
    rng = SeededRng("pq")
    for _ in range(200):
        p, q = generate_pq(rng)
        assert p < q and is_prime_u64(p) and is_prime_u64(q)
        assert 1 << 30 <= p and q < 1 << 32 and p * q < 1 << 63
        assert len((p * q).to_bytes(8, "big").lstrip(b"\0")) == 8


def test_api_misuse() -> None:
    key = server_key()
    with pytest.raises(InvalidArgument):
        ClientHandshake(dc=2, public_keys=[])
    with pytest.raises(InvalidType):
        ClientHandshake(dc=2, public_keys=[key])  # type: ignore[list-item]
    with pytest.raises(InvalidArgument):
        ClientHandshake(dc=2**31)
    with pytest.raises(InvalidArgument):
        ClientHandshake(dc=2, expires_in=0)
    with pytest.raises(InvalidArgument):
        ClientHandshake(dc=2, rsa_scheme="oaep")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        ServerHandshake([])
    with pytest.raises(InvalidType):
        ServerHandshake([key.public_key])  # type: ignore[list-item]
    with pytest.raises(InvalidArgument):
        ServerHandshake(key, g=2)  # Telegram's prime is 3 mod 8: g = 2 is not a generator
    client = ClientHandshake(dc=2, public_keys=[key.public_key])
    with pytest.raises(SessionError):
        client.receive(b"\0" * 40)
    with pytest.raises(SessionError):
        _ = client.result
    client.start()
    with pytest.raises(SessionError):
        client.start()
    client, server = make_pair("misuse")
    run(client, server)
    with pytest.raises(SessionError):
        client.receive(b"\0" * 40)


def test_failed_client_stays_failed() -> None:
    client, _ = make_pair("stay")
    client.start()
    with pytest.raises(HandshakeError):
        client.receive(b"garbage!")
    assert client.state == "failed"
    with pytest.raises(SessionError):
        client.receive(b"garbage!")


def test_no_secrets_in_reprs() -> None:
    client, server = make_pair("repr")
    run(client, server)
    key_hex = client.result.auth_key.key.hex()
    for text in (repr(client), repr(server), repr(client.result), repr(server_key())):
        assert key_hex[:16] not in text
        assert str(server_key()._d)[:20] not in text


@settings(max_examples=20)
@given(st.binary(max_size=600))
def test_garbage_to_either_side_raises_handshake_error(data: bytes) -> None:
    for packet in (data, pack_plain(5, data[: len(data) // 4 * 4])):
        c, s = make_pair("garbage")
        c.start()
        with pytest.raises(HandshakeError):
            c.receive(packet)
        with pytest.raises(HandshakeError):
            s.receive(packet)
