"""The two entries for the hottest calls (mtcrypt/_native/_fastcall.c and its
cffi twin, mtcrypt/_native/cffi_entry.py) against independent references, and
their shared contract: the plain case is answered, anything else returns None
so the public function takes its validating path.  The public functions are
tested through whichever entry is active (CI runs the suite with both)."""

from __future__ import annotations

import gc
import importlib
import os
import platform
import subprocess
import sys
from typing import Any

import pytest
from conftest import IN_CI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import ige_decrypt, ige_encrypt, open2, seal2

import mtcrypt.crypto as mc
from mtcrypt._native import ENTRY, HOT, cffi_entry, ffi, lib
from mtcrypt.errors import DecryptionFailed, InvalidArgument, InvalidLength
from mtcrypt.mtproto import (
    AuthKey,
    InnerMessage,
    decrypt_message,
    decrypt_messages,
    encrypt_message,
    encrypt_messages,
)


def _fast_module() -> Any:
    try:
        return importlib.import_module("mtcrypt._native._fastcall")
    except ImportError:
        if IN_CI and platform.python_implementation() == "CPython":
            raise  # CI builds it: its absence is a broken build
        pytest.skip("the fast entry is not built")


@pytest.fixture(params=["fast", "cffi"])
def entry(request: pytest.FixtureRequest) -> Any:
    if request.param == "cffi":
        return cffi_entry
    module = _fast_module()
    if HOT is not module:  # built, but this process runs with MTCRYPT_ENTRY=cffi: bind a
        pytest.skip("the fast entry is not bound in this process (MTCRYPT_ENTRY=cffi)")
    return module


# The fixture returns a module: nothing to reset between examples.
same_entry = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
blocks = st.integers(1, 40).flatmap(lambda n: st.binary(min_size=16 * n, max_size=16 * n))
key32 = st.binary(min_size=32, max_size=32)


@same_entry
@given(data=blocks, key=key32, iv=key32)
def test_ige_matches_reference(entry: Any, data: bytes, key: bytes, iv: bytes) -> None:
    assert entry.ige256(False, data, key, iv) == ige_encrypt(data, key, iv)
    assert entry.ige256(True, data, key, iv) == ige_decrypt(data, key, iv)


def test_ige_large_releases_nothing_it_should_not(entry: Any) -> None:
    # Above the GIL-release threshold: same answers.
    data, key, iv = os.urandom(1 << 16), os.urandom(32), os.urandom(32)
    assert entry.ige256(False, data, key, iv) == ige_encrypt(data, key, iv)


@pytest.mark.parametrize(
    "args",
    [
        (bytearray(16), b"k" * 32, b"i" * 32),
        (memoryview(bytes(16)), b"k" * 32, b"i" * 32),
        (b"", b"k" * 32, b"i" * 32),
        (b"x" * 17, b"k" * 32, b"i" * 32),
        (b"x" * 16, b"k" * 31, b"i" * 32),
        (b"x" * 16, b"k" * 32, b"i" * 33),
        (b"x" * 16, None, b"i" * 32),
        ("text" * 4, b"k" * 32, b"i" * 32),
    ],
)
def test_ige_anything_but_the_plain_case_is_none(entry: Any, args: tuple[Any, ...]) -> None:
    assert entry.ige256(False, *args) is None
    assert entry.ige256(True, *args) is None


@same_entry
@given(items=st.lists(st.tuples(blocks, key32, key32), min_size=1, max_size=30))
def test_batch_matches_reference(entry: Any, items: list[tuple[bytes, bytes, bytes]]) -> None:
    assert entry.ige256_batch(False, items) == [ige_encrypt(*t) for t in items]
    assert entry.ige256_batch(True, items) == [ige_decrypt(*t) for t in items]


def test_batch_large_and_unchanged_input(entry: Any) -> None:
    items = [(os.urandom(4096), os.urandom(32), os.urandom(32)) for _ in range(64)]
    copy = list(items)
    out = entry.ige256_batch(False, items)
    assert items == copy
    assert out == [ige_encrypt(*t) for t in items]
    assert all(type(o) is bytes for o in out)


