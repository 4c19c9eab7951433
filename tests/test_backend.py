"""Backend reporting and selection, and GIL release."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import pytest
from conftest import on_backend
from Crypto.Cipher import AES
from oracle import ige_decrypt, ige_encrypt

import mtcrypt.crypto as mc
from mtcrypt._native import select_backend
from mtcrypt.errors import BackendUnavailable


def test_backend_info_reports_choice() -> None:
    info = mc.backend_info()
    assert info.aes in ("portable", "vpaes", "aesni", "vaes", "armv8")
    requested = os.environ.get("MTCRYPT_BACKEND", "auto") or "auto"
    assert info.requested == requested
    if requested == "portable":
        assert info.aes == "portable" and not info.sha_accelerated
    if requested == "auto" and "aesni" in info.cpu_features:
        assert info.aes in ("aesni", "vaes")
    if requested == "auto" and "armv8_aes" in info.cpu_features:
        assert info.aes == "armv8"
    elif requested == "auto" and ("ssse3" in info.cpu_features or "neon" in info.cpu_features):
        if "aesni" not in info.cpu_features:
            assert info.aes == "vpaes"  # no AES instructions: the vector-permute fallback


def test_unknown_backend_rejected() -> None:
    with pytest.raises(BackendUnavailable, match="unknown backend"):
        select_backend("turbo")


def test_env_var_forces_portable_in_a_fresh_process() -> None:
    code = "import mtcrypt.crypto as c; i = c.backend_info(); print(i.aes, i.sha_accelerated)"
    env = dict(os.environ, MTCRYPT_BACKEND="portable")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["portable", "False"]


def test_bad_env_var_gives_clear_error() -> None:
    env = dict(os.environ, MTCRYPT_BACKEND="nope")
    out = subprocess.run(
        [sys.executable, "-c", "import mtcrypt.crypto"], env=env, capture_output=True, text=True
    )
    assert out.returncode != 0
    assert "MTCRYPT_BACKEND='nope'" in out.stderr


ALL_BACKENDS = ["portable", "vpaes", "aesni", "vaes", "armv8"]


@pytest.mark.parametrize("name", ALL_BACKENDS)
def test_every_available_backend_agrees(name: str) -> None:
    """Each backend against the one the process started with (a different
    implementation unless they are the same backend, which the suite's runs
    under every MTCRYPT_BACKEND cover), for single calls, CTR and batches."""
    key, iv, data = os.urandom(32), os.urandom(32), os.urandom(4096)
    items = [(data[: 16 * i], key, iv) for i in range(20)]
    reference = mc.ige256_encrypt(data, key, iv)
    reference_ctr = mc.Ctr256(key, iv[:16]).update(data)
    reference_batch = [mc.ige256_encrypt(*it) for it in items]
    with on_backend(name):
        assert mc.backend_info().aes == name
        assert mc.ige256_encrypt(data, key, iv) == reference
        assert mc.Ctr256(key, iv[:16]).update(data) == reference_ctr
        assert mc.ige256_encrypt_batch(items) == reference_batch


def test_backend_of_another_architecture_is_unavailable() -> None:
    """Each accelerated backend is refused, with the documented error, where its
    instructions are absent: armv8 on x86, the x86 ones on aarch64."""
    features = mc.backend_info().cpu_features
    absent = [
        name
        for name, needs in (("armv8", "armv8_aes"), ("aesni", "aesni"), ("vaes", "vaes"))
        if needs not in features
    ]
    assert absent  # no CPU has both AES-NI and the ARMv8 extensions
    before = mc.backend_info().aes
    for name in absent:
        with pytest.raises(BackendUnavailable, match=f"{name!r} is not supported by this CPU"):
            select_backend(name)
        assert mc.backend_info().aes == before


def test_gil_is_released_during_native_calls() -> None:
    """While one thread is inside a long native call, another thread keeps
    running Python code.  (A count, not a timing: with the GIL held the main
    thread could not execute a single iteration until the call returned.)"""
    key, iv = os.urandom(32), os.urandom(32)
    data = os.urandom(32 << 20)
    inside = threading.Event()
    done = threading.Event()

    def work() -> None:
        inside.set()
        mc.ige256_encrypt(data, key, iv)
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    inside.wait()
    iterations = 0
    while not done.is_set():
        iterations += 1
    worker.join()
    assert iterations > 1000, iterations


def test_two_threads_share_the_work() -> None:
    """Results stay correct when threads hammer the core concurrently."""
    key, iv = os.urandom(32), os.urandom(32)
    data = os.urandom(1 << 16)
    expected = mc.ige256_encrypt(data, key, iv)
    errors: list[bytes] = []

    def work() -> None:
        for _ in range(50):
            got = mc.ige256_encrypt(data, key, iv)
            if got != expected:
                errors.append(got)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


@pytest.mark.parametrize("name", ALL_BACKENDS)
def test_every_backend_matches_pycryptodome(name: str) -> None:
    """Each backend against pycryptodome (and the IGE oracle built on it) on
    random keys and lengths: one-shot IGE, the key-object forms (whose
    decryption uses the backend's own decryption schedule), CBC, CTR at odd
    lengths, and batches of 1..9 messages of unequal lengths (lane refills,
    tails shorter than the interleave)."""
    rng = random.Random(int.from_bytes(os.urandom(8), "big"))
    with on_backend(name):
        for blocks in (0, 1, 2, 3, 4, 5, 7, 8, 9, 17, 64):
            key, iv, data = os.urandom(32), os.urandom(32), os.urandom(16 * blocks)
            assert mc.ige256_encrypt(data, key, iv) == ige_encrypt(data, key, iv)
            assert mc.ige256_decrypt(data, key, iv) == ige_decrypt(data, key, iv)
            aes = mc.Aes256(key)
            assert aes.ige_encrypt(data, iv) == ige_encrypt(data, key, iv)
            assert aes.ige_decrypt(data, iv) == ige_decrypt(data, key, iv)
            cbc = AES.new(key, AES.MODE_CBC, iv=iv[:16])
            assert aes.cbc_encrypt(data, iv[:16]) == cbc.encrypt(data)
            assert aes.cbc_decrypt(data, iv[:16]) == AES.new(key, AES.MODE_CBC, iv=iv[:16]).decrypt(
                data
            )
            odd = data + os.urandom(rng.randrange(1, 16))
            ctr = AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=iv[:16])
            assert mc.Ctr256(key, iv[:16]).update(odd) == ctr.encrypt(odd)
        for count in range(1, 10):
            items = [
                (os.urandom(16 * rng.randrange(0, 12)), os.urandom(32), os.urandom(32))
                for _ in range(count)
            ]
            assert mc.ige256_encrypt_batch(items) == [ige_encrypt(*it) for it in items]
            assert mc.ige256_decrypt_batch(items) == [ige_decrypt(*it) for it in items]


_T = TypeVar("_T")


def _portable_reference(fn: Callable[[], _T]) -> _T:
    """``fn()`` computed on the portable backend (then back to the one in use)."""
    with on_backend("portable"):
        return fn()


# Block counts around the vector widths (2 blocks per 256-bit register, 4 per 512-bit) and the
# wide kernels' chunks of 16 blocks: a chunk and a tail, several chunks, odd counts.
EDGE_BLOCKS = (1, 2, 3, 5, 8, 15, 16, 17, 18, 31, 32, 33, 47, 63, 100)


@pytest.mark.parametrize("name", ALL_BACKENDS)
def test_parallel_kernels_at_their_edges(name: str) -> None:
    """The parallel kernels (VAES on 256- or 512-bit registers, the eight-block AES-NI and
    ARMv8 loops) against pycryptodome and the portable backend: CTR with the 128-bit
    counter's low word 1..40 blocks short of its carry (the carry at, inside and after a
    chunk of 16 blocks) and across 2**128, CBC decryption, both in place and at block counts
    that are no multiple of the vector width, and batch IGE with more messages than the
    widest backend has lanes, of unequal lengths, in place."""
    rng = random.Random(int.from_bytes(os.urandom(8), "big"))
    with on_backend(name):
        key = os.urandom(32)
        for short in (*range(1, 41), 2**64):
            low = (2**64 - short) % 2**64
            high = rng.choice((0, rng.getrandbits(64), 2**64 - 1))
            counter = (high << 64 | low).to_bytes(16, "big")
            data = os.urandom(16 * rng.choice(EDGE_BLOCKS[5:]) + rng.randrange(16))
            ref = AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=counter).encrypt(data)
            buf = bytearray(data)
            stream = mc.Ctr256(key, counter)
            stream.update_into(buf, buf)
            assert buf == ref, (short, high)
            after = (int.from_bytes(counter, "big") + -(-len(data) // 16)) % 2**128
            assert stream.counter == after.to_bytes(16, "big")
        for blocks in EDGE_BLOCKS:
            iv = os.urandom(16)
            data = os.urandom(16 * blocks)
            ref = AES.new(key, AES.MODE_CBC, iv=iv).decrypt(data)
            buf = bytearray(data)
            mc.cbc256_decrypt_into(buf, key, iv, buf)
            assert buf == ref, blocks
            odd = data + os.urandom(rng.randrange(1, 16))
            assert mc.Ctr256(key, iv).update(odd) == _portable_reference(
                lambda odd=odd, iv=iv: mc.Ctr256(key, iv).update(odd)
            )
        for count in (9, 12, 13, 25, 40):
            lengths = [16 * rng.choice((0, *EDGE_BLOCKS)) for _ in range(count)]
            keys, ivs = os.urandom(32 * count), os.urandom(32 * count)
            data = os.urandom(sum(lengths))
            for decrypt in (False, True):
                buf = bytearray(data)
                mc.ige256_batch_into(buf, keys, ivs, lengths, buf, decrypt=decrypt)
                one = ige_decrypt if decrypt else ige_encrypt
                offsets = [sum(lengths[:i]) for i in range(count)]
                expected = b"".join(
                    one(data[o : o + n], keys[32 * i : 32 * i + 32], ivs[32 * i : 32 * i + 32])
                    for i, (o, n) in enumerate(zip(offsets, lengths, strict=True))
                )
                assert buf == expected, (count, decrypt)
                portable = bytearray(len(data))
                batch = partial(mc.ige256_batch_into, data, keys, ivs, lengths, decrypt=decrypt)
                _portable_reference(partial(batch, portable))
                assert buf == portable


@pytest.mark.parametrize("name", ALL_BACKENDS)
def test_batch_ige_with_buffers_in_one_cache_set(name: str) -> None:
    """Packed messages whose lengths are multiples of 4 KiB all start in one L1 set, which
    makes the lane scheduler stagger its lanes (modes.c, lanes_crowd): lanes wait before
    their first job, then refill one at a time.  Equal and unequal lengths, empty messages,
    fewer and more messages than lanes, bytes input (the fast entry) and in place, both
    directions, against the one-message reference."""
    rng = random.Random(int.from_bytes(os.urandom(8), "big"))
    with on_backend(name):
        for count, sizes in (
            (12, (4096,)),
            (13, (4096,)),
            (25, (4096, 8192)),
            (30, (0, 4096, 8192, 12288)),
            (7, (4096,)),
        ):
            lengths = [rng.choice(sizes) for _ in range(count)]
            keys, ivs = os.urandom(32 * count), os.urandom(32 * count)
            data = os.urandom(sum(lengths))
            offsets = [sum(lengths[:i]) for i in range(count)]
            for decrypt in (False, True):
                one = ige_decrypt if decrypt else ige_encrypt
                expected = b"".join(
                    one(data[o : o + n], keys[32 * i : 32 * i + 32], ivs[32 * i : 32 * i + 32])
                    for i, (o, n) in enumerate(zip(offsets, lengths, strict=True))
                )
                out = bytearray(len(data))
                mc.ige256_batch_into(data, keys, ivs, lengths, out, decrypt=decrypt)
                assert out == expected, (count, decrypt)
                buf = bytearray(data)
                mc.ige256_batch_into(buf, keys, ivs, tuple(lengths), buf, decrypt=decrypt)
                assert buf == expected, (count, decrypt)


def test_vaes_feature_means_the_256_bit_form() -> None:
    """``vaes`` among the CPU features means VAES usable with AVX2 (so AES-NI and ``avx2``
    are there too); ``avx512`` says whether the 512-bit kernels run.  Where VAES is, auto
    picks the vaes backend, with or without AVX-512."""
    info = mc.backend_info()
    if "vaes" not in info.cpu_features:
        pytest.skip("no VAES on this CPU")
    assert {"aesni", "avx2"} <= set(info.cpu_features)
    if (os.environ.get("MTCRYPT_BACKEND", "auto") or "auto") == "auto":
        assert info.aes == "vaes"
