"""Tests of the TL codec: schema ids, round trips, peers, and the fuzz contract."""

from __future__ import annotations

import copy
import doctest
import functools
import gzip
import hashlib
import importlib
import inspect
import io
import pickle
import struct
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtcrypt import tl
from mtcrypt.errors import InvalidArgument, InvalidType, TLError
from mtcrypt.tl import Kind, Limits, Reader, TLObject, TLType

SCHEMA = tl.default_schema()
KNOWN_IDS = frozenset(SCHEMA.by_id)
BARE_ONLY = frozenset({"message", "rsa_public_key"})
ALL_NAMES = sorted(SCHEMA.combinators)
FUNCTION_NAMES = sorted(n for n, c in SCHEMA.combinators.items() if c.is_function)
# Objects a message body / rpc result may hold in the generated data: every
# boxed combinator except containers (which may not nest).
OBJECT_NAMES = sorted(n for n in SCHEMA.combinators if n not in BARE_ONLY and n != "msg_container")
MAX_GEN_DEPTH = 3

try:
    import pyrogram.raw.core as pyro_core
    import telethon.tl.core as telethon_core
    from telethon.extensions import BinaryReader

    HAVE_PEERS = True
except ImportError:  # pragma: no cover - the test extras install both
    HAVE_PEERS = False

needs_peers = pytest.mark.skipif(not HAVE_PEERS, reason="telethon and kurigram not installed")


def budget(fraction: float) -> settings:
    """Settings scaled from the active profile (tests/conftest.py), since most
    of these tests are parametrized over every combinator."""
    active = settings.default
    base = active.max_examples if active is not None else 100
    examples = max(10, int(base * fraction))
    return settings(
        max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )


SETTINGS = budget(0.4)

# help.getConfig: a function outside this schema, for `!X` raw pass-through.
GET_CONFIG = struct.pack("<I", 0xC4F9186B)


# --------------------------------------------------------------------------
# Peers: Telethon and Pyrogram (kurigram) class for each combinator.

PEERS: dict[str, tuple[str, str]] = {
    "resPQ": ("types.ResPQ", "types.ResPQ"),
    "p_q_inner_data": ("types.PQInnerData", "types.PQInnerData"),
    "p_q_inner_data_dc": ("types.PQInnerDataDc", "types.PQInnerDataDc"),
    "p_q_inner_data_temp": ("types.PQInnerDataTemp", "types.PQInnerDataTemp"),
    "p_q_inner_data_temp_dc": ("types.PQInnerDataTempDc", "types.PQInnerDataTempDc"),
    "server_DH_params_fail": ("types.ServerDHParamsFail", "types.ServerDHParamsFail"),
    "server_DH_params_ok": ("types.ServerDHParamsOk", "types.ServerDHParamsOk"),
    "server_DH_inner_data": ("types.ServerDHInnerData", "types.ServerDHInnerData"),
    "client_DH_inner_data": ("types.ClientDHInnerData", "types.ClientDHInnerData"),
    "dh_gen_ok": ("types.DhGenOk", "types.DhGenOk"),
    "dh_gen_retry": ("types.DhGenRetry", "types.DhGenRetry"),
    "dh_gen_fail": ("types.DhGenFail", "types.DhGenFail"),
    "bind_auth_key_inner": ("types.BindAuthKeyInner", "types.BindAuthKeyInner"),
    "rpc_error": ("types.RpcError", "types.RpcError"),
    "rpc_answer_unknown": ("types.RpcAnswerUnknown", "types.RpcAnswerUnknown"),
    "rpc_answer_dropped_running": (
        "types.RpcAnswerDroppedRunning",
        "types.RpcAnswerDroppedRunning",
    ),
    "rpc_answer_dropped": ("types.RpcAnswerDropped", "types.RpcAnswerDropped"),
    "future_salt": ("types.FutureSalt", "core.FutureSalt"),
    "future_salts": ("types.FutureSalts", "core.FutureSalts"),
    "pong": ("types.Pong", "types.Pong"),
    "destroy_session_ok": ("types.DestroySessionOk", "types.DestroySessionOk"),
    "destroy_session_none": ("types.DestroySessionNone", "types.DestroySessionNone"),
    "new_session_created": ("types.NewSessionCreated", "types.NewSessionCreated"),
    "msgs_ack": ("types.MsgsAck", "types.MsgsAck"),
    "bad_msg_notification": ("types.BadMsgNotification", "types.BadMsgNotification"),
    "bad_server_salt": ("types.BadServerSalt", "types.BadServerSalt"),
    "msg_resend_req": ("types.MsgResendReq", "types.MsgResendReq"),
    "msgs_state_req": ("types.MsgsStateReq", "types.MsgsStateReq"),
    "msgs_state_info": ("types.MsgsStateInfo", "types.MsgsStateInfo"),
    "msgs_all_info": ("types.MsgsAllInfo", "types.MsgsAllInfo"),
    "msg_detailed_info": ("types.MsgDetailedInfo", "types.MsgDetailedInfo"),
    "msg_new_detailed_info": ("types.MsgNewDetailedInfo", "types.MsgNewDetailedInfo"),
    "destroy_auth_key_ok": ("types.DestroyAuthKeyOk", "types.DestroyAuthKeyOk"),
    "destroy_auth_key_none": ("types.DestroyAuthKeyNone", "types.DestroyAuthKeyNone"),
    "destroy_auth_key_fail": ("types.DestroyAuthKeyFail", "types.DestroyAuthKeyFail"),
    "http_wait": ("types.HttpWait", "types.HttpWait"),
    "inputClientProxy": ("types.InputClientProxy", "types.InputClientProxy"),
    "jsonObjectValue": ("types.JsonObjectValue", "types.JsonObjectValue"),
    "jsonNull": ("types.JsonNull", "types.JsonNull"),
    "jsonBool": ("types.JsonBool", "types.JsonBool"),
    "jsonNumber": ("types.JsonNumber", "types.JsonNumber"),
    "jsonString": ("types.JsonString", "types.JsonString"),
    "jsonArray": ("types.JsonArray", "types.JsonArray"),
    "jsonObject": ("types.JsonObject", "types.JsonObject"),
    "req_pq": ("functions.ReqPqRequest", "functions.ReqPq"),
    "req_pq_multi": ("functions.ReqPqMultiRequest", "functions.ReqPqMulti"),
    "req_DH_params": ("functions.ReqDHParamsRequest", "functions.ReqDHParams"),
    "set_client_DH_params": (
        "functions.SetClientDHParamsRequest",
        "functions.SetClientDHParams",
    ),
    "rpc_drop_answer": ("functions.RpcDropAnswerRequest", "functions.RpcDropAnswer"),
    "get_future_salts": ("functions.GetFutureSaltsRequest", "functions.GetFutureSalts"),
    "ping": ("functions.PingRequest", "functions.Ping"),
    "ping_delay_disconnect": (
        "functions.PingDelayDisconnectRequest",
        "functions.PingDelayDisconnect",
    ),
    "destroy_session": ("functions.DestroySessionRequest", "functions.DestroySession"),
    "destroy_auth_key": ("functions.DestroyAuthKeyRequest", "functions.DestroyAuthKey"),
    "invokeWithLayer": ("functions.InvokeWithLayerRequest", "functions.InvokeWithLayer"),
    "invokeWithoutUpdates": (
        "functions.InvokeWithoutUpdatesRequest",
        "functions.InvokeWithoutUpdates",
    ),
    "initConnection": ("functions.InitConnectionRequest", "functions.InitConnection"),
    "auth.bindTempAuthKey": (
        "functions.auth.BindTempAuthKeyRequest",
        "functions.auth.BindTempAuthKey",
    ),
    "rpc_result": ("", "types.RpcResult"),  # Telethon's RpcResult cannot serialize
}
# Pyrogram writes these bare (without the constructor id).
PYROGRAM_BARE = frozenset({"future_salt"})
LIBS = ("telethon", "pyrogram")