@pytest.mark.parametrize(
    "items",
    [
        [],
        [(b"x" * 16, b"k" * 32)],
        [[b"x" * 16, b"k" * 32, b"i" * 32]],
        [(b"x" * 16, b"k" * 32, b"i" * 32), (b"", b"k" * 32, b"i" * 32)],
        [(b"x" * 16, b"k" * 32, b"i" * 32), (bytearray(16), b"k" * 32, b"i" * 32)],
        [(b"x" * 16, b"k" * 32, b"i" * 31)],
        [(b"x" * 15, b"k" * 32, b"i" * 32)],
        [None],
        ((b"x" * 16, b"k" * 32, b"i" * 32),),  # a tuple, not a list
    ],
)
def test_batch_anything_but_the_plain_case_is_none(entry: Any, items: Any) -> None:
    assert entry.ige256_batch(False, items) is None


@same_entry
@given(
    lengths=st.lists(st.integers(0, 40).map(lambda n: 16 * n), min_size=1, max_size=30),
    as_tuple=st.booleans(),
    decrypt=st.booleans(),
)
def test_batch_into_matches_reference(
    entry: Any, lengths: list[int], as_tuple: bool, decrypt: bool
) -> None:
    count = len(lengths)
    keys, ivs, data = os.urandom(32 * count), os.urandom(32 * count), os.urandom(sum(lengths))
    out = bytearray(len(data))
    assert (
        entry.ige256_batch_into(
            decrypt, data, keys, ivs, tuple(lengths) if as_tuple else lengths, out
        )
        is True
    )
    one = ige_decrypt if decrypt else ige_encrypt
    pos, expected = 0, b""
    for i, n in enumerate(lengths):
        expected += one(data[pos : pos + n], keys[32 * i : 32 * i + 32], ivs[32 * i : 32 * i + 32])
        pos += n
    assert out == expected


def test_batch_into_large_into_any_writable_buffer(entry: Any) -> None:
    # Above the GIL-release threshold, into a memoryview and an array.
    import array

    lengths = [4096] * 20
    keys, ivs, data = os.urandom(640), os.urandom(640), os.urandom(4096 * 20)
    expected = b"".join(
        ige_encrypt(
            data[4096 * i : 4096 * (i + 1)], keys[32 * i : 32 * (i + 1)], ivs[32 * i : 32 * (i + 1)]
        )
        for i in range(20)
    )
    for out in (memoryview(bytearray(len(data))), array.array("B", bytes(len(data)))):
        assert entry.ige256_batch_into(False, data, keys, ivs, lengths, out) is True
        assert bytes(out) == expected


@pytest.mark.parametrize(
    "args",
    [
        (bytearray(16), b"k" * 32, b"i" * 32, [16], bytearray(16)),  # data not bytes
        (b"x" * 16, bytearray(32), b"i" * 32, [16], bytearray(16)),
        (b"x" * 16, b"k" * 32, b"i" * 32, [16], bytes(16)),  # out read-only
        (b"x" * 16, b"k" * 32, b"i" * 32, [16], bytearray(32)),  # out too long
        (b"x" * 16, b"k" * 31, b"i" * 32, [16], bytearray(16)),
        (b"x" * 16, b"k" * 32, b"i" * 64, [16], bytearray(16)),
        (b"x" * 16, b"k" * 32, b"i" * 32, [17], bytearray(16)),
        (b"x" * 16, b"k" * 32, b"i" * 32, [-16], bytearray(16)),
        (b"x" * 16, b"k" * 32, b"i" * 32, [2**70], bytearray(16)),
        (b"x" * 16, b"k" * 32, b"i" * 32, [True], bytearray(16)),
        (b"x" * 16, b"k" * 32, b"i" * 32, [16.0], bytearray(16)),
        (b"x" * 32, b"k" * 64, b"i" * 64, [16, 32], bytearray(32)),  # sum too large
        (b"x" * 16, b"k" * 32, b"i" * 32, iter([16]), bytearray(16)),
        (b"", b"", b"", [], bytearray()),
        (b"x" * 16, b"k" * 32, b"i" * 32, [16], memoryview(bytearray(32))[::2]),
    ],
)
def test_batch_into_anything_but_the_plain_case_is_none(entry: Any, args: tuple[Any, ...]) -> None:
    out = args[-1]
    before = bytes(out) if not isinstance(out, memoryview) else None
    assert entry.ige256_batch_into(False, *args) is None
    if before is not None:
        assert bytes(out) == before  # nothing written
    assert sum(range(3)) == 3  # no pending error


