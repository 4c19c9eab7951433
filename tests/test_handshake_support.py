"""Shared helpers for the handshake tests (imported by test_handshake*.py).

Deterministic randomness, an in-process client/server runner, and a
man-in-the-middle kit that opens and re-seals every handshake message so a
single field can be changed while every other check still passes.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from mtcrypt import tl
from mtcrypt.crypto import ige256_decrypt, ige256_encrypt
from mtcrypt.handshake import (
    ClientHandshake,
    RsaPrivateKey,
    ServerHandshake,
    load_private_key,
    rsa_pad_decrypt,
    tmp_aes_key_iv,
)
from mtcrypt.mtproto import pack_plain, unpack_plain


class SeededRng:
    """A deterministic byte stream: SHA-256(seed || counter) blocks."""

    def __init__(self, seed: object) -> None:
        self._key = hashlib.sha256(repr(seed).encode()).digest()
        self._counter = 0
        self._buf = b""
        self.drawn = 0

    def __call__(self, n: int) -> bytes:
        while len(self._buf) < n:
            block = self._key + self._counter.to_bytes(8, "little")
            self._buf += hashlib.sha256(block).digest()
            self._counter += 1
        out, self._buf = self._buf[:n], self._buf[n:]
        self.drawn += n
        return out


class Tape:
    """Randomness read from a recorded tape, in order; running out is an error."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def __call__(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise AssertionError(f"tape exhausted: wanted {n} at {self.pos} of {len(self.data)}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out


class FixedClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


@functools.cache
def server_key(index: int = 0) -> RsaPrivateKey:
    """Deterministic test server keys (generated once per process from a seed)."""
    from Crypto.PublicKey import RSA

    rng = SeededRng(("rsa", index))
    key = RSA.generate(2048, randfunc=rng)
    return load_private_key(key.export_key())


def body_of(packet: bytes) -> bytes:
    return unpack_plain(packet)[1]


def msg_id_of(packet: bytes) -> int:
    return unpack_plain(packet)[0]


def decode(packet: bytes) -> tl.TLObject:
    return tl.deserialize(body_of(packet))


def encode(obj: tl.TLObject, like: bytes) -> bytes:
    """Re-pack ``obj`` with the message id of the packet ``like``."""
    return pack_plain(msg_id_of(like), tl.serialize(obj))


def replace(obj: tl.TLObject, **changes: object) -> tl.TLObject:
    fields: dict[str, object] = dict(obj.fields)
    fields.update(changes)
    return tl.TLObject(obj.name, fields)  # type: ignore[arg-type]


def flip(data: bytes, index: int = 0) -> bytes:
    b = bytearray(data)
    b[index] ^= 1
    return bytes(b)


@dataclass
class Flow:
    """One honest handshake, recorded: packets c1..c3 (client), s1..s3 (server)."""

    client: ClientHandshake
    server: ServerHandshake
    packets: dict[str, bytes] = field(default_factory=dict)


def make_pair(
    seed: object = 0,
    *,
    client_kwargs: dict[str, object] | None = None,
    server_kwargs: dict[str, object] | None = None,
    now: float = 1_700_000_000.0,
) -> tuple[ClientHandshake, ServerHandshake]:
    key = server_key()
    ck: dict[str, object] = {"dc": 2, "public_keys": [key.public_key]}
    ck.update(client_kwargs or {})
    sk: dict[str, object] = {}
    sk.update(server_kwargs or {})
    client = ClientHandshake(rng=SeededRng(("client", seed)), clock=FixedClock(now), **ck)  # type: ignore[arg-type]
    server = ServerHandshake(key, rng=SeededRng(("server", seed)), clock=FixedClock(now), **sk)  # type: ignore[arg-type]
    return client, server


def run(client: ClientHandshake, server: ServerHandshake) -> Flow:
    """Run to completion, recording packets."""
    flow = Flow(client, server)
    packet: bytes | None = client.start()
    step = 1
    while packet is not None:
        flow.packets[f"c{step}"] = packet
        answer = server.receive(packet)
        flow.packets[f"s{step}"] = answer
        packet = client.receive(answer)
        step += 1
    return flow


def advance(client: ClientHandshake, server: ServerHandshake, until: str) -> dict[str, bytes]:
    """Deliver packets until ``until`` (e.g. ``"s2"``) has been produced but not delivered."""
    packets: dict[str, bytes] = {}
    packet: bytes | None = client.start()
    step = 1
    while packet is not None:
        name = f"c{step}"
        packets[name] = packet
        if name == until:
            return packets
        answer = server.receive(packet)
        name = f"s{step}"
        packets[name] = answer
        if name == until:
            return packets
        packet = client.receive(answer)
        step += 1
    raise AssertionError(f"{until} never produced")


# -- the man in the middle who holds the server's private key --------------


def new_nonce_from(c2: bytes, key: RsaPrivateKey | None = None) -> bytes:
    """new_nonce, read from req_DH_params with the server's private key."""
    req = decode(c2)
    data = rsa_pad_decrypt(req.encrypted_data, key or server_key())
    inner = tl.read_object(tl.Reader(data))
    return inner.new_nonce  # type: ignore[no-any-return]


def inner_p_q(c2: bytes, key: RsaPrivateKey | None = None) -> tl.TLObject:
    req = decode(c2)
    data = rsa_pad_decrypt(req.encrypted_data, key or server_key())
    return tl.read_object(tl.Reader(data))


def open_sealed(
    encrypted: bytes, server_nonce: bytes, new_nonce: bytes
) -> tuple[tl.TLObject, bytes]:
    """(inner object, padding) of a server_DH_params_ok / set_client_DH_params payload."""
    key, iv = tmp_aes_key_iv(server_nonce, new_nonce)
    plain = ige256_decrypt(encrypted, key, iv)
    reader = tl.Reader(plain[20:])
    obj = tl.read_object(reader)
    return obj, plain[20 + reader.offset :]


def seal(
    inner: bytes,
    server_nonce: bytes,
    new_nonce: bytes,
    *,
    padding: bytes | None = None,
    digest: Callable[[bytes], bytes] | None = None,
) -> bytes:
    key, iv = tmp_aes_key_iv(server_nonce, new_nonce)
    with_hash = (digest or (lambda d: hashlib.sha1(d).digest()))(inner) + inner
    with_hash += padding if padding is not None else bytes(-len(with_hash) % 16)
    return ige256_encrypt(with_hash, key, iv)
