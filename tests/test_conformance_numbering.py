"""The judges of how each side numbers what it sends (msg_id, seq_no), and of
re-sends and clock corrections: each shown to pass a correct record and to
name the first message of a wrong one."""

from __future__ import annotations

import struct

from mtcrypt import tl
from mtcrypt.mtproto import InnerMessage
from mtcrypt.testing.conformance import ClientReport, Evidence, Scenario
from mtcrypt.testing.conformance.adversary import PING_AFTER, PING_MUTATED
from mtcrypt.testing.conformance.numbering import (
    Sent,
    msg_id_problem,
    msg_id_time_problem,
    sent_messages,
    seq_no_problem,
)
from mtcrypt.testing.conformance.runner import judge_client

T = 1_700_000_000.5  # a time with a sub-second part
BASE = int(T * 2**32) & ~3


def _sent(*items: tuple[int, int, str], container: int | None = None) -> list[Sent]:
    return [Sent(msg_id, seq_no, name, T, container) for msg_id, seq_no, name in items]


def test_sent_messages_lists_a_containers_messages_first() -> None:
    ack = tl.serialize(tl.make("msgs_ack", msg_ids=[]))
    ping = tl.serialize(tl.make("ping", ping_id=5))
    body = struct.pack("<Ii", tl.default_schema()["msg_container"].id, 2)
    body += struct.pack("<qii", BASE, 1, len(ping)) + ping
    body += struct.pack("<qii", BASE + 4, 2, len(ack)) + ack
    sent = sent_messages(InnerMessage(0, 1, BASE + 8, 2, body), T)
    assert [(m.msg_id, m.name, m.container) for m in sent] == [
        (BASE, "ping", BASE + 8),
        (BASE + 4, "msgs_ack", BASE + 8),
        (BASE + 8, "msg_container", None),
    ]
    unknown = sent_messages(InnerMessage(0, 1, BASE, 1, b"\x01\x02\x03\x04" + bytes(8)), T)
    assert unknown[0].name == "#04030201"


def test_seq_no_counts_content_related_messages_in_msg_id_order() -> None:
    good = _sent(
        (BASE, 1, "invokeWithLayer"),
        (BASE + 8, 4, "msgs_ack"),
        (BASE + 4, 3, "#12345678"),  # arrived after the ack, created before it
        (BASE + 12, 4, "msg_container"),
        (BASE + 16, 4, "ping"),  # pings: either parity (Pyrogram's are not content-related)
    )
    assert seq_no_problem(good) is None
    cases = {
        "is not marked content-related": _sent((BASE, 0, "invokeWithLayer")),
        "msgs_ack 0x": _sent((BASE, 1, "msgs_ack")),
        "has seq_no 3, not 1": _sent((BASE, 3, "invokeWithLayer")),
        "has seq_no 1, not 3": _sent((BASE, 1, "#00000001"), (BASE + 4, 1, "#00000001")),
    }
    for words, record in cases.items():
        problem = seq_no_problem(record)
        assert problem is not None and words in problem, (words, problem)


def test_msg_ids_of_each_side() -> None:
    client = _sent((BASE, 1, "ping"), (BASE + 4, 3, "ping"))
    assert msg_id_problem(client, from_server=False) is None
    assert "not 0 mod 4" in str(msg_id_problem(_sent((BASE + 1, 1, "ping")), from_server=False))
    assert "not above" in str(msg_id_problem(client[::-1], from_server=False))
    inner = _sent((BASE + 8, 1, "ping"), container=BASE + 4)
    assert "below its container" in str(msg_id_problem(inner, from_server=False))
    # A container may carry an older copy re-sent: not held to the packets' order.
    resent = [*client, *_sent((BASE, 1, "ping"), container=BASE + 8), *_sent((BASE + 8, 2, "x"))]
    assert msg_id_problem(resent, from_server=False) is None

    server = _sent((BASE + 3, 1, "new_session_created"), (BASE + 5, 3, "pong"))
    assert msg_id_problem(server, from_server=True) is None
    assert "not 1" in str(msg_id_problem(_sent((BASE + 3, 1, "rpc_result")), from_server=True))
    assert "not 3" in str(msg_id_problem(_sent((BASE + 1, 0, "msgs_ack")), from_server=True))
    assert "not odd" in str(msg_id_problem(_sent((BASE, 1, "future")), from_server=True))


def test_msg_id_time_wants_the_servers_time_and_its_fraction() -> None:
    assert msg_id_time_problem(_sent((BASE, 1, "ping"))) is None
    # Up to a second off is fine: server_time comes in whole seconds.
    late = Sent(BASE, 1, "ping", T + 1.5)
    assert msg_id_time_problem([late]) is None
    assert "not the server's" in str(msg_id_time_problem([Sent(BASE, 1, "ping", T + 600)]))
    assert "empty" in str(msg_id_time_problem(_sent((int(T) << 32, 1, "ping"))))
    counter = [((int(T) << 32) + 4 * n, 1, "ping") for n in range(1, 4)]
    assert "a counter" in str(msg_id_time_problem(_sent(*counter)))
    assert msg_id_time_problem(_sent(*counter[:2])) is None  # too few to tell


def test_resend_and_clock_judges() -> None:
    report = ClientReport(handshake=True, pongs={1: True, 2: True, 3: True, 4: True})
    resend = Scenario("S4-x", "x", "time_notification", "accept", "S4", {"code": 16})
    plan = resend.plan()
    first, moved = (BASE, T), (int((T + 20.0) * 2**32) & ~3, T)

    def evidence(ping: int, copies: list[tuple[int, float]]) -> Evidence:
        return Evidence(played=True, ping_msg_ids={ping: copies})

    def judged(scenario: Scenario, ev: Evidence) -> tuple[str, str]:
        return judge_client(scenario, scenario.plan(), ev, report, None)

    assert judged(resend, evidence(PING_MUTATED, [first, moved]))[0] == "accepted"
    observed, detail = judged(resend, evidence(PING_MUTATED, [first, first]))
    assert observed == "rejected" and "same msg_id" in detail
    observed, detail = judged(resend, evidence(PING_MUTATED, [first]))
    assert observed == "rejected" and "never re-sent" in detail
    observed, detail = judged(resend, evidence(PING_MUTATED, [first, (BASE + 4, T)]))
    assert observed == "rejected" and "not +20 s" in detail
    assert plan.offset == 20.0

    clock = Scenario("C7-x", "x", "time_notification", "reject", "C7", {"solicited": False})
    assert judged(clock, evidence(PING_AFTER, [first]))[0] == "rejected"
    assert judged(clock, evidence(PING_AFTER, [moved]))[0] == "accepted"
