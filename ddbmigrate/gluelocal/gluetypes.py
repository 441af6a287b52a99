"""Glue's schema types (``awsglue.gluetypes``), built from a Spark schema.

A real ``DynamicFrame.schema()`` returns Glue's own type objects, not Spark's: a ``StructType`` of
``Field(name, dataType)``, where every type has ``typeName()`` (``"string"``, ``"int"``,
``"long"``, ``"struct"``, ``"array"`` …) and ``jsonValue()``. Locally a DynamicFrame *is* a
DataFrame, so its schema is translated from the DataFrame's:

==========================  =====================  ==========================================
Spark type                  Glue type              note
==========================  =====================  ==========================================
StringType                  StringType             ``string``
IntegerType                 IntegerType            ``int`` (Spark says ``integer``)
LongType/ShortType/ByteType LongType/…             ``long``/``short``/``byte``
DoubleType/FloatType        DoubleType/FloatType
DecimalType(p, s)           DecimalType(p, s)      ``decimal``
BooleanType/BinaryType      BooleanType/BinaryType
DateType/TimestampType      DateType/TimestampType  also TimestampNTZType
NullType                    NullType               ``null``
ArrayType(e)                ArrayType(e)           ``array``
MapType(k, v)               MapType(v)             Glue maps have string keys: the key type is dropped
StructType                  StructType of Field    ``struct``
==========================  =====================  ==========================================

What cannot be faithful: Glue computes a schema from the records and may report a
``ChoiceType`` when one field has several types; a DataFrame has one type per column, so there is
never a choice locally. :func:`tree_string` prints the schema the way Glue's ``printSchema`` does
(``root`` then ``|-- name: type`` lines, four more characters per nesting level, no nullability).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ddbmigrate.errors import ConfigError

__all__ = [
    "ArrayType",
    "AtomicType",
    "BinaryType",
    "BooleanType",
    "ByteType",
    "ChoiceType",
    "DataType",
    "DateType",
    "DecimalType",
    "DoubleType",
    "Field",
    "FloatType",
    "IntegerType",
    "LongType",
    "MapType",
    "NullType",
    "SetType",
    "ShortType",
    "StringType",
    "StructType",
    "TimestampNTZType",
    "TimestampType",
    "UnknownType",
    "from_spark",
    "tree_string",
]


class DataType:
    """Base of every Glue type; ``properties`` is Glue's free-form metadata (empty locally)."""

    def __init__(self, properties: dict[str, Any] | None = None) -> None:
        self.properties = dict(properties or {})

    @classmethod
    def typeName(cls) -> str:
        return cls.__name__[: -len("Type")].lower()

    def jsonValue(self) -> dict[str, Any]:
        return {"dataType": self.typeName(), "properties": self.properties}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, self.__class__) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(self.__class__.__name__)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.properties})"


class AtomicType(DataType):
    """A type without children."""


class BinaryType(AtomicType):
    pass


class BooleanType(AtomicType):
    pass


class ByteType(AtomicType):
    pass


class DateType(AtomicType):
    pass


class DoubleType(AtomicType):
    pass


class FloatType(AtomicType):
    pass


class IntegerType(AtomicType):
    @classmethod
    def typeName(cls) -> str:
        return "int"


class LongType(AtomicType):
    pass


class NullType(AtomicType):
    pass


class ShortType(AtomicType):
    pass


class StringType(AtomicType):
    pass


class TimestampType(AtomicType):
    pass


class TimestampNTZType(AtomicType):
    pass


class UnknownType(AtomicType):
    pass


class DecimalType(AtomicType):
    def __init__(self, precision: int = 10, scale: int = 2, properties: dict[str, Any] | None = None) -> None:
        super().__init__(properties)
        self.precision = precision
        self.scale = scale

    def jsonValue(self) -> dict[str, Any]:
        return {**super().jsonValue(), "precision": self.precision, "scale": self.scale}

    def __repr__(self) -> str:
        return f"DecimalType({self.precision}, {self.scale}, {self.properties})"


def _require_type(value: Any, what: str) -> DataType:
    if not isinstance(value, DataType):
        raise ConfigError(f"{what} must be a Glue DataType, got {type(value).__name__}")
    return value


class ArrayType(DataType):
    def __init__(self, elementType: DataType | None = None, properties: dict[str, Any] | None = None) -> None:
        super().__init__(properties)
        self.elementType = _require_type(elementType or UnknownType(), "elementType")

    def jsonValue(self) -> dict[str, Any]:
        return {**super().jsonValue(), "elementType": self.elementType.jsonValue()}

    def __repr__(self) -> str:
        return f"ArrayType({self.elementType}, {self.properties})"


class SetType(ArrayType):
    """Glue's set type; never produced locally (Spark has no sets) but importable like Glue's."""

    def __repr__(self) -> str:
        return f"SetType({self.elementType}, {self.properties})"


