"""A secret chat after its key exchange: the sans-I/O protocol object.

Bytes in (``receive``: the ``bytes`` of an ``encryptedMessage``/
``encryptedMessageService`` update), events and packets out; no network, no
clock or randomness of its own (both are constructor parameters).

Sequence numbers (core.telegram.org/api/end-to-end/seq_no; tdlib
SecretChatActor.cpp ``check_seq_no``): raw counters ``(out, in)`` start at 0
and count every message, service ones too; on the wire ``2*raw + x`` with x
chosen so that the two directions have different parities (creator: out odd,
in even; the other side the reverse). A received message is checked in this
order:

1. ``in_seq_no < 0`` or either parity wrong: abort (this is also what catches
   a message mirrored back to its sender under MTProto 1.0; under 2.0 the
   direction-dependent key derivation already makes it fail to decrypt);
2. ``out_seq_no`` already processed: dropped silently (a replay or a resend);
3. ``out_seq_no`` beyond the next expected: a gap. The message waits in a
   queue and one ``decryptedMessageActionResend`` asks for the hole (once per
   hole); a ``Resend`` request inside such a message is carried out at once
   (and never again);
4. the next expected: ``in_seq_no`` must not go down and may not exceed the
   number of messages we sent, the layer must not go down (else abort); then
   it is processed, followed by whatever the queue can now release.

Other checks: ``random_bytes`` shorter than 15 bytes: ignored; MTProto 1.0
only while legacy mode allows it (``ChatPolicy.accept_mtproto1``, a peer layer
below 73, no 2.0 message seen yet) and never for a message claiming layer 73+
(abort). Re-keying: :mod:`mtcrypt.e2e.rekey`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from .._random import random_bytes
from .._validation import BytesLike, Clock, Rng, check_int, draw
from ..errors import DecryptionFailed, InvalidArgument, TLError
from ..mtproto import AuthKey
from ..mtproto.authkey import require_auth_key
from ..tl import TLObject
from .crypto import decrypt_e2e, encrypt_e2e
from .dh import DhConfig
from .errors import AbortReason, ChatAborted, E2EError, KeyExchangeError
from .events import (
    Aborted,
    Dropped,
    DropReason,
    Event,
    KeyChanged,
    MessageReceived,
    Outgoing,
    PeerLayerChanged,
    Send,
    ServiceReceived,
    UnsupportedMessage,
)
from .legacy import decrypt_e2e_v1
from .rekey import Rekeying, RekeyState
from .tl import (
    LAYER,
    LAYER_MTPROTO2,
    MIN_LAYER,
    MIN_RANDOM_BYTES,
    DecodedLayer,
    codec,
    decode_layer,
    encode_layer,
    make,
    required_layer,
)
from .visual import KeyVisualization

__all__ = ["ChatPolicy", "SecretChat"]

_PROTOCOL_ACTIONS = frozenset(
    {
        "decryptedMessageActionResend",
        "decryptedMessageActionNotifyLayer",
        "decryptedMessageActionRequestKey",
        "decryptedMessageActionAcceptKey",
        "decryptedMessageActionCommitKey",
        "decryptedMessageActionAbortKey",
        "decryptedMessageActionNoop",
    }
)
_SERVICE = frozenset({"decryptedMessageService", "decryptedMessageService8"})


@dataclass(frozen=True, slots=True)
class ChatPolicy:
    """Tunables; the defaults follow the spec and the official clients."""

    layer: int = LAYER
    """The layer we support and announce (46..144). Messages carry the lower of
    it and the peer's layer (:attr:`SecretChat.layer`)."""
    auto_rekey: bool = True
    """Start re-keying by itself when :meth:`SecretChat.rekey_due` (official clients do)."""
    rekey_after_messages: int = 100
    rekey_after_seconds: float = 7 * 24 * 3600.0
    max_pending: int = 1000
    """Out-of-order messages kept while a gap is open; more aborts the chat."""
    max_resend: int = 1000
    """Largest resend request honoured; a larger one aborts the chat."""
    max_unacked: int = 10_000
    """Sent messages kept for resending until the peer's in_seq_no covers them."""
    random_bytes_length: int = 31
    """decryptedMessageLayer.random_bytes we write (tdlib: 31; at least 15)."""
    accept_mtproto1: bool = False
    """LEGACY: also accept MTProto 1.0 messages from a peer below layer 73."""

    def __post_init__(self) -> None:
        check_int(self.layer, "layer", MIN_LAYER, LAYER)
        if self.random_bytes_length < MIN_RANDOM_BYTES:
            raise InvalidArgument("random_bytes_length must be at least 15")
        for name in ("max_pending", "max_resend", "max_unacked", "rekey_after_messages"):
            if getattr(self, name) < 1:
                raise InvalidArgument(f"{name} must be positive")


