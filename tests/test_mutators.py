"""Every mutator's output is refused by mtcrypt's own implementation, by the
check the mutator targets (a regression suite for those checks).

* record layer: ``decrypt_message`` raises the one ``DecryptionFailed`` for
  every wire mutation and for every authentic length/padding attack (whose
  msg_key is shown to be valid, so only the post-MAC checks can catch it);
* session fields: ``Session.receive`` drops the message with the named reason;
* handshake: ``ClientHandshake`` (against the adversarial server's plans) and
  ``ServerHandshake`` (against mutated client messages) raise
  ``HandshakeError`` naming the check;
* transport: the codecs, the header check and the fake-TLS checks refuse.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from collections.abc import Callable
from typing import Any

import pytest
from Crypto.Util.number import isPrime

from mtcrypt import tl
from mtcrypt.crypto import ige256_decrypt
from mtcrypt.errors import DecryptionFailed, HandshakeError, InvalidArgument, TransportError
from mtcrypt.handshake import (
    TELEGRAM_DH_PRIME,
    ClientHandshake,
    ServerHandshake,
    check_dh_params,
    int_to_be,
    is_safe_prime,
)
from mtcrypt.handshake.dh import g_is_valid_for
from mtcrypt.handshake.rsa import RsaPrivateKey, rsa_pad_decrypt, rsa_pad_encrypt
from mtcrypt.mtproto import (
    AuthKey,
    DropReason,
    InnerMessage,
    MessageDropped,
    Role,
    Session,
    decrypt_message,
    encrypt_message,
    kdf2,
    pack_plain,
    unpack_plain,
)
from mtcrypt.testing import mutators as m
from mtcrypt.testing.conformance import MUTATIONS, AdversarialHandshake, Evidence
from mtcrypt.transport import (
    ClientTransport,
    FakeTlsPolicy,
    FullCodec,
    ServerTransport,
    is_forbidden_header,
    make_codec,
)
from mtcrypt.transport.events import Framing
from mtcrypt.transport.faketls import (
    build_client_hello,
    build_server_hello,
    check_client_hello,
    verify_server_hello,
)

KEY = AuthKey(bytes(range(256)))
SESSION = 0x1122334455667788
NOW = 1_700_000_000.0
ACK = tl.serialize(tl.make("msgs_ack", msg_ids=[]))  # needs no reference: a neutral body


def server_id(t: float = NOW, offset: int = 0) -> int:
    return ((int(t * 2**32) & ~3) + 4 * offset) | 1


def message(body: bytes = ACK, **fields: Any) -> InnerMessage:
    base = InnerMessage(salt=5, session_id=SESSION, msg_id=server_id(), seq_no=2, body=body)
    return dataclasses.replace(base, **fields)


def client() -> Session:
    return Session(KEY, Role.CLIENT, session_id=SESSION, salt=5, clock=lambda: NOW, time_offset=0.0)


def seal(msg: InnerMessage) -> bytes:
    return encrypt_message(KEY, msg.pack(), from_server=True)


def drops(session: Session, packet: bytes) -> list[DropReason]:
    return [e.reason for e in session.receive(packet) if isinstance(e, MessageDropped)]


def test_the_honest_packet_is_accepted() -> None:
    assert drops(client(), seal(message())) == []


# ---- record layer: wire attacker ----------------------------------------------------

WIRE: dict[str, Callable[[bytes], bytes]] = {
    "flip_msg_key": lambda p: m.flip_msg_key(p, 5),
    "flip_auth_key_id": lambda p: m.flip_auth_key_id(p, 9),
    "flip_bit_ciphertext": lambda p: m.flip_bit(p, 8 * 40 + 3),
    "flip_bit_last": lambda p: m.flip_bit(p, 8 * len(p) - 1),
    "truncate_block": lambda p: m.truncate(p, 16),
    "truncate_partial": lambda p: m.truncate(p, 4),
    "extend_block": lambda p: m.extend(p, bytes(16)),
    "extend_partial": lambda p: m.extend(p, bytes(4)),
}


@pytest.mark.parametrize("name", sorted(WIRE))
def test_wire_mutations_fail_decryption(name: str) -> None:
    packet = WIRE[name](seal(message()))
    with pytest.raises(DecryptionFailed):
        decrypt_message(KEY, packet, from_server=True)
    with pytest.raises(DecryptionFailed):
        client().receive(packet)


def _open_with_own_msg_key(packet: bytes) -> bytes:
    """Decrypt with the packet's own msg_key as KDF input (no check at all)."""
    aes_key, aes_iv = kdf2(KEY, packet[8:24], from_server=True)
    return ige256_decrypt(packet[24:], aes_key, aes_iv)


