"""The client side of auth-key creation, as a sans-I/O state machine.

::

    hs = ClientHandshake(dc=2)              # Telegram's production key by default
    packet = hs.start()                     # send it (the transport framing is yours)
    while packet is not None:
        packet = hs.receive(read_packet())  # the server's reply -> next packet, or None
    hs.result.auth_key, hs.result.server_salt, hs.result.time_offset

Packets are whole unencrypted MTProto messages (``auth_key_id = 0``, msg_id,
length, TL body), i.e. what goes inside a transport frame. Every check of
core.telegram.org/mtproto/auth_key and security_guidelines is made, in
tdlib's order, before anything depending on it is computed; any failure
raises :class:`~mtcrypt.errors.HandshakeError` whose ``check`` names it, and
leaves the machine in the ``failed`` state (start a new handshake).

The states, the inputs that move between them and the one transition table
are :class:`ClientState`, :class:`ClientInput` and :data:`CLIENT_TRANSITIONS`;
every state change is a lookup in that table. Calling a method in a state
with no transition for it raises :class:`~mtcrypt.errors.SessionError`
(``"<method>() called in state <state>"``) and changes nothing.

Randomness and time are constructor parameters; :meth:`ClientHandshake.start_with`
and :meth:`ClientHandshake.receive_with` are the deterministic twins that take
them per call, so recorded transcripts replay byte for byte. The bytes are
drawn from ``rng`` in this order:

* ``start``: nonce (16);
* on ``resPQ``: new_nonce (32); RSA_PAD padding (192 - len(data)) then a
  temp_key (32) per attempt; or, with ``rsa_scheme="legacy"``, padding
  (235 - len(data));
* on ``server_DH_params_ok`` and on ``dh_gen_retry``: b (256, drawn again
  while g^b is out of range), then the 0..15 padding bytes of
  ``client_DH_inner_data``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from enum import Enum, StrEnum

from .. import tl
from .._random import random_bytes
from .._state_machine import transitions
from .._validation import Clock, Rng, draw, is_int
from ..errors import HandshakeError, InvalidArgument, InvalidType, SessionError
from ..mtproto import AuthKey
from ._common import (
    # duplicates: deliberate -- both roles take the same steps from _common.
    HandshakeMachine,
    HandshakeResult,
    RsaScheme,
    aux_hash_as_retry_id,
    dh_params_fail_hash,
    dh_value,
    equal,
    int_from_be,
    int_to_be,
    is_minimal_be,
    new_nonce_hash,
    open_inner,
    pack,
    parse,
    seal_inner,
    server_salt,
    tmp_aes_key_iv,
    unpack,
)
from .dh import DhPrimeCache, check_dh_params, generate_dh_exponent, modexp
from .pq import factorize_pq, is_prime_u64
from .rsa import TELEGRAM_PRODUCTION_KEYS, RsaPublicKey, rsa_legacy_encrypt, rsa_pad_encrypt

__all__ = ["CLIENT_TRANSITIONS", "ClientHandshake", "ClientInput", "ClientState"]


class ClientState(StrEnum):
    """Where a :class:`ClientHandshake` is. The members are the strings the
    states always were (``hs.state == "done"`` holds)."""

    NEW = "new"
    WAIT_RES_PQ = "wait_res_pq"  # req_pq_multi sent
    WAIT_DH_PARAMS = "wait_dh_params"  # req_DH_params sent
    WAIT_DH_GEN = "wait_dh_gen"  # set_client_DH_params sent
    DONE = "done"
    FAILED = "failed"


class ClientInput(Enum):
    """What can happen to a :class:`ClientHandshake`: :meth:`~ClientHandshake.start`,
    or the server's packet given to :meth:`~ClientHandshake.receive`, as its checks
    classify it. A packet is one of the message inputs only in the state that
    awaits that message; anywhere else it fails a check (``CHECK_FAILED``)."""

    START = "start(): req_pq_multi sent"
    RES_PQ = "a resPQ that passes every check (req_DH_params sent)"
    DH_PARAMS_OK = "a server_DH_params_ok that passes every check (set_client_DH_params sent)"
    DH_PARAMS_FAIL = "an authentic server_DH_params_fail"
    DH_GEN_OK = "an authentic dh_gen_ok: the key exists"
    DH_GEN_RETRY = "an authentic dh_gen_retry within max_retries (set_client_DH_params sent again)"
    TOO_MANY_RETRIES = "an authentic dh_gen_retry beyond max_retries"
    DH_GEN_FAIL = "an authentic dh_gen_fail"
    CHECK_FAILED = "any other HandshakeError: a failed check or a message not awaited"


_S, _I = ClientState, ClientInput
CLIENT_TRANSITIONS = transitions(
    {
        _S.NEW: {_I.START: _S.WAIT_RES_PQ},
        _S.WAIT_RES_PQ: {_I.RES_PQ: _S.WAIT_DH_PARAMS, _I.CHECK_FAILED: _S.FAILED},
        _S.WAIT_DH_PARAMS: {
            _I.DH_PARAMS_OK: _S.WAIT_DH_GEN,
            _I.DH_PARAMS_FAIL: _S.FAILED,
            _I.CHECK_FAILED: _S.FAILED,
        },
        _S.WAIT_DH_GEN: {
            _I.DH_GEN_OK: _S.DONE,
            _I.DH_GEN_RETRY: _S.WAIT_DH_GEN,
            _I.TOO_MANY_RETRIES: _S.FAILED,
            _I.DH_GEN_FAIL: _S.FAILED,
            _I.CHECK_FAILED: _S.FAILED,
        },
    }
)
"""Every allowed (state, input) -> next state of a :class:`ClientHandshake`;
any other pair is refused (``SessionError``, the state unchanged)."""

# The states in which receive() may be called: those some packet can move on from.
_RECEIVING = frozenset(state for state, event in CLIENT_TRANSITIONS if event is not _I.START)

_DH_GEN = ("dh_gen_ok", "dh_gen_retry", "dh_gen_fail")


class ClientHandshake(HandshakeMachine[ClientState, ClientInput]):
    """Create an auth key with a server (sans-I/O).

    :param dc: the DC id written into ``p_q_inner_data_dc`` /
        ``p_q_inner_data_temp_dc`` (+10000 for test DCs, negative for media
        DCs). ``None`` sends the legacy constructors without a dc (only for
        old servers and transcript replay).
    :param public_keys: the server keys trusted; the first fingerprint in the
        server's ``resPQ`` list that matches one of them is used. Defaults to
        Telegram's production key (see :data:`~mtcrypt.handshake.rsa.TELEGRAM_TEST_KEYS`).
    :param expires_in: create a temporary (PFS) key valid this many seconds
        (``p_q_inner_data_temp_dc``); ``None`` for a permanent key.
    :param rsa_scheme: ``"rsa_pad"`` (the spec; default) or ``"legacy"`` (the
        old SHA-1 padding; for testing servers and replaying old transcripts).
    :param max_retries: ``dh_gen_retry`` answers accepted before giving up.
    :param prime_cache: where proven-safe DH primes are remembered.
    :param rng: random bytes (``rng(n)``); the OS CSPRNG by default.
    :param clock: Unix time in seconds; ``time.time`` by default.
    """

    _transitions = CLIENT_TRANSITIONS

    def __init__(
        self,
        *,
        dc: int | None,
        public_keys: Iterable[RsaPublicKey] = TELEGRAM_PRODUCTION_KEYS,
        expires_in: int | None = None,
        rsa_scheme: RsaScheme = "rsa_pad",
        max_retries: int = 5,
        prime_cache: DhPrimeCache | None = None,
        rng: Rng = random_bytes,
        clock: Clock = time.time,
    ) -> None:
        if dc is not None and (not is_int(dc) or not -(1 << 31) <= dc < 1 << 31):
            raise InvalidArgument("dc must be an int32 or None")
        if expires_in is not None and (not is_int(expires_in) or not 0 < expires_in < 1 << 31):
            raise InvalidArgument("expires_in must be a positive int32 or None")
        if rsa_scheme not in ("rsa_pad", "legacy"):
            raise InvalidArgument("rsa_scheme must be 'rsa_pad' or 'legacy'")
        if not is_int(max_retries) or max_retries < 0:
            raise InvalidArgument("max_retries must be a non-negative int")
        keys: dict[int, RsaPublicKey] = {}
        for key in public_keys:
            if not isinstance(key, RsaPublicKey):
                raise InvalidType("public_keys must hold RsaPublicKey objects")
            keys.setdefault(key.fingerprint, key)
        if not keys:
            raise InvalidArgument("at least one public key is needed")
        self._keys = keys
        self._dc = dc
        self._expires_in = expires_in
        self._scheme: RsaScheme = rsa_scheme
        self._max_retries = max_retries
        self._cache = prime_cache
        super().__init__(ClientState.NEW, low_bits=0, rng=rng, clock=clock)
        # Handshake secrets and values, filled in as the steps run.
        self._new_nonce = b""
        self._tmp_key = b""
        self._tmp_iv = b""
        self._inner_name = ""
        self._dh_prime = 0
        self._g = 0
        self._g_a = 0
        self._server_time = 0
        self._time_offset = 0
        self._auth_key: AuthKey | None = None
        self._retry_id = 0
        self._retries = 0
        self._fingerprint = 0

    # -- public surface (and the inherited ``state``, ``done``, ``result``) --

    @property
    def fingerprint(self) -> int | None:
        """The fingerprint of the server key chosen (after ``resPQ``)."""
        before_res_pq = self._state in (ClientState.NEW, ClientState.WAIT_RES_PQ)
        return None if before_res_pq else self._fingerprint

    def start(self) -> bytes:
        """The first packet: ``req_pq_multi`` with a fresh nonce."""
        return self.start_with(self._rng, self._clock())

    def start_with(self, rng: Rng, now: float) -> bytes:
        """:meth:`start` with the randomness and time given (deterministic twin)."""
        self._next(ClientInput.START)  # refused before any randomness is drawn
        self._nonce = draw(rng, 16)
        self._advance(ClientInput.START)
        return pack(self._msg_ids.next(now), tl.make("req_pq_multi", nonce=self._nonce))

    def receive(self, packet: bytes) -> bytes | None:
        """Process the server's packet; return the next packet to send, or
        ``None`` once the key exists (then read :attr:`result`)."""
        return self.receive_with(packet, self._rng, self._clock())

    def receive_with(self, packet: bytes, rng: Rng, now: float) -> bytes | None:
        """:meth:`receive` with the randomness and time given (deterministic twin)."""
        state = self._state
        if state not in _RECEIVING:
            raise _wrong_state("receive", state)
        try:
            _, body = unpack(packet, from_server=True)
            if state is ClientState.WAIT_RES_PQ:
                return self._on_res_pq(body, rng, now)
            if state is ClientState.WAIT_DH_PARAMS:
                return self._on_dh_params(body, rng, now)
            return self._on_dh_gen(body, rng, now)
        except HandshakeError:
            if self._state is not ClientState.FAILED:  # not failed already by the server's refusal
                self._fail(ClientInput.CHECK_FAILED)
            raise

    # -- state ------------------------------------------------------------

    def _refusal(self, event: ClientInput) -> SessionError:
        return _wrong_state("start" if event is ClientInput.START else "receive", self._state)

    def _fail(self, event: ClientInput) -> None:
        self._advance(event)
        self._new_nonce = self._tmp_key = self._tmp_iv = b""
        self._auth_key = None

    def _refused(self, event: ClientInput, check: str, detail: str) -> HandshakeError:
        """The server's own refusal (``event``): fail, and the error to raise."""
        self._fail(event)
        return HandshakeError(check, detail)

    # -- steps ------------------------------------------------------------

    def _check_nonces(self, obj: tl.TLObject) -> None:
        if not equal(obj.nonce, self._nonce):
            raise HandshakeError("nonce", f"{obj.name}.nonce differs from ours")
        if not equal(obj.server_nonce, self._server_nonce):
            raise HandshakeError("server_nonce", f"{obj.name}.server_nonce differs from resPQ")

    def _on_res_pq(self, body: bytes, rng: Rng, now: float) -> bytes:
        res = parse(body, ("resPQ",), "resPQ")
        if not equal(res.nonce, self._nonce):
            raise HandshakeError("nonce", "resPQ.nonce differs from ours")
        self._server_nonce = res.server_nonce
        pq_bytes: bytes = res.pq
        if not is_minimal_be(pq_bytes) or len(pq_bytes) > 8:
            raise HandshakeError("pq", "pq must be a minimal big-endian number below 2^64")
        pq = int_from_be(pq_bytes)
        try:
            p, q = factorize_pq(pq)
        except InvalidArgument:
            raise HandshakeError("pq", "pq is not composite") from None
        if p == q or p < 3 or not is_prime_u64(p) or not is_prime_u64(q):
            raise HandshakeError("pq", "pq is not a product of two distinct odd primes")
        key = next(
            (self._keys[fp] for fp in res.server_public_key_fingerprints if fp in self._keys), None
        )
        if key is None:
            raise HandshakeError("fingerprint", "the server offers no key we trust")
        self._fingerprint = key.fingerprint
        self._new_nonce = draw(rng, 32)
        fields: dict[str, object] = {
            "pq": pq_bytes,
            "p": int_to_be(p),
            "q": int_to_be(q),
            "new_nonce": self._new_nonce,
        }
        name = "p_q_inner_data"
        if self._expires_in is not None:
            name += "_temp"
            fields["expires_in"] = self._expires_in
        if self._dc is not None:
            name += "_dc"
            fields["dc"] = self._dc
        self._inner_name = name
        data = tl.serialize(self._message(name, **fields))
        if self._scheme == "rsa_pad":
            encrypted = rsa_pad_encrypt(data, key, rng=rng)
        else:
            encrypted = rsa_legacy_encrypt(data, key, rng=rng)
        request = self._message(
            "req_DH_params",
            p=int_to_be(p),
            q=int_to_be(q),
            public_key_fingerprint=key.fingerprint,
            encrypted_data=encrypted,
        )
        self._advance(ClientInput.RES_PQ)
        return pack(self._msg_ids.next(now), request)

    def _on_dh_params(self, body: bytes, rng: Rng, now: float) -> bytes:
        obj = parse(body, ("server_DH_params_ok", "server_DH_params_fail"), "server_DH_params")
        self._check_nonces(obj)
        if obj.name == "server_DH_params_fail":
            if not equal(obj.new_nonce_hash, dh_params_fail_hash(self._new_nonce)):
                raise HandshakeError("new_nonce_hash", "server_DH_params_fail hash mismatch")
            raise self._refused(
                ClientInput.DH_PARAMS_FAIL,
                "server_DH_params_fail",
                "the server refused the DH exchange",
            )
        encrypted: bytes = obj.encrypted_answer
        if not encrypted or len(encrypted) % 16:
            raise HandshakeError("encrypted_answer", "length is not a positive multiple of 16")
        self._tmp_key, self._tmp_iv = tmp_aes_key_iv(self._server_nonce, self._new_nonce)
        inner = open_inner(
            encrypted, self._tmp_key, self._tmp_iv, "server_DH_inner_data", "answer", "answer"
        )
        self._check_nonces(inner)
        prime_bytes: bytes = inner.dh_prime
        if len(prime_bytes) != 256:
            raise HandshakeError("dh_prime", "not 256 bytes")
        dh_prime = int_from_be(prime_bytes)
        check_dh_params(inner.g, dh_prime, cache=self._cache)
        g_a = dh_value(inner.g_a, dh_prime, "g_a")
        self._dh_prime, self._g, self._g_a = dh_prime, inner.g, g_a
        self._server_time = inner.server_time
        self._time_offset = inner.server_time - int(now)
        self._advance(ClientInput.DH_PARAMS_OK)
        return self._set_client_dh_params(rng, now)

    def _set_client_dh_params(self, rng: Rng, now: float) -> bytes:
        b, g_b = generate_dh_exponent(self._g, self._dh_prime, rng, name="g_b")
        self._auth_key = AuthKey.from_int(modexp(self._g_a, b, self._dh_prime))
        data = tl.serialize(
            self._message("client_DH_inner_data", retry_id=self._retry_id, g_b=int_to_be(g_b))
        )
        request = self._message(
            "set_client_DH_params",
            encrypted_data=seal_inner(data, self._tmp_key, self._tmp_iv, rng),
        )
        return pack(self._msg_ids.next(now + self._time_offset), request)

    def _on_dh_gen(self, body: bytes, rng: Rng, now: float) -> bytes | None:
        obj = parse(body, _DH_GEN, "dh_gen")
        self._check_nonces(obj)
        key = self._auth_key
        assert key is not None
        number = _DH_GEN.index(obj.name) + 1
        received: bytes = obj[f"new_nonce_hash{number}"]  # type: ignore[assignment]
        if not equal(received, new_nonce_hash(self._new_nonce, number, key.aux_hash)):
            raise HandshakeError("new_nonce_hash", f"{obj.name}.new_nonce_hash{number} mismatch")
        if obj.name == "dh_gen_fail":
            raise self._refused(
                ClientInput.DH_GEN_FAIL, "dh_gen_fail", "the server rejected the key"
            )
        if obj.name == "dh_gen_retry":
            if self._retries >= self._max_retries:
                raise self._refused(
                    ClientInput.TOO_MANY_RETRIES, "dh_gen_retry", "too many retries"
                )
            self._retries += 1
            self._retry_id = aux_hash_as_retry_id(key.aux_hash)
            self._advance(ClientInput.DH_GEN_RETRY)
            return self._set_client_dh_params(rng, now)
        self._result = HandshakeResult(
            auth_key=key,
            server_salt=server_salt(self._new_nonce, self._server_nonce),
            time_offset=self._time_offset,
            expires_at=(None if self._expires_in is None else self._server_time + self._expires_in),
            dc=self._dc,
            retries=self._retries,
            rsa_scheme=self._scheme,
            inner_data=self._inner_name,
        )
        self._advance(ClientInput.DH_GEN_OK)
        self._new_nonce = self._tmp_key = self._tmp_iv = b""
        return None

    def __repr__(self) -> str:
        return f"ClientHandshake(state={self._state.value!r}, dc={self._dc})"


def _wrong_state(method: str, state: ClientState) -> SessionError:
    """The one error for a call the state does not allow."""
    return SessionError(f"{method}() called in state {state.value}")
