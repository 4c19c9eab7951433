"""Public tooling for testing MTProto implementations.

* :class:`ReferenceServer` / :class:`ThreadedReferenceServer`: a real MTProto
  server (every transport, RSA_PAD and legacy handshakes, sessions) that real
  clients can connect to, with seedable randomness and a record of handshakes.
* :class:`SeededRng`: deterministic randomness for reproducible runs.
"""

from .reference import ReferenceServer, SeededRng, ThreadedReferenceServer, echo_handler

__all__ = ["ReferenceServer", "SeededRng", "ThreadedReferenceServer", "echo_handler"]