def peer_class(lib: str, name: str) -> Any:
    path = PEERS[name][0 if lib == "telethon" else 1]
    root = "telethon.tl" if lib == "telethon" else "pyrogram.raw"
    module_path, _, attr = f"{root}.{path}".rpartition(".")
    return getattr(importlib.import_module(module_path), attr)


def peer_get_config(lib: str) -> Any:
    if lib == "telethon":
        from telethon.tl.functions.help import GetConfigRequest

        return GetConfigRequest()
    return importlib.import_module("pyrogram.raw.functions.help").GetConfig()


def peer_annotation(lib: str, name: str, field: str) -> str:
    params = inspect.signature(peer_class(lib, name).__init__).parameters
    return str(params[field].annotation)


@functools.cache
def text_fields() -> frozenset[tuple[str, str]]:
    """Fields that either peer types as `str` (so they must hold UTF-8)."""
    if not HAVE_PEERS:
        return frozenset()
    out = set()
    for name in PEERS:
        for param in SCHEMA[name].value_params:
            if param.type.kind is not Kind.BYTES:
                continue
            for lib in LIBS:
                if PEERS[name][LIBS.index(lib)] and "str" in peer_annotation(lib, name, param.name):
                    out.add((name, param.name))
    return frozenset(out)


def to_peer(lib: str, obj: TLObject) -> Any:
    """Build the peer library's object equal to ``obj``."""
    cls = peer_class(lib, obj.name)
    kwargs = {}
    for param in SCHEMA[obj.name].value_params:
        ann = peer_annotation(lib, obj.name, param.name)
        kwargs[param.name] = to_peer_value(lib, obj.fields[param.name], param.type, ann)
    return cls(**kwargs)


def to_peer_value(lib: str, value: Any, t: TLType, annotation: str) -> Any:
    if value is None:
        return None
    if t.kind in (Kind.INT128, Kind.INT256):
        return int.from_bytes(value, "little", signed=True)
    if t.kind is Kind.BYTES:
        return value.decode() if "str" in annotation else value
    if isinstance(value, list):
        assert t.item is not None
        return [to_peer_value(lib, v, t.item, "") for v in value]
    if isinstance(value, TLObject):
        return to_peer(lib, value)
    if t.kind in (Kind.OBJECT, Kind.FUNCTION):
        assert value == GET_CONFIG
        return peer_get_config(lib)
    return value


def peer_bytes(lib: str, peer_obj: Any) -> bytes:
    return bytes(peer_obj) if lib == "telethon" else bytes(peer_obj.write())


def contains_json_vector(value: object) -> bool:
    """Pyrogram guesses a vector's element type from the bytes left (4 bytes:
    an int), so it misreads Vector<JSONValue> holding a jsonNull."""
    if isinstance(value, list):
        return any(contains_json_vector(v) for v in value)
    if isinstance(value, TLObject):
        return value.name in ("jsonArray", "jsonObject") or any(
            contains_json_vector(v) for v in value.fields.values()
        )
    return False


def peer_parse(lib: str, data: bytes) -> Any:
    if lib == "telethon":
        with BinaryReader(data) as reader:
            return reader.tgread_object()
    return pyro_core.TLObject.read(io.BytesIO(data))


# --------------------------------------------------------------------------
# Strategies for every schema type.

raw_unknown_object = (
    st.lists(st.binary(min_size=4, max_size=4), min_size=1, max_size=6)
    .map(b"".join)
    .filter(lambda b: int.from_bytes(b[:4], "little") not in KNOWN_IDS)
)


