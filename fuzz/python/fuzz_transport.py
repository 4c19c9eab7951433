"""Atheris harness (optional: needs mtcrypt.transport): the transport
receive paths, fed in chunks.

Input: mode(1) | nchunks(1) | nchunks x chunk(2) | data
  mode % 6:
    0  ServerTransport() autodetecting every plain and obfuscated transport
    1  ServerTransport with a dd and an ee MTProxy secret (obfuscated2 with
       secret, fake-TLS ClientHello checks)
    2  a framing codec on the server side (mode bits 4-5 pick the framing)
    3  the same on the client side
    4  ClientTransport (intermediate, obfuscated) after its first send
    5  MTProxy secrets and links: ProxySecret.parse (text and bytes) and
       parse_proxy_link
  data is cut into the given chunks, each passed to one receive/feed call.

Contract: every call returns or raises a documented mtcrypt error
(:class:`~mtcrypt.errors.TransportError` for malformed transport data,
:class:`~mtcrypt.errors.InvalidArgument` and its kin for bad secrets).
Oracles: events are of the documented types; a failed transport refuses
further input with SessionError (the wrong-state error), a failed codec with
TransportError.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fuzz_common import Input, check, chunks, main

from mtcrypt import errors
from mtcrypt.errors import SessionError, TransportError
from mtcrypt.transport import (
    ClientTransport,
    Frame,
    Framing,
    ProxySecret,
    QuickAck,
    ServerTransport,
    TransportDetected,
    TransportErrorCode,
    make_codec,
    parse_proxy_link,
)

DOCUMENTED = tuple(getattr(errors, n) for n in errors.__all__ if n != "MtcryptError")
EVENTS = (Frame, QuickAck, TransportDetected, TransportErrorCode)
FRAMINGS = list(Framing)
KEY16 = bytes(range(16))
SECRETS = ["dd" + KEY16.hex(), "ee" + KEY16.hex() + b"example.com".hex()]
NOW = 1_700_000_000.0


def _rng(n: int) -> bytes:
    return bytes((i * 73 + 41) & 0xFF for i in range(n))


def _feed(receive: object, pieces: list[bytes]) -> None:
    failed = False
    for chunk in pieces:
        try:
            events = receive(chunk)  # type: ignore[operator]
        except TransportError:
            failed = True
            continue
        except SessionError:
            check(failed, "SessionError from a transport that had not failed")
            continue
        check(not failed, "a failed transport accepted more input")
        check(isinstance(events, list), "receive did not return a list")
        check(all(isinstance(e, EVENTS) for e in events), f"unexpected event in {events!r}")


def test_one_input(data: bytes) -> None:
    inp = Input(data)
    mode = inp.u8()
    pieces = chunks(inp)
    kind = mode % 6
    if kind == 0:
        _feed(ServerTransport(rng=_rng, clock=lambda: NOW).receive, pieces)
    elif kind == 1:
        server = ServerTransport(secrets=SECRETS, rng=_rng, clock=lambda: NOW)
        _feed(server.receive, pieces)
    elif kind in (2, 3):
        framing = FRAMINGS[(mode >> 4) % len(FRAMINGS)]
        codec = make_codec(framing, "server" if kind == 2 else "client", rng=_rng)
        _feed(codec.feed, pieces)
    elif kind == 4:
        client = ClientTransport("intermediate", obfuscated=True, rng=_rng, clock=lambda: NOW)
        client.send(bytes(16))
        _feed(client.receive, pieces)
    else:
        text = b"".join(pieces)
        for call in (
            lambda: ProxySecret.parse(text.decode("latin-1")),
            lambda: ProxySecret.parse(text),
            lambda: parse_proxy_link(text.decode("latin-1")),
        ):
            try:
                call()
            except DOCUMENTED:
                pass


if __name__ == "__main__":
    main(test_one_input)
