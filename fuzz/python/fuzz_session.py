"""Atheris harness (optional: needs mtcrypt.mtproto.session): the session
receive path, several messages per input into one Session.

Input: flags(1) | messages, each: kind(1) | length(2) | bytes
  flags bit 0: the session is the server (else the client)
  kind bit 0:  the bytes are a raw packet for Session.receive
  else the bytes are a message body which the harness wraps in a valid inner
  message (kind bit 1: the session's own session_id, else the bytes give it;
  kind bit 2: a msg_id near the session's clock with the peer's parity, else
  the bytes give it; kind bit 3: content-related seq_no) and encrypts for the
  session (kind bit 4: through receive_plaintext instead, unencrypted).

Contract: ``receive`` returns events or raises
:class:`~mtcrypt.errors.DecryptionFailed`; ``receive_plaintext`` returns
events or raises :class:`~mtcrypt.errors.InvalidArgument`; every other
problem (bad session, replay, time, TL, container rules) is an event, never
an exception.  ``data_to_send`` works after every message.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fuzz_common import AUTH_KEY_BYTES, Input, check, main

from mtcrypt.errors import DecryptionFailed, InvalidArgument
from mtcrypt.mtproto import AuthKey, encrypt_message
from mtcrypt.mtproto.session import Role, Session

KEY = AuthKey(AUTH_KEY_BYTES)
NOW = 1_700_000_000.0
SESSION_ID = 0x0123456789ABCDEF
SALT = 0x1122334455667788
HEADER = struct.Struct("<qqqii")


class _Rng:
    """Deterministic randomness, so a saved input replays identically."""

    def __init__(self) -> None:
        self.counter = 0

    def __call__(self, n: int) -> bytes:
        out = bytes((self.counter + i * 89) & 0xFF for i in range(n))
        self.counter += 1
        return out


def _wrap(body: bytes, kind: int, inp: Input, server: bool, step: int) -> bytes:
    body = body[: len(body) // 4 * 4]
    session_id = SESSION_ID if kind & 2 else struct.unpack("<q", inp.take_exact(8))[0]
    if kind & 4:
        # peer's msg_id: from the server 1 mod 4 (odd), from the client 0 mod 4
        msg_id = (int(NOW) << 32) + 8 * (step + 1) + (0 if server else 1)
    else:
        msg_id = struct.unpack("<q", inp.take_exact(8))[0]
    seq_no = 2 * step + (1 if kind & 8 else 0)
    return HEADER.pack(SALT, session_id, msg_id, seq_no, len(body)) + body


def test_one_input(data: bytes) -> None:
    inp = Input(data)
    server = bool(inp.u8() & 1)
    session = Session(
        KEY,
        Role.SERVER if server else Role.CLIENT,
        session_id=SESSION_ID,
        salt=SALT,
        clock=lambda: NOW,
        rng=_Rng(),
        time_offset=0.0,
    )
    step = 0
    while inp.remaining and step < 16:
        kind = inp.u8()
        chunk = inp.take(inp.u16() % 4096)
        if kind & 1:
            try:
                events = session.receive(chunk)
            except DecryptionFailed:
                events = []
        else:
            plaintext = _wrap(chunk, kind, inp, server, step)
            if kind & 16:
                try:
                    events = session.receive_plaintext(plaintext)
                except InvalidArgument:
                    events = []
            else:
                packet = encrypt_message(KEY, plaintext, from_server=not server)
                events = session.receive(packet)
        check(isinstance(events, list), "receive did not return a list")
        packets = session.data_to_send()
        check(all(isinstance(p, bytes) for p in packets), "data_to_send returned non-bytes")
        step += 1


if __name__ == "__main__":
    main(test_one_input)
