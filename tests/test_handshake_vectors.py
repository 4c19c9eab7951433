"""Published handshake data replayed through the deterministic paths.

* auth_key_sample.json: the official samples page (2025 and 2024 versions),
  replayed through ClientHandshake's twins: every client message is compared
  byte for byte, except RSA_PAD's ciphertext whose temp_key the page does not
  publish (it is checked against RSA_PAD with the page's data and padding
  instead), and the key, salt and hashes must come out as printed;
* auth_key_flow_grammers.json: grammers' recorded flow (legacy RSA, no dc),
  every client message byte for byte;
* auth_key_helpers.json, rsa_fingerprints.json, rsa_encrypt_legacy.json,
  dh_primes.json: the building blocks.
"""

from __future__ import annotations

import struct

import pytest
from conftest import load_vectors
from test_handshake_support import SeededRng, Tape, body_of

from mtcrypt import tl
from mtcrypt.errors import HandshakeError
from mtcrypt.handshake import (
    TELEGRAM_DH_PRIME,
    TELEGRAM_PRODUCTION_KEYS,
    TELEGRAM_TEST_KEYS,
    ClientHandshake,
    DhPrimeCache,
    ServerHandshake,
    check_dh_params,
    is_safe_prime,
    load_private_key,
    load_public_key,
    new_nonce_hash,
    tmp_aes_key_iv,
)
from mtcrypt.handshake.dh import g_is_valid_for
from mtcrypt.handshake.rsa import (
    TELEGRAM_PRODUCTION_PEM,
    TELEGRAM_TEST_PEM,
    RsaPublicKey,
    rsa_legacy_encrypt_with,
    rsa_pad_encrypt_with,
    telegram_fingerprint,
)
from mtcrypt.mtproto import AuthKey, pack_plain

SAMPLES = load_vectors("auth_key_sample.json")["vectors"]
GRAMMERS = load_vectors("auth_key_flow_grammers.json")["vectors"][0]
HELPERS = load_vectors("auth_key_helpers.json")["vectors"]
FINGERPRINTS = load_vectors("rsa_fingerprints.json")["vectors"]
LEGACY = load_vectors("rsa_encrypt_legacy.json")["vectors"]
PRIMES = load_vectors("dh_primes.json")["vectors"]


def h(x: str) -> bytes:
    return bytes.fromhex(x)


def le_id(x: str) -> int:
    return int.from_bytes(h(x), "little")


class Recorder:
    """Tape first, then a seeded stream; remembers what it handed out."""

    def __init__(self, tape: bytes) -> None:
        self.tape = Tape(tape)
        self.more = SeededRng("after-tape")
        self.draws: list[bytes] = []

    def __call__(self, n: int) -> bytes:
        if self.tape.pos + n <= len(self.tape.data):
            out = self.tape(n)
        else:
            assert self.tape.pos == len(self.tape.data), "a draw straddles the tape's end"
            out = self.more(n)
        self.draws.append(out)
        return out


@pytest.mark.parametrize("v", SAMPLES, ids=[v["name"] for v in SAMPLES])
def test_official_sample_replays_through_the_client(v: dict) -> None:  # type: ignore[type-arg]
    ids = {k: le_id(x) for k, x in v["message_ids"].items()}
    key = load_public_key(v["server_public_key"]["pem"])
    assert key.fingerprint == v["chosen_fingerprint"]
    now = float(v["server_time"])
    client = ClientHandshake(dc=v["dc"], public_keys=TELEGRAM_PRODUCTION_KEYS)

    c1 = client.start_with(Tape(h(v["nonce"])), now)
    assert body_of(c1) == bytes.fromhex("f18e7ebe") + h(v["nonce"])

    res_pq = tl.make(
        "resPQ",
        nonce=h(v["nonce"]),
        server_nonce=h(v["server_nonce"]),
        pq=h(v["pq"]),
        server_public_key_fingerprints=v["server_public_key_fingerprints"],
    )
    rng = Recorder(h(v["new_nonce"]) + h(v["random_padding_bytes"]))
    c2 = client.receive_with(pack_plain(ids["resPQ_msg_id"], tl.serialize(res_pq)), rng, now)
    assert c2 is not None
    req = tl.deserialize(body_of(c2))
    assert req.name == "req_DH_params"
    assert (req.nonce, req.server_nonce) == (h(v["nonce"]), h(v["server_nonce"]))
    assert (req.p, req.q) == (h(v["p"]), h(v["q"]))
    assert req.public_key_fingerprint == v["chosen_fingerprint"]
    # RSA_PAD over exactly the page's p_q_inner_data and padding, with the temp_key(s) drawn.
    temp_keys = rng.draws[2:]
    expected = None
    for temp_key in temp_keys:
        expected = rsa_pad_encrypt_with(
            h(v["p_q_inner_data"]), key, h(v["random_padding_bytes"]), temp_key
        )
    assert expected is not None and req.encrypted_data == expected

    ok = tl.make(
        "server_DH_params_ok",
        nonce=h(v["nonce"]),
        server_nonce=h(v["server_nonce"]),
        encrypted_answer=h(v["encrypted_answer"]),
    )
    c3 = client.receive_with(
        pack_plain(ids["server_DH_params_ok_msg_id"], tl.serialize(ok)),
        Tape(h(v["b"]) + h(v["client_padding"])),
        now,
    )
    assert c3 is not None
    set_params = tl.deserialize(body_of(c3))
    assert set_params.encrypted_data == h(v["client_encrypted_data"])
    assert body_of(c3) == tl.serialize(
        tl.make(
            "set_client_DH_params",
            nonce=h(v["nonce"]),
            server_nonce=h(v["server_nonce"]),
            encrypted_data=h(v["client_encrypted_data"]),
        )
    )

    gen = tl.make(
        "dh_gen_ok",
        nonce=h(v["nonce"]),
        server_nonce=h(v["server_nonce"]),
        new_nonce_hash1=h(v["new_nonce_hash1"]),
    )
    assert (
        client.receive_with(pack_plain(ids["dh_gen_ok_msg_id"], tl.serialize(gen)), Tape(b""), now)
        is None
    )
    result = client.result
    assert result.auth_key.key == h(v["auth_key"])
    assert result.auth_key.key_id_bytes == h(v["auth_key_id_derived"])
    assert result.auth_key.aux_hash == h(v["auth_key_aux_hash_derived"])
    assert struct.pack("<q", result.server_salt) == h(v["server_salt_derived"])
    assert result.time_offset == 0
    assert result.inner_data == "p_q_inner_data_dc"


