"""Scenarios as data: what to play, and what a correct implementation must do.

A :class:`Scenario` names a *mutation kind* from the registry
(:data:`MUTATIONS`) with its parameters, says whether a correct
implementation must ``reject`` or ``accept`` what it receives, and which item
of the hardening checklist it exercises (``C3``, ``H2``, ``T1`` ...).  The
mutation kind decides who is under test: a **client** (the adversarial server
plays it) or a **server** (the mirror client plays it).

Scenarios load from Python (:class:`Scenario`), from JSON or TOML files
(:func:`load_scenarios`), and new mutation kinds register with
:func:`register_mutation`::

    [[scenario]]
    id = "C3-padding-2048"
    description = "authentic answer with 2048 bytes of padding"
    mutation = "padding_length"
    params = { padding = 2048 }
    expect = "reject"
    checklist = "C3"
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from ...errors import InvalidArgument
from ...mtproto import Role

__all__ = [
    "MUTATIONS",
    "Expect",
    "MutationKind",
    "Phase",
    "Role",
    "Scenario",
    "load_scenarios",
    "register_mutation",
    "scenarios_from_data",
]

Expect = Literal["reject", "accept", "deprecated"]
"""Who is under test: a ``client`` (against the adversarial server) or a
``server`` (against the mirror client)."""
Phase = Literal["handshake", "message", "header", "fake_tls", "transport"]


@dataclass(frozen=True)
class MutationKind:
    """A registered way of misbehaving: ``build(**params)`` returns the plan the
    adversarial server (role ``client``) or the mirror client (role ``server``)
    follows."""

    name: str
    role: Role
    phase: Phase
    build: Callable[..., Any]
    doc: str


MUTATIONS: dict[str, MutationKind] = {}
"""Every mutation kind scenarios may name, by name."""


def register_mutation(
    name: str, *, role: Role, phase: Phase
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``build(**params) -> plan`` as mutation kind ``name``.

    The plan's type must match the phase (see
    :mod:`mtcrypt.testing.conformance.adversary` for the client-side plans and
    :mod:`mtcrypt.testing.conformance.mirror` for the server-side ones).
    """
    try:
        role = Role(role)  # "client" / "server" are accepted too
    except ValueError:
        raise InvalidArgument("role must be Role.CLIENT or Role.SERVER") from None

    def decorate(build: Callable[..., Any]) -> Callable[..., Any]:
        if name in MUTATIONS:
            raise InvalidArgument(f"mutation kind {name!r} is already registered")
        doc = (build.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        MUTATIONS[name] = MutationKind(name, role, phase, build, doc)
        return build

    return decorate


def _registrar(
    role: Role,
) -> Callable[[str, Phase], Callable[[Callable[..., Any]], Callable[..., Any]]]:
    """:func:`register_mutation` for the built-in kinds of one ``role``:
    ``@register(name, phase)``."""

    def register(name: str, phase: Phase) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return register_mutation(name, role=role, phase=phase)

    return register


_FRAMINGS = ("abridged", "intermediate", "padded_intermediate", "full")
PROXIES = ("plain", "dd", "ee")
"""MTProxy secret kinds a scenario may connect through."""


@dataclass(frozen=True)
class Scenario:
    """One thing to play against an implementation, and the right reaction.

    :param id: unique name, conventionally ``<checklist>-<what>``.
    :param description: one line for the report.
    :param mutation: a registered mutation kind (:data:`MUTATIONS`).
    :param expect: ``"reject"``, ``"accept"``, or ``"deprecated"`` (the spec
        phased it out but implementations still tolerate it: accepting it is a
        ``WARN``, refusing it passes).
    :param checklist: the checklist item exercised (``C3``, ``H2`` ...).
    :param params: keyword arguments for the mutation kind.
    :param framing: the transport framing the connection must use.
    :param obfuscated: whether the connection must be obfuscated2.
    :param uniform_with: another scenario whose rejection must look the same
        from outside (checklist C4); the report compares their error texts.
    :param proxy: connect through an MTProxy secret of this kind: ``plain``
        (16 bytes), ``dd`` (padded intermediate) or ``ee`` (fake-TLS).
    :param temp_key: the client must work under a temporary key bound to its
        permanent one (PFS), never under the permanent key directly.
    """

    id: str
    description: str
    mutation: str
    expect: Expect
    checklist: str
    params: Mapping[str, Any] = field(default_factory=dict)
    framing: str = "intermediate"
    obfuscated: bool = False
    uniform_with: str | None = None
    proxy: str | None = None
    temp_key: bool = False

    def __post_init__(self) -> None:
        if not self.id or not isinstance(self.id, str):
            raise InvalidArgument("a scenario needs a non-empty string id")
        if self.expect not in ("reject", "accept", "deprecated"):
            raise InvalidArgument(f"{self.id}: expect must be 'reject', 'accept' or 'deprecated'")
        if self.mutation not in MUTATIONS:
            raise InvalidArgument(f"{self.id}: unknown mutation kind {self.mutation!r}")
        if self.framing not in _FRAMINGS:
            raise InvalidArgument(f"{self.id}: framing must be one of {_FRAMINGS}")
        if self.proxy not in (None, *PROXIES):
            raise InvalidArgument(f"{self.id}: proxy must be one of {PROXIES}")
        if not isinstance(self.temp_key, bool):
            raise InvalidArgument(f"{self.id}: temp_key must be true or false")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def kind(self) -> MutationKind:
        return MUTATIONS[self.mutation]

    @property
    def role(self) -> Role:
        """Who this scenario tests (from its mutation kind)."""
        return self.kind.role

    @property
    def phase(self) -> Phase:
        return self.kind.phase

    def plan(self) -> Any:
        """Build the mutation's plan (validates the parameters)."""
        try:
            return self.kind.build(**self.params)
        except TypeError as exc:
            raise InvalidArgument(f"{self.id}: bad parameters for {self.mutation}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "description": self.description,
            "mutation": self.mutation,
            "params": dict(self.params),
            "expect": self.expect,
            "checklist": self.checklist,
        }
        if self.framing != "intermediate":
            out["framing"] = self.framing
        if self.obfuscated:
            out["obfuscated"] = True
        if self.uniform_with:
            out["uniform_with"] = self.uniform_with
        if self.proxy:
            out["proxy"] = self.proxy
        if self.temp_key:
            out["temp_key"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        allowed = {
            "id",
            "description",
            "mutation",
            "params",
            "expect",
            "checklist",
            "framing",
            "obfuscated",
            "uniform_with",
            "proxy",
            "temp_key",
        }
        unknown = set(data) - allowed
        if unknown:
            raise InvalidArgument(f"scenario {data.get('id')!r}: unknown keys {sorted(unknown)}")
        try:
            return cls(**dict(data))
        except TypeError as exc:
            raise InvalidArgument(f"scenario {data.get('id')!r}: {exc}") from None


def scenarios_from_data(data: Any) -> list[Scenario]:
    """Scenarios from decoded JSON/TOML: a list of tables, or a table with a
    ``scenario`` (or ``scenarios``) list."""
    if isinstance(data, Mapping):
        data = data.get("scenario", data.get("scenarios"))
    if not isinstance(data, list):
        raise InvalidArgument("expected a list of scenarios (or a table with 'scenario')")
    return [Scenario.from_dict(item) for item in data]


def load_scenarios(path: str | Path) -> list[Scenario]:
    """Read scenarios from a ``.json`` or ``.toml`` file."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    if p.suffix == ".toml":
        return scenarios_from_data(tomllib.loads(text))
    return scenarios_from_data(json.loads(text))


def check_unique(scenarios: Iterable[Scenario]) -> None:
    seen: set[str] = set()
    for scenario in scenarios:
        if scenario.id in seen:
            raise InvalidArgument(f"duplicate scenario id {scenario.id!r}")
        seen.add(scenario.id)