class MapType(DataType):
    def __init__(self, valueType: DataType | None = None, properties: dict[str, Any] | None = None) -> None:
        super().__init__(properties)
        self.valueType = _require_type(valueType or UnknownType(), "valueType")

    def jsonValue(self) -> dict[str, Any]:
        return {**super().jsonValue(), "valueType": self.valueType.jsonValue()}

    def __repr__(self) -> str:
        return f"MapType({self.valueType}, {self.properties})"


class ChoiceType(DataType):
    """Several possible types for one field; never produced locally (see the module docstring)."""

    def __init__(self, choices: list[DataType] | None = None, properties: dict[str, Any] | None = None) -> None:
        super().__init__(properties)
        self.choices: dict[str, DataType] = {}
        for choice in choices or []:
            self.choices[_require_type(choice, "choice").typeName()] = choice

    def jsonValue(self) -> dict[str, Any]:
        return {**super().jsonValue(), "choices": [c.jsonValue() for c in self.choices.values()]}


class Field:
    """One named field of a :class:`StructType`."""

    def __init__(self, name: str, dataType: DataType, properties: dict[str, Any] | None = None) -> None:
        if not isinstance(name, str):
            raise ConfigError(f"a field name must be a string, got {type(name).__name__}")
        self.name = name
        self.dataType = _require_type(dataType, f"the type of field {name!r}")
        self.properties = dict(properties or {})

    def jsonValue(self) -> dict[str, Any]:
        return {"name": self.name, "container": self.dataType.jsonValue(), "properties": self.properties}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Field) and (self.name, self.dataType) == (other.name, other.dataType)

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"Field({self.name}, {self.dataType}, {self.properties})"


class StructType(DataType):
    def __init__(self, fields: list[Field] | None = None, properties: dict[str, Any] | None = None) -> None:
        super().__init__(properties)
        self.fields: list[Field] = []
        self.field_map: dict[str, Field] = {}
        for field in fields or []:
            self.add(field)

    def add(self, field: Field) -> None:
        if not isinstance(field, Field):
            raise ConfigError(f"a StructType holds Field objects, got {type(field).__name__}")
        self.fields.append(field)
        self.field_map[field.name] = field

    def hasField(self, field: Field | str) -> bool:
        return (field.name if isinstance(field, Field) else field) in self.field_map

    def getField(self, field: Field | str) -> Field:
        return self.field_map[field.name if isinstance(field, Field) else field]

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def jsonValue(self) -> dict[str, Any]:
        return {**super().jsonValue(), "fields": [f.jsonValue() for f in self.fields]}

    def __repr__(self) -> str:
        return f"StructType([{','.join(map(str, self.fields))}], {self.properties})"


_ATOMIC_BY_SPARK_NAME: dict[str, type[AtomicType]] = {
    "StringType": StringType,
    "IntegerType": IntegerType,
    "LongType": LongType,
    "ShortType": ShortType,
    "ByteType": ByteType,
    "DoubleType": DoubleType,
    "FloatType": FloatType,
    "BooleanType": BooleanType,
    "BinaryType": BinaryType,
    "DateType": DateType,
    "TimestampType": TimestampType,
    "TimestampNTZType": TimestampNTZType,
    "NullType": NullType,
}


def from_spark(spark_type: Any) -> DataType:
    """Translate a ``pyspark.sql.types`` type into the Glue type above (table in the module doc)."""
    from pyspark.sql import types as T

    if isinstance(spark_type, T.StructType):
        return StructType([Field(f.name, from_spark(f.dataType)) for f in spark_type.fields])
    if isinstance(spark_type, T.ArrayType):
        return ArrayType(from_spark(spark_type.elementType))
    if isinstance(spark_type, T.MapType):
        return MapType(from_spark(spark_type.valueType))
    if isinstance(spark_type, T.DecimalType):
        return DecimalType(spark_type.precision, spark_type.scale)
    atomic = _ATOMIC_BY_SPARK_NAME.get(type(spark_type).__name__)
    return atomic() if atomic else UnknownType({"sparkType": spark_type.simpleString()})


def tree_string(schema: StructType) -> str:
    """``root`` and one ``|-- name: type`` line per field, as Glue's ``printSchema`` prints them.

    Children are indented by ``|    `` per level; an array's element is shown as ``element``, a
    map's value as ``value`` (Glue's own rendering of maps is not documented).
    """
    lines = ["root"]

    def walk(name: str, data_type: DataType, depth: int) -> None:
        lines.append(f"{'|    ' * depth}|-- {name}: {data_type.typeName()}")
        if isinstance(data_type, StructType):
            for field in data_type.fields:
                walk(field.name, field.dataType, depth + 1)
        elif isinstance(data_type, ArrayType):
            walk("element", data_type.elementType, depth + 1)
        elif isinstance(data_type, MapType):
            walk("value", data_type.valueType, depth + 1)

    for field in schema.fields:
        walk(field.name, field.dataType, 0)
    return "\n".join(lines) + "\n"