@pytest.mark.parametrize("v", SAMPLES, ids=[v["name"] for v in SAMPLES])
def test_official_sample_rejects_a_wrong_hash(v: dict) -> None:  # type: ignore[type-arg]
    """The same replay, with dh_gen_ok's hash presented as dh_gen_retry's."""
    now = float(v["server_time"])
    client = ClientHandshake(dc=v["dc"])
    client.start_with(Tape(h(v["nonce"])), now)
    res_pq = tl.make(
        "resPQ",
        nonce=h(v["nonce"]),
        server_nonce=h(v["server_nonce"]),
        pq=h(v["pq"]),
        server_public_key_fingerprints=v["server_public_key_fingerprints"],
    )
    client.receive_with(
        pack_plain(1, tl.serialize(res_pq)),
        Recorder(h(v["new_nonce"]) + h(v["random_padding_bytes"])),
        now,
    )
    ok = tl.make(
        "server_DH_params_ok",
        nonce=h(v["nonce"]),
        server_nonce=h(v["server_nonce"]),
        encrypted_answer=h(v["encrypted_answer"]),
    )
    client.receive_with(
        pack_plain(5, tl.serialize(ok)), Tape(h(v["b"]) + h(v["client_padding"])), now
    )
    retry = tl.make(
        "dh_gen_retry",
        nonce=h(v["nonce"]),
        server_nonce=h(v["server_nonce"]),
        new_nonce_hash2=h(v["new_nonce_hash1"]),
    )
    with pytest.raises(HandshakeError) as err:
        client.receive_with(pack_plain(9, tl.serialize(retry)), Tape(b""), now)
    assert err.value.check == "new_nonce_hash"


def test_grammers_flow_replays_byte_for_byte() -> None:
    v = GRAMMERS
    msgs = {k: h(x) for k, x in v["messages"].items()}
    inputs = v["inputs"]
    key = RsaPublicKey(int(v["derived"]["rsa_n"], 16), v["derived"]["rsa_e"])
    assert key.fingerprint == v["derived"]["chosen_fingerprint"]
    now = float(inputs["step3_now"])
    client = ClientHandshake(dc=None, public_keys=[key], rsa_scheme="legacy")

    c1 = client.start_with(Tape(h(inputs["step1_random"])), now)
    assert body_of(c1) == msgs["step1_request"]
    c2 = client.receive_with(
        pack_plain(1, msgs["step1_response"]), Tape(h(inputs["step2_random"])), now
    )
    assert c2 is not None and body_of(c2) == msgs["step2_request"]
    c3 = client.receive_with(
        pack_plain(5, msgs["step2_response"]), Tape(h(inputs["step3_random"])), now
    )
    assert c3 is not None and body_of(c3) == msgs["step3_request"]
    assert client.receive_with(pack_plain(9, msgs["step3_response"]), Tape(b""), now) is None
    result = client.result
    assert result.auth_key.key == h(v["expected_auth_key"])
    assert result.auth_key.key_id_bytes == h(v["derived"]["auth_key_id"])
    assert result.auth_key.aux_hash == h(v["derived"]["auth_key_aux_hash"])
    assert result.inner_data == "p_q_inner_data"
    assert result.time_offset == 0


