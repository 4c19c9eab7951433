"""What each side writes in the numbers of its own messages: msg_id and seq_no.

The adversarial server records every message a client sends, and the mirror
client every message a server sends (:func:`sent_messages`, from the
``received`` hook, inner messages of a container included).  The judges here
hold such a record to the rules of [D] "Service Messages" / "Mobile Protocol:
detailed description" (digest §1.5):

* :func:`msg_id_problem`: ids increase within a session (a container's above
  the messages it holds), with the sender's low bits: a client's 0 mod 4, a
  server's 1 mod 4 for a response to a client message and 3 otherwise;
* :func:`msg_id_time_problem`: a client's ids follow the server's clock and
  "must present a fractional part of the time point when the message was
  created" (not a counter);
* :func:`seq_no_problem`: ``seq_no`` is twice the number of content-related
  messages created before it, plus one for a content-related message, and
  the content-related flag is right for the message's type.

Each returns ``None`` when the record follows the rule, else a line naming the
first message that does not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ... import tl
from ...errors import MtcryptError
from ...mtproto import InnerMessage

__all__ = [
    "Sent",
    "msg_id_problem",
    "msg_id_time_problem",
    "sent_messages",
    "seq_no_problem",
]

NOT_CONTENT_RELATED = frozenset({"msgs_ack", "msg_container", "msg_copy"})
"""Never content-related ([D]: "virtually all messages, with the exception of
containers and acknowledgments"; bad_msg_notification code 34 otherwise)."""

_SERVICE = frozenset(
    {
        "bad_msg_notification",
        "bad_server_salt",
        "msgs_state_req",
        "msgs_state_info",
        "msgs_all_info",
        "msg_detailed_info",
        "msg_new_detailed_info",
        "msg_resend_req",
        "msg_resend_ans_req",
        "future_salts",
        "pong",
        "ping",
        "ping_delay_disconnect",
        "http_wait",
        "destroy_session_ok",
        "destroy_session_none",
        "new_session_created",
    }
)
"""Service messages whose content-relatedness implementations legitimately
differ on (the spec names only API queries, acks and containers); not judged.
Pyrogram, for one, sends its pings not content-related."""

RESPONSES = frozenset({"rpc_result", "pong", "future_salts", "msgs_state_info"})
"""Server messages that answer a client message: msg_id 1 mod 4."""
NOT_RESPONSES = frozenset({"new_session_created", "msgs_ack"})
"""Server messages that answer nothing: msg_id 3 mod 4."""


@dataclass(frozen=True)
class Sent:
    """One message as its sender numbered it."""

    msg_id: int
    seq_no: int
    name: str
    """The constructor (gzip undone); ``#xxxxxxxx`` for one the schema lacks."""
    at: float
    """When it arrived (the receiver's clock)."""
    container: int | None = None
    """The msg_id of the container it came in."""


def _name(body: object) -> str:
    if isinstance(body, tl.TLObject):
        return body.name
    if isinstance(body, bytes | bytearray) and len(body) >= 4:
        return f"#{int.from_bytes(body[:4], 'little'):08x}"
    return "?"


def sent_messages(message: InnerMessage, at: float) -> list[Sent]:
    """The messages of one packet in the order their sender created them: a
    container's messages first, then the container."""
    try:
        body = tl.deserialize_body(message.body, unpack_gzip=True)
    except MtcryptError:
        return [Sent(message.msg_id, message.seq_no, _name(message.body), at)]
    if isinstance(body, tl.TLObject) and body.name == "msg_container":
        inner = [Sent(m.msg_id, m.seqno, _name(m.body), at, message.msg_id) for m in body.messages]
        return [*inner, Sent(message.msg_id, message.seq_no, "msg_container", at)]
    return [Sent(message.msg_id, message.seq_no, _name(body), at)]


def msg_id_problem(sent: Sequence[Sent], *, from_server: bool) -> str | None:
    """Ids of one session's messages, in arrival order: the low bits right for
    the sender; each packet's id above the one before; a container's messages
    below the container (they may be older copies re-sent, so they are not
    held to the order of packets)."""
    last = 0
    for message in sent:
        low = message.msg_id & 3
        if not from_server and low:
            return f"msg_id {message.msg_id:#x} ({message.name}) is not 0 mod 4"
        if from_server:
            want = 1 if message.name in RESPONSES else 3 if message.name in NOT_RESPONSES else None
            if low % 2 == 0 or (want is not None and low != want):
                return (
                    f"msg_id {message.msg_id:#x} ({message.name}) is {low} mod 4, "
                    f"not {want or 'odd'}"
                )
        if message.container is not None:
            if message.msg_id >= message.container:
                return f"msg_id {message.msg_id:#x} is not below its container's"
            continue
        if message.msg_id <= last:
            return f"msg_id {message.msg_id:#x} ({message.name}) is not above {last:#x}"
        last = message.msg_id
    return None


TIME_TOLERANCE = 2.0
"""Seconds a msg_id's time may differ from the receiver's clock when it
arrives: a client learns the server's time from ``server_time`` (whole
seconds), so a correct one may be up to a second off, plus latency."""

COUNTER_BELOW = 1 << 24
"""Low 32 bits under this (a fraction under 4 ms) in every id of a session
mean a counter, not the time: a time fraction lands there once in 256 ids."""


def msg_id_time_problem(sent: Iterable[Sent], offset: float = 0.0) -> str | None:
    """A client's ids carry the time of sending: ``msg_id / 2^32`` within
    :data:`TIME_TOLERANCE` of the receiver's clock when it arrived
    (``offset``: the sender's clock minus the receiver's, if known), and the
    low 32 bits are the fraction of the second, neither empty nor a counter
    (all of at least three ids under :data:`COUNTER_BELOW`)."""
    own = [m for m in sent if m.container is None]  # inner ones may be older copies
    for message in own:
        if message.msg_id & 0xFFFFFFFF == 0:
            return f"msg_id {message.msg_id:#x}: the low 32 bits are empty"
        error = message.msg_id / 2**32 - (message.at + offset)
        if abs(error) > TIME_TOLERANCE:
            return (
                f"msg_id {message.msg_id:#x} ({message.name}) is {error:+.3f} s from the "
                "server's time when it arrived (its clock is not the server's)"
            )
    low = [m.msg_id & 0xFFFFFFFF for m in own]
    if len(low) >= 3 and max(low) < COUNTER_BELOW:
        return (
            f"the low 32 bits of all {len(low)} msg_ids are under {COUNTER_BELOW:#x} "
            f"({', '.join(hex(v) for v in low[:4])}...): a counter, not the fraction of the time"
        )
    return None


def seq_no_problem(sent: Iterable[Sent]) -> str | None:
    """One session's seq_nos, taken in the order of their msg_ids (the order
    of creation): ``2·c + 1`` for a content-related message and ``2·c`` for
    another, ``c`` the content-related messages before; acks and containers
    never content-related, queries always."""
    count = 0
    unique = {m.msg_id: m for m in reversed(list(sent))}  # a re-sent copy counts once
    for message in sorted(unique.values(), key=lambda m: m.msg_id):
        related = message.seq_no & 1
        if message.name in NOT_CONTENT_RELATED and related:
            return f"{message.name} {message.msg_id:#x} is marked content-related"
        if not related and message.name not in NOT_CONTENT_RELATED | _SERVICE:
            return f"{message.name} {message.msg_id:#x} is not marked content-related"
        want = 2 * count + related
        if message.seq_no != want:
            return (
                f"{message.name} {message.msg_id:#x} has seq_no {message.seq_no}, "
                f"not {want} ({count} content-related messages before it)"
            )
        count += related
    return None
