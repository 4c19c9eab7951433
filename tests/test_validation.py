"""The one place for argument checks (``mtcrypt._validation``): draws from an
injected rng, the integer rule, and the layering rule that keeps it the one place
(no module imports another subpackage's private names)."""

from __future__ import annotations

import ast
import enum
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mtcrypt
from mtcrypt._validation import check_int, draw, is_int, randbelow, shuffle
from mtcrypt.e2e import FileKey, encrypt_e2e, encrypt_e2e_v1, mix_server_random
from mtcrypt.e2e.rekey import _random_long
from mtcrypt.errors import InvalidArgument, InvalidType
from mtcrypt.handshake import ClientHandshake, rsa_pad_encrypt
from mtcrypt.handshake.dh import TELEGRAM_DH_G, TELEGRAM_DH_PRIME, generate_dh_exponent
from mtcrypt.handshake.rsa import TELEGRAM_PRODUCTION_KEYS
from mtcrypt.mtproto import (
    AuthKey,
    Role,
    Session,
    encrypt_message,
    encrypt_message_v1,
    encrypt_messages,
)
from mtcrypt.transport import faketls
from mtcrypt.transport.obfuscation import make_client_header

KEY = AuthKey(bytes(range(256)))
PLAIN = bytes(32)


class Color(enum.IntEnum):
    RED = 3


# ---- draw --------------------------------------------------------------------------


def test_draw_returns_bytes_of_the_length_asked() -> None:
    out = b"\x01" * 5
    assert draw(lambda n: out, 5) is out
    got = draw(lambda n: bytearray(n), 5)  # type: ignore[arg-type, return-value]
    assert type(got) is bytes and got == bytes(5)


@pytest.mark.parametrize(
    "result",
    [b"\x00" * 4, b"\x00" * 6, "abcde", [0] * 5, memoryview(bytes(5)), None, 5],
)
def test_draw_refuses_anything_else(result: object) -> None:
    with pytest.raises(InvalidArgument, match=r"^rng\(5\) must return 5 bytes$"):
        draw(lambda n: result, 5)  # type: ignore[arg-type, return-value]


def test_draw_of_nothing_does_not_call_rng() -> None:
    def rng(n: int) -> bytes:
        raise AssertionError("called")

    assert draw(rng, 0) == b""


def test_randbelow_and_shuffle_use_checked_draws() -> None:
    with pytest.raises(InvalidArgument, match="must return"):
        randbelow(lambda n: b"", 1000)
    assert randbelow(lambda n: bytes(n), 1) == 0
    items = list(range(10))
    shuffle(items, lambda n: bytes(n))
    assert sorted(items) == list(range(10))


# Every API that takes an injected rng refuses a short draw the same way.
BAD_RNG_CALLS: dict[str, Callable[[Callable[[int], Any]], object]] = {
    "encrypt_message": lambda rng: encrypt_message(KEY, PLAIN, from_server=False, rng=rng),
    "encrypt_messages": lambda rng: encrypt_messages(KEY, [PLAIN], from_server=False, rng=rng),
    "encrypt_message_v1": lambda rng: encrypt_message_v1(
        KEY, PLAIN + bytes(4), from_server=False, rng=rng
    ),
    "Session": lambda rng: Session(KEY, Role.CLIENT, rng=rng),
    "ClientHandshake.start": lambda rng: ClientHandshake(dc=2, rng=rng).start(),
    "rsa_pad_encrypt": lambda rng: rsa_pad_encrypt(bytes(10), TELEGRAM_PRODUCTION_KEYS[0], rng=rng),
    "generate_dh_exponent": lambda rng: generate_dh_exponent(TELEGRAM_DH_G, TELEGRAM_DH_PRIME, rng),
    "encrypt_e2e": lambda rng: encrypt_e2e(KEY, PLAIN, from_creator=True, rng=rng),
    "encrypt_e2e_v1": lambda rng: encrypt_e2e_v1(KEY, PLAIN, rng=rng),
    "FileKey.generate": lambda rng: FileKey.generate(rng),
    "mix_server_random": lambda rng: mix_server_random(bytes(256), rng)(16),
    "rekey exchange_id": lambda rng: _random_long(rng),
    "make_client_header": lambda rng: make_client_header(b"\xef" * 4, rng=rng),
    "build_client_hello": lambda rng: faketls.build_client_hello(
        bytes(16), "example.com", 0, rng=rng
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_RNG_CALLS))
@pytest.mark.parametrize("bad", ["short", "str"])
def test_every_rng_consumer_refuses_a_bad_draw(name: str, bad: str) -> None:
    def rng(n: int) -> Any:
        return bytes(n - 1) if bad == "short" else "x" * n

    with pytest.raises(InvalidArgument, match=r"^rng\(\d+\) must return \d+ bytes$"):
        BAD_RNG_CALLS[name](rng)