@pytest.mark.parametrize("v", HELPERS, ids=[v["name"] for v in HELPERS])
def test_helpers(v: dict) -> None:  # type: ignore[type-arg]
    if v["kind"] == "tmp_aes_key_iv":
        assert tmp_aes_key_iv(h(v["server_nonce"]), h(v["new_nonce"])) == (
            h(v["tmp_aes_key"]),
            h(v["tmp_aes_iv"]),
        )
    elif v["kind"] == "new_nonce_hash":
        key = AuthKey(h(v["auth_key"]))
        assert new_nonce_hash(h(v["new_nonce"]), int(v["number"]), key.aux_hash) == h(
            v["new_nonce_hash"]
        )
    else:
        key = AuthKey(h(v["auth_key"]))
        assert key.key_id_bytes == h(v["auth_key_id"])
        assert key.aux_hash == h(v["auth_key_aux_hash"])


@pytest.mark.parametrize("v", FINGERPRINTS, ids=[v["name"] for v in FINGERPRINTS])
def test_fingerprints(v: dict) -> None:  # type: ignore[type-arg]
    key = load_public_key(v["pem"])
    assert (key.n, key.e) == (int(v["n"], 16), int(v["e"]))
    assert key.fingerprint == v["fingerprint"] == telegram_fingerprint(key.n, key.e)
    assert key.fingerprint_bytes == h(v["fingerprint_le_bytes_hex"])
    for published in v["published_fingerprints"]:
        assert published["value"] == key.fingerprint
    # The same key as SubjectPublicKeyInfo and back to PKCS#1.
    spki = key.to_pem(pkcs1=False)
    assert "BEGIN PUBLIC KEY" in spki and load_public_key(spki) == key
    assert load_public_key(key.to_pem()) == key
    assert key.to_pem().strip() == v["pem"].strip()


def test_shipped_telegram_keys() -> None:
    by_role = {v["role"]: v for v in FINGERPRINTS}
    assert [k.fingerprint for k in TELEGRAM_PRODUCTION_KEYS] == [
        by_role["production"]["fingerprint"]
    ]
    assert [k.fingerprint for k in TELEGRAM_TEST_KEYS] == [by_role["test"]["fingerprint"]]
    assert TELEGRAM_PRODUCTION_PEM.strip() == by_role["production"]["pem"].strip()
    assert TELEGRAM_TEST_PEM.strip() == by_role["test"]["pem"].strip()


@pytest.mark.parametrize("v", LEGACY, ids=[v["name"] for v in LEGACY])
def test_legacy_rsa_vectors(v: dict) -> None:  # type: ignore[type-arg]
    key = RsaPublicKey(int(v["n"], 16), v["e"])
    assert key.fingerprint == v["key_fingerprint"]
    padding = h(v["random_padding"])[: 235 - len(h(v["data"]))]
    assert rsa_legacy_encrypt_with(h(v["data"]), key, padding) == h(v["ciphertext"])


@pytest.mark.parametrize("v", PRIMES, ids=[v["name"] for v in PRIMES])
def test_dh_primes(v: dict) -> None:  # type: ignore[type-arg]
    p = int(v["p"], 16)
    assert is_safe_prime(p) is v["safe"]
    for g in range(2, 8):
        if v["safe"]:
            assert g_is_valid_for(g, p) is (g in v["generators"])
    cache = DhPrimeCache()
    if v["safe"]:
        g = v["generators"][0]
        check_dh_params(g, p, cache=cache)
        assert p in cache
    else:
        with pytest.raises(HandshakeError) as err:
            check_dh_params(3, p, cache=cache)
        assert err.value.check == "dh_prime"
        assert p not in cache
    assert (p == TELEGRAM_DH_PRIME) is (v["name"] == "telegram")


# -- our own recorded transcripts: both twins, and an independent re-derivation --

TRANSCRIPTS = load_vectors("handshake_transcript_mtcrypt.json")["vectors"]


def _decisions(v: dict) -> object:  # type: ignore[type-arg]
    answers = v.get("server_decisions")
    return None if answers is None else (lambda key, attempt: answers[attempt])