def test_batch_survives_a_finalizer_that_empties_the_list(entry: Any) -> None:
    # Allocating the outputs may run the collector; a finalizer that changes the
    # caller's list must not free what the entry is about to read.
    items = [(os.urandom(4096), os.urandom(32), os.urandom(32)) for _ in range(32)]
    expected = [ige_encrypt(*t) for t in items]
    victim = list(items)

    class Clearer:
        def __del__(self) -> None:
            victim.clear()

    for _ in range(200):
        c = Clearer()
        c.self = c  # a cycle: only the collector frees it
        del c
    gc.set_threshold(1)
    try:
        out = entry.ige256_batch(False, victim)
    finally:
        gc.set_threshold(700, 10, 10)
        gc.collect()
    assert out is None or out == expected


RAW = os.urandom(256)
KEY = AuthKey(RAW)


def _plain(body_len: int) -> bytes:
    return InnerMessage(1, 2, 0x6000000000000004, 1, os.urandom(body_len)).pack()


@same_entry
@given(body=st.integers(0, 300).map(lambda n: os.urandom(4 * n)), x=st.sampled_from([0, 8]))
def test_seal_opens_with_the_reference(entry: Any, body: bytes, x: int) -> None:
    plain = InnerMessage(1, 2, 3, 1, body).pack()
    packet = entry.msg_seal_random(RAW, KEY.key_id_bytes, x, plain, 0)
    assert packet[:8] == KEY.key_id_bytes
    assert open2(RAW, packet, x)[: len(plain)] == plain
    assert entry.msg_open(RAW, KEY.key_id_bytes, x, packet) == plain


@same_entry
@given(split=st.integers(0, 400), x=st.sampled_from([0, 8]))
def test_seal_in_two_pieces_is_the_same_message(entry: Any, split: int, x: int) -> None:
    plain = _plain(4 * 100)
    head, tail = plain[: 32 + split], plain[32 + split :]
    packet = entry.msg_seal_random(RAW, KEY.key_id_bytes, x, head, 0, tail)
    assert len(packet) == len(entry.msg_seal_random(RAW, KEY.key_id_bytes, x, plain, 0))
    assert open2(RAW, packet, x)[: len(plain)] == plain
    assert entry.msg_seal_random(RAW, KEY.key_id_bytes, x, plain[:31], 0, plain[31:]) is None
    assert entry.msg_seal_random(RAW, KEY.key_id_bytes, x, head, 0, bytearray(tail)) is None


@same_entry
@given(x=st.sampled_from([0, 8]), body_len=st.integers(0, 100))
def test_open_matches_reference(entry: Any, x: int, body_len: int) -> None:
    plain = _plain(4 * body_len)
    pad = os.urandom(12 + (-(len(plain) + 12) & 15))
    packet = seal2(RAW, plain + pad, x)
    assert entry.msg_open(RAW, KEY.key_id_bytes, x, packet) == plain
    padded, length = entry.msg_open_padded(RAW, KEY.key_id_bytes, x, packet)
    assert (padded, length) == (plain + pad, len(plain) - 32)
    tampered = packet[:30] + bytes([packet[30] ^ 1]) + packet[31:]
    assert entry.msg_open(RAW, KEY.key_id_bytes, x, tampered) is False
    assert entry.msg_open_padded(RAW, KEY.key_id_bytes, x, tampered) is False
    assert entry.msg_open(RAW, KEY.key_id_bytes, 8 - x, packet) is False
    assert entry.msg_open(RAW, KEY.key_id_bytes, x, packet[:40]) is False