def test_forged_msg_key_hides_a_well_formed_plaintext() -> None:
    padded = message().pack() + bytes(20)
    packet = m.forge_msg_key(KEY, padded, from_server=True)
    assert _open_with_own_msg_key(packet) == padded  # a pre-MAC parser sees a valid message
    assert packet[8:24] != m.msg_key_for(KEY, padded, from_server=True)
    with pytest.raises(DecryptionFailed):
        decrypt_message(KEY, packet, from_server=True)
    with pytest.raises(InvalidArgument):
        m.forge_msg_key(KEY, padded, from_server=True, msg_key=packet[8:24][:8])


# ---- record layer: authentic length and padding attacks (C3) ---------------------------

AUTHENTIC = {
    "padding_too_long": m.padding_too_long,
    "padding_too_short": m.padding_too_short,
    "length_not_multiple_of_4": m.length_not_multiple_of_4,
    "length_exceeds_plaintext": m.length_exceeds_plaintext,
    "length_negative": m.length_negative,
}


@pytest.mark.parametrize("name", sorted(AUTHENTIC))
def test_authentic_length_attacks_fail_after_the_mac(name: str) -> None:
    packet = AUTHENTIC[name](KEY, message(), from_server=True)
    plain = _open_with_own_msg_key(packet)
    assert packet[8:24] == m.msg_key_for(KEY, plain, from_server=True)  # the MAC is valid
    (length,) = struct.unpack_from("<i", plain, 28)
    padding = len(plain) - 32 - length
    assert (
        length % 4 != 0 or length < 0 or padding < 0 or not 12 <= padding <= 1024
    )  # exactly one of the post-MAC checks is violated
    with pytest.raises(DecryptionFailed):
        decrypt_message(KEY, packet, from_server=True)


def test_padding_too_short_needs_room() -> None:
    pong = tl.serialize(tl.make("pong", msg_id=1, ping_id=2))  # 20 bytes: exactly 12 left
    with pytest.raises(InvalidArgument):
        m.padding_too_short(KEY, message(pong), from_server=True)


def test_length_short_of_body_passes_decryption_and_fails_the_parse() -> None:
    packet = m.length_short_of_body(KEY, message(), from_server=True)
    decrypt_message(KEY, packet, from_server=True)  # length and padding checks pass
    assert drops(client(), packet) == [DropReason.MALFORMED]


def test_seal_raw_and_seal_with_are_authentic() -> None:
    padded = message().pack() + bytes(20)
    assert decrypt_message(KEY, m.seal_raw(KEY, padded, from_server=True), from_server=True)
    honest = m.seal_with(KEY, message(), from_server=True)
    assert decrypt_message(KEY, honest, from_server=True) == message().pack()
    with pytest.raises(InvalidArgument):
        m.seal_with(KEY, message(), from_server=True, padding=13)


# ---- session fields (C7, C9) -------------------------------------------------------------


def test_other_session_id() -> None:
    msg = message(session_id=m.other_session_id(SESSION))
    assert drops(client(), seal(msg)) == [DropReason.SESSION_MISMATCH]


def test_wrong_parity_msg_id() -> None:
    msg = message(msg_id=m.wrong_parity_msg_id(server_id(), from_server=True))
    assert drops(client(), seal(msg)) == [DropReason.BAD_MSG_ID]
    assert m.wrong_parity_msg_id(8, from_server=False) % 4 == 1


def test_too_old_and_too_new_msg_ids() -> None:
    old = message(msg_id=m.too_old_msg_id(NOW, from_server=True))
    new = message(msg_id=m.too_new_msg_id(NOW, from_server=True))
    assert drops(client(), seal(old)) == [DropReason.TOO_OLD]
    assert drops(client(), seal(new)) == [DropReason.TOO_NEW]


def test_reused_msg_id() -> None:
    session = client()
    first = message()
    assert drops(session, seal(first)) == []
    again = m.reuse_msg_id(message(body=ACK, seq_no=4), first.msg_id)
    assert drops(session, seal(again)) == [DropReason.DUPLICATE]


