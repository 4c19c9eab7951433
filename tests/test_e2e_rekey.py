"""Re-keying (PFS) of secret chats: api/end-to-end/pfs, as a state machine."""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_e2e_chat import (
    DH,
    KEY,
    Clock,
    deliver,
    exchanged_pair,
    forge_to_creator,
    keyed_pair,
    pump,
    sent,
    service,
    texts,
)

from mtcrypt.e2e import (
    Aborted,
    AbortReason,
    ChatPolicy,
    E2EError,
    KeyChanged,
    OldKeyDiscarded,
    RekeyAborted,
    RekeyState,
    SecretChat,
    make,
)
from mtcrypt.e2e.dh import compute_key, encode_dh_value
from mtcrypt.e2e.errors import ChatAborted
from mtcrypt.e2e.rekey import TRANSITIONS, Rekeying, RekeyInput
from mtcrypt.handshake.dh import DH_SAFETY_MARGIN, TELEGRAM_DH_PRIME

P = TELEGRAM_DH_PRIME


def kinds(events: Iterable[object]) -> list[str]:
    return [type(e).__name__ for e in events]


def state(chat: SecretChat) -> RekeyState:
    return chat.rekey_state  # (a call, so that type checkers do not narrow it)


def test_the_four_steps() -> None:
    a, b = keyed_pair()
    old = a.key_fingerprint
    (request,) = a.request_rekey()[1:]  # after the initial notifyLayer
    assert a.rekey_state is RekeyState.REQUESTED
    assert not a.rekey_due()
    with pytest.raises(E2EError):  # never two exchanges at once
        a.request_rekey()

    events = b.receive(a._sent[0].data) + b.receive(request.data)
    (accept,) = sent(events)
    assert b.rekey_state is RekeyState.ACCEPTED
    assert b.key_fingerprint == old  # B keeps the old key until the commit
    with pytest.raises(E2EError):
        b.request_rekey()

    events = a.receive(accept.data)
    (commit,) = sent(events)
    assert kinds(events) == ["PeerLayerChanged", "Send", "KeyChanged"]
    assert commit.key_fingerprint == old  # commitKey travels under the old key
    new = a.key_fingerprint
    assert new != old and state(a) is RekeyState.IDLE
    assert a._keys.other is not None  # A keeps the old key for now

    events = b.receive(commit.data)
    assert b.key_fingerprint == new
    assert [type(e) for e in events if not hasattr(e, "outgoing")] == [
        KeyChanged,
        OldKeyDiscarded,
    ]
    (noop,) = sent(events)
    assert noop.key_fingerprint == new and b._keys.other is None

    events = a.receive(noop.data)
    assert events == [OldKeyDiscarded(old)]
    assert a._keys.other is None
    assert a.stats["rekeys"] == b.stats["rekeys"] == 1


def test_messages_in_flight_during_rekeying() -> None:
    """B keeps sending under the old key until it sees the commit; A still
    reads those; after the switch everything is under the new key."""
    a, b = keyed_pair()
    deliver(b, a.start())
    request = a.request_rekey()
    (accept,) = sent(deliver(b, request))
    (commit,) = sent(a.receive(accept.data))
    late = b.send_text("still old key")
    assert late[0].key_fingerprint != a.key_fingerprint
    assert texts(deliver(a, late)) == [b"still old key"]
    assert a._keys.other is not None  # a message under the old key does not retire it
    (noop,) = sent(deliver(b, [commit]))
    fresh = b.send_text("new key")
    assert noop.key_fingerprint == fresh[0].key_fingerprint == a.key_fingerprint
    events = deliver(a, [noop, *fresh])
    assert texts(events) == [b"new key"] and OldKeyDiscarded in map(type, events)


