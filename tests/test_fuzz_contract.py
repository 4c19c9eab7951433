"""The fuzz contract (issue 6): any input into any public parser or decrypt
path either works or raises a documented :mod:`mtcrypt.errors` exception,
nothing else (no ``struct.error``, ``IndexError``, ``TypeError`` from the
FFI, ``MemoryError``, crash or hang).

The same rule, in one place for every entry point that takes bytes from the
outside: the TL codec (``deserialize``, ``deserialize_body``,
``read_object``, ``Reader``), ``decrypt_message``/``decrypt_messages``/
``decrypt_message_v1``, ``unpack_plain``, ``InnerMessage.parse``,
``factorize_pq``, and every function of :mod:`mtcrypt.crypto` (plus the
message and key constructors) with random lengths and wrong types.  What is
documented per entry point is in ``DOCUMENTED`` below; the bare
:class:`~mtcrypt.errors.MtcryptError` base class (the library's "native call
failed" bug guard) does not count as documented.

Also replayed here: every input saved under fuzz/regressions/ by
fuzz/run.py (atheris targets through their own ``test_one_input``, libFuzzer
targets through the Python entry points; tests/test_sanitizer.py replays
those through the C targets), and a sample of each atheris target's seeds, so
the harnesses cannot rot.  The long runs are fuzz/run.py's job.
"""

from __future__ import annotations

import importlib.util
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import mtcrypt.crypto as mc
from mtcrypt import errors, tl
from mtcrypt.errors import (
    BackendUnavailable,
    DecryptionFailed,
    InvalidArgument,
    TLError,
)
from mtcrypt.handshake import factorize_pq
from mtcrypt.mtproto import (
    AuthKey,
    InnerMessage,
    decrypt_message,
    decrypt_message_v1,
    decrypt_messages,
    encrypt_message,
    encrypt_message_v1,
    encrypt_messages,
    kdf2,
    pack_plain,
    unpack_plain,
)

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "fuzz"
REGRESSIONS = FUZZ / "regressions"

KEY = AuthKey(bytes((i * 29 + 7) & 0xFF for i in range(256)))
SCHEMA = tl.default_schema()
NAMES = sorted(SCHEMA.combinators)
KNOWN_IDS = sorted(SCHEMA.by_id)

#: Every exception mtcrypt documents except the bare base class.
DOCUMENTED: tuple[type[BaseException], ...] = tuple(
    getattr(errors, name) for name in errors.__all__ if name != "MtcryptError"
)


def only(allowed: tuple[type[BaseException], ...], call: Callable[[], Any]) -> Any:
    """Run ``call``; return its result, or None if it raised an ``allowed``
    exception; fail the test on anything else."""
    try:
        return call()
    except allowed:
        return None
    except Exception as exc:  # the contract is broken: say how
        pytest.fail(f"undocumented {type(exc).__name__}: {exc}")


