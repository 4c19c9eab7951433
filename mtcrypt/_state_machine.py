"""The one way mtcrypt's sans-I/O state machines move: a read-only table of
``(state, input) -> next state`` and the step that looks a pair up.

* :func:`transitions` builds a table from its readable form, grouped by state
  (``{STATE: {INPUT: NEXT, ...}, ...}``), as the read-only mapping keyed by
  ``(state, input)`` that each machine publishes (``CLIENT_TRANSITIONS``, ...).
* :func:`step` is the lookup: the next state, or the machine's own refusal
  raised (each machine keeps the exception it always raised).
* :class:`StateMachine` is that step for a machine holding its state in
  ``_state``: ``_next(input)`` and ``_advance(input)``, the only place the
  state changes.

A root-level private module: it imports only the standard library, so every
layer may use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from types import MappingProxyType
from typing import Generic, TypeVar

__all__ = ["StateMachine", "step", "transitions"]

StateT = TypeVar("StateT", bound=Enum)
InputT = TypeVar("InputT", bound=Enum)


def transitions(
    by_state: Mapping[StateT, Mapping[InputT, StateT]],
) -> MappingProxyType[tuple[StateT, InputT], StateT]:
    """The read-only table of every allowed ``(state, input) -> next state``,
    from the same pairs grouped by state."""
    return MappingProxyType(
        {(state, event): nxt for state, moves in by_state.items() for event, nxt in moves.items()}
    )


def step(
    table: Mapping[tuple[StateT, InputT], StateT],
    state: StateT,
    event: InputT,
    refusal: Callable[[InputT], Exception],
) -> StateT:
    """The state ``event`` leads to from ``state``; a pair not in ``table``
    raises ``refusal(event)`` (nothing changes)."""
    nxt = table.get((state, event))
    if nxt is None:
        raise refusal(event)
    return nxt


class StateMachine(Generic[StateT, InputT]):
    """A machine whose state is ``_state`` and whose class names its table in
    ``_transitions``; :meth:`_refusal` is the error for a pair not in it."""

    _transitions: Mapping[tuple[StateT, InputT], StateT]
    _state: StateT

    def _refusal(self, event: InputT) -> Exception:
        """The error for ``event`` where the table has no move for it."""
        raise NotImplementedError

    def _next(self, event: InputT) -> StateT:
        """The state ``event`` leads to from here, or the refusal."""
        return step(self._transitions, self._state, event, self._refusal)

    def _advance(self, event: InputT) -> None:
        """The only place the state changes."""
        self._state = self._next(event)
