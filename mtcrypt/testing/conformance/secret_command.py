"""A secret-chat implementation in another process, driven by JSON lines.

The program reads one JSON object per line on stdin and answers each with one
JSON object per line on stdout (anything else it prints goes to stderr). Bytes
travel as lowercase hex. Every answer has ``"ok"``: ``true`` with the fields
below, or ``false`` with ``"error"`` (a refusal: a bad prime, a g_b out of
range, a wrong fingerprint).

Requests (``op`` and its fields) and what an ``ok`` answer carries:

* ``hello``: ``name``, ``features`` (a list: ``"rekey"``, ``"files"``,
  ``"send_files"``);
* ``reset``: nothing (forget the chat);
* ``create`` with ``g``, ``p``, ``random``, ``version``, ``layer``: ``g_a``
  (become the chat's creator);
* ``accept`` with the same and ``g_a``: ``g_b``, ``key_fingerprint`` (a
  signed 64-bit int);
* ``complete`` with ``g_b``, ``key_fingerprint``: nothing (the creator checks
  ``g_b`` and the fingerprint);
* ``receive`` with ``packet``: ``sent`` (hex packets), ``delivered`` (the texts
  shown to the user), ``closed`` (the chat was aborted);
* ``send_text`` with ``text``, and ``request_rekey`` (feature ``rekey``): the
  same three fields;
* ``decrypt_file`` with ``data``, ``key``, ``iv``, ``fingerprint``, ``size``
  (feature ``files``): ``data``; refuse a key that does not match
  ``fingerprint``;
* ``send_file`` with ``data`` (feature ``send_files``): ``sent``,
  ``delivered``, ``closed`` as above (the message with the document's key and
  IV), ``file`` (the encrypted file as uploaded) and ``fingerprint`` (the
  ``key_fingerprint`` given to the server with the upload).

A program that exits or does not answer within the timeout is a finding named
as such (the runner starts it again for the next scenario).
``python -m mtcrypt.testing.conformance.example_secret_peer`` is a complete
example around :mod:`mtcrypt.e2e`; port it to the implementation you test.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shlex
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..._validation import check_int
from .secret_target import DhParams, Reply, SentFile, TargetDied

__all__ = ["SecretCommandTarget"]

T = TypeVar("T")


class SecretCommandTarget:
    """A :class:`~.secret_target.SecretChatTarget` that runs ``command``."""

    startup_timeout = 30.0
    """Seconds the program has to answer ``hello`` after it starts."""

    def __init__(self, command: str | Sequence[str], *, timeout: float = 10.0) -> None:
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not self.argv:
            raise ValueError("empty command")
        self.timeout = timeout
        self.name = f"command:{shlex.join(self.argv)}"
        self.features: frozenset[str] = frozenset()
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        try:
            self._start()
        except TargetDied as exc:
            raise ValueError(
                f"{shlex.join(self.argv)} does not speak the secret-chat protocol ({exc})"
            ) from None

    # -- the process ------------------------------------------------------------------

    def _start(self) -> None:
        """Start the program and greet it; raises :class:`TargetDied`."""
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
                errors="replace",  # a stray byte must not kill the reader thread
                bufsize=1,
                start_new_session=True,  # close() ends a wrapper's children too
            )
        except OSError as exc:
            raise TargetDied(f"cannot start {self.argv[0]}: {exc.strerror}") from None
        self._lines = queue.Queue()
        threading.Thread(target=self._read, args=(self._proc, self._lines), daemon=True).start()
        try:
            # Starting an interpreter can take seconds on a loaded machine:
            # the greeting gets more time than a call.
            hello = self._call({"op": "hello"}, timeout=max(self.timeout, self.startup_timeout))
        except RuntimeError as exc:
            self.close()
            raise TargetDied(f"refused hello: {exc}") from None
        except TargetDied:
            self.close()
            raise
        self.features = frozenset(str(f) for f in hello.get("features", []))
        self.name = str(hello.get("name") or self.name)

    @staticmethod
    def _read(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def close(self) -> None:
        """End the program and everything it started (its process group)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def __enter__(self) -> SecretCommandTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, request: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        proc = self._proc
        if proc is None or proc.poll() is not None or proc.stdin is None:
            raise TargetDied("the program has exited")
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
        except OSError:
            self.close()
            raise TargetDied("the program closed its input (it exited)") from None
        wait = self.timeout if timeout is None else timeout
        try:
            line = self._lines.get(timeout=wait)
        except queue.Empty:
            self.close()
            raise TargetDied(f"no answer to {request['op']} within {wait:g} s") from None
        if line is None:
            self.close()  # reaped now: the next reset starts it again
            raise TargetDied(f"the program exited during {request['op']}")
        try:
            answer = json.loads(line)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or "ok" not in answer:
            # Off the protocol: later answers would be out of step, so the
            # program is ended (the next scenario starts it again).
            self.close()
            raise TargetDied(f"not an answer: {line[:80]!r}")
        if not answer["ok"]:
            raise RuntimeError(str(answer.get("error") or "refused"))
        return answer

    def _fields(self, request: dict[str, Any], decode: Callable[[dict[str, Any]], T]) -> T:
        """An ``ok`` answer's fields decoded; a missing or malformed field is the
        program failing the protocol, never a refusal."""
        answer = self._call(request)
        try:
            return decode(answer)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            self.close()
            raise TargetDied(f"a malformed answer to {request['op']}: {exc!r}") from None

    # -- the target interface ------------------------------------------------------------

    def reset(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            self.close()
            self._start()
        self._call({"op": "reset"})

    @staticmethod
    def _dh(dh: DhParams) -> dict[str, Any]:
        return {"g": dh.g, "p": dh.p.hex(), "random": dh.random.hex(), "version": dh.version}

    def create(self, dh: DhParams, layer: int) -> bytes:
        request = {"op": "create", **self._dh(dh), "layer": layer}
        return self._fields(request, lambda a: bytes.fromhex(a["g_a"]))

    def accept(self, dh: DhParams, g_a: bytes, layer: int) -> tuple[bytes, int]:
        request = {"op": "accept", **self._dh(dh), "g_a": g_a.hex(), "layer": layer}
        return self._fields(
            request,
            lambda a: (
                bytes.fromhex(a["g_b"]),
                check_int(a["key_fingerprint"], "key_fingerprint", -(2**63), 2**63 - 1),
            ),
        )

    def complete(self, g_b: bytes, key_fingerprint: int) -> None:
        self._call({"op": "complete", "g_b": g_b.hex(), "key_fingerprint": key_fingerprint})

    @staticmethod
    def _reply(answer: dict[str, Any]) -> Reply:
        return Reply(
            sent=[bytes.fromhex(p) for p in answer.get("sent", [])],
            delivered=[str(t) for t in answer.get("delivered", [])],
            closed=bool(answer.get("closed", False)),
        )

    def receive(self, packet: bytes) -> Reply:
        return self._fields({"op": "receive", "packet": packet.hex()}, self._reply)

    def send_text(self, text: str) -> Reply:
        return self._fields({"op": "send_text", "text": text}, self._reply)

    def request_rekey(self) -> Reply:
        return self._fields({"op": "request_rekey"}, self._reply)

    def decrypt_file(
        self, data: bytes, key: bytes, iv: bytes, fingerprint: int, size: int
    ) -> bytes:
        request = {
            "op": "decrypt_file",
            "data": data.hex(),
            "key": key.hex(),
            "iv": iv.hex(),
            "fingerprint": fingerprint,
            "size": size,
        }
        return self._fields(request, lambda a: bytes.fromhex(a["data"]))

    def send_file(self, data: bytes) -> SentFile:
        return self._fields(
            {"op": "send_file", "data": data.hex()},
            lambda a: SentFile(
                self._reply(a), bytes.fromhex(a["file"]), int(a["fingerprint"])
            ),
        )
