"""Schema-driven TL serialization of :class:`TLObject` values.

Python representation of TL values:

* ``int``, ``long``: :class:`int` (signed);
* ``double``: :class:`float`;
* ``string``, ``bytes``: :class:`bytes` (a :class:`str` is accepted when
  encoding, as UTF-8);
* ``int128``, ``int256``: :class:`bytes` of length 16 or 32, the raw wire
  bytes (the protocol hashes and compares them byte-wise);
* ``Bool`` and ``flags.N?true``: :class:`bool`;
* ``flags.N?T``: the value, or ``None`` when absent;
* ``Vector<T>``, ``vector<T>``: :class:`list`;
* a constructor: :class:`TLObject`;
* ``Object``, ``!X``: a :class:`TLObject` if the id is in the schema, else
  the raw serialized object as :class:`bytes`.

Derived fields are not stored: ``flags:#`` words are computed from the
optional fields, and ``message.bytes`` from the body length.

Decoding raises only :class:`~mtcrypt.errors.TLError`. Encoding validates its
input and raises :class:`~mtcrypt.errors.InvalidArgument` or
:class:`~mtcrypt.errors.InvalidType` for bad values.

Special cases the schema alone cannot express:

* ``message`` (the element of ``msg_container``): the body is confined to the
  ``bytes`` that precede it; the length must be a positive multiple of 4 and
  the body must fill it exactly.
* ``msg_container``: at most :attr:`Limits.max_container_messages` messages,
  and no container inside a container.
* ``Object`` and ``!X`` fields: an object whose id the schema does not know
  cannot be delimited, so it is taken to extend to the end of the enclosing
  region (the message body, the decompressed gzip data or the whole input).
  That matches every place the protocol uses them: ``rpc_result.result``,
  ``message.body`` and the ``query`` of the ``invoke*``/``initConnection``
  wrappers are all last in their region.
* ``gzip_packed``: kept as is by default; with ``unpack_gzip=True`` a
  ``gzip_packed`` in an ``Object``/``!X`` position (or at the top level) is
  replaced by its decompressed content. Decompression is bounded by
  :attr:`Limits.max_gzip_size` in total per call.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeAlias, TypeVar, cast

from mtcrypt._validation import BytesLike, is_int
from mtcrypt.errors import InvalidArgument, InvalidType, TLError

from .primitives import (
    MAX_BYTES_LENGTH,
    VECTOR_ID,
    Reader,
    pack_bool,
    pack_double,
    pack_int,
    pack_int128,
    pack_int256,
    pack_long,
    pack_string,
    pack_uint,
)
from .schema import Combinator, Kind, Schema, TLType, default_schema

__all__ = [
    "DEFAULT_LIMITS",
    "Codec",
    "Limits",
    "TLObject",
    "TLValue",
    "gunzip",
]

TLValue: TypeAlias = "int | float | bytes | bool | TLObject | list[TLValue] | None"

# The official schema gives these no id: they never appear boxed, so an
# `Object` starting with their id is treated as an unknown object.
_BARE_ONLY = frozenset({"message", "rsa_public_key"})

_GZIP_WBITS = 16 + zlib.MAX_WBITS  # gzip container only, as Telegram sends

_GZIP_CHUNK = 1 << 16

_T = TypeVar("_T")

# msgs_ack is the most frequent service message: the codec reads a plain one
# in one unpack (anything unusual takes the general path, which explains it).
# tests/test_tl.py checks that both paths agree on every input.
_MSGS_ACK_HEAD = struct.Struct("<IIi")
_MSGS_ACK_ID = 0x62D6B459
_MSGS_ACK_TEXT = "msgs_ack#62d6b459msg_ids:Vector<long>=MsgsAck"


def _fast_msgs_ack(data: BytesLike) -> TLObject | None:
    if type(data) is not bytes or len(data) < 12:
        return None
    cid, vector, count = _MSGS_ACK_HEAD.unpack_from(data)
    if cid != _MSGS_ACK_ID or vector != VECTOR_ID or count < 0 or len(data) != 12 + 8 * count:
        return None
    return _decoded("msgs_ack", {"msg_ids": list(struct.unpack_from(f"<{count}q", data, 12))})


@dataclass(frozen=True, slots=True, repr=False)
class TLObject:
    """An immutable TL constructor or function call: its name and fields.

    Fields are also readable as attributes (``obj.nonce``). Equality compares
    the name and every field; objects are not hashable (fields hold lists).
    The ``repr`` shows byte strings only by length, so that nonces and keys
    never reach a log line. Prefer :meth:`Codec.make` to the constructor: it
    validates the fields and puts them in the canonical form decoding yields.
    """

    name: str
    fields: Mapping[str, TLValue]

    def __post_init__(self) -> None:
        # A private copy behind a read-only view: the object stays a value.
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") or attr in ("name", "fields"):
            raise AttributeError(attr)
        try:
            return self.fields[attr]
        except KeyError:
            raise AttributeError(f"TL object {self.name} has no field {attr!r}") from None

    def __getitem__(self, key: str) -> TLValue:
        return self.fields[key]

    def __reduce__(self) -> tuple[type[TLObject], tuple[str, dict[str, TLValue]]]:
        # A mappingproxy cannot be pickled; rebuild from a plain dict.
        return (TLObject, (self.name, dict(self.fields)))

    def __repr__(self) -> str:
        inner = ", ".join(f"{key}={_redacted(value)}" for key, value in self.fields.items())
        return f"TLObject({self.name}{', ' if inner else ''}{inner})"


_new_object = object.__new__
_set = object.__setattr__


def _decoded(name: str, fields: dict[str, TLValue]) -> TLObject:
    """A TLObject around a dict the decoder has just built and nobody else holds:
    the same object the constructor makes, without its defensive copy or the
    frozen dataclass's slower ``__init__`` (decoding builds one per object)."""
    obj = _new_object(TLObject)
    _set(obj, "name", name)
    _set(obj, "fields", MappingProxyType(fields))
    return obj