def test_below_a_full_window() -> None:
    session = client()
    container_id = server_id(offset=5000)
    body, ids = m.window_filler(server_id(), 1020, container_msg_id=container_id, from_server=True)
    filler = message(body, msg_id=container_id, seq_no=0)
    assert drops(session, seal(filler)) == []
    low = message(msg_id=m.below_window_msg_id(ids), seq_no=0)
    assert drops(session, seal(low)) == [DropReason.BELOW_WINDOW]
    with pytest.raises(InvalidArgument):
        m.window_filler(server_id(), 2000, container_msg_id=container_id, from_server=True)


def test_unsolicited_bad_server_salt_is_not_adopted() -> None:
    session = client()
    notice = m.unsolicited_bad_server_salt(bad_msg_id=12345 * 4, new_salt=99)
    assert drops(session, seal(message(notice, seq_no=1))) == [DropReason.UNKNOWN_REFERENCE]
    assert session.salt == 5


def test_other_salt_is_refused_by_a_server_enforcing_salts() -> None:
    server = Session(KEY, Role.SERVER, salt=5, check_salt=True, clock=lambda: NOW)
    ping = tl.serialize(tl.make("ping", ping_id=1))
    msg = InnerMessage(m.other_salt(5), SESSION, int(NOW * 2**32) & ~3, 1, ping)
    packet = encrypt_message(KEY, msg.pack(), from_server=False)
    assert [e.reason for e in server.receive(packet) if isinstance(e, MessageDropped)] == [
        DropReason.BAD_SALT
    ]


# ---- handshake: the adversarial server against ClientHandshake -------------------------------

CLIENT_CHECKS: list[tuple[str, dict[str, object], str | None]] = [
    ("handshake_honest", {}, None),
    ("res_pq_nonce", {}, "nonce"),
    ("res_pq_unknown_fingerprints", {}, "fingerprint"),
    ("dh_params_nonce", {"field": "nonce"}, "nonce"),
    ("dh_params_nonce", {"field": "server_nonce"}, "server_nonce"),
    ("dh_inner_nonce", {"field": "nonce"}, "nonce"),
    ("dh_inner_nonce", {"field": "server_nonce"}, "server_nonce"),
    ("dh_answer_hash", {}, "answer_hash"),
    ("dh_answer_padding", {"length": 16}, "answer_padding"),
    ("dh_answer_padding", {"length": 40}, "answer_padding"),
    ("dh_answer_misaligned", {}, "encrypted_answer"),
    ("dh_prime", {"prime": "non_safe"}, "dh_prime"),
    ("dh_prime", {"prime": "short"}, "dh_prime"),
    ("dh_generator", {}, "g"),
    ("dh_generator", {"g": 1}, "g"),
    ("g_a_out_of_range", {"value": "zero"}, "g_a"),
    ("g_a_out_of_range", {"value": "one"}, "g_a"),
    ("g_a_out_of_range", {"value": "p-1"}, "g_a"),
    ("g_a_out_of_range", {"value": "below"}, "g_a"),
    ("g_a_out_of_range", {"value": "above"}, "g_a"),
    ("dh_gen", {"answer": "ok", "bad_hash": True}, "new_nonce_hash"),
    ("dh_gen", {"answer": "ok", "field": "nonce"}, "nonce"),
    ("dh_gen", {"answer": "ok", "field": "server_nonce"}, "server_nonce"),
    ("dh_gen", {"answer": "fail"}, "dh_gen_fail"),
    ("dh_gen", {"answer": "retry"}, None),
    ("dh_gen", {"answer": "retry", "bad_hash": True}, "new_nonce_hash"),
    ("dh_params_fail", {}, "server_DH_params_fail"),
    ("dh_params_fail", {"bad_hash": True}, "new_nonce_hash"),
]


@pytest.mark.parametrize(
    ("kind", "params", "check"), CLIENT_CHECKS, ids=[f"{k}-{c}" for k, _, c in CLIENT_CHECKS]
)
def test_client_handshake_refuses_each_plan(
    server_key: RsaPrivateKey, kind: str, params: dict[str, object], check: str | None
) -> None:
    plan = MUTATIONS[kind].build(**params)
    evidence = Evidence()
    server = AdversarialHandshake(server_key, plan, evidence)
    hs = ClientHandshake(dc=2, public_keys=[server_key.public_key])
    packet: bytes | None = hs.start()
    if check is None:
        while packet is not None:
            packet = hs.receive(server.receive(packet))
        assert hs.result.auth_key == evidence.keys[-1]
        return
    with pytest.raises(HandshakeError) as caught:
        while packet is not None:
            packet = hs.receive(server.receive(packet))
    assert caught.value.check == check
    assert hs.state == "failed"
    if plan.step == "server_DH_params":  # refused before computing g_b
        assert "set_client_DH_params" not in evidence.handshake_steps


