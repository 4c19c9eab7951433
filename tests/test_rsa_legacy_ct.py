"""The server's constant-time check of the legacy RSA padding.

``rsa_legacy_match`` (C: ``mtc_rsa_legacy_check``) against the plain
reference ``rsa_legacy_unpad``, which parses the block to find the data
length the way the server used to, followed by the field checks the server
makes afterwards. Both must agree on random blocks and on crafted ones: every
``p_q_inner_data*`` constructor; the first byte zero or not; the hash right or
wrong; a wrong constructor, pq, p, q, nonce or server_nonce. Then the
handshake: Telethon's and Pyrogram's way of encrypting ``p_q_inner_data`` is
still accepted by :class:`ServerHandshake`, and refused with
``accept_legacy_rsa=False``. The timing side is tests/test_constant_time.py.
"""

from __future__ import annotations

import hashlib

import pytest
from conftest import require
from hypothesis import given
from hypothesis import strategies as st
from test_handshake_support import (
    FixedClock,
    SeededRng,
    body_of,
    make_pair,
    run,
    server_key,
)

from mtcrypt import tl
from mtcrypt._native import ffi, lib
from mtcrypt.crypto import ige256_decrypt
from mtcrypt.errors import HandshakeError, InvalidArgument, InvalidLength, InvalidType
from mtcrypt.handshake import ServerHandshake, factorize_pq, tmp_aes_key_iv
from mtcrypt.handshake._common import parse_prefix
from mtcrypt.handshake.rsa import (
    RSA_LEGACY_MAX_DATA,
    LegacyTemplate,
    rsa_legacy_encrypt,
    rsa_legacy_match,
    rsa_legacy_unpad,
)
from mtcrypt.mtproto import pack_plain

INNER = ("p_q_inner_data", "p_q_inner_data_dc", "p_q_inner_data_temp", "p_q_inner_data_temp_dc")
FREE_INTS = {
    "p_q_inner_data": (),
    "p_q_inner_data_dc": ("dc",),
    "p_q_inner_data_temp": ("expires_in",),
    "p_q_inner_data_temp_dc": ("dc", "expires_in"),
}

# The server's values, as ServerHandshake would hold them after req_pq.
P, Q = 1229739323, 1402015859  # primes in [2^30, 2^31.5)
KNOWN: dict[str, bytes] = {
    "pq": (P * Q).to_bytes(8, "big"),
    "p": P.to_bytes(4, "big"),
    "q": Q.to_bytes(4, "big"),
    "nonce": bytes(range(16)),
    "server_nonce": bytes(range(100, 116)),
}


def serialize(name: str, known: dict[str, bytes], new_nonce: bytes, free_int: int) -> bytes:
    ints = dict.fromkeys(FREE_INTS[name], free_int)
    return tl.serialize(tl.make(name, **known, new_nonce=new_nonce, **ints))


def templates_for(known: dict[str, bytes]) -> list[LegacyTemplate]:
    """The four templates, laid out by hand (independently of the server's
    zeros-and-ones construction): everything fixed up to new_nonce."""
    out = []
    for name in INNER:
        data = serialize(name, known, bytes(32), 0)
        free = 32 + 4 * len(FREE_INTS[name])
        out.append(LegacyTemplate(data, b"\xff" * (len(data) - free) + bytes(free)))
    return out


TEMPLATES = templates_for(KNOWN)


def block_for(data: bytes, tail: bytes, *, lead: int = 0, hashed: bytes | None = None) -> bytes:
    digest = hashlib.sha1(data if hashed is None else hashed).digest()
    block = bytes([lead]) + digest + data + tail
    return block[:256].ljust(256, b"\x00")


def reference(block: bytes, known: dict[str, bytes] = KNOWN) -> tuple[int, bytes] | None:
    """What the server did before: parse to find the length, check the hash,
    then compare the fields. Not constant time; the oracle for the C check."""
    found: list[tl.TLObject] = []

    def length(rest: bytes) -> int | None:
        try:
            obj, n = parse_prefix(rest, INNER, "p_q_inner_data")
        except HandshakeError:
            return None
        found.append(obj)
        return n

    data = rsa_legacy_unpad(block, length)
    if data is None:
        return None
    obj = found[-1]
    if any(obj.fields[k] != v for k, v in known.items()):
        return None
    return INNER.index(obj.name), data


def both(block: bytes) -> tuple[int, bytes] | None:
    got = rsa_legacy_match(block, TEMPLATES)
    assert got == reference(block)
    return got