@pytest.mark.parametrize("name", sorted(BAD_RNG_CALLS))
def test_every_rng_consumer_takes_a_bytearray(name: str) -> None:
    seeded = random.Random(name)
    BAD_RNG_CALLS[name](lambda n: bytearray(seeded.randbytes(n)))


# ---- integers ----------------------------------------------------------------------


def test_is_int() -> None:
    assert is_int(0) and is_int(-(1 << 100)) and is_int(Color.RED)
    for value in (True, False, 1.0, "1", None, b"\x01"):
        assert not is_int(value)


def test_check_int() -> None:
    assert check_int(5, "x", 0, 10) == 5
    assert check_int(-(1 << 70), "x") == -(1 << 70)
    value = check_int(Color.RED, "x", 0, 10)
    assert value == 3 and type(value) is int
    for bad in (True, 1.0, "1", None):
        with pytest.raises(InvalidType, match=r"^x must be an int, not "):
            check_int(bad, "x", 0, 10)
    with pytest.raises(InvalidArgument, match=r"^x must be in \[0, 10\], got 11$"):
        check_int(11, "x", 0, 10)
    with pytest.raises(InvalidArgument, match=r"^x must be >= 0, got -1$"):
        check_int(-1, "x", lo=0)
    with pytest.raises(InvalidArgument, match=r"^x must be <= 0, got 1$"):
        check_int(1, "x", hi=0)


# ---- layering ----------------------------------------------------------------------

PACKAGE = Path(mtcrypt.__file__).parent


def _imports() -> list[tuple[str, str, str]]:
    """``(importer, imported module, imported name)`` for every ``from ... import``
    of an mtcrypt module inside the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("mtcrypt", *path.relative_to(PACKAGE).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        package = module if is_package else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target == "mtcrypt" or target.startswith("mtcrypt."):
                found += [(module, target, alias.name) for alias in node.names]
    return found


def _owner(module: str) -> str:
    """The subpackage a module belongs to (``mtcrypt.x.y`` -> ``x``); a root-level
    module (``mtcrypt._validation``) is the package's own."""
    parts = module.split(".")
    if len(parts) < 2:
        return ""
    return parts[1] if len(parts) > 2 or (PACKAGE / parts[1]).is_dir() else ""


def test_no_module_imports_another_subpackages_private_names() -> None:
    assert len(_imports()) > 300  # the walk sees the package
    bad = []
    for importer, target, name in _imports():
        owner = _owner(target)
        if not owner or owner == _owner(importer):
            continue  # a root-level private module, or the importer's own subpackage
        private_module = any(part.startswith("_") for part in target.split(".")[2:])
        if private_module or (name.startswith("_") and name != "__version__"):
            bad.append(f"{importer}: from {target} import {name}")
    assert not bad, "\n".join(bad)


def test_the_root_level_private_modules_import_no_subpackage() -> None:
    allowed = {
        "mtcrypt._validation": ("mtcrypt.errors", "mtcrypt._native"),
        "mtcrypt._random": ("mtcrypt.errors", "mtcrypt._native", "mtcrypt._validation"),
    }
    for importer, target, _ in _imports():
        if importer in allowed:
            assert target in allowed[importer], (importer, target)


def test_every_native_output_works_without_the_fresh_bytes_shortcut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where writing into a fresh bytes object is not safe (not CPython), every
    native output goes through cffi storage instead: the same results."""
    import importlib
    import os

    from mtcrypt.crypto import Ctr256, ige256_decrypt, ige256_encrypt
    from mtcrypt.mtproto import AuthKey, InnerMessage, decrypt_message, encrypt_message

    key, iv, data = os.urandom(32), os.urandom(32), os.urandom(256)
    auth_key = AuthKey(os.urandom(256))
    plain = InnerMessage(salt=1, session_id=2, msg_id=4, seq_no=1, body=bytes(8)).pack()
    expected_ige = ige256_encrypt(data, key, iv)
    expected_ctr = Ctr256(key, iv[:16]).update(data)
    for name in ("mtcrypt._validation", "mtcrypt.crypto.aes", "mtcrypt.mtproto.message",
                 "mtcrypt.e2e.crypto", "mtcrypt.compat.tgcrypto"):
        module = importlib.import_module(name)
        if hasattr(module, "FILL_FRESH_BYTES"):
            monkeypatch.setattr(module, "FILL_FRESH_BYTES", False)
    assert ige256_encrypt(data, key, iv) == expected_ige
    assert ige256_decrypt(expected_ige, key, iv) == data
    assert Ctr256(key, iv[:16]).update(data) == expected_ctr
    packet = encrypt_message(auth_key, plain, from_server=False)
    assert decrypt_message(auth_key, packet, from_server=False) == plain
    from mtcrypt._random import random_bytes

    assert len(random_bytes(1)) == 1 and len(random_bytes(33)) == 33