@same_entry
@given(
    bodies=st.lists(st.integers(0, 300).map(lambda n: 4 * n), min_size=1, max_size=20),
    x=st.sampled_from([0, 8]),
)
def test_message_batches_match_the_reference(entry: Any, bodies: list[int], x: int) -> None:
    plains = [_plain(n) for n in bodies]
    packets = entry.msg_seal_batch(RAW, KEY.key_id_bytes, x, plains)
    assert [type(p) for p in packets] == [bytes] * len(plains)
    for plain, packet in zip(plains, packets, strict=True):
        assert packet[:8] == KEY.key_id_bytes
        padded = open2(RAW, packet, x)
        assert padded[: len(plain)] == plain
        assert 12 <= len(padded) - len(plain) <= 27  # the least padding
    # Opened by the batch, with tampered and short packets among them.
    mixed = [*packets, packets[0][:-16] + bytes(16), b"", packets[0][:40], b"x" * 72]
    scratch = bytearray(sum(len(p) for p in mixed))
    opened = entry.msg_open_batch(RAW, KEY.key_id_bytes, x, mixed, scratch)
    assert opened == [*plains, False, False, False, False]
    assert scratch == bytes(len(scratch))  # no plaintext left in the scratch
    if sum(len(p) for p in mixed) <= 16384:  # small enough for the entry's own room
        assert entry.msg_open_batch(RAW, KEY.key_id_bytes, x, mixed, None) == opened


def test_message_batches_seal_independent_padding(entry: Any) -> None:
    plain = _plain(64)
    a, b = entry.msg_seal_batch(RAW, KEY.key_id_bytes, 0, [plain, plain])
    assert a != b  # the padding (and so msg_key) is fresh per message


@pytest.mark.parametrize(
    "args",
    [
        (RAW, KEY.key_id_bytes, 0, []),
        (RAW, KEY.key_id_bytes, 0, (_plain(16),)),  # a tuple, not a list
        (RAW, KEY.key_id_bytes, 0, [bytearray(_plain(16))]),
        (RAW, KEY.key_id_bytes, 0, [_plain(16), b"x" * 31]),  # shorter than the header
        (RAW, KEY.key_id_bytes, 0, [_plain(16)[:-2]]),  # not whole words
        (RAW, KEY.key_id_bytes, 0, [_plain(16) + bytes(4)]),  # the length field disagrees
        (RAW, KEY.key_id_bytes, 4, [_plain(16)]),
        (RAW, KEY.key_id_bytes, True, [_plain(16)]),
        (RAW[:255], KEY.key_id_bytes, 0, [_plain(16)]),
        (RAW, KEY.key_id_bytes[:7], 0, [_plain(16)]),
        (bytearray(RAW), KEY.key_id_bytes, 0, [_plain(16)]),
    ],
)
def test_message_batch_seal_refusals(entry: Any, args: tuple[Any, ...]) -> None:
    assert entry.msg_seal_batch(*args) is None
    assert sum(range(3)) == 3  # no pending error


def test_message_batch_open_refusals(entry: Any) -> None:
    packet = entry.msg_seal_random(RAW, KEY.key_id_bytes, 0, _plain(64), 0)
    big = bytearray(4096)
    # A scratch too small (or none, for more than the entry's own room): the size it takes.
    assert (
        entry.msg_open_batch(RAW, KEY.key_id_bytes, 0, [packet], bytearray(10)) == len(packet) - 24
    )
    large = entry.msg_seal_random(RAW, KEY.key_id_bytes, 0, _plain(20000), 0)
    assert entry.msg_open_batch(RAW, KEY.key_id_bytes, 0, [large, packet], None) == (
        len(large) + len(packet) - 48
    )
    roomy = bytearray(len(large) + len(packet))
    assert entry.msg_open_batch(RAW, KEY.key_id_bytes, 0, [large, packet], roomy) == [
        entry.msg_open(RAW, KEY.key_id_bytes, 0, large),
        entry.msg_open(RAW, KEY.key_id_bytes, 0, packet),
    ]
    assert roomy == bytes(len(roomy))
    for args in [
        (RAW, KEY.key_id_bytes, 0, [packet], bytes(4096)),  # read-only scratch
        (RAW, KEY.key_id_bytes, 0, [packet], 42),
        (RAW, KEY.key_id_bytes, 0, (packet,), big),
        (RAW, KEY.key_id_bytes, 0, [bytearray(packet)], big),
        (RAW, KEY.key_id_bytes, 0, [], big),
        (RAW, KEY.key_id_bytes, 2**70, [packet], big),
        (RAW, KEY.key_id_bytes[:7], 0, [packet], big),
    ]:
        assert entry.msg_open_batch(*args) is None
    assert big == bytes(4096)
    # The right scratch opens it, under the right direction only.
    expected = entry.msg_open(RAW, KEY.key_id_bytes, 0, packet)
    assert entry.msg_open_batch(RAW, KEY.key_id_bytes, 0, [packet], big) == [expected]
    assert entry.msg_open_batch(RAW, KEY.key_id_bytes, 8, [packet], big) == [False]


