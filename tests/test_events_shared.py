"""What every event module promises alike: events are frozen, slotted dataclasses
compared by value, and a repr never shows a payload the event hides."""

from __future__ import annotations

import dataclasses
from types import ModuleType

import pytest

from mtcrypt.connection import events as connection_events
from mtcrypt.e2e import events as e2e_events
from mtcrypt.mtproto import session_events
from mtcrypt.transport import events as transport_events

MODULES = (connection_events, session_events, e2e_events, transport_events)
MUTABLE = {session_events.SessionStats}  # counters, not an event


def _dataclasses(module: ModuleType) -> list[type]:
    found = (getattr(module, name) for name in module.__all__)
    return [c for c in found if isinstance(c, type) and dataclasses.is_dataclass(c)]


EVENT_CLASSES = [c for m in MODULES for c in _dataclasses(m) if c not in MUTABLE]


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_events_are_frozen_slotted_values(cls: type) -> None:
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen and params.eq
    # slotted all the way up, so an instance has no __dict__ to hide state in
    assert all("__slots__" in vars(klass) for klass in cls.__mro__[:-1])


SECRET = b"\xa5secret payload\x5a" * 4


@pytest.mark.parametrize(
    "event",
    [
        connection_events.ResultReceived(7, SECRET),
        connection_events.UpdateReceived(8, SECRET),
        connection_events.IncomingRequest(1, 2, 3, SECRET, SECRET),
        e2e_events.Outgoing(SECRET, 5, 0, 1, False, 9),
        transport_events.Frame(SECRET),
    ],
    ids=lambda e: type(e).__name__,
)
def test_reprs_hide_payloads(event: object) -> None:
    text = repr(event)
    assert text.startswith(type(event).__name__ + "(")
    assert "secret" not in text and repr(SECRET)[:8] not in text


def test_equality_is_by_class_and_value() -> None:
    assert connection_events.RequestTimedOut(1) == connection_events.RequestTimedOut(1)
    same_fields: list[tuple[object, object]] = [
        (session_events.Request(1, b"q"), session_events.Update(1, b"q")),
        (e2e_events.OldKeyDiscarded(5), e2e_events.RekeyAborted(5)),
    ]
    for one, other in same_fields:
        assert one != other
    with pytest.raises(dataclasses.FrozenInstanceError):
        connection_events.PongReceived(1, 2).ping_id = 3  # type: ignore[misc]
