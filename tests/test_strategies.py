"""The public hypothesis strategies yield objects mtcrypt's own parsers accept.

Every strategy of :mod:`mtcrypt.testing.strategies` round-trips through the
parser that reads its object back (TL codec, inner message, decrypt, plain
message, codecs, header parser, secret parser, ClientHello check); the
``near_valid`` ones are refused with the one opaque error.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings

from mtcrypt import tl
from mtcrypt.errors import DecryptionFailed
from mtcrypt.handshake._common import STRICT
from mtcrypt.mtproto import (
    AuthKey,
    DropReason,
    InnerMessage,
    MessageDropped,
    Role,
    Session,
    decrypt_message,
    encrypt_message,
    unpack_plain,
)
from mtcrypt.testing import strategies as st
from mtcrypt.transport import (
    FakeTlsPolicy,
    Frame,
    ProxySecret,
    is_forbidden_header,
    make_codec,
    parse_client_header,
)
from mtcrypt.transport.faketls import check_client_hello

FEW = settings(max_examples=25, deadline=None)


@given(st.auth_keys())
def test_auth_keys(key: AuthKey) -> None:
    assert len(key.key) == 256
    assert AuthKey(key.key).key_id == key.key_id


@given(st.msg_ids("client"), st.msg_ids("server"))
def test_msg_id_parity(client_id: int, server_id: int) -> None:
    assert client_id % 4 == 0
    assert server_id % 4 in (1, 3)


@given(st.tl_objects())
def test_any_tl_object_round_trips(obj: tl.TLObject) -> None:
    data = tl.serialize(obj, boxed=obj.name != "message")
    if obj.name == "message":
        assert tl.deserialize(data, bare="message") == obj
    else:
        assert tl.deserialize(data) == obj
        assert tl.deserialize(data, limits=STRICT) == obj  # canonical: strict padding too


@given(st.service_objects())
def test_service_objects_round_trip(obj: tl.TLObject) -> None:
    assert tl.deserialize(tl.serialize(obj)) == obj


@FEW
@given(st.containers())
def test_containers_round_trip(obj: tl.TLObject) -> None:
    assert obj.name == "msg_container"
    ids = [m.msg_id for m in obj.messages]
    assert ids == sorted(set(ids)) and all(i % 4 in (1, 3) for i in ids)
    assert tl.deserialize(tl.serialize(obj)) == obj


@FEW
@given(st.inner_messages("server", session_id=77))
def test_inner_messages_pass_the_client_session_checks(message: InnerMessage) -> None:
    """A client session accepts them up to the reference checks: never a
    parity, format or container drop."""
    assert InnerMessage.parse(message.pack()) == message
    key = AuthKey(bytes(range(256)))
    session = Session(key, Role.CLIENT, session_id=77)
    events = session.receive(encrypt_message(key, message.pack(), from_server=True))
    bad = {DropReason.BAD_MSG_ID, DropReason.MALFORMED, DropReason.BAD_CONTAINER}
    assert not [e for e in events if isinstance(e, MessageDropped) and e.reason in bad]


@given(st.plaintexts("client"))
def test_plaintexts_encrypt(plain: bytes) -> None:
    key = AuthKey(bytes(256))
    assert (
        decrypt_message(key, encrypt_message(key, plain, from_server=False), from_server=False)
        == plain
    )


@FEW
@given(st.encrypted_packets())
def test_encrypted_packets_decrypt(sealed: st.Sealed) -> None:
    plain = decrypt_message(sealed.auth_key, sealed.packet, from_server=sealed.from_server)
    assert InnerMessage.parse(plain) == sealed.message


@given(st.encrypted_packets(AuthKey(bytes(range(256))), from_server=False))
def test_encrypted_packets_for_a_given_key(sealed: st.Sealed) -> None:
    assert sealed.auth_key.key == bytes(range(256))
    assert decrypt_message(sealed.auth_key, sealed.packet, from_server=False)


@given(st.near_valid_packets())
def test_near_valid_packets_are_refused(mutated: st.Mutated) -> None:
    sealed = mutated.original
    with pytest.raises(DecryptionFailed):
        decrypt_message(sealed.auth_key, mutated.packet, from_server=sealed.from_server)


@pytest.mark.parametrize("step", st.HANDSHAKE_STEPS)
def test_handshake_messages_round_trip(step: str) -> None:
    @FEW
    @given(st.handshake_messages(step))
    def check(obj: tl.TLObject) -> None:
        assert obj.name == step
        assert tl.deserialize(tl.serialize(obj), limits=STRICT) == obj

    check()


SENT_ALONE = [s for s in st.HANDSHAKE_STEPS if not s.startswith("p_q") and "inner" not in s]


@pytest.mark.parametrize("step", SENT_ALONE)
def test_plain_handshake_messages(step: str) -> None:
    @FEW
    @given(st.plain_handshake_messages(step))
    def check(packet: bytes) -> None:
        msg_id, body = unpack_plain(packet)
        if step.startswith(("req_", "set_")):
            assert msg_id % 4 == 0
        else:
            assert msg_id % 4 in (1, 3)
        assert tl.deserialize(body, limits=STRICT).name == step

    check()


@given(st.transport_frames(sender="client"))
def test_client_frames_decode_on_the_server(frame: st.Frame) -> None:
    assert make_codec(frame.framing, "server").feed(frame.wire) == [Frame(frame.payload)]


@given(st.transport_frames(sender="server"))
def test_server_frames_decode_on_the_client(frame: st.Frame) -> None:
    assert make_codec(frame.framing, "client").feed(frame.wire) == [Frame(frame.payload)]


@FEW
@given(st.obfuscation_headers())
def test_obfuscation_headers_parse(header: st.Header) -> None:
    assert not is_forbidden_header(header.wire)
    secret = None if header.secret is None else header.secret.key
    parsed = parse_client_header(header.wire, [secret])
    assert parsed.framing is make_codec(parsed.framing, "client").framing
    assert make_codec(parsed.framing, "client").obfuscation_tag == header.tag
    if header.dc_id is not None:
        assert parsed.dc_id == header.dc_id


@given(st.proxy_secrets())
def test_proxy_secrets_parse(secret: ProxySecret) -> None:
    assert ProxySecret.parse(secret.hex()) == secret
    assert ProxySecret.parse(secret.link_form()) == secret
    assert ProxySecret.parse(bytes(secret)) == secret


@FEW
@given(st.client_hellos())
def test_client_hellos_authenticate(item: tuple[ProxySecret, bytes]) -> None:
    secret, record = item
    info = check_client_hello(
        record, [secret.key], now=1_700_000_000, policy=FakeTlsPolicy(), domains=[secret.domain]
    )
    assert info.key_index == 0


def test_testing_imports_without_hypothesis() -> None:
    """hypothesis is a test extra: only the strategies module needs it."""
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import mtcrypt.testing, mtcrypt.testing.mutators, mtcrypt.testing.conformance\n"
        "try:\n"
        "    import mtcrypt.testing.strategies\n"
        "except ImportError as exc:\n"
        "    assert 'hypothesis' in str(exc), exc\n"
        "else:\n"
        "    raise SystemExit('strategies imported without hypothesis')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
