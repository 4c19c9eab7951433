"""Atheris harness: ``mtcrypt.tl.Reader``, one primitive read at a time.

Input: config(1) | script_len(1) | script (script_len bytes) | data
  config bit 0: strict_padding; bits 1-2 pick max_bytes_length (0, 3, 300, default)
  every script byte is one operation on a Reader over ``data`` (see OPS);
  operations that need a size take it from the next script byte.

Contract: every read returns or raises :class:`mtcrypt.errors.TLError`.
Oracles: offset + remaining is constant and offsets only grow (also across
failed reads); values are in their type's range; a ``bytes`` value read in
strict mode re-packs to exactly the bytes it came from; sub-readers stay
inside their parent's window.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fuzz_common import Input, check, main

from mtcrypt import tl
from mtcrypt.errors import TLError
from mtcrypt.tl.primitives import MAX_BYTES_LENGTH

BYTES_LIMITS = (0, 3, 300, MAX_BYTES_LENGTH)
OPS = (
    "int32",
    "uint32",
    "int64",
    "int128",
    "int256",
    "double",
    "bytes",
    "bool",
    "vector_count",
    "bare_vector_count",
    "raw",
    "sub_reader",
    "peek",
    "expect_end",
    "rest",
    "vector_of_ints",
)


def _run(reader: tl.Reader, script: Input, strict: bool, depth: int) -> None:
    total = reader.offset + reader.remaining
    while script.remaining:
        op = OPS[script.u8() % len(OPS)]
        before = reader.offset
        try:
            if op == "int32":
                check(-(2**31) <= reader.read_int32() < 2**31, "int32 out of range")
            elif op == "uint32":
                check(0 <= reader.read_uint32() < 2**32, "uint32 out of range")
            elif op == "int64":
                check(-(2**63) <= reader.read_int64() < 2**63, "int64 out of range")
            elif op == "int128":
                check(len(reader.read_int128()) == 16, "int128 is not 16 bytes")
            elif op == "int256":
                check(len(reader.read_int256()) == 32, "int256 is not 32 bytes")
            elif op == "double":
                check(isinstance(reader.read_double(), float), "double is not a float")
            elif op == "bytes":
                value = reader.read_bytes()
                check(len(value) <= reader.max_bytes_length, "bytes over max_bytes_length")
                if strict:
                    check(
                        len(tl.pack_bytes(value)) == reader.offset - before,
                        "strict bytes value is not canonical",
                    )
            elif op == "bool":
                check(isinstance(reader.read_bool(), bool), "bool is not a bool")
            elif op in ("vector_count", "bare_vector_count"):
                size = script.u8() % 40
                count = reader.read_vector_count(boxed=op == "vector_count", min_item_size=size)
                check(count * max(size, 1) <= reader.remaining, "vector count not bounded")
            elif op == "raw":
                n = script.u8() - 8  # also negative sizes
                check(len(reader.read_raw(n)) == n, "read_raw returned the wrong size")
            elif op == "sub_reader":
                n = script.u8()
                sub = reader.sub_reader(n)
                check(sub.remaining == n and sub.offset == 0, "sub-reader window is wrong")
                if depth < 3:
                    _run(sub, Input(script.take(script.u8() % 16)), strict, depth + 1)
            elif op == "peek":
                value = reader.peek_uint32()
                check(reader.offset == before, "peek consumed input")
                check(reader.read_uint32() == value, "peek and read disagree")
            elif op == "expect_end":
                reader.expect_end()
                check(reader.remaining == 0, "expect_end passed with bytes left")
            elif op == "rest":
                rest = reader.read_rest()
                check(len(rest) == total - before and reader.remaining == 0, "read_rest lost bytes")
            else:
                values = reader.read_vector(lambda r: r.read_int32(), min_item_size=4)
                check(all(-(2**31) <= v < 2**31 for v in values), "vector item out of range")
        except TLError:
            pass
        check(reader.offset >= before, "offset went backwards")
        check(reader.offset + reader.remaining == total, "offset + remaining changed")


def test_one_input(data: bytes) -> None:
    inp = Input(data)
    config = inp.u8()
    script = Input(inp.take(inp.u8()))
    strict = bool(config & 1)
    reader = tl.Reader(
        inp.rest(), strict_padding=strict, max_bytes_length=BYTES_LIMITS[(config >> 1) & 3]
    )
    _run(reader, script, strict, 0)


if __name__ == "__main__":
    main(test_one_input)
