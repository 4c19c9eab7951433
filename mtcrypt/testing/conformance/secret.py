"""Secret-chat conformance: the adversary plays the other end of a secret chat
against an implementation under test (a :class:`~.secret_target.SecretChatTarget`).

Every scenario opens a fresh chat (a real Diffie-Hellman exchange unless the
exchange itself is under test), then misbehaves in one way and judges what the
implementation did: whether it refused, what it showed its user, what it sent
back and whether the chat still works afterwards. The rules come from
core.telegram.org/api/end-to-end (+ ``/seq_no``, ``/pfs``) and the security
checklist (items H3, C1-C6, E1); where the spec leaves a choice the scenario
accepts every choice tdlib or the spec allows.

Three kinds of verdict, as in the rest of the runner:

* ``reject`` scenarios pass when the implementation refused the input: no
  delivery (and for the exchange, an exception). A dropped message must leave
  the chat working (the next good message is delivered); a rule the spec calls
  fatal must stop it (nothing after is delivered).
* ``accept`` scenarios pass when it accepted legal input *and* behaved as the
  spec requires (the resend request's numbers, the layer it writes, the key it
  switches to). Extremes of allowed ranges are here: refusing them is a
  finding too.
* ``deprecated`` scenarios (MTProto 1.0 from a peer below layer 73) report
  ``WARN`` when the implementation accepts what the spec still tolerates but
  has phased out, and pass when it refuses.
* ``skip`` when the target lacks a feature (``rekey``, ``files``).

A target that raises from ``receive``/``send_text``/``request_rekey`` (its
receive loop died) or does not answer (a command target that hangs) is a
``FAIL`` with that symptom in the detail, never a pass.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from ..._random import random_bytes
from ...e2e import DhConfig, FileKey, decode_layer, decrypt_file, encrypt_file, make
from ...e2e.crypto import decrypt_e2e, encrypt_e2e
from ...e2e.dh import compute_key, decode_dh_value, encode_dh_value
from ...e2e.legacy import encrypt_e2e_v1
from ...e2e.tl import LAYER, LAYER_MTPROTO2, DecodedLayer, codec, encode_layer, required_layer
from ...errors import MtcryptError
from ...handshake.dh import DH_SAFETY_MARGIN, TELEGRAM_DH_G, TELEGRAM_DH_PRIME
from ...mtproto import AuthKey
from ...tl import TLObject
from .. import mutators
from .runner import Observed, Report, ScenarioResult, scenario_status
from .secret_target import DhParams, Reply, SecretChatTarget, SentFile, TargetDied

__all__ = [
    "SecretPeer",
    "SecretScenario",
    "run_secret_suite",
    "secret_scenarios",
]

T = TypeVar("T")
_P = TELEGRAM_DH_PRIME
_HONEST = DhParams(TELEGRAM_DH_G, _P.to_bytes(256, "big"), random_bytes(256))


class _Verdict(Exception):
    """Raised inside a scenario to end it with a verdict."""

    def __init__(self, observed: Observed, detail: str, conforms: bool | None = None) -> None:
        super().__init__(detail)
        self.observed = observed
        self.detail = detail
        self.conforms = conforms


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


def _died(exc: TargetDied) -> _Verdict:
    return _Verdict("error", f"the target failed: {exc}", conforms=False)


# ---- the adversary's end of the chat ---------------------------------------------------


class SecretPeer:
    """The other end of the chat, holding the key: seals any message with any
    sequence numbers and reads what the implementation sends."""

    def __init__(self, key: AuthKey, *, target_is_creator: bool) -> None:
        self.key = key
        self.keys = [key]
        self.creator = not target_is_creator
        self.out = 0
        """Messages we sent that the target should have processed (raw count)."""
        self.seen = 0
        """The target's messages we read (raw count: its next out_seq_no // 2)."""
        self.layer = LAYER
        """The layer our messages carry unless told otherwise."""

    # sequence numbers (api/end-to-end/seq_no): the creator's out_seq_no is odd
    def seq_nos(self, out: int | None = None, seen: int | None = None) -> tuple[int, int]:
        """``(in_seq_no, out_seq_no)`` of our next message (or of raw ``out``)."""
        out = self.out if out is None else out
        seen = self.seen if seen is None else seen
        if self.creator:
            return 2 * seen, 2 * out + 1
        return 2 * seen + 1, 2 * out

    # duplicates: deliberate -- one keyword-only override per envelope field (it reads like
    # the other keyword-only signatures of the kit).
    def payload(
        self,
        message: TLObject,
        *,
        out: int | None = None,
        seen: int | None = None,
        in_seq_no: int | None = None,
        out_seq_no: int | None = None,
        layer: int | None = None,
        random_length: int = 31,
    ) -> bytes:
        own_in, own_out = self.seq_nos(out, seen)
        return encode_layer(
            random_bytes=random_bytes(random_length),
            layer=self.layer if layer is None else layer,
            in_seq_no=own_in if in_seq_no is None else in_seq_no,
            out_seq_no=own_out if out_seq_no is None else out_seq_no,
            message=message,
        )

    def seal(
        self,
        message: TLObject,
        *,
        advance: bool = True,
        key: AuthKey | None = None,
        version: int = 2,
        **fields: int,
    ) -> bytes:
        """Our next message (``fields``: override ``out``, ``seen``, ``in_seq_no``,
        ``out_seq_no``, ``layer``, ``random_length``); ``advance``: count it
        as one the target must process."""
        payload = self.payload(message, **fields)
        key = key or self.key
        if version == 1:
            packet = encrypt_e2e_v1(key, payload)
        else:
            packet = encrypt_e2e(key, payload, from_creator=self.creator)
        if advance:
            self.out += 1
        return packet

    def seal_plaintext(self, plaintext: bytes, *, from_creator: bool | None = None) -> bytes:
        """Any padded plaintext (length field, payload, padding) with its
        correct msg_key: only the checks after the MAC can refuse it."""
        direction = self.creator if from_creator is None else from_creator
        return mutators.seal_raw(self.key, plaintext, from_server=not direction)

    def read(self, packets: Iterable[bytes]) -> list[DecodedLayer]:
        """Decrypt the target's packets (under any key we hold)."""
        out = []
        for packet in packets:
            key = next((k for k in self.keys if k.key_id_bytes == packet[:8]), None)
            if key is None:
                raise _Verdict("error", "the target sent a packet under a key we do not hold")
            try:
                layer = decode_layer(decrypt_e2e(key, packet, from_creator=not self.creator))
            except MtcryptError as exc:
                raise _Verdict("error", f"cannot read the target's packet: {exc}") from None
            self.seen = max(self.seen, layer.out_seq_no // 2 + 1)
            out.append(layer)
        return out


def text(body: str, layer: int = LAYER) -> TLObject:
    """A text message in the constructor of ``layer``."""
    random_id = int.from_bytes(random_bytes(8), "little", signed=True)
    if layer >= LAYER_MTPROTO2:
        return make("decryptedMessage", random_id=random_id, ttl=0, message=body)
    return make("decryptedMessage45", random_id=random_id, ttl=0, message=body)


def service(action: TLObject) -> TLObject:
    random_id = int.from_bytes(random_bytes(8), "little", signed=True)
    return make("decryptedMessageService", random_id=random_id, action=action)


def _actions(layers: Iterable[DecodedLayer], name: str) -> list[TLObject]:
    found = []
    for layer in layers:
        message = layer.message
        if message is not None and message.name.startswith("decryptedMessageService"):
            action = message.fields["action"]
            if isinstance(action, TLObject) and action.name == name:
                found.append(action)
    return found


# ---- a scenario's context ------------------------------------------------------------------


@dataclass
class _Chat:
    """One chat between the target and the adversary."""

    target: SecretChatTarget
    layer: int
    as_creator: bool = True
    """Which side the target plays in :meth:`open` by default."""
    closed: bool = False
    """The target said it closed (aborted) the chat."""
    peer: SecretPeer = field(init=False)
    dh: DhConfig = field(init=False)

    def call(self, what: str, fn: Callable[[], Reply]) -> Reply:
        try:
            return fn()
        except Exception as exc:  # the target crashed or hung: a finding, named
            raise _Verdict("error", f"{what} raised {_describe(exc)}", conforms=False) from None

    def deliver(self, packet: bytes) -> Reply:
        reply = self.call("receive", lambda: self.target.receive(packet))
        self.closed = self.closed or reply.closed
        return reply

    def send_text(self, body: str) -> list[DecodedLayer]:
        reply = self.call("send_text", lambda: self.target.send_text(body))
        if reply.closed:
            raise _Verdict("error", "the target closed the chat when asked to send")
        return self.peer.read(reply.sent)

    def open(self, *, target_is_creator: bool | None = None, announce: bool = True) -> SecretPeer:
        """An honest exchange; then (``announce``) the peer's notifyLayer."""
        if target_is_creator is None:
            target_is_creator = self.as_creator
        if target_is_creator:
            public = self.created()
            b, g_b = self.dh.new_exponent(random_bytes, "g_b")
            key = compute_key(public, b, _P)
            self.exchange_call(
                "complete", lambda: self.target.complete(encode_dh_value(g_b), key.key_id)
            )
        else:
            self.dh = DhConfig.validate(_HONEST.g, _HONEST.p, random=_HONEST.random)
            a, g_a_int = self.dh.new_exponent(random_bytes, "g_a")
            g_b_raw, fingerprint = self.exchange_call(
                "accept", lambda: self.target.accept(_HONEST, encode_dh_value(g_a_int), self.layer)
            )
            try:
                key = compute_key(decode_dh_value(g_b_raw, _P, "g_b"), a, _P)
            except MtcryptError as exc:
                raise _Verdict("error", f"the target's g_b is invalid: {exc}") from None
            if fingerprint != key.key_id:
                raise _Verdict("error", "the target's key_fingerprint does not match its g_b")
        self.peer = SecretPeer(key, target_is_creator=target_is_creator)
        if announce:
            notify = make("decryptedMessageActionNotifyLayer", layer=LAYER)
            self.deliver(self.peer.seal(service(notify)))
        return self.peer

    def created(self) -> int:
        """The target creates a chat with honest parameters (a setup step):
        its g_a, checked."""
        self.dh = DhConfig.validate(_HONEST.g, _HONEST.p, random=_HONEST.random)
        g_a = self.exchange_call("create", lambda: self.target.create(_HONEST, self.layer))
        try:
            return decode_dh_value(g_a, _P, "g_a")
        except MtcryptError as exc:
            raise _Verdict("error", f"the target's g_a is invalid: {exc}") from None

    def exchange_call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except TargetDied as exc:
            raise _died(exc) from None
        except Exception as exc:
            raise _Verdict(
                "error", f"the honest exchange failed: {what}: {_describe(exc)}"
            ) from None

    def alive(self) -> bool:
        """Whether a good message is still delivered (the chat works)."""
        reply = self.deliver(self.peer.seal(text("still there?")))
        return "still there?" in reply.delivered


# ---- verdict helpers -------------------------------------------------------------------------


def _dropped(chat: _Chat, reply: Reply, marker: str, what: str) -> None:
    """A message that must not be shown. Dropping it and going on (the spec)
    and closing the chat (tdlib treats a packet that fails its checks as
    fatal) both refuse it; a chat that stops working without closing is
    broken."""
    if marker in reply.delivered:
        raise _Verdict("accepted", f"delivered {what}")
    if chat.closed:
        raise _Verdict("rejected", f"refused {what} and closed the chat")
    if not chat.alive():
        if chat.closed:
            raise _Verdict("rejected", f"refused {what} and closed the chat")
        raise _Verdict("broken", f"dropped {what}, then stopped delivering without closing")
    raise _Verdict("rejected", f"dropped {what}; the chat goes on")


def _fatal(chat: _Chat, reply: Reply, marker: str, what: str) -> None:
    """A rule the spec calls fatal: nothing may be delivered after it."""
    if marker in reply.delivered:
        raise _Verdict("accepted", f"delivered {what}")
    if not chat.closed and chat.alive():
        raise _Verdict("rejected", f"dropped {what} but did not abort the chat", conforms=False)
    raise _Verdict("rejected", f"aborted the chat on {what}")


def _not_delivered(chat: _Chat, packet: bytes, marker: str, what: str) -> NoReturn:
    """A message that must not reach the user (whatever else happens)."""
    if marker in chat.deliver(packet).delivered:
        raise _Verdict("accepted", f"delivered {what}")
    raise _Verdict("rejected", f"refused {what}")


def _delivered(chat: _Chat, packet: bytes, marker: str, what: str) -> NoReturn:
    """A legal message that must reach the user."""
    if marker not in chat.deliver(packet).delivered:
        raise _Verdict("rejected", f"dropped {what} (legal)")
    raise _Verdict("accepted", f"delivered {what}")


def _refused(what: str, fn: Callable[[], object]) -> None:
    try:
        fn()
    except TargetDied as exc:
        raise _died(exc) from None
    except Exception as exc:
        raise _Verdict("rejected", f"refused {what}: {_describe(exc)}") from None
    raise _Verdict("accepted", f"took {what}")


def _took(what: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except TargetDied as exc:
        raise _died(exc) from None
    except Exception as exc:
        raise _Verdict("rejected", f"refused legal {what}: {_describe(exc)}") from None


# ---- the scenarios ------------------------------------------------------------------------


Play = Callable[[_Chat], None]


@dataclass(frozen=True)
class SecretScenario:
    """One secret-chat scenario."""

    id: str
    checklist: str
    description: str
    expect: str
    play: Play = field(repr=False)
    needs: frozenset[str] = frozenset()
    roles: tuple[str, ...] = ("creator", "partner")
    """The sides the target plays, one run each: a scenario on an open chat
    runs with the target as the creator (id as is) and as the partner (id +
    ``/partner``), because the parity and direction rules differ by side; the
    exchange, key and file scenarios choose their sides themselves (``OWN``)."""


OWN = ("creator",)
"""``roles`` of a scenario that picks the target's side(s) itself: one run."""

_CATALOG: list[SecretScenario] = []


def _scenario(
    id: str,
    checklist: str,
    expect: str,
    description: str,
    needs: Sequence[str] = (),
    *,
    roles: tuple[str, ...] = ("creator", "partner"),
) -> Callable[[Play], Play]:
    def register(play: Play) -> Play:
        scenario = SecretScenario(id, checklist, description, expect, play, frozenset(needs), roles)
        _CATALOG.append(scenario)
        return play

    return register


def secret_scenarios() -> list[SecretScenario]:
    """Every built-in secret-chat scenario, in catalog order."""
    return list(_CATALOG)


# -- the key exchange (the target creates, or accepts, the chat) ---------------------------


def _bad_dh(g: int, p: bytes) -> Play:
    def play(chat: _Chat) -> None:
        params = DhParams(g, p, random_bytes(256))
        _refused("the DH parameters", lambda: chat.target.create(params, chat.layer))

    return play


for _id, _g, _p, _what in (
    ("e2e-dh-prime-not-safe", 3, mutators.NON_SAFE_PRIME, "a 2048-bit prime that is not safe"),
    ("e2e-dh-prime-short", 2, mutators.SHORT_SAFE_PRIME, "a 1024-bit safe prime"),
    ("e2e-dh-prime-composite", 3, _P + 2, "p + 2 (composite)"),
    ("e2e-dh-g-non-residue", mutators.non_residue_generator(), _P, "a g failing the residue rule"),
    ("e2e-dh-g-out-of-set", 8, _P, "g = 8 (outside 2..7)"),
):
    _scenario(_id, "H3", "reject", f"messages.dhConfig with {_what}", roles=OWN)(
        _bad_dh(_g, _p.to_bytes((_p.bit_length() + 7) // 8, "big"))
    )

_BELOW, _LOW, _HIGH, _ABOVE = (
    DH_SAFETY_MARGIN - 1,
    DH_SAFETY_MARGIN,
    _P - DH_SAFETY_MARGIN,
    _P - DH_SAFETY_MARGIN + 1,
)
_DH_VALUES = (
    ("one", 1, "reject"),
    ("p-minus-1", _P - 1, "reject"),
    ("below-range", _BELOW, "reject"),
    ("lowest-legal", _LOW, "accept"),
    ("highest-legal", _HIGH, "accept"),
    ("above-range", _ABOVE, "reject"),
)


def _peer_g_a(value: int, expect: str) -> Play:
    def play(chat: _Chat) -> None:
        g_a = encode_dh_value(value)
        if expect == "reject":
            _refused("g_a", lambda: chat.target.accept(_HONEST, g_a, chat.layer))
        _took("g_a", lambda: chat.target.accept(_HONEST, g_a, chat.layer))
        raise _Verdict("accepted", "accepted the legal g_a")

    return play


def _small_subgroup_g_b(value: int) -> Play:
    """g_b = 1 or p - 1 with the fingerprint of the key it forces (1, or p - 1
    for an odd exponent). Only such values can be tested from the wire on the
    creator's side: for any other g_b out of range the attacker cannot know the
    key, so a missing range check would show only as a fingerprint mismatch."""

    def play(chat: _Chat) -> None:
        candidates = (
            [AuthKey.from_int(1)] if value == 1 else [AuthKey.from_int(1), AuthKey.from_int(value)]
        )
        # For p - 1 the key is 1 or p - 1 by the parity of the target's secret
        # exponent: each fresh chat guesses one; 12 chats miss with 2^-12.
        for attempt in range(1 if value == 1 else 12):
            chat.target.reset()
            chat.exchange_call("create", lambda: chat.target.create(_HONEST, chat.layer))
            key = candidates[attempt % len(candidates)]
            try:
                chat.target.complete(encode_dh_value(value), key.key_id)
            except TargetDied as exc:
                raise _died(exc) from None
            except Exception as exc:
                last = _describe(exc)
                continue
            raise _Verdict(
                "accepted", f"completed the chat with g_b = {'1' if value == 1 else 'p - 1'}"
            )
        raise _Verdict("rejected", f"refused every time ({last})")

    return play


for _name, _value, _expect in _DH_VALUES:
    _scenario(
        f"e2e-dh-g-a-{_name}",
        "H3",
        _expect,
        f"the peer's g_a is {_name} (target accepts the chat)",
        roles=OWN,
    )(_peer_g_a(_value, _expect))
# duplicates: deliberate -- each family registers its rows with one call in a loop; the
# loops read alike.
for _name, _value in (("one", 1), ("p-minus-1", _P - 1)):
    _scenario(
        f"e2e-dh-g-b-{_name}",
        "H3",
        "reject",
        f"the peer's g_b is {_name} with the fingerprint it forces",
        roles=OWN,
    )(_small_subgroup_g_b(_value))


# duplicates: deliberate -- the scenarios are data, registered one decorator each (as in
# catalog.py): entries of one shape repeat.
@_scenario(
    "e2e-fingerprint-mismatch",
    "E1",
    "reject",
    "acceptEncryption with a wrong fingerprint",
    roles=OWN,
)
def _fingerprint_mismatch(chat: _Chat) -> None:
    public = chat.created()
    b, g_b = chat.dh.new_exponent(random_bytes, "g_b")
    key = compute_key(public, b, _P)
    wrong = key.key_id ^ 1
    _refused("a wrong key_fingerprint", lambda: chat.target.complete(encode_dh_value(g_b), wrong))


@_scenario(
    "e2e-exchange-both-roles",
    "E1",
    "accept",
    "an honest chat, the target as either side",
    roles=OWN,
)
def _both_roles(chat: _Chat) -> None:
    for creator in (True, False):
        chat.target.reset()
        chat.open(target_is_creator=creator)
        if not chat.alive():
            raise _Verdict("rejected", f"a good message was not delivered (creator={creator})")
        last = chat.send_text("hello")[-1].message
        if last is None or last.fields.get("message") != b"hello":
            raise _Verdict("rejected", "the target's text did not decrypt to what it sent")
    raise _Verdict("accepted", "messages flow both ways with the target as creator and as partner")


@_scenario(
    "e2e-key-leading-zero",
    "E1",
    "accept",
    "an exchange whose key starts with a zero byte (1 in 256, forced): left-padded to 256 bytes",
    roles=OWN,
)
def _key_leading_zero(chat: _Chat) -> None:
    public = chat.created()
    dh = chat.dh
    # Our exponent b is chosen so that the key g_a^b is below 2^2040 (its first
    # byte is zero) while g_b stays in range: step b, one multiplication each.
    b = int.from_bytes(random_bytes(256), "big") >> 8
    g_b, key_value = pow(dh.g, b, _P), pow(public, b, _P)
    while not (key_value < 1 << 2040 and DH_SAFETY_MARGIN <= g_b <= _P - DH_SAFETY_MARGIN):
        b, g_b, key_value = b + 1, g_b * dh.g % _P, key_value * public % _P
    key = AuthKey.from_int(key_value)
    assert key.key[0] == 0
    _took("the key", lambda: chat.target.complete(encode_dh_value(g_b), key.key_id))
    chat.peer = SecretPeer(key, target_is_creator=True)
    if not chat.alive():
        raise _Verdict("rejected", "messages under the 256-byte key do not decrypt", False)
    raise _Verdict("accepted", "agreed on the key with its leading zero byte")


# -- the message crypto ------------------------------------------------------------------------


def _pad_to(payload_size: int, pad: int) -> int:
    """``pad`` moved up to the next length that makes the total a multiple of 16."""
    return pad + (-(4 + payload_size + pad)) % 16


@_scenario("e2e-msg-key-flipped", "C1", "reject", "a message whose msg_key is one bit off")
def _msg_key(chat: _Chat) -> None:
    chat.open()
    # Encrypted under the KDF of the wrong msg_key, so that it decrypts to a
    # well-formed message: only the MAC check can refuse it.
    payload = chat.peer.payload(text("forged"))
    pad = _pad_to(len(payload), 16)
    plain = struct.pack("<i", len(payload)) + payload + random_bytes(pad)
    forged = mutators.forge_msg_key(chat.peer.key, plain, from_server=not chat.peer.creator)
    _dropped(chat, chat.deliver(forged), "forged", "a message with a wrong msg_key")


@_scenario("e2e-wrong-direction", "C6", "reject", "a message sealed with the target's own x")
def _wrong_x(chat: _Chat) -> None:
    chat.open()
    payload = chat.peer.payload(text("mirrored"))
    packet = encrypt_e2e(chat.peer.key, payload, from_creator=not chat.peer.creator)
    _dropped(chat, chat.deliver(packet), "mirrored", "a message sealed in the other direction")


@_scenario("e2e-unknown-fingerprint", "E1", "reject", "a message claiming another key")
def _unknown_fingerprint(chat: _Chat) -> None:
    chat.open()
    packet = chat.peer.seal(text("other key"), advance=False)
    other = mutators.flip_bit(packet[:8], 0) + packet[8:]
    _dropped(chat, chat.deliver(other), "other key", "a message under an unknown key")


def _sized_text(chat: _Chat, residue: int) -> tuple[str, bytes]:
    """A text and its payload such that ``4 + len(payload)`` is ``residue``
    mod 16 (``residue`` a multiple of 4: TL pads strings to 4 bytes)."""
    body = "padding"
    while True:
        payload = chat.peer.payload(text(body))
        if (4 + len(payload)) % 16 == residue:
            return body, payload
        body += "."


@_scenario("e2e-misaligned", "C1", "reject", "a message with 4 bytes appended (not whole blocks)")
def _misaligned(chat: _Chat) -> None:
    chat.open()
    packet = chat.peer.seal(text("misaligned"), advance=False) + random_bytes(4)
    _dropped(chat, chat.deliver(packet), "misaligned", "a message that is not whole blocks")


def _padding_case(pad: int, expect: str) -> Play:
    def play(chat: _Chat) -> None:
        chat.open()
        body, payload = _sized_text(chat, -pad % 16)
        plain = struct.pack("<i", len(payload)) + payload + random_bytes(pad)
        packet = chat.peer.seal_plaintext(plain)
        what = f"a message with {pad} bytes of padding"
        if expect == "reject":
            _dropped(chat, chat.deliver(packet), body, what)
        chat.peer.out += 1
        _delivered(chat, packet, body, what)

    return play


# The nearest paddings that keep the total a multiple of 16 on each side of
# the allowed 12..1024 bytes.
for _name, _pad, _expect in (
    ("short", 8, "reject"),
    ("least", 12, "accept"),
    ("most", 1024, "accept"),
    ("long", 1028, "reject"),
):
    _scenario(
        f"e2e-padding-{_name}",
        "C3",
        _expect,
        f"an authentic message with {_pad} bytes of padding (legal: 12..1024)",
    )(_padding_case(_pad, _expect))


@_scenario("e2e-length-beyond-data", "C3", "reject", "a length field larger than the plaintext")
def _length_over(chat: _Chat) -> None:
    chat.open()
    payload = chat.peer.payload(text("long length"))
    pad = _pad_to(len(payload), 16)
    plain = struct.pack("<i", len(payload) + pad + 4) + payload + random_bytes(pad)
    packet = chat.peer.seal_plaintext(plain)
    _dropped(chat, chat.deliver(packet), "long length", "a length field beyond the data")


@_scenario("e2e-length-unaligned", "C3", "reject", "a length field not a multiple of 4")
def _length_unaligned(chat: _Chat) -> None:
    chat.open()
    payload = chat.peer.payload(text("odd length"))
    pad = _pad_to(len(payload), 16)
    plain = struct.pack("<i", len(payload) - 1) + payload + random_bytes(pad)
    packet = chat.peer.seal_plaintext(plain)
    _dropped(chat, chat.deliver(packet), "odd length", "a length field not a multiple of 4")


def _one_message(expect: str, what: str, **seal: Any) -> Play:
    """One message, the first of the chat, sealed with ``seal``
    (``random_length``, ``version`` ...): delivered when ``expect`` is
    ``accept``, never shown otherwise. Nothing precedes it, so no other rule
    (a 2.0 message seen, a layer announced) can decide."""

    def play(chat: _Chat) -> None:
        chat.open(announce=False)
        marker = f"one message: {what}"
        if expect == "accept":
            _delivered(chat, chat.peer.seal(text(marker), **seal), marker, what)
        _not_delivered(chat, chat.peer.seal(text(marker), advance=False, **seal), marker, what)

    return play


for _id, _expect, _what, _seal in (
    ("e2e-random-bytes-short", "reject", "a message with 14 random bytes", {"random_length": 14}),
    ("e2e-random-bytes-least", "accept", "a message with 15 random bytes", {"random_length": 15}),
    ("e2e-mtproto1-layer-73", "reject", "an MTProto 1.0 message at layer 144", {"version": 1}),
):
    _scenario(_id, "E1", _expect, _what)(_one_message(_expect, _what, **_seal))


# -- sequence numbers (api/end-to-end/seq_no) -----------------------------------------------


def _fatal_seq(sent: int, fields: Callable[[SecretPeer], dict[str, int]], what: str) -> Play:
    """After ``sent`` texts from the target (and our message acknowledging
    them), a message whose numbers break a fatal rule: ``fields`` overrides."""

    def play(chat: _Chat) -> None:
        chat.open()
        for n in range(sent):
            chat.send_text(f"sent {n}")
        if sent:
            chat.deliver(chat.peer.seal(text("acknowledged")))
        overrides: dict[str, Any] = fields(chat.peer)
        packet = chat.peer.seal(text("bad numbers"), advance=False, **overrides)
        _fatal(chat, chat.deliver(packet), "bad numbers", what)

    return play


for _id, _sent, _fields, _what in (
    ("out-parity", 0, lambda p: {"out_seq_no": p.seq_nos()[1] + 1}, "out_seq_no of wrong parity"),
    ("in-parity", 0, lambda p: {"in_seq_no": p.seq_nos()[0] + 1}, "in_seq_no of wrong parity"),
    (
        "in-negative",
        0,
        lambda p: {"in_seq_no": p.seq_nos()[0] - 2 * (p.seen + 1)},
        "negative in_seq_no",
    ),
    ("in-too-high", 1, lambda p: {"seen": p.seen + 1}, "in_seq_no acknowledging unsent messages"),
    ("in-decreasing", 2, lambda p: {"seen": p.seen - 1}, "in_seq_no that went down"),
):
    _scenario(f"e2e-seq-{_id}", "E1", "reject", f"an {_what} (fatal)")(
        _fatal_seq(_sent, _fields, f"an {_what}")
    )


@_scenario("e2e-seq-in-highest", "E1", "accept", "in_seq_no acknowledging everything sent")
def _in_highest(chat: _Chat) -> None:
    chat.open()
    chat.send_text("one")
    packet = chat.peer.seal(text("all seen"))
    _delivered(chat, packet, "all seen", "a message acknowledging exactly what it sent")


@_scenario("e2e-replay", "E1", "reject", "the same message delivered twice")
def _replay(chat: _Chat) -> None:
    chat.open()
    packet = chat.peer.seal(text("once"))
    first = chat.deliver(packet)
    if "once" not in first.delivered:
        raise _Verdict("error", "the original message was not delivered")
    again = chat.deliver(packet)
    if "once" in again.delivered:
        raise _Verdict("accepted", "delivered the replayed message a second time")
    if again.closed or not chat.alive():
        raise _Verdict("rejected", "dropped the replay but the chat stopped working", False)
    raise _Verdict("rejected", "dropped the replay silently")


@_scenario("e2e-replay-older", "E1", "reject", "an older message replayed after newer ones")
def _replay_older(chat: _Chat) -> None:
    chat.open()
    old = chat.peer.seal(text("old"))
    chat.deliver(old)
    chat.deliver(chat.peer.seal(text("new")))
    _not_delivered(chat, old, "old", "an older message again")


@_scenario("e2e-gap-resend", "E1", "accept", "a gap: queue, one resend request, then in order")
def _gap(chat: _Chat) -> None:
    chat.open()
    _, missing_out = chat.peer.seq_nos()
    first = chat.peer.seal(text("first"))
    second = chat.peer.seal(text("second"))
    reply = chat.deliver(second)
    if "second" in reply.delivered:
        raise _Verdict("accepted", "delivered a message past a gap at once", conforms=False)
    requests = _actions(chat.peer.read(reply.sent), "decryptedMessageActionResend")
    if len(requests) != 1:
        raise _Verdict("rejected", f"sent {len(requests)} resend requests for one gap", False)
    span = (int(requests[0].start_seq_no), int(requests[0].end_seq_no))
    if span != (missing_out, missing_out):
        raise _Verdict(
            "rejected", f"asked to resend {span}, the hole is ({missing_out}, {missing_out})", False
        )
    after = chat.deliver(first)
    if after.delivered != ["first", "second"]:
        raise _Verdict("rejected", f"after the fill delivered {after.delivered}", False)
    raise _Verdict("accepted", f"asked for {span} once, then delivered both in order")


def _lost_then_asked(chat: _Chat, count: int) -> tuple[bytes, list[int]]:
    """The target sends ``count`` texts that we treat as lost; returns our
    resend request for them (sealed) and their out_seq_nos."""
    chat.open()
    chat.send_text("zero")
    seen = chat.peer.seen
    sent = [m for n in range(count) for m in chat.send_text(f"lost {n}")]
    chat.peer.seen = seen  # as if they never arrived
    wanted = [m.out_seq_no for m in sent]
    ask = make("decryptedMessageActionResend", start_seq_no=min(wanted), end_seq_no=max(wanted))
    return chat.peer.seal(service(ask)), wanted


@_scenario("e2e-resend-honoured", "E1", "accept", "the peer asks for the target's messages again")
def _resend(chat: _Chat) -> None:
    packet, wanted = _lost_then_asked(chat, 2)
    got = [m.out_seq_no for m in chat.peer.read(chat.deliver(packet).sent)]
    if not set(wanted) <= set(got):
        raise _Verdict("rejected", f"asked for {wanted}, got {got}", conforms=False)
    raise _Verdict("accepted", f"resent {sorted(set(got))}")


@_scenario("e2e-resend-once", "E1", "reject", "the same resend request delivered twice")
def _resend_once(chat: _Chat) -> None:
    packet, _ = _lost_then_asked(chat, 1)
    if not chat.peer.read(chat.deliver(packet).sent):
        raise _Verdict("error", "the first resend request was not carried out")
    again = chat.deliver(packet).sent
    if again:
        raise _Verdict("accepted", f"carried out the same request again ({len(again)} packets)")
    raise _Verdict("rejected", "carried it out once")


# -- layers -------------------------------------------------------------------------------------


def _layer_case(announced: int) -> Play:
    def play(chat: _Chat) -> None:
        chat.open(announce=False)
        notify = make("decryptedMessageActionNotifyLayer", layer=announced)
        chat.deliver(chat.peer.seal(service(notify), layer=announced))
        chat.deliver(chat.peer.seal(text("hi", announced), layer=announced))
        for message in chat.send_text("reply"):
            if message.message is None:
                continue
            needs = required_layer(message.message)
            if message.layer > announced or needs > announced:
                raise _Verdict(
                    "rejected",
                    f"wrote layer {message.layer} with {message.message.name} (needs {needs}) "
                    f"to a peer on layer {announced}",
                    conforms=False,
                )
        raise _Verdict("accepted", f"writes layer {announced} or below to a layer-{announced} peer")

    return play


for _layer in (46, 101):
    _scenario(
        f"e2e-layer-peer-{_layer}",
        "E1",
        "accept",
        f"a peer announcing layer {_layer}: the target writes at most that layer",
    )(_layer_case(_layer))


@_scenario("e2e-layer-decreased", "E1", "reject", "a message whose layer went down (fatal)")
def _layer_down(chat: _Chat) -> None:
    chat.open()
    chat.deliver(chat.peer.seal(text("at 144")))
    packet = chat.peer.seal(text("at 101"), layer=101, advance=False)
    _fatal(chat, chat.deliver(packet), "at 101", "a lower layer than the previous message's")


@_scenario(
    "e2e-layer-newer", "E1", "accept", "a message of a newer layer with an unknown constructor"
)
def _layer_newer(chat: _Chat) -> None:
    chat.open()
    message = text("future")
    payload = bytearray(chat.peer.payload(message, layer=LAYER + 60))
    inner = len(payload) - len(codec().serialize(message))
    payload[inner : inner + 4] = b"\x5a\xa5\x0f\xf0"  # an id no layer has used
    packet = encrypt_e2e(chat.peer.key, bytes(payload), from_creator=chat.peer.creator)
    chat.peer.out += 1
    chat.peer.layer = LAYER + 60  # the layer may not go down after it
    reply = chat.deliver(packet)
    if "future" in reply.delivered:
        raise _Verdict("accepted", "delivered a message it cannot decode", conforms=False)
    if chat.closed or not chat.alive():
        # tdlib closes the chat here too; the spec asks to tell the user to update.
        broke = "closed the chat" if chat.closed else "stopped delivering"
        raise _Verdict("rejected", f"{broke} on a newer layer's message", conforms=False)
    raise _Verdict("accepted", "a newer layer's message left the chat working")


# -- MTProto 1.0 --------------------------------------------------------------------------------


def _v1_below_73(after_v2: bool) -> Play:
    """MTProto 1.0 from a peer on layer 46, as the chat's first message or
    after a 2.0 one: the spec still allows it below layer 73 (tdlib tries
    1.0 after 2.0 fails there), but it is phased out, so accepting it is a
    WARN and refusing it passes."""

    def play(chat: _Chat) -> None:
        chat.open(announce=False)
        chat.peer.layer = 46
        if after_v2 and "modern" not in chat.deliver(chat.peer.seal(text("modern", 46))).delivered:
            raise _Verdict("error", "a layer-46 MTProto 2.0 message was not delivered")
        packet = chat.peer.seal(text("legacy", 46), version=1, advance=False)
        when = "after MTProto 2.0" if after_v2 else "as the first message"
        _not_delivered(chat, packet, "legacy", f"an MTProto 1.0 message {when}")

    return play


for _name, _after, _what in (
    ("legacy", False, "MTProto 1.0 from a layer-46 peer before any 2.0 message"),
    ("downgrade", True, "MTProto 1.0 from a layer-46 peer after 2.0 messages"),
):
    _scenario(f"e2e-mtproto1-{_name}", "E1", "deprecated", f"{_what} (tolerated, phased out)")(
        _v1_below_73(_after)
    )


# -- re-keying (api/end-to-end/pfs) ------------------------------------------------------------


def _request(chat: _Chat, exchange_id: int, g_a: bytes) -> list[DecodedLayer]:
    action = make("decryptedMessageActionRequestKey", exchange_id=exchange_id, g_a=g_a)
    reply = chat.deliver(chat.peer.seal(service(action)))
    if reply.closed:
        return []
    return chat.peer.read(reply.sent)


def _accepted_by_target(
    chat: _Chat, exchange_id: int, *, setup: bool = True
) -> tuple[AuthKey, list[TLObject]]:
    """We request a new key; returns it (as the target's accept makes it) and
    the acceptKey actions the target sent. With ``setup`` (the exchange only
    prepares what the scenario tests) a target that does not accept makes the
    scenario an error, not a refusal."""
    a, g_a = chat.dh.new_exponent(random_bytes, "g_a")
    accepts = _actions(
        _request(chat, exchange_id, encode_dh_value(g_a)), "decryptedMessageActionAcceptKey"
    )
    if len(accepts) != 1:
        detail = f"answered a valid requestKey with {len(accepts)} acceptKey"
        raise _Verdict("error" if setup else "rejected", detail)
    accept = accepts[0]
    try:
        new = compute_key(decode_dh_value(bytes(accept.g_b), _P, "g_b"), a, _P)
    except MtcryptError as exc:
        raise _Verdict("rejected", f"its acceptKey has a bad g_b: {exc}", conforms=False) from None
    if int(accept.exchange_id) != exchange_id or int(accept.key_fingerprint) != new.key_id:
        raise _Verdict("rejected", "its acceptKey names another exchange or key", conforms=False)
    return new, accepts


@_scenario("e2e-rekey-peer-initiates", "E1", "accept", "requestKey, acceptKey, commitKey, new key")
def _rekey_ok(chat: _Chat) -> None:
    chat.open()
    new, _ = _accepted_by_target(chat, 1234, setup=False)
    commit = make("decryptedMessageActionCommitKey", exchange_id=1234, key_fingerprint=new.key_id)
    chat.deliver(chat.peer.seal(service(commit)))
    chat.peer.keys.append(new)
    chat.peer.key = new
    if not chat.alive():
        raise _Verdict("rejected", "did not take a message under the committed key", False)
    sent = chat.call("send_text", lambda: chat.target.send_text("new key")).sent
    if not sent or sent[-1][:8] != new.key_id_bytes:
        raise _Verdict("rejected", "still encrypts with the old key after commitKey", False)
    raise _Verdict("accepted", "switched to the new key on both directions")


def _bad_rekey_g_a(value: int) -> Play:
    def play(chat: _Chat) -> None:
        chat.open()
        replies = _request(chat, 99, encode_dh_value(value))
        if _actions(replies, "decryptedMessageActionAcceptKey"):
            raise _Verdict("accepted", "accepted a requestKey with a bad g_a")
        raise _Verdict("rejected", "refused the requestKey")

    return play


for _name, _value in (("one", 1), ("p-minus-1", _P - 1), ("below-range", _BELOW)):
    _scenario(f"e2e-rekey-g-a-{_name}", "H3", "reject", f"requestKey with g_a {_name}")(
        _bad_rekey_g_a(_value)
    )


@_scenario("e2e-rekey-commit-wrong-fp", "E1", "reject", "commitKey naming another key")
def _commit_wrong(chat: _Chat) -> None:
    chat.open()
    new, _ = _accepted_by_target(chat, 77)
    commit = make("decryptedMessageActionCommitKey", exchange_id=77, key_fingerprint=new.key_id ^ 1)
    reply = chat.deliver(chat.peer.seal(service(commit)))
    chat.peer.keys.append(new)
    probe = chat.peer.seal(text("under new"), key=new)
    after = chat.deliver(probe) if not reply.closed else Reply(closed=True)
    if "under new" in after.delivered:
        raise _Verdict("accepted", "switched to a key the commit did not confirm")
    raise _Verdict("rejected", "did not switch")


@_scenario("e2e-rekey-abort", "E1", "accept", "abortKey after acceptKey: the old key stays")
def _rekey_abort(chat: _Chat) -> None:
    chat.open()
    _accepted_by_target(chat, 55)
    chat.deliver(chat.peer.seal(service(make("decryptedMessageActionAbortKey", exchange_id=55))))
    if not chat.alive():
        raise _Verdict("rejected", "the chat stopped working after abortKey", conforms=False)
    sent = chat.call("send_text", lambda: chat.target.send_text("old key")).sent
    if not sent or sent[-1][:8] != chat.peer.key.key_id_bytes:
        raise _Verdict("rejected", "does not use the old key after abortKey", conforms=False)
    raise _Verdict("accepted", "kept the old key")


def _target_request(chat: _Chat) -> TLObject:
    reply = chat.call("request_rekey", chat.target.request_rekey)
    requests = _actions(chat.peer.read(reply.sent), "decryptedMessageActionRequestKey")
    if len(requests) != 1:
        raise _Verdict("error", f"request_rekey sent {len(requests)} requestKey")
    return requests[0]


def _answer(
    chat: _Chat, request: TLObject, g_b: int, fingerprint: int | None
) -> tuple[AuthKey, Reply]:
    b, _ = chat.dh.new_exponent(random_bytes, "g_b")
    try:
        new = compute_key(decode_dh_value(bytes(request.g_a), _P, "g_a"), b, _P)
    except MtcryptError as exc:
        raise _Verdict("rejected", f"its requestKey has a bad g_a: {exc}", conforms=False) from None
    if g_b == 0:
        g_b = pow(chat.dh.g, b, _P)
    action = make(
        "decryptedMessageActionAcceptKey",
        exchange_id=int(request.exchange_id),
        g_b=encode_dh_value(g_b),
        key_fingerprint=new.key_id if fingerprint is None else fingerprint,
    )
    return new, chat.deliver(chat.peer.seal(service(action)))


@_scenario(
    "e2e-rekey-one-at-a-time",
    "E1",
    "reject",
    "asked to re-key again while its own exchange is open",
    ["rekey"],
)
def _rekey_one_at_a_time(chat: _Chat) -> None:
    chat.open()
    _target_request(chat)
    try:
        second = chat.target.request_rekey()
    except TargetDied as exc:
        raise _died(exc) from None
    except Exception as exc:  # refusing the call is the right answer
        raise _Verdict("rejected", f"refused a second exchange: {_describe(exc)}") from None
    requests = _actions(chat.peer.read(second.sent), "decryptedMessageActionRequestKey")
    if requests:
        raise _Verdict("accepted", "started a second exchange while the first was open")
    raise _Verdict("rejected", "sent no second requestKey")


@_scenario("e2e-rekey-target-initiates", "E1", "accept", "the target re-keys; we accept", ["rekey"])
def _target_rekey(chat: _Chat) -> None:
    chat.open()
    request = _target_request(chat)
    new, reply = _answer(chat, request, 0, None)
    commits = _actions(chat.peer.read(reply.sent), "decryptedMessageActionCommitKey")
    if len(commits) != 1 or int(commits[0].key_fingerprint) != new.key_id:
        raise _Verdict("rejected", "did not commit the key we agreed", conforms=False)
    chat.peer.keys.append(new)
    chat.peer.key = new
    if not chat.alive():
        raise _Verdict("rejected", "did not take a message under the new key", conforms=False)
    raise _Verdict("accepted", "committed and uses the new key")


def _bad_accept(g_b: int, wrong_fingerprint: bool) -> Play:
    def play(chat: _Chat) -> None:
        chat.open()
        request = _target_request(chat)
        # g_b = 1 forces the key 1: we send its fingerprint, so only the range
        # check can refuse it.
        forced = AuthKey.from_int(1).key_id if g_b == 1 else None
        _, reply = _answer(chat, request, g_b, 1 if wrong_fingerprint else forced)
        if reply.sent and _actions(chat.peer.read(reply.sent), "decryptedMessageActionCommitKey"):
            raise _Verdict("accepted", "committed a key it should have refused")
        raise _Verdict("rejected", "did not commit")

    return play


for _id, _gb, _wrong, _what in (
    ("e2e-rekey-g-b-one", 1, False, "acceptKey with g_b = 1 and the fingerprint it forces"),
    ("e2e-rekey-accept-wrong-fp", 0, True, "acceptKey with a wrong key_fingerprint"),
):
    _scenario(_id, "E1" if _wrong else "H3", "reject", _what, ["rekey"])(_bad_accept(_gb, _wrong))


def _race(offset: int) -> Play:
    """Both sides request at once; ours is the target's exchange_id plus
    ``offset``: the larger wins, equal ids abandon both (api/end-to-end/pfs)."""

    def play(chat: _Chat) -> None:
        chat.open()
        request = _target_request(chat)
        ours = int(request.exchange_id)
        theirs = ours + offset
        if not -(2**63) <= theirs < 2**63:  # one chance in 2^63
            raise _Verdict("error", "the target's exchange_id is at the int64 edge; run again")
        _, g_a = chat.dh.new_exponent(random_bytes, "g_a")
        accepts = _actions(
            _request(chat, theirs, encode_dh_value(g_a)), "decryptedMessageActionAcceptKey"
        )
        if offset > 0 and len(accepts) != 1:
            raise _Verdict("rejected", "kept its own exchange against a larger exchange_id", False)
        if offset <= 0 and accepts:
            raise _Verdict("rejected", "accepted an exchange_id not above its own", False)
        if offset == 0:
            # Both exchanges are abandoned: an acceptKey for the target's own
            # request must not make it commit.
            _, reply = _answer(chat, request, 0, None)
            if not reply.closed and _actions(
                chat.peer.read(reply.sent), "decryptedMessageActionCommitKey"
            ):
                raise _Verdict("rejected", "committed an exchange abandoned by the tie", False)
        raise _Verdict("accepted", "resolved the race by exchange_id")

    return play


for _name, _offset, _ours in (("wins", 1, "larger"), ("loses", -1, "smaller"), ("tie", 0, "equal")):
    _scenario(
        f"e2e-rekey-race-peer-{_name}",
        "E1",
        "accept",
        f"concurrent requestKey, ours {_ours}",
        ["rekey"],
    )(_race(_offset))


@_scenario(
    "e2e-rekey-switch-on-new-key",
    "E1",
    "accept",
    "after acceptKey, a message under the new key before any commitKey: the target switches",
)
def _switch_on_new_key(chat: _Chat) -> None:
    chat.open()
    new, _ = _accepted_by_target(chat, 4321)
    chat.peer.keys.append(new)
    chat.peer.key = new
    if not chat.alive():
        raise _Verdict("rejected", "did not take a message under the new key", conforms=False)
    sent = chat.call("send_text", lambda: chat.target.send_text("after the switch")).sent
    if not sent or sent[-1][:8] != new.key_id_bytes:
        raise _Verdict("rejected", "did not switch on seeing the new key", conforms=False)
    raise _Verdict("accepted", "switched on the first message under the new key")


@_scenario(
    "e2e-rekey-old-key-refused", "E1", "reject", "a message under the old key after commitKey"
)
def _old_key_refused(chat: _Chat) -> None:
    chat.open()
    new, _ = _accepted_by_target(chat, 5678)
    commit = make("decryptedMessageActionCommitKey", exchange_id=5678, key_fingerprint=new.key_id)
    chat.deliver(chat.peer.seal(service(commit)))
    old = chat.peer.key
    chat.peer.keys.append(new)
    chat.peer.key = new
    if not chat.alive():
        raise _Verdict("error", "the re-keying itself did not complete")
    packet = chat.peer.seal(text("under the old key"), key=old, advance=False)
    _not_delivered(chat, packet, "under the old key", "a message under the discarded key")


# -- files ----------------------------------------------------------------------------------------


def _file_case(wrong: bool) -> Play:
    def play(chat: _Chat) -> None:
        key = FileKey.generate()
        data = random_bytes(1000)
        encrypted = encrypt_file(data, key)
        claimed = key.fingerprint ^ (1 if wrong else 0)
        if wrong:
            _refused(
                "a file whose key does not match its fingerprint",
                lambda: chat.target.decrypt_file(encrypted, key.key, key.iv, claimed, len(data)),
            )
        got = _took(
            "file", lambda: chat.target.decrypt_file(encrypted, key.key, key.iv, claimed, len(data))
        )
        if got != data:
            raise _Verdict("rejected", "decrypted the file to other bytes", conforms=False)
        raise _Verdict("accepted", "decrypted the file")

    return play


def _sent_file(chat: _Chat, data: bytes) -> SentFile:
    return _took("send_file", lambda: chat.target.send_file(data))


@_scenario(
    "e2e-file-sent",
    "E1",
    "accept",
    "two files the target sends: each with a key and IV of its own, the fingerprint it uploads",
    ["send_files"],
)
def _file_sent(chat: _Chat) -> None:
    peer = chat.open()
    keys = []
    for i in range(2):
        data = random_bytes(1000 + 16 * i)
        sent = _sent_file(chat, data)
        media = [
            layer.message.fields.get("media")
            for layer in peer.read(sent.reply.sent)
            if layer.message is not None
        ]
        documents = [m for m in media if isinstance(m, TLObject) and "Document" in m.name]
        if len(documents) != 1:
            raise _Verdict("rejected", f"file {i + 1}: no one message with the document")
        document = documents[0]
        try:
            file_key = FileKey(bytes(document.key), bytes(document.iv))
        except MtcryptError as exc:
            raise _Verdict("rejected", f"file {i + 1}: its key or IV: {exc}") from None
        if sent.fingerprint != file_key.fingerprint:
            raise _Verdict("rejected", f"file {i + 1}: uploaded with another key's fingerprint")
        if decrypt_file(sent.encrypted, file_key, len(data)) != data:
            raise _Verdict("rejected", f"file {i + 1}: does not decrypt under its key and IV")
        keys.append(file_key)
    if keys[0].key == keys[1].key or keys[0].iv == keys[1].iv:
        raise _Verdict("rejected", "two files under the same key or IV")
    raise _Verdict("accepted", "two files, each with its own key and IV and the right fingerprint")


for _name, _wrong, _what in (
    ("ok", False, "an encrypted file with its key, IV and fingerprint"),
    ("wrong-fp", True, "a file key that does not match the fingerprint"),
):
    _scenario(
        f"e2e-file-{_name}", "E1", "reject" if _wrong else "accept", _what, ["files"], roles=OWN
    )(_file_case(_wrong))


# ---- what the target sends -----------------------------------------------------------------


@_scenario(
    "e2e-seq-target-numbering",
    "E1",
    "accept",
    "every message the target sends: out_seq_no 2·count + x, continuous; in_seq_no what it saw",
)
def _target_numbering(chat: _Chat) -> None:
    peer = chat.open(announce=False)
    # The creator sends out_seq_no 2k+1 and in_seq_no 2k; the partner 2k and 2k+1.
    out_x = 0 if peer.creator else 1
    seen: list[tuple[DecodedLayer, int]] = []  # what it sent, and how many of ours it had then

    def delivered(packet: bytes) -> None:
        reply = chat.deliver(packet)
        seen.extend((layer, peer.out) for layer in peer.read(reply.sent))

    delivered(peer.seal(service(make("decryptedMessageActionNotifyLayer", layer=LAYER))))
    for i in range(3):
        seen.extend((layer, peer.out) for layer in chat.send_text(f"from the target {i}"))
        delivered(peer.seal(text(f"from the peer {i}")))
    if not seen:
        raise _Verdict("error", "the target sent nothing")
    first = seen[0][0].out_seq_no // 2
    for index, (layer, ours) in enumerate(seen):
        want_out, want_in = 2 * (first + index) + out_x, 2 * ours + 1 - out_x
        if layer.out_seq_no != want_out:
            raise _Verdict("rejected", f"out_seq_no {layer.out_seq_no}, not {want_out}")
        if layer.in_seq_no != want_in:
            detail = f"in_seq_no {layer.in_seq_no} after {ours} of our messages, not {want_in}"
            raise _Verdict("rejected", detail)
    raise _Verdict("accepted", f"{len(seen)} messages, each numbered as the spec says")


@_scenario(
    "e2e-rekey-schedule",
    "E1",
    "accept",
    "more than 100 messages under one key: the target starts re-keying (requestKey)",
)
def _rekey_schedule(chat: _Chat) -> None:
    # The official clients count messages encrypted or decrypted with the key,
    # once they have encrypted one themselves.
    peer = chat.open()
    used = 1 + len(chat.send_text("the first under this key"))
    for i in range(110):
        reply = chat.deliver(peer.seal(text(f"message {i}")))
        if _actions(peer.read(reply.sent), "decryptedMessageActionRequestKey"):
            raise _Verdict("accepted", f"sent requestKey after {used + i + 1} messages")
    raise _Verdict("rejected", f"no requestKey after {used + 110} messages under one key")


# ---- running ----------------------------------------------------------------------------------


def _play(
    target: SecretChatTarget, scenario: SecretScenario, role: str, layer: int
) -> ScenarioResult:
    t0 = time.perf_counter()
    missing = scenario.needs - target.features
    conforms: bool | None = None
    if missing:
        observed: Observed = "skipped"
        detail = f"the target lacks {', '.join(sorted(missing))}"
    else:
        try:
            target.reset()
            scenario.play(_Chat(target, layer, as_creator=role == "creator"))
        except TargetDied as exc:
            observed, detail, conforms = "error", f"the target failed: {exc}", False
        except _Verdict as verdict:
            observed, detail, conforms = verdict.observed, verdict.detail, verdict.conforms
        except Exception as exc:  # a bug in a scenario must not stop the suite
            observed, detail = "error", f"scenario failed: {_describe(exc)}"
        else:
            observed, detail = "error", "the scenario reached no verdict"
    status = scenario_status(scenario.expect, observed)
    if conforms is False:
        status = "FAIL"
    return ScenarioResult(
        scenario.id if role == "creator" else f"{scenario.id}/{role}",
        scenario.checklist,
        scenario.description,
        scenario.expect,
        observed,
        status,
        detail,
        seconds=time.perf_counter() - t0,
    )


def run_secret_suite(
    target: SecretChatTarget,
    scenarios: Sequence[SecretScenario] | None = None,
    *,
    layer: int = LAYER,
    progress: Callable[[ScenarioResult], None] | None = None,
) -> Report:
    """Play ``scenarios`` (default: all) against ``target``; the target runs
    its chats at ``layer``."""
    chosen = list(secret_scenarios() if scenarios is None else scenarios)
    started = time.perf_counter()
    results = []
    for scenario in chosen:
        for role in scenario.roles:
            result = _play(target, scenario, role, layer)
            results.append(result)
            if progress is not None:
                progress(result)
    return Report(target.name, "secret-chat", results, seconds=time.perf_counter() - started)
