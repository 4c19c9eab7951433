"""Atheris harness: the parsers after decryption and of the handshake's
unencrypted messages: ``unpack_plain``, ``InnerMessage.parse``, and the TL
body behind each (``deserialize_body``), i.e. the receive chain up to the
session layer.

Input: flags(1) | data
  bit 0:    data is an unencrypted message (unpack_plain), else an inner
            message (InnerMessage.parse)
  bit 1:    unpack gzip in the body
  bits 2-3: pass bytes, bytearray or memoryview

Contract: ``unpack_plain`` and ``InnerMessage.parse`` return or raise
:class:`mtcrypt.errors.InvalidLength` / :class:`~mtcrypt.errors.InvalidArgument`;
``deserialize_body`` returns or raises :class:`~mtcrypt.errors.TLError`.
Oracles: what parses re-packs to the same bytes (``pack_plain``,
``InnerMessage.pack``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fuzz_common import Input, as_buffer, check, main

from mtcrypt import tl
from mtcrypt.errors import InvalidArgument, TLError
from mtcrypt.mtproto import InnerMessage, pack_plain, unpack_plain


def test_one_input(data: bytes) -> None:
    inp = Input(data)
    flags = inp.u8()
    raw = inp.rest()
    buf = as_buffer(raw, (flags >> 2) & 3)
    try:
        if flags & 1:
            msg_id, body = unpack_plain(buf)
            check(pack_plain(msg_id, body) == raw, "unpack_plain/pack_plain round trip failed")
        else:
            inner = InnerMessage.parse(buf)  # type: ignore[arg-type]
            check(inner.pack() == raw, "InnerMessage parse/pack round trip failed")
            body = inner.body
    except InvalidArgument:  # InvalidLength is a subclass
        return
    try:
        tl.deserialize_body(body, unpack_gzip=bool(flags & 2))
    except TLError:
        pass


if __name__ == "__main__":
    main(test_one_input)
