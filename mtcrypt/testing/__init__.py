"""Public tooling for testing MTProto implementations.

* :class:`ReferenceServer` / :class:`ThreadedReferenceServer`: a real MTProto
  server (every transport, RSA_PAD and legacy handshakes, sessions) that real
  clients can connect to, with seedable randomness and a record of handshakes.
* :class:`SeededRng`: deterministic randomness for reproducible runs.
* :mod:`.strategies`: hypothesis strategies for every protocol object.
* :mod:`.mutators`: structured mutations aimed at the checks an implementation
  must make.
* :mod:`.conformance`: scenarios, an adversarial server and a mirror mode that
  play them against a client or server under test
  (``python -m mtcrypt conformance``).
"""

from .reference import ReferenceServer, SeededRng, ThreadedReferenceServer, echo_handler

__all__ = ["ReferenceServer", "SeededRng", "ThreadedReferenceServer", "echo_handler"]
