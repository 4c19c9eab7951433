"""Secret-chat conformance: mtcrypt's e2e layer passes every scenario, and for
every scenario a deliberately broken variant of it (one flaw, named below)
makes that scenario report a finding: no scenario is a test that cannot fail.

The flaws are the mistakes real implementations make: parsing before the MAC,
trusting the peer's sequence numbers, skipping a range check, writing one's own
layer to an older peer, and so on. Each is applied to mtcrypt itself, either by
normalizing the packet before the real chat sees it (what an implementation
that ignores a field effectively does) or by patching one check.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import struct
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from mtcrypt.crypto import ige256_decrypt
from mtcrypt.e2e import (
    ChatPolicy,
    DhConfig,
    FileKey,
    SecretChat,
    decode_layer,
    decrypt_e2e,
    decrypt_file,
    encrypt_e2e,
    make,
)
from mtcrypt.e2e import chat as chat_module
from mtcrypt.e2e import rekey as rekey_module
from mtcrypt.e2e.dh import compute_key, encode_dh_value
from mtcrypt.e2e.errors import AbortReason, ChatAborted
from mtcrypt.e2e.rekey import Rekeying, RekeyInput, RekeyState
from mtcrypt.e2e.tl import encode_layer
from mtcrypt.errors import MtcryptError
from mtcrypt.handshake import dh as handshake_dh
from mtcrypt.mtproto import AuthKey, kdf2
from mtcrypt.testing.conformance.secret import run_secret_suite, secret_scenarios
from mtcrypt.testing.conformance.secret_command import SecretCommandTarget
from mtcrypt.testing.conformance.secret_target import (
    DhParams,
    MtcryptSecretTarget,
    Reply,
    SentFile,
)

# ---- the broken variant --------------------------------------------------------------------


class BrokenTarget(MtcryptSecretTarget):
    """mtcrypt's e2e layer with one flaw."""

    def __init__(self, flaw: str) -> None:
        super().__init__(ChatPolicy(auto_rekey=False) if flaw == "never-rekeys" else None)
        self.flaw = flaw
        self.name = f"broken:{flaw}"

    # -- the exchange ---------------------------------------------------------------

    def create(self, dh: DhParams, layer: int) -> bytes:
        if self.flaw != "dh-unchecked":
            return super().create(dh, layer)
        p = int.from_bytes(dh.p, "big")
        return encode_dh_value(pow(dh.g, int.from_bytes(os.urandom(256), "big"), p))

    def accept(self, dh: DhParams, g_a: bytes, layer: int) -> tuple[bytes, int]:
        if self.flaw == "partner-wrong-side":
            g_b, fingerprint = super().accept(dh, g_a, layer)
            assert self.chat is not None
            self.chat = SecretChat(
                self.chat._keys.current,
                is_creator=True,
                dh=self._config(dh),
                policy=self.chat._policy,
            )
            return g_b, fingerprint
        if self.flaw != "g-a-unchecked":
            return super().accept(dh, g_a, layer)
        config = self._config(dh)
        b = int.from_bytes(os.urandom(256), "big")
        g_b = pow(config.g, b, config.p)
        key = compute_key(int.from_bytes(g_a, "big"), b, config.p)
        self.chat = SecretChat(key, is_creator=False, dh=config, policy=self._policy(layer))
        return encode_dh_value(g_b), key.key_id

    def complete(self, g_b: bytes, key_fingerprint: int) -> None:
        if self.flaw == "key-truncated":
            # A key with a leading zero byte kept in 255 bytes (Telethon's old bug).
            assert self._pending is not None
            value = pow(int.from_bytes(g_b, "big"), self._pending._a, self._pending._dh.p)
            short = value.to_bytes((value.bit_length() + 7) // 8, "big")
            if struct.unpack("<q", hashlib.sha1(short).digest()[-8:])[0] != key_fingerprint:
                raise MtcryptError("fingerprint mismatch")
            return super().complete(g_b, key_fingerprint)
        if self.flaw not in ("g-b-unchecked", "fingerprint-unchecked"):
            return super().complete(g_b, key_fingerprint)
        pending = self._pending
        assert pending is not None
        config = pending._dh
        key = compute_key(int.from_bytes(g_b, "big"), pending._a, config.p)
        if self.flaw == "g-b-unchecked" and key.key_id != key_fingerprint:
            raise MtcryptError("fingerprint mismatch")
        self.chat = SecretChat(key, is_creator=True, dh=config, policy=self._policy(self._layer))
        return None

    def send_file(self, data: bytes) -> SentFile:
        sent = super().send_file(data)
        if self.flaw == "file-fingerprint-wrong":
            return dataclasses.replace(sent, fingerprint=sent.fingerprint ^ 1)
        return sent

    def send_text(self, text: str) -> Reply:
        reply = super().send_text(text)
        if self.flaw == "out-seq-skips" and self.chat is not None:
            self.chat._my_out += 1  # counts one message it never sent
        return reply

    # -- messages: what an implementation that ignores a field effectively sees ---------

    def receive(self, packet: bytes) -> Reply:
        chat = self.chat
        if self.flaw == "trims-tail":
            packet = packet[: 24 + (len(packet) - 24) // 16 * 16]
        if chat is None or chat.aborted is not None or self.flaw not in _NORMALIZERS:
            return super().receive(packet)
        layer = _lax_open(chat, packet) if self.flaw == "lax-decrypt" else _open(chat, packet)
        if layer is None:
            return super().receive(packet)
        if self.flaw == "unknown-aborts" and layer.message is None:
            chat.abort()
            return Reply(closed=True)
        changed = _NORMALIZERS[self.flaw](chat, layer)
        if changed is None:
            return Reply()  # dropped
        assert changed.message is not None
        payload = encode_layer(
            random_bytes=changed.random_bytes,
            layer=changed.layer,
            in_seq_no=changed.in_seq_no,
            out_seq_no=changed.out_seq_no,
            message=changed.message,
        )
        key = chat._keys.current
        return super().receive(encrypt_e2e(key, payload, from_creator=not chat.is_creator))

    def decrypt_file(
        self, data: bytes, key: bytes, iv: bytes, fingerprint: int, size: int
    ) -> bytes:
        if self.flaw == "file-unchecked":
            return decrypt_file(data, FileKey(key, iv), size)
        if self.flaw == "file-wrong-iv":
            return decrypt_file(data, FileKey(key, bytes(32)), size)
        return super().decrypt_file(data, key, iv, fingerprint, size)


def _open(chat: SecretChat, packet: bytes) -> Any:
    """The packet's decryptedMessageLayer, read the correct way (None: not ours)."""
    from mtcrypt.e2e import decrypt_e2e

    try:
        return decode_layer(
            decrypt_e2e(chat._keys.current, packet, from_creator=not chat.is_creator)
        )
    except MtcryptError:
        return None


def _lax_open(chat: SecretChat, packet: bytes) -> Any:
    """Decrypt with whatever the packet says, check no MAC, no direction, no
    key fingerprint, no padding and no length: take the longest prefix that
    parses (a receiver that parses before it authenticates)."""
    key = chat._keys.current
    msg_key, body = packet[8:24], packet[24:]
    if len(body) % 16 or not body:
        return None
    for from_server in (chat.is_creator, not chat.is_creator):
        aes_key, aes_iv = kdf2(key, msg_key, from_server=from_server)
        plain = ige256_decrypt(body, aes_key, aes_iv)
        for end in range(len(plain), 4, -4):
            try:
                layer = decode_layer(plain[4:end])
            except MtcryptError:
                continue
            if layer.message is not None:
                return layer
    return None


def _replace(decoded: Any, **changes: object) -> Any:
    return dataclasses.replace(decoded, **changes)


def _seq_unchecked(chat: SecretChat, layer: Any) -> Any:
    x = chat._x
    in_raw = min(max(layer.in_seq_no // 2, chat._his_in), chat._my_out)
    out = layer.out_seq_no - layer.out_seq_no % 2 + x
    return _replace(layer, in_seq_no=2 * in_raw + 1 - x, out_seq_no=out)


def _seq_renumbered(chat: SecretChat, layer: Any) -> Any:
    return _replace(layer, out_seq_no=2 * chat._my_in + chat._x)


def _in_seq_off_by_one(chat: SecretChat, layer: Any) -> Any:
    if chat._my_out and layer.in_seq_no // 2 >= chat._my_out:
        return None
    return layer


def _resend_ignored(chat: SecretChat, layer: Any) -> Any:
    action = chat._action_of(layer.message)
    if action is not None and action.name == "decryptedMessageActionResend":
        noop = make("decryptedMessageActionNoop")
        message = make("decryptedMessageService", random_id=1, action=noop)
        return _replace(layer, message=message)
    return layer


def _layer_kept(chat: SecretChat, layer: Any) -> Any:
    return _replace(layer, layer=max(layer.layer, chat._last_layer))


_NORMALIZERS: dict[str, Callable[[SecretChat, Any], Any]] = {
    "lax-decrypt": lambda chat, layer: layer,
    "seq-unchecked": _seq_unchecked,
    "seq-renumbered": _seq_renumbered,
    "in-seq-off-by-one": _in_seq_off_by_one,
    "resend-ignored": _resend_ignored,
    "layer-decrease-allowed": _layer_kept,
    "unknown-aborts": lambda chat, layer: layer,
}


class StrictPaddingTarget(BrokenTarget):
    """Refuses legal paddings below 16 or above 1000 bytes."""

    def receive(self, packet: bytes) -> Reply:
        chat = self.chat
        if chat is not None and chat.aborted is None:
            try:
                payload = decrypt_e2e(chat._keys.current, packet, from_creator=not chat.is_creator)
            except MtcryptError:
                payload = None
            if payload is not None:
                pad = len(packet) - 24 - 4 - len(payload)
                if not 16 <= pad <= 1000:
                    return Reply()
        return super().receive(packet)


# ---- flaws applied by patching one check ------------------------------------------------------


def _on_request_keeps_ours(orig: Callable[..., Any]) -> Callable[..., Any]:
    def on_request(self: Rekeying, exchange_id: int, g_a: bytes) -> Any:
        if self.state is RekeyState.REQUESTED:
            self._transition(RekeyInput.PEER_REQUEST_LOSES)
            return None
        return orig(self, exchange_id, g_a)

    return on_request


def _on_request_yields(orig: Callable[..., Any]) -> Callable[..., Any]:
    def on_request(self: Rekeying, exchange_id: int, g_a: bytes) -> Any:
        if self.state is RekeyState.REQUESTED:
            self.exchange_id = -(2**63)
        return orig(self, exchange_id, g_a)

    return on_request


def _on_request_tie_accepts(orig: Callable[..., Any]) -> Callable[..., Any]:
    def on_request(self: Rekeying, exchange_id: int, g_a: bytes) -> Any:
        if self.state is RekeyState.REQUESTED and exchange_id == self.exchange_id:
            self.exchange_id -= 1  # as if ours were smaller: theirs wins
        return orig(self, exchange_id, g_a)

    return on_request


def _on_accept_wrong(orig: Callable[..., Any]) -> Callable[..., Any]:
    def on_accept(self: Rekeying, exchange_id: int, g_b: bytes, fingerprint: int) -> Any:
        commit = orig(self, exchange_id, g_b, fingerprint)
        return make(
            "decryptedMessageActionCommitKey",
            exchange_id=exchange_id,
            key_fingerprint=int(commit.key_fingerprint) ^ 1,
        )

    return on_accept


def _never_accepts(self: Rekeying, exchange_id: int, g_a: bytes) -> None:
    return None


def _abort_breaks(self: Rekeying, exchange_id: int) -> None:
    raise ChatAborted(AbortReason.REKEY_UNEXPECTED)


def _unchecked_new_key(self: Rekeying, public: bytes, exponent: int, name: str) -> AuthKey:
    return compute_key(int.from_bytes(public, "big"), exponent, self._dh.p)


def _patch(monkeypatch: pytest.MonkeyPatch, flaw: str) -> None:
    if flaw == "range-too-strict":
        monkeypatch.setattr(handshake_dh, "DH_SAFETY_MARGIN", 1 << 1990)
    elif flaw == "random-unchecked":
        monkeypatch.setattr(chat_module, "MIN_RANDOM_BYTES", 0)
    elif flaw == "random-too-strict":
        monkeypatch.setattr(chat_module, "MIN_RANDOM_BYTES", 16)
    elif flaw == "writes-own-layer":
        monkeypatch.setattr(SecretChat, "layer", property(lambda self: self._policy.layer))
    elif flaw == "mtproto1-always":
        monkeypatch.setattr(SecretChat, "_mtproto1_allowed", lambda self: True)
        monkeypatch.setattr(chat_module, "LAYER_MTPROTO2", 10**9)
    elif flaw == "rekey-never-accepts":
        monkeypatch.setattr(Rekeying, "on_request", _never_accepts)
    elif flaw == "rekey-g-unchecked":
        monkeypatch.setattr(Rekeying, "_new_key", _unchecked_new_key)
    elif flaw == "rekey-fingerprint-unchecked":
        monkeypatch.setattr(rekey_module, "hmac", SimpleNamespace(compare_digest=lambda a, b: True))
    elif flaw == "rekey-abort-breaks":
        monkeypatch.setattr(Rekeying, "on_abort", _abort_breaks)
    elif flaw == "rekey-commits-wrong-key":
        monkeypatch.setattr(Rekeying, "on_accept", _on_accept_wrong(Rekeying.on_accept))
    elif flaw == "rekey-race-keeps-ours":
        monkeypatch.setattr(Rekeying, "on_request", _on_request_keeps_ours(Rekeying.on_request))
    elif flaw == "rekey-tie-accepts":
        monkeypatch.setattr(Rekeying, "on_request", _on_request_tie_accepts(Rekeying.on_request))
    elif flaw == "rekey-overlapping":
        monkeypatch.setattr(Rekeying, "can_request", property(lambda self: True))
        monkeypatch.setattr(Rekeying, "_transition", lambda self, event: None)
    elif flaw == "rekey-no-switch":
        monkeypatch.setattr(Rekeying, "on_decrypted_with", lambda self, key: None)
    elif flaw == "rekey-keeps-old-key":
        monkeypatch.setattr(Rekeying, "_discard_other", lambda self: None)
    elif flaw == "rekey-race-yields":
        monkeypatch.setattr(Rekeying, "on_request", _on_request_yields(Rekeying.on_request))


# Which flaw each scenario exists to catch.
FLAW_FOR: dict[str, str] = {
    "e2e-dh-prime-not-safe": "dh-unchecked",
    "e2e-dh-prime-short": "dh-unchecked",
    "e2e-dh-prime-composite": "dh-unchecked",
    "e2e-dh-g-non-residue": "dh-unchecked",
    "e2e-dh-g-out-of-set": "dh-unchecked",
    "e2e-dh-g-a-one": "g-a-unchecked",
    "e2e-dh-g-a-p-minus-1": "g-a-unchecked",
    "e2e-dh-g-a-below-range": "g-a-unchecked",
    "e2e-dh-g-a-above-range": "g-a-unchecked",
    "e2e-dh-g-a-lowest-legal": "range-too-strict",
    "e2e-dh-g-a-highest-legal": "range-too-strict",
    "e2e-dh-g-b-one": "g-b-unchecked",
    "e2e-dh-g-b-p-minus-1": "g-b-unchecked",
    "e2e-fingerprint-mismatch": "fingerprint-unchecked",
    "e2e-exchange-both-roles": "partner-wrong-side",
    "e2e-msg-key-flipped": "lax-decrypt",
    "e2e-wrong-direction": "lax-decrypt",
    "e2e-unknown-fingerprint": "lax-decrypt",
    "e2e-padding-short": "lax-decrypt",
    "e2e-padding-least": "strict-padding",
    "e2e-padding-most": "strict-padding",
    "e2e-padding-long": "lax-decrypt",
    "e2e-length-beyond-data": "lax-decrypt",
    "e2e-length-unaligned": "lax-decrypt",
    "e2e-random-bytes-short": "random-unchecked",
    "e2e-random-bytes-least": "random-too-strict",
    "e2e-seq-out-parity": "seq-unchecked",
    "e2e-seq-in-parity": "seq-unchecked",
    "e2e-seq-in-negative": "seq-unchecked",
    "e2e-seq-in-too-high": "seq-unchecked",
    "e2e-seq-in-decreasing": "seq-unchecked",
    "e2e-seq-in-highest": "in-seq-off-by-one",
    "e2e-replay": "seq-renumbered",
    "e2e-replay-older": "seq-renumbered",
    "e2e-gap-resend": "seq-renumbered",
    "e2e-resend-honoured": "resend-ignored",
    "e2e-resend-once": "seq-renumbered",
    "e2e-misaligned": "trims-tail",
    "e2e-key-leading-zero": "key-truncated",
    "e2e-layer-peer-46": "writes-own-layer",
    "e2e-layer-peer-101": "writes-own-layer",
    "e2e-layer-decreased": "layer-decrease-allowed",
    "e2e-layer-newer": "unknown-aborts",
    "e2e-mtproto1-layer-73": "mtproto1-always",
    "e2e-mtproto1-downgrade": "mtproto1-always",
    "e2e-mtproto1-legacy": "mtproto1-always",
    "e2e-rekey-peer-initiates": "rekey-never-accepts",
    "e2e-rekey-g-a-one": "rekey-g-unchecked",
    "e2e-rekey-g-a-p-minus-1": "rekey-g-unchecked",
    "e2e-rekey-g-a-below-range": "rekey-g-unchecked",
    "e2e-rekey-commit-wrong-fp": "rekey-fingerprint-unchecked",
    "e2e-rekey-abort": "rekey-abort-breaks",
    "e2e-rekey-target-initiates": "rekey-commits-wrong-key",
    "e2e-rekey-g-b-one": "rekey-g-unchecked",
    "e2e-rekey-accept-wrong-fp": "rekey-fingerprint-unchecked",
    "e2e-rekey-race-peer-wins": "rekey-race-keeps-ours",
    "e2e-rekey-race-peer-loses": "rekey-race-yields",
    "e2e-rekey-race-peer-tie": "rekey-tie-accepts",
    "e2e-rekey-switch-on-new-key": "rekey-no-switch",
    "e2e-rekey-old-key-refused": "rekey-keeps-old-key",
    "e2e-rekey-one-at-a-time": "rekey-overlapping",
    "e2e-file-ok": "file-wrong-iv",
    "e2e-file-wrong-fp": "file-unchecked",
    "e2e-seq-target-numbering": "out-seq-skips",
    "e2e-rekey-schedule": "never-rekeys",
    "e2e-file-sent": "file-fingerprint-wrong",
}


def test_every_scenario_has_a_flaw() -> None:
    assert sorted(FLAW_FOR) == sorted(s.id for s in secret_scenarios())


def test_mtcrypt_passes_every_scenario_on_both_sides() -> None:
    report = run_secret_suite(MtcryptSecretTarget())
    assert report.passed, report.to_table()
    ids = {r.id for r in report.results}
    assert "e2e-replay/partner" in ids and "e2e-dh-prime-short/partner" not in ids
    assert all(r.status == "pass" for r in report.results)


def test_mtcrypt_at_layer_46_passes() -> None:
    # The scenarios whose messages depend on the layer (texts, numbering, files).
    kinds = ("e2e-layer", "e2e-seq", "e2e-mtproto1", "e2e-replay", "e2e-file")
    chosen = [s for s in secret_scenarios() if s.id.startswith(kinds)]
    report = run_secret_suite(MtcryptSecretTarget(), chosen, layer=46)
    assert report.passed, report.to_table()


@pytest.mark.parametrize("scenario", secret_scenarios(), ids=lambda s: s.id)
def test_each_scenario_catches_its_flaw(scenario: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    flaw = FLAW_FOR[scenario.id]
    _patch(monkeypatch, flaw)
    target = StrictPaddingTarget(flaw) if flaw == "strict-padding" else BrokenTarget(flaw)
    report = run_secret_suite(target, [scenario])
    expected = "WARN" if scenario.expect == "deprecated" else "FAIL"
    for result in report.results:
        assert result.status == expected, (flaw, result)


def test_a_target_without_features_is_skipped() -> None:
    target = MtcryptSecretTarget()
    target.features = frozenset()
    chosen = [s for s in secret_scenarios() if s.needs]
    report = run_secret_suite(target, chosen)
    assert {r.status for r in report.results} == {"skip"}


def test_a_crashing_target_fails_with_the_symptom_named() -> None:
    class Crashing(MtcryptSecretTarget):
        def receive(self, packet: bytes) -> Reply:
            raise RuntimeError("receive loop died")

    chosen = [s for s in secret_scenarios() if s.id in ("e2e-replay", "e2e-msg-key-flipped")]
    report = run_secret_suite(Crashing(), chosen)
    assert not report.passed
    for result in report.results:
        assert result.status == "FAIL" and "receive loop died" in result.detail


def test_the_honest_parameters_validate() -> None:
    # A regression here would turn every scenario into an error.
    from mtcrypt.testing.conformance.secret import _HONEST

    DhConfig.validate(_HONEST.g, _HONEST.p)


# ---- warnings, reports, and the JSON-lines route -------------------------------------------


def test_a_legacy_mtproto1_opt_in_is_a_warning_not_a_failure() -> None:
    from mtcrypt.e2e import ChatPolicy

    target = MtcryptSecretTarget(ChatPolicy(accept_mtproto1=True, auto_rekey=False))
    report = run_secret_suite(target, [s for s in secret_scenarios() if "mtproto1" in s.id])
    assert [r.id for r in report.warnings] == ["e2e-mtproto1-legacy", "e2e-mtproto1-legacy/partner"]
    assert report.passed and not report.failed("fail") and report.failed("warn")
    import xml.etree.ElementTree as ET

    lenient = ET.fromstring(report.to_junit(fail_on="fail"))
    strict = ET.fromstring(report.to_junit(fail_on="warn"))
    assert lenient.get("failures") == "0" and strict.get("failures") == "2"
    failure = strict.find("testcase[@name='e2e-mtproto1-legacy']/failure")
    assert failure is not None and failure.get("type") == "WARN"


EXAMPLE = [sys.executable, "-m", "mtcrypt.testing.conformance.example_secret_peer"]


def test_the_example_program_passes_over_json_lines() -> None:
    # Every call of the protocol, each way a chat starts, refusals included.
    wanted = {
        "e2e-dh-prime-short",
        "e2e-dh-g-a-lowest-legal",
        "e2e-fingerprint-mismatch",
        "e2e-exchange-both-roles",
        "e2e-gap-resend",
        "e2e-rekey-target-initiates",
        "e2e-file-ok",
        "e2e-file-wrong-fp",
        "e2e-file-sent",
    }
    chosen = [s for s in secret_scenarios() if s.id in wanted]
    with SecretCommandTarget(EXAMPLE) as target:
        assert target.features == {"rekey", "files", "send_files"}
        report = run_secret_suite(target, chosen)
    assert report.passed and {r.status for r in report.results} == {"pass"}, report.to_table()
    assert {r.id.removesuffix("/partner") for r in report.results} == wanted


_FAULTY = """
import json, pathlib, sys, time
from mtcrypt.testing.conformance.example_secret_peer import handle
from mtcrypt.testing.conformance.secret_target import MtcryptSecretTarget
target = MtcryptSecretTarget()
receives = 0
once = pathlib.Path({marker!r})
for line in sys.stdin:
    request = json.loads(line)
    if request["op"] == "receive":
        receives += 1
        if receives == {at} and not once.exists():
            once.touch()  # only the first program fails: the restarted one works
            {fault}
    try:
        answer = {{"ok": True, **handle(target, request)}}
    except Exception as exc:
        answer = {{"ok": False, "error": str(exc)}}
    print(json.dumps(answer), flush=True)
"""


@pytest.mark.parametrize(
    ("fault", "symptom"),
    [
        ("time.sleep(30)", "no answer to receive within 1 s"),
        ("sys.exit(3)", "exited during receive"),
    ],
)
def test_a_program_that_hangs_or_dies_fails_with_the_symptom(
    tmp_path: Any, fault: str, symptom: str
) -> None:
    script = tmp_path / "faulty.py"
    script.write_text(_FAULTY.format(at=3, fault=fault, marker=str(tmp_path / "failed")))
    chosen = [s for s in secret_scenarios() if s.id == "e2e-replay"]
    with SecretCommandTarget([sys.executable, str(script)], timeout=1.0) as target:
        report = run_secret_suite(target, chosen)
    first, second = report.results
    assert first.status == "FAIL" and symptom in first.detail, first
    # The program is started again for the next run, which then passes.
    assert second.status == "pass", second


def test_a_program_that_is_not_a_peer_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="does not speak the secret-chat protocol"):
        SecretCommandTarget([sys.executable, "-c", "print('hello')"], timeout=5)
    with pytest.raises(ValueError, match="cannot start"):
        SecretCommandTarget(["/nonexistent/peer"])


def test_the_command_line(tmp_path: Any) -> None:
    from mtcrypt.testing.conformance.cli import main

    junit = tmp_path / "report.xml"
    command = "secret:command:" + " ".join(EXAMPLE)
    assert main(["--target", command, "--quiet", "--only", "e2e-gap-*", "--junit", str(junit)]) == 0
    import xml.etree.ElementTree as ET

    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "0"
    assert main(["--target", "secret:mtcrypt", "--layer", "45"]) == 2
    assert main(["--target", "secret:mtcrypt", "--only", "nothing-matches"]) == 2
    assert main(["--target", "mtcrypt", "--layer", "46"]) == 2


_MISSPELLED = """
import json, sys
from mtcrypt.testing.conformance.example_secret_peer import handle
from mtcrypt.testing.conformance.secret_target import MtcryptSecretTarget
target = MtcryptSecretTarget()
for line in sys.stdin:
    request = json.loads(line)
    try:
        answer = {"ok": True, **handle(target, request)}
    except Exception as exc:
        answer = {"ok": False, "error": str(exc)}
    if "g_a" in answer:
        answer["ga"] = answer.pop("g_a")  # a typo in the program
    if request["op"] == "reset":
        print("debug: a stray line on stdout", flush=True)
    print(json.dumps(answer), flush=True)
"""


def test_a_program_off_the_protocol_fails_instead_of_passing(tmp_path: Any) -> None:
    script = tmp_path / "misspelled.py"
    script.write_text(_MISSPELLED)
    chosen = [s for s in secret_scenarios() if s.id in ("e2e-dh-prime-short", "e2e-replay")]
    with SecretCommandTarget([sys.executable, str(script)], timeout=5.0) as target:
        report = run_secret_suite(target, chosen)
    assert report.results, report.to_table()
    for result in report.results:
        # The stray line or the misspelled field: never a pass.
        assert result.status == "FAIL", result
        assert "not an answer" in result.detail or "malformed" in result.detail, result
