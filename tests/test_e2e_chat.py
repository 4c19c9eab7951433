"""Two secret-chat parties in one process: the whole life of a chat, and every
tamper the sequence-number rules must catch (api/end-to-end/seq_no).

The helpers at the top are shared with test_e2e_rekey.py.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mtcrypt.e2e import (
    LAYER,
    Aborted,
    AbortReason,
    ChatAborted,
    ChatPolicy,
    DhConfig,
    Dropped,
    DropReason,
    Event,
    FileKey,
    MessageReceived,
    OldKeyDiscarded,
    Outgoing,
    PeerLayerChanged,
    PendingSecretChat,
    SecretChat,
    Send,
    ServiceReceived,
    UnsupportedMessage,
    accept_secret_chat,
    decode_layer,
    decrypt_e2e,
    decrypt_file,
    encrypt_e2e,
    encrypt_file,
    make,
    mutators,
)
from mtcrypt.e2e.strategies import chat_pairs, wire_mutations
from mtcrypt.e2e.tl import encode_layer
from mtcrypt.errors import DecryptionFailed, InvalidArgument
from mtcrypt.handshake.dh import TELEGRAM_DH_G, TELEGRAM_DH_PRIME
from mtcrypt.mtproto import AuthKey
from mtcrypt.tl import TLObject

DH = DhConfig.validate(TELEGRAM_DH_G, TELEGRAM_DH_PRIME, random=b"\x07" * 256)
KEY = AuthKey(bytes((7 * i + 3) % 256 for i in range(256)))


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def exchanged_pair(
    seed: int = 0, policy: ChatPolicy | None = None, clock: Clock | None = None
) -> tuple[SecretChat, SecretChat]:
    """A creator and its partner after a real Diffie-Hellman exchange."""
    clk = clock or Clock()
    alice = PendingSecretChat(DH, rng=random.Random(seed).randbytes, clock=clk)
    bob = accept_secret_chat(
        DH, alice.g_a, rng=random.Random(seed + 1).randbytes, clock=clk, policy=policy
    )
    return alice.complete(bob.g_b, bob.key_fingerprint, policy=policy), bob.chat


def keyed_pair(
    key: AuthKey = KEY, policy: ChatPolicy | None = None, clock: Clock | None = None
) -> tuple[SecretChat, SecretChat]:
    """A creator and its partner sharing ``key`` (the test knows it: it can
    act as a malicious peer with mutators.forge)."""
    clk = clock or Clock()
    a = SecretChat(
        key, is_creator=True, dh=DH, rng=random.Random(1).randbytes, clock=clk, policy=policy
    )
    b = SecretChat(
        key, is_creator=False, dh=DH, rng=random.Random(2).randbytes, clock=clk, policy=policy
    )
    return a, b


def deliver(receiver: SecretChat, packets: Iterable[Outgoing]) -> list[Event]:
    events: list[Event] = []
    for packet in packets:
        events += receiver.receive(packet.data)
    return events


def sent(events: Iterable[Event]) -> list[Outgoing]:
    return [e.outgoing for e in events if isinstance(e, Send)]


def texts(events: Iterable[Event]) -> list[bytes]:
    return [
        e.message.message
        for e in events
        if isinstance(e, MessageReceived)
        and e.message.name.startswith("decryptedMessage")
        and "message" in e.message.fields
    ]


def pump(
    sender: SecretChat, receiver: SecretChat, packets: Iterable[Outgoing]
) -> dict[int, list[Event]]:
    """Deliver ``packets`` and then every protocol packet either side
    produces, until quiet. Returns the events of each side by id()."""
    log: dict[int, list[Event]] = {id(sender): [], id(receiver): []}
    queue = [(receiver, sender, p) for p in packets]
    while queue:
        to, frm, packet = queue.pop(0)
        for event in to.receive(packet.data):
            log[id(to)].append(event)
            if isinstance(event, Send):
                queue.append((frm, to, event.outgoing))
    return log


def forge_to_creator(
    a: SecretChat, *, in_seq_no: int, out_seq_no: int, message: TLObject, **kw: object
) -> bytes:
    """A packet as the partner (non-creator) would send it to ``a``."""
    key = a._keys.current
    return mutators.forge(
        key,
        from_creator=False,
        in_seq_no=in_seq_no,
        out_seq_no=out_seq_no,
        message=message,
        **kw,  # type: ignore[arg-type]
    )


def text(t: str = "x", rid: int = 1) -> TLObject:
    return make("decryptedMessage", random_id=rid, ttl=0, message=t)


def service(action: TLObject, rid: int = 2) -> TLObject:
    return make("decryptedMessageService", random_id=rid, action=action)


# ---- the whole life of a chat ----------------------------------------------------


def test_whole_life_of_a_chat() -> None:
    clock = Clock()
    a, b = exchanged_pair(seed=11, clock=clock)
    visual = a.visualization
    first_packet = a.send_text("hello Bob")  # notifyLayer + the text
    assert len(first_packet) == 2 and first_packet[0].service
    events = deliver(b, first_packet)
    assert PeerLayerChanged(LAYER) in events
    assert texts(events) == [b"hello Bob"]

    # both ways, with service actions
    log = pump(
        b,
        a,
        b.send_text("hi Alice")
        + b.send_action(make("decryptedMessageActionSetMessageTTL", ttl_seconds=30)),
    )
    assert texts(log[id(a)]) == [b"hi Alice"]
    ttl = [e for e in log[id(a)] if isinstance(e, ServiceReceived)]
    assert ttl[0].action.ttl_seconds == 30

    fingerprints = {a.key_fingerprint}
    # 1st re-key: explicit, by the partner
    log = pump(b, a, b.request_rekey())
    assert a.key_fingerprint == b.key_fingerprint not in fingerprints
    fingerprints.add(a.key_fingerprint)
    assert any(isinstance(e, OldKeyDiscarded) for e in log[id(a)])
    assert any(isinstance(e, OldKeyDiscarded) for e in log[id(b)])

    # 2nd re-key: automatic after more than 100 messages
    for i in range(60):
        pump(a, b, a.send_text(f"a{i}"))
        pump(b, a, b.send_text(f"b{i}"))
    assert a.key_fingerprint == b.key_fingerprint not in fingerprints
    fingerprints.add(a.key_fingerprint)

    # 3rd re-key: automatic after a week
    clock.now += 7 * 24 * 3600 + 1
    pump(a, b, a.send_text("a week later"))
    assert a.key_fingerprint == b.key_fingerprint not in fingerprints
    fingerprints.add(a.key_fingerprint)
    assert a.stats["rekeys"] == b.stats["rekeys"] == 3

    # a file
    file_key = FileKey.generate(random.Random(5).randbytes)
    content = bytes(range(256)) * 40 + b"tail"
    blob = encrypt_file(content, file_key)
    media = make(
        "decryptedMessageMediaDocument",
        thumb=b"",
        thumb_w=0,
        thumb_h=0,
        mime_type="application/octet-stream",
        size=len(content),
        key=file_key.key,
        iv=file_key.iv,
        attributes=[make("documentAttributeFilename", file_name="f.bin")],
        caption="",
    )
    events = deliver(
        b, a.send(make("decryptedMessage", random_id=77, ttl=0, message="", media=media))
    )
    (got,) = [e.message for e in events if isinstance(e, MessageReceived)]
    received_key = FileKey.from_media(got.media)
    received_key.check_fingerprint(file_key.fingerprint)
    assert decrypt_file(blob, received_key, got.media.size) == content

    # the picture never changed; both sides agree; the counters add up
    assert a.visualization == b.visualization == visual
    out_a, in_a = a.seq
    out_b, in_b = b.seq
    assert (out_a, in_a) == (in_b, out_b)
    assert a.pending == b.pending == 0
    assert a.aborted is None and b.aborted is None

    # a packet from the first key no longer opens (old keys are gone)
    with pytest.raises(DecryptionFailed):
        b.receive(first_packet[1].data)


def test_seq_numbers_on_the_wire_follow_the_parity_table() -> None:
    a, b = keyed_pair()
    for _ in range(3):
        deliver(b, a.send_text("ping"))
        deliver(a, b.send_text("pong"))
    key = a._keys.current

    def fields(packet: Outgoing, from_creator: bool) -> tuple[int, int]:
        layer = decode_layer(decrypt_e2e(key, packet.data, from_creator=from_creator))
        return layer.in_seq_no, layer.out_seq_no

    a_out = a._sent
    b_out = b._sent
    # creator: out odd (2*raw+1), in even; partner: out even, in odd
    for raw, packet in a_out.items():
        i, o = fields(packet, True)
        assert o == 2 * raw + 1 and i % 2 == 0
    for raw, packet in b_out.items():
        i, o = fields(packet, False)
        assert o == 2 * raw and i % 2 == 1


# ---- replays, reordering, gaps -------------------------------------------------------


def test_replay_is_dropped_silently() -> None:
    a, b = keyed_pair()
    packets = a.send_text("once")
    assert texts(deliver(b, packets)) == [b"once"]
    seq = b.seq
    assert deliver(b, packets) == [Dropped(DropReason.REPLAY)] * 2
    assert b.seq == seq
    assert b.stats["dropped_replay"] == 2


def test_reordered_messages_wait_for_the_gap() -> None:
    a, b = keyed_pair()
    p = a.send_text("1") + a.send_text("2") + a.send_text("3")  # notify, 1, 2, 3
    deliver(b, p[:2])
    events = b.receive(p[3].data)  # "3" before "2": a gap
    assert texts(events) == []
    (resend,) = sent(events)
    assert b.pending == 1
    events = b.receive(p[2].data)
    assert texts(events) == [b"2", b"3"]
    assert b.pending == 0
    # the resend request reaches A, which resends "2"; B drops it as a replay
    events = a.receive(resend.data)
    resent = sent(events)
    assert [r.resend for r in resent] == [True]
    assert resent[0].data == p[2].data  # the very same ciphertext
    assert deliver(b, resent) == [Dropped(DropReason.REPLAY)]


def test_lost_message_is_requested_and_resent() -> None:
    a, b = keyed_pair()
    p = a.send_text("1") + a.send_text("2") + a.send_text("3")
    deliver(b, p[:2])  # "2" (p[2]) is lost
    request = sent(b.receive(p[3].data))
    assert b.pending == 1 and len(request) == 1
    log = pump(b, a, request)  # A resends "2"; B processes "2" then the queued "3"
    assert texts(log[id(b)]) == [b"2", b"3"]
    assert b.pending == 0 and b.seq[1] == 4
    assert a.stats["resent"] == 1


def test_one_resend_request_per_gap() -> None:
    a, b = keyed_pair()
    p = a.send_text("1") + a.send_text("2") + a.send_text("3") + a.send_text("4")
    deliver(b, p[:2])
    requests = [len(sent(b.receive(x.data))) for x in p[3:]]
    assert requests == [1, 0]
    # when the hole is filled and another opens, it gets its own request
    more = a.send_text("5") + a.send_text("6")
    assert texts(b.receive(p[2].data)) == [b"2", b"3", b"4"]
    assert len(sent(b.receive(more[1].data))) == 1
    assert texts(b.receive(more[0].data)) == [b"5", b"6"]


def test_resend_request_is_honoured_on_receipt_even_in_a_gap_and_only_once() -> None:
    a, _ = keyed_pair()
    a.send_text("1") + a.send_text("2")  # A's out_seq_no 1, 3, 5
    # The peer's message 1 asks A to resend out_seq_no 1..3 and reaches A
    # before the peer's message 0: A must carry it out at once (spec:
    # "avoiding concurrent gaps") ...
    filler = forge_to_creator(a, in_seq_no=1, out_seq_no=0, message=text("filler"))
    request = forge_to_creator(
        a,
        in_seq_no=1,
        out_seq_no=2,
        message=service(make("decryptedMessageActionResend", start_seq_no=1, end_seq_no=3)),
    )
    events = a.receive(request)
    assert a.pending == 1
    resent = [o for o in sent(events) if o.resend]
    assert [o.out_seq_no for o in resent] == [1, 3]
    # ... and only once: when the gap closes, the queued request is a no-op
    events = a.receive(filler)
    assert not [o for o in sent(events) if o.resend]
    assert texts(events) == [b"filler"]
    assert a.seq[1] == 2 and a.stats["resent"] == 2


def test_unsatisfiable_resend_aborts() -> None:
    a, _ = keyed_pair()
    a.send_text("only one")  # raw out 0 (notify) and 1
    request = forge_to_creator(
        a,
        in_seq_no=1,
        out_seq_no=0,
        message=service(make("decryptedMessageActionResend", start_seq_no=1, end_seq_no=9)),
    )
    events = a.receive(request)
    assert events[-1] == Aborted(AbortReason.RESEND_UNSATISFIABLE)


def test_resend_of_an_acknowledged_message_aborts() -> None:
    a, b = keyed_pair()
    deliver(b, a.send_text("1"))
    deliver(a, b.send_text("ack"))  # acknowledges A's raw 0 and 1 (in_seq_no = 2*2+1)
    assert not a._sent
    request = forge_to_creator(
        a,
        in_seq_no=5,
        out_seq_no=4,
        message=service(make("decryptedMessageActionResend", start_seq_no=1, end_seq_no=1)),
    )
    assert a.receive(request)[-1] == Aborted(AbortReason.RESEND_UNSATISFIABLE)


def test_resend_too_large_aborts() -> None:
    a, _ = keyed_pair()
    request = forge_to_creator(
        a,
        in_seq_no=1,
        out_seq_no=0,
        message=service(make("decryptedMessageActionResend", start_seq_no=1, end_seq_no=2 * 5000)),
    )
    assert a.receive(request)[-1] == Aborted(AbortReason.RESEND_TOO_LARGE)


def test_too_many_pending_messages_abort() -> None:
    a, _ = keyed_pair(policy=ChatPolicy(max_pending=3))
    events: list[Event] = []
    for out in range(1, 5):
        events += a.receive(forge_to_creator(a, in_seq_no=1, out_seq_no=2 * out, message=text()))
    assert events[-1] == Aborted(AbortReason.TOO_MANY_PENDING)


def test_duplicate_of_a_waiting_message_is_dropped() -> None:
    a, _ = keyed_pair()
    packet = forge_to_creator(a, in_seq_no=1, out_seq_no=4, message=text())
    a.receive(packet)
    assert a.receive(packet) == [Dropped(DropReason.DUPLICATE)]
    assert a.pending == 1


# ---- parity, mirroring, in_seq_no, layer ----------------------------------------------


@pytest.mark.parametrize(("in_seq_no", "out_seq_no"), [(1, 1), (0, 0), (0, 1), (2, 2)])
def test_wrong_parity_aborts(in_seq_no: int, out_seq_no: int) -> None:
    a, _ = keyed_pair()
    events = a.receive(
        forge_to_creator(a, in_seq_no=in_seq_no, out_seq_no=out_seq_no, message=text())
    )
    assert events == [PeerLayerChanged(LAYER), Aborted(AbortReason.SEQ_NO_PARITY)]
    with pytest.raises(ChatAborted) as info:
        a.send_text("too late")
    assert info.value.reason is AbortReason.SEQ_NO_PARITY
    with pytest.raises(ChatAborted):
        a.receive(b"anything")


def test_partner_checks_parity_too() -> None:
    _, b = keyed_pair()
    # a packet as the creator would write it, but with the partner's parities
    packet = mutators.forge(KEY, from_creator=True, in_seq_no=1, out_seq_no=0, message=text())
    assert b.receive(packet)[-1] == Aborted(AbortReason.SEQ_NO_PARITY)


def test_mirrored_message_fails_to_decrypt_under_mtproto2() -> None:
    a, _ = keyed_pair()
    (_notify, own) = a.send_text("to myself?")
    with pytest.raises(DecryptionFailed):  # x differs by direction
        a.receive(own.data)
    assert a.aborted is None


def test_mirrored_message_is_caught_by_parity_under_mtproto1() -> None:
    """LEGACY: 1.0 uses x = 0 both ways, so a mirrored packet decrypts; the
    parity rule then aborts the chat (the reason the rule exists)."""
    a, _ = keyed_pair(policy=ChatPolicy(accept_mtproto1=True))
    mirror = mutators.forge(
        KEY,
        from_creator=True,
        in_seq_no=0,
        out_seq_no=1,  # the creator's own parities
        message=text(),
        layer=66,
        mtproto_version=1,
    )
    assert a.receive(mirror)[-1] == Aborted(AbortReason.SEQ_NO_PARITY)


def test_negative_in_seq_no_aborts() -> None:
    a, _ = keyed_pair()
    events = a.receive(forge_to_creator(a, in_seq_no=-1, out_seq_no=0, message=text()))
    assert events[-1] == Aborted(AbortReason.NEGATIVE_IN_SEQ_NO)


def test_in_seq_no_above_what_we_sent_aborts() -> None:
    a, _ = keyed_pair()
    a.send_text("one")  # two messages sent: in_seq_no may be at most 2 (raw)
    ok = forge_to_creator(a, in_seq_no=2 * 2 + 1, out_seq_no=0, message=text())
    assert texts(a.receive(ok)) == [b"x"]
    bad = forge_to_creator(a, in_seq_no=2 * 3 + 1, out_seq_no=2, message=text())
    assert a.receive(bad)[-1] == Aborted(AbortReason.IN_SEQ_NO_TOO_HIGH)


def test_decreasing_in_seq_no_aborts() -> None:
    a, _ = keyed_pair()
    a.send_text("one")
    a.receive(forge_to_creator(a, in_seq_no=3, out_seq_no=0, message=text()))
    events = a.receive(forge_to_creator(a, in_seq_no=1, out_seq_no=2, message=text()))
    assert events[-1] == Aborted(AbortReason.IN_SEQ_NO_DECREASED)


def test_decreasing_layer_aborts() -> None:
    a, _ = keyed_pair()
    a.receive(forge_to_creator(a, in_seq_no=1, out_seq_no=0, message=text(), layer=101))
    events = a.receive(forge_to_creator(a, in_seq_no=1, out_seq_no=2, message=text(), layer=73))
    assert events[-1] == Aborted(AbortReason.LAYER_DECREASED)


def test_in_seq_no_is_checked_when_a_queued_message_is_processed() -> None:
    a, _ = keyed_pair()
    bad_later = forge_to_creator(a, in_seq_no=2 * 50 + 1, out_seq_no=2, message=text())
    assert a.receive(bad_later)[-1:] != [Aborted(AbortReason.IN_SEQ_NO_TOO_HIGH)]  # queued
    fill = forge_to_creator(a, in_seq_no=1, out_seq_no=0, message=text())
    assert a.receive(fill)[-1] == Aborted(AbortReason.IN_SEQ_NO_TOO_HIGH)


# ---- message content rules -----------------------------------------------------------------


def test_too_few_random_bytes_are_ignored() -> None:
    a, _ = keyed_pair()
    short = forge_to_creator(a, in_seq_no=1, out_seq_no=0, message=text(), random_bytes_=bytes(14))
    assert a.receive(short) == [Dropped(DropReason.SHORT_RANDOM)]
    assert a.seq == (0, 0)
    fifteen = forge_to_creator(
        a, in_seq_no=1, out_seq_no=0, message=text(), random_bytes_=bytes(15)
    )
    assert texts(a.receive(fifteen)) == [b"x"]


def test_not_a_layer_is_dropped() -> None:
    a, _ = keyed_pair()
    packet = encrypt_e2e(KEY, b"\x00" * 16, from_creator=False)
    assert a.receive(packet) == [Dropped(DropReason.MALFORMED)]
    assert a.seq == (0, 0)


def test_message_of_a_newer_layer_is_reported_and_counted() -> None:
    a, _ = keyed_pair()
    import struct

    payload = (
        struct.pack("<I", 0x1BE31789)
        + b"\x0f"
        + bytes(15)
        + struct.pack("<iii", LAYER + 10, 1, 0)
        + b"\x01\x02\x03\x04"
    )
    events = a.receive(encrypt_e2e(KEY, payload, from_creator=False))
    assert PeerLayerChanged(LAYER + 10) in events
    (unsupported,) = [e for e in events if isinstance(e, UnsupportedMessage)]
    assert unsupported.layer > LAYER
    assert a.seq == (0, 1)  # the sequence moved on


def test_notify_layer_raises_the_peer_layer() -> None:
    a, _ = keyed_pair()
    assert a.peer_layer == 46
    notify = service(make("decryptedMessageActionNotifyLayer", layer=150))
    events = a.receive(forge_to_creator(a, in_seq_no=1, out_seq_no=0, message=notify, layer=73))
    assert events == [PeerLayerChanged(73), PeerLayerChanged(150)]
    assert a.peer_layer == 150


def test_older_layer_messages_are_delivered_as_they_are() -> None:
    a, _ = keyed_pair()
    old = make("decryptedMessage45", random_id=5, ttl=0, message="old client")
    events = a.receive(forge_to_creator(a, in_seq_no=1, out_seq_no=0, message=old, layer=46))
    (received,) = [e for e in events if isinstance(e, MessageReceived)]
    assert received.message.name == "decryptedMessage45"
    # and a layer-8 service wrapper still carries protocol actions
    wrapped = make(
        "decryptedMessageService8",
        random_id=6,
        random_bytes=bytes(15),
        action=make("decryptedMessageActionNotifyLayer", layer=99),
    )
    a.receive(forge_to_creator(a, in_seq_no=1, out_seq_no=2, message=wrapped, layer=46))
    assert a.peer_layer == 99


# ---- MTProto 1.0 (LEGACY) -----------------------------------------------------------------


def _v1_from_partner(layer: int, out_seq_no: int = 0) -> bytes:
    return mutators.forge(
        KEY,
        from_creator=False,
        in_seq_no=1,
        out_seq_no=out_seq_no,
        message=text(),
        layer=layer,
        mtproto_version=1,
    )


def test_mtproto1_is_refused_by_default() -> None:
    a, _ = keyed_pair()
    with pytest.raises(DecryptionFailed):
        a.receive(_v1_from_partner(66))


def test_mtproto1_accepted_in_legacy_mode_below_layer_73() -> None:
    a, _ = keyed_pair(policy=ChatPolicy(accept_mtproto1=True))
    (received,) = [e for e in a.receive(_v1_from_partner(66)) if isinstance(e, MessageReceived)]
    assert received.mtproto_version == 1


def test_mtproto1_claiming_layer_73_aborts() -> None:
    a, _ = keyed_pair(policy=ChatPolicy(accept_mtproto1=True))
    assert a.receive(_v1_from_partner(73))[-1] == Aborted(AbortReason.MTPROTO1_FORBIDDEN)


def test_mtproto1_no_longer_accepted_after_a_v2_message() -> None:
    a, _ = keyed_pair(policy=ChatPolicy(accept_mtproto1=True))
    a.receive(forge_to_creator(a, in_seq_no=1, out_seq_no=0, message=text(), layer=66))
    with pytest.raises(DecryptionFailed):
        a.receive(_v1_from_partner(66, out_seq_no=2))


def test_mtproto1_no_longer_accepted_once_the_peer_reaches_73() -> None:
    a, _ = keyed_pair(policy=ChatPolicy(accept_mtproto1=True))
    notify = service(make("decryptedMessageActionNotifyLayer", layer=73))
    a.receive(
        mutators.forge(
            KEY,
            from_creator=False,
            in_seq_no=1,
            out_seq_no=0,
            message=notify,
            layer=66,
            mtproto_version=1,
        )
    )
    with pytest.raises(DecryptionFailed):
        a.receive(_v1_from_partner(66, out_seq_no=2))


# ---- the wire attacker against the chat ------------------------------------------------------


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=50)
@given(pair=chat_pairs(), mutate=wire_mutations(), n=st.integers(1, 4))
def test_wire_mutations_never_reach_the_chat(
    pair: tuple[SecretChat, SecretChat], mutate: object, n: int
) -> None:
    a, b = pair
    assert callable(mutate)
    packets: list[Outgoing] = []
    for i in range(n):
        packets += a.send_text(f"m{i}")
    victim = packets[-1].data
    mutated = mutate(victim)
    assume(mutated != victim)
    deliver(b, packets[:-1])
    before = (b.seq, b.pending, b.stats)
    with pytest.raises(DecryptionFailed):
        b.receive(mutated)
    assert (b.seq, b.pending, b.stats) == before
    assert texts(b.receive(victim)) == [f"m{n - 1}".encode()]


def test_unknown_fingerprint_is_a_decryption_failure() -> None:
    a, b = keyed_pair()
    (_, packet) = a.send_text("x")
    with pytest.raises(DecryptionFailed):
        b.receive(b"\x00" * 8 + packet.data[8:])
    with pytest.raises(DecryptionFailed):
        b.receive(b"short")
    assert b.seq == (0, 0)


def test_another_chats_packet_fails() -> None:
    a1, _ = exchanged_pair(seed=21)
    _, b2 = exchanged_pair(seed=31)
    with pytest.raises(DecryptionFailed):
        b2.receive(a1.send_text("wrong chat")[1].data)


# ---- API guards ------------------------------------------------------------


def test_protocol_actions_cannot_be_sent_by_hand() -> None:
    a, _ = keyed_pair()
    for action in (
        make("decryptedMessageActionNoop"),
        make("decryptedMessageActionResend", start_seq_no=0, end_seq_no=2),
        make("decryptedMessageActionCommitKey", exchange_id=1, key_fingerprint=2),
    ):
        with pytest.raises(InvalidArgument):
            a.send_action(action)
    with pytest.raises(InvalidArgument):
        a.send(make("decryptedMessageActionFlushHistory"))
    assert a.seq == (0, 0)


def test_start_is_idempotent_and_first() -> None:
    a, _ = keyed_pair()
    (notify,) = a.start()
    assert a.start() == []
    assert len(a.send_text("x")) == 1
    assert decode_layer(decrypt_e2e(KEY, notify.data, from_creator=True)).out_seq_no == 1


def test_local_abort() -> None:
    a, _ = keyed_pair()
    a.send_text("x")
    a.abort()
    assert a.aborted is AbortReason.LOCAL
    with pytest.raises(ChatAborted):
        a.request_rekey()
    assert not a._sent and not a._pending


def test_reprs_hold_no_secrets() -> None:
    a, b = keyed_pair()
    packets = a.send_text("secret text")
    events = deliver(b, packets)
    secret_hex = KEY.key.hex()
    for thing in (a, b, *packets, *events, a._keys):
        text_ = repr(thing)
        assert secret_hex[:16] not in text_
        assert "secret text" not in text_
        assert packets[1].data.hex()[48:80] not in text_


def test_policy_validation() -> None:
    with pytest.raises(InvalidArgument):
        ChatPolicy(random_bytes_length=14)
    with pytest.raises(InvalidArgument):
        ChatPolicy(max_pending=0)


def test_unacked_store_is_bounded() -> None:
    a, _ = keyed_pair(policy=ChatPolicy(max_unacked=5, auto_rekey=False))
    for i in range(10):
        a.send_text(str(i))
    assert len(a._sent) == 5
    assert min(a._sent) == 6


def test_encrypt_layer_helper_matches_chat_output() -> None:
    """Cross-check one chat packet with the reference seal of its plaintext."""
    from test_e2e_crypto import ref_open

    a, _ = keyed_pair()
    (notify,) = a.start()
    plain = ref_open(KEY.key, notify.data, from_creator=True)
    import struct

    (length,) = struct.unpack_from("<i", plain)
    layer = decode_layer(plain[4 : 4 + length])
    assert layer.message is not None and layer.message.action.layer == LAYER
    assert (
        encode_layer(
            random_bytes=layer.random_bytes,
            layer=46,  # the peer has not announced its layer yet
            in_seq_no=0,
            out_seq_no=1,
            message=layer.message,
        )
        == plain[4 : 4 + length]
    )


def test_malicious_peer_rewrites_a_real_message() -> None:
    """mutators.reseal: the peer re-encrypts a genuine packet with other
    sequence numbers; the rules apply to the content, not the packet."""
    a, b = keyed_pair()
    deliver(b, a.send_text("hi"))
    deliver(a, b.send_text("first"))  # in_seq_no 5: B has seen A's 2 messages
    (genuine,) = b.send_text("second")
    replayed_as_new = mutators.reseal(KEY, genuine.data, from_creator=False, in_seq_no=1)
    assert a.receive(replayed_as_new)[-1] == Aborted(AbortReason.IN_SEQ_NO_DECREASED)


def test_reseal_keeps_a_valid_message_valid() -> None:
    a, b = keyed_pair()
    (notify, genuine) = b.send_text("same")
    deliver(a, [notify])
    fresh = mutators.reseal(KEY, genuine.data, from_creator=False, random_bytes=bytes(20))
    assert fresh != genuine.data
    assert texts(a.receive(fresh)) == [b"same"]
    assert a.receive(genuine.data) == [Dropped(DropReason.REPLAY)]


def test_verification_is_an_explicit_state_kept_across_rekeying() -> None:
    a, b = exchanged_pair(seed=41)
    assert not a.verified
    assert a.visualization == b.visualization  # what the users compare
    a.mark_verified()
    pump(a, b, a.request_rekey())
    assert a.verified and not b.verified
    a.abort()
    with pytest.raises(ChatAborted):
        a.mark_verified()


def test_gap_request_can_be_retried() -> None:
    a, b = keyed_pair()
    p = a.send_text("1") + a.send_text("2")
    assert b.retry_gap_request() == []
    b.receive(p[0].data)
    (first,) = sent(b.receive(p[2].data))
    (again,) = b.retry_gap_request()

    def action(o: Outgoing) -> object:
        message = decode_layer(decrypt_e2e(KEY, o.data, from_creator=False)).message
        assert message is not None
        return message.action

    assert action(first) == action(again)
    log = pump(b, a, [again])
    assert texts(log[id(b)]) == [b"1", b"2"]