@dataclass(frozen=True, slots=True)
class _Inbound:
    layer: DecodedLayer
    key: AuthKey
    version: int


class SecretChat:
    """One secret chat, from either side. Build it with
    :class:`~mtcrypt.e2e.PendingSecretChat` (creator) or
    :func:`~mtcrypt.e2e.accept_secret_chat` (the other side).

    ``send*`` return the packets to deliver, in order (the first call also
    returns the ``notifyLayer`` the spec requires right after the exchange,
    unless :meth:`start` was called). :meth:`receive` returns events,
    including :class:`~mtcrypt.e2e.Send` packets the protocol generates; it
    raises :class:`~mtcrypt.errors.DecryptionFailed` (the packet is dropped,
    the chat unchanged) for anything that does not decrypt, and reports an
    abort as a final :class:`~mtcrypt.e2e.Aborted` event.
    """

    def __init__(
        self,
        key: AuthKey,
        *,
        is_creator: bool,
        dh: DhConfig,
        rng: Rng = random_bytes,
        clock: Clock = time.time,
        policy: ChatPolicy | None = None,
        visualization: KeyVisualization | None = None,
    ) -> None:
        require_auth_key(key, "key")
        if not isinstance(dh, DhConfig):
            raise InvalidArgument("dh must be a DhConfig")
        self._policy = policy if policy is not None else ChatPolicy()
        self._is_creator = bool(is_creator)
        self._x = 0 if self._is_creator else 1
        self._rng = rng
        self._clock = clock
        self._keys = Rekeying(
            key,
            dh,
            rng=rng,
            clock=clock,
            max_messages=self._policy.rekey_after_messages,
            max_age=self._policy.rekey_after_seconds,
        )
        self._visual = visualization or KeyVisualization.from_keys(key)
        self._original_fingerprint = key.key_id
        self._my_in = 0
        self._my_out = 0
        self._his_in = 0
        self._last_layer = 0
        self._peer_layer = MIN_LAYER
        self._resend_end = -1
        self._pending: dict[int, _Inbound] = {}
        self._sent: dict[int, Outgoing] = {}
        self._v2_seen = False
        self._started = False
        self._aborted: AbortReason | None = None
        self._verified = False
        self._stats: dict[str, int] = {}

    def __repr__(self) -> str:
        state = f"aborted: {self._aborted.name}" if self._aborted else "active"
        return (
            f"SecretChat(creator={self._is_creator}, {state}, out={self._my_out}, "
            f"in={self._my_in}, pending={len(self._pending)}, rekey={self._keys.state.name})"
        )

    # -- properties -----------------------------------------------------------------
    # duplicates: deliberate -- read-only properties, one per attribute with its own docstring:
    # alike other classes' by shape only.

    @property
    def is_creator(self) -> bool:
        return self._is_creator

    @property
    def key_fingerprint(self) -> int:
        """The ``key_fingerprint`` of the key messages are encrypted with now."""
        return self._keys.current.key_id

    @property
    def visualization(self) -> KeyVisualization:
        """The key visualization (tied to the original key, unchanged by re-keying)."""
        return self._visual

    @property
    def verified(self) -> bool:
        """Whether the users said they compared :attr:`visualization` out of
        band (:meth:`mark_verified`). Until then a man in the middle of the
        initial exchange cannot be ruled out (security checklist section 3:
        the re-keying unknown-key-share finding of Miculan and Vitacolonna
        assumes unverified keys). Re-keying leaves it as it is, because the
        visualization stays that of the original key."""
        return self._verified

    def check_key_fingerprint(self, key_fingerprint: int) -> None:
        """Compare the ``key_fingerprint`` the server reports in
        ``encryptedChat`` with the chat's original key (tdlib checks it on
        both sides); raise :class:`~mtcrypt.e2e.KeyExchangeError` on a
        mismatch (then discard the chat)."""
        if not isinstance(key_fingerprint, int) or key_fingerprint != self._original_fingerprint:
            raise KeyExchangeError("key_fingerprint", "the server reports another key")

    def mark_verified(self) -> None:
        """Record that the users compared the key visualization."""
        self._check_open()
        self._verified = True

    @property
    def peer_layer(self) -> int:
        """The highest layer the peer is known to support (46 until told)."""
        return self._peer_layer

    @property
    def layer(self) -> int:
        """The layer our messages carry now: the lower of ours
        (:attr:`ChatPolicy.layer`) and :attr:`peer_layer` (api/end-to-end:
        "Notifying the remote client about your local layer"), so that a peer
        on an older layer can decode every message instead of asking its user
        to update. What :meth:`send` accepts is limited to the constructors of
        this layer: until the peer announces its layer (46 is assumed) that
        excludes ``decryptedMessage`` of layer 73; :meth:`send_text` picks the
        right constructor by itself. (tdlib no longer talks to peers below
        layer 73 and writes at least 73.)"""
        return max(MIN_LAYER, min(self._policy.layer, self._peer_layer))

    @property
    def aborted(self) -> AbortReason | None:
        return self._aborted

    @property
    def rekey_state(self) -> RekeyState:
        return self._keys.state

    @property
    def pending(self) -> int:
        """Messages waiting in the gap queue."""
        return len(self._pending)

    @property
    def seq(self) -> tuple[int, int]:
        """Raw ``(out, in)`` counters: messages sent, messages processed."""
        return self._my_out, self._my_in

    @property
    def stats(self) -> dict[str, int]:
        """Counters: ``sent``, ``received``, ``resent``, ``rekeys`` and one per
        :class:`~mtcrypt.e2e.DropReason` (``dropped_replay``, ...)."""
        return dict(self._stats)

    def _count(self, name: str, n: int = 1) -> None:
        self._stats[name] = self._stats.get(name, 0) + n

    # -- sending ---------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._aborted is not None:
            raise ChatAborted(self._aborted)

    def _seal(self, message: TLObject, *, service: bool) -> Outgoing:
        in_seq_no = 2 * self._my_in + self._x
        out_seq_no = 2 * self._my_out + 1 - self._x
        payload = encode_layer(
            random_bytes=draw(self._rng, self._policy.random_bytes_length),
            layer=self.layer,
            in_seq_no=in_seq_no,
            out_seq_no=out_seq_no,
            message=message,
        )
        key = self._keys.current
        data = encrypt_e2e(key, payload, from_creator=self._is_creator, rng=self._rng)
        random_id = message.fields["random_id"]
        assert isinstance(random_id, int)
        out = Outgoing(data, random_id, in_seq_no, out_seq_no, service, key.key_id)
        self._sent[self._my_out] = out
        while len(self._sent) > self._policy.max_unacked:
            del self._sent[next(iter(self._sent))]
        self._my_out += 1
        self._keys.note_encrypted()
        self._count("sent")
        return out

    def _random_id(self) -> int:
        return int.from_bytes(draw(self._rng, 8), "little", signed=True)

    def _seal_action(self, action: TLObject) -> Outgoing:
        message = make("decryptedMessageService", random_id=self._random_id(), action=action)
        return self._seal(message, service=True)

    def start(self) -> list[Outgoing]:
        """The ``notifyLayer`` to send right after the key exchange (spec:
        "Notifying the remote client about your local layer"). Idempotent."""
        self._check_open()
        if self._started:
            return []
        self._started = True
        return [
            self._seal_action(make("decryptedMessageActionNotifyLayer", layer=self._policy.layer))
        ]

    def send(self, message: TLObject) -> list[Outgoing]:
        """Encrypt a ``decryptedMessage``/``decryptedMessageService``; returns
        the packets to deliver in order (it, possibly preceded by the initial
        ``notifyLayer`` and followed by a ``requestKey`` when re-keying is due)."""
        self._check_open()
        if not isinstance(message, TLObject) or message.name not in codec().schema:
            raise InvalidArgument("message must be an end-to-end TLObject (mtcrypt.e2e.make)")
        if codec().schema[message.name].result != "DecryptedMessage":
            raise InvalidArgument(f"{message.name} is not a DecryptedMessage")
        needed = required_layer(message)
        if needed > self.layer:
            raise InvalidArgument(
                f"{message.name} needs layer {needed}, but this chat writes layer {self.layer} "
                f"(ours {self._policy.layer}, the peer's {self._peer_layer}); use the constructors "
                "of that layer"
            )
        service = message.name in _SERVICE
        if service:
            action = message.fields["action"]
            if isinstance(action, TLObject) and action.name in _PROTOCOL_ACTIONS:
                raise InvalidArgument(f"{action.name} is sent by the protocol, not by hand")
        out = self.start()
        out.append(self._seal(message, service=service))
        out += self._auto_rekey()
        return out

    def send_text(self, text: str, *, ttl: int = 0, silent: bool = False) -> list[Outgoing]:
        """Send a text message in the constructor of :attr:`layer`:
        ``decryptedMessage`` from layer 73, ``decryptedMessage45`` below (which
        has no ``silent`` flag; it is left out there)."""
        if self.layer >= LAYER_MTPROTO2:
            message = make(
                "decryptedMessage",
                random_id=self._random_id(),
                ttl=ttl,
                message=text,
                silent=silent,
            )
        else:
            message = make("decryptedMessage45", random_id=self._random_id(), ttl=ttl, message=text)
        return self.send(message)

    def send_action(self, action: TLObject) -> list[Outgoing]:
        """Send an application service action (TTL, read, delete, ...)."""
        return self.send(
            make("decryptedMessageService", random_id=self._random_id(), action=action)
        )

    def rekey_due(self) -> bool:
        """Whether the re-keying policy asks for a new key now."""
        return self._aborted is None and self._keys.due()

    def request_rekey(self) -> list[Outgoing]:
        """Start re-keying now; raises :class:`E2EError` while an exchange is
        open (by either side) or the previous key is still held."""
        self._check_open()
        if not self._keys.can_request:  # before anything is sealed
            raise E2EError("a re-keying exchange is open or the old key is still held")
        out = self.start()
        out.append(self._seal_action(self._keys.request()))
        return out

    def retry_gap_request(self) -> list[Outgoing]:
        """Ask again for the messages missing before the first queued one
        (for a timer: the spec asks once per hole, and that request may be
        lost too). Returns ``[]`` when nothing is missing."""
        self._check_open()
        if not self._pending:
            return []
        self._resend_end = -1
        events: list[Event] = []
        self._request_gap_fill(events)
        return [e.outgoing for e in events if isinstance(e, Send)]

    def _auto_rekey(self) -> list[Outgoing]:
        if self._policy.auto_rekey and self._keys.due():
            return [self._seal_action(self._keys.request())]
        return []

    def abort(self) -> None:
        """Abort the chat locally (then call ``messages.discardEncryption``)."""
        if self._aborted is None:
            self._aborted = AbortReason.LOCAL
            self._forget()

    def _forget(self) -> None:
        self._pending.clear()
        self._sent.clear()

    # -- receiving --------------------------------------------------------------------

    def _mtproto1_allowed(self) -> bool:
        return (
            self._policy.accept_mtproto1 and not self._v2_seen and self._peer_layer < LAYER_MTPROTO2
        )

    def _decrypt(self, data: bytes) -> _Inbound:
        key = self._keys.key_for(data[:8]) if len(data) >= 8 else None
        if key is None:
            raise DecryptionFailed()
        version = 2
        try:
            payload = decrypt_e2e(key, data, from_creator=not self._is_creator)
        except DecryptionFailed:
            if not self._mtproto1_allowed():
                raise
            payload = decrypt_e2e_v1(key, data)
            version = 1
        try:
            layer = decode_layer(payload)
        except TLError:
            layer = DecodedLayer(b"", -1, 0, 0, None, payload)
        return _Inbound(layer, key, version)

    def receive(self, data: bytes) -> list[Event]:
        """Process one received encrypted message; see the class docs."""
        self._check_open()
        if not isinstance(data, BytesLike):
            raise InvalidArgument("data must be bytes")
        inbound = self._decrypt(bytes(data))
        events: list[Event] = []
        try:
            self._receive(inbound, events)
            events += [Send(out) for out in self._auto_rekey()]
        except ChatAborted as exc:
            self._aborted = exc.reason
            self._forget()
            events += self._keys.events
            self._keys.events.clear()
            events.append(Aborted(exc.reason))
        return events

    def _drop(self, reason: DropReason, events: list[Event]) -> None:
        self._count(f"dropped_{reason.name.lower()}")
        events.append(Dropped(reason))

    def _receive(self, inbound: _Inbound, events: list[Event]) -> None:
        layer = inbound.layer
        if layer.layer < 0:
            return self._drop(DropReason.MALFORMED, events)
        if len(layer.random_bytes) < MIN_RANDOM_BYTES:
            return self._drop(DropReason.SHORT_RANDOM, events)
        if inbound.version == 1 and layer.layer >= LAYER_MTPROTO2:
            raise ChatAborted(AbortReason.MTPROTO1_FORBIDDEN)
        if inbound.version == 2:
            self._v2_seen = True
        self._keys.on_decrypted_with(inbound.key)
        self._flush_key_events(events)
        self._raise_peer_layer(layer.layer, events)

        if layer.in_seq_no < 0:
            raise ChatAborted(AbortReason.NEGATIVE_IN_SEQ_NO)
        if layer.in_seq_no % 2 != 1 - self._x or layer.out_seq_no % 2 != self._x:
            raise ChatAborted(AbortReason.SEQ_NO_PARITY)
        out = layer.out_seq_no // 2
        if out < self._my_in:
            return self._drop(DropReason.REPLAY, events)
        if out > self._my_in:
            if out in self._pending:
                return self._drop(DropReason.DUPLICATE, events)
            if len(self._pending) >= self._policy.max_pending:
                raise ChatAborted(AbortReason.TOO_MANY_PENDING)
            action = self._action_of(layer.message)
            if action is not None and action.name == "decryptedMessageActionResend":
                # Carried out on receipt, even ahead of a gap, and only once.
                self._resend(action, events)
                noop = make(
                    "decryptedMessageService",
                    random_id=_random_id_of(layer.message),
                    action=make("decryptedMessageActionNoop"),
                )
                inbound = replace(inbound, layer=replace(layer, message=noop))
            self._pending[out] = inbound
            self._request_gap_fill(events)
            return None
        self._process(inbound, events)
        while self._my_in in self._pending:
            self._process(self._pending.pop(self._my_in), events)
        if self._pending:
            self._request_gap_fill(events)
        return None

    def _raise_peer_layer(self, layer: int, events: list[Event]) -> None:
        if layer > self._peer_layer:
            self._peer_layer = layer
            events.append(PeerLayerChanged(layer))

    def _flush_key_events(self, events: list[Event]) -> None:
        self._count("rekeys", sum(isinstance(e, KeyChanged) for e in self._keys.events))
        events += self._keys.events
        self._keys.events.clear()

    @staticmethod
    def _action_of(message: TLObject | None) -> TLObject | None:
        if message is None or message.name not in _SERVICE:
            return None
        action = message.fields["action"]
        return action if isinstance(action, TLObject) else None

    def _request_gap_fill(self, events: list[Event]) -> None:
        finish = min(self._pending) - 1
        if self._resend_end >= finish:
            return  # this hole was already asked for
        self._resend_end = finish
        action = make(
            "decryptedMessageActionResend",
            start_seq_no=2 * self._my_in + self._x,
            end_seq_no=2 * finish + self._x,
        )
        events.append(Send(self._seal_action(action)))

    def _resend(self, action: TLObject, events: list[Event]) -> None:
        start = int(action.start_seq_no) // 2
        end = int(action.end_seq_no) // 2
        if end < start:
            return
        if end - start + 1 > self._policy.max_resend:
            raise ChatAborted(AbortReason.RESEND_TOO_LARGE)
        packets = []
        for raw in range(start, end + 1):
            sent = self._sent.get(raw)
            if sent is None:
                raise ChatAborted(AbortReason.RESEND_UNSATISFIABLE)
            packets.append(sent)
        for sent in packets:
            events.append(Send(replace(sent, resend=True)))
        self._count("resent", len(packets))

    def _process(self, inbound: _Inbound, events: list[Event]) -> None:
        layer = inbound.layer
        in_seq = layer.in_seq_no // 2
        if in_seq < self._his_in:
            raise ChatAborted(AbortReason.IN_SEQ_NO_DECREASED)
        if in_seq > self._my_out:
            raise ChatAborted(AbortReason.IN_SEQ_NO_TOO_HIGH)
        if layer.layer < self._last_layer:
            raise ChatAborted(AbortReason.LAYER_DECREASED)
        self._my_in += 1
        self._last_layer = layer.layer
        if in_seq > self._his_in:
            self._his_in = in_seq
            for raw in [r for r in self._sent if r < in_seq]:
                del self._sent[raw]  # acknowledged: the peer will not ask again
        self._keys.on_processed_with(inbound.key)
        self._flush_key_events(events)
        self._count("received")

        message = layer.message
        if message is None:
            events.append(UnsupportedMessage(layer.layer, layer.out_seq_no, layer.raw_message))
            return
        action = self._action_of(message)
        if action is None:
            events.append(
                MessageReceived(
                    message, layer.layer, layer.in_seq_no, layer.out_seq_no, inbound.version
                )
            )
            return
        name = action.name
        if name == "decryptedMessageActionResend":
            self._resend(action, events)
        elif name == "decryptedMessageActionNotifyLayer":
            self._raise_peer_layer(int(action.layer), events)
        elif name == "decryptedMessageActionNoop":
            pass
        elif name == "decryptedMessageActionRequestKey":
            accept = self._keys.on_request(int(action.exchange_id), bytes(action.g_a))
            self._flush_key_events(events)
            if accept is not None:
                events.append(Send(self._seal_action(accept)))
        elif name == "decryptedMessageActionAcceptKey":
            commit = self._keys.on_accept(
                int(action.exchange_id), bytes(action.g_b), int(action.key_fingerprint)
            )
            events.append(Send(self._seal_action(commit)))  # under the old key
            self._keys.commit_sent()
            self._flush_key_events(events)
        elif name == "decryptedMessageActionCommitKey":
            self._keys.on_commit(int(action.exchange_id), int(action.key_fingerprint))
            self._flush_key_events(events)
            # Let the initiator drop its old key (api/end-to-end/pfs).
            events.append(Send(self._seal_action(make("decryptedMessageActionNoop"))))
        elif name == "decryptedMessageActionAbortKey":
            self._keys.on_abort(int(action.exchange_id))
            self._flush_key_events(events)
        else:
            events.append(ServiceReceived(action, _random_id_of(message)))


def _random_id_of(message: TLObject | None) -> int:
    value = message.fields.get("random_id", 0) if message is not None else 0
    return value if isinstance(value, int) else 0
