"""The API's query wrappers: ``invokeWithLayer``, ``invokeWithoutUpdates``,
``initConnection`` (any nesting), removed before a server's handler sees the
query."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .. import tl
from ..errors import TLError

__all__ = ["Unwrapped", "unwrap_query"]

_INVOKE_WITH_LAYER = 0xDA9B0D0D
_INVOKE_WITHOUT_UPDATES = 0xBF9459B7
_INIT_CONNECTION = 0xC1CD5EA9
_MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Unwrapped:
    """A query without its wrappers, and what the wrappers said."""

    query: bytes
    layer: int | None = None
    api_id: int | None = None


def unwrap_query(body: bytes) -> Unwrapped:
    """Strip the wrappers and return the query inside.  A wrapper that does not
    parse is left in place (the handler sees it and can answer an error)."""
    layer: int | None = None
    api_id: int | None = None
    for _ in range(_MAX_DEPTH):
        if len(body) < 4:
            break
        (cid,) = struct.unpack_from("<I", body)
        if cid == _INVOKE_WITH_LAYER and len(body) >= 12:
            (layer,) = struct.unpack_from("<i", body, 4)
            body = body[8:]
        elif cid == _INVOKE_WITHOUT_UPDATES:
            body = body[4:]
        elif cid == _INIT_CONNECTION:
            try:
                obj = tl.deserialize(body)
            except TLError:
                break
            query = obj.query
            if isinstance(query, bytes):
                inner = query
            elif isinstance(query, tl.TLObject):
                inner = tl.serialize(query)
            else:
                break
            api_id = obj.api_id if isinstance(obj.api_id, int) else None
            body = inner
        else:
            break
    return Unwrapped(body, layer, api_id)
