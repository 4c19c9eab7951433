"""The self-check behind ``python -m mtcrypt demo`` and ``info``: what the
native core found, a known-answer check of each primitive, and throughput."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable

from . import __version__
from .crypto import Ctr256, backend_info, ige256_batch_into, ige256_encrypt, sha256
from .mtproto import AuthKey, InnerMessage, decrypt_message, encrypt_message

# FIPS-197 C.3 and the official MTProto sample pq, checked on every run.
_FIPS_KEY = bytes(range(32))
_FIPS_PT = bytes.fromhex("00112233445566778899aabbccddeeff")
_FIPS_CT = bytes.fromhex("8ea2b7ca516745bfeafc49904b496089")


def _say(line: str) -> None:
    print(line, flush=True)


def _rate(fn: Callable[[], object], nbytes: int, seconds: float = 0.25) -> tuple[float, float]:
    """(bytes per second, seconds per call), best of a few timed batches."""
    fn()
    best = float("inf")
    deadline = time.perf_counter() + seconds
    calls = 1
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        per_call = (time.perf_counter() - start) / calls
        best = min(best, per_call)
        if per_call * calls < 0.01:
            calls *= 2
    return nbytes / best, best


def info() -> None:
    b = backend_info()
    _say(f"mtcrypt {__version__} on Python {sys.version.split()[0]}")
    _say(f"CPU features : {', '.join(b.cpu_features) or 'none detected'}")
    _say(f"AES backend  : {b.aes} (MTCRYPT_BACKEND={b.requested})")
    _say(f"SHA backend  : {'SHA extensions' if b.sha_accelerated else 'portable'}")


def known_answers() -> None:
    ct = ige256_encrypt(_FIPS_PT, _FIPS_KEY, bytes(32))  # IGE with a zero IV = one AES block
    assert ct == _FIPS_CT, "AES-256 known answer failed"
    data = os.urandom(4096)
    assert sha256(data) == hashlib.sha256(data).digest(), "SHA-256 disagrees with hashlib"
    from .handshake.pq import factorize_pq

    assert factorize_pq(0x17ED48941A08F981) == (0x494C553B, 0x53911073), "pq failed"
    _say("known answers: AES-256 (FIPS-197), SHA-256 (hashlib), pq (official sample): ok")


def throughput() -> None:
    key, iv = os.urandom(32), os.urandom(32)
    mib = os.urandom(1 << 20)
    rate, _ = _rate(lambda: ige256_encrypt(mib, key, iv), len(mib))
    _say(f"IGE encrypt, 1 MiB, one stream        : {rate / 1e9:6.2f} GB/s")
    _, per = _rate(lambda: ige256_encrypt(mib[:64], key, iv), 64)
    _say(f"IGE encrypt, 64 B per call            : {per * 1e6:6.2f} us")
    n = 256
    packed = os.urandom(4096 * n)
    keys, ivs, out = os.urandom(32 * n), os.urandom(32 * n), bytearray(4096 * n)
    lengths = [4096] * n
    rate, _ = _rate(lambda: ige256_batch_into(packed, keys, ivs, lengths, out), len(packed))
    _say(f"IGE batch, 256 x 4 KiB messages       : {rate / 1e9:6.2f} GB/s aggregate")
    stream = Ctr256(key, iv[:16])
    rate, _ = _rate(lambda: stream.update(mib), len(mib))
    _say(f"CTR, 1 MiB                            : {rate / 1e9:6.2f} GB/s")
    ak = AuthKey(os.urandom(256))
    plain = InnerMessage(1, 2, 0x6000000000000004, 1, os.urandom(224)).pack()
    packet = encrypt_message(ak, plain, from_server=False)
    _, per = _rate(lambda: encrypt_message(ak, plain, from_server=False), len(plain))
    _, per_open = _rate(lambda: decrypt_message(ak, packet, from_server=False), len(plain))
    _say(f"MTProto 2.0 message, 256 B seal / open: {per * 1e6:6.2f} / {per_open * 1e6:.2f} us")


def demo() -> int:
    _say("== mtcrypt demo: native core self-check ==")
    info()
    known_answers()
    _say("measuring (a second or two)...")
    throughput()
    _say("All checks passed.")
    return 0