@functools.cache
def value_strategy(t: TLType, comb: str, field: str, depth: int, peer: bool) -> Any:
    kind = t.kind
    if kind is Kind.INT:
        return st.integers(-(2**31), 2**31 - 1)
    if kind is Kind.LONG:
        return st.integers(-(2**63), 2**63 - 1)
    if kind is Kind.DOUBLE:
        return st.floats(allow_nan=False)
    if kind is Kind.BYTES:
        if (comb, field) in text_fields():
            return st.text(max_size=40).map(str.encode)
        return st.binary(max_size=300)
    if kind is Kind.INT128:
        return st.binary(min_size=16, max_size=16)
    if kind is Kind.INT256:
        return st.binary(min_size=32, max_size=32)
    if kind in (Kind.BOOL, Kind.TRUE):
        return st.booleans()
    if kind in (Kind.VECTOR, Kind.BARE_VECTOR):
        if depth >= MAX_GEN_DEPTH:
            return st.just([])
        assert t.item is not None
        return st.lists(value_strategy(t.item, comb, field, depth + 1, peer), max_size=4)
    if kind is Kind.BARE:
        return object_strategy(t.name, depth + 1, peer)
    if kind is Kind.BOXED:
        options = SCHEMA.constructors_of[t.name]
        if depth >= MAX_GEN_DEPTH:
            leaves = tuple(c for c in options if all(_is_leaf(p.type) for p in c.params))
            options = leaves or options
        return st.one_of([object_strategy(c.name, depth + 1, peer) for c in options])
    if kind in (Kind.OBJECT, Kind.FUNCTION):
        if peer:  # only what both peers can represent
            leaf = "ping" if kind is Kind.FUNCTION else "pong"
            return st.just(GET_CONFIG) | object_strategy(leaf, depth + 1, peer)
        if depth >= MAX_GEN_DEPTH:
            return raw_unknown_object
        names = FUNCTION_NAMES if kind is Kind.FUNCTION else OBJECT_NAMES
        return st.one_of(
            [raw_unknown_object] + [object_strategy(n, depth + 1, peer) for n in names]
        )
    raise AssertionError(kind)


def _is_leaf(t: TLType) -> bool:
    return t.kind not in (Kind.BOXED, Kind.BARE, Kind.OBJECT, Kind.FUNCTION, Kind.VECTOR)


@functools.cache
def object_strategy(name: str, depth: int = 0, peer: bool = False) -> Any:
    comb = SCHEMA[name]
    fields = {}
    for param in comb.value_params:
        if name == "message" and param.name == "bytes":
            continue
        value = value_strategy(param.type, name, param.name, depth, peer)
        if param.is_optional and param.type.kind is not Kind.TRUE:
            value = st.none() | value
        fields[param.name] = value
    return st.fixed_dictionaries(fields).map(lambda kw: tl.make(name, **kw))


def encode(obj: TLObject) -> bytes:
    return tl.serialize(obj, boxed=obj.name not in BARE_ONLY)


def decode(data: bytes, name: str, **kwargs: Any) -> TLObject:
    return tl.deserialize(data, bare=name if name in BARE_ONLY else None, **kwargs)


def has_open_ended_field(name: str, seen: frozenset[str] = frozenset()) -> bool:
    """Whether the combinator can hold an Object (which may end anywhere)."""
    if name in seen:
        return False

    def check(t: TLType) -> bool:
        if t.kind in (Kind.OBJECT, Kind.FUNCTION):
            return True
        if t.item is not None:
            return check(t.item)
        if t.kind is Kind.BARE:
            return has_open_ended_field(t.name, seen | {name})
        if t.kind is Kind.BOXED:
            return any(
                has_open_ended_field(c.name, seen | {name}) for c in SCHEMA.constructors_of[t.name]
            )
        return False

    return any(check(p.type) for p in SCHEMA[name].params)


# --------------------------------------------------------------------------
# Schema.


KNOWN_ANSWER_IDS = {
    "resPQ": 0x05162463,
    "msgs_ack": 0x62D6B459,
    "ping": 0x7ABE77EC,
    "pong": 0x347773C5,
    "req_pq_multi": 0xBE7E8EF1,
    "p_q_inner_data_dc": 0xA9F55F95,
    "p_q_inner_data_temp_dc": 0x56FDDF88,
    "server_DH_inner_data": 0xB5890DBA,
    "client_DH_inner_data": 0x6643B654,
    "bad_server_salt": 0xEDAB447B,
    "new_session_created": 0x9EC20908,
    "future_salts": 0xAE500895,
    "msg_container": 0x73F1F8DC,
    "rpc_result": 0xF35C6D01,
    "gzip_packed": 0x3072CFA1,
    "bind_auth_key_inner": 0x75A3F765,
    "auth.bindTempAuthKey": 0xCDD42A05,
    "invokeWithLayer": 0xDA9B0D0D,
    "initConnection": 0xC1CD5EA9,
}


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_id_is_the_crc32_of_the_normalized_combinator(name: str) -> None:
    comb = SCHEMA[name]
    assert comb.id == tl.combinator_id(comb.text)
    assert comb.id == zlib.crc32(tl.normalize_combinator(comb.text).encode())


@pytest.mark.parametrize(("name", "expected"), sorted(KNOWN_ANSWER_IDS.items()))
def test_known_constructor_ids(name: str, expected: int) -> None:
    assert SCHEMA[name].id == expected


def test_normalization_rules() -> None:
    assert (
        tl.normalize_combinator(
            "resPQ#05162463 nonce:int128 server_nonce:int128 pq:string "
            "server_public_key_fingerprints:Vector<long> = ResPQ;"
        )
        == "resPQ nonce:int128 server_nonce:int128 pq:string "
        "server_public_key_fingerprints:Vector long = ResPQ"
    )
    # `bytes` hashes as `string`, but a field *named* bytes is untouched.
    assert tl.normalize_combinator("a#1 bytes:int x:bytes y:flags.0?bytes = A") == (
        "a bytes:int x:string y:flags.0?string = A"
    )
    assert tl.normalize_combinator("f {X:Type} q:!X = X") == "f X:Type q:!X = X"
    assert tl.normalize_combinator("a flags:# b:flags.1?true c:flags.2?int = A") == (
        "a flags:# c:flags.2?int = A"
    )
    assert tl.combinator_id("vector {t:Type} # [ t ] = Vector t") == 0x1CB5C415


