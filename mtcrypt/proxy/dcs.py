"""Where the relay sends each DC id a client asks for.

The id is the one an official client writes into its obfuscated2 header
(``init[60:62]``, int16 LE; digest §6.4): ``1..5`` for the production DCs,
negated for a DC's media servers, plus 10000 for the test DCs (and negated for
test media).  :meth:`DcTable.resolve` maps it as the clients expect:

* an exact entry wins (``-2`` and ``-4`` have their own media addresses by
  default);
* a media id without its own entry goes to the DC's main address, as
  mtprotoproxy and mtg do (``abs(dc)``);
* a test id (above :data:`TEST_DC_OFFSET`) only matches test entries, so it
  never reaches a production DC.

Anything else (0, an unknown DC) resolves to None, and the relay closes the
connection.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from .._validation import check_int
from ..errors import InvalidArgument

__all__ = ["TELEGRAM_DCS", "TEST_DC_OFFSET", "DcTable"]

TEST_DC_OFFSET: Final = 10000

TELEGRAM_DCS: Final[Mapping[int, tuple[str, int]]] = {
    1: ("149.154.175.50", 443),
    2: ("149.154.167.51", 443),
    3: ("149.154.175.100", 443),
    4: ("149.154.167.91", 443),
    5: ("91.108.56.100", 443),
    -2: ("149.154.167.151", 443),
    -4: ("149.154.164.250", 443),
    10001: ("149.154.175.10", 443),
    10002: ("149.154.167.40", 443),
    10003: ("149.154.175.117", 443),
}
"""Telegram's published IPv4 addresses, by the id a client writes into its
header: production DCs 1-5, the media servers of DCs 2 and 4 (``-2``, ``-4``)
and test DCs 1-3 (``10001``-``10003``), all on port 443."""


class DcTable:
    """DC id to ``(host, port)``; starts from ``addresses`` (default
    :data:`TELEGRAM_DCS`), entries replaced or added by ``overrides``."""

    __slots__ = ("_addresses",)

    def __init__(
        self,
        overrides: Mapping[int, tuple[str, int]] | None = None,
        *,
        addresses: Mapping[int, tuple[str, int]] = TELEGRAM_DCS,
    ) -> None:
        table: dict[int, tuple[str, int]] = {}
        for source in (addresses, overrides or {}):
            for dc_id, where in source.items():
                check_int(dc_id, "dc_id", -0x8000, 0x7FFF)
                if dc_id == 0:
                    raise InvalidArgument("DC id 0 is not a DC")
                if (
                    not isinstance(where, tuple)
                    or len(where) != 2
                    or not isinstance(where[0], str)
                    or not where[0]
                ):
                    raise InvalidArgument(f"DC {dc_id}: the address is a (host, port) pair")
                check_int(where[1], "port", 1, 65535)
                table[dc_id] = (where[0], where[1])
        self._addresses = table

    def resolve(self, dc_id: int) -> tuple[str, int] | None:
        """The address for a client's ``dc_id``, or None (see the module docs)."""
        found = self._addresses.get(dc_id)
        if found is None and dc_id < 0:
            found = self._addresses.get(-dc_id)
        return found

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self._addresses))

    def __len__(self) -> int:
        return len(self._addresses)

    def __repr__(self) -> str:
        return f"DcTable({len(self._addresses)} DCs)"
