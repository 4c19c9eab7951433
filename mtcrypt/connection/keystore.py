"""Where a server keeps the auth keys it created: an interface and a bounded
in-memory default.

A server looks a key up by its id for every encrypted packet, adds one per
completed handshake, and records bindings of temporary keys.  Persistence is
the application's: implement :class:`KeyStore` over a database (the guide
``docs/guides/client-server.md`` has a ``sqlite3`` example) and pass it to the
server.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from .._validation import is_int
from ..errors import InvalidArgument, InvalidType
from ..mtproto import AuthKey

__all__ = ["KeyStore", "MemoryKeyStore", "StoredKey"]


@dataclass(frozen=True, slots=True)
class StoredKey:
    """An auth key a server knows, with what it needs to serve it."""

    auth_key: AuthKey
    salt: int
    """The first server salt (from the handshake)."""
    created_at: float
    expires_at: float | None = None
    """Temporary keys: when the key stops being accepted (server time)."""
    perm_key_id: int | None = None
    """Temporary keys: the permanent key it is bound to, once bound."""

    @property
    def key_id(self) -> int:
        return self.auth_key.key_id

    @property
    def temporary(self) -> bool:
        return self.expires_at is not None

    def __repr__(self) -> str:  # never the key itself
        return (
            f"StoredKey(key_id={self.key_id:#x}, temporary={self.temporary}, "
            f"perm_key_id={self.perm_key_id})"
        )


@runtime_checkable
class KeyStore(Protocol):
    """What a server needs from a key store.  Calls come from the event-loop
    thread; a slow backend should cache."""

    def get(self, key_id: int, now: float) -> StoredKey | None:
        """The key with this id, or None (unknown, or a temporary key past
        ``expires_at``)."""
        ...

    def add(self, entry: StoredKey) -> None:
        """Remember a new key (replacing one with the same id)."""
        ...

    def bind(self, temp_key_id: int, perm_key_id: int) -> None:
        """Record that a temporary key is bound to a permanent one (a permanent
        key has one temporary key at a time: an earlier binding ends)."""
        ...

    def remove(self, key_id: int) -> None:
        """Forget a key (no error if unknown)."""
        ...


class MemoryKeyStore:
    """The default :class:`KeyStore`: a dict with caps.

    At most ``max_keys`` permanent and ``max_temporary_keys`` temporary keys
    are kept; past a cap the least recently used key of that kind is dropped
    (its client gets -404 and creates a new one, which is what Telegram's
    clients do).  Temporary keys are dropped once expired."""

    def __init__(self, *, max_keys: int = 100_000, max_temporary_keys: int = 100_000) -> None:
        for name, value in (("max_keys", max_keys), ("max_temporary_keys", max_temporary_keys)):
            if not is_int(value) or value < 1:
                raise InvalidArgument(f"{name} must be a positive int")
        self._caps = {False: max_keys, True: max_temporary_keys}
        self._keys: dict[bool, OrderedDict[int, StoredKey]] = {
            False: OrderedDict(),
            True: OrderedDict(),
        }
        self._bound: dict[int, int] = {}  # permanent key id -> its temporary key id
        self.evicted = 0
        """Keys dropped because a cap was reached."""

    def __len__(self) -> int:
        return len(self._keys[False]) + len(self._keys[True])

    def get(self, key_id: int, now: float) -> StoredKey | None:
        for temporary in (False, True):
            entries = self._keys[temporary]
            entry = entries.get(key_id)
            if entry is None:
                continue
            if entry.expires_at is not None and entry.expires_at <= now:
                del entries[key_id]
                return None
            entries.move_to_end(key_id)
            return entry
        return None

    def add(self, entry: StoredKey) -> None:
        if not isinstance(entry, StoredKey):
            raise InvalidType("a key store holds StoredKey values")
        self.remove(entry.key_id)
        entries = self._keys[entry.temporary]
        entries[entry.key_id] = entry
        while len(entries) > self._caps[entry.temporary]:
            entries.popitem(last=False)
            self.evicted += 1

    def bind(self, temp_key_id: int, perm_key_id: int) -> None:
        entries = self._keys[True]
        entry = entries.get(temp_key_id)
        if entry is None:
            return
        previous = self._bound.get(perm_key_id)
        if previous is not None and previous != temp_key_id and previous in entries:
            # "Binding a new temporary key overwrites the previous one."
            entries[previous] = replace(entries[previous], perm_key_id=None)
        self._bound[perm_key_id] = temp_key_id
        entries[temp_key_id] = replace(entry, perm_key_id=perm_key_id)

    def remove(self, key_id: int) -> None:
        for entries in self._keys.values():
            entries.pop(key_id, None)
        self._bound.pop(key_id, None)

    def expire(self, now: float) -> int:
        """Drop every expired temporary key; returns how many."""
        entries = self._keys[True]
        dead = [k for k, e in entries.items() if e.expires_at is not None and e.expires_at <= now]
        for key_id in dead:
            del entries[key_id]
        return len(dead)

    def __repr__(self) -> str:
        return (
            f"MemoryKeyStore(permanent={len(self._keys[False])}, temporary={len(self._keys[True])})"
        )