def _redacted(value: object) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, list):
        return "[" + ", ".join(_redacted(v) for v in value) + "]"
    return repr(value)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds applied while decoding untrusted TL data."""

    #: Deepest nesting of constructors (containers, results, JSON values).
    max_depth: int = 32
    #: Total bytes that gzip_packed decompression may produce in one call.
    max_gzip_size: int = 16 * 1024 * 1024
    #: Most messages accepted in one msg_container (the protocol's limit).
    max_container_messages: int = 1024
    #: Longest string/bytes value accepted.
    max_bytes_length: int = MAX_BYTES_LENGTH
    #: Reject non-zero string padding and non-canonical length prefixes.
    strict_padding: bool = False

    def __post_init__(self) -> None:
        for name in ("max_depth", "max_gzip_size", "max_container_messages", "max_bytes_length"):
            value = getattr(self, name)
            if not is_int(value) or value < 0:
                raise InvalidArgument(f"Limits.{name} must be a non-negative int")


DEFAULT_LIMITS = Limits()


def gunzip(packed: BytesLike, *, max_size: int) -> bytes:
    """Decompress ``gzip_packed.packed_data``, producing at most ``max_size`` bytes.

    Raises :class:`TLError` if the output would exceed ``max_size``, or if the
    stream is corrupt, truncated or followed by trailing data.
    """
    if max_size < 0:
        raise InvalidArgument("max_size must be non-negative")
    decompressor = zlib.decompressobj(_GZIP_WBITS)
    out = bytearray()
    pending: BytesLike = packed
    # Small steps keep the peak near max_size however large the claimed output.
    while not decompressor.eof:
        try:
            chunk = decompressor.decompress(pending, _GZIP_CHUNK)
        except zlib.error as exc:
            raise TLError(f"corrupt gzip_packed data: {exc}") from None
        if len(out) + len(chunk) > max_size:
            raise TLError(f"gzip_packed data decompresses to more than {max_size} bytes")
        out += chunk
        progressed = bool(chunk) or len(decompressor.unconsumed_tail) != len(pending)
        pending = decompressor.unconsumed_tail
        if not progressed:
            raise TLError("truncated gzip_packed data")
    if decompressor.unused_data or pending:
        raise TLError("trailing bytes after gzip_packed stream")
    return bytes(out)


# The kinds one Reader call decodes; the others need the schema or the limits.
_READS: dict[Kind, Callable[[Reader], TLValue]] = {
    Kind.INT: Reader.read_int32,
    Kind.LONG: Reader.read_int64,
    Kind.BYTES: Reader.read_bytes,
    Kind.INT128: Reader.read_int128,
    Kind.INT256: Reader.read_int256,
    Kind.DOUBLE: Reader.read_double,
    Kind.BOOL: Reader.read_bool,
}


class _Decoder:
    """One decoding call's state: the schema, the limits and the gzip budget."""

    def __init__(self, schema: Schema, limits: Limits, unpack_gzip: bool) -> None:
        self.schema = schema
        self.limits = limits
        self.unpack_gzip = unpack_gzip
        self.gzip_budget = limits.max_gzip_size

    def reader(self, data: BytesLike) -> Reader:
        return Reader(
            data,
            strict_padding=self.limits.strict_padding,
            max_bytes_length=self.limits.max_bytes_length,
        )

    @staticmethod
    def guarded(decode: Callable[[], _T]) -> _T:
        try:
            return decode()
        except RecursionError:
            # Only reachable when max_depth exceeds what the stack can hold.
            raise TLError("TL objects nested too deeply for the stack") from None

    def top_level(self, r: Reader, bare: str | None) -> TLObject:
        if bare is not None:
            return self.bare(r, self.schema[bare], 0, False)
        cid = r.read_uint32()
        comb = self.schema.by_id.get(cid)
        if comb is None or comb.name in _BARE_ONLY:
            raise TLError(f"unknown TL constructor 0x{cid:08x}")
        if comb.name == "gzip_packed" and self.unpack_gzip:
            value = self.gunzipped(r, 0, False, False)
            if not isinstance(value, TLObject):
                raise TLError("unknown TL constructor inside gzip_packed")
            return value
        return self.bare(r, comb, 0, False)

    def any_object(
        self, r: Reader, depth: int, in_container: bool, functions_only: bool
    ) -> TLObject | bytes:
        """An `Object`/`!X` value: the rest of ``r`` if its id is unknown."""
        cid = r.peek_uint32()
        comb = self.schema.by_id.get(cid)
        if comb is None or comb.name in _BARE_ONLY:
            # TL data is whole 4-byte words: the encoder refuses a raw object
            # of another length, so the decoder must not produce one.
            if r.remaining % 4:
                raise TLError(f"unknown TL object of {r.remaining} bytes, not a multiple of 4")
            return r.read_rest()
        if functions_only and not comb.is_function and comb.name != "gzip_packed":
            raise TLError(f"expected a function call, got {comb.name}")
        r.read_uint32()
        if comb.name == "gzip_packed" and self.unpack_gzip:
            return self.gunzipped(r, depth, in_container, functions_only)
        return self.bare(r, comb, depth, in_container)

    def gunzipped(
        self, r: Reader, depth: int, in_container: bool, functions_only: bool
    ) -> TLObject | bytes:
        """The content of a gzip_packed whose id has just been read."""
        if depth > self.limits.max_depth:
            raise TLError("TL objects nested too deeply")
        data = gunzip(r.read_bytes(), max_size=self.gzip_budget)
        self.gzip_budget -= len(data)
        inner = self.reader(data)
        value = self.any_object(inner, depth + 1, in_container, functions_only)
        inner.expect_end()
        return value

    def bare(self, r: Reader, comb: Combinator, depth: int, in_container: bool) -> TLObject:
        if depth > self.limits.max_depth:
            raise TLError("TL objects nested too deeply")
        if comb.name == "message":
            return self.message(r, depth)
        if comb.name == "msg_container":
            return self.container(r, depth, in_container)
        fields: dict[str, TLValue] = {}
        flag_words: dict[str, int] = {}
        for param in comb.params:
            if param.type.kind is Kind.FLAGS:
                word = r.read_uint32()
                known = _flag_mask(comb, param.name)
                if word & ~known:
                    raise TLError(
                        f"{comb.name}: unknown bits 0x{word & ~known:x} set in {param.name}"
                    )
                flag_words[param.name] = word
                continue
            if param.flag_field is not None and param.flag_bit is not None:
                present = bool(flag_words[param.flag_field] >> param.flag_bit & 1)
                if param.type.kind is Kind.TRUE:
                    fields[param.name] = present
                    continue
                if not present:
                    fields[param.name] = None
                    continue
            fields[param.name] = self.value(r, param.type, depth + 1, in_container)
        return _decoded(comb.name, fields)

    def message(self, r: Reader, depth: int) -> TLObject:
        msg_id = r.read_int64()
        seqno = r.read_int32()
        length = r.read_int32()
        if length < 4 or length % 4:
            raise TLError(f"invalid message body length {length}")
        body_reader = r.sub_reader(length)
        body = self.any_object(body_reader, depth + 1, True, False)
        body_reader.expect_end()
        return _decoded("message", {"msg_id": msg_id, "seqno": seqno, "body": body})

    def container(self, r: Reader, depth: int, in_container: bool) -> TLObject:
        if in_container:
            raise TLError("msg_container nested inside msg_container")
        message_type = TLType(Kind.BARE, name="message")
        count = r.read_vector_count(boxed=False, min_item_size=self.schema.min_size(message_type))
        if count > self.limits.max_container_messages:
            raise TLError(f"msg_container holds {count} messages, over the limit")
        messages: list[TLValue] = [self.message(r, depth + 1) for _ in range(count)]
        return _decoded("msg_container", {"messages": messages})

    def value(self, r: Reader, t: TLType, depth: int, in_container: bool) -> TLValue:
        kind = t.kind
        read = _READS.get(kind)
        if read is not None:
            return read(r)
        if kind is Kind.VECTOR or kind is Kind.BARE_VECTOR:
            assert t.item is not None
            item = t.item
            count = r.read_vector_count(
                boxed=kind is Kind.VECTOR, min_item_size=self.schema.min_size(item)
            )
            if item.kind is Kind.LONG:  # msgs_ack, resend requests: one unpack
                return r.read_int64s(count)  # type: ignore[return-value]
            if item.kind is Kind.INT:
                return r.read_int32s(count)  # type: ignore[return-value]
            return [self.value(r, item, depth, in_container) for _ in range(count)]
        if kind is Kind.BARE:
            return self.bare(r, self.schema[t.name], depth, in_container)
        if kind is Kind.BOXED:
            cid = r.read_uint32()
            comb = self.schema.by_id.get(cid)
            if comb is None or comb.is_function or comb.result != t.name or comb.name in _BARE_ONLY:
                raise TLError(f"expected {t.name}, got constructor 0x{cid:08x}")
            return self.bare(r, comb, depth, in_container)
        if kind is Kind.OBJECT or kind is Kind.FUNCTION:
            return self.any_object(r, depth, in_container, kind is Kind.FUNCTION)
        raise TLError(f"cannot decode TL type {kind.value}")  # TRUE/FLAGS never get here


