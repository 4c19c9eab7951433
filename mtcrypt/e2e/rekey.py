"""Re-keying (perfect forward secrecy) of a secret chat, as a sans-I/O state machine.

core.telegram.org/api/end-to-end/pfs; behaviour matched with tdlib
(td/telegram/SecretChatActor.cpp ``on_inbound_action``/``on_outbound_action``).

A (initiator)                                  B
  requestKey(exchange_id, g_a)   ------->     checks g_a, computes the new key
                                 <-------     acceptKey(exchange_id, g_b, fingerprint)
  checks g_b and the fingerprint,
  commitKey(exchange_id, fingerprint) ---->   checks the fingerprint
  (sent under the old key, then switches)      and switches
  keeps the old key until a message     <----  noop (under the new key)
  under the new key is processed

Every transition is in :data:`TRANSITIONS`; any (state, input) pair not in it
aborts the chat (``REKEY_UNEXPECTED``). Concurrent requests: the exchange with
the smaller ``exchange_id`` (signed int64) is abandoned without an
``abortKey``; equal ids abandon both. B switches on ``commitKey`` or on the
first message it decrypts with the new key, whichever comes first; the old key
is dropped once no message encrypted with it can still be missing:
immediately when B processes ``commitKey`` (messages are processed in order,
so nothing before it is missing), and for A when it processes the first
message from B under the new key. A new exchange never starts while another
is open or an old key is still held.

Python cannot erase immutable ``bytes``: "discarding" a key drops every
reference this object holds to it.
"""

from __future__ import annotations

import hmac
import struct
from enum import Enum

from .._state_machine import step, transitions
from .._validation import Clock, Rng, draw
from ..mtproto import AuthKey
from ..tl import TLObject
from .dh import DhConfig, compute_key, decode_dh_value, encode_dh_value
from .errors import AbortReason, ChatAborted, E2EError, KeyExchangeError
from .events import Event, KeyChanged, OldKeyDiscarded, RekeyAborted
from .tl import make

__all__ = ["TRANSITIONS", "RekeyInput", "RekeyState", "Rekeying"]


class RekeyState(Enum):
    """Where this side is in a re-keying exchange."""

    IDLE = "idle"
    REQUESTED = "requested"  # we sent requestKey, waiting for acceptKey
    ACCEPTED = "accepted"  # we sent acceptKey, waiting for commitKey


class RekeyInput(Enum):
    """What can happen to the machine."""

    LOCAL_REQUEST = "we send requestKey"
    PEER_REQUEST = "requestKey from the peer"
    PEER_REQUEST_LOSES = "requestKey with a smaller exchange_id than our open one"
    PEER_REQUEST_WINS = "requestKey with a larger exchange_id than our open one"
    PEER_REQUEST_TIE = "requestKey with the exchange_id of our open one"
    ACCEPT = "acceptKey for our exchange (commitKey sent)"
    COMMIT = "commitKey for the exchange we accepted"
    NEW_KEY_SEEN = "a message decrypted with the new key before commitKey"
    LATE_COMMIT = "commitKey after we switched on seeing the new key"
    ABORT = "abortKey for the open exchange"


# duplicates: deliberate -- enum then table, as each machine declares its own (the data differs).
_S, _I = RekeyState, RekeyInput
TRANSITIONS = transitions(
    {
        _S.IDLE: {
            _I.LOCAL_REQUEST: _S.REQUESTED,
            _I.PEER_REQUEST: _S.ACCEPTED,
            _I.LATE_COMMIT: _S.IDLE,
        },
        _S.REQUESTED: {
            _I.PEER_REQUEST_LOSES: _S.REQUESTED,
            _I.PEER_REQUEST_WINS: _S.ACCEPTED,
            _I.PEER_REQUEST_TIE: _S.IDLE,
            _I.ACCEPT: _S.IDLE,
            _I.ABORT: _S.IDLE,
        },
        _S.ACCEPTED: {_I.COMMIT: _S.IDLE, _I.NEW_KEY_SEEN: _S.IDLE, _I.ABORT: _S.IDLE},
    }
)
"""Every allowed (state, input) -> next state; anything else aborts the chat."""


def _unexpected(event: RekeyInput) -> ChatAborted:
    """The refusal of a (state, input) pair not in :data:`TRANSITIONS`: the chat aborts."""
    return ChatAborted(AbortReason.REKEY_UNEXPECTED)


def _random_long(rng: Rng) -> int:
    value: int = struct.unpack("<q", draw(rng, 8))[0]
    return value