# ---- the templates --------------------------------------------------------------


def test_template_lengths_are_the_tl_layout() -> None:
    assert [len(t) for t in TEMPLATES] == [96, 100, 100, 104]
    for t in TEMPLATES:
        assert t.expected[4] == 8 and t.expected[16] == 4 and t.expected[24] == 4  # pq, p, q


def test_server_builds_the_same_templates() -> None:
    server = ServerHandshake(server_key(), rng=SeededRng("tpl"), clock=FixedClock(1.7e9))
    server.receive(_req_pq(bytes(range(16))))
    built = server._legacy_templates()
    mine = templates_for(
        {
            "pq": server._pq,
            "p": server._p.to_bytes(4, "big"),
            "q": server._q.to_bytes(4, "big"),
            "nonce": server._nonce,
            "server_nonce": server._server_nonce,
        }
    )
    assert [(t.expected, t.mask) for t in built] == [(t.expected, t.mask) for t in mine]


# ---- differential: C check against the parsing reference -----------------------


@pytest.mark.parametrize("k", range(4))
def test_valid_block_accepted_for_each_constructor(k: int) -> None:
    data = serialize(INNER[k], KNOWN, bytes(range(32, 64)), 0x12345678)
    assert both(block_for(data, bytes(200))) == (k, data)


@given(
    k=st.integers(0, 3),
    new_nonce=st.binary(min_size=32, max_size=32),
    free_int=st.integers(-(2**31), 2**31 - 1),
    tail=st.binary(min_size=139, max_size=139),
)
def test_free_fields_and_tail_do_not_matter(
    k: int, new_nonce: bytes, free_int: int, tail: bytes
) -> None:
    data = serialize(INNER[k], KNOWN, new_nonce, free_int)
    assert both(block_for(data, tail)) == (k, data)


@given(k=st.integers(0, 3), lead=st.integers(1, 255))
def test_first_byte_not_zero_rejected(k: int, lead: int) -> None:
    data = serialize(INNER[k], KNOWN, bytes(32), 7)
    assert both(block_for(data, bytes(200), lead=lead)) is None


@given(k=st.integers(0, 3), index=st.integers(1, 20), bit=st.integers(0, 7))
def test_wrong_hash_rejected(k: int, index: int, bit: int) -> None:
    data = serialize(INNER[k], KNOWN, bytes(32), 7)
    block = bytearray(block_for(data, bytes(200)))
    block[index] ^= 1 << bit
    assert both(bytes(block)) is None


@pytest.mark.parametrize("k", range(4))
def test_hash_over_another_length_rejected(k: int) -> None:
    data = serialize(INNER[k], KNOWN, bytes(32), 7)
    tail = bytes(range(200))
    for other in (len(data) - 4, len(data) + 4, 235):
        block = block_for(data, tail, hashed=(data + tail)[:other])
        assert both(block) is None


@given(k=st.integers(0, 3), ctor=st.binary(min_size=4, max_size=4))
def test_wrong_constructor_rejected(k: int, ctor: bytes) -> None:
    data = serialize(INNER[k], KNOWN, bytes(32), 7)
    changed = ctor + data[4:]
    expected = None
    # _dc and _temp have the same length and layout: swapping their
    # constructors gives a valid block of the other kind.
    for j, t in enumerate(TEMPLATES):
        if len(t) == len(data) and t.expected[:4] == ctor:
            expected = (j, changed)
            break
    assert both(block_for(changed, bytes(200))) == expected


def test_dc_and_temp_constructors_swap() -> None:
    """_dc and _temp share length and layout: each one's data with the other's
    constructor is a valid block of the other kind (the reference agrees)."""
    dc = serialize("p_q_inner_data_dc", KNOWN, bytes(32), 7)
    temp = serialize("p_q_inner_data_temp", KNOWN, bytes(32), 7)
    swapped = temp[:4] + dc[4:]
    assert swapped == temp
    assert both(block_for(swapped, bytes(200))) == (2, temp)


@pytest.mark.parametrize("field", ["pq", "p", "q", "nonce", "server_nonce"])
@pytest.mark.parametrize("k", range(4))
def test_wrong_known_field_rejected(k: int, field: str) -> None:
    value = bytearray(KNOWN[field])
    value[-1] ^= 0x01
    other = dict(KNOWN, **{field: bytes(value)})
    data = serialize(INNER[k], other, bytes(32), 7)
    assert both(block_for(data, bytes(200))) is None


