"""What the TL package shares between its modules and with mtcrypt.e2e: the schema
index (:meth:`Schema.from_combinators`), the scalar decoding, and the re-export of
:mod:`mtcrypt.tl.primitives`."""

from __future__ import annotations

import dataclasses
import math

import pytest

from mtcrypt import tl
from mtcrypt.e2e import tl as e2e_tl
from mtcrypt.errors import TLError
from mtcrypt.tl import Kind, Schema, primitives

SCHEMA = tl.default_schema()


def _same_index(a: Schema, b: Schema) -> None:
    assert list(a.combinators.items()) == list(b.combinators.items())
    assert list(a.by_id.items()) == list(b.by_id.items())
    assert list(a.constructors_of.items()) == list(b.constructors_of.items())


def test_from_combinators_rebuilds_a_loaded_schema() -> None:
    _same_index(Schema.from_combinators(SCHEMA.combinators.values()), SCHEMA)
    e2e = e2e_tl.codec().schema
    _same_index(Schema.from_combinators(e2e.combinators.values()), e2e)


def test_from_combinators_takes_any_iterable_in_order() -> None:
    picked = [SCHEMA["pong"], SCHEMA["ping"], SCHEMA["ping_delay_disconnect"]]
    schema = Schema.from_combinators(iter(picked))
    assert list(schema.combinators) == ["pong", "ping", "ping_delay_disconnect"]
    assert schema.by_id[SCHEMA["ping"].id] is SCHEMA["ping"]
    assert schema.constructors_of == {"Pong": (SCHEMA["pong"],)}  # functions are not listed


def test_from_combinators_refuses_a_repeated_name_or_id() -> None:
    ping = SCHEMA["ping"]
    with pytest.raises(TLError, match="duplicate TL combinator name 'ping'"):
        Schema.from_combinators([ping, dataclasses.replace(ping, id=1)])
    twin = dataclasses.replace(SCHEMA["pong"], name="pong2", id=ping.id)
    with pytest.raises(TLError, match="TL id collision: pong2 and ping"):
        Schema.from_combinators([ping, twin])


def _scalars_codec() -> tl.Codec:
    text = "scalars a:int b:long c:bytes d:int128 e:int256 f:double g:Bool h:string = Scalars"
    schema = tl.load_schema(
        "boolFalse#bc799737 = Bool;\nboolTrue#997275b5 = Bool;\n"
        f"scalars#{tl.combinator_id(text):08x} {text.split(' ', 1)[1]};"
    )
    return tl.Codec(schema)


@pytest.mark.parametrize("flag", [True, False])
def test_every_scalar_kind_decodes(flag: bool) -> None:
    scalars = _scalars_codec()
    fields = {
        "a": -5,
        "b": 1 << 40,
        "c": b"abc",
        "d": bytes(range(16)),
        "e": bytes(range(32)),
        "f": 2.5,
        "g": flag,
        "h": b"x" * 300,
    }
    obj = scalars.make("scalars", **fields)
    decoded = scalars.deserialize(scalars.serialize(obj))
    assert decoded == obj
    assert {k: type(v) for k, v in decoded.fields.items()} == {
        k: type(v) for k, v in fields.items()
    }
    assert [p.type.kind for p in scalars.schema["scalars"].params] == [
        Kind.INT,
        Kind.LONG,
        Kind.BYTES,
        Kind.INT128,
        Kind.INT256,
        Kind.DOUBLE,
        Kind.BOOL,
        Kind.BYTES,
    ]


def test_a_nan_double_decodes() -> None:
    scalars = _scalars_codec()
    obj = scalars.make(
        "scalars", a=0, b=0, c=b"", d=bytes(16), e=bytes(32), f=math.nan, g=True, h=b""
    )
    assert math.isnan(scalars.deserialize(scalars.serialize(obj)).f)


def test_tl_reexports_primitives_without_the_wire_constants() -> None:
    assert set(primitives.__all__) <= set(tl.__all__)
    for name in primitives.__all__:
        assert getattr(tl, name) is getattr(primitives, name)
    for name in ("BOOL_FALSE_ID", "BOOL_TRUE_ID", "MAX_BYTES_LENGTH", "VECTOR_ID"):
        assert name not in tl.__all__ and not hasattr(tl, name)
        assert isinstance(getattr(primitives, name), int)
    assert len(tl.__all__) == len(set(tl.__all__))