def test_partner_switches_on_seeing_the_new_key_before_the_commit() -> None:
    """Step 4: B switches on a message under the new key even if the commit
    was lost; the old key stays until the commit is processed in order."""
    a, b = keyed_pair()
    deliver(b, a.start())
    (accept,) = sent(deliver(b, a.request_rekey()))
    (commit,) = sent(a.receive(accept.data))
    after = a.send_text("after the commit")
    events = b.receive(after[0].data)  # commit lost: a gap, and the new key seen
    assert KeyChanged in map(type, events)
    assert b.key_fingerprint == a.key_fingerprint
    assert b._keys.other is not None and b.pending == 1
    (resend_request,) = sent(events)
    # B's own next message already uses the new key
    assert b.send_text("reply")[0].key_fingerprint == a.key_fingerprint
    # the resend request brings the commit back; the old key then goes
    log = pump(b, a, [resend_request])
    assert texts(log[id(b)]) == [b"after the commit"]
    assert OldKeyDiscarded in map(type, log[id(b)])
    assert b._keys.other is None and b.rekey_state is RekeyState.IDLE
    assert commit.data in [e.outgoing.data for e in log[id(a)] if hasattr(e, "outgoing")]


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32))
def test_concurrent_requests_the_larger_exchange_id_wins(seed: int) -> None:
    a, b = keyed_pair()
    a._rng = a._keys._rng = random.Random(seed).randbytes
    b._rng = b._keys._rng = random.Random(seed + 7).randbytes
    ra, rb = a.request_rekey(), b.request_rekey()
    ida, idb = a._keys.exchange_id, b._keys.exchange_id
    ea, eb = deliver(a, rb), deliver(b, ra)  # crossing in flight
    winner, loser = (a, b) if ida > idb else (b, a)
    ew, el = (ea, eb) if winner is a else (eb, ea)
    assert sent(ew) == []  # the winner silently drops the smaller request
    assert RekeyAborted(min(ida, idb)) in el  # the loser abandons its own...
    (accept,) = sent(el)  # ...and accepts the winner's
    log = pump(loser, winner, [accept])
    assert a.key_fingerprint == b.key_fingerprint != KEY.key_id
    assert a.rekey_state is b.rekey_state is RekeyState.IDLE
    assert a._keys.other is None and b._keys.other is None
    assert log  # the exchange ran to the end
    assert a.stats["rekeys"] == b.stats["rekeys"] == 1


def test_equal_exchange_ids_abort_both_silently() -> None:
    a, _ = keyed_pair()
    a.request_rekey()
    g = encode_dh_value(pow(3, 12345 << 1990, P))
    same = forge_to_creator(
        a,
        in_seq_no=1,
        out_seq_no=0,
        message=service(
            make("decryptedMessageActionRequestKey", exchange_id=a._keys.exchange_id, g_a=g)
        ),
    )
    events = a.receive(same)
    assert sent(events) == []
    assert RekeyAborted(a._keys.exchange_id) in events
    assert a.rekey_state is RekeyState.IDLE
    assert a.aborted is None
    assert a.key_fingerprint == KEY.key_id


def _accept_for(
    a: SecretChat, *, fingerprint_delta: int = 0, exchange_delta: int = 0, g_b: bytes | None = None
) -> bytes:
    b_exp = 0x5EED << 1990
    g_b_value = pow(3, b_exp, P)
    key = compute_key(pow(3, a._keys._exponent, P), b_exp, P)  # what A will compute
    action = make(
        "decryptedMessageActionAcceptKey",
        exchange_id=a._keys.exchange_id + exchange_delta,
        g_b=encode_dh_value(g_b_value) if g_b is None else g_b,
        key_fingerprint=key.key_id + fingerprint_delta,
    )
    return forge_to_creator(a, in_seq_no=3, out_seq_no=0, message=service(action))


def test_forged_accept_is_checked() -> None:
    a, _ = keyed_pair()
    a.request_rekey()
    events = a.receive(_accept_for(a))  # a correct accept (computed by the test)
    assert KeyChanged in map(type, events)

    for kwargs, reason in [
        ({"fingerprint_delta": 1}, AbortReason.REKEY_FINGERPRINT_MISMATCH),
        ({"exchange_delta": 1}, AbortReason.REKEY_EXCHANGE_MISMATCH),
        ({"g_b": encode_dh_value(1)}, AbortReason.REKEY_BAD_DH_VALUE),
        ({"g_b": encode_dh_value(P - 1)}, AbortReason.REKEY_BAD_DH_VALUE),
        ({"g_b": encode_dh_value(DH_SAFETY_MARGIN - 1)}, AbortReason.REKEY_BAD_DH_VALUE),
    ]:
        a, _ = keyed_pair()
        a.request_rekey()
        assert a.receive(_accept_for(a, **kwargs))[-1] == Aborted(reason), kwargs  # type: ignore[arg-type]
        assert a.key_fingerprint == KEY.key_id