def test_public_message_batches_take_the_entry_and_fall_back() -> None:
    plains = [_plain(n) for n in (0, 16, 1000, 4096)]
    packets = encrypt_messages(KEY, plains, from_server=True)
    assert decrypt_messages(KEY, packets, from_server=True) == plains
    # A tampered packet becomes a DecryptionFailed in its place; the rest open.
    opened = decrypt_messages(KEY, [packets[0], packets[1][:-1] + b"?"], from_server=True)
    assert opened[0] == plains[0] and isinstance(opened[1], DecryptionFailed)
    # Other forms take the validating path and agree.
    assert decrypt_messages(KEY, tuple(bytearray(p) for p in packets), from_server=True) == plains
    sealed = encrypt_messages(KEY, tuple(memoryview(p) for p in plains), from_server=False)
    assert decrypt_messages(KEY, sealed, from_server=False) == plains
    with pytest.raises(InvalidArgument):
        encrypt_messages(KEY, [plains[0], plains[0][:-4]], from_server=False)


def test_seal_extra_blocks_and_refusals(entry: Any) -> None:
    plain = _plain(64)
    for extra in (0, 1, 62):
        packet = entry.msg_seal_random(RAW, KEY.key_id_bytes, 0, plain, extra)
        assert packet is not None
        assert entry.msg_open(RAW, KEY.key_id_bytes, 0, packet) == plain
    bad_length_field = plain[:28] + b"\x00\x00\x00\x00" + plain[32:]
    for args in [
        (RAW, KEY.key_id_bytes, 0, plain, 64),  # padding beyond 1024
        (RAW, KEY.key_id_bytes, 0, plain, -1),
        (RAW, KEY.key_id_bytes, 0, plain, True),  # a bool is not a count
        (RAW, KEY.key_id_bytes, True, plain, 0),
        (RAW, KEY.key_id_bytes, 4, plain, 0),
        (RAW[:255], KEY.key_id_bytes, 0, plain, 0),
        (RAW, KEY.key_id_bytes[:7], 0, plain, 0),
        (RAW, KEY.key_id_bytes, 0, bytearray(plain), 0),
        (RAW, KEY.key_id_bytes, 0, plain[:31], 0),
        (RAW, KEY.key_id_bytes, 0, plain + b"x", 0),
        (RAW, KEY.key_id_bytes, 0, bad_length_field, 0),  # the core refuses: None
    ]:
        assert entry.msg_seal_random(*args) is None, args


def test_open_refusals(entry: Any) -> None:
    packet = encrypt_message(KEY, _plain(64), from_server=True)
    for args in [
        (RAW, KEY.key_id_bytes, 8, bytearray(packet)),
        (RAW[:255], KEY.key_id_bytes, 8, packet),
        (RAW, KEY.key_id_bytes, True, packet),
        (RAW, b"short", 8, packet),
    ]:
        assert entry.msg_open(*args) is None, args
        assert entry.msg_open_padded(*args) is None, args


# ---- the public functions, through whichever entry is active --------------------


