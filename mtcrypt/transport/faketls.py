"""MTProxy fake-TLS (``ee`` secrets; digest §6.5, checklist T3).

The client opens with a browser-like TLS 1.3 ClientHello whose 32-byte random
field is ``HMAC-SHA256(key16, hello with random zeroed)`` with its last 4 bytes
XORed with the LE unix time.  The proxy answers with a ServerHello record, a
change_cipher_spec and one application-data record (fake certificate bytes);
bytes 11..43 of that answer are ``HMAC-SHA256(key16, client_random || answer
with those bytes zeroed)``.  Afterwards both directions carry the obfuscated2
stream in application-data records ``17 03 03 || BE16 len``; the client's first
record is preceded by ``14 03 03 00 01 01``.

Both MACs are compared with :func:`hmac.compare_digest`.  The server also
checks the timestamp against a window and (optionally) a replay cache of
client randoms.  Randomness and time are parameters throughout.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from .._random import random_bytes
from .._validation import Rng, check_int, draw, randbelow, shuffle
from ..errors import InvalidArgument, TransportError
from .proxy import MAX_DOMAIN_LENGTH

__all__ = [
    "CHANGE_CIPHER_SPEC",
    "HELLO_SIZE",
    "MAX_RECORD_RECEIVE",
    "MAX_RECORD_SEND",
    "ClientHello",
    "ClientHelloInfo",
    "ClientRandomCache",
    "FakeTlsPolicy",
    "ReplayCache",
    "TlsRecordReader",
    "TlsRecordWriter",
    "build_client_hello",
    "build_server_hello",
    "check_client_hello",
    "server_hello_length",
    "verify_server_hello",
]

CHANGE_CIPHER_SPEC: Final = b"\x14\x03\x03\x00\x01\x01"
APPLICATION_DATA: Final = b"\x17\x03\x03"
HANDSHAKE_CLIENT: Final = b"\x16\x03\x01"
HANDSHAKE_SERVER: Final = b"\x16\x03\x03"
MAX_RECORD_SEND: Final = 2878
"""tdlib's MAX_TLS_PACKET_LENGTH: payload bytes per record when sending."""
MAX_RECORD_RECEIVE: Final = (1 << 14) + 256
"""RFC 8446's bound on a TLSCiphertext fragment; larger records are refused."""
HELLO_SIZE: Final = 517
"""A classic Chrome ClientHello is padded to this many bytes (what MTProxy expects)."""
MAX_CLIENT_HELLO: Final = 1 << 14
RANDOM_OFFSET: Final = 11
_MIN_CLIENT_HELLO: Final = RANDOM_OFFSET + 32 + 1  # through the session id length byte

# ---- the ClientHello ---------------------------------------------------------

_CIPHER_SUITES: Final = bytes.fromhex(
    "130113021303c02bc02fc02cc030cca9cca8c013c014009c009d002f0035"
)
_SIGNATURE_ALGORITHMS: Final = bytes.fromhex("04030804040105030805050108060601")
_ALPN: Final = b"\x02h2\x08http/1.1"
_CURVE_P: Final = 2**255 - 19


def _u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


def _vec16(body: bytes) -> bytes:
    return _u16(len(body)) + body


def _ext(ext_type: int | bytes, body: bytes) -> bytes:
    head = ext_type if isinstance(ext_type, bytes) else _u16(ext_type)
    return head + _vec16(body)


def _grease(rng: Rng, count: int = 7) -> list[bytes]:
    """RFC 8701 GREASE values (0x?a?a), neighbours distinct like Chrome's."""
    raw = bytearray((b & 0xF0) | 0x0A for b in draw(rng, count))
    for i in range(1, count, 2):
        if raw[i] == raw[i - 1]:
            raw[i] ^= 0x10
    return [bytes((b, b)) for b in raw]


