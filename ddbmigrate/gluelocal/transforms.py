"""``awsglue.transforms``: the transform classes a Glue script imports with ``from awsglue.transforms import *``.

Every name Glue 5.0 exports is here, so a star import behaves the same. Each class is called as
``Transform.apply(frame=…, …)`` with Glue's parameters and defaults, and delegates to the
DynamicFrame method of the same meaning:

* supported: ``ApplyMapping``, ``SelectFields``, ``DropFields``, ``RenameField``,
  ``ResolveChoice`` (``cast:`` only; see ``DynamicFrame.resolveChoice``), ``DropNullFields``
  (drops fields whose type is ``null``), ``Filter``, ``Repartition``, ``Coalesce``,
  ``SelectFromCollection``;
* ``Union``: Glue 5.0's own ``Union`` transform fails with a NameError (it refers to undefined
  names), so a script using it cannot run on Glue; locally it raises a ConfigError saying so —
  use ``frame1.union(frame2)``;
* the rest (``Unbox``, ``UnnestFrame``, ``Relationalize``, ``SplitFields``, ``SplitRows``,
  ``Join``, ``Spigot``, ``MapToCollection``, ``FlatMap``, ``Map``, ``ErrorsAsDynamicFrame``) need
  Glue's JVM library and raise :class:`~ddbmigrate.errors.ConfigError` naming the transform.
"""

from __future__ import annotations

from typing import Any

from ddbmigrate.errors import ConfigError
from ddbmigrate.gluelocal import gluetypes
from ddbmigrate.gluelocal.dynamicframe import unsupported

# Exactly the names Glue 5.0 exports, so that ``from awsglue.transforms import *`` binds the same
# names (GlueTransform is importable by name, as in Glue, but not star-exported).
__all__ = [
    "ApplyMapping",
    "Coalesce",
    "DropFields",
    "DropNullFields",
    "ErrorsAsDynamicFrame",
    "Filter",
    "FlatMap",
    "Join",
    "Map",
    "MapToCollection",
    "Relationalize",
    "RenameField",
    "Repartition",
    "ResolveChoice",
    "SelectFields",
    "SelectFromCollection",
    "Spigot",
    "SplitFields",
    "SplitRows",
    "Unbox",
    "Union",
    "UnnestFrame",
]


class GlueTransform:
    """Base class: ``Transform.apply(*args, **kwargs)`` calls a new instance with the arguments."""

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        return cls()(*args, **kwargs)

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise unsupported(f"the {self.name()} transform")

    def __repr__(self) -> str:
        return f"<Transform: {self.name()}>"


class ApplyMapping(GlueTransform):
    def __call__(
        self, frame: Any, mappings: Any, case_sensitive: bool = False, transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0,
    ) -> Any:
        return frame.apply_mapping(mappings, case_sensitive, transformation_ctx, info, stageThreshold, totalThreshold)


class SelectFields(GlueTransform):
    def __call__(
        self, frame: Any, paths: Any, transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0,
    ) -> Any:
        return frame.select_fields(paths, transformation_ctx, info, stageThreshold, totalThreshold)


class DropFields(GlueTransform):
    def __call__(
        self, frame: Any, paths: Any, transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0,
    ) -> Any:
        return frame.drop_fields(paths, transformation_ctx, info, stageThreshold, totalThreshold)


class RenameField(GlueTransform):
    def __call__(
        self, frame: Any, old_name: str, new_name: str, transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0,
    ) -> Any:
        return frame.rename_field(old_name, new_name, transformation_ctx, info, stageThreshold, totalThreshold)


class ResolveChoice(GlueTransform):
    def __call__(
        self, frame: Any, specs: Any = None, choice: str = "", database: str | None = None,
        table_name: str | None = None, transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0, catalog_id: str | None = None,
    ) -> Any:
        return frame.resolveChoice(specs, choice, database, table_name, transformation_ctx, info, stageThreshold,
                                   totalThreshold, catalog_id)


def _null_fields(data_type: gluetypes.DataType, path: str, out: list[str]) -> None:
    if isinstance(data_type, gluetypes.StructType):
        for field in data_type:
            name = f"`{field.name}`" if "." in field.name else field.name
            _null_fields(field.dataType, f"{path}.{name}" if path else name, out)
    elif isinstance(data_type, gluetypes.NullType):
        out.append(path)


class DropNullFields(GlueTransform):
    """Drop every field (also inside structs) whose type is ``null``; prints them as Glue does."""

    def __call__(
        self, frame: Any, transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0,
    ) -> Any:
        null_fields: list[str] = []
        _null_fields(frame.schema(), "", null_fields)
        print("null_fields", null_fields)
        return frame.drop_fields(null_fields, transformation_ctx, info, stageThreshold, totalThreshold)


class Filter(GlueTransform):
    def __call__(
        self, frame: Any, f: Any, transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0,
    ) -> Any:
        return frame.filter(f, transformation_ctx, info, stageThreshold, totalThreshold)


class Repartition(GlueTransform):
    def __call__(
        self, frame: Any, num_partitions: int, transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0,
    ) -> Any:
        return frame.repartition(num_partitions, transformation_ctx, info, stageThreshold, totalThreshold)


class Coalesce(GlueTransform):
    def __call__(
        self, frame: Any, num_partitions: int, shuffle: bool = False, transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0,
    ) -> Any:
        return frame.coalesce(num_partitions, shuffle, transformation_ctx, info, stageThreshold, totalThreshold)


class SelectFromCollection(GlueTransform):
    def __call__(self, dfc: Any, key: str, transformation_ctx: str = "") -> Any:
        return dfc.select(key, transformation_ctx)


class Union(GlueTransform):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise ConfigError(
            "the Union transform fails on AWS Glue 5.0 (its implementation refers to undefined names), so the "
            "local runtime refuses it too; use frame1.union(frame2) instead"
        )


class Unbox(GlueTransform):
    pass


class UnnestFrame(GlueTransform):
    pass


class Relationalize(GlueTransform):
    pass


class SplitFields(GlueTransform):
    pass


class SplitRows(GlueTransform):
    pass


class Join(GlueTransform):
    pass


class Spigot(GlueTransform):
    pass


class MapToCollection(GlueTransform):
    pass


class FlatMap(GlueTransform):
    pass


class Map(GlueTransform):
    pass


class ErrorsAsDynamicFrame(GlueTransform):
    pass