@pytest.mark.parametrize("k", range(4))
def test_non_minimal_p_rejected(k: int) -> None:
    # A 5-byte p (leading zero) moves every later field: a different length.
    data = serialize(INNER[k], dict(KNOWN, p=b"\x00" + KNOWN["p"]), bytes(32), 7)
    assert both(block_for(data, bytes(200))) is None


@given(st.binary(min_size=256, max_size=256))
def test_random_blocks_rejected(block: bytes) -> None:
    assert both(block) is None


@given(st.binary(min_size=255, max_size=255))
def test_random_blocks_with_zero_lead_rejected(rest: bytes) -> None:
    assert both(b"\x00" + rest) is None


@given(st.data())
def test_random_templates_and_blocks_agree_with_masked_compare(data: st.DataObject) -> None:
    """Arbitrary templates (any length, any mask) against a direct Python model."""
    n = data.draw(st.integers(1, 4))
    templates = []
    for _ in range(n):
        length = data.draw(st.integers(1, RSA_LEGACY_MAX_DATA))
        expected = data.draw(st.binary(min_size=length, max_size=length))
        mask = data.draw(st.binary(min_size=length, max_size=length))
        templates.append(LegacyTemplate(expected, mask))
    pick = data.draw(st.integers(0, n - 1))
    # Half the time build a block that satisfies template `pick`.
    if data.draw(st.booleans()):
        t = templates[pick]
        noise = data.draw(st.binary(min_size=len(t), max_size=len(t)))
        body = bytes(
            (e & m) | (r & ~m & 0xFF) for e, m, r in zip(t.expected, t.mask, noise, strict=True)
        )
        block = block_for(body, data.draw(st.binary(min_size=235, max_size=235)))
    else:
        block = data.draw(st.binary(min_size=256, max_size=256))

    def model() -> tuple[int, bytes] | None:
        for i, t in enumerate(templates):
            body = block[21 : 21 + len(t)]
            if block[0] == 0 and hashlib.sha1(body).digest() == block[1:21]:
                if all((b ^ e) & m == 0 for b, e, m in zip(body, t.expected, t.mask, strict=True)):
                    return i, body
        return None

    assert rsa_legacy_match(block, templates) == model()


# ---- the argument checks ---------------------------------------------------------


def test_python_argument_checks() -> None:
    good = block_for(serialize(INNER[0], KNOWN, bytes(32), 0), bytes(200))
    with pytest.raises(InvalidLength):
        rsa_legacy_match(good[:255], TEMPLATES)
    with pytest.raises(InvalidLength):
        rsa_legacy_match(bytearray(good), TEMPLATES)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        rsa_legacy_match(good, [])
    with pytest.raises(InvalidArgument):
        rsa_legacy_match(good, TEMPLATES + TEMPLATES[:1])
    with pytest.raises(InvalidType):
        rsa_legacy_match(good, [b"\x00" * 96])  # type: ignore[list-item]
    with pytest.raises(InvalidLength):
        LegacyTemplate(b"", b"")
    with pytest.raises(InvalidLength):
        LegacyTemplate(bytes(236), bytes(236))
    with pytest.raises(InvalidLength):
        LegacyTemplate(bytes(4), bytes(3))
    with pytest.raises(InvalidType):
        LegacyTemplate("abcd", bytes(4))  # type: ignore[arg-type]
    assert repr(TEMPLATES[0]) == "LegacyTemplate(length=96)"  # no field values


def test_c_status_codes() -> None:
    good = block_for(serialize(INNER[2], KNOWN, bytes(32), 0), bytes(200))
    expect = b"".join(t.expected.ljust(235, b"\0") for t in TEMPLATES)
    mask = b"".join(t.mask.ljust(235, b"\0") for t in TEMPLATES)
    lens = ffi.new("uint32_t[]", [len(t) for t in TEMPLATES])
    index = ffi.new("int *")
    assert lib.mtc_rsa_legacy_check(good, 4, expect, mask, lens, index) == lib.MTC_OK
    assert index[0] == 2
    bad = b"\x01" + good[1:]
    assert lib.mtc_rsa_legacy_check(bad, 4, expect, mask, lens, index) == lib.MTC_ERR_DECRYPT
    assert index[0] == -1
    for n in (0, 5):
        assert lib.mtc_rsa_legacy_check(good, n, expect, mask, lens, index) == lib.MTC_ERR_ARG
    assert lib.mtc_rsa_legacy_check(ffi.NULL, 4, expect, mask, lens, index) == lib.MTC_ERR_ARG
    assert lib.mtc_rsa_legacy_check(good, 4, expect, mask, lens, ffi.NULL) == lib.MTC_ERR_ARG
    for length in (0, 236):
        lens[1] = length
        assert lib.mtc_rsa_legacy_check(good, 4, expect, mask, lens, index) == lib.MTC_ERR_ARG


