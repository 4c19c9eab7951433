"""The relay's counters, and their Prometheus text exposition.

Counters are 64-bit integers in one flat buffer: a process's own ``bytearray``,
or its row of a shared-memory block when several worker processes serve one
port (each worker writes only its own row; :func:`prometheus_text` sums the
rows).  No locks: one writer per row, and a reader that sees a counter a few
bytes behind is still reading a valid count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ..errors import InvalidArgument, InvalidLength

__all__ = ["GLOBAL_COUNTERS", "SECRET_COUNTERS", "RelayStats", "prometheus_text"]

_COUNTERS: Final = (
    # (True: one per secret / False: proxy-wide, name, Prometheus type, help)
    (True, "connections_total", "counter", "Clients recognised under this secret."),
    (True, "connections_open", "gauge", "Clients relayed under this secret now."),
    (True, "bytes_from_clients_total", "counter", "Payload bytes relayed from clients to DCs."),
    (True, "bytes_to_clients_total", "counter", "Payload bytes relayed from DCs to clients."),
    (True, "refused_total", "counter", "Clients turned away at the per-secret connection cap."),
    (False, "accepted_total", "counter", "TCP connections accepted."),
    (False, "refused_total", "counter", "TCP connections closed at once at the global cap."),
    (
        False,
        "masked_total",
        "counter",
        "Connections that failed the checks, handed to the mask host.",
    ),
    (False, "held_total", "counter", "Connections that failed the checks, held silently."),
    (False, "dc_failures_total", "counter", "Recognised clients whose DC could not be reached."),
    (False, "handshake_timeouts_total", "counter", "Connections with no valid handshake in time."),
)

SECRET_COUNTERS: Final = tuple(row[1:] for row in _COUNTERS if row[0])
"""Per secret: (name, Prometheus type, help)."""

GLOBAL_COUNTERS: Final = tuple(row[1:] for row in _COUNTERS if not row[0])
"""Proxy-wide: (name, Prometheus type, help)."""

_PREFIX: Final = "mtcrypt_proxy_"


def row_size(secret_count: int) -> int:
    """Bytes one set of counters takes for ``secret_count`` secrets."""
    return 8 * (len(GLOBAL_COUNTERS) + secret_count * len(SECRET_COUNTERS))


class RelayStats:
    """One process's counters, by secret name and proxy-wide.

    ``buffer``: where the counters live (``row_size(len(names))`` bytes,
    zeroed); default a private one.
    """

    __slots__ = ("_index", "_values", "names")

    def __init__(self, names: Sequence[str], buffer: memoryview | bytearray | None = None) -> None:
        self.names = tuple(names)
        if len(set(self.names)) != len(self.names):
            raise InvalidArgument("secret names must be unique")
        size = row_size(len(self.names))
        raw = memoryview(bytearray(size) if buffer is None else buffer)
        if raw.nbytes != size:
            raise InvalidLength(f"the stats buffer must be {size} bytes")
        self._values = raw.cast("B").cast("q")
        self._index = {name: i for i, name in enumerate(self.names)}

    def secret_slot(self, name: str) -> int:
        """The offset of ``name``'s counters (for :meth:`add`)."""
        return len(GLOBAL_COUNTERS) + self._index[name] * len(SECRET_COUNTERS)

    def add(self, slot: int, field: int, amount: int = 1) -> None:
        """Add ``amount`` to counter ``field`` of the set at ``slot`` (0: the
        proxy-wide set, else :meth:`secret_slot`)."""
        self._values[slot + field] += amount

    def get(self, counter: str, secret: str | None = None) -> int:
        """A counter's value, e.g. ``get("bytes_to_clients_total", "tls")``
        or ``get("masked_total")``."""
        if secret is None:
            return int(self._values[_field(GLOBAL_COUNTERS, counter)])
        return int(self._values[self.secret_slot(secret) + _field(SECRET_COUNTERS, counter)])

    @property
    def values(self) -> memoryview:
        """The counters, as 64-bit integers (read-only view)."""
        return self._values.toreadonly()


def _field(table: tuple[tuple[str, str, str], ...], name: str) -> int:
    for i, (field, _, _) in enumerate(table):
        if field == name:
            return i
    raise InvalidArgument(f"no counter named {name!r}")


# The indexes the I/O layer adds to (positions in the tables above).
CONNECTIONS_TOTAL, CONNECTIONS_OPEN, BYTES_FROM_CLIENTS, BYTES_TO_CLIENTS, SECRET_REFUSED = range(5)
ACCEPTED, REFUSED, MASKED, HELD, DC_FAILURES, HANDSHAKE_TIMEOUTS = range(6)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(names: Sequence[str], rows: Sequence[memoryview]) -> str:
    """The Prometheus text exposition (format 0.0.4) of the sum of ``rows``
    (each :attr:`RelayStats.values`, one per process)."""
    per_row = len(GLOBAL_COUNTERS) + len(names) * len(SECRET_COUNTERS)
    total = [0] * per_row
    for row in rows:
        if len(row) != per_row:
            raise InvalidLength("a stats row of the wrong size")
        for i in range(per_row):
            total[i] += row[i]
    lines: list[str] = []
    for i, (name, kind, text) in enumerate(GLOBAL_COUNTERS):
        metric = _PREFIX + name
        lines += [f"# HELP {metric} {text}", f"# TYPE {metric} {kind}", f"{metric} {total[i]}"]
    for j, (name, kind, text) in enumerate(SECRET_COUNTERS):
        metric = f"{_PREFIX}secret_{name}"
        lines += [f"# HELP {metric} {text}", f"# TYPE {metric} {kind}"]
        for k, secret in enumerate(names):
            value = total[len(GLOBAL_COUNTERS) + k * len(SECRET_COUNTERS) + j]
            lines.append(f'{metric}{{secret="{_label(secret)}"}} {value}')
    return "\n".join(lines) + "\n"
