"""Parse TL schema text and verify every constructor id.

A combinator's id is the CRC32 of its normalized text
(core.telegram.org/mtproto/TL-abstract-types, /mtproto/serialize): the ``#id``
and the ``;`` are dropped, ``{X:Type}`` becomes ``X:Type``, ``Vector<long>``
becomes ``Vector long``, ``bytes`` is hashed as ``string``, ``flags.N?true``
arguments are dropped, and tokens are joined by single spaces. For example
``crc32(b"resPQ nonce:int128 server_nonce:int128 pq:string
server_public_key_fingerprints:Vector long = ResPQ") == 0x05162463``.

:func:`load_schema` recomputes each id and raises :class:`TLError` if a written
id differs, so a typo in the schema file cannot ship.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from importlib import resources
from types import MappingProxyType

from mtcrypt.errors import TLError

__all__ = [
    "Combinator",
    "Kind",
    "Param",
    "Schema",
    "TLType",
    "combinator_id",
    "default_schema",
    "load_schema",
    "normalize_combinator",
]


class Kind(Enum):
    """How a TL type is encoded."""

    INT = "int"
    LONG = "long"
    DOUBLE = "double"
    BYTES = "bytes"  # `string` and `bytes`: same wire form
    INT128 = "int128"
    INT256 = "int256"
    BOOL = "Bool"
    TRUE = "true"  # flag-only: presence is the value
    FLAGS = "#"
    OBJECT = "Object"  # any boxed object
    FUNCTION = "!X"  # any boxed function call
    VECTOR = "Vector"  # boxed vector
    BARE_VECTOR = "vector"
    BARE = "bare"  # a bare constructor, named
    BOXED = "boxed"  # a boxed type, named


@dataclass(frozen=True, slots=True)
class TLType:
    """A resolved parameter type; ``name`` is set for ``BARE``/``BOXED``."""

    kind: Kind
    name: str = ""
    item: TLType | None = None

    @property
    def min_size(self) -> int:
        """A lower bound on the encoded size, used to bound vector counts."""
        return _MIN_SIZES.get(self.kind, 4)


_MIN_SIZES = {
    Kind.LONG: 8,
    Kind.DOUBLE: 8,
    Kind.INT128: 16,
    Kind.INT256: 32,
    Kind.TRUE: 0,
    Kind.FLAGS: 4,
    Kind.BARE: 0,  # refined per constructor by Schema.min_size
}


# duplicates: deliberate -- a record declared field by field, alike any small dataclass.
@dataclass(frozen=True, slots=True)
class Param:
    """One argument; ``flag_field``/``flag_bit`` are set for ``flags.N?T``."""

    name: str
    type: TLType
    flag_field: str | None = None
    flag_bit: int | None = None

    @property
    def is_optional(self) -> bool:
        """True for a conditional (``flags.N?T``) argument."""
        return self.flag_field is not None


@dataclass(frozen=True, slots=True)
class Combinator:
    """A constructor or function of the schema."""

    name: str
    id: int
    params: tuple[Param, ...]
    result: str
    is_function: bool
    text: str = field(compare=False)

    @property
    def value_params(self) -> tuple[Param, ...]:
        """Parameters that appear as fields (``#`` flag words are derived)."""
        return tuple(p for p in self.params if p.type.kind is not Kind.FLAGS)


@dataclass(frozen=True)
class Schema:
    """A loaded schema: combinators by name and by id, constructors by type."""

    combinators: Mapping[str, Combinator]
    by_id: Mapping[int, Combinator]
    constructors_of: Mapping[str, tuple[Combinator, ...]]

    def __getitem__(self, name: str) -> Combinator:
        try:
            return self.combinators[name]
        except KeyError:
            raise KeyError(f"no TL combinator named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.combinators

    @classmethod
    def from_combinators(cls, combinators: Iterable[Combinator]) -> Schema:
        """Index checked combinators by name, id and result type, in the given order.

        Raises :class:`TLError` if two share a name or an id.
        """
        by_name: dict[str, Combinator] = {}
        by_id: dict[int, Combinator] = {}
        constructors_of: dict[str, list[Combinator]] = {}
        for comb in combinators:
            if comb.name in by_name:
                raise TLError(f"duplicate TL combinator name {comb.name!r}")
            if comb.id in by_id:
                raise TLError(f"TL id collision: {comb.name} and {by_id[comb.id].name}")
            by_name[comb.name] = by_id[comb.id] = comb
            if not comb.is_function:
                constructors_of.setdefault(comb.result, []).append(comb)
        return cls(
            combinators=MappingProxyType(by_name),
            by_id=MappingProxyType(by_id),
            constructors_of=MappingProxyType({k: tuple(v) for k, v in constructors_of.items()}),
        )

    def min_size(self, tl_type: TLType) -> int:
        """A lower bound on the encoded size of a value of ``tl_type``."""
        if tl_type.kind is Kind.BARE:
            return self._min_bare_size(tl_type.name, frozenset())
        return tl_type.min_size

    def _min_bare_size(self, name: str, seen: frozenset[str]) -> int:
        if name in seen:  # a recursive bare type: give up tightening the bound
            return 0
        total = 0
        for param in self.combinators[name].params:
            if param.is_optional:
                continue
            if param.type.kind is Kind.BARE:
                total += self._min_bare_size(param.type.name, seen | {name})
            else:
                total += param.type.min_size
        return total


_PRIMITIVES = {
    "int": TLType(Kind.INT),
    "long": TLType(Kind.LONG),
    "double": TLType(Kind.DOUBLE),
    "string": TLType(Kind.BYTES),
    "bytes": TLType(Kind.BYTES),
    "int128": TLType(Kind.INT128),
    "int256": TLType(Kind.INT256),
    "Bool": TLType(Kind.BOOL),
    "true": TLType(Kind.TRUE),
    "#": TLType(Kind.FLAGS),
    "Object": TLType(Kind.OBJECT),
}

_HEADER = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)(?:#(?P<id>[0-9a-fA-F]{1,8}))?$")
_GENERIC = re.compile(r"^\{(?P<name>\w+):Type\}$")
_ARG = re.compile(r"^(?P<name>\w+):(?:(?P<flag>\w+)\.(?P<bit>\d+)\?)?(?P<type>\S+)$")
_VECTOR = re.compile(r"^(?P<outer>[Vv]ector)<(?P<inner>.+)>$")


def _split_statement(text: str) -> tuple[str, str | None, list[str], list[str], str]:
    tokens = text.split()
    if "=" not in tokens or not tokens:
        raise TLError(f"TL combinator without '=': {text!r}")
    eq = tokens.index("=")
    header = _HEADER.match(tokens[0])
    if header is None:
        raise TLError(f"bad TL combinator name: {tokens[0]!r}")
    generics: list[str] = []
    args: list[str] = []
    for token in tokens[1:eq]:
        generic = _GENERIC.match(token)
        if generic is not None:
            if args:
                raise TLError(f"generic parameter after arguments in {text!r}")
            generics.append(generic["name"])
        else:
            args.append(token)
    result = " ".join(tokens[eq + 1 :])
    if not result:
        raise TLError(f"TL combinator without a result type: {text!r}")
    return header["name"], header["id"], generics, args, result


def _normalize_type(text: str) -> str:
    # `bytes` hashes as `string`, including inside vectors and flags.
    text = re.sub(r"\bbytes\b", "string", text)
    return text.replace("<", " ").replace(">", "")


def normalize_combinator(text: str) -> str:
    """Return the text whose CRC32 is the combinator's id."""
    name, _, generics, args, result = _split_statement(text.strip().rstrip(";"))
    parts = [name]
    parts += [f"{g}:Type" for g in generics]
    for arg in args:
        match = _ARG.match(arg)
        if match is None:  # anonymous (`#`, `[ t ]`): hashed as written
            parts.append(_normalize_type(arg))
            continue
        if match["flag"] is not None and match["type"] == "true":
            continue  # flag-only `true` arguments are not part of the hash
        condition = f"{match['flag']}.{match['bit']}?" if match["flag"] is not None else ""
        parts.append(f"{match['name']}:{condition}{_normalize_type(match['type'])}")
    parts.append("=")
    parts.append(_normalize_type(result))
    return " ".join(" ".join(parts).split())


def combinator_id(text: str) -> int:
    """The CRC32 id of a combinator, ignoring any ``#id`` written in ``text``."""
    return zlib.crc32(normalize_combinator(text).encode("ascii"))


def _statements(text: str) -> list[tuple[str, bool]]:
    """Split schema text into (combinator text, is_function) pairs."""
    out: list[tuple[str, bool]] = []
    is_function = False
    pending: list[str] = []
    for raw_line in text.splitlines():
        line = raw_line.split("//", 1)[0].strip()
        if not line:
            continue
        section = re.fullmatch(r"---(types|functions)---", line)
        if section is not None:
            if pending:
                raise TLError(f"unterminated TL combinator: {' '.join(pending)!r}")
            is_function = section[1] == "functions"
            continue
        while line:
            head, sep, line = line.partition(";")
            pending.append(head)
            if sep:
                statement = " ".join(" ".join(pending).split())
                pending = []
                if statement:
                    out.append((statement, is_function))
            line = line.strip()
    if any(p.strip() for p in pending):
        raise TLError(f"unterminated TL combinator: {' '.join(pending)!r}")
    return out


def load_schema(text: str) -> Schema:
    """Parse TL schema text; raise :class:`TLError` on any id mismatch.

    Supported: primitive types, ``Vector<T>``/``vector<T>``, bare (lowercase)
    and boxed (capitalized) types, ``Object``, ``{X:Type}`` with ``!X``, and
    ``flags:#`` with ``name:flags.N?T``. Every combinator must carry an id.
    """
    raw: list[
        tuple[str, int, list[str], list[tuple[str, str | None, int | None, str]], str, bool, str]
    ] = []
    for statement, is_function in _statements(text):
        name, written, generics, args, result = _split_statement(statement)
        if written is None:
            raise TLError(f"TL combinator {name} has no #id")
        computed = combinator_id(statement)
        if int(written, 16) != computed:
            raise TLError(
                f"TL combinator {name}: written id #{written} but CRC32 gives #{computed:08x}"
            )
        parsed_args: list[tuple[str, str | None, int | None, str]] = []
        for arg in args:
            match = _ARG.match(arg)
            if match is None:
                raise TLError(f"unsupported TL argument {arg!r} in {name}")
            bit = int(match["bit"]) if match["bit"] is not None else None
            parsed_args.append((match["name"], match["flag"], bit, match["type"]))
        raw.append((name, computed, generics, parsed_args, result, is_function, statement))

    names = {entry[0] for entry in raw}
    if len(names) != len(raw):
        raise TLError("duplicate TL combinator name")
    boxed_types = {entry[4] for entry in raw if not entry[5]}

    def resolve(type_text: str, generics: list[str], where: str) -> TLType:
        if type_text in _PRIMITIVES:
            return _PRIMITIVES[type_text]
        vector = _VECTOR.match(type_text)
        if vector is not None:
            kind = Kind.VECTOR if vector["outer"] == "Vector" else Kind.BARE_VECTOR
            return TLType(kind, item=resolve(vector["inner"], generics, where))
        if type_text.startswith("!") and type_text[1:] in generics:
            return TLType(Kind.FUNCTION)
        base = type_text.rsplit(".", 1)[-1]
        if base[:1].islower():
            if type_text not in names:
                raise TLError(f"{where}: unknown bare type {type_text!r}")
            return TLType(Kind.BARE, name=type_text)
        if type_text not in boxed_types:
            raise TLError(f"{where}: unknown boxed type {type_text!r}")
        return TLType(Kind.BOXED, name=type_text)

    combinators: list[Combinator] = []
    for name, cid, generics, parsed_args, result, is_function, statement in raw:
        params: list[Param] = []
        seen: dict[str, Kind] = {}
        for arg_name, flag, bit, type_text in parsed_args:
            if arg_name in seen:
                raise TLError(f"{name}: duplicate argument {arg_name!r}")
            tl_type = resolve(type_text, generics, name)
            if flag is not None:
                if seen.get(flag) is not Kind.FLAGS:
                    raise TLError(
                        f"{name}: {arg_name} refers to {flag!r}, not an earlier '#' argument"
                    )
                if bit is None or bit > 31:
                    raise TLError(f"{name}: flag bit out of range for {arg_name}")
            elif tl_type.kind is Kind.TRUE:
                raise TLError(f"{name}: 'true' is only valid as a conditional argument")
            seen[arg_name] = tl_type.kind
            params.append(Param(arg_name, tl_type, flag, bit))
        combinators.append(Combinator(name, cid, tuple(params), result, is_function, statement))
    return Schema.from_combinators(combinators)


@cache
def default_schema() -> Schema:
    """The schema shipped in ``mtcrypt/tl/schema.tl`` (loaded once)."""
    text = resources.files("mtcrypt.tl").joinpath("schema.tl").read_text(encoding="ascii")
    return load_schema(text)