def _x25519_public(rng: Rng) -> bytes:
    """32 bytes that are a valid X25519 public key (a point of the prime-order
    subgroup), so the key share is indistinguishable from a real one."""
    p = _CURVE_P
    while True:
        x = int.from_bytes(draw(rng, 32), "little") & ((1 << 255) - 1)
        x %= p
        y2 = (x * x * x + 486662 * x * x + x) % p
        if y2 and pow(y2, (p - 1) // 2, p) == 1:
            break
    for _ in range(3):  # times 8: clear the cofactor (x-only doubling)
        y2 = (x * x * x + 486662 * x * x + x) % p
        x = pow(x * x - 1, 2, p) * pow(4 * y2, p - 2, p) % p
    return x.to_bytes(32, "little")


def _ml_kem_768_public(rng: Rng) -> bytes:
    """1184 bytes shaped like an ML-KEM-768 encapsulation key: 768 12-bit
    coefficients below 3329, packed in pairs, then a 32-byte seed."""
    coefficients: list[int] = []
    while len(coefficients) < 768:
        block = draw(rng, 3 * 128)
        for i in range(0, len(block), 3):
            a = block[i] | (block[i + 1] & 0x0F) << 8
            b = block[i + 1] >> 4 | block[i + 2] << 4
            coefficients.extend(c for c in (a, b) if c < 3329)
    out = bytearray()
    for i in range(0, 768, 2):
        a, b = coefficients[i], coefficients[i + 1]
        out += bytes((a & 0xFF, a >> 8 | (b & 0x0F) << 4, b >> 4))
    return bytes(out) + draw(rng, 32)


@dataclass(frozen=True)
class ClientHello:
    record: bytes
    """The TLS record to send."""
    random: bytes
    """Its random field; the server's answer is authenticated against it."""


def build_client_hello(
    key: bytes,
    domain: str,
    unix_time: int,
    *,
    rng: Rng = random_bytes,
    post_quantum: bool = False,
) -> ClientHello:
    """A Chrome-like ClientHello for ``domain`` authenticated with ``key`` (16 bytes).

    GREASE values, the session id, the key shares and the order of the
    extensions are random.  By default the hello is a classic one padded to
    517 bytes (what the reference MTProxy server expects); ``post_quantum=True``
    adds an X25519MLKEM768 key share as current Chrome and tdlib do (about
    1.8 KB, no padding).
    """
    if len(key) != 16:
        raise InvalidArgument("the fake-TLS key is 16 bytes")
    host = domain.encode("ascii")
    if not 1 <= len(host) <= MAX_DOMAIN_LENGTH:
        raise InvalidArgument(f"the domain is 1..{MAX_DOMAIN_LENGTH} bytes")
    time32 = check_int(unix_time, "unix_time", -(1 << 31), (1 << 32) - 1) & 0xFFFFFFFF
    g = _grease(rng)

    groups = g[4] + (b"\x11\xec" if post_quantum else b"") + b"\x00\x1d\x00\x17\x00\x18"
    shares = g[4] + b"\x00\x01\x00"
    if post_quantum:
        shares += b"\x11\xec" + _vec16(_ml_kem_768_public(rng) + _x25519_public(rng))
    shares += b"\x00\x1d" + _vec16(_x25519_public(rng))
    extensions = [
        _ext(0x0000, _vec16(b"\x00" + _vec16(host))),  # server_name
        _ext(0x0005, b"\x01\x00\x00\x00\x00"),  # status_request (OCSP)
        _ext(0x000A, _vec16(groups)),  # supported_groups
        _ext(0x000B, b"\x01\x00"),  # ec_point_formats
        _ext(0x000D, _vec16(_SIGNATURE_ALGORITHMS)),  # signature_algorithms
        _ext(0x0010, _vec16(_ALPN)),  # ALPN: h2, http/1.1
        _ext(0x0012, b""),  # signed_certificate_timestamp
        _ext(0x0017, b""),  # extended_master_secret
        _ext(0x001B, b"\x02\x00\x02"),  # compress_certificate: brotli
        _ext(0x0023, b""),  # session_ticket
        _ext(0x002B, b"\x06" + g[6] + b"\x03\x04\x03\x03"),  # supported_versions
        _ext(0x002D, b"\x01\x01"),  # psk_key_exchange_modes
        _ext(0x0033, _vec16(shares)),  # key_share
        _ext(0x44CD, b"\x00\x03\x02h2"),  # application_settings
        _ext(0xFF01, b"\x00"),  # renegotiation_info
    ]
    shuffle(extensions, rng)
    ext_block = _ext(g[2], b"") + b"".join(extensions) + _ext(g[3], b"\x00")

    body = (
        b"\x03\x03"
        + bytes(32)  # the random field, filled in below
        + b"\x20"
        + draw(rng, 32)  # session id
        + _vec16(g[0] + _CIPHER_SUITES)
        + b"\x01\x00"  # compression: null only
    )
    size = 5 + 4 + len(body) + 2 + len(ext_block)
    if size < HELLO_SIZE - 4:
        ext_block += _ext(0x0015, bytes(HELLO_SIZE - 4 - size))  # padding
    body += _vec16(ext_block)
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    record = bytearray(HANDSHAKE_CLIENT + _vec16(handshake))

    digest = bytearray(hmac.new(key, record, hashlib.sha256).digest())
    for i, b in enumerate(struct.pack("<I", time32)):
        digest[28 + i] ^= b
    record[RANDOM_OFFSET : RANDOM_OFFSET + 32] = digest
    return ClientHello(bytes(record), bytes(digest))


# ---- the server's view of a ClientHello --------------------------------------


@runtime_checkable
class ReplayCache(Protocol):
    """What :class:`FakeTlsPolicy` needs from a replay cache: one call that
    records a client random and says whether it was new.
    :class:`ClientRandomCache` is the in-process one; the MTProxy relay has one
    in shared memory for its worker processes
    (:class:`mtcrypt.proxy.SharedReplayCache`)."""

    def check_and_add(self, client_random: bytes) -> bool:
        """Record ``client_random``; False if it was already there."""
        ...


class ClientRandomCache:
    """Client randoms already accepted (bounded, oldest evicted first).

    One cache is shared by all connections of a server: a replayed ClientHello
    is refused.  Thread-safe.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = check_int(max_entries, "max_entries", 1, 1 << 26)
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def check_and_add(self, client_random: bytes) -> bool:
        """Record ``client_random``; False if it was already there."""
        with self._lock:
            if client_random in self._seen:
                return False
            self._seen[client_random] = None
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)
            return True


@dataclass(frozen=True)
class FakeTlsPolicy:
    """How a server checks fake-TLS ClientHellos.

    ``max_past``/``max_future``: how far (seconds) the hello's timestamp may lie
    behind/ahead of the server clock.  ``check_domain``: the SNI must equal the
    domain of the matching ``ee`` secret.  ``server_hello_size``: inclusive
    range for the fake certificate record's length (MTProxy's default range).
    """

    max_past: float = 600.0
    max_future: float = 120.0
    replay_cache: ReplayCache | None = None
    check_domain: bool = True
    server_hello_size: tuple[int, int] = (2500, 3620)
    max_record: int = MAX_RECORD_RECEIVE

    def __post_init__(self) -> None:
        lo, hi = self.server_hello_size
        if not 1 <= lo <= hi <= MAX_RECORD_RECEIVE - 256:
            raise InvalidArgument("server_hello_size must be a range within one record")
        if self.max_past < 0 or self.max_future < 0:
            raise InvalidArgument("time windows must not be negative")
        check_int(self.max_record, "max_record", MAX_RECORD_SEND, 1 << 16)
        if self.replay_cache is not None and not isinstance(self.replay_cache, ReplayCache):
            raise InvalidArgument("replay_cache must have a check_and_add(client_random) method")


# duplicates: deliberate -- a record declared field by field, alike any small dataclass.
@dataclass(frozen=True)
class ClientHelloInfo:
    key_index: int
    client_random: bytes
    session_id: bytes
    sni: str | None
    timestamp: int


def _sni(hello: bytes, pos: int) -> str | None:
    """The server_name in a ClientHello's extensions, or None (best effort)."""
    n = len(hello)
    try:
        cipher_len = int.from_bytes(hello[pos : pos + 2], "big")
        pos += 2 + cipher_len
        pos += 1 + hello[pos]
        end = pos + 2 + int.from_bytes(hello[pos : pos + 2], "big")
        pos += 2
        if end > n:
            return None
        while pos + 4 <= end:
            ext_type = int.from_bytes(hello[pos : pos + 2], "big")
            ext_len = int.from_bytes(hello[pos + 2 : pos + 4], "big")
            pos += 4
            if pos + ext_len > end:
                return None
            if ext_type == 0 and ext_len >= 5 and hello[pos + 2] == 0:
                name_len = int.from_bytes(hello[pos + 3 : pos + 5], "big")
                name = hello[pos + 5 : pos + 5 + name_len]
                if len(name) != name_len or not name.isascii():
                    return None
                return name.decode("ascii")
            pos += ext_len
    except IndexError:
        return None
    return None