def test_wrong_written_id_is_refused_at_load() -> None:
    with pytest.raises(TLError, match="CRC32"):
        tl.load_schema("pong#347773c6 msg_id:long ping_id:long = Pong;")
    with pytest.raises(TLError, match="no #id"):
        tl.load_schema("pong msg_id:long ping_id:long = Pong;")
    with pytest.raises(TLError, match="unknown boxed type"):
        tl.load_schema(f"x#{tl.combinator_id('x a:Foo = X'):08x} a:Foo = X;")


def test_schema_loader_handles_multiline_and_sections() -> None:
    text = (
        "// comment\npong#347773c5 msg_id:long\n   ping_id:long = Pong;\n"
        "---functions---\nping#7abe77ec ping_id:long = Pong; // trailing\n"
    )
    schema = tl.load_schema(text)
    assert schema["ping"].is_function and not schema["pong"].is_function
    assert schema.by_id[0x347773C5].name == "pong"


@needs_peers
@pytest.mark.parametrize("name", sorted(PEERS))
def test_ids_agree_with_peer_tables(name: str) -> None:
    for lib in LIBS:
        if not PEERS[name][LIBS.index(lib)]:
            continue
        cls = peer_class(lib, name)
        peer_id = cls.CONSTRUCTOR_ID if lib == "telethon" else cls.ID
        assert peer_id == SCHEMA[name].id


# --------------------------------------------------------------------------
# Primitives.


def test_bytes_encoding_layout() -> None:
    assert tl.pack_bytes(b"") == b"\x00\x00\x00\x00"
    assert tl.pack_bytes(b"abc") == b"\x03abc"
    assert tl.pack_bytes(b"abcd") == b"\x04abcd\x00\x00\x00"
    long_value = bytes(range(254))
    packed = tl.pack_bytes(long_value)
    assert packed[:4] == b"\xfe\xfe\x00\x00" and len(packed) % 4 == 0
    assert Reader(packed).read_bytes() == long_value
    assert tl.pack_string("é") == b"\x02\xc3\xa9\x00"


@given(st.binary(max_size=2000))
def test_bytes_round_trip(value: bytes) -> None:
    packed = tl.pack_bytes(value)
    assert len(packed) % 4 == 0
    reader = Reader(packed, strict_padding=True)
    assert reader.read_bytes() == value
    reader.expect_end()


@given(
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.binary(min_size=16, max_size=16),
    st.binary(min_size=32, max_size=32),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=10),
)
def test_writer_reader_round_trip(
    i: int, q: int, d: float, b: bool, n128: bytes, n256: bytes, longs: list[int]
) -> None:
    w = tl.Writer()
    w.write_int32(i)
    w.write_int64(q)
    w.write_double(d)
    w.write_bool(b)
    w.write_int128(n128)
    w.write_int256(n256)
    w.write_vector_header(len(longs))
    for x in longs:
        w.write_int64(x)
    r = Reader(w.getvalue())
    assert r.read_int32() == i
    assert r.read_int64() == q
    assert r.read_double() == d
    assert r.read_bool() is b
    assert r.read_int128() == n128
    assert r.read_int256() == n256
    assert r.read_vector(Reader.read_int64, min_item_size=8) == longs
    r.expect_end()
    assert w.getvalue() == (
        tl.pack_int(i)
        + tl.pack_long(q)
        + tl.pack_double(d)
        + tl.pack_bool(b)
        + tl.pack_int128(n128)
        + tl.pack_int256(n256)
        + tl.pack_vector(tl.pack_long(x) for x in longs)
    )


def test_padding_and_length_prefix_strictness() -> None:
    sloppy = b"\x01a\x00\x07"  # non-zero padding
    assert Reader(sloppy).read_bytes() == b"a"
    with pytest.raises(TLError, match="padding"):
        Reader(sloppy, strict_padding=True).read_bytes()
    long_form_short = b"\xfe\x01\x00\x00a\x00\x00\x00"
    assert Reader(long_form_short).read_bytes() == b"a"
    with pytest.raises(TLError, match="non-canonical"):
        Reader(long_form_short, strict_padding=True).read_bytes()
    with pytest.raises(TLError):
        Reader(b"\xff\x00\x00\x00").read_bytes()
    with pytest.raises(TLError, match="bound"):
        Reader(tl.pack_bytes(b"x" * 100), max_bytes_length=99).read_bytes()
    # The same checks through the codec's Limits.
    rpc_error = struct.pack("<Ii", SCHEMA["rpc_error"].id, 400) + sloppy
    assert tl.deserialize(rpc_error).error_message == b"a"
    with pytest.raises(TLError):
        tl.deserialize(rpc_error, limits=Limits(strict_padding=True))


@pytest.mark.parametrize(
    "read",
    [
        Reader.read_int32,
        Reader.read_uint32,
        Reader.read_int64,
        Reader.read_int128,
        Reader.read_int256,
        Reader.read_double,
        Reader.read_bytes,
        Reader.read_bool,
        Reader.peek_uint32,
    ],
)
def test_primitive_truncation_raises_tlerror(read: Callable[[Reader], object]) -> None:
    for size in range(3):
        with pytest.raises(TLError):
            read(Reader(b"\x05" * size))


def test_packers_validate_arguments() -> None:
    with pytest.raises(InvalidArgument):
        tl.pack_int(2**31)
    with pytest.raises(InvalidArgument):
        tl.pack_long(-(2**63) - 1)
    with pytest.raises(InvalidType):
        tl.pack_int(True)
    with pytest.raises(InvalidArgument):
        tl.pack_int128(b"\x00" * 15)
    with pytest.raises(InvalidType):
        tl.pack_bytes("text")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        tl.pack_bytes(b"\x00" * (1 << 24))
    with pytest.raises(InvalidType):
        Reader("not bytes")  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Round trips of every combinator.