@pytest.mark.parametrize("v", TRANSCRIPTS, ids=[v["name"] for v in TRANSCRIPTS])
def test_own_transcript_replays_on_both_sides(v: dict) -> None:  # type: ignore[type-arg]
    key = load_private_key(v["server_private_key_pem"])
    client = ClientHandshake(public_keys=[key.public_key], **v["client"])
    server = ServerHandshake(key, decide=_decisions(v))  # type: ignore[arg-type]
    steps = v["steps"]
    assert client.start_with(Tape(h(steps[0]["random"])), steps[0]["now"]) == h(steps[0]["packet"])
    for i, step in enumerate(steps[1:], 1):
        previous = h(steps[i - 1]["packet"])
        if step["from"] == "server":
            out: bytes | None = server.receive_with(previous, Tape(h(step["random"])), step["now"])
        else:
            out = client.receive_with(previous, Tape(h(step["random"])), step["now"])
        assert out == h(step["packet"]), f"step {i} ({step['from']})"
    assert client.receive_with(h(steps[-1]["packet"]), Tape(b""), steps[-1]["now"] + 0.5) is None
    for result in (client.result, server.result):
        assert result.auth_key.key == h(v["auth_key"])
        assert result.server_salt == v["server_salt"]
        assert result.expires_at == v["expires_at"]
        assert result.retries == v["retries"]
    assert client.result.time_offset == v["time_offset"]


def _ige_decrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
    from Crypto.Cipher import AES

    ecb = AES.new(key, AES.MODE_ECB)
    prev_c, prev_p, out = iv[:16], iv[16:], b""
    for i in range(0, len(data), 16):
        c = data[i : i + 16]
        x = bytes(a ^ b for a, b in zip(c, prev_p, strict=True))
        p = bytes(a ^ b for a, b in zip(ecb.decrypt(x), prev_c, strict=True))
        out += p
        prev_c, prev_p = c, p
    return out


@pytest.mark.parametrize("v", TRANSCRIPTS, ids=[v["name"] for v in TRANSCRIPTS])
def test_own_transcript_independent_check(v: dict) -> None:  # type: ignore[type-arg]
    """Re-derive the key from the packets and the client's recorded b with pow,
    hashlib and pycryptodome's AES only (no mtcrypt crypto)."""
    import hashlib

    from Crypto.PublicKey import RSA

    def sha1(data: bytes) -> bytes:
        return hashlib.sha1(data).digest()

    rsa = RSA.import_key(v["server_private_key_pem"])
    steps = v["steps"]
    bodies = [h(s["packet"])[20:] for s in steps]
    req = tl.deserialize(bodies[2])
    block = pow(int.from_bytes(req.encrypted_data, "big"), rsa.d, rsa.n).to_bytes(256, "big")
    if v["client"].get("rsa_scheme") == "legacy":
        inner = tl.read_object(tl.Reader(block[21:]))
        data = tl.serialize(inner)
        assert block[0] == 0 and block[1:21] == sha1(data)
    else:
        temp_key = bytes(
            a ^ b for a, b in zip(block[:32], hashlib.sha256(block[32:]).digest(), strict=True)
        )
        with_hash = _ige_decrypt(block[32:], temp_key, bytes(32))
        padded = with_hash[:192][::-1]
        assert with_hash[192:] == hashlib.sha256(temp_key + padded).digest()
        inner = tl.read_object(tl.Reader(padded))
    new_nonce, server_nonce = inner.new_nonce, inner.server_nonce
    tmp_key = sha1(new_nonce + server_nonce) + sha1(server_nonce + new_nonce)[:12]
    tmp_iv = sha1(server_nonce + new_nonce)[12:] + sha1(new_nonce + new_nonce) + new_nonce[:4]
    answer = _ige_decrypt(tl.deserialize(bodies[3]).encrypted_answer, tmp_key, tmp_iv)
    dh = tl.read_object(tl.Reader(answer[20:]))
    assert answer[:20] == sha1(tl.serialize(dh))
    p, g, g_a = int.from_bytes(dh.dh_prime, "big"), dh.g, int.from_bytes(dh.g_a, "big")
    key = b""
    for i in range(4, len(steps), 2):  # every set_client_DH_params and its answer
        sealed = _ige_decrypt(tl.deserialize(bodies[i]).encrypted_data, tmp_key, tmp_iv)
        client_dh = tl.read_object(tl.Reader(sealed[20:]))
        assert sealed[:20] == sha1(tl.serialize(client_dh))
        b = int.from_bytes(h(steps[i]["random"])[:256], "big")
        assert pow(g, b, p) == int.from_bytes(client_dh.g_b, "big")
        key = pow(g_a, b, p).to_bytes(256, "big")
        gen = tl.deserialize(bodies[i + 1])
        number = {"dh_gen_ok": 1, "dh_gen_retry": 2}[gen.name]
        assert (
            gen[f"new_nonce_hash{number}"] == sha1(new_nonce + bytes([number]) + sha1(key)[:8])[4:]
        )
    assert key == h(v["auth_key"])
    salt = int.from_bytes(
        bytes(a ^ b for a, b in zip(new_nonce[:8], server_nonce[:8], strict=True)),
        "little",
        signed=True,
    )
    assert salt == v["server_salt"]