def test_public_functions_still_validate() -> None:
    with pytest.raises(InvalidLength, match="multiple of 16"):
        mc.ige256_encrypt(b"x" * 17, b"k" * 32, b"i" * 32)
    with pytest.raises(InvalidArgument, match="item 1"):
        mc.ige256_encrypt_batch([(b"x" * 16, b"k" * 32, b"i" * 32), (b"x",)])  # type: ignore[list-item]
    with pytest.raises(InvalidLength, match="iv of item 0"):
        mc.ige256_encrypt_batch([(b"x" * 16, b"k" * 32, b"i" * 31)])
    with pytest.raises(InvalidArgument):
        encrypt_message(KEY, _plain(64), from_server=False, extra_padding_blocks=True)  # type: ignore[arg-type]
    with pytest.raises(DecryptionFailed):
        decrypt_message(KEY, b"\x00" * 100, from_server=True)


def test_public_batch_mixed_inputs_and_empty_messages() -> None:
    key, iv = os.urandom(32), os.urandom(32)
    items = [(bytearray(32), key, iv), (b"", key, iv), (memoryview(bytes(48)), key, iv)]
    out = mc.ige256_encrypt_batch(iter(items))
    assert out == [ige_encrypt(bytes(d), key, iv) for d, _, _ in items]


def test_backend_info_names_the_entry() -> None:
    assert mc.backend_info().entry == ENTRY


@pytest.mark.parametrize("value", ["cffi", "fast", "auto", "bogus"])
def test_entry_environment_variable(value: str) -> None:
    env = dict(os.environ, MTCRYPT_ENTRY=value)
    code = "import mtcrypt.crypto as c; print(c.backend_info().entry)"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if value == "bogus":
        assert proc.returncode != 0
        assert "MTCRYPT_ENTRY='bogus'" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    if value == "cffi":
        assert proc.stdout.strip() == "cffi"
    else:
        _fast_module()
        assert proc.stdout.strip() == "fast"


def test_fast_entry_binds_once_to_one_core() -> None:
    """Binding the same core again (a re-import, a subinterpreter) is a no-op;
    binding other addresses is refused, so the entry never switches cores."""
    fast = _fast_module()
    if HOT is not fast:
        pytest.skip("not bound in this process")
    addresses = tuple(int(ffi.cast("uintptr_t", ffi.addressof(lib, n))) for n in fast.needs())
    fast.bind(addresses)
    other = (addresses[1], addresses[0], *addresses[2:])
    with pytest.raises(RuntimeError, match="another core"):
        fast.bind(other)
    key, iv = os.urandom(32), os.urandom(32)
    assert fast.ige256(False, bytes(32), key, iv) == ige_encrypt(bytes(32), key, iv)


def test_reimport_keeps_the_entry() -> None:
    code = (
        "import importlib, sys, mtcrypt._native as n; first = n.ENTRY; "
        "importlib.reload(n); del sys.modules['mtcrypt._native']; "
        "import mtcrypt._native as m; print(first, n.ENTRY, m.ENTRY)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert len(set(proc.stdout.split())) == 1


class _List(list):  # type: ignore[type-arg]
    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(list.__iter__(self))[::-1])


def test_subclasses_are_not_the_plain_case(entry: Any) -> None:
    """A list or tuple subclass may override iteration: both entries leave it to
    the validating path, which honours it."""
    items = [(os.urandom(32), os.urandom(32), os.urandom(32)) for _ in range(3)]
    assert entry.ige256_batch(False, _List(items)) is None

    class _Tuple(tuple):  # type: ignore[type-arg]
        pass

    assert entry.ige256_batch(False, [_Tuple(items[0])]) is None
    # The validating path iterates the subclass as it says (ciphertexts in its order).
    assert mc.ige256_encrypt_batch(_List(items)) == [ige_encrypt(*t) for t in reversed(items)]


def test_out_of_range_ints_leave_no_pending_error(entry: Any) -> None:
    plain = _plain(16)
    assert entry.msg_seal_random(RAW, KEY.key_id_bytes, 0, plain, 2**70, None) is None
    assert entry.msg_seal_random(RAW, KEY.key_id_bytes, 2**70, plain, 0) is None
    assert entry.msg_open(RAW, KEY.key_id_bytes, -(2**70), b"x" * 100) is None
    assert sum(range(3)) == 3  # the interpreter carries on normally
