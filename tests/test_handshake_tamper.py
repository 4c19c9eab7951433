"""Every field of every handshake message tampered with, in each direction.

An honest run is stopped just before a message is delivered; the message is
changed -- in the clear, or inside its encrypted part by a man in the middle
who holds the server's private key and re-seals it with valid hashes -- and
the receiver must raise HandshakeError naming the check that caught it, and
refuse to go on.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable

import pytest
from conftest import load_vectors
from test_handshake_support import (
    advance,
    body_of,
    decode,
    encode,
    flip,
    inner_p_q,
    make_pair,
    msg_id_of,
    new_nonce_from,
    open_sealed,
    replace,
    seal,
    server_key,
)

from mtcrypt import tl
from mtcrypt.errors import HandshakeError
from mtcrypt.handshake import TELEGRAM_DH_PRIME
from mtcrypt.handshake.rsa import rsa_legacy_encrypt_with, rsa_pad_encrypt
from mtcrypt.mtproto import pack_plain

Packets = dict[str, bytes]
Mutator = Callable[[Packets], bytes]

P = TELEGRAM_DH_PRIME
LOW = 1 << 1984
NOT_SAFE = int(
    next(v for v in load_vectors("dh_primes.json")["vectors"] if v["name"] == "prime-not-safe")[
        "p"
    ],
    16,
)


def _be(x: int, n: int | None = None) -> bytes:
    return x.to_bytes(n or max(1, (x.bit_length() + 7) // 8), "big")


# -- generic edits -------------------------------------------------------------


def field(name: str, value: object, packet: str) -> Mutator:
    def mutate(p: Packets) -> bytes:
        return encode(replace(decode(p[packet]), **{name: value}), p[packet])

    return mutate


def flipped(name: str, packet: str, index: int = 0) -> Mutator:
    def mutate(p: Packets) -> bytes:
        obj = decode(p[packet])
        value = obj[name]
        if isinstance(value, int):
            return encode(replace(obj, **{name: value ^ 1}), p[packet])
        assert isinstance(value, bytes)
        return encode(replace(obj, **{name: flip(value, index)}), p[packet])

    return mutate


def edited(name: str, packet: str, edit: Callable[[bytes], bytes]) -> Mutator:
    def mutate(p: Packets) -> bytes:
        obj = decode(p[packet])
        return encode(replace(obj, **{name: edit(obj[name])}), p[packet])  # type: ignore[arg-type]

    return mutate


def other_object(packet: str, obj: tl.TLObject) -> Mutator:
    return lambda p: encode(obj, p[packet])


def raw_body(packet: str, edit: Callable[[bytes], bytes]) -> Mutator:
    return lambda p: pack_plain(msg_id_of(p[packet]), edit(body_of(p[packet])))


def header(packet: str, edit: Callable[[bytes], bytes]) -> Mutator:
    return lambda p: edit(p[packet])


def msg_id(packet: str, value: Callable[[int], int]) -> Mutator:
    return lambda p: pack_plain(value(msg_id_of(p[packet])), body_of(p[packet]))


# -- man in the middle: the encrypted parts ------------------------------------


def s2_inner(
    change: Callable[[tl.TLObject], tl.TLObject] = lambda o: o,
    *,
    raw: bytes | None = None,
    padding: bytes | None = None,
    bad_hash: bool = False,
) -> Mutator:
    def mutate(p: Packets) -> bytes:
        nn = new_nonce_from(p["c2"])
        s2 = decode(p["s2"])
        inner, _ = open_sealed(s2.encrypted_answer, s2.server_nonce, nn)
        data = tl.serialize(change(inner)) if raw is None else raw
        digest = (lambda d: hashlib.sha1(d + b"!").digest()) if bad_hash else None
        enc = seal(data, s2.server_nonce, nn, padding=padding, digest=digest)
        return encode(replace(s2, encrypted_answer=enc), p["s2"])

    return mutate


def c3_inner(
    change: Callable[[tl.TLObject], tl.TLObject] = lambda o: o,
    *,
    raw: bytes | None = None,
    padding: bytes | None = None,
    bad_hash: bool = False,
) -> Mutator:
    def mutate(p: Packets) -> bytes:
        nn = new_nonce_from(p["c2"])
        c3 = decode(p["c3"])
        inner, _ = open_sealed(c3.encrypted_data, c3.server_nonce, nn)
        data = tl.serialize(change(inner)) if raw is None else raw
        digest = (lambda d: hashlib.sha1(d + b"!").digest()) if bad_hash else None
        enc = seal(data, c3.server_nonce, nn, padding=padding, digest=digest)
        return encode(replace(c3, encrypted_data=enc), p["c3"])

    return mutate


def c2_inner(change: Callable[[tl.TLObject], tl.TLObject], *, legacy: bool = False) -> Mutator:
    def mutate(p: Packets) -> bytes:
        c2 = decode(p["c2"])
        data = tl.serialize(change(inner_p_q(p["c2"])))
        key = server_key().public_key
        if legacy:
            # A legacy block whose SHA-1 does not cover the data.
            enc = rsa_legacy_encrypt_with(data, key, bytes(235 - len(data)))
            block = bytearray(
                server_key().decrypt_int(int.from_bytes(enc, "big")).to_bytes(256, "big")
            )
            block[1] ^= 1
            enc = key.encrypt_int(int.from_bytes(block, "big")).to_bytes(256, "big")
        else:
            enc = rsa_pad_encrypt(data, key)
        return encode(replace(c2, encrypted_data=enc), p["c2"])

    return mutate


def retyped(name: str, **extra: object) -> Callable[[tl.TLObject], tl.TLObject]:
    def change(obj: tl.TLObject) -> tl.TLObject:
        fields: dict[str, object] = {
            k: v for k, v in obj.fields.items() if k not in ("dc", "expires_in")
        }
        fields.update(extra)
        return tl.TLObject(name, fields)  # type: ignore[arg-type]

    return change


def with_fields(**changes: object) -> Callable[[tl.TLObject], tl.TLObject]:
    return lambda obj: replace(obj, **changes)


def dh_gen_as(name: str, number: int) -> Mutator:
    """Turn dh_gen_ok into dh_gen_retry/fail keeping the (hash1) value."""

    def mutate(p: Packets) -> bytes:
        ok = decode(p["s3"])
        obj = tl.make(
            name,
            nonce=ok.nonce,
            server_nonce=ok.server_nonce,
            **{f"new_nonce_hash{number}": ok.new_nonce_hash1},
        )
        return encode(obj, p["s3"])

    return mutate


def params_fail_with_bad_hash(p: Packets) -> bytes:
    s2 = decode(p["s2"])
    nn = new_nonce_from(p["c2"])
    bad = hashlib.sha1(nn).digest()[4:20]
    obj = tl.make(
        "server_DH_params_fail",
        nonce=s2.nonce,
        server_nonce=s2.server_nonce,
        new_nonce_hash=flip(bad),
    )
    return encode(obj, p["s2"])


PING = tl.make("ping", ping_id=1)
N16 = bytes(16)

# (id, packet, mutator, expected check, server options)
CASES: list[tuple[str, str, Mutator, str, dict[str, object]]] = [
    # ---- client -> server: req_pq_multi
    ("c1-auth_key_id", "c1", header("c1", lambda b: b"\1" + b[1:]), "plain_message", {}),
    (
        "c1-length",
        "c1",
        header("c1", lambda b: b[:16] + struct.pack("<i", 24) + b[20:]),
        "plain_message",
        {},
    ),
    ("c1-short", "c1", header("c1", lambda b: b[:10]), "plain_message", {}),
    ("c1-msg_id-parity", "c1", msg_id("c1", lambda i: i | 1), "msg_id", {}),
    ("c1-msg_id-zero", "c1", msg_id("c1", lambda i: 0), "msg_id", {}),
    ("c1-constructor", "c1", other_object("c1", PING), "req_pq", {}),
    ("c1-truncated", "c1", raw_body("c1", lambda b: b[:-4]), "req_pq", {}),
    ("c1-trailing", "c1", raw_body("c1", lambda b: b + bytes(4)), "req_pq", {}),
    # ---- server -> client: resPQ
    ("s1-auth_key_id", "s1", header("s1", lambda b: b"\1" + b[1:]), "plain_message", {}),
    ("s1-msg_id-even", "s1", msg_id("s1", lambda i: i & ~3), "msg_id", {}),
    ("s1-constructor", "s1", other_object("s1", PING), "resPQ", {}),
    ("s1-truncated", "s1", raw_body("s1", lambda b: b[:-4]), "resPQ", {}),
    ("s1-trailing", "s1", raw_body("s1", lambda b: b + bytes(4)), "resPQ", {}),
    ("s1-nonce", "s1", flipped("nonce", "s1"), "nonce", {}),
    ("s1-nonce-last-byte", "s1", flipped("nonce", "s1", 15), "nonce", {}),
    ("s1-pq-prime", "s1", field("pq", _be(1_000_000_007), "s1"), "pq", {}),
    ("s1-pq-square", "s1", field("pq", _be(2_147_483_647**2), "s1"), "pq", {}),
    ("s1-pq-three-primes", "s1", field("pq", _be(3 * 1_000_003 * 1_000_033), "s1"), "pq", {}),
    ("s1-pq-even", "s1", field("pq", _be(2 * 2_147_483_647), "s1"), "pq", {}),
    ("s1-pq-leading-zero", "s1", edited("pq", "s1", lambda b: b"\0" + b), "pq", {}),
    ("s1-pq-too-long", "s1", field("pq", _be((1 << 64) + 1), "s1"), "pq", {}),
    ("s1-pq-empty", "s1", field("pq", b"", "s1"), "pq", {}),
    (
        "s1-fingerprints-none",
        "s1",
        field("server_public_key_fingerprints", [], "s1"),
        "fingerprint",
        {},
    ),
    (
        "s1-fingerprint-unknown",
        "s1",
        field("server_public_key_fingerprints", [12345], "s1"),
        "fingerprint",
        {},
    ),
    # ---- client -> server: req_DH_params
    ("c2-constructor", "c2", other_object("c2", PING), "req_DH_params", {}),
    ("c2-msg_id-parity", "c2", msg_id("c2", lambda i: i + 2), "msg_id", {}),
    ("c2-nonce", "c2", flipped("nonce", "c2"), "nonce", {}),
    ("c2-server_nonce", "c2", flipped("server_nonce", "c2"), "server_nonce", {}),
    ("c2-p", "c2", flipped("p", "c2", 3), "p_q", {}),
    ("c2-q", "c2", flipped("q", "c2", 3), "p_q", {}),
    ("c2-p-leading-zero", "c2", edited("p", "c2", lambda b: b"\0" + b), "p_q", {}),
    (
        "c2-p-q-swapped",
        "c2",
        lambda p: encode(
            replace(decode(p["c2"]), p=decode(p["c2"]).q, q=decode(p["c2"]).p), p["c2"]
        ),
        "p_q",
        {},
    ),
    ("c2-fingerprint", "c2", flipped("public_key_fingerprint", "c2"), "fingerprint", {}),
    ("c2-encrypted_data-bit", "c2", flipped("encrypted_data", "c2", 100), "rsa_padding", {}),
    (
        "c2-encrypted_data-short",
        "c2",
        edited("encrypted_data", "c2", lambda b: b[1:]),
        "encrypted_data",
        {},
    ),
    (
        "c2-encrypted_data-long",
        "c2",
        edited("encrypted_data", "c2", lambda b: b"\0" + b),
        "encrypted_data",
        {},
    ),
    (
        "c2-encrypted_data-above-n",
        "c2",
        field("encrypted_data", b"\xff" * 256, "c2"),
        "encrypted_data",
        {},
    ),
    ("c2-inner-nonce", "c2", c2_inner(with_fields(nonce=N16)), "nonce", {}),
    ("c2-inner-server_nonce", "c2", c2_inner(with_fields(server_nonce=N16)), "server_nonce", {}),
    ("c2-inner-pq", "c2", c2_inner(lambda o: replace(o, pq=flip(o.pq, 7))), "pq", {}),
    ("c2-inner-p", "c2", c2_inner(lambda o: replace(o, p=flip(o.p, 3))), "p_q", {}),
    ("c2-inner-q", "c2", c2_inner(lambda o: replace(o, q=flip(o.q, 3))), "p_q", {}),
    ("c2-inner-dc", "c2", c2_inner(with_fields(dc=4)), "dc", {"dc": 2}),
    (
        "c2-inner-expires_in-zero",
        "c2",
        c2_inner(retyped("p_q_inner_data_temp_dc", dc=2, expires_in=0)),
        "expires_in",
        {},
    ),
    (
        "c2-inner-expires_in-negative",
        "c2",
        c2_inner(retyped("p_q_inner_data_temp", expires_in=-5)),
        "expires_in",
        {},
    ),
    (
        "c2-inner-constructor",
        "c2",
        c2_inner(
            lambda o: tl.make(
                "resPQ",
                nonce=o.nonce,
                server_nonce=o.server_nonce,
                pq=o.pq,
                server_public_key_fingerprints=[],
            )
        ),
        "p_q_inner_data",
        {},
    ),
    ("c2-inner-legacy-bad-sha1", "c2", c2_inner(lambda o: o, legacy=True), "rsa_padding", {}),
    # ---- server -> client: server_DH_params_ok / _fail
    ("s2-constructor", "s2", other_object("s2", PING), "server_DH_params", {}),
    ("s2-nonce", "s2", flipped("nonce", "s2"), "nonce", {}),
    ("s2-server_nonce", "s2", flipped("server_nonce", "s2"), "server_nonce", {}),
    (
        "s2-encrypted_answer-length",
        "s2",
        edited("encrypted_answer", "s2", lambda b: b[:-1]),
        "encrypted_answer",
        {},
    ),
    (
        "s2-encrypted_answer-empty",
        "s2",
        field("encrypted_answer", b"", "s2"),
        "encrypted_answer",
        {},
    ),
    (
        "s2-encrypted_answer-last-byte",
        "s2",
        edited("encrypted_answer", "s2", lambda b: flip(b, len(b) - 1)),
        "answer_hash",
        {},
    ),
    (
        "s2-encrypted_answer-first-byte",
        "s2",
        flipped("encrypted_answer", "s2"),
        "server_DH_inner_data",
        {},
    ),
    ("s2-params_fail-bad-hash", "s2", params_fail_with_bad_hash, "new_nonce_hash", {}),
    ("s2-inner-hash", "s2", s2_inner(bad_hash=True), "answer_hash", {}),
    ("s2-inner-padding-16", "s2", s2_inner(padding=bytes(24)), "answer_padding", {}),
    (
        "s2-inner-constructor",
        "s2",
        s2_inner(lambda o: tl.make("ping", ping_id=7)),
        "server_DH_inner_data",
        {},
    ),
    ("s2-inner-garbage", "s2", s2_inner(raw=b"\x01\x02\x03\x04" * 20), "server_DH_inner_data", {}),
    ("s2-inner-nonce", "s2", s2_inner(with_fields(nonce=N16)), "nonce", {}),
    ("s2-inner-server_nonce", "s2", s2_inner(with_fields(server_nonce=N16)), "server_nonce", {}),
    ("s2-inner-g-2", "s2", s2_inner(with_fields(g=2)), "g", {}),
    ("s2-inner-g-5", "s2", s2_inner(with_fields(g=5)), "g", {}),
    ("s2-inner-g-8", "s2", s2_inner(with_fields(g=8)), "g", {}),
    ("s2-inner-g-1", "s2", s2_inner(with_fields(g=1)), "g", {}),
    (
        "s2-inner-dh_prime-composite",
        "s2",
        s2_inner(with_fields(dh_prime=_be(P + 6))),
        "dh_prime",
        {},
    ),
    (
        "s2-inner-dh_prime-not-safe",
        "s2",
        s2_inner(with_fields(dh_prime=_be(NOT_SAFE))),
        "dh_prime",
        {},
    ),
    ("s2-inner-dh_prime-short", "s2", s2_inner(with_fields(dh_prime=_be(P)[1:])), "dh_prime", {}),
    (
        "s2-inner-dh_prime-leading-zero",
        "s2",
        s2_inner(with_fields(dh_prime=b"\0" + _be(P))),
        "dh_prime",
        {},
    ),
    ("s2-inner-g_a-1", "s2", s2_inner(with_fields(g_a=_be(1))), "g_a", {}),
    ("s2-inner-g_a-p-1", "s2", s2_inner(with_fields(g_a=_be(P - 1))), "g_a", {}),
    ("s2-inner-g_a-below-range", "s2", s2_inner(with_fields(g_a=_be(LOW - 1))), "g_a", {}),
    ("s2-inner-g_a-above-range", "s2", s2_inner(with_fields(g_a=_be(P - LOW + 1))), "g_a", {}),
    (
        "s2-inner-g_a-too-long",
        "s2",
        s2_inner(lambda o: replace(o, g_a=b"\0" + o.g_a.rjust(256, b"\0"))),
        "g_a",
        {},
    ),
    # ---- client -> server: set_client_DH_params
    ("c3-constructor", "c3", other_object("c3", PING), "set_client_DH_params", {}),
    ("c3-nonce", "c3", flipped("nonce", "c3"), "nonce", {}),
    ("c3-server_nonce", "c3", flipped("server_nonce", "c3"), "server_nonce", {}),
    (
        "c3-encrypted_data-length",
        "c3",
        edited("encrypted_data", "c3", lambda b: b[:-1]),
        "encrypted_data",
        {},
    ),
    ("c3-encrypted_data-empty", "c3", field("encrypted_data", b"", "c3"), "encrypted_data", {}),
    (
        "c3-encrypted_data-last-byte",
        "c3",
        edited("encrypted_data", "c3", lambda b: flip(b, len(b) - 1)),
        "data_hash",
        {},
    ),
    (
        "c3-encrypted_data-first-byte",
        "c3",
        flipped("encrypted_data", "c3"),
        "client_DH_inner_data",
        {},
    ),
    ("c3-inner-hash", "c3", c3_inner(bad_hash=True), "data_hash", {}),
    ("c3-inner-padding-16", "c3", c3_inner(padding=bytes(28)), "data_padding", {}),
    (
        "c3-inner-constructor",
        "c3",
        c3_inner(lambda o: tl.make("ping", ping_id=7)),
        "client_DH_inner_data",
        {},
    ),
    ("c3-inner-nonce", "c3", c3_inner(with_fields(nonce=N16)), "nonce", {}),
    ("c3-inner-server_nonce", "c3", c3_inner(with_fields(server_nonce=N16)), "server_nonce", {}),
    ("c3-inner-retry_id", "c3", c3_inner(with_fields(retry_id=1)), "retry_id", {}),
    ("c3-inner-g_b-1", "c3", c3_inner(with_fields(g_b=_be(1))), "g_b", {}),
    ("c3-inner-g_b-p-1", "c3", c3_inner(with_fields(g_b=_be(P - 1))), "g_b", {}),
    ("c3-inner-g_b-below-range", "c3", c3_inner(with_fields(g_b=_be(LOW - 1))), "g_b", {}),
    ("c3-inner-g_b-above-range", "c3", c3_inner(with_fields(g_b=_be(P - LOW + 1))), "g_b", {}),
    (
        "c3-inner-g_b-too-long",
        "c3",
        c3_inner(lambda o: replace(o, g_b=b"\0" + o.g_b.rjust(256, b"\0"))),
        "g_b",
        {},
    ),
    # ---- server -> client: dh_gen_*
    ("s3-constructor", "s3", other_object("s3", PING), "dh_gen", {}),
    ("s3-nonce", "s3", flipped("nonce", "s3"), "nonce", {}),
    ("s3-server_nonce", "s3", flipped("server_nonce", "s3"), "server_nonce", {}),
    ("s3-new_nonce_hash1", "s3", flipped("new_nonce_hash1", "s3"), "new_nonce_hash", {}),
    (
        "s3-new_nonce_hash1-last-byte",
        "s3",
        flipped("new_nonce_hash1", "s3", 15),
        "new_nonce_hash",
        {},
    ),
    ("s3-ok-as-retry", "s3", dh_gen_as("dh_gen_retry", 2), "new_nonce_hash", {}),
    ("s3-ok-as-fail", "s3", dh_gen_as("dh_gen_fail", 3), "new_nonce_hash", {}),
    ("s3-msg_id-even", "s3", msg_id("s3", lambda i: i + 1), "msg_id", {}),
]


@pytest.mark.parametrize(
    ("packet", "mutate", "check", "server_kwargs"),
    [pytest.param(c[1], c[2], c[3], c[4], id=c[0]) for c in CASES],
)
def test_tampered_field_is_caught(
    packet: str, mutate: Mutator, check: str, server_kwargs: dict[str, object]
) -> None:
    client, server = make_pair(("tamper", packet), server_kwargs=server_kwargs)
    packets = advance(client, server, packet)
    bad = mutate(packets)
    assert bad != packets[packet]
    receiver = server if packet.startswith("c") else client
    with pytest.raises(HandshakeError) as err:
        receiver.receive(bad)
    assert err.value.check == check, str(err.value)
    assert receiver.state == "failed"
    # No secret in the message: neither new_nonce nor anything derived is printed.
    if packet != "c1" and packet != "s1":
        nn = new_nonce_from(packets["c2"]) if "c2" in packets else b""
        if nn:
            assert nn.hex()[:12] not in str(err.value)


def test_every_message_and_direction_is_covered() -> None:
    packets = {c[1] for c in CASES}
    assert packets == {"c1", "c2", "c3", "s1", "s2", "s3"}
    checks = {c[3] for c in CASES}
    assert {
        "nonce",
        "server_nonce",
        "pq",
        "p_q",
        "fingerprint",
        "rsa_padding",
        "encrypted_data",
        "answer_hash",
        "answer_padding",
        "dh_prime",
        "g",
        "g_a",
        "g_b",
        "retry_id",
        "data_hash",
        "data_padding",
        "new_nonce_hash",
        "expires_in",
        "dc",
    } <= checks


def test_untampered_runs_complete() -> None:
    """The control: the same seeds without tampering succeed."""
    for packet in ("c1", "s1", "c2", "s2", "c3", "s3"):
        client, server = make_pair(("tamper", packet))
        packets = advance(client, server, packet)
        receiver = server if packet.startswith("c") else client
        receiver.receive(packets[packet])
