"""Shared by the atheris harnesses (fuzz/python/fuzz_*.py).

Each harness module defines ``test_one_input(data: bytes) -> None``, which
returns normally when the input was handled as documented and raises anything
else (an undocumented exception or a failed oracle).  The input decoding here
is plain Python, not ``atheris.FuzzedDataProvider``, so the same function
replays saved inputs without atheris: tests/test_fuzz_contract.py runs every
file under fuzz/regressions/<harness>/ through it.

``main(test_one_input)`` is the atheris entry point: it instruments every
loaded module (mtcrypt was imported by the harness already) and fuzzes.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable

#: The fixed auth key of the message harnesses (the same formula as
#: fuzz/c/fuzz_common.h and fuzz/gen_corpus.py).
AUTH_KEY_BYTES = bytes((i * 29 + 7) & 0xFF for i in range(256))


class Input:
    """A cursor over the fuzzer's bytes; reads past the end yield zeros."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def u8(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def u16(self) -> int:
        return self.u8() | self.u8() << 8

    def u32(self) -> int:
        return self.u16() | self.u16() << 16

    def take(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer at the end of the input)."""
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    def take_exact(self, n: int) -> bytes:
        """Exactly ``n`` bytes, zero-filled at the end of the input."""
        out = self.take(n)
        return out + bytes(n - len(out))

    def rest(self) -> bytes:
        return self.take(self.remaining)


def chunks(inp: Input) -> list[bytes]:
    """``nchunks(1) | nchunks x size(2) | data``: the rest of the input cut
    into that many pieces (sizes mod 300) plus the remainder, each to be fed
    to one receive call."""
    sizes = [inp.u16() % 300 for _ in range(inp.u8() % 9)]
    data = inp.rest()
    out, pos = [], 0
    for size in sizes:
        out.append(data[pos : pos + size])
        pos += size
    out.append(data[pos:])
    return out


class OracleFailure(AssertionError):
    """A harness's own check failed (as opposed to an unexpected exception)."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise OracleFailure(message)


def as_buffer(data: bytes, kind: int) -> bytes | bytearray | memoryview:
    """The same bytes as ``bytes``, ``bytearray`` or ``memoryview`` (kind % 3)."""
    kind %= 3
    if kind == 1:
        return bytearray(data)
    if kind == 2:
        return memoryview(bytearray(data))
    return data


def le32(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<I", data, offset)[0]
    return value


def main(test_one_input: Callable[[bytes], None]) -> None:
    import atheris  # only the fuzzing run needs atheris, not replays

    atheris.instrument_all()
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