def test_bad_g_a_in_a_request_aborts() -> None:
    for g_a in (encode_dh_value(1), encode_dh_value(P - 1), b"\x01"):
        a, _ = keyed_pair()
        request = make("decryptedMessageActionRequestKey", exchange_id=1, g_a=g_a)
        events = a.receive(forge_to_creator(a, in_seq_no=1, out_seq_no=0, message=service(request)))
        assert events[-1] == Aborted(AbortReason.REKEY_BAD_DH_VALUE)


def test_wrong_commit_fingerprint_or_exchange_aborts() -> None:
    for field, reason in [
        ("key_fingerprint", AbortReason.REKEY_FINGERPRINT_MISMATCH),
        ("exchange_id", AbortReason.REKEY_EXCHANGE_MISMATCH),
    ]:
        a, b = keyed_pair()
        deliver(a, b.start())
        (_accept,) = sent(deliver(a, b.request_rekey()))
        assert a.rekey_state is RekeyState.ACCEPTED
        good = {"exchange_id": a._keys.exchange_id, "key_fingerprint": a._keys.other.key_id}  # type: ignore[union-attr]
        good[field] += 1
        commit = forge_to_creator(
            a,
            in_seq_no=3,
            out_seq_no=4,
            message=service(make("decryptedMessageActionCommitKey", **good)),
        )
        assert a.receive(commit)[-1] == Aborted(reason)


@pytest.mark.parametrize(
    "action",
    [
        make("decryptedMessageActionAcceptKey", exchange_id=1, g_b=b"\x01", key_fingerprint=1),
        make("decryptedMessageActionCommitKey", exchange_id=1, key_fingerprint=1),
    ],
    ids=["accept", "commit"],
)
def test_unexpected_rekey_messages_abort(action: object) -> None:
    a, _ = keyed_pair()
    events = a.receive(forge_to_creator(a, in_seq_no=1, out_seq_no=0, message=service(action)))  # type: ignore[arg-type]
    assert events[-1] == Aborted(AbortReason.REKEY_UNEXPECTED)


def test_a_second_request_while_accepting_aborts() -> None:
    a, b = keyed_pair()
    deliver(a, b.start())
    deliver(a, b.request_rekey())
    assert a.rekey_state is RekeyState.ACCEPTED
    g = encode_dh_value(pow(3, 99 << 1990, P))
    again = forge_to_creator(
        a,
        in_seq_no=3,
        out_seq_no=4,
        message=service(make("decryptedMessageActionRequestKey", exchange_id=5, g_a=g)),
    )
    assert a.receive(again)[-1] == Aborted(AbortReason.REKEY_UNEXPECTED)


def test_abort_key_from_the_peer() -> None:
    # A asked; B answers with abortKey: back to idle, no key change
    a, _ = keyed_pair()
    a.request_rekey()
    ours = a._keys.exchange_id
    other = forge_to_creator(
        a,
        in_seq_no=1,
        out_seq_no=0,
        message=service(make("decryptedMessageActionAbortKey", exchange_id=ours + 1)),
    )
    assert not [e for e in a.receive(other) if isinstance(e, RekeyAborted)]  # not ours: ignored
    assert a.rekey_state is RekeyState.REQUESTED
    abort = forge_to_creator(
        a,
        in_seq_no=1,
        out_seq_no=2,
        message=service(make("decryptedMessageActionAbortKey", exchange_id=ours)),
    )
    assert a.receive(abort) == [RekeyAborted(ours)]
    assert state(a) is RekeyState.IDLE and a._keys.other is None
    assert a.request_rekey()  # a new exchange may start

    # B accepted; A aborts before committing (allowed): B drops the new key
    a, b = keyed_pair()
    deliver(a, b.start())
    deliver(a, b.request_rekey())
    assert a._keys.other is not None
    theirs = a._keys.exchange_id
    abort = forge_to_creator(
        a,
        in_seq_no=3,
        out_seq_no=4,
        message=service(make("decryptedMessageActionAbortKey", exchange_id=theirs)),
    )
    assert a.receive(abort) == [RekeyAborted(theirs)]
    assert a._keys.other is None and a.key_fingerprint == KEY.key_id


