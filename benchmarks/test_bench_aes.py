"""AES-256 IGE, batch IGE and CTR against tgcrypto, cryptg and pyca/cryptography."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from conftest import optional

import mtcrypt.crypto as mc
from mtcrypt._native import select_backend
from mtcrypt.errors import BackendUnavailable

tgcrypto = optional("tgcrypto")
cryptg = optional("cryptg")
cryptography_ciphers = optional("cryptography.hazmat.primitives.ciphers")

KEY, IV = os.urandom(32), os.urandom(32)
SIZES = {"64B": 64, "1KiB": 1024, "64KiB": 1 << 16, "1MiB": 1 << 20}


def ige_impls(decrypt: bool) -> dict[str, Callable[[bytes], bytes]]:
    impls: dict[str, Callable[[bytes], bytes]] = {
        "mtcrypt": (lambda d: mc.ige256_decrypt(d, KEY, IV))
        if decrypt
        else (lambda d: mc.ige256_encrypt(d, KEY, IV)),
    }
    if tgcrypto:
        impls["tgcrypto"] = (
            (lambda d: tgcrypto.ige256_decrypt(d, KEY, IV))
            if decrypt
            else (lambda d: tgcrypto.ige256_encrypt(d, KEY, IV))
        )
    if cryptg:
        impls["cryptg"] = (
            (lambda d: cryptg.decrypt_ige(d, KEY, IV))
            if decrypt
            else (lambda d: cryptg.encrypt_ige(d, KEY, IV))
        )
    return impls


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["mtcrypt", "tgcrypto", "cryptg"])
@pytest.mark.parametrize("direction", ["encrypt", "decrypt"])
def test_ige(benchmark, nbytes, direction: str, impl: str, size: str) -> None:  # type: ignore[no-untyped-def]
    impls = ige_impls(direction == "decrypt")
    if impl not in impls:
        pytest.skip(f"{impl} not installed")
    data = os.urandom(SIZES[size])
    benchmark.group = f"ige-{direction}-{size}"
    nbytes(len(data))
    benchmark(impls[impl], data)


@pytest.mark.parametrize("size", ["64KiB", "1MiB"])
def test_ige_portable(benchmark, nbytes, size: str) -> None:  # type: ignore[no-untyped-def]
    before = mc.backend_info().aes
    select_backend("portable")
    try:
        data = os.urandom(SIZES[size])
        benchmark.group = f"ige-portable-{size}"
        nbytes(len(data))
        benchmark(mc.ige256_encrypt, data, KEY, IV)
    finally:
        select_backend(before)


BATCHES = {"256x4KiB": (256, 4096), "16x4KiB": (16, 4096), "4x4KiB": (4, 4096),
           "64x256B": (64, 256), "4x64B": (4, 64), "1x64B": (1, 64)}


@pytest.mark.parametrize("batch", list(BATCHES))
@pytest.mark.parametrize(
    "impl", ["mtcrypt-into", "mtcrypt-list", "mtcrypt-loop", "tgcrypto-loop", "cryptg-loop"]
)
def test_ige_many_messages(benchmark, nbytes, impl: str, batch: str) -> None:  # type: ignore[no-untyped-def]
    """Many independent messages: the packed ``ige256_batch_into``, the list API
    ``ige256_encrypt_batch`` (outputs allocated per call, as a caller gets them)
    and a loop of single calls, at several batch sizes."""
    n, size = BATCHES[batch]
    msgs = [os.urandom(size) for _ in range(n)]
    keys = [os.urandom(32) for _ in range(n)]
    ivs = [os.urandom(32) for _ in range(n)]
    items = list(zip(msgs, keys, ivs, strict=True))
    benchmark.group = f"ige-batch-{batch}"
    nbytes(size * n)
    if impl == "mtcrypt-into":
        packed, kk, vv, out = b"".join(msgs), b"".join(keys), b"".join(ivs), bytearray(size * n)
        benchmark(mc.ige256_batch_into, packed, kk, vv, [size] * n, out)
        return
    if impl == "mtcrypt-list":
        benchmark(mc.ige256_encrypt_batch, items)
        return
    fn = {
        "mtcrypt-loop": mc.ige256_encrypt,
        "tgcrypto-loop": getattr(tgcrypto, "ige256_encrypt", None),
        "cryptg-loop": getattr(cryptg, "encrypt_ige", None),
    }[impl]
    if fn is None:
        pytest.skip("peer not installed")

    def loop() -> list[bytes]:
        return [fn(d, k, v) for d, k, v in items]

    benchmark(loop)


@pytest.mark.parametrize("size", ["1KiB", "1MiB"])
@pytest.mark.parametrize("impl", ["mtcrypt", "tgcrypto", "cryptography"])
def test_ctr(benchmark, nbytes, impl: str, size: str) -> None:  # type: ignore[no-untyped-def]
    data = os.urandom(SIZES[size])
    benchmark.group = f"ctr-{size}"
    nbytes(len(data))
    if impl == "mtcrypt":
        stream = mc.Ctr256(KEY, IV[:16])
        benchmark(stream.update, data)
    elif impl == "tgcrypto" and tgcrypto:
        counter, state = bytearray(IV[:16]), bytearray(1)
        benchmark(lambda: tgcrypto.ctr256_encrypt(data, KEY, counter, state))
    elif impl == "cryptography" and cryptography_ciphers:
        c = cryptography_ciphers
        enc = c.Cipher(c.algorithms.AES(KEY), c.modes.CTR(IV[:16])).encryptor()
        benchmark(enc.update, data)
    else:
        pytest.skip(f"{impl} not installed")


# ---- every AES backend this CPU offers, in the same run ------------------------------

BACKEND_OPS = [
    "ige-encrypt-4KiB",
    "ige-decrypt-4KiB",
    "ige-encrypt-64B",
    "ige-decrypt-64B",
    "ctr-64KiB",
    "cbc-decrypt-64KiB",
    "ige-batch-16x4KiB",
]


@pytest.mark.parametrize("backend", ["portable", "vpaes", "aesni", "vaes"])
@pytest.mark.parametrize("op", BACKEND_OPS)
def test_backends(benchmark, nbytes, op: str, backend: str) -> None:  # type: ignore[no-untyped-def]
    """One operation on each backend (``MTCRYPT_BACKEND`` values), so the
    portable, vector-permute and AES-NI figures come from one run.  The one-shot
    IGE calls expand their key on every call, as MTProto messages do; CTR and
    CBC run on an expanded key."""
    before = mc.backend_info().aes
    try:
        select_backend(backend)
    except BackendUnavailable:
        pytest.skip(f"{backend} not supported by this CPU")
    try:
        size = {"4KiB": 4096, "64B": 64, "64KiB": 1 << 16}.get(op.rsplit("-", 1)[1], 0)
        benchmark.group = f"backend-{op}"
        if op.startswith("ige-batch"):
            items = [(os.urandom(4096), os.urandom(32), os.urandom(32)) for _ in range(16)]
            nbytes(16 * 4096)
            benchmark(mc.ige256_encrypt_batch, items)
            return
        data = os.urandom(size)
        nbytes(size)
        if op.startswith("ige-encrypt"):
            benchmark(mc.ige256_encrypt, data, KEY, IV)
        elif op.startswith("ige-decrypt"):
            benchmark(mc.ige256_decrypt, data, KEY, IV)
        elif op.startswith("ctr"):
            benchmark(mc.Ctr256(KEY, IV[:16]).update, data)
        else:
            benchmark(mc.Aes256(KEY).cbc_decrypt, data, IV[:16])
    finally:
        select_backend(before)
