"""``awsglue.dynamicframe``: a DynamicFrame that is a thin wrapper over a Spark DataFrame.

Glue's DynamicFrame is a JVM object of self-describing records; locally it is a DataFrame with a
name. What follows from that, and what a script sees:

* ``fromDF``/``toDF`` are free (no conversion); ``toDF(options)`` accepts ``ResolveOption``\\ s and
  ignores them, because a DataFrame column never has a choice type.
* ``schema()`` returns Glue's type objects (:mod:`ddbmigrate.gluelocal.gluetypes`) translated from
  the DataFrame's schema; ``printSchema()`` prints them as Glue does; ``show()`` prints records as
  JSON lines, as Glue does (absent and null fields are not printed).
* Transformations either succeed or raise: there are no error records locally, so
  ``info``/``stageThreshold``/``totalThreshold`` are accepted and have nothing to count;
  ``errorsCount()`` is always 0.
* ``apply_mapping`` delegates to :func:`ddbmigrate.mapping.spark.apply_mapping` (Glue's semantics:
  project, cast, nest by dotted target path, drop unlisted fields). Mirroring Glue's Python API,
  ``case_sensitive`` defaults to False — pass True when names may differ only by case.
* Methods that need Glue's JVM library and have no local equivalent (``relationalize``, ``unbox``,
  ``map``, ``join``, ``spigot`` …) raise :class:`~ddbmigrate.errors.ConfigError` naming the method.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from ddbmigrate.errors import ConfigError, MappingError
from ddbmigrate.gluelocal import fields, gluetypes

__all__ = [
    "DynamicFrame",
    "DynamicFrameCollection",
    "DynamicFrameReader",
    "DynamicFrameWriter",
    "ResolveOption",
]

UNSUPPORTED_METHODS = frozenset(
    {
        "with_frame_schema", "map", "mapPartitions", "mapPartitionsWithIndex", "unbox", "split_fields",
        "split_rows", "spigot", "join", "unnest", "relationalize", "mergeDynamicFrame",
    }
)


def unsupported(what: str) -> ConfigError:
    """The error for a Glue API that only exists on AWS Glue."""
    return ConfigError(
        f"{what} is not supported by the local Glue runtime (ddbmigrate.gluelocal); "
        "it needs AWS Glue's own library — run the script on AWS Glue or in the Glue Docker image, "
        "or see docs/gluelocal.md for what runs locally"
    )


class ResolveOption:
    """Glue's choice-resolution option for ``toDF`` (kept for scripts; nothing to resolve locally)."""

    def __init__(self, path: str, action: str, target: Any = None) -> None:
        self.path = path
        self.action = action
        self.target = target


def _as_list(paths: str | Iterable[str]) -> list[str]:
    return [paths] if isinstance(paths, str) else list(paths)


def _normalise_mappings(mappings: Any) -> list[tuple[Any, ...]]:
    if isinstance(mappings, tuple):
        mappings = [mappings]
    result = []
    for i, rule in enumerate(mappings):
        if not isinstance(rule, tuple):
            raise MappingError(f"mapping rule {i}: must be a tuple, got {type(rule).__name__}")
        if len(rule) != 4:
            raise MappingError(
                f"mapping rule {i}: has {len(rule)} elements; the local runtime supports the 4-tuple "
                "(source path, source type, target path, target type) only"
            )
        result.append(rule)
    return result