def test_dh_parameter_constants() -> None:
    p = m.NON_SAFE_PRIME
    assert p.bit_length() == 2048 and isPrime(p) and not isPrime((p - 1) // 2)
    assert g_is_valid_for(3, p) and not is_safe_prime(p)
    short = m.SHORT_SAFE_PRIME
    assert short.bit_length() == 1024 and isPrime(short) and isPrime((short - 1) // 2)
    for g, prime, check in (
        (3, p, "dh_prime"),
        (2, short, "dh_prime"),
        (2, TELEGRAM_DH_PRIME, "g"),
    ):
        with pytest.raises(HandshakeError) as caught:
            check_dh_params(g, prime)
        assert caught.value.check == check
    assert m.non_residue_generator() == 2
    assert m.dh_value_out_of_range("p-1", 23) == 22
    with pytest.raises(InvalidArgument):
        m.dh_value_out_of_range("two")  # type: ignore[arg-type]


# ---- handshake: mutated client messages against ServerHandshake -------------------------------


def _obj(packet: bytes) -> tl.TLObject:
    return tl.deserialize(unpack_plain(packet)[1])


def _repack(packet: bytes, obj: tl.TLObject) -> bytes:
    return pack_plain(unpack_plain(packet)[0], tl.serialize(obj))


def _to_req_dh(server_key: RsaPrivateKey) -> tuple[ClientHandshake, ServerHandshake, bytes]:
    hs = ClientHandshake(dc=2, public_keys=[server_key.public_key])
    server = ServerHandshake(server_key)
    req = hs.receive(server.receive(hs.start()))
    assert req is not None
    return hs, server, req


def _inner_of(req: bytes, server_key: RsaPrivateKey) -> tl.TLObject:
    data = rsa_pad_decrypt(_obj(req).encrypted_data, server_key)
    return tl.read_object(tl.Reader(data))


REQ_DH: dict[str, tuple[Callable[[tl.TLObject], tl.TLObject], str]] = {
    "nonce": (m.wrong_nonce, "nonce"),
    "server_nonce": (m.wrong_server_nonce, "server_nonce"),
    "fingerprint": (
        lambda o: m.tl_replace(o, public_key_fingerprint=o.public_key_fingerprint ^ 1),
        "fingerprint",
    ),
    "p_q": (lambda o: m.tl_replace(o, p=o.q, q=o.p), "p_q"),
}


@pytest.mark.parametrize("name", sorted(REQ_DH))
def test_server_refuses_mutated_req_dh_params(server_key: RsaPrivateKey, name: str) -> None:
    _, server, req = _to_req_dh(server_key)
    mutate, check = REQ_DH[name]
    with pytest.raises(HandshakeError) as caught:
        server.receive(_repack(req, mutate(_obj(req))))
    assert caught.value.check == check


def test_server_refuses_a_wrong_nonce_inside_rsa(server_key: RsaPrivateKey) -> None:
    _, server, req = _to_req_dh(server_key)
    inner = m.wrong_nonce(_inner_of(req, server_key))
    encrypted = rsa_pad_encrypt(tl.serialize(inner), server_key.public_key)
    with pytest.raises(HandshakeError) as caught:
        server.receive(_repack(req, m.tl_replace(_obj(req), encrypted_data=encrypted)))
    assert caught.value.check == "nonce"


CLIENT_DH: dict[str, tuple[Callable[[tl.TLObject], tl.TLObject], bool, str]] = {
    "bad_sha1": (lambda o: o, True, "data_hash"),
    "nonce": (m.wrong_nonce, False, "nonce"),
    "g_b_one": (
        lambda o: m.tl_replace(o, g_b=int_to_be(m.dh_value_out_of_range("one"))),
        False,
        "g_b",
    ),
    "g_b_p-1": (
        lambda o: m.tl_replace(o, g_b=int_to_be(m.dh_value_out_of_range("p-1"))),
        False,
        "g_b",
    ),
    "g_b_below": (
        lambda o: m.tl_replace(o, g_b=int_to_be(m.dh_value_out_of_range("below"))),
        False,
        "g_b",
    ),
    "retry_id": (lambda o: m.tl_replace(o, retry_id=1), False, "retry_id"),
}


@pytest.mark.parametrize("name", sorted(CLIENT_DH))
def test_server_refuses_mutated_client_dh_inner_data(server_key: RsaPrivateKey, name: str) -> None:
    hs, server, req = _to_req_dh(server_key)
    new_nonce = _inner_of(req, server_key).new_nonce
    final = hs.receive(server.receive(req))
    assert final is not None
    outer = _obj(final)
    _, rest = m.open_answer(outer.encrypted_data, outer.server_nonce, new_nonce)
    reader = tl.Reader(rest)
    inner = tl.read_object(reader)
    mutate, bad_hash, check = CLIENT_DH[name]
    data = tl.serialize(mutate(inner))
    sealed = m.seal_answer(
        data, outer.server_nonce, new_nonce, digest=m.bad_sha1(data) if bad_hash else None
    )
    with pytest.raises(HandshakeError) as caught:
        server.receive(_repack(final, m.tl_replace(outer, encrypted_data=sealed)))
    assert caught.value.check == check


def test_tl_replace_refuses_unknown_fields() -> None:
    with pytest.raises(InvalidArgument):
        m.tl_replace(tl.make("ping", ping_id=1), pong_id=2)


def test_seal_answer_round_trips() -> None:
    answer, sn, nn = b"\x01" * 40, b"s" * 16, b"n" * 32
    digest, rest = m.open_answer(m.seal_answer(answer, sn, nn), sn, nn)
    assert digest == hashlib.sha1(answer).digest() and rest[:40] == answer


# ---- transport (T1-T3) ----------------------------------------------------------------------

PAYLOAD = bytes(8) + bytes(range(1, 9)) + struct.pack("<i", 4) + b"\x01\x02\x03\x04"


def test_bad_crc() -> None:
    frame = FullCodec("server").encode(PAYLOAD)
    with pytest.raises(TransportError, match="CRC"):
        FullCodec("client").feed(m.bad_crc(frame))


def test_with_seqno_keeps_a_valid_crc() -> None:
    frame = FullCodec("server").encode(PAYLOAD)
    assert FullCodec("client").feed(m.with_seqno(frame, 0))  # renumbered to itself: fine
    with pytest.raises(TransportError, match="seqno"):
        FullCodec("client").feed(m.with_seqno(frame, 1))


@pytest.mark.parametrize("framing", list(Framing))
def test_oversized_length(framing: Framing) -> None:
    for side in ("client", "server"):
        with pytest.raises(TransportError):
            make_codec(framing, side).feed(m.oversized_length(framing))


@pytest.mark.parametrize("name", sorted(m.FORBIDDEN_PREFIXES))
def test_forbidden_headers(name: str) -> None:
    header = m.forbidden_header(name)
    assert len(header) == 64 and is_forbidden_header(header)
    with pytest.raises(InvalidArgument):
        m.forbidden_header("nope")


SECRET = "ee" + "33" * 16 + b"example.com".hex()


def test_bad_server_hello_hmac() -> None:
    key = bytes([0x33]) * 16
    random_ = build_client_hello(key, "example.com", int(NOW)).random
    answer = build_server_hello(key, random_, bytes(32))
    assert verify_server_hello(answer, key, random_)
    assert not verify_server_hello(m.bad_hello_hmac(answer), key, random_)
    client_side = ClientTransport(secret=SECRET, dc_id=2)
    server_side = ServerTransport(secrets=[SECRET])
    server_side.receive(client_side.data_to_send())
    with pytest.raises(TransportError):
        client_side.receive(m.bad_hello_hmac(server_side.data_to_send()))


def test_bad_client_hello_hmac() -> None:
    key = bytes([0x33]) * 16
    record = build_client_hello(key, "example.com", int(NOW)).record
    policy = FakeTlsPolicy()
    assert check_client_hello(record, [key], now=NOW, policy=policy).key_index == 0
    with pytest.raises(TransportError):
        check_client_hello(m.bad_hello_hmac(record), [key], now=NOW, policy=policy)