def check_client_hello(
    hello: bytes,
    keys: Sequence[bytes],
    *,
    now: float,
    policy: FakeTlsPolicy,
    domains: Sequence[str | None] | None = None,
) -> ClientHelloInfo:
    """Authenticate a complete ClientHello record against candidate ``keys``.

    Raises :class:`TransportError` (-404) when it is malformed, no key matches
    (MAC prefix compared in constant time), the timestamp is outside the
    window, the SNI does not match the key's domain, or the random was seen
    before.
    """
    if len(hello) < _MIN_CLIENT_HELLO or hello[:3] != HANDSHAKE_CLIENT:
        raise TransportError("fake-TLS: not a ClientHello record", code=-404)
    if 5 + int.from_bytes(hello[3:5], "big") != len(hello):
        raise TransportError("fake-TLS: ClientHello record length mismatch", code=-404)
    if hello[5] != 0x01 or hello[9:11] != b"\x03\x03":
        raise TransportError("fake-TLS: not a ClientHello", code=-404)
    session_len = hello[43]
    if session_len > 32 or 44 + session_len > len(hello):
        raise TransportError("fake-TLS: bad session id", code=-404)
    client_random = hello[RANDOM_OFFSET : RANDOM_OFFSET + 32]
    zeroed = hello[:RANDOM_OFFSET] + bytes(32) + hello[RANDOM_OFFSET + 32 :]
    matched = -1
    expected = b""
    for index, key in enumerate(keys):
        mac = hmac.new(key, zeroed, hashlib.sha256).digest()
        if hmac.compare_digest(mac[:28], client_random[:28]) and matched < 0:
            matched, expected = index, mac
    if matched < 0:
        raise TransportError("fake-TLS: ClientHello not authenticated", code=-404)
    timestamp = int.from_bytes(expected[28:], "little") ^ int.from_bytes(
        client_random[28:], "little"
    )
    delta = ((int(now) - timestamp + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)  # now - ts, mod 2**32
    if delta > policy.max_past or -delta > policy.max_future:
        raise TransportError("fake-TLS: ClientHello timestamp outside the window", code=-404)
    sni = _sni(hello, 44 + session_len)
    if policy.check_domain and domains is not None:
        domain = domains[matched]
        if domain is not None and (sni is None or sni.lower() != domain.lower()):
            raise TransportError("fake-TLS: SNI does not match the secret's domain", code=-404)
    if policy.replay_cache is not None and not policy.replay_cache.check_and_add(client_random):
        raise TransportError("fake-TLS: replayed ClientHello", code=-404)
    return ClientHelloInfo(matched, client_random, hello[44 : 44 + session_len], sni, timestamp)


def build_server_hello(
    key: bytes,
    client_random: bytes,
    session_id: bytes,
    *,
    rng: Rng = random_bytes,
    certificate_size: tuple[int, int] = (2500, 3620),
) -> bytes:
    """The proxy's answer: ServerHello (TLS 1.3, x25519, echoing the session
    id), change_cipher_spec, and one application-data record of random bytes;
    bytes 11..43 carry ``HMAC-SHA256(key, client_random || answer)``."""
    if len(key) != 16 or len(client_random) != 32 or len(session_id) > 32:
        raise InvalidArgument("bad key, client random or session id length")
    extensions = [
        _ext(0x0033, b"\x00\x1d" + _vec16(draw(rng, 32))),  # key_share
        _ext(0x002B, b"\x03\x04"),  # supported_versions: TLS 1.3
    ]
    shuffle(extensions, rng)
    body = (
        b"\x03\x03"
        + bytes(32)
        + bytes((len(session_id),))
        + session_id
        + b"\x13\x01\x00"  # TLS_AES_128_GCM_SHA256, no compression
        + _vec16(b"".join(extensions))
    )
    handshake = b"\x02" + len(body).to_bytes(3, "big") + body
    lo, hi = certificate_size
    cert = draw(rng, lo + randbelow(rng, hi - lo + 1))
    answer = bytearray(
        HANDSHAKE_SERVER + _vec16(handshake) + CHANGE_CIPHER_SPEC + APPLICATION_DATA + _vec16(cert)
    )
    mac = hmac.new(key, client_random + answer, hashlib.sha256).digest()
    answer[RANDOM_OFFSET : RANDOM_OFFSET + 32] = mac
    return bytes(answer)


# ---- the client's view of the answer ----------------------------------------


def server_hello_length(data: bytes | bytearray, max_record: int = MAX_RECORD_RECEIVE) -> int:
    """Length of the proxy's complete answer at the start of ``data``, or 0 if
    more bytes are needed.  Malformed answers raise :class:`TransportError`."""
    if len(data) < 5:
        return 0
    if data[:3] != HANDSHAKE_SERVER:
        raise TransportError("fake-TLS: answer is not a ServerHello record", code=-404)
    first = int.from_bytes(data[3:5], "big")
    if first > max_record:
        raise TransportError("fake-TLS: ServerHello record too long", code=-404)
    pos = 5 + first
    prefix = CHANGE_CIPHER_SPEC + APPLICATION_DATA
    if len(data) < pos + len(prefix) + 2:
        return 0
    if data[pos : pos + len(prefix)] != prefix:
        raise TransportError("fake-TLS: answer lacks change_cipher_spec", code=-404)
    pos += len(prefix)
    second = int.from_bytes(data[pos : pos + 2], "big")
    if second > max_record:
        raise TransportError("fake-TLS: answer record too long", code=-404)
    end = pos + 2 + second
    return end if len(data) >= end else 0


def verify_server_hello(answer: bytes, key: bytes, client_random: bytes) -> bool:
    """Whether ``answer`` (exactly the bytes :func:`server_hello_length` spans)
    carries the right HMAC; constant-time comparison."""
    if len(answer) < RANDOM_OFFSET + 32:
        return False
    got = answer[RANDOM_OFFSET : RANDOM_OFFSET + 32]
    zeroed = answer[:RANDOM_OFFSET] + bytes(32) + answer[RANDOM_OFFSET + 32 :]
    want = hmac.new(key, client_random + zeroed, hashlib.sha256).digest()
    return hmac.compare_digest(want, got)


# ---- records ----------------------------------------------------------------


class TlsRecordWriter:
    """Wrap outgoing bytes in application-data records of at most ``max_record``
    payload bytes; the client's first one is preceded by change_cipher_spec."""

    __slots__ = ("_first", "max_record")

    def __init__(self, *, change_cipher_spec: bool, max_record: int = MAX_RECORD_SEND) -> None:
        self.max_record = check_int(max_record, "max_record", 1, 1 << 14)
        self._first = change_cipher_spec

    def wrap(self, data: bytes | bytearray | memoryview) -> bytes:
        # Slices of a memoryview are views: the join below is the one copy.
        if not data:
            return b""
        parts: list[bytes | bytearray | memoryview] = []
        if self._first:
            parts.append(CHANGE_CIPHER_SPEC)
            self._first = False
        step = self.max_record
        for start in range(0, len(data), step):
            chunk = data[start : start + step]
            parts.append(APPLICATION_DATA + _u16(len(chunk)))
            parts.append(chunk)
        return b"".join(parts)


class TlsRecordReader:
    """Unwrap application-data records from a byte stream, any split.

    Payload bytes are passed on as soon as they arrive (the records are not
    encrypted, so nothing needs the whole record).  With
    ``allow_change_cipher_spec`` one ``14 03 03 00 01 01`` is accepted before
    the first application-data record (the client's side of the handshake).
    """

    __slots__ = ("_allow_ccs", "_head", "_remaining", "max_record")

    def __init__(
        self, *, allow_change_cipher_spec: bool = False, max_record: int = MAX_RECORD_RECEIVE
    ) -> None:
        self.max_record = check_int(max_record, "max_record", 1, 1 << 16)
        self._allow_ccs = allow_change_cipher_spec
        self._head = b""
        self._remaining = 0

    def feed(self, data: bytes | bytearray | memoryview) -> bytes:
        """The payload carried by ``data`` (the stream's next bytes), as new bytes."""
        buf = bytearray(data)
        return bytes(memoryview(buf)[: self.feed_into(buf)])

    def feed_into(self, buf: bytearray | memoryview) -> int:
        """Like :meth:`feed`, in place: the payload of ``buf`` (the stream's
        next bytes, in a writable buffer) is moved to its start, over the
        record headers, and its length returned.  No copy leaves the buffer
        (the relay's path: one read buffer per process)."""
        view = memoryview(buf)
        written, pos, n = 0, 0, len(view)
        while pos < n:
            if self._remaining:
                take = min(self._remaining, n - pos)
                if written != pos:  # moves left only: memoryview assignment is a memmove
                    view[written : written + take] = view[pos : pos + take]
                written += take
                self._remaining -= take
                pos += take
                continue
            need = 5 - len(self._head)
            self._head += bytes(view[pos : pos + need])
            pos += need
            if len(self._head) < 5:
                break
            head, self._head = self._head, b""
            if head[:3] == APPLICATION_DATA:
                length = int.from_bytes(head[3:5], "big")
                if length > self.max_record:
                    raise TransportError("fake-TLS: record too long", code=-404)
                self._remaining = length
                self._allow_ccs = False
            elif self._allow_ccs and head == CHANGE_CIPHER_SPEC[:5]:
                if pos >= n:  # the one body byte has not arrived yet
                    self._head = head
                    break
                if view[pos] != 0x01:
                    raise TransportError("fake-TLS: bad change_cipher_spec", code=-404)
                pos += 1
                self._allow_ccs = False
            else:
                raise TransportError("fake-TLS: unexpected TLS record", code=-404)
        return written
