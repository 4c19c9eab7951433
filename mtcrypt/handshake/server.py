"""The server side of auth-key creation, as a sans-I/O state machine.

::

    server = ServerHandshake(private_key)
    while not server.done:
        send(server.receive(read_packet()))  # every client packet gets an answer
    server.result.auth_key, server.result.rsa_scheme

One :class:`ServerHandshake` serves one handshake. It accepts ``req_pq`` and
``req_pq_multi``, all four ``p_q_inner_data`` constructors, RSA_PAD and the
legacy ``SHA1(data)+data+random`` padding (Telethon and Pyrogram send it;
``result.rsa_scheme`` records which was used), and checks everything the
client sends: nonces in the clear and inside the encrypted parts, p and q
(minimal big-endian, p < q, equal to ours), the key fingerprint, the RSA
padding, the SHA-1 and padding of ``client_DH_inner_data``, ``retry_id``
and the range of ``g_b``. A failed check raises
:class:`~mtcrypt.errors.HandshakeError` naming it; a real server then
answers with transport error -404 and closes the connection.

The legacy padding is checked without parsing the decrypted block: the
server knows every field of the ``p_q_inner_data*`` it expects except
``new_nonce`` (and ``dc``, ``expires_in``), so it builds the four candidates
and checks the block against all of them in constant time, in C
(:func:`~mtcrypt.handshake.rsa.rsa_legacy_match`). Parsing the block to find
the data length was the server-side timing oracle of Albrecht, Mareková,
Paterson and Stepanovs (IEEE S&P 2022). A legacy block whose pq, p, q, nonce
or server_nonce is not ours therefore fails as ``rsa_padding``.

A request byte-identical to the previous one gets the previous answer again
(the spec's retransmission rule), even after the handshake completed; it is
answered from that copy and is no input of the state machine.

The states, the inputs that move between them and the one transition table
are :class:`ServerState`, :class:`ServerInput` and :data:`SERVER_TRANSITIONS`;
every state change is a lookup in that table. ``receive()`` in a state with
no transition (other than a retransmission) is refused and changes nothing:
with :class:`~mtcrypt.errors.SessionError` once failed, with
:class:`~mtcrypt.errors.HandshakeError` (``unexpected_message``) once done,
both ``"receive() called in state <state>"``.

``decide`` chooses between ``dh_gen_ok``, ``dh_gen_retry`` (a real server
uses it when the new key's id collides with an existing key) and
``dh_gen_fail``; ``fail_dh_params=True`` answers ``req_DH_params`` with
``server_DH_params_fail``. Both exist mostly for tests.

Randomness is drawn in this order: on ``req_pq*``: server_nonce (16), then
4 bytes per prime candidate for p and q; on ``req_DH_params``: a (256, drawn
again while g^a is out of range), then the 0..15 padding bytes of the
answer. :meth:`ServerHandshake.receive_with` is the deterministic twin.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from enum import Enum, StrEnum
from typing import Literal

from .. import tl
from .._random import random_bytes
from .._state_machine import transitions
from .._validation import Clock, Rng, draw, is_int
from ..errors import HandshakeError, InvalidArgument, InvalidType, MtcryptError, SessionError
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
    int_to_be,
    new_nonce_hash,
    open_inner,
    pack,
    parse,
    parse_prefix,
    seal_inner,
    server_salt,
    tmp_aes_key_iv,
    unpack,
)
from .dh import (
    TELEGRAM_DH_G,
    TELEGRAM_DH_PRIME,
    check_dh_params,
    generate_dh_exponent,
    modexp,
)
from .pq import is_prime_u64
from .rsa import LegacyTemplate, RsaPrivateKey, decrypt_block, rsa_legacy_match, rsa_pad_unpad

__all__ = [
    "SERVER_TRANSITIONS",
    "DhGenAnswer",
    "ServerHandshake",
    "ServerInput",
    "ServerState",
    "generate_pq",
]


class ServerState(StrEnum):
    """Where a :class:`ServerHandshake` is. The members are the strings the
    states always were (``hs.state == "done"`` holds)."""

    WAIT_REQ_PQ = "wait_req_pq"
    WAIT_REQ_DH_PARAMS = "wait_req_dh_params"  # resPQ answered
    WAIT_CLIENT_DH = "wait_client_dh"  # server_DH_params_ok (or dh_gen_retry) answered
    DONE = "done"
    FAILED = "failed"


class ServerInput(Enum):
    """What can happen to a :class:`ServerHandshake`: the client's packet, as
    its checks (and ``fail_dh_params``, ``decide``) classify it. A packet is
    one of the message inputs only in the state that awaits that message;
    anywhere else it fails a check (``CHECK_FAILED``)."""

    REQ_PQ = "req_pq_multi or req_pq (resPQ answered)"
    REQ_DH_PARAMS = "a req_DH_params that passes every check (server_DH_params_ok answered)"
    REQ_DH_PARAMS_REFUSED = "the same with fail_dh_params=True (server_DH_params_fail answered)"
    CLIENT_DH_OK = "a set_client_DH_params that passes every check, decide() ok (dh_gen_ok)"
    CLIENT_DH_RETRY = "the same, decide() retry with retries left (dh_gen_retry answered)"
    CLIENT_DH_FAIL = "the same, decide() fail, or retry with none left (dh_gen_fail answered)"
    CHECK_FAILED = "a HandshakeError: a failed check or a message not awaited"


# duplicates: deliberate -- enum then table, as each machine declares its own (the data differs).
_S, _I = ServerState, ServerInput
SERVER_TRANSITIONS = transitions(
    {
        _S.WAIT_REQ_PQ: {_I.REQ_PQ: _S.WAIT_REQ_DH_PARAMS, _I.CHECK_FAILED: _S.FAILED},
        _S.WAIT_REQ_DH_PARAMS: {
            _I.REQ_DH_PARAMS: _S.WAIT_CLIENT_DH,
            _I.REQ_DH_PARAMS_REFUSED: _S.FAILED,
            _I.CHECK_FAILED: _S.FAILED,
        },
        _S.WAIT_CLIENT_DH: {
            _I.CLIENT_DH_OK: _S.DONE,
            _I.CLIENT_DH_RETRY: _S.WAIT_CLIENT_DH,
            _I.CLIENT_DH_FAIL: _S.FAILED,
            _I.CHECK_FAILED: _S.FAILED,
        },
    }
)
"""Every allowed (state, input) -> next state of a :class:`ServerHandshake`;
any other pair is refused (the state unchanged): ``HandshakeError``
(``unexpected_message``) once done, ``SessionError`` otherwise."""

DhGenAnswer = Literal["ok", "retry", "fail"]

_INNER = ("p_q_inner_data", "p_q_inner_data_dc", "p_q_inner_data_temp", "p_q_inner_data_temp_dc")
# The int fields of each that the server cannot know in advance (new_nonce aside).
_FREE_INTS: dict[str, tuple[str, ...]] = {
    "p_q_inner_data": (),
    "p_q_inner_data_dc": ("dc",),
    "p_q_inner_data_temp": ("expires_in",),
    "p_q_inner_data_temp_dc": ("dc", "expires_in"),
}


@functools.lru_cache(maxsize=64)
def _legacy_mask(name: str, pq_len: int, p_len: int, q_len: int) -> bytes:
    """The mask of a legacy template: 0xff where ``name``'s bytes are known, 0
    in its free fields.  It depends on the layout alone (the string lengths),
    so it is computed once per layout: serialized with the free fields all
    zeros and all ones, the candidate differs exactly in its free bytes."""
    known: dict[str, object] = {
        "pq": bytes(pq_len),
        "p": bytes(p_len),
        "q": bytes(q_len),
        "nonce": bytes(16),
        "server_nonce": bytes(16),
    }
    free_ints = _FREE_INTS[name]
    zeros = tl.serialize(tl.make(name, **known, new_nonce=bytes(32), **dict.fromkeys(free_ints, 0)))
    ones = tl.serialize(
        tl.make(name, **known, new_nonce=b"\xff" * 32, **dict.fromkeys(free_ints, -1))
    )
    return bytes(0xFF if a == b else 0 for a, b in zip(zeros, ones, strict=True))


# pq below 2^63 as the spec says; p, q above 2^30 so that 4-byte encodings
# (Pyrogram writes p and q with to_bytes(4)) are minimal.
_PQ_LOW = 1 << 30
_PQ_HIGH = 3037000499  # isqrt(2^63 - 1)


def _random_prime(rng: Rng) -> int:
    while True:
        n = _PQ_LOW + int.from_bytes(draw(rng, 4), "big") % (_PQ_HIGH - _PQ_LOW)
        n |= 1
        if n <= _PQ_HIGH and is_prime_u64(n):
            return n


def generate_pq(rng: Rng = random_bytes) -> tuple[int, int]:
    """Two distinct primes ``p < q`` in ``[2^30, 2^31.5)``, so ``pq < 2^63``."""
    p = _random_prime(rng)
    q = _random_prime(rng)
    while q == p:
        q = _random_prime(rng)
    return (p, q) if p < q else (q, p)


class ServerHandshake(HandshakeMachine[ServerState, ServerInput]):
    """Answer one client's auth-key creation (sans-I/O).

    :param private_keys: the server's RSA key(s); every fingerprint is listed
        in ``resPQ``.
    :param dh_prime: the DH prime (checked to be a safe prime with ``g``);
        Telegram's by default (Pyrogram accepts no other).
    :param g: the generator (3 by default, as Telegram).
    :param dc: if given, the ``dc`` in ``p_q_inner_data_*dc`` must name it (``dc``,
        or ``-dc`` for its media form); a test DC (+10000) or another DC fails
        with the check ``dc`` (answered with transport error -444).
    :param accept_legacy_rsa: accept the legacy SHA-1 RSA padding (default
        ``True``: Telethon and Pyrogram need it).
    :param accept_temp_keys: accept ``p_q_inner_data_temp*`` (default ``True``).
    :param max_expires_in: the longest temporary key lifetime accepted.
    :param decide: called with the new key and the attempt number (0 first);
        returns ``"ok"``, ``"retry"`` or ``"fail"``. Default: always ``"ok"``.
    :param max_retries: ``dh_gen_retry`` answers before ``dh_gen_fail``.
    :param fail_dh_params: answer ``req_DH_params`` with ``server_DH_params_fail``.
    :param rng: random bytes; the OS CSPRNG by default. Seed it for tests.
    :param clock: Unix time in seconds (``server_time`` and message ids).
    """

    _transitions = SERVER_TRANSITIONS

    def __init__(
        self,
        private_keys: RsaPrivateKey | Iterable[RsaPrivateKey],
        *,
        dh_prime: int = TELEGRAM_DH_PRIME,
        g: int = TELEGRAM_DH_G,
        dc: int | None = None,
        accept_legacy_rsa: bool = True,
        accept_temp_keys: bool = True,
        max_expires_in: int = 1 << 31,
        decide: Callable[[AuthKey, int], DhGenAnswer] | None = None,
        max_retries: int = 5,
        fail_dh_params: bool = False,
        rng: Rng = random_bytes,
        clock: Clock = time.time,
    ) -> None:
        keys = [private_keys] if isinstance(private_keys, RsaPrivateKey) else list(private_keys)
        if not keys:
            raise InvalidArgument("at least one private key is needed")
        for key in keys:
            if not isinstance(key, RsaPrivateKey):
                raise InvalidType("private_keys must hold RsaPrivateKey objects")
        try:
            check_dh_params(g, dh_prime)
        except HandshakeError as exc:
            raise InvalidArgument(f"bad DH parameters: {exc.check}") from None
        if not is_int(max_retries) or max_retries < 0:
            raise InvalidArgument("max_retries must be a non-negative int")
        # duplicates: deliberate -- the constructor's arguments, stored one per line.
        self._keys = {key.fingerprint: key for key in keys}
        self._dh_prime = dh_prime
        self._g = g
        self._dc = dc
        self._accept_legacy = accept_legacy_rsa
        self._accept_temp = accept_temp_keys
        self._max_expires_in = max_expires_in
        self._decide = decide
        self._max_retries = max_retries
        self._fail_dh_params = fail_dh_params
        super().__init__(ServerState.WAIT_REQ_PQ, low_bits=1, rng=rng, clock=clock)
        self._last: tuple[bytes, bytes] | None = None
        self._new_nonce = b""
        self._p = self._q = 0
        self._pq = b""
        self._a = 0
        self._tmp_key = self._tmp_iv = b""
        self._server_time = 0
        self._inner: tl.TLObject | None = None
        self._scheme: RsaScheme = "rsa_pad"
        self._retry_id = 0
        self._attempt = 0
        self._request = ""

    # -- public surface (and the inherited ``state``, ``done``, ``result``) --

    @property
    def request_name(self) -> str:
        """``req_pq_multi`` or ``req_pq`` (the legacy first request), once received."""
        return self._request

    def receive(self, packet: bytes) -> bytes:
        """Process a client packet and return the answer to send."""
        return self.receive_with(packet, self._rng, self._clock())

    def receive_with(self, packet: bytes, rng: Rng, now: float) -> bytes:
        """:meth:`receive` with the randomness and time given (deterministic twin)."""
        if self._state is ServerState.FAILED:
            raise self._wrong_state()
        try:
            _, body = unpack(packet, from_server=False)
            if self._last is not None and body == self._last[0]:
                return self._last[1]  # a retransmission gets the same answer
            state = self._state
            if state is ServerState.WAIT_REQ_PQ:
                answer = self._on_req_pq(body, rng)
            elif state is ServerState.WAIT_REQ_DH_PARAMS:
                answer = self._on_req_dh_params(body, rng, now)
            elif state is ServerState.WAIT_CLIENT_DH:
                answer = self._on_client_dh(body)
            else:
                raise self._wrong_state()
        except HandshakeError:
            if self._state is not ServerState.DONE:  # junk after completion does not undo the key
                self._fail(ServerInput.CHECK_FAILED)
            raise
        packet_out = pack(self._msg_ids.next(now), answer)
        self._last = (body, packet_out)
        if self.state is ServerState.FAILED:  # (the step may have moved it there)
            self._last = None
        return packet_out

    # -- state ------------------------------------------------------------

    def _wrong_state(self) -> MtcryptError:
        """The one error for receive() in a state that allows no such input:
        once done, ``HandshakeError("unexpected_message")`` (the server
        answers the client, the key stays); otherwise the wrong-state
        :class:`~mtcrypt.errors.SessionError`."""
        message = f"receive() called in state {self._state.value}"
        if self._state is ServerState.DONE:
            return HandshakeError("unexpected_message", message)
        return SessionError(message)

    def _refusal(self, event: ServerInput) -> MtcryptError:
        return self._wrong_state()

    def _fail(self, event: ServerInput) -> None:
        self._advance(event)
        self._a = 0
        self._new_nonce = self._tmp_key = self._tmp_iv = b""
        self._last = None

    def _check_nonces(self, obj: tl.TLObject) -> None:
        if not equal(obj.nonce, self._nonce):
            raise HandshakeError("nonce", f"{obj.name}.nonce differs")
        if not equal(obj.server_nonce, self._server_nonce):
            raise HandshakeError("server_nonce", f"{obj.name}.server_nonce differs")

    def _on_req_pq(self, body: bytes, rng: Rng) -> tl.TLObject:
        req = parse(body, ("req_pq_multi", "req_pq"), "req_pq")
        self._request = req.name
        self._nonce = req.nonce
        self._server_nonce = draw(rng, 16)
        self._p, self._q = generate_pq(rng)
        self._pq = int_to_be(self._p * self._q)
        self._advance(ServerInput.REQ_PQ)
        return self._message("resPQ", pq=self._pq, server_public_key_fingerprints=list(self._keys))

    def _legacy_templates(self) -> list[LegacyTemplate]:
        """The four ``p_q_inner_data*`` a legacy client may have encrypted.

        Every field is ours except ``new_nonce`` (and ``dc``, ``expires_in``):
        the constructor, pq, p and q (minimal big-endian, the only encoding
        accepted anyway), nonce and server_nonce. So each candidate's length
        and all but those bytes are known before the block is looked at.
        """
        p, q = int_to_be(self._p), int_to_be(self._q)
        known: dict[str, object] = {
            "pq": self._pq,
            "p": p,
            "q": q,
            "nonce": self._nonce,
            "server_nonce": self._server_nonce,
        }
        lengths = (len(self._pq), len(p), len(q))
        templates = []
        for name in _INNER:
            zeros = tl.serialize(
                tl.make(name, **known, new_nonce=bytes(32), **dict.fromkeys(_FREE_INTS[name], 0))
            )
            templates.append(LegacyTemplate(zeros, _legacy_mask(name, *lengths)))
        return templates

    def _open_inner(self, key: RsaPrivateKey, encrypted: bytes) -> tl.TLObject:
        block = decrypt_block(encrypted, key)
        # Both paddings are checked on every block before either verdict is
        # used, so the time spent does not depend on which one (if any) holds.
        # The legacy check is constant time in C against templates of what we
        # expect (no TL parsing of unauthenticated bytes); only a block that
        # passed is parsed.
        padded = rsa_pad_unpad(block)
        legacy = rsa_legacy_match(block, self._legacy_templates()) if self._accept_legacy else None
        if padded is not None:
            inner, _ = parse_prefix(padded, _INNER, "p_q_inner_data")
            self._scheme = "rsa_pad"
            return inner
        if legacy is not None:
            index, data = legacy
            inner, length = parse_prefix(data, (_INNER[index],), "p_q_inner_data")
            if length != len(data):  # pragma: no cover - the template fixed the layout
                raise HandshakeError("p_q_inner_data", "trailing bytes in the legacy data")
            self._scheme = "legacy"
            return inner
        raise HandshakeError("rsa_padding", "neither RSA_PAD nor the legacy padding verifies")

    def _on_req_dh_params(self, body: bytes, rng: Rng, now: float) -> tl.TLObject:
        req = parse(body, ("req_DH_params",), "req_DH_params")
        self._check_nonces(req)
        p_bytes, q_bytes = int_to_be(self._p), int_to_be(self._q)
        if not (equal(req.p, p_bytes) and equal(req.q, q_bytes)):
            raise HandshakeError("p_q", "p and q are not our factors (minimal, p < q)")
        key = self._keys.get(req.public_key_fingerprint)
        if key is None:
            raise HandshakeError("fingerprint", "not one of our keys")
        inner = self._open_inner(key, req.encrypted_data)
        self._check_nonces(inner)
        if not equal(inner.pq, self._pq):
            raise HandshakeError("pq", f"{inner.name}.pq differs")
        if not (equal(inner.p, p_bytes) and equal(inner.q, q_bytes)):
            raise HandshakeError("p_q", f"{inner.name} p and q differ")
        if self._dc is not None and "dc" in inner.fields and inner.dc not in (self._dc, -self._dc):
            raise HandshakeError("dc", "wrong DC id")
        if "expires_in" in inner.fields and (
            not self._accept_temp or not 0 < inner.expires_in <= self._max_expires_in
        ):
            raise HandshakeError("expires_in", "temporary key refused or bad lifetime")
        self._inner = inner
        self._new_nonce = inner.new_nonce
        if self._fail_dh_params:
            refusal = self._message(
                "server_DH_params_fail", new_nonce_hash=dh_params_fail_hash(self._new_nonce)
            )
            self._advance(ServerInput.REQ_DH_PARAMS_REFUSED)
            # The handshake ends here: hold no secret of it (as every other failure).
            self._new_nonce = b""
            self._inner = None
            return refusal
        self._a, g_a = generate_dh_exponent(self._g, self._dh_prime, rng, name="g_a")
        self._server_time = int(now)
        answer = tl.serialize(
            self._message(
                "server_DH_inner_data",
                g=self._g,
                dh_prime=int_to_be(self._dh_prime),
                g_a=int_to_be(g_a),
                server_time=self._server_time,
            )
        )
        self._tmp_key, self._tmp_iv = tmp_aes_key_iv(self._server_nonce, self._new_nonce)
        encrypted = seal_inner(answer, self._tmp_key, self._tmp_iv, rng)
        self._advance(ServerInput.REQ_DH_PARAMS)
        return self._message("server_DH_params_ok", encrypted_answer=encrypted)

    def _on_client_dh(self, body: bytes) -> tl.TLObject:
        req = parse(body, ("set_client_DH_params",), "set_client_DH_params")
        self._check_nonces(req)
        inner = open_inner(
            req.encrypted_data,
            self._tmp_key,
            self._tmp_iv,
            "client_DH_inner_data",
            "data",
            "client_DH_inner_data",
        )
        self._check_nonces(inner)
        if inner.retry_id != self._retry_id:
            raise HandshakeError("retry_id", "not the aux hash of the previous attempt")
        g_b = dh_value(inner.g_b, self._dh_prime, "g_b")
        key = AuthKey.from_int(modexp(g_b, self._a, self._dh_prime))
        verdict: DhGenAnswer = "ok" if self._decide is None else self._decide(key, self._attempt)
        if verdict not in ("ok", "retry", "fail"):
            raise InvalidArgument("decide() must return 'ok', 'retry' or 'fail'")
        if verdict == "retry" and self._attempt >= self._max_retries:
            verdict = "fail"
        number = {"ok": 1, "retry": 2, "fail": 3}[verdict]
        answer = self._message(
            ("dh_gen_ok", "dh_gen_retry", "dh_gen_fail")[number - 1],
            **{f"new_nonce_hash{number}": new_nonce_hash(self._new_nonce, number, key.aux_hash)},
        )
        if verdict == "retry":
            self._attempt += 1
            self._retry_id = aux_hash_as_retry_id(key.aux_hash)
            self._advance(ServerInput.CLIENT_DH_RETRY)
            return answer
        if verdict == "fail":
            self._fail(ServerInput.CLIENT_DH_FAIL)
            return answer
        inner_data = self._inner
        assert inner_data is not None
        expires_in = inner_data.fields.get("expires_in")
        dc = inner_data.fields.get("dc")
        assert expires_in is None or isinstance(expires_in, int)
        assert dc is None or isinstance(dc, int)
        self._result = HandshakeResult(
            auth_key=key,
            server_salt=server_salt(self._new_nonce, self._server_nonce),
            time_offset=0,
            expires_at=None if expires_in is None else self._server_time + expires_in,
            dc=dc,
            retries=self._attempt,
            rsa_scheme=self._scheme,
            inner_data=inner_data.name,
        )
        self._advance(ServerInput.CLIENT_DH_OK)
        self._a = 0
        self._new_nonce = self._tmp_key = self._tmp_iv = b""
        return answer

    def __repr__(self) -> str:
        return f"ServerHandshake(state={self._state.value!r})"
