"""A secret-chat implementation for ``--target secret:command:...``: mtcrypt's own
:mod:`mtcrypt.e2e`, speaking the JSON-lines protocol of
:mod:`~mtcrypt.testing.conformance.secret_command`::

    python -m mtcrypt conformance \\
        --target "secret:command:python -m mtcrypt.testing.conformance.example_secret_peer"

Each request is one JSON line on stdin, each answer one JSON line on stdout.
Port this loop to the implementation you want to test: the calls map one to
one onto what a secret-chat client does anyway.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .secret_target import DhParams, MtcryptSecretTarget, Reply


def _dh(request: dict[str, Any]) -> DhParams:
    return DhParams(
        int(request["g"]),
        bytes.fromhex(request["p"]),
        bytes.fromhex(request["random"]),
        int(request.get("version", 1)),
    )


def _reply(reply: Reply) -> dict[str, Any]:
    return {
        "sent": [p.hex() for p in reply.sent],
        "delivered": reply.delivered,
        "closed": reply.closed,
    }


def handle(target: MtcryptSecretTarget, request: dict[str, Any]) -> dict[str, Any]:
    """One request's answer (without ``ok``); raises to refuse."""
    op = request.get("op")
    if op == "hello":
        return {"name": "mtcrypt-e2e (example_secret_peer)", "features": sorted(target.features)}
    if op == "reset":
        target.reset()
        return {}
    if op == "create":
        return {"g_a": target.create(_dh(request), int(request["layer"])).hex()}
    if op == "accept":
        g_b, fingerprint = target.accept(
            _dh(request), bytes.fromhex(request["g_a"]), int(request["layer"])
        )
        return {"g_b": g_b.hex(), "key_fingerprint": fingerprint}
    if op == "complete":
        target.complete(bytes.fromhex(request["g_b"]), int(request["key_fingerprint"]))
        return {}
    if op == "receive":
        return _reply(target.receive(bytes.fromhex(request["packet"])))
    if op == "send_text":
        return _reply(target.send_text(str(request["text"])))
    if op == "request_rekey":
        return _reply(target.request_rekey())
    if op == "decrypt_file":
        data = target.decrypt_file(
            bytes.fromhex(request["data"]),
            bytes.fromhex(request["key"]),
            bytes.fromhex(request["iv"]),
            int(request["fingerprint"]),
            int(request["size"]),
        )
        return {"data": data.hex()}
    if op == "send_file":
        sent = target.send_file(bytes.fromhex(request["data"]))
        return {
            **_reply(sent.reply),
            "file": sent.encrypted.hex(),
            "fingerprint": sent.fingerprint,
        }
    raise ValueError(f"unknown op {op!r}")


def main() -> int:
    target = MtcryptSecretTarget()
    for line in sys.stdin:
        try:
            answer = {"ok": True, **handle(target, json.loads(line))}
        except Exception as exc:  # a refusal: its reason goes back to the runner
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
