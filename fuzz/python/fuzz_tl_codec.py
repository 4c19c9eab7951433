"""Atheris harness: the TL codec (``mtcrypt.tl.deserialize``,
``deserialize_body``, ``read_object``).

Input: mode(1) | name(1) | data
  mode bits 0-1: 0 deserialize, 1 deserialize_body, 2 read_object, 3 deserialize(bare=name)
  mode bit 2:    unpack_gzip
  mode bit 3:    allow_trailing (deserialize) / bare=name (read_object)
  mode bit 4:    tight limits (strict padding, depth 4, 4 KiB of gzip output,
                 8 messages per container, 1 KiB strings)
  mode bit 5:    pass a bytearray; bit 6: a memoryview
  name:          index into the sorted combinator names

Contract: decoding raises nothing but :class:`mtcrypt.errors.TLError`.
Oracle on success: the decoded object re-encodes, and that encoding decodes
and re-encodes to the same bytes (the canonical form is a fixed point).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fuzz_common import Input, as_buffer, check, main

from mtcrypt import tl
from mtcrypt.errors import TLError

NAMES = sorted(tl.default_schema().combinators)
BARE_ONLY = frozenset({"message", "rsa_public_key"})
TIGHT = tl.Limits(
    max_depth=4,
    max_gzip_size=4096,
    max_container_messages=8,
    max_bytes_length=1024,
    strict_padding=True,
)


def _fixed_point(obj: tl.TLObject, bare: str | None) -> None:
    boxed = bare is None
    encoded = tl.serialize(obj, boxed=boxed)
    again = tl.deserialize(encoded, bare=bare)
    check(tl.serialize(again, boxed=boxed) == encoded, f"{obj.name}: re-encoding is not stable")


def test_one_input(data: bytes) -> None:
    inp = Input(data)
    mode = inp.u8()
    name = NAMES[inp.u8() % len(NAMES)]
    buf = as_buffer(inp.rest(), (mode >> 5) & 3)
    unpack_gzip = bool(mode & 4)
    limits = TIGHT if mode & 16 else None
    entry = mode & 3
    try:
        if entry == 0:
            obj = tl.deserialize(
                buf, unpack_gzip=unpack_gzip, allow_trailing=bool(mode & 8), limits=limits
            )
            _fixed_point(obj, None)
        elif entry == 1:
            value = tl.deserialize_body(buf, unpack_gzip=unpack_gzip, limits=limits)
            if isinstance(value, tl.TLObject):
                _fixed_point(value, None)
            else:
                check(value == bytes(buf), "an unknown body must come back unchanged")
        elif entry == 2:
            reader = tl.Reader(buf)
            bare = name if mode & 8 else None
            obj = tl.read_object(reader, bare=bare, unpack_gzip=unpack_gzip, limits=limits)
            check(reader.offset + reader.remaining == len(bytes(buf)), "reader lost its place")
            _fixed_point(obj, bare)
        else:
            obj = tl.deserialize(buf, bare=name, unpack_gzip=unpack_gzip, limits=limits)
            check(obj.name == name, f"asked for bare {name}, got {obj.name}")
            _fixed_point(obj, name)
    except TLError:
        pass


if __name__ == "__main__":
    main(test_one_input)
