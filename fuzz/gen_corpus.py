"""Seed corpora for every harness, built from valid encodings.

    python fuzz/gen_corpus.py --out fuzz/corpus            # one directory per harness
    python fuzz/gen_corpus.py --out DIR --only fuzz_pq     # some harnesses only

Each harness gets inputs in its own format (documented at the top of the
harness): sealed messages under the harnesses' fixed auth key, plaintexts for
the forge modes, TL objects of every combinator in the schema (also inside
containers, rpc_result and gzip_packed), unencrypted handshake messages, AES
inputs at the block and chunk boundaries, the handshake's pq values and the
hard cases of 64-bit primality.  The TL harnesses also get a libFuzzer
dictionary of the schema's constructor ids (``DIR/<harness>.dict``).

Deterministic: the same schema and code give the same files (named by their
SHA-1), so regenerating does not churn a corpus.  Needs mtcrypt importable.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import random
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from mtcrypt import tl
from mtcrypt.mtproto import (
    AuthKey,
    InnerMessage,
    encrypt_message,
    encrypt_message_v1,
    pack_plain,
)
from mtcrypt.tl import Kind, TLType

AUTH_KEY_BYTES = bytes((i * 29 + 7) & 0xFF for i in range(256))
KEY = AuthKey(AUTH_KEY_BYTES)
SCHEMA = tl.default_schema()
NAMES = sorted(SCHEMA.combinators)
BARE_ONLY = frozenset({"message", "rsa_public_key"})

_rng = random.Random(20241125)


def _rand(n: int) -> bytes:
    return bytes(_rng.getrandbits(8) for _ in range(n))


def _rng_fn(n: int) -> bytes:
    return _rand(n)


# ---- TL objects -----------------------------------------------------------


def _value(t: TLType, depth: int, rich: bool) -> object:
    kind = t.kind
    if kind is Kind.INT:
        return -7 if rich else 7
    if kind is Kind.LONG:
        return 0x1122334455667788 if rich else 1
    if kind is Kind.DOUBLE:
        return 1.5
    if kind is Kind.BYTES:
        return _rand(300) if rich else b"abc"
    if kind is Kind.INT128:
        return bytes(range(16))
    if kind is Kind.INT256:
        return bytes(range(32))
    if kind in (Kind.BOOL, Kind.TRUE):
        return rich
    if kind in (Kind.VECTOR, Kind.BARE_VECTOR):
        assert t.item is not None
        return [_value(t.item, depth + 1, rich) for _ in range(2 if depth < 3 else 0)]
    if kind is Kind.BARE:
        return _object(t.name, depth + 1, rich)
    if kind is Kind.BOXED:
        options = SCHEMA.constructors_of[t.name]
        pick = options[-1] if rich and depth < 3 else options[0]
        return _object(pick.name, depth + 1, rich)
    if kind is Kind.FUNCTION:
        return _object("ping", depth + 1, rich)
    if kind is Kind.OBJECT:
        # an unknown object is kept as raw bytes; a known one is decoded
        return _object("pong", depth + 1, rich) if rich else struct.pack("<II", 0x01020304, 5)
    raise AssertionError(kind)


def _object(name: str, depth: int = 0, rich: bool = False) -> tl.TLObject:
    comb = SCHEMA[name]
    fields: dict[str, object] = {}
    for param in comb.value_params:
        if name == "message" and param.name == "bytes":
            continue
        if param.is_optional and not rich:
            continue
        fields[param.name] = _value(param.type, depth, rich)
    return tl.make(name, **fields)


def tl_objects() -> Iterator[tuple[str, bytes]]:
    """(name, encoding) for every combinator, minimal and rich, plus the
    nestings the receive path sees."""
    for name in NAMES:
        for rich in (False, True):
            obj = _object(name, rich=rich)
            yield name, tl.serialize(obj, boxed=name not in BARE_ONLY)
    ping = tl.make("ping", ping_id=1)
    pong = tl.make("pong", msg_id=2, ping_id=1)
    messages = [
        tl.make("message", msg_id=0x6000000000000001 + 4 * i, seqno=2 * i + 1, body=body)
        for i, body in enumerate([pong, tl.gzip_pack(pong), b"\x01\x02\x03\x04\x00\x00\x00\x00"])
    ]
    container = tl.make("msg_container", messages=messages)
    yield "msg_container", tl.serialize(container)
    yield "gzip_packed", tl.serialize(tl.gzip_pack(container))
    yield "rpc_result", tl.serialize(tl.make("rpc_result", req_msg_id=9, result=tl.gzip_pack(pong)))
    yield (
        "invokeWithLayer",
        tl.serialize(
            tl.make("invokeWithLayer", layer=185, query=tl.make("invokeWithoutUpdates", query=ping))
        ),
    )


def tl_dictionary() -> str:
    lines = ["# TL constructor ids of mtcrypt/tl/schema.tl (little-endian), for libFuzzer"]
    for name in NAMES:
        cid = SCHEMA[name].id
        escaped = "".join(f"\\x{b:02x}" for b in struct.pack("<I", cid))
        lines.append(f'"{escaped}"')
    lines.append('"\\x15\\xc4\\xb5\\x1c"')  # Vector
    lines.append('"\\xfe"')  # long string prefix
    return "\n".join(lines) + "\n"


# ---- messages ----------------------------------------------------------------


def _inner(body_len: int, i: int = 0) -> bytes:
    return InnerMessage(
        salt=0x1122334455667788 + i,
        session_id=-42,
        msg_id=0x6000000000000001 + 4 * i,
        seq_no=2 * i + 1,
        body=_rand(body_len),
    ).pack()


BODY_LENS = (0, 4, 8, 12, 60, 100, 200, 500, 1000, 2000)


def sealed_packets() -> Iterator[tuple[int, bytes]]:
    """(from_server bit, packet) for valid MTProto 2.0 packets."""
    for i, n in enumerate(BODY_LENS):
        for xbit in (0, 1):
            extra = (0, 1, 7, 60)[i % 4] if n < 1000 else 0
            packet = encrypt_message(
                KEY, _inner(n, i), from_server=bool(xbit), extra_padding_blocks=extra, rng=_rng_fn
            )
            yield xbit, packet


def forge_plaintexts() -> Iterator[tuple[int, bytes]]:
    """(padding pick, plaintext with random padding) for the forge modes."""
    for n in BODY_LENS:
        plain = _inner(n)
        for pad in (12, 16, 27, 100, 1024, 1030, 11, 0):
            total = len(plain) + pad
            if total % 16:
                continue
            yield pad, plain + _rand(pad)
        pad = 12 + (-(len(plain) + 12) % 16)
        yield pad, plain + _rand(pad)


# ---- per-harness generators -----------------------------------------------------


def seeds_msg_open() -> Iterator[bytes]:
    for xbit, packet in sealed_packets():
        yield bytes([xbit]) + packet
        yield bytes([xbit | 4]) + packet[8:]
    for pad, plain in forge_plaintexts():
        for xbit in (0, 1):
            yield bytes([2 | xbit]) + plain
            yield bytes([2 | 8 | xbit]) + struct.pack("<H", pad) + plain
    for n in (0, 1, 8, 23, 24, 55, 56, 57, 72):
        yield bytes([4]) + _rand(n)


def seeds_msg_seal() -> Iterator[bytes]:
    for i, n in enumerate(BODY_LENS):
        plain_len = 32 + n
        base = 12 + (-(plain_len + 12) % 16)
        for pad in {base, base + 16 * 3, base + 16 * ((1024 - base) // 16), 11, 1025}:
            for flags in (0, 1, 2):
                yield (
                    bytes([flags])
                    + struct.pack("<HH", n, pad)
                    + _rand(28)
                    + bytes([i * 7])
                    + _rand(n)
                    + _rand(pad)
                )


def seeds_modes_diff() -> Iterator[bytes]:
    for n in (0, 1, 15, 16, 17, 31, 32, 63, 64, 65, 255, 256, 257, 511, 1024, 1031, 4096):
        for flags in (0, 1, 0x06, 0x09):
            chunks = [16, 1, 48, 0, 300]
            yield (
                bytes([flags])
                + _rand(64)
                + bytes([len(chunks)])
                + b"".join(struct.pack("<H", c) for c in chunks)
                + _rand(n)
            )
    # a counter about to wrap around 2^128
    yield bytes([0]) + _rand(32) + b"\xff" * 16 + _rand(16) + b"\x00" + _rand(600)


PQ_VALUES = (
    0,
    1,
    2,
    3,
    4,
    6,
    9,
    15,
    25,
    49,
    0x17ED48941A08F981,  # the spec's example: 1229739323 * 1402015859
    (1 << 64) - 1,
    18446744073709551557,  # the largest prime below 2^64
    4294967291 * 4294967291,  # a square of the largest prime below 2^32
    4294967291 * 4294967279,
    3825123056546413051,  # strong pseudoprime to bases 2..23
    318665857834031151167461,  # (above 2^64: reduced mod 2^64 by the harness)
    561,
    1105,
    1729,
    2465,  # Carmichael numbers
    (1 << 62) + 1,
    1 << 63,
    601747 * 1203493 * 1805239,  # Carmichael, every factor above the trial division bound
    1031 * 1033 * 1039 * 1049 * 1051 * 1061,  # small factors just above that bound
    1031 * 17179869143,
    1048573 * 1048583,  # below 2^40
)


def seeds_pq() -> Iterator[bytes]:
    for v in PQ_VALUES:
        yield bytes([0]) + struct.pack("<QQ", v & ((1 << 64) - 1), 0)
    for p, q in ((1229739323, 1402015859), (2, 2), (65537, 4294967291), (3, 1), (0, 5)):
        yield bytes([1]) + struct.pack("<QQ", p, q)
    for v in (0, 1, 2, 4294967291, 4294967295, 65521 * 65537):
        yield bytes([2]) + struct.pack("<QQ", v, 0)


def seeds_sha() -> Iterator[bytes]:
    for n in (0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4095):
        for chunks in ([], [1, 63, 64], [55, 0, 9]):
            yield bytes([len(chunks)]) + b"".join(struct.pack("<H", c) for c in chunks) + _rand(n)


def seeds_tl_codec() -> Iterator[bytes]:
    for name, encoded in tl_objects():
        idx = NAMES.index(name) if name in NAMES else 0
        if name in BARE_ONLY:
            yield bytes([3, idx]) + encoded
            yield bytes([2 | 8, idx]) + encoded + b"\x00\x00\x00\x00"
        else:
            for mode in (0, 1, 4, 1 | 4, 16, 2, 0x20, 0x40):
                yield bytes([mode, idx]) + encoded
            yield bytes([3, idx]) + encoded[4:]


def seeds_tl_reader() -> Iterator[bytes]:
    script = bytes(range(16)) + bytes([11, 40, 8, 0, 1, 6, 6, 14])
    for _, encoded in tl_objects():
        for config in (0, 1, 2, 7):
            yield bytes([config, len(script)]) + script + encoded


def seeds_mtproto_decrypt() -> Iterator[bytes]:
    for xbit, packet in sealed_packets():
        yield bytes([xbit]) + packet
        yield bytes([xbit | 4 | 0x10]) + packet[8:]
    for n in (0, 4, 60, 500):
        plain = _inner(n)
        for xbit in (0, 1):
            yield bytes([xbit | 64]) + encrypt_message_v1(
                KEY, plain, from_server=bool(xbit), rng=_rng_fn
            )
    for pad, plain in forge_plaintexts():
        yield bytes([2]) + plain
        yield bytes([2 | 8 | 1]) + struct.pack("<H", pad) + plain
        yield bytes([2 | 64]) + plain[: len(plain) - pad] + _rand(-(len(plain) - pad) % 16)


def seeds_mtproto_plain() -> Iterator[bytes]:
    for _, encoded in tl_objects():
        if len(encoded) % 4:
            continue
        yield bytes([1]) + pack_plain(0x6000000000000001, encoded)
        yield bytes([0 | 2]) + InnerMessage(1, 2, 0x6000000000000001, 1, encoded).pack()
        yield bytes([4]) + InnerMessage(1, 2, 3, 4, encoded).pack()


def seeds_transport() -> Iterator[bytes]:
    from mtcrypt.transport import ClientTransport, ServerTransport

    spec = importlib.util.spec_from_file_location(
        "_fuzz_transport", Path(__file__).parent / "python" / "fuzz_transport.py"
    )
    assert spec is not None and spec.loader is not None
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)

    def chunked(stream: bytes, mode: int) -> bytes:
        cuts = [1, 63, 64, 7]
        return bytes([mode, len(cuts)]) + b"".join(struct.pack("<H", c) for c in cuts) + stream

    payloads = [_rand(16), _rand(400), _rand(4)]
    for framing in ("abridged", "intermediate", "padded_intermediate", "full"):
        for obfuscated in (False, True) if framing != "full" else (False,):
            client = ClientTransport(framing, obfuscated=obfuscated, rng=_rng_fn)
            stream = b"".join(client.send(p) for p in payloads)
            yield chunked(stream, 0)
    for secret in harness.SECRETS:
        client = ClientTransport(secret=secret, dc_id=2, rng=_rng_fn, clock=lambda: harness.NOW)
        stream = client.data_to_send() + client.send(payloads[0])
        yield chunked(stream, 1)
    for index, framing in enumerate(harness.FRAMINGS):
        for kind in (2, 3):
            client = ClientTransport(framing, rng=_rng_fn)
            stream = b"".join(client.send(p) for p in payloads)
            yield chunked(stream, kind | (index << 4))
    client = ClientTransport("intermediate", obfuscated=True, rng=harness._rng)
    header = client.send(bytes(16))
    server = ServerTransport(rng=_rng_fn)
    server.receive(header)
    yield chunked(b"".join(server.send(p) for p in payloads), 4)
    links = [
        "tg://proxy?server=example.com&port=443&secret=" + harness.SECRETS[0],
        "https://t.me/proxy?server=1.2.3.4&port=80&secret=" + harness.SECRETS[1],
    ]
    for text in [*harness.SECRETS, *links]:
        yield bytes([5, 0]) + text.encode()


def seeds_session() -> Iterator[bytes]:
    pong = tl.make("pong", msg_id=0x6000000000000004, ping_id=1)
    bodies = [
        tl.serialize(tl.make("ping", ping_id=1)),
        tl.serialize(pong),
        tl.serialize(tl.make("msgs_ack", msg_ids=[1, 2])),
        tl.serialize(tl.make("rpc_result", req_msg_id=8, result=pong)),
        tl.serialize(tl.gzip_pack(pong)),
        tl.serialize(
            tl.make(
                "bad_server_salt", bad_msg_id=8, bad_msg_seqno=1, error_code=48, new_server_salt=5
            )
        ),
        tl.serialize(tl.make("new_session_created", first_msg_id=1, unique_id=2, server_salt=3)),
        tl.serialize(tl.make("future_salts", req_msg_id=1, now=2, salts=[])),
        tl.serialize(
            tl.make(
                "msg_container",
                messages=[
                    tl.make("message", msg_id=(1_700_000_000 << 32) + 1 + 4 * i, seqno=1, body=pong)
                    for i in range(3)
                ],
            )
        ),
    ]
    for role in (0, 1):
        for body in bodies:
            for kind in (2 | 4 | 8, 2 | 4, 2 | 4 | 8 | 16):
                yield bytes([role, kind]) + struct.pack("<H", len(body)) + body
        seq = b"".join(bytes([2 | 4 | 8]) + struct.pack("<H", len(b)) + b for b in bodies[:4])
        yield bytes([role]) + seq


def seeds_handshake() -> Iterator[bytes]:
    spec = importlib.util.spec_from_file_location(
        "_fuzz_handshake", Path(__file__).parent / "python" / "fuzz_handshake.py"
    )
    assert spec is not None and spec.loader is not None
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    for step, packet in enumerate(harness.honest_transcript()):
        yield bytes([step, 0, 0, 0]) + packet
        for offset in (0, 8, 20, 24, 40, len(packet) - 1):
            yield bytes([step, 1]) + struct.pack("<H", offset) + bytes([1])


def seeds_connection() -> Iterator[bytes]:
    """Client bytes as a server connection sees them (mode 0): a transport tag
    and encrypted packets under the fixed key, whole and cut; and server bytes
    for the client side (mode 2)."""
    from mtcrypt.mtproto import AuthKey
    from mtcrypt.mtproto.session import Role, Session
    from mtcrypt.transport import ClientTransport

    key = AuthKey(AUTH_KEY_BYTES)
    now = 1_700_000_000.0
    client = Session(key, Role.CLIENT, clock=lambda: now, rng=_rand)
    server = Session(
        key, Role.SERVER, session_id=client.session_id, clock=lambda: now, rng=_rand
    )
    for framing in ("abridged", "intermediate", "padded_intermediate", "full"):
        transport = ClientTransport(framing, rng=_rand)
        client.send(b"\x0e\x0d\x0e\x0d" + _rand(_rng.randrange(0, 64)) * 4)
        stream = transport.data_to_send()
        for packet in client.data_to_send():
            stream += transport.send(packet)
        cut = _rng.randrange(1, len(stream))
        yield bytes([0, 1]) + cut.to_bytes(2, "little") + stream
        yield bytes([0, 0]) + stream[: len(stream) - 3]
    server.send(b"\x0e\x0d\x0e\x0d")
    for packet in server.data_to_send():
        yield bytes([2, 0]) + len(packet).to_bytes(4, "little") + packet


GENERATORS: dict[str, Callable[[], Iterator[bytes]]] = {
    "fuzz_msg_open": seeds_msg_open,
    "fuzz_msg_seal": seeds_msg_seal,
    "fuzz_modes_diff": seeds_modes_diff,
    "fuzz_pq": seeds_pq,
    "fuzz_sha": seeds_sha,
    "fuzz_tl_codec": seeds_tl_codec,
    "fuzz_tl_reader": seeds_tl_reader,
    "fuzz_mtproto_decrypt": seeds_mtproto_decrypt,
    "fuzz_mtproto_plain": seeds_mtproto_plain,
    # optional targets, for modules that may not exist yet
    "fuzz_transport": seeds_transport,
    "fuzz_session": seeds_session,
    "fuzz_handshake": seeds_handshake,
    "fuzz_connection": seeds_connection,
}
OPTIONAL = {"fuzz_transport", "fuzz_session", "fuzz_handshake", "fuzz_connection"}
DICTIONARIES = {"fuzz_tl_codec", "fuzz_tl_reader", "fuzz_mtproto_plain", "fuzz_session"}


def generate(out: Path, only: set[str] | None = None) -> dict[str, int]:
    """Write the seeds; returns the number of files per harness."""
    counts = {}
    for name, gen in GENERATORS.items():
        if only and name not in only:
            continue
        _rng.seed(f"{name}-20241125")
        try:
            seeds = list(gen())
        except ImportError as exc:
            if name not in OPTIONAL:
                raise
            print(f"{name}: skipped ({exc})", file=sys.stderr)
            continue
        target = out / name
        target.mkdir(parents=True, exist_ok=True)
        seen = set()
        for seed in seeds:
            digest = hashlib.sha1(seed).hexdigest()
            if digest not in seen:
                seen.add(digest)
                (target / f"seed-{digest}").write_bytes(seed)
        counts[name] = len(seen)
        if name in DICTIONARIES:
            (out / f"{name}.dict").write_text(tl_dictionary(), encoding="ascii")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="corpus root directory")
    parser.add_argument("--only", default="", help="comma-separated harness names")
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()} or None
    for name, count in generate(args.out, only).items():
        print(f"{name}: {count} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