# ---- the handshake ------------------------------------------------------------------

NOW = 1_700_000_000.0


def _req_pq(nonce: bytes) -> bytes:
    msg_id = int(NOW * 2**32) & ~3
    return pack_plain(msg_id, tl.serialize(tl.make("req_pq_multi", nonce=nonce)))


def _req_dh_params(res_pq: tl.TLObject, p: int, q: int, encrypted: bytes) -> bytes:
    msg_id = (int(NOW * 2**32) & ~3) + 4096
    req = tl.make(
        "req_DH_params",
        nonce=res_pq.nonce,
        server_nonce=res_pq.server_nonce,
        p=p.to_bytes(4, "big"),
        q=q.to_bytes(4, "big"),
        public_key_fingerprint=server_key().fingerprint,
        encrypted_data=encrypted,
    )
    return pack_plain(msg_id, tl.serialize(req))


def _start(seed: object, **kwargs: object) -> tuple[ServerHandshake, tl.TLObject, int, int]:
    server = ServerHandshake(
        server_key(),
        rng=SeededRng(("legacy-ct", seed)),
        clock=FixedClock(NOW),
        **kwargs,  # type: ignore[arg-type]
    )
    nonce = SeededRng(("nonce", seed))(16)
    res_pq = tl.deserialize(body_of(server.receive(_req_pq(nonce))))
    p, q = factorize_pq(int.from_bytes(res_pq.pq, "big"))
    return server, res_pq, p, q


def _check_dh_params_ok(answer: bytes, res_pq: tl.TLObject, new_nonce: bytes) -> None:
    """The server recovered new_nonce: its answer opens with the key derived from it."""
    ok = tl.deserialize(body_of(answer))
    assert ok.name == "server_DH_params_ok"
    key, iv = tmp_aes_key_iv(res_pq.server_nonce, new_nonce)
    plain = ige256_decrypt(ok.encrypted_answer, key, iv)
    inner, n = parse_prefix(plain[20:], ("server_DH_inner_data",), "x")
    assert hashlib.sha1(plain[20 : 20 + n]).digest() == plain[:20]
    assert inner.nonce == res_pq.nonce


def _le_int(data: bytes) -> int:
    return int.from_bytes(data, "little", signed=True)


def _telethon_encrypted(res_pq: tl.TLObject, p: int, q: int, new_nonce: bytes) -> bytes:
    """p_q_inner_data as Telethon builds and encrypts it (its own TL and RSA code)."""
    telethon = require("telethon")
    from telethon.crypto import rsa as telethon_rsa
    from telethon.tl.types import PQInnerData

    del telethon
    data = bytes(
        PQInnerData(
            pq=res_pq.pq,
            p=telethon_rsa.get_byte_array(p),
            q=telethon_rsa.get_byte_array(q),
            nonce=_le_int(res_pq.nonce),
            server_nonce=_le_int(res_pq.server_nonce),
            new_nonce=_le_int(new_nonce),
        )
    )
    public = server_key().public_key
    telethon_rsa.add_key(public.to_pem(), old=False)
    try:
        encrypted = telethon_rsa.encrypt(public.fingerprint, data)
    finally:
        telethon_rsa._server_keys.pop(public.fingerprint, None)
    assert encrypted is not None
    return bytes(encrypted)


def _pyrogram_encrypted(res_pq: tl.TLObject, p: int, q: int, new_nonce: bytes) -> bytes:
    """p_q_inner_data as Pyrogram's Auth.create() builds and pads it."""
    require("pyrogram")
    from pyrogram import raw

    data = raw.types.PQInnerData(
        pq=res_pq.pq,
        p=p.to_bytes(4, "big"),
        q=q.to_bytes(4, "big"),
        nonce=_le_int(res_pq.nonce),
        server_nonce=_le_int(res_pq.server_nonce),
        new_nonce=_le_int(new_nonce),
    ).write()
    sha = hashlib.sha1(data).digest()
    padding = SeededRng("pyrogram-padding")(-(len(data) + len(sha)) % 255)
    block = int.from_bytes(sha + data + padding, "big")
    public = server_key().public_key
    # pyrogram.crypto.rsa.encrypt: textbook RSA to 256 bytes.
    return pow(block, public.e, public.n).to_bytes(256, "big")