def test_old_key_blocks_a_new_exchange_until_retired() -> None:
    a, b = keyed_pair()
    deliver(b, a.start())
    (accept,) = sent(deliver(b, a.request_rekey()))
    deliver(a, [accept])
    assert a._keys.other is not None
    with pytest.raises(E2EError):
        a.request_rekey()
    assert not a.rekey_due()


def test_policy_counts_messages_both_ways_and_needs_one_encryption() -> None:
    a, b = keyed_pair(policy=ChatPolicy(auto_rekey=False))
    for i in range(101):
        deliver(a, [b.send_text(str(i))[-1]] if i else b.send_text(str(i)))
    assert a._keys.messages_with_current > 100
    assert not a.rekey_due()  # a never encrypted with this key
    a.send_text("one")
    assert a.rekey_due()


def test_policy_by_age() -> None:
    clock = Clock()
    a, _ = keyed_pair(policy=ChatPolicy(auto_rekey=False), clock=clock)
    a.send_text("x")
    clock.now += 7 * 24 * 3600
    assert not a.rekey_due()
    clock.now += 1
    assert a.rekey_due()


def test_auto_rekey_sends_the_request_after_a_message() -> None:
    a, _ = keyed_pair(policy=ChatPolicy(rekey_after_messages=3))
    lengths = [len(a.send_text(str(i))) for i in range(5)]
    # notifyLayer + 0, 1, 2: the 4th message with the key is "more than 3"
    assert lengths == [2, 1, 2, 1, 1]
    assert a.rekey_state is RekeyState.REQUESTED
    assert a._sent[4].service  # the requestKey right after message "2"


def test_many_rekeys_keep_the_visualization() -> None:
    a, b = exchanged_pair(seed=3)
    original = a.visualization
    seen = {a.key_fingerprint}
    for i in range(6):
        initiator, partner = (a, b) if i % 2 else (b, a)
        pump(initiator, partner, initiator.request_rekey())
        assert a.key_fingerprint == b.key_fingerprint
        seen.add(a.key_fingerprint)
    assert len(seen) == 7
    assert a.visualization == b.visualization == original
    assert texts(deliver(b, a.send_text("still fine"))) == [b"still fine"]


def test_transition_table_is_the_only_way() -> None:
    allowed = set(TRANSITIONS)
    for state in RekeyState:
        for event in RekeyInput:
            keys = Rekeying(KEY, DH, rng=random.Random(0).randbytes, clock=lambda: 0.0)
            keys.state = state
            if (state, event) in allowed:
                keys._transition(event)
                assert keys.state is TRANSITIONS[(state, event)]
            else:
                with pytest.raises(ChatAborted) as info:
                    keys._transition(event)
                assert info.value.reason is AbortReason.REKEY_UNEXPECTED


def test_rekeying_messages_act_only_in_order() -> None:
    """Re-keying is bound to the chat's authenticated, in-order stream
    (security checklist section 3): a commitKey ahead of a gap waits."""
    a, b = keyed_pair()
    deliver(a, b.start())
    deliver(a, b.request_rekey())  # B's raw 0 and 1; A accepts
    assert a.rekey_state is RekeyState.ACCEPTED
    commit = make(
        "decryptedMessageActionCommitKey",
        exchange_id=a._keys.exchange_id,
        key_fingerprint=a._keys.other.key_id,  # type: ignore[union-attr]
    )
    early = forge_to_creator(a, in_seq_no=3, out_seq_no=2 * 3, message=service(commit))
    events = a.receive(early)
    assert a.pending == 1 and a.rekey_state is RekeyState.ACCEPTED
    assert a.key_fingerprint == KEY.key_id and not any(isinstance(e, KeyChanged) for e in events)
    filler = forge_to_creator(
        a,
        in_seq_no=3,
        out_seq_no=2 * 2,
        message=service(
            make("decryptedMessageActionTyping", action=make("sendMessageTypingAction"))
        ),
    )
    events = a.receive(filler)
    assert KeyChanged in map(type, events) and a.key_fingerprint != KEY.key_id