class DynamicFrame:
    """A named DataFrame with Glue's DynamicFrame methods (see the module docstring)."""

    def __init__(self, jdf: Any, glue_ctx: Any, name: str = "") -> None:
        from pyspark.sql import DataFrame

        if not isinstance(jdf, DataFrame):
            raise ConfigError(
                f"DynamicFrame(...) locally wraps a Spark DataFrame, got {type(jdf).__name__}; "
                "use DynamicFrame.fromDF(dataframe, glue_ctx, name)"
            )
        self._df = jdf
        self.glue_ctx = glue_ctx
        self._sc = jdf.sparkSession.sparkContext
        self._schema: gluetypes.StructType | None = None
        self.name = name
        self.sink_stats: Any = None
        """Local only: on the frame a DynamoDB write returns, the sink's stats (written, dead-lettered …)."""

    def __getattr__(self, item: str) -> Any:
        if item in UNSUPPORTED_METHODS:
            raise unsupported(f"DynamicFrame.{item}")
        raise AttributeError(f"'DynamicFrame' object has no attribute {item!r}")

    def _derive(self, df: Any, name: str | None = None) -> DynamicFrame:
        return DynamicFrame(df, self.glue_ctx, self.name if name is None else name)

    # -- conversion --------------------------------------------------------------------------

    @classmethod
    def fromDF(cls, dataframe: Any, glue_ctx: Any, name: str = "") -> DynamicFrame:
        """Wrap ``dataframe``; nothing is copied or computed."""
        return cls(dataframe, glue_ctx, name)

    def toDF(self, options: list[ResolveOption] | None = None) -> Any:
        """The DataFrame itself. ``options`` are checked like Glue checks them, then have nothing to do."""
        for option in options or []:
            if option.action != "KeepAsStruct" and option.target is None:
                raise ConfigError(f"Missing target type for resolve action {option.action}.")
        return self._df

    # -- inspection --------------------------------------------------------------------------

    def count(self) -> int:
        return int(self._df.count())

    def schema(self) -> gluetypes.StructType:
        if self._schema is None:
            # A DataFrame's schema is a StructType, so its translation is one too.
            self._schema = cast(gluetypes.StructType, gluetypes.from_spark(self._df.schema))
        return self._schema

    def printSchema(self) -> None:
        print(gluetypes.tree_string(self.schema()), end="")

    def show(self, num_rows: int = 20) -> None:
        """Print the first ``num_rows`` records as JSON lines (as Glue does)."""
        for line in self._df.limit(num_rows).toJSON().collect():
            print(line)

    def getNumPartitions(self) -> int:
        return int(self._df.rdd.getNumPartitions())

    def errorsCount(self) -> int:
        return 0

    def stageErrorsCount(self) -> int:
        return 0

    def assertErrorThreshold(self) -> None:
        return None

    def errorsAsDynamicFrame(self) -> DynamicFrame:
        return self._derive(self._df.sparkSession.createDataFrame([], "error string"))

    # -- transformations ---------------------------------------------------------------------

    def apply_mapping(
        self,
        mappings: Any,
        case_sensitive: bool = False,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """Apply 4-tuple mapping rules with Glue's semantics (see :mod:`ddbmigrate.mapping`)."""
        from ddbmigrate.mapping.spark import apply_mapping

        rules = _normalise_mappings(mappings)
        return self._derive(apply_mapping(self._df, rules, case_sensitive=case_sensitive))

    def applyMapping(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        # Like Glue: an old calling style passed the frame itself first.
        if args and isinstance(args[0], DynamicFrame):
            args = args[1:]
        return self.apply_mapping(*args, **kwargs)

    def select_fields(
        self, paths: str | Iterable[str], transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0,
    ) -> DynamicFrame:
        return self._derive(fields.select_fields(self._df, _as_list(paths)))

    def drop_fields(
        self, paths: str | Iterable[str], transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0,
    ) -> DynamicFrame:
        return self._derive(fields.drop_fields(self._df, _as_list(paths)))

    def rename_field(
        self, oldName: str, newName: str, transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0,
    ) -> DynamicFrame:
        return self._derive(fields.rename_field(self._df, oldName, newName))

    def resolveChoice(
        self, specs: list[tuple[str, str]] | None = None, choice: str = "", database: str | None = None,
        table_name: str | None = None, transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0, catalog_id: str | None = None,
    ) -> DynamicFrame:
        """``cast:<type>`` casts the field; the other actions only touch choice types, which do not
        exist locally, so they leave the frame unchanged. ``match_catalog`` needs the Data Catalog."""
        if choice == "match_catalog" or database or table_name:
            raise unsupported("resolveChoice with the Data Catalog (match_catalog)")
        df = self._df
        for path, action in specs or []:
            kind, _, target = action.partition(":")
            if kind.lower() == "cast":
                df = fields.cast_field(df, path, target)
            elif kind.lower() not in ("make_cols", "make_struct", "project"):
                raise ConfigError(f"resolveChoice: unknown action {action!r} for {path!r}")
        return self._derive(df)

    def filter(
        self, f: Callable[[dict[str, Any]], bool], transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0,
    ) -> DynamicFrame:
        """Keep records for which ``f(record)`` is true; the record is a dict (nested dicts for structs).

        As in Glue, a KeyError, ValueError or TypeError raised by ``f`` drops the record; any other
        exception fails the job (Glue would count it as an error record).
        """

        def keep(row: Any) -> bool:
            try:
                return bool(f(row.asDict(recursive=True)))
            except (KeyError, ValueError, TypeError):
                return False

        spark = self._df.sparkSession
        return self._derive(spark.createDataFrame(self._df.rdd.filter(keep), self._df.schema))

    def repartition(
        self, num_partitions: int, transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0,
    ) -> DynamicFrame:
        return self._derive(self._df.repartition(num_partitions))

    def coalesce(
        self, num_partitions: int, shuffle: bool = False, transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0,
    ) -> DynamicFrame:
        df = self._df.repartition(num_partitions) if shuffle else self._df.coalesce(num_partitions)
        return self._derive(df)

    def union(
        self, other_frame: DynamicFrame, transformation_ctx: str = "", info: str = "",
        stageThreshold: int = 0, totalThreshold: int = 0,
    ) -> DynamicFrame:
        """All records of both frames; fields are matched by name, missing ones are null."""
        return self._derive(self._df.unionByName(other_frame.toDF(), allowMissingColumns=True))

    def unnest_ddb_json(
        self, transformation_ctx: str = "", info: str = "", stageThreshold: int = 0, totalThreshold: int = 0,
    ) -> DynamicFrame:
        """DynamoDB JSON without its tags, maps flattened (:func:`.dynamodb_export.unnest_ddb_json`)."""
        from ddbmigrate.gluelocal.dynamodb_export import unnest_ddb_json

        return self._derive(unnest_ddb_json(self._df))

    def simplify_ddb_json(self) -> DynamicFrame:
        """DynamoDB JSON without its tags, maps kept as structs (:func:`.dynamodb_export.simplify_ddb_json`)."""
        from ddbmigrate.gluelocal.dynamodb_export import simplify_ddb_json

        return self._derive(simplify_ddb_json(self._df))

    # -- output ------------------------------------------------------------------------------

    def write(
        self, connection_type: str, connection_options: Mapping[str, Any] | None = None,
        format: str | None = None, format_options: Mapping[str, Any] | None = None,
        accumulator_size: int = 0,
    ) -> DynamicFrame:
        return self.glue_ctx.write_from_options(
            frame_or_dfc=self, connection_type=connection_type, connection_options=connection_options or {},
            format=format, format_options=format_options or {}, accumulator_size=accumulator_size,
        )


class DynamicFrameCollection:
    """Named DynamicFrames (what Glue's split transforms return and ``SelectFromCollection`` reads)."""

    def __init__(self, dynamic_frames: dict[str, DynamicFrame] | list[DynamicFrame], glue_ctx: Any) -> None:
        self._glue_ctx = glue_ctx
        if isinstance(dynamic_frames, list):
            self._df_dict = {frame.name: frame for frame in dynamic_frames}
        elif isinstance(dynamic_frames, dict):
            self._df_dict = dict(dynamic_frames)
        else:
            raise ConfigError(f"dynamic_frames must be list or dict, got {type(dynamic_frames).__name__}")

    def __getitem__(self, key: str) -> DynamicFrame:
        return self._df_dict[key]

    def __len__(self) -> int:
        return len(self._df_dict)

    def keys(self) -> Any:
        return self._df_dict.keys()

    def values(self) -> Any:
        return self._df_dict.values()

    def select(self, key: str, transformation_ctx: str = "") -> DynamicFrame:
        """The frame named ``key``; an empty frame when there is none (as in Glue)."""
        if key in self._df_dict:
            return self._df_dict[key]
        empty = self._glue_ctx.spark_session.createDataFrame([], "struct<>")
        return DynamicFrame(empty, self._glue_ctx, key)

    def map(self, callable: Callable[[DynamicFrame, str], DynamicFrame], transformation_ctx: str = "") -> DynamicFrameCollection:
        result = {}
        for key, frame in self._df_dict.items():
            mapped = callable(frame, f"{transformation_ctx}:{key}")
            if not isinstance(mapped, DynamicFrame):
                raise ConfigError(f"callable must return a DynamicFrame. Got {type(mapped).__name__}")
            result[key] = mapped
        return DynamicFrameCollection(result, self._glue_ctx)


class DynamicFrameReader:
    """``glue_context.create_dynamic_frame``."""

    def __init__(self, glue_context: Any) -> None:
        self._glue_context = glue_context

    def from_rdd(self, data: Any, name: str, schema: Any = None, sampleRatio: float | None = None) -> DynamicFrame:
        return self._glue_context.create_dynamic_frame_from_rdd(data, name, schema, sampleRatio)

    def from_options(
        self, connection_type: str, connection_options: Mapping[str, Any] | None = None,
        format: str | None = None, format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "", push_down_predicate: str = "", **kwargs: Any,
    ) -> DynamicFrame:
        return self._glue_context.create_dynamic_frame_from_options(
            connection_type, connection_options or {}, format, format_options or {},
            transformation_ctx, push_down_predicate, **kwargs,
        )

    def from_catalog(
        self, database: str | None = None, table_name: str | None = None, redshift_tmp_dir: str = "",
        transformation_ctx: str = "", push_down_predicate: str = "", additional_options: Mapping[str, Any] | None = None,
        catalog_id: str | None = None, **kwargs: Any,
    ) -> DynamicFrame:
        return self._glue_context.create_dynamic_frame_from_catalog(
            database, table_name, redshift_tmp_dir, transformation_ctx, push_down_predicate, additional_options,
            catalog_id, **kwargs,
        )


class DynamicFrameWriter:
    """``glue_context.write_dynamic_frame``."""

    def __init__(self, glue_context: Any) -> None:
        self._glue_context = glue_context

    def from_options(
        self, frame: DynamicFrame, connection_type: str, connection_options: Mapping[str, Any] | None = None,
        format: str | None = None, format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
    ) -> DynamicFrame:
        return self._glue_context.write_dynamic_frame_from_options(
            frame, connection_type, connection_options or {}, format, format_options or {}, transformation_ctx
        )

    def from_catalog(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        raise unsupported("write_dynamic_frame.from_catalog (the Glue Data Catalog)")

    def from_jdbc_conf(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        raise unsupported("write_dynamic_frame.from_jdbc_conf (Glue connections)")