def _ours_encrypted(res_pq: tl.TLObject, p: int, q: int, new_nonce: bytes) -> bytes:
    data = tl.serialize(
        tl.make(
            "p_q_inner_data",
            pq=res_pq.pq,
            p=p.to_bytes(4, "big"),
            q=q.to_bytes(4, "big"),
            nonce=res_pq.nonce,
            server_nonce=res_pq.server_nonce,
            new_nonce=new_nonce,
        )
    )
    return rsa_legacy_encrypt(data, server_key().public_key, rng=SeededRng("ours-padding"))


CLIENT_STYLES = {
    "telethon": _telethon_encrypted,
    "pyrogram": _pyrogram_encrypted,
    "mtcrypt": _ours_encrypted,
}


@pytest.mark.parametrize("style", sorted(CLIENT_STYLES))
def test_legacy_req_dh_params_accepted(style: str) -> None:
    server, res_pq, p, q = _start(style)
    new_nonce = SeededRng(("new_nonce", style))(32)
    encrypted = CLIENT_STYLES[style](res_pq, p, q, new_nonce)
    answer = server.receive(_req_dh_params(res_pq, p, q, encrypted))
    _check_dh_params_ok(answer, res_pq, new_nonce)
    assert server.state == "wait_client_dh"
    assert server._scheme == "legacy"


@pytest.mark.parametrize("style", sorted(CLIENT_STYLES))
def test_legacy_req_dh_params_refused_when_disabled(style: str) -> None:
    server, res_pq, p, q = _start(style, accept_legacy_rsa=False)
    new_nonce = SeededRng(("new_nonce", style))(32)
    encrypted = CLIENT_STYLES[style](res_pq, p, q, new_nonce)
    with pytest.raises(HandshakeError) as info:
        server.receive(_req_dh_params(res_pq, p, q, encrypted))
    assert info.value.check == "rsa_padding"
    assert server.state == "failed"


@pytest.mark.parametrize("field", ["nonce", "server_nonce", "pq"])
def test_legacy_block_with_foreign_field_is_a_padding_failure(field: str) -> None:
    """A legacy block for another session's values never gets to the field checks:
    it does not match any template, so it fails like any bad padding."""
    server, res_pq, p, q = _start(("foreign", field))
    fields = dict(res_pq.fields)
    value = bytearray(fields[field])
    value[0] ^= 0x80
    res_other = tl.TLObject(res_pq.name, dict(fields, **{field: bytes(value)}))
    encrypted = _ours_encrypted(res_other, p, q, bytes(32))
    with pytest.raises(HandshakeError) as info:
        server.receive(_req_dh_params(res_pq, p, q, encrypted))
    assert info.value.check == "rsa_padding"


@pytest.mark.parametrize("expires_in", [None, 86400])
@pytest.mark.parametrize("dc", [None, 2, -10003])
def test_full_handshake_every_constructor(dc: int | None, expires_in: int | None) -> None:
    ck: dict[str, object] = {"dc": dc, "rsa_scheme": "legacy", "expires_in": expires_in}
    client, server = make_pair(("every", dc, expires_in), client_kwargs=ck)
    run(client, server)
    assert server.done and client.done
    assert client.result.auth_key == server.result.auth_key
    assert server.result.rsa_scheme == "legacy"
    name = "p_q_inner_data" + ("_temp" if expires_in else "") + ("_dc" if dc is not None else "")
    assert server.result.inner_data == name
    assert server.result.dc == dc


def test_full_legacy_handshake_refused_when_disabled() -> None:
    client, server = make_pair(
        "refused",
        client_kwargs={"rsa_scheme": "legacy", "dc": None},
        server_kwargs={"accept_legacy_rsa": False},
    )
    with pytest.raises(HandshakeError) as info:
        run(client, server)
    assert info.value.check == "rsa_padding"


@pytest.mark.parametrize("accept_legacy", [True, False])
def test_rsa_pad_unaffected(accept_legacy: bool) -> None:
    client, server = make_pair(
        ("pad", accept_legacy), server_kwargs={"accept_legacy_rsa": accept_legacy}
    )
    run(client, server)
    assert server.result.rsa_scheme == "rsa_pad"