class Rekeying:
    """The keys of one chat and its re-keying exchange.

    ``current`` encrypts; ``current`` and ``other`` (the previous key, or the
    new one while an exchange we accepted is open) decrypt. The chat calls the
    ``on_*`` methods for protocol actions processed in order, and
    :meth:`on_decrypted_with`/:meth:`on_processed_with` for every message;
    events accumulate in :attr:`events`.
    """

    def __init__(
        self,
        key: AuthKey,
        dh: DhConfig,
        *,
        rng: Rng,
        clock: Clock,
        max_messages: int = 100,
        max_age: float = 7 * 24 * 3600.0,
    ) -> None:
        self.current: AuthKey = key
        self.other: AuthKey | None = None
        self.can_forget_other = False
        self.state = RekeyState.IDLE
        self.exchange_id = 0
        self.events: list[Event] = []
        self.messages_with_current = 0
        self.encrypted_with_current = 0
        self._dh = dh
        self._rng = rng
        self._clock = clock
        self._max_messages = max_messages
        self._max_age = max_age
        self._exponent = 0
        self._awaiting_commit: int | None = None
        self._commit_ready = False
        self.key_since = clock()

    def __repr__(self) -> str:
        return f"Rekeying(state={self.state.name}, keys={1 + (self.other is not None)})"

    # -- state ------------------------------------------------------------------

    def _transition(self, event: RekeyInput) -> None:
        """The only place the state changes."""
        self.state = step(TRANSITIONS, self.state, event, _unexpected)

    def key_for(self, fingerprint: bytes) -> AuthKey | None:
        """The held key whose fingerprint (the packet's first 8 bytes) this is."""
        for key in (self.current, self.other):
            if key is not None and hmac.compare_digest(key.key_id_bytes, fingerprint):
                return key
        return None

    @property
    def can_request(self) -> bool:
        """No exchange is open (by either side) and no old key is still held."""
        return self.state is RekeyState.IDLE and self.other is None

    def due(self) -> bool:
        """The official clients' policy: more than ``max_messages`` messages
        encrypted or decrypted with the key, or older than ``max_age`` seconds,
        provided it encrypted at least one message."""
        if not self.can_request or self.encrypted_with_current < 1:
            return False
        return (
            self.messages_with_current > self._max_messages
            or self._clock() - self.key_since > self._max_age
        )

    def note_encrypted(self) -> None:
        self.encrypted_with_current += 1
        self.messages_with_current += 1

    def _switch(self, new: AuthKey, exchange_id: int) -> AuthKey:
        old = self.current
        self.current = new
        self.messages_with_current = 0
        self.encrypted_with_current = 0
        self.key_since = self._clock()
        self.events.append(KeyChanged(new.key_id, exchange_id))
        return old

    def _discard_other(self) -> None:
        if self.other is not None:
            self.events.append(OldKeyDiscarded(self.other.key_id))
        self.other = None
        self.can_forget_other = False

    def _new_key(self, public: bytes, exponent: int, name: str) -> AuthKey:
        try:
            value = decode_dh_value(public, self._dh.p, name)
        except KeyExchangeError:
            raise ChatAborted(AbortReason.REKEY_BAD_DH_VALUE) from None
        return compute_key(value, exponent, self._dh.p)

    # -- our side ---------------------------------------------------------------

    def request(self) -> TLObject:
        """Start an exchange: the ``requestKey`` action to send."""
        if not self.can_request:
            raise E2EError("a re-keying exchange is open or the old key is still held")
        a, g_a = self._dh.new_exponent(self._rng, "g_a")
        self._transition(RekeyInput.LOCAL_REQUEST)
        self._exponent = a
        self.exchange_id = _random_long(self._rng)
        return make(
            "decryptedMessageActionRequestKey",
            exchange_id=self.exchange_id,
            g_a=encode_dh_value(g_a),
        )

    def commit_sent(self) -> None:
        """The ``commitKey`` returned by :meth:`on_accept` has been encrypted
        (with the old key): switch to the new one."""
        if not self._commit_ready or self.other is None:
            raise E2EError("no commitKey is waiting to be sent")
        self._commit_ready = False
        self._transition(RekeyInput.ACCEPT)
        old = self._switch(self.other, self.exchange_id)
        self.other = old
        self.can_forget_other = True

    # -- the peer's actions -------------------------------------------------------

    def on_request(self, exchange_id: int, g_a: bytes) -> TLObject | None:
        """``requestKey`` from the peer: the ``acceptKey`` to send, or ``None``
        when the concurrent-exchange rule abandons theirs."""
        if self.state is RekeyState.REQUESTED:
            if self.exchange_id > exchange_id:
                self._transition(RekeyInput.PEER_REQUEST_LOSES)  # they will accept ours
                return None
            ours = self.exchange_id
            self._exponent = 0
            if self.exchange_id == exchange_id:
                self._transition(RekeyInput.PEER_REQUEST_TIE)  # both sides drop both
                self.events.append(RekeyAborted(ours))
                return None
            self._transition(RekeyInput.PEER_REQUEST_WINS)
            self.events.append(RekeyAborted(ours))
        elif self.state is RekeyState.IDLE and self.other is None:
            self._transition(RekeyInput.PEER_REQUEST)
        else:
            raise ChatAborted(AbortReason.REKEY_UNEXPECTED)
        b, g_b = self._dh.new_exponent(self._rng, "g_b")
        new = self._new_key(g_a, b, "g_a")
        self.exchange_id = exchange_id
        self.other = new
        self.can_forget_other = False
        return make(
            "decryptedMessageActionAcceptKey",
            exchange_id=exchange_id,
            g_b=encode_dh_value(g_b),
            key_fingerprint=new.key_id,
        )

    def on_accept(self, exchange_id: int, g_b: bytes, key_fingerprint: int) -> TLObject:
        """``acceptKey`` for our exchange: the ``commitKey`` to send (encrypt
        it, then call :meth:`commit_sent`)."""
        if self.state is not RekeyState.REQUESTED:
            raise ChatAborted(AbortReason.REKEY_UNEXPECTED)
        if exchange_id != self.exchange_id:
            raise ChatAborted(AbortReason.REKEY_EXCHANGE_MISMATCH)
        new = self._new_key(g_b, self._exponent, "g_b")
        self._exponent = 0
        if not hmac.compare_digest(new.key_id_bytes, struct.pack("<q", key_fingerprint)):
            raise ChatAborted(AbortReason.REKEY_FINGERPRINT_MISMATCH)
        self.other = new
        self.can_forget_other = False
        self._commit_ready = True
        return make(
            "decryptedMessageActionCommitKey", exchange_id=exchange_id, key_fingerprint=new.key_id
        )

    def on_commit(self, exchange_id: int, key_fingerprint: int) -> None:
        """``commitKey`` for the exchange we accepted: switch (if not done on
        seeing the new key) and drop the old key."""
        expected = struct.pack("<q", key_fingerprint)
        if self.state is RekeyState.ACCEPTED:
            if exchange_id != self.exchange_id:
                raise ChatAborted(AbortReason.REKEY_EXCHANGE_MISMATCH)
            if self.other is None or not hmac.compare_digest(self.other.key_id_bytes, expected):
                raise ChatAborted(AbortReason.REKEY_FINGERPRINT_MISMATCH)
            self._transition(RekeyInput.COMMIT)
            self.other = self._switch(self.other, exchange_id)
        elif self._awaiting_commit is not None and self.state is RekeyState.IDLE:
            if exchange_id != self._awaiting_commit:
                raise ChatAborted(AbortReason.REKEY_EXCHANGE_MISMATCH)
            if not hmac.compare_digest(self.current.key_id_bytes, expected):
                raise ChatAborted(AbortReason.REKEY_FINGERPRINT_MISMATCH)
            self._transition(RekeyInput.LATE_COMMIT)
            self._awaiting_commit = None
        else:
            raise ChatAborted(AbortReason.REKEY_UNEXPECTED)
        # commitKey is processed in order, so no message under the old key
        # can still be missing: the old key goes now.
        self._discard_other()

    def on_abort(self, exchange_id: int) -> None:
        """``abortKey``: ends the open exchange if it is the one named (as
        tdlib, an ``abortKey`` for another exchange is ignored)."""
        if self.state is RekeyState.IDLE or exchange_id != self.exchange_id:
            return
        was_accepted = self.state is RekeyState.ACCEPTED
        self._transition(RekeyInput.ABORT)
        self._exponent = 0
        self._commit_ready = False
        if was_accepted:
            self.other = None  # the new key we computed is abandoned
        self.events.append(RekeyAborted(exchange_id))

    # -- every message ---------------------------------------------------------------

    def on_decrypted_with(self, key: AuthKey) -> None:
        """A message decrypted (before it is processed): B switches on the
        first message encrypted with the new key (api/end-to-end/pfs, step 4)."""
        if self.state is RekeyState.ACCEPTED and key is self.other:
            self._transition(RekeyInput.NEW_KEY_SEEN)
            self._awaiting_commit = self.exchange_id
            self.other = self._switch(key, self.exchange_id)
            self.can_forget_other = False  # until commitKey is processed

    def on_processed_with(self, key: AuthKey) -> None:
        """A message processed in order: A drops the old key on the first one
        encrypted with the new key."""
        if key is self.current:
            self.messages_with_current += 1
            if self.other is not None and self.can_forget_other:
                self._discard_other()