@pytest.mark.parametrize("name", ALL_NAMES)
@SETTINGS
@given(data=st.data())
def test_round_trip(name: str, data: st.DataObject) -> None:
    obj = data.draw(object_strategy(name))
    encoded = encode(obj)
    assert len(encoded) % 4 == 0
    decoded = decode(encoded, name)
    assert decoded == obj
    assert encode(decoded) == encoded
    if name not in BARE_ONLY:
        assert tl.deserialize_body(encoded) == obj
        assert tl.serialize(obj, boxed=False) == encoded[4:]
        assert tl.deserialize(encoded[4:], bare=name) == obj


def test_make_canonicalizes() -> None:
    obj = tl.make("rpc_error", error_code=420, error_message="FLOOD_WAIT_3")
    assert obj.error_message == b"FLOOD_WAIT_3"
    assert obj["error_code"] == 420
    init = tl.make(
        "initConnection",
        api_id=1,
        device_model="d",
        system_version="s",
        app_version="a",
        system_lang_code="en",
        lang_pack="",
        lang_code="en",
        query=tl.make("ping", ping_id=1),
    )
    assert init.proxy is None and init.params is None
    assert tl.make("jsonNumber", value=3).value == 3.0
    assert tl.make("msgs_ack", msg_ids=(1, 2)).msg_ids == [1, 2]


def test_flags_are_derived() -> None:
    base = {
        "api_id": 1,
        "device_model": "d",
        "system_version": "s",
        "app_version": "a",
        "system_lang_code": "en",
        "lang_pack": "",
        "lang_code": "en",
        "query": GET_CONFIG,
    }
    plain = tl.serialize(tl.make("initConnection", **base))
    assert plain[4:8] == b"\x00\x00\x00\x00"
    proxy = tl.make("inputClientProxy", address="1.2.3.4", port=443)
    both = tl.serialize(tl.make("initConnection", proxy=proxy, params=tl.make("jsonNull"), **base))
    assert both[4:8] == b"\x03\x00\x00\x00"
    # An unknown flag bit is refused: the layout after it would be unknowable.
    forged = both[:4] + b"\x07\x00\x00\x00" + both[8:]
    with pytest.raises(TLError, match="unknown bits"):
        tl.deserialize(forged)


def test_encoder_rejects_bad_objects() -> None:
    with pytest.raises(InvalidArgument, match="unknown"):
        tl.make("nope")
    with pytest.raises(InvalidArgument, match="missing"):
        tl.make("pong", msg_id=1)
    with pytest.raises(InvalidArgument, match="no field"):
        tl.make("ping", ping_id=1, extra=2)
    with pytest.raises(InvalidType):
        tl.make("ping", ping_id="1")
    with pytest.raises(InvalidArgument):
        tl.make("req_pq_multi", nonce=b"short")
    with pytest.raises(InvalidType, match="expected an int"):
        tl.serialize(TLObject("msgs_ack", {"msg_ids": [TLObject("pong", {})]}))
    with pytest.raises(InvalidArgument, match="expected a JSONValue"):
        tl.serialize(TLObject("jsonArray", {"value": [tl.make("pong", msg_id=1, ping_id=2)]}))
    with pytest.raises(InvalidArgument, match="function"):
        tl.make("invokeWithLayer", layer=1, query=tl.make("pong", msg_id=1, ping_id=2))
    with pytest.raises(InvalidArgument, match="multiple of 4"):
        tl.make("rpc_result", req_msg_id=1, result=b"abc")
    with pytest.raises(InvalidArgument, match="bare-only"):
        tl.serialize(TLObject("message", {"msg_id": 1, "seqno": 0, "body": GET_CONFIG}))
    container = tl.make("msg_container", messages=[])
    with pytest.raises(InvalidArgument, match="nested"):
        tl.make(
            "msg_container",
            messages=[tl.make("message", msg_id=1, seqno=1, body=container)],
        )


def test_tlobject_is_an_immutable_value_with_redacting_repr() -> None:
    nonce = bytes(range(16))
    obj = tl.make("req_pq_multi", nonce=nonce)
    assert obj == TLObject("req_pq_multi", {"nonce": nonce})
    assert obj != TLObject("req_pq", {"nonce": nonce})
    with pytest.raises(TypeError):
        obj.fields["nonce"] = b""  # type: ignore[index]
    with pytest.raises(AttributeError):
        obj.missing  # noqa: B018
    assert repr(obj) == "TLObject(req_pq_multi, nonce=<16 bytes>)"
    nested = tl.make("msgs_ack", msg_ids=[1, 2])
    assert pickle.loads(pickle.dumps(nested)) == nested
    assert copy.deepcopy(nested) == nested and copy.copy(nested) == nested
    assert nonce.hex() not in repr(obj) and repr(nonce) not in repr(obj)


def test_module_doctest() -> None:
    assert doctest.testmod(tl, raise_on_error=True).attempted > 0


# --------------------------------------------------------------------------
# Special combinators.