def fast(fraction: float = 1.0) -> settings:
    """Settings scaled from the active hypothesis profile (tests/conftest.py)."""
    base = settings.default.max_examples if settings.default is not None else 100
    return settings(
        max_examples=max(10, int(base * fraction)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ---- inputs ---------------------------------------------------------------------

buffer_kinds = st.sampled_from(["bytes", "bytearray", "memoryview"])


def as_kind(data: bytes, kind: str) -> bytes | bytearray | memoryview:
    if kind == "bytearray":
        return bytearray(data)
    if kind == "memoryview":
        return memoryview(bytearray(data))
    return data


def _mutate(data: bytes, ops: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for op, pos, value in ops:
        pos = pos % (len(out) + 1)
        if op == "flip" and pos < len(out):
            out[pos] ^= 1 << (value % 8)
        elif op == "cut":
            del out[pos:]
        elif op == "insert":
            out[pos:pos] = bytes([value % 256]) * (1 + value % 5)
        elif op == "word" and pos + 4 <= len(out):
            out[pos : pos + 4] = struct.pack("<I", value & 0xFFFFFFFF)
    return bytes(out)


mutations = st.lists(
    st.tuples(
        st.sampled_from(["flip", "cut", "insert", "word"]),
        st.integers(0, 4096),
        st.integers(0, 2**32 - 1),
    ),
    min_size=1,
    max_size=4,
)


@st.composite
def packets(draw: st.DrawFn) -> bytes:
    """Random bytes, bytes behind the right key id, or a mutated valid packet."""
    kind = draw(st.sampled_from(["random", "key_id", "mutated"]))
    if kind == "random":
        return draw(st.binary(max_size=300))
    if kind == "key_id":
        blocks = draw(st.integers(0, 20))
        return KEY.key_id_bytes + draw(
            st.binary(min_size=16 + 16 * blocks, max_size=16 + 16 * blocks)
        )
    body = draw(st.binary(max_size=200).map(lambda b: b[: len(b) // 4 * 4]))
    plain = InnerMessage(1, 2, 0x6000000000000001, 1, body).pack()
    packet = encrypt_message(KEY, plain, from_server=draw(st.booleans()))
    return _mutate(packet, draw(mutations))


def _tl_samples() -> list[bytes]:
    ping = tl.make("ping", ping_id=1)
    pong = tl.make("pong", msg_id=2, ping_id=1)
    message = tl.make("message", msg_id=5, seqno=1, body=pong)
    return [
        tl.serialize(ping),
        tl.serialize(tl.make("rpc_result", req_msg_id=3, result=tl.gzip_pack(pong))),
        tl.serialize(tl.make("msg_container", messages=[message, message])),
        tl.serialize(tl.make("future_salts", req_msg_id=1, now=2, salts=[])),
        tl.serialize(tl.make("rpc_error", error_code=400, error_message=b"X" * 300)),
        tl.serialize(tl.make("jsonObject", value=[])),
    ]


@st.composite
def tl_inputs(draw: st.DrawFn) -> bytes:
    """Random bytes, a known constructor id and random bytes, or a mutated
    valid encoding."""
    kind = draw(st.sampled_from(["random", "known_id", "mutated"]))
    if kind == "random":
        return draw(st.binary(max_size=200))
    if kind == "known_id":
        return struct.pack("<I", draw(st.sampled_from(KNOWN_IDS))) + draw(st.binary(max_size=120))
    return _mutate(draw(st.sampled_from(_tl_samples())), draw(mutations))


# ---- the TL codec -----------------------------------------------------------------


@fast()
@given(
    tl_inputs(),
    st.sampled_from([None, *NAMES]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    buffer_kinds,
)
def test_tl_deserialize(
    data: bytes, bare: str | None, gz: bool, trailing: bool, strict: bool, kind: str
) -> None:
    limits = tl.Limits(strict_padding=True, max_depth=4, max_gzip_size=4096) if strict else None
    only(
        (TLError,),
        lambda: tl.deserialize(
            as_kind(data, kind), bare=bare, unpack_gzip=gz, allow_trailing=trailing, limits=limits
        ),
    )


@fast()
@given(tl_inputs(), st.booleans(), buffer_kinds)
def test_tl_deserialize_body(data: bytes, gz: bool, kind: str) -> None:
    value = only((TLError,), lambda: tl.deserialize_body(as_kind(data, kind), unpack_gzip=gz))
    if isinstance(value, bytes):
        assert value == data  # an unknown body comes back as it is


@fast()
@given(tl_inputs(), st.sampled_from([None, *NAMES]), st.booleans())
def test_tl_read_object(data: bytes, bare: str | None, gz: bool) -> None:
    reader = tl.Reader(data)
    only((TLError,), lambda: tl.read_object(reader, bare=bare, unpack_gzip=gz))
    assert reader.offset + reader.remaining == len(data)


READS: list[Callable[[tl.Reader, int], object]] = [
    lambda r, n: r.read_int32(),
    lambda r, n: r.read_uint32(),
    lambda r, n: r.read_int64(),
    lambda r, n: r.read_int128(),
    lambda r, n: r.read_int256(),
    lambda r, n: r.read_double(),
    lambda r, n: r.read_bytes(),
    lambda r, n: r.read_string(),
    lambda r, n: r.read_bool(),
    lambda r, n: r.read_vector_count(boxed=bool(n & 1), min_item_size=n % 40),
    lambda r, n: r.read_vector(lambda s: s.read_int64(), boxed=bool(n & 1)),
    lambda r, n: r.read_raw(n - 8),
    lambda r, n: r.sub_reader(n).read_rest(),
    lambda r, n: r.peek_uint32(),
    lambda r, n: r.expect_end(),
    lambda r, n: r.read_rest(),
]


@fast()
@given(
    st.binary(max_size=120),
    st.lists(st.tuples(st.integers(0, len(READS) - 1), st.integers(0, 255)), max_size=12),
    st.booleans(),
    st.sampled_from([0, 3, 300, tl.Limits().max_bytes_length]),
)
def test_tl_reader_primitives(
    data: bytes, script: list[tuple[int, int]], strict: bool, max_len: int
) -> None:
    reader = tl.Reader(data, strict_padding=strict, max_bytes_length=max_len)
    for op, n in script:
        only((TLError,), lambda op=op, n=n: READS[op](reader, n))
        assert reader.offset + reader.remaining == len(data)


def test_tl_reader_rejects_non_buffers() -> None:
    for junk in (None, 3, "text", [1, 2]):
        only((errors.InvalidType,), lambda junk=junk: tl.Reader(junk))  # type: ignore[arg-type]


# ---- decryption -------------------------------------------------------------------


@fast()
@given(packets(), st.booleans(), buffer_kinds)
def test_decrypt_message(packet: bytes, from_server: bool, kind: str) -> None:
    plain = only(
        (DecryptionFailed,),
        lambda: decrypt_message(KEY, as_kind(packet, kind), from_server=from_server),
    )
    if plain is not None:  # only an unmodified packet can get here
        assert InnerMessage.parse(plain).pack() == plain


@fast()
@given(st.lists(packets(), max_size=5), st.booleans(), buffer_kinds)
def test_decrypt_messages(batch: list[bytes], from_server: bool, kind: str) -> None:
    results = only(
        (),
        lambda: decrypt_messages(KEY, [as_kind(p, kind) for p in batch], from_server=from_server),
    )
    assert len(results) == len(batch)
    for packet, result in zip(batch, results, strict=True):
        single = only(
            (DecryptionFailed,), lambda p=packet: decrypt_message(KEY, p, from_server=from_server)
        )
        if single is None:
            assert isinstance(result, DecryptionFailed)
        else:
            assert result == single


@fast()
@given(packets(), st.booleans(), buffer_kinds)
def test_decrypt_message_v1(packet: bytes, from_server: bool, kind: str) -> None:
    only(
        (DecryptionFailed,),
        lambda: decrypt_message_v1(KEY, as_kind(packet, kind), from_server=from_server),
    )


def test_decrypt_rejects_non_buffers_with_documented_errors() -> None:
    for junk in (None, 3, "text", [b"x"]):
        for fn in (decrypt_message, decrypt_message_v1):
            only(DOCUMENTED, lambda fn=fn, junk=junk: fn(KEY, junk, from_server=False))
        only(DOCUMENTED, lambda junk=junk: decrypt_messages(KEY, [junk], from_server=False))
        only(DOCUMENTED, lambda junk=junk: decrypt_message(junk, b"x" * 72, from_server=False))


# ---- plain messages, inner messages ----------------------------------------------------


@st.composite
def plain_inputs(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=120))
    body = draw(st.binary(max_size=80))
    valid = pack_plain(draw(st.integers(-(2**63), 2**63 - 1)), body[: len(body) // 4 * 4])
    return _mutate(valid, draw(mutations))


@fast()
@given(plain_inputs(), buffer_kinds)
def test_unpack_plain(data: bytes, kind: str) -> None:
    result = only((InvalidArgument,), lambda: unpack_plain(as_kind(data, kind)))
    if result is not None:
        assert pack_plain(*result) == data


@fast()
@given(st.one_of(st.binary(max_size=120), plain_inputs().map(lambda b: b[4:])), buffer_kinds)
def test_inner_message_parse(data: bytes, kind: str) -> None:
    inner = only((InvalidArgument,), lambda: InnerMessage.parse(as_kind(data, kind)))  # type: ignore[arg-type]
    if inner is not None:
        assert inner.pack() == data


# ---- pq --------------------------------------------------------------------------------


@fast()
@given(
    st.one_of(
        st.integers(-(2**70), 2**70),
        st.integers(0, 2**64 - 1),
        st.tuples(st.integers(2, 2**32 - 1), st.integers(2, 2**32 - 1)).map(lambda t: t[0] * t[1]),
        st.sampled_from([True, False, 1.5, None, "17", b"\x11"]),
    )
)
def test_factorize_pq(pq: object) -> None:
    result = only((InvalidArgument,), lambda: factorize_pq(pq))  # type: ignore[arg-type]
    if result is not None:
        p, q = result
        assert p * q == pq and 1 < p <= q


# ---- every crypto function with random lengths and wrong types ---------------------------------

junk_values = st.sampled_from([None, 0, 1.5, "text", [1], object()])


def maybe_junk(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly well-typed buffers of random length, sometimes a wrong type."""
    buffers = st.tuples(strategy, buffer_kinds).map(lambda t: as_kind(*t))
    return st.one_of(buffers, buffers, buffers, junk_values)


lengths = st.sampled_from([0, 1, 15, 16, 17, 31, 32, 33, 48, 64, 100])
any_len = lengths.flatmap(lambda n: st.binary(min_size=n, max_size=n))
blocks = st.integers(0, 6).flatmap(lambda n: st.binary(min_size=16 * n, max_size=16 * n))
data_args = maybe_junk(st.one_of(any_len, blocks))
key_args = maybe_junk(st.one_of(st.binary(min_size=32, max_size=32), any_len))
iv16_args = maybe_junk(st.one_of(st.binary(min_size=16, max_size=16), any_len))


def _size(data: object) -> int:
    try:
        return len(data)  # type: ignore[arg-type]
    except TypeError:
        return 16


def _writable_like(data: object) -> object:
    return bytearray(_size(data))


CALLS: dict[str, Callable[[Any, Any, Any, Any], object]] = {
    "ige256_encrypt": lambda d, k, v, o: mc.ige256_encrypt(d, k, v),
    "ige256_decrypt": lambda d, k, v, o: mc.ige256_decrypt(d, k, v),
    "ige256_encrypt_into": lambda d, k, v, o: mc.ige256_encrypt_into(d, k, v, o),
    "ige256_decrypt_into": lambda d, k, v, o: mc.ige256_decrypt_into(d, k, v, o),
    "cbc256_encrypt": lambda d, k, v, o: mc.cbc256_encrypt(d, k, v),
    "cbc256_decrypt": lambda d, k, v, o: mc.cbc256_decrypt(d, k, v),
    "cbc256_encrypt_into": lambda d, k, v, o: mc.cbc256_encrypt_into(d, k, v, o),
    "cbc256_decrypt_into": lambda d, k, v, o: mc.cbc256_decrypt_into(d, k, v, o),
    "Aes256.ige_encrypt": lambda d, k, v, o: mc.Aes256(k).ige_encrypt(d, v),
    "Aes256.ige_decrypt": lambda d, k, v, o: mc.Aes256(k).ige_decrypt(d, v),
    "Aes256.cbc_encrypt": lambda d, k, v, o: mc.Aes256(k).cbc_encrypt(d, v),
    "Aes256.cbc_decrypt": lambda d, k, v, o: mc.Aes256(k).cbc_decrypt(d, v),
    "Ctr256.update": lambda d, k, v, o: mc.Ctr256(k, v).update(d),
    "Ctr256.update_into": lambda d, k, v, o: mc.Ctr256(k, v).update_into(d, o),
    "ige256_encrypt_batch": lambda d, k, v, o: mc.ige256_encrypt_batch([(d, k, v), (d, k, v)]),
    "ige256_decrypt_batch": lambda d, k, v, o: mc.ige256_decrypt_batch([(d, k, v)]),
    "ige256_batch_into": lambda d, k, v, o: mc.ige256_batch_into(d, k, v, [_size(d)], o),
    "sha1": lambda d, k, v, o: mc.sha1(d),
    "sha256": lambda d, k, v, o: mc.sha256(d),
    "kdf2": lambda d, k, v, o: kdf2(KEY, v, from_server=True),
    "AuthKey": lambda d, k, v, o: AuthKey(d),
    "encrypt_message": lambda d, k, v, o: encrypt_message(KEY, d, from_server=False),
    "encrypt_messages": lambda d, k, v, o: encrypt_messages(KEY, [d, d], from_server=True),
    "encrypt_message_v1": lambda d, k, v, o: encrypt_message_v1(KEY, d, from_server=False),
    "pack_plain": lambda d, k, v, o: pack_plain(5, d),
}


@pytest.mark.parametrize("name", sorted(CALLS))
@fast(0.3)
@given(data=st.data())
def test_crypto_functions_random_lengths(name: str, data: st.DataObject) -> None:
    d = data.draw(data_args)
    k = data.draw(key_args)
    v = data.draw(st.one_of(iv16_args, key_args))
    out = data.draw(st.one_of(st.just(_writable_like(d)), maybe_junk(any_len)))
    only(DOCUMENTED, lambda: CALLS[name](d, k, v, out))


@fast(0.3)
@given(st.one_of(st.integers(-(2**2050), 2**2050), junk_values))
def test_auth_key_from_int(value: object) -> None:
    only(DOCUMENTED, lambda: AuthKey.from_int(value))  # type: ignore[arg-type]


@fast(0.3)
@given(st.text(max_size=12))
def test_select_backend_unknown_names(name: str) -> None:
    from mtcrypt._native import BACKENDS

    assume(name.strip().lower() not in BACKENDS)  # a valid name would switch the process
    only((BackendUnavailable,), lambda: mc.select_backend(name))


def test_round_trips_survive_the_contract() -> None:
    """Sanity: the strategies above also produce inputs that work."""
    plain = InnerMessage(1, 2, 0x6000000000000001, 1, b"abcd").pack()
    for from_server in (False, True):
        packet = encrypt_message(KEY, plain, from_server=from_server)
        assert decrypt_message(KEY, bytearray(packet), from_server=from_server) == plain
        assert decrypt_messages(KEY, [memoryview(packet)], from_server=from_server) == [plain]


# ---- fuzz/regressions/ and the harnesses' seeds ---------------------------------------------


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_fuzz_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


OPTIONAL_HARNESSES = frozenset(
    {"fuzz_transport", "fuzz_session", "fuzz_handshake", "fuzz_connection"}
)


def _python_harness(name: str) -> Callable[[bytes], None] | None:
    path = FUZZ / "python" / f"{name}.py"
    if not path.exists():
        return None
    try:
        module = _load(path)
    except (ImportError, AttributeError) as exc:
        if name in OPTIONAL_HARNESSES:  # its module is not there (yet)
            pytest.skip(f"{name}: {exc}")
        raise
    fn: Callable[[bytes], None] = module.test_one_input
    return fn


def _every_parser(data: bytes) -> None:
    """The Python entry points a libFuzzer target's input can reach."""
    for from_server in (False, True):
        only((DecryptionFailed,), lambda fs=from_server: decrypt_message(KEY, data, from_server=fs))
        only(
            (DecryptionFailed,),
            lambda fs=from_server: decrypt_message_v1(KEY, data, from_server=fs),
        )
    only((), lambda: decrypt_messages(KEY, [data, data[1:]], from_server=True))
    only((InvalidArgument,), lambda: unpack_plain(data))
    only((InvalidArgument,), lambda: InnerMessage.parse(data))
    only((TLError,), lambda: tl.deserialize(data, unpack_gzip=True))
    only((TLError,), lambda: tl.deserialize_body(data, unpack_gzip=True))
    if len(data) >= 9:
        only((InvalidArgument,), lambda: factorize_pq(int.from_bytes(data[1:9], "little")))


def _regressions() -> Iterator[Any]:
    if not REGRESSIONS.is_dir():
        return
    for harness in sorted(p for p in REGRESSIONS.iterdir() if p.is_dir()):
        for case in sorted(harness.iterdir()):
            if case.is_file() and not case.name.startswith((".", "README")):
                yield pytest.param(harness.name, case, id=f"{harness.name}/{case.name}")


@pytest.mark.parametrize(("harness", "case"), list(_regressions()))
def test_regression_inputs(harness: str, case: Path) -> None:
    data = case.read_bytes()
    run = _python_harness(harness)
    if run is not None:
        run(data)
    else:  # a libFuzzer target: its C replay is in tests/test_sanitizer.py
        _every_parser(data)
        _every_parser(data[1:])


def _seed_generators() -> dict[str, Callable[[], Iterator[bytes]]]:
    gens: dict[str, Callable[[], Iterator[bytes]]] = _load(FUZZ / "gen_corpus.py").GENERATORS
    return gens


@pytest.mark.parametrize("harness", sorted(p.stem for p in (FUZZ / "python").glob("fuzz_*.py")))
def test_python_harnesses_accept_their_seeds(harness: str) -> None:
    """Every atheris target runs clean over a sample of its seed corpus."""
    run = _python_harness(harness)
    assert run is not None
    generator = _seed_generators().get(harness)
    if generator is None:
        pytest.skip(f"fuzz/gen_corpus.py has no seeds for {harness}")
    try:
        seeds = list(generator())
    except ImportError as exc:
        pytest.skip(f"{harness}: {exc}")
    assert seeds, harness
    for seed in seeds[:: max(1, len(seeds) // 40)]:
        run(seed)
