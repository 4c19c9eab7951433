"""What the adversarial server and the mirror client share: an asyncio pump
over a sans-I/O connection, a context in which the connection's own session
numbers the messages a plan sends, and reading what arrived."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from ... import tl
from ..._validation import Clock, Rng
from ...aio import DeadlineTimer
from ...connection import ClientConnection, ConnectionEvent, ServerConnection
from ...errors import MtcryptError
from ...handshake.dh import DH_SAFETY_MARGIN
from ...mtproto import (
    MIN_PADDING,
    AuthKey,
    InnerMessage,
    decrypt_message,
    encrypt_message,
    unpack_plain,
)
from ...mtproto.session import Role, Session
from ...transport import ClientTransport, Framing, ServerTransport
from .. import mutators


@dataclass(frozen=True)
class Raw:
    """Bytes written to the socket as they are (a frame already built)."""

    data: bytes


Out = bytes | Raw
"""What a plan sends: an MTProto packet (framed by the connection's transport) or :class:`Raw`."""

_PLACEHOLDER = tl.serialize(tl.make("msgs_ack", msg_ids=[]))


def contents(message: InnerMessage) -> list[tuple[int, tl.TLObject | bytes]]:
    """``(msg_id, body)`` of a message, or of each message of a container
    (decoded with the codec, gzip undone; unknown objects stay bytes)."""
    try:
        body = tl.deserialize_body(message.body, unpack_gzip=True)
    except MtcryptError:
        return []
    if isinstance(body, tl.TLObject) and body.name == "msg_container":
        return [(m.msg_id, m.body) for m in body.messages]
    return [(message.msg_id, body)]


def plain_object(packet: bytes) -> tl.TLObject | None:
    """The TL object of an unencrypted packet, or None."""
    try:
        return tl.deserialize(unpack_plain(packet)[1])
    except (MtcryptError, ValueError):
        return None


def read_prefix(data: bytes) -> tuple[tl.TLObject, int] | None:
    """A TL object at the start of ``data`` (padding follows) and its length."""
    reader = tl.Reader(data)
    try:
        obj = tl.read_object(reader)
    except MtcryptError:
        return None
    return obj, reader.offset


class Pump(asyncio.Protocol):
    """Moves bytes between a socket and a connection (``conn``) and keeps its
    deadline; subclasses act on the events in :meth:`process` and then call
    :meth:`flush`."""

    conn: ServerConnection | ClientConnection

    def __init__(self, clock: Clock) -> None:
        self.socket: asyncio.Transport | None = None
        self.timer = DeadlineTimer(asyncio.get_running_loop(), clock, self._on_timer)
        self.sent: list[int] = []
        """msg_ids of the encrypted messages the connection sent, in order."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.socket = transport

    def data_received(self, data: bytes) -> None:
        self.process(self.conn.receive_data(data))

    def eof_received(self) -> bool:
        self.process(self.conn.receive_data(b""))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.conn.closed:
            self.process(self.conn.receive_data(b""))

    def process(self, events: list[ConnectionEvent]) -> None:
        raise NotImplementedError

    def _on_timer(self) -> None:
        if not self.conn.closed:
            self.process(self.conn.on_timer())

    def flush(self) -> None:
        """Write what the connection has to send (it seals its sessions' output
        now), and follow its next deadline."""
        # duplicates: deliberate -- the output step of mtcrypt.aio's pumps (Client._process),
        # which aio keeps private.
        data = self.conn.data_to_send()
        socket = self.socket
        if socket is not None and not socket.is_closing():
            if data:
                socket.write(data)
            if self.conn.closed:
                socket.close()
        self.timer.update(None if self.conn.closed else self.conn.next_deadline())

    def send(self, items: Sequence[Out]) -> None:
        """Queue a plan's output after the connection's own."""
        for item in items:
            if isinstance(item, Raw):
                self.conn.send_raw(item.data)
            else:
                self.conn.send_packet(item)


@dataclass(eq=False, repr=False)
class SessionContext:
    """A session of the real connection, for a plan: its key, ids, salt,
    sealing and framing.

    msg_ids and seq_nos come from the session: :meth:`numbered` has it queue
    a placeholder, seal it, and opens the packet again (then forgets it, so
    the session neither waits for an answer nor re-sends it).  Whatever a plan
    sends thus fits in with what the session sent before and sends after.
    """

    pump: Pump
    auth_key: AuthKey
    session: Session
    transport: ClientTransport | ServerTransport
    rng: Rng
    from_server: bool = field(init=False)
    sent: list[int] = field(init=False)
    """msg_ids of the messages sent on this connection, in order."""

    def __post_init__(self) -> None:
        self.from_server = self.session.role is Role.SERVER
        self.sent = self.pump.sent

    @property
    def session_id(self) -> int:
        session_id = self.session.session_id
        assert session_id is not None
        return session_id

    @property
    def salt(self) -> int:
        """The session's current (server) salt."""
        return self.session.salt

    def now(self) -> float:
        """The server's time, as the session knows it."""
        return self.session.server_time

    def numbered(self, *, content_related: bool = True, response: bool = False) -> InnerMessage:
        """A message numbered by the session (its body is a placeholder);
        ``response``: a server's reply (msg_id 1 mod 4)."""
        options = {"response": response} if self.from_server else {}
        handle = self.session.send(_PLACEHOLDER, content_related=content_related, **options)
        found: InnerMessage | None = None
        for packet in self.session.data_to_send():
            plain = decrypt_message(self.auth_key, packet, from_server=self.from_server)
            message = InnerMessage.parse(plain)
            if message.msg_id == handle:
                found = message
            else:  # acks the session had to send: they go out first
                self.pump.conn.send_packet(packet)
        self.session.forget(handle)
        assert found is not None
        return found

    def seal(
        self, message: InnerMessage, *, padding: int | None = None, length: int | None = None
    ) -> bytes:
        """Seal ``message`` authentically, optionally with a chosen padding
        length and length field."""
        if padding is None and length is None:
            plain = message.pack()
            return encrypt_message(self.auth_key, plain, from_server=self.from_server, rng=self.rng)
        return mutators.seal_with(
            self.auth_key,
            message,
            from_server=self.from_server,
            padding=padding,
            length=length,
            rng=self.rng,
        )

    def frame(self, payload: bytes) -> bytes:
        """``payload`` framed (and obfuscated) by the connection's transport."""
        return self.transport.send(payload)

    @property
    def framing(self) -> Framing:
        codec = self.transport.codec
        assert codec is not None
        return codec.framing

    def full_seq(self) -> int:
        """The full transport's next send seqno."""
        return int(getattr(self.transport.codec, "send_seq", 0))


def container_attack(ctx: SessionContext, kind: str, message: InnerMessage) -> bytes:
    """``message`` (numbered by the session) sealed in a container the
    receiver must refuse: :func:`~mtcrypt.testing.mutators.malformed_container`
    of ``kind``, the container numbered after it (C8)."""
    middle = ctx.numbered(content_related=False).msg_id
    container = ctx.numbered(content_related=False)
    body = mutators.malformed_container(
        kind, message, middle_msg_id=middle, from_server=ctx.from_server
    )
    return ctx.seal(replace(container, body=body))


UNKNOWN_BODY = struct.pack("<I", 0x0BADC0DE) + bytes(16)
"""A body whose constructor no schema has."""


def forged(
    ctx: SessionContext,
    message: InnerMessage,
    *,
    session: Literal["same", "other"] = "same",
    body: Literal["as_is", "unknown"] = "as_is",
) -> bytes:
    """``message`` (well formed, padded as a sender would) under a msg_key that
    is not its MAC; ``session="other"`` puts another session_id inside,
    ``body="unknown"`` an unknown constructor.  A receiver must refuse all
    three alike, before it reads any of the plaintext (C4, C5)."""
    if session == "other":
        message = replace(message, session_id=mutators.other_session_id(message.session_id))
    if body == "unknown":
        message = replace(message, body=UNKNOWN_BODY)
    plain = message.pack()
    pad = -len(plain) % 16
    if pad < MIN_PADDING:
        pad += 16
    return mutators.forge_msg_key(ctx.auth_key, plain + ctx.rng(pad), from_server=ctx.from_server)


_LENGTH_FIELD_ATTACKS = {
    "not_multiple_of_4": mutators.length_not_multiple_of_4,
    "exceeds_plaintext": mutators.length_exceeds_plaintext,
    "negative": mutators.length_negative,
    "short_of_body": mutators.length_short_of_body,
}
_PADDING_ATTACKS = {
    "padding_over": mutators.padding_too_long,
    "padding_under": mutators.padding_too_short,
}


def length_attack(attack: str, *, padding: bool) -> Callable[..., bytes]:
    """The authentic seal a scenario's ``attack`` names: a bad length field
    (``not_multiple_of_4``, ``exceeds_plaintext``, ``negative``,
    ``short_of_body``) or, with ``padding``, also a bad padding length
    (``padding_over``, ``padding_under``)."""
    choices = {**_PADDING_ATTACKS, **_LENGTH_FIELD_ATTACKS} if padding else _LENGTH_FIELD_ATTACKS
    if attack not in choices:
        raise ValueError(f"attack must be one of {sorted(choices)}")
    return choices[attack]


def nonce_mutator(field: str) -> Callable[[tl.TLObject], tl.TLObject]:
    """The mutator that spoils ``nonce`` or ``server_nonce`` (a scenario's ``field``)."""
    if field == "nonce":
        return mutators.wrong_nonce
    if field == "server_nonce":
        return mutators.wrong_server_nonce
    raise ValueError("field must be 'nonce' or 'server_nonce'")


def power_below(g: int, p: int, bits: int, rng: Rng) -> tuple[int, int]:
    """``(x, g^x mod p)`` with x from 256 bytes of ``rng`` and ``g^x`` in the
    safe range and below ``2^bits``: a legal value a normal handshake meets
    rarely (1 in 256 for 2040 bits), forced. Stepping x by one costs one
    multiplication per try instead of a modular exponentiation."""
    x = int.from_bytes(rng(256), "big") >> 8  # headroom for the steps
    y = pow(g, x, p)
    while not DH_SAFETY_MARGIN <= y < 1 << bits:
        x += 1
        y = y * g % p
    return x, y


def exponent_for_zero_led_key(g: int, g_a: int, p: int, rng: Rng) -> int:
    """An exponent x with g^x mod p in the safe range and g_a^x mod p (the
    key) under 2^2040, so that its 256 bytes start with a zero byte: the 1 in
    256 case that tests whether the other side keeps the key at 256 bytes,
    forced.  One multiplication per step, as :func:`power_below`."""
    x = int.from_bytes(rng(256), "big") >> 8
    public, key = pow(g, x, p), pow(g_a, x, p)
    while not (DH_SAFETY_MARGIN <= public <= p - DH_SAFETY_MARGIN and key < 1 << 2040):
        x += 1
        public, key = public * g % p, key * g_a % p
    return x


def first_draw(value: bytes, rng: Rng) -> Rng:
    """``rng``, except that the first draw of ``len(value)`` bytes returns
    ``value``: how the kit forces a client's first obfuscation header
    candidate or its DH exponent while everything else stays random."""
    pending = [value]

    def draw(n: int) -> bytes:
        if pending and n == len(pending[0]):
            return pending.pop()
        return rng(n)

    return draw