def _flag_mask(comb: Combinator, flag_field: str) -> int:
    mask = 0
    for param in comb.params:
        if param.flag_field == flag_field and param.flag_bit is not None:
            mask |= 1 << param.flag_bit
    return mask


class _Encoder:
    def __init__(self, schema: Schema, limits: Limits) -> None:
        self.schema = schema
        self.limits = limits

    def combinator(self, obj: object) -> Combinator:
        if not isinstance(obj, TLObject):
            raise InvalidType(f"expected a TLObject, got {type(obj).__name__}")
        if obj.name not in self.schema:
            raise InvalidArgument(f"unknown TL combinator {obj.name!r}")
        return self.schema[obj.name]

    def boxed(self, out: bytearray, obj: TLObject, depth: int, in_container: bool) -> None:
        comb = self.combinator(obj)
        if comb.name in _BARE_ONLY:
            raise InvalidArgument(f"{comb.name} is bare-only; serialize it with boxed=False")
        out += pack_uint(comb.id)
        self.bare(out, obj, comb, depth, in_container)

    def bare(
        self, out: bytearray, obj: TLObject, comb: Combinator, depth: int, in_container: bool
    ) -> None:
        if depth > self.limits.max_depth:
            raise InvalidArgument("TL objects nested too deeply")
        if comb.name == "message":
            self.message(out, obj, depth, in_container)
            return
        if comb.name == "msg_container":
            if in_container:
                raise InvalidArgument("msg_container nested inside msg_container")
            in_container = True
        fields = obj.fields
        expected = {p.name for p in comb.value_params}
        unknown = set(fields) - expected
        if unknown:
            raise InvalidArgument(f"{comb.name} has no field(s) {sorted(unknown)}")
        flag_words: dict[str, int] = {}
        for param in comb.params:
            if param.flag_field is not None and param.flag_bit is not None:
                value = fields.get(param.name)
                if value is not None and value is not False:
                    flag_words[param.flag_field] = (
                        flag_words.get(param.flag_field, 0) | 1 << param.flag_bit
                    )
        for param in comb.params:
            if param.type.kind is Kind.FLAGS:
                out += pack_uint(flag_words.get(param.name, 0))
                continue
            value = fields.get(param.name)
            if param.is_optional:
                if param.type.kind is Kind.TRUE:
                    if not isinstance(value, bool | None):
                        raise InvalidType(f"{comb.name}.{param.name} must be a bool")
                    continue
                if value is None:
                    continue
            elif param.name not in fields:
                raise InvalidArgument(f"{comb.name} is missing field {param.name!r}")
            try:
                self.value(out, value, param.type, depth + 1, in_container)
            except (InvalidArgument, InvalidType) as exc:
                raise type(exc)(f"{comb.name}.{param.name}: {exc}") from None

    def message(self, out: bytearray, obj: TLObject, depth: int, in_container: bool) -> None:
        unknown = set(obj.fields) - {"msg_id", "seqno", "body"}
        if unknown:
            raise InvalidArgument(f"message has no field(s) {sorted(unknown)}")
        for name in ("msg_id", "seqno", "body"):
            if name not in obj.fields:
                raise InvalidArgument(f"message is missing field {name!r}")
        body = bytearray()
        self.value(body, obj.fields["body"], TLType(Kind.OBJECT), depth + 1, True)
        out += pack_long(_int(obj.fields["msg_id"]))
        out += pack_int(_int(obj.fields["seqno"]))
        out += pack_int(len(body))
        out += body

    def value(
        self, out: bytearray, value: object, t: TLType, depth: int, in_container: bool
    ) -> None:
        kind = t.kind
        if kind is Kind.INT:
            out += pack_int(_int(value))
        elif kind is Kind.LONG:
            out += pack_long(_int(value))
        elif kind is Kind.BYTES:
            if not isinstance(value, str | BytesLike):
                raise InvalidType(f"expected bytes or str, got {type(value).__name__}")
            out += pack_string(value)
        elif kind is Kind.INT128 or kind is Kind.INT256:
            if not isinstance(value, BytesLike):
                raise InvalidType(f"expected raw bytes, got {type(value).__name__}")
            out += pack_int128(value) if kind is Kind.INT128 else pack_int256(value)
        elif kind is Kind.DOUBLE:
            if not (isinstance(value, float) or is_int(value)):
                raise InvalidType(f"expected a float, got {type(value).__name__}")
            out += pack_double(value)
        elif kind is Kind.BOOL:
            if not isinstance(value, bool):
                raise InvalidType(f"expected a bool, got {type(value).__name__}")
            out += pack_bool(value)
        elif kind is Kind.VECTOR or kind is Kind.BARE_VECTOR:
            if not isinstance(value, list | tuple):
                raise InvalidType(f"expected a list, got {type(value).__name__}")
            assert t.item is not None
            if kind is Kind.VECTOR:
                out += pack_uint(VECTOR_ID)
            out += pack_int(len(value))
            for item in value:
                self.value(out, item, t.item, depth, in_container)
        elif kind is Kind.BARE:
            comb = self.combinator(value)
            if comb.name != t.name:
                raise InvalidArgument(f"expected bare {t.name}, got {comb.name}")
            assert isinstance(value, TLObject)
            self.bare(out, value, comb, depth, in_container)
        elif kind is Kind.BOXED:
            comb = self.combinator(value)
            if comb.is_function or comb.result != t.name:
                raise InvalidArgument(f"expected a {t.name} constructor, got {comb.name}")
            assert isinstance(value, TLObject)
            self.boxed(out, value, depth, in_container)
        elif kind is Kind.OBJECT or kind is Kind.FUNCTION:
            if isinstance(value, BytesLike):
                raw = bytes(value)
                if len(raw) < 4 or len(raw) % 4:
                    raise InvalidArgument("a raw TL object must be a positive multiple of 4 bytes")
                out += raw
                return
            comb = self.combinator(value)
            if kind is Kind.FUNCTION and not comb.is_function and comb.name != "gzip_packed":
                raise InvalidArgument(f"expected a function call, got {comb.name}")
            assert isinstance(value, TLObject)
            self.boxed(out, value, depth, in_container)
        else:
            raise InvalidArgument(f"cannot encode TL type {kind.value} here")