def test_rsa_public_key_fingerprint_matches_telethon() -> None:
    n = int.from_bytes(hashlib.sha512(b"n").digest() * 4, "big") | 1
    e = 65537
    key = tl.make(
        "rsa_public_key",
        n=n.to_bytes((n.bit_length() + 7) // 8, "big"),
        e=e.to_bytes(3, "big"),
    )
    digest = hashlib.sha1(tl.serialize(key, boxed=False)).digest()
    fingerprint = struct.unpack("<q", digest[-8:])[0]
    if HAVE_PEERS:
        import rsa
        from telethon.crypto.rsa import _compute_fingerprint

        assert fingerprint == _compute_fingerprint(rsa.PublicKey(n, e))


def test_container_with_unknown_and_known_bodies() -> None:
    pong = tl.make("pong", msg_id=5, ping_id=6)
    container = tl.make(
        "msg_container",
        messages=[
            tl.make("message", msg_id=8, seqno=1, body=pong),
            tl.make("message", msg_id=12, seqno=3, body=GET_CONFIG + b"\x00" * 8),
            tl.make(
                "message",
                msg_id=16,
                seqno=5,
                body=tl.make("rpc_result", req_msg_id=4, result=GET_CONFIG),
            ),
        ],
    )
    data = tl.serialize(container)
    assert data[:8] == b"\xdc\xf8\xf1\x73\x03\x00\x00\x00"
    # message: msg_id, seqno, bytes, then the body.
    assert data[8:24] == struct.pack("<qii", 8, 1, 20)
    assert tl.deserialize(data) == container


def _container_bytes(bodies: list[bytes]) -> bytes:
    out = struct.pack("<Ii", SCHEMA["msg_container"].id, len(bodies))
    for i, body in enumerate(bodies):
        out += struct.pack("<qii", 4 * i + 1, 2 * i, len(body)) + body
    return out


def test_container_rules() -> None:
    pong = tl.serialize(tl.make("pong", msg_id=1, ping_id=2))
    assert len(tl.deserialize(_container_bytes([pong, pong])).messages) == 2
    # A body longer than what its object fills.
    with pytest.raises(TLError, match="trailing"):
        tl.deserialize(_container_bytes([pong + b"\x00" * 4]))
    # Lengths that are negative, not a multiple of 4, too small or too large.
    for length in (-4, 0, 6, len(pong) + 4):
        data = struct.pack("<Iiqii", SCHEMA["msg_container"].id, 1, 1, 0, length) + pong
        with pytest.raises(TLError):
            tl.deserialize(data)
    # Nesting.
    with pytest.raises(TLError, match="nested"):
        tl.deserialize(_container_bytes([_container_bytes([pong])]))
    # Nesting hidden inside gzip_packed is still nesting.
    hidden = tl.serialize(tl.gzip_pack(_container_bytes([pong])))
    tl.deserialize(_container_bytes([hidden]))  # opaque unless unpacked
    with pytest.raises(TLError, match="nested"):
        tl.deserialize(_container_bytes([hidden]), unpack_gzip=True)
    # The message count limit.
    tl.deserialize(_container_bytes([pong] * 1024))
    with pytest.raises(TLError, match="limit"):
        tl.deserialize(_container_bytes([pong] * 1025))
    with pytest.raises(TLError, match="limit"):
        tl.deserialize(_container_bytes([pong] * 3), limits=Limits(max_container_messages=2))


def test_rpc_result_with_unknown_and_known_results() -> None:
    error = tl.make("rpc_error", error_code=401, error_message="AUTH_KEY_UNREGISTERED")
    result = tl.make("rpc_result", req_msg_id=99, result=error)
    assert tl.deserialize(tl.serialize(result)) == result
    opaque = tl.make("rpc_result", req_msg_id=99, result=b"\x01\x02\x03\x04" * 5)
    assert tl.deserialize(tl.serialize(opaque)).result == b"\x01\x02\x03\x04" * 5
    # An unknown object inside a known one extends to the end of the input.
    assert tl.deserialize_body(b"\x01\x02\x03\x04" * 2) == b"\x01\x02\x03\x04" * 2
    with pytest.raises(TLError, match="unknown"):
        tl.deserialize(b"\x01\x02\x03\x04" * 2)


def test_gzip_packed_unpacking() -> None:
    pong = tl.make("pong", msg_id=1, ping_id=2)
    packed = tl.gzip_pack(pong)
    assert packed.name == "gzip_packed"
    assert gzip.decompress(packed.packed_data) == tl.serialize(pong)
    wrapped = tl.make("rpc_result", req_msg_id=7, result=packed)
    data = tl.serialize(wrapped)
    assert tl.deserialize(data) == wrapped  # kept as is by default
    assert tl.deserialize(data, unpack_gzip=True).result == pong
    assert tl.deserialize(tl.serialize(packed), unpack_gzip=True) == pong
    assert tl.deserialize_body(tl.serialize(packed), unpack_gzip=True) == pong
    # Unknown content comes back raw from a body, but is refused by deserialize.
    unknown = tl.serialize(tl.gzip_pack(GET_CONFIG))
    assert tl.deserialize_body(unknown, unpack_gzip=True) == GET_CONFIG
    with pytest.raises(TLError):
        tl.deserialize(unknown, unpack_gzip=True)
    # Corrupt, truncated and trailing gzip data.
    good = packed.packed_data
    for bad in (b"not gzip", good[:-3], good + b"\x00"):
        with pytest.raises(TLError):
            tl.gunzip(bad, max_size=1 << 20)
        body = tl.serialize(tl.make("gzip_packed", packed_data=bad))
        with pytest.raises(TLError):
            tl.deserialize_body(body, unpack_gzip=True)


def _gzip_zeros(total: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\x00" * (1 << 20)
    parts = [compressor.compress(chunk) for _ in range(total // len(chunk))]
    return b"".join(parts) + compressor.flush()


def test_gzip_bomb_is_bounded() -> None:
    bomb = _gzip_zeros(64 << 20)  # 64 MiB of zeros in ~64 KiB
    assert len(bomb) < 1 << 17
    body = tl.serialize(tl.make("gzip_packed", packed_data=bomb))
    tracemalloc.start()
    try:
        with pytest.raises(TLError, match="more than"):
            tl.deserialize_body(body, unpack_gzip=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < (16 << 20) + (4 << 20)  # the default 16 MiB cap, plus slack
    with pytest.raises(TLError):
        tl.gunzip(_gzip_zeros(1 << 20), max_size=(1 << 20) - 1)
    assert len(tl.gunzip(_gzip_zeros(1 << 20), max_size=1 << 20)) == 1 << 20


def test_gzip_budget_is_shared_across_one_call() -> None:
    chunk = tl.gzip_pack(tl.make("msgs_ack", msg_ids=[0] * 2000))  # ~16 KB inside
    inner_size = len(tl.serialize(tl.make("msgs_ack", msg_ids=[0] * 2000)))
    container = tl.make(
        "msg_container",
        messages=[tl.make("message", msg_id=4 * i, seqno=0, body=chunk) for i in range(4)],
    )
    data = tl.serialize(container)
    limits = Limits(max_gzip_size=inner_size * 4)
    assert len(tl.deserialize(data, unpack_gzip=True, limits=limits).messages) == 4
    with pytest.raises(TLError):
        tl.deserialize(data, unpack_gzip=True, limits=Limits(max_gzip_size=inner_size * 3))


# --------------------------------------------------------------------------
# Bounds on untrusted input.


def test_huge_vector_counts_do_not_allocate() -> None:
    for count in (2**31 - 1, 1 << 24, 3):
        data = struct.pack("<IIi", SCHEMA["msgs_ack"].id, 0x1CB5C415, count) + b"\x00" * 16
        tracemalloc.start()
        try:
            with pytest.raises(TLError, match="exceeds"):
                tl.deserialize(data)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1 << 16
    with pytest.raises(TLError, match="negative"):
        tl.deserialize(struct.pack("<IIi", SCHEMA["msgs_ack"].id, 0x1CB5C415, -1))
    huge_container = struct.pack("<Ii", SCHEMA["msg_container"].id, 2**31 - 1) + b"\x00" * 64
    with pytest.raises(TLError, match="exceeds"):
        tl.deserialize(huge_container)


def _nested_json(depth: int) -> TLObject:
    value = tl.make("jsonNull")
    for _ in range(depth):
        value = TLObject("jsonArray", {"value": [value]})
    return value


def _nested_results(depth: int) -> bytes:
    data = tl.serialize(tl.make("pong", msg_id=1, ping_id=1))
    head = struct.pack("<Iq", SCHEMA["rpc_result"].id, 1)
    return head * depth + data


def test_nesting_depth_is_bounded() -> None:
    limits = Limits(max_depth=64)
    ok = _nested_json(20)
    assert tl.deserialize(tl.serialize(ok)) == ok
    deep = tl.Codec(limits=limits).serialize(_nested_json(40))
    with pytest.raises(TLError, match="deep"):
        tl.deserialize(deep)
    assert tl.deserialize(deep, limits=limits).name == "jsonArray"
    with pytest.raises(InvalidArgument, match="deep"):
        tl.serialize(_nested_json(40))
    with pytest.raises(TLError, match="deep"):
        tl.deserialize(_nested_results(40))
    # A depth limit far beyond the interpreter's stack still fails cleanly.
    with pytest.raises(TLError):
        tl.deserialize(_nested_results(5000), limits=Limits(max_depth=10**6))


# --------------------------------------------------------------------------
# Fuzz contract: any input parses or raises TLError, nothing else.


def _decode_every_way(data: bytes) -> None:
    calls: list[Callable[[], object]] = [
        lambda: tl.deserialize(data),
        lambda: tl.deserialize(data, unpack_gzip=True),
        lambda: tl.deserialize(data, allow_trailing=True),
        lambda: tl.deserialize_body(data, unpack_gzip=True),
        lambda: tl.deserialize(data, bare="message"),
        lambda: tl.deserialize(data, bare="msg_container"),
        lambda: tl.deserialize(data, bare="initConnection"),
        lambda: tl.deserialize(data, limits=Limits(strict_padding=True)),
    ]
    for call in calls:
        try:
            call()
        except TLError:
            pass


@budget(3)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data: bytes) -> None:
    _decode_every_way(data)


@budget(3)
@given(
    st.sampled_from(sorted(KNOWN_IDS)),
    st.binary(max_size=120),
)
def test_fuzz_known_id_then_random_bytes(constructor: int, tail: bytes) -> None:
    _decode_every_way(struct.pack("<I", constructor) + tail)


@SETTINGS
@given(data=st.data())
def test_fuzz_mutated_valid_encodings(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from([*OBJECT_NAMES, "msg_container"]))
    encoded = bytearray(encode(data.draw(object_strategy(name))))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "set", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(len(encoded) - 1, 0)))
        if op == "flip" and encoded:
            encoded[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "set" and encoded:
            encoded[pos] = data.draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFE, 0xFF]))
        elif op == "cut":
            del encoded[pos:]
        else:
            encoded[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    _decode_every_way(bytes(encoded))


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@pytest.mark.parametrize("name", ALL_NAMES)
@budget(0.15)
@given(data=st.data())
def test_truncation_raises_tlerror(name: str, data: st.DataObject) -> None:
    encoded = encode(data.draw(object_strategy(name)))
    strict = not has_open_ended_field(name)
    for cut in range(len(encoded)):
        try:
            decode(encoded[:cut], name)
        except TLError:
            continue
        # Only an object ending in an Object field may parse when cut short
        # (the field then holds fewer raw bytes).
        assert not strict, f"{name} parsed when truncated to {cut} bytes"


# --------------------------------------------------------------------------
# Differential checks against Telethon and Pyrogram (kurigram).


@needs_peers
@pytest.mark.parametrize(
    ("lib", "name"),
    [(lib, name) for name in sorted(PEERS) for lib in LIBS if PEERS[name][LIBS.index(lib)]],
)
@SETTINGS
@given(data=st.data())
def test_peers_agree_byte_for_byte(lib: str, name: str, data: st.DataObject) -> None:
    obj = data.draw(object_strategy(name, 0, True))
    ours = tl.serialize(obj)
    expected = (
        tl.serialize(obj, boxed=False) if (lib == "pyrogram" and name in PYROGRAM_BARE) else ours
    )
    # Their encoding of the same value is ours...
    theirs = peer_bytes(lib, to_peer(lib, obj))
    assert theirs == expected
    # ...they parse ours back to the same value...
    if not (lib == "pyrogram" and contains_json_vector(obj)):
        assert peer_bytes(lib, peer_parse(lib, ours)) == expected
    # ...and we parse theirs.
    if expected is ours:
        assert tl.deserialize(theirs) == obj


@needs_peers
@SETTINGS
@given(data=st.data())
def test_msg_container_against_peers(data: st.DataObject) -> None:
    from pyrogram.raw.core import Message as PyroMessage
    from pyrogram.raw.core import MsgContainer as PyroContainer

    names = ["pong", "msgs_ack", "new_session_created", "bad_server_salt", "future_salts"]
    bodies = data.draw(
        st.lists(st.sampled_from(names).flatmap(lambda n: object_strategy(n, 1, True)), max_size=4)
    )
    ids = data.draw(st.lists(st.integers(0, 2**62), min_size=len(bodies), max_size=len(bodies)))
    seqnos = data.draw(
        st.lists(st.integers(0, 2**31 - 1), min_size=len(bodies), max_size=len(bodies))
    )
    container = tl.make(
        "msg_container",
        messages=[
            tl.make("message", msg_id=m, seqno=s, body=b)
            for m, s, b in zip(ids, seqnos, bodies, strict=True)
        ],
    )
    ours = tl.serialize(container)
    pyro = PyroContainer(
        [
            PyroMessage(to_peer("pyrogram", b), m, s, len(tl.serialize(b)))
            for m, s, b in zip(ids, seqnos, bodies, strict=True)
        ]
    )
    assert pyro.write() == ours
    assert tl.deserialize(pyro.write()) == container
    parsed = peer_parse("telethon", ours)
    assert isinstance(parsed, telethon_core.MessageContainer)
    assert [(m.msg_id, m.seq_no, bytes(m.obj)) for m in parsed.messages] == [
        (m, s, tl.serialize(b)) for m, s, b in zip(ids, seqnos, bodies, strict=True)
    ]


@needs_peers
def test_rpc_result_and_gzip_against_telethon() -> None:
    from telethon.tl.core import GzipPacked, RpcResult

    pong = tl.make("pong", msg_id=3, ping_id=4)
    error = tl.make("rpc_error", error_code=400, error_message="BAD")
    parsed = peer_parse("telethon", tl.serialize(tl.make("rpc_result", req_msg_id=9, result=pong)))
    assert isinstance(parsed, RpcResult)
    assert parsed.req_msg_id == 9 and parsed.body == tl.serialize(pong)
    parsed = peer_parse("telethon", tl.serialize(tl.make("rpc_result", req_msg_id=9, result=error)))
    assert parsed.error.error_message == "BAD"
    packed = tl.serialize(tl.make("rpc_result", req_msg_id=9, result=tl.gzip_pack(pong)))
    assert peer_parse("telethon", packed).body == tl.serialize(pong)
    theirs = bytes(GzipPacked(tl.serialize(pong)))
    assert tl.deserialize(theirs, unpack_gzip=True) == pong
    assert tl.deserialize_body(theirs, unpack_gzip=True) == pong


@needs_peers
def test_gzip_against_pyrogram() -> None:
    from pyrogram.raw.core import GzipPacked

    Pong = peer_class("pyrogram", "pong")

    pong = tl.make("pong", msg_id=3, ping_id=4)
    theirs = GzipPacked(Pong(msg_id=3, ping_id=4)).write()
    assert tl.deserialize(theirs, unpack_gzip=True) == pong
    parsed = peer_parse("pyrogram", tl.serialize(tl.gzip_pack(pong)))
    assert parsed.write() == tl.serialize(pong)


@needs_peers
def test_init_connection_as_telethon_sends_it() -> None:
    from telethon.tl import functions, types

    request = functions.InvokeWithLayerRequest(
        229,
        functions.InvokeWithoutUpdatesRequest(
            functions.InitConnectionRequest(
                api_id=1,
                device_model="PC",
                system_version="Linux",
                app_version="1.0",
                system_lang_code="en",
                lang_pack="",
                lang_code="en",
                query=functions.help.GetConfigRequest(),
                proxy=types.InputClientProxy("proxy.example", 443),
                params=types.JsonObject([types.JsonObjectValue("tz", types.JsonString("UTC"))]),
            )
        ),
    )
    parsed = tl.deserialize(bytes(request))
    assert parsed.layer == 229
    init = parsed.query.query
    assert init.name == "initConnection"
    assert init.proxy == tl.make("inputClientProxy", address="proxy.example", port=443)
    assert init.params.value[0].value.value == b"UTC"
    assert init.query == GET_CONFIG
    assert tl.serialize(parsed) == bytes(request)


@given(
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=40),
    st.sampled_from(["ok", "count+1", "count-1", "negative", "vector", "trailing", "short"]),
)
def test_msgs_ack_fast_path_agrees_with_the_general_decoder(ids: list[int], shape: str) -> None:
    """The codec reads a plain msgs_ack in one unpack; it must agree with the
    general decoder on every input, errors included."""
    import struct as _struct

    from mtcrypt.tl import Codec

    count = {"count+1": len(ids) + 1, "count-1": len(ids) - 1, "negative": -1}.get(shape, len(ids))
    vector = 0x1CB5C416 if shape == "vector" else 0x1CB5C415
    body = _struct.pack(f"<IIi{len(ids)}q", 0x62D6B459, vector, count, *ids)
    body += b"\0\0\0\0" if shape == "trailing" else b""
    body = body[:10] if shape == "short" else body
    fast = tl.default_codec()
    general = Codec()
    general._fast_acks = False
    assert fast._fast_acks

    def outcome(codec: Codec) -> object:
        try:
            return codec.deserialize(body)
        except TLError as exc:
            return type(exc)

    assert outcome(fast) == outcome(general)


@given(st.binary(max_size=100))
def test_msgs_ack_fast_path_agrees_on_any_tail(tail: bytes) -> None:
    import struct as _struct

    from mtcrypt.tl import Codec

    body = _struct.pack("<I", 0x62D6B459) + tail
    general = Codec()
    general._fast_acks = False
    outcomes = []
    for codec in (tl.default_codec(), general):
        try:
            outcomes.append(codec.deserialize(body))
        except TLError as exc:
            outcomes.append(type(exc))
    assert outcomes[0] == outcomes[1]
