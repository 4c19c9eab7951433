"""Conformance runner: play scenarios against an MTProto client or server and
report, per scenario, whether it rejected what it must reject.

* **Scenarios are data** (:class:`Scenario`: id, description, mutation kind and
  parameters, ``reject``/``accept``, checklist item); the built-in ones are
  :func:`default_scenarios`, more load from JSON/TOML (:func:`load_scenarios`),
  and new mutation kinds register with :func:`register_mutation`.
* **Adversarial server** (:class:`AdversarialServer`): plays client-role
  scenarios -- a handshake with bad nonces, primes, hashes, retry and fail
  answers; authentic messages with bad padding, lengths, session ids, msg_ids,
  salts; bad transport frames, obfuscation headers and fake-TLS answers --
  against a client driven by an adapter (:class:`MtcryptAdapter`,
  :class:`TelethonAdapter`, :class:`PyrogramAdapter`, or any program through
  :class:`CommandAdapter`).  :func:`run_client_suite` plays a list.
* **Mirror mode** (:func:`run_server_suite`): a client that plays server-role
  scenarios against a server under test.
* Both are mtcrypt's own connections (:class:`~mtcrypt.connection.ServerConnection`,
  :class:`~mtcrypt.connection.ClientConnection`) with the misbehaviour plugged in
  through ``handshake_factory``, the connection hooks and injected packets.
* **Secret chats** (:func:`run_secret_suite`): the adversary plays the other end
  of a secret chat against a :class:`SecretChatTarget` (mtcrypt's own
  :class:`MtcryptSecretTarget`, or any program speaking JSON lines through
  :class:`SecretCommandTarget`).
* :class:`Report`: per scenario what happened, as a table, JSON or JUnit XML.

Command line: ``python -m mtcrypt conformance --target TARGET`` with a client
(``telethon``, ``pyrogram``, ``mtcrypt``, ``command:...``), a server or a
secret-chat implementation (``secret:...``); see :mod:`.cli`.
"""

from . import client_mutations as _client_mutations  # registers the client-role kinds
from . import mirror
from .adapters import (
    ClientAdapter,
    ClientReport,
    CommandAdapter,
    Endpoint,
    InProcessAdapter,
    MtcryptAdapter,
    PyrogramAdapter,
    SessionProbe,
    TelethonAdapter,
    make_adapter,
)
from .adversary import (
    AdversarialHandshake,
    AdversarialServer,
    Evidence,
    FakeTlsPlan,
    HandshakePlan,
    HeaderPlan,
    MessagePlan,
    Probe,
    Raw,
    ServerContext,
)
from .catalog import default_scenarios
from .mirror import *  # noqa: F403
from .runner import PairResult, Report, ScenarioResult, run_client_suite, run_client_suite_sync
from .scenarios import MUTATIONS, MutationKind, Scenario, load_scenarios, register_mutation
from .secret import SecretPeer, SecretScenario, run_secret_suite, secret_scenarios
from .secret_command import SecretCommandTarget
from .secret_target import (
    DhParams,
    MtcryptSecretTarget,
    Reply,
    SecretChatTarget,
    SentFile,
    TargetDied,
)

del _client_mutations

# A long submodule list re-exported whole is imported with ``*`` and added with
# ``__all__ +=`` (forms mypy and ruff read), so its names are written once.
__all__ = [
    "MUTATIONS",
    "AdversarialHandshake",
    "AdversarialServer",
    "ClientAdapter",
    "ClientReport",
    "CommandAdapter",
    "DhParams",
    "Endpoint",
    "Evidence",
    "FakeTlsPlan",
    "HandshakePlan",
    "HeaderPlan",
    "InProcessAdapter",
    "MessagePlan",
    "MtcryptAdapter",
    "MtcryptSecretTarget",
    "MutationKind",
    "PairResult",
    "Probe",
    "PyrogramAdapter",
    "Raw",
    "Reply",
    "Report",
    "Scenario",
    "ScenarioResult",
    "SecretChatTarget",
    "SecretCommandTarget",
    "SecretPeer",
    "SecretScenario",
    "SentFile",
    "ServerContext",
    "SessionProbe",
    "TargetDied",
    "TelethonAdapter",
    "default_scenarios",
    "load_scenarios",
    "make_adapter",
    "register_mutation",
    "run_client_suite",
    "run_client_suite_sync",
    "run_secret_suite",
    "secret_scenarios",
]
__all__ += mirror.__all__