def _int(value: object) -> int:
    if type(value) is not int and not is_int(value):
        raise InvalidType(f"expected an int, got {type(value).__name__}")
    return value


def _normalize(value: object, t: TLType) -> object:
    """Canonical Python form of a field value, as decoding would produce it."""
    kind = t.kind
    if kind is Kind.BYTES and isinstance(value, str):
        return value.encode("utf-8")
    if kind in (Kind.BYTES, Kind.INT128, Kind.INT256, Kind.OBJECT, Kind.FUNCTION) and isinstance(
        value, bytearray | memoryview
    ):
        return bytes(value)
    if kind is Kind.DOUBLE and is_int(value):
        return float(value)
    if (kind is Kind.VECTOR or kind is Kind.BARE_VECTOR) and isinstance(value, list | tuple):
        assert t.item is not None
        item = t.item
        return [_normalize(v, item) for v in value]
    return value


class Codec:
    """TL encoding and decoding bound to one schema and default limits.

    The module-level functions use a shared codec over the built-in schema.
    """

    def __init__(self, schema: Schema | None = None, limits: Limits = DEFAULT_LIMITS) -> None:
        self.schema = schema if schema is not None else default_schema()
        self.limits = limits
        ack = self.schema.by_id.get(_MSGS_ACK_ID)
        shape = "" if ack is None else ack.text.replace(" ", "").rstrip(";")
        self._fast_acks = shape == _MSGS_ACK_TEXT

    def make(self, name: str, /, **fields: object) -> TLObject:
        """Build a validated :class:`TLObject` in canonical form.

        Absent optional fields become ``None`` (``False`` for ``true`` flags),
        :class:`str` becomes UTF-8 :class:`bytes`, tuples become lists, so the
        result equals what :meth:`deserialize` returns for its encoding.
        """
        if name not in self.schema:
            raise InvalidArgument(f"unknown TL combinator {name!r}")
        comb = self.schema[name]
        params = [p for p in comb.value_params if not (name == "message" and p.name == "bytes")]
        unknown = set(fields) - {p.name for p in params}
        if unknown:
            raise InvalidArgument(f"{name} has no field(s) {sorted(unknown)}")
        canonical: dict[str, object] = {}
        for param in params:
            if param.name in fields:
                canonical[param.name] = _normalize(fields[param.name], param.type)
            elif param.is_optional:
                canonical[param.name] = False if param.type.kind is Kind.TRUE else None
            else:
                raise InvalidArgument(f"{name} is missing field {param.name!r}")
        obj = TLObject(name, cast("dict[str, TLValue]", canonical))  # validated next
        self._encode(obj, boxed=name not in _BARE_ONLY)
        return obj

    def serialize(self, obj: TLObject, *, boxed: bool = True) -> bytes:
        """Encode ``obj``; ``boxed=False`` omits the constructor id."""
        return self._encode(obj, boxed=boxed)

    def _encode(self, obj: TLObject, *, boxed: bool) -> bytes:
        encoder = _Encoder(self.schema, self.limits)
        out = bytearray()
        try:
            if boxed:
                encoder.boxed(out, obj, 0, False)
            else:
                encoder.bare(out, obj, encoder.combinator(obj), 0, False)
        except RecursionError:
            # Only reachable when max_depth exceeds what the stack can hold.
            raise InvalidArgument("TL objects nested too deeply for the stack") from None
        return bytes(out)

    def deserialize(
        self,
        data: BytesLike,
        *,
        bare: str | None = None,
        unpack_gzip: bool = False,
        allow_trailing: bool = False,
        limits: Limits | None = None,
    ) -> TLObject:
        """Decode one object that must be known to the schema.

        ``bare`` names the constructor of bare data (no id). Unless
        ``allow_trailing``, the object must fill ``data`` exactly.
        """
        if self._fast_acks and bare is None and not allow_trailing:
            fast = _fast_msgs_ack(data)
            if fast is not None:
                return fast
        decoder = _Decoder(self.schema, limits or self.limits, unpack_gzip)
        if bare is not None and bare not in self.schema:
            raise InvalidArgument(f"unknown TL combinator {bare!r}")
        reader = decoder.reader(data)
        obj = decoder.guarded(lambda: decoder.top_level(reader, bare))
        if not allow_trailing:
            reader.expect_end()
        return obj

    def deserialize_body(
        self,
        data: BytesLike,
        *,
        unpack_gzip: bool = False,
        limits: Limits | None = None,
    ) -> TLObject | bytes:
        """Decode a message body: a known object, or ``data`` itself if unknown.

        This is how an ``Object`` field is read: the object must fill ``data``
        exactly when its id is known; an unknown id yields the bytes as they
        are, for a higher layer (an API schema) to decode.
        """
        decoder = _Decoder(self.schema, limits or self.limits, unpack_gzip)
        reader = decoder.reader(data)
        value = decoder.guarded(lambda: decoder.any_object(reader, 0, False, False))
        reader.expect_end()
        return value

    def read_object(
        self,
        reader: Reader,
        *,
        bare: str | None = None,
        unpack_gzip: bool = False,
        limits: Limits | None = None,
    ) -> TLObject:
        """Decode one known object from ``reader``, leaving the rest unread."""
        if bare is not None and bare not in self.schema:
            raise InvalidArgument(f"unknown TL combinator {bare!r}")
        decoder = _Decoder(self.schema, limits or self.limits, unpack_gzip)
        return decoder.guarded(lambda: decoder.top_level(reader, bare))

    def gzip_pack(self, body: TLObject | BytesLike) -> TLObject:
        """Wrap an object (or its serialized bytes) in ``gzip_packed``."""
        data = body if isinstance(body, BytesLike) else self.serialize(body)
        # mtime=0 keeps the output deterministic.
        return self.make("gzip_packed", packed_data=gzip.compress(bytes(data), mtime=0))
