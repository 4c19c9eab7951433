"""Atheris harness (optional: needs mtcrypt.handshake's client and server):
one packet of an honest auth-key handshake replaced or mutated.

Input: step(1) | mode(1) | offset(2) | data
  step % 6 picks the packet: 0 req_pq_multi, 1 resPQ, 2 req_DH_params,
  3 server_DH_params, 4 set_client_DH_params, 5 dh_gen answer (even: to the
  server, odd: to the client).
  mode bit 0: XOR data into the honest packet at offset (mutation), else the
  packet is data itself (replacement).

The handshake runs between ClientHandshake and ServerHandshake with fixed
randomness and clock, up to the chosen packet, which is then delivered in
its altered form.

Contract: ``receive`` returns the next packet or raises a documented
mtcrypt error (:class:`~mtcrypt.errors.HandshakeError` for a failed check);
after a HandshakeError the receiver is in state ``failed``.  An unaltered
packet must still complete the handshake.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fuzz_common import Input, check, main

from mtcrypt import errors
from mtcrypt.errors import HandshakeError
from mtcrypt.handshake import ClientHandshake, ServerHandshake, generate_private_key

DOCUMENTED = tuple(getattr(errors, n) for n in errors.__all__ if n != "MtcryptError")
NOW = 1_700_000_000.0


class SeededRng:
    """A deterministic byte stream (SHA-256 of seed and counter)."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.counter = 0
        self.buf = b""

    def __call__(self, n: int) -> bytes:
        while len(self.buf) < n:
            block = self.seed + self.counter.to_bytes(8, "little")
            self.buf += hashlib.sha256(block).digest()
            self.counter += 1
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


SERVER_KEY = generate_private_key(2048, rng=SeededRng(b"fuzz-server-key"))


def honest_transcript() -> list[bytes]:
    """The six packets of a complete handshake (deterministic)."""
    client, server = _pair()
    packets = [client.start()]
    while True:
        answer = server.receive(packets[-1])
        packets.append(answer)
        nxt = client.receive(answer)
        if nxt is None:
            return packets
        packets.append(nxt)


def _pair() -> tuple[ClientHandshake, ServerHandshake]:
    client = ClientHandshake(
        dc=2, public_keys=[SERVER_KEY.public_key], rng=SeededRng(b"c"), clock=lambda: NOW
    )
    server = ServerHandshake(SERVER_KEY, rng=SeededRng(b"s"), clock=lambda: NOW)
    return client, server


def test_one_input(data: bytes) -> None:
    inp = Input(data)
    step = inp.u8() % 6
    mode = inp.u8()
    offset = inp.u16()
    payload = inp.rest()
    client, server = _pair()
    packet = client.start()
    for i in range(6):
        receiver = server if i % 2 == 0 else client
        if i == step:
            if mode & 1:
                altered = bytearray(packet)
                for j, b in enumerate(payload):
                    if altered:
                        altered[(offset + j) % len(altered)] ^= b
                packet = bytes(altered)
            else:
                packet = payload
        try:
            answer = receiver.receive(packet)
        except HandshakeError:
            check(receiver.state == "failed", "a failed check left the state machine running")
            return
        except DOCUMENTED:
            return
        if i >= step:
            return  # what the altered packet led to was accepted; that is all we run
        check(answer is not None or i == 5, "handshake ended early")
        if answer is None:
            return
        packet = answer


if __name__ == "__main__":
    main(test_one_input)
