"""``from_catalog`` for the local runtime: a Data Catalog table read with *its* schema.

Glue looks the table up in the job's account's catalog and reads its location with its SerDe
and the catalog's column types. Locally the same happens against the account's Glue endpoint
(moto's Glue on the local stack): ``glue:GetTable``, then the location's files (staged as S3
sources are, :mod:`.staging`), then the columns' Hive types as the schema — never Spark's
inference, so a struct the crawler typed stays that struct, and a column the data holds as an
object but the catalog types ``string`` gets the object's JSON text.

JSON tables (``classification`` json, or the OpenX/HCatalog ``JsonSerDe``) are parsed line by line
as the JsonSerDe does: keys match columns case-insensitively (an exact match first), which is what
lets the crawler's lower-cased ``item`` column hold the export's ``Item``. Parquet tables are read
with the catalog schema by Spark. A partitioned table is read partition by partition
(``glue:GetPartitions``, each partition's own location), its keys appended as columns of their
catalog types; ``push_down_predicate`` is a Spark SQL condition on those keys that selects the
partitions before anything is read, as on Glue. ``catalogPartitionPredicate`` is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from botocore.exceptions import ClientError

from ddbmigrate.errors import ConfigError
from ddbmigrate.gluelocal.staging import S3ReadOptions, StagedFiles, find_malformed_json, stage_files
from ddbmigrate.mapping.catalog import hive_to_spark

__all__ = ["CATALOG_OPTIONS", "get_catalog_table", "read_catalog_table", "table_format"]

CATALOG_OPTIONS = frozenset(
    {"recurse", "exclusions", "excludeStorageClasses", "groupFiles", "groupSize", "useS3ListImplementation",
     "boundedFiles", "boundedSize"}
)
"""``additional_options`` of ``from_catalog`` accepted locally (file selection; throughput ones have no effect)."""
_JSON_SERDES = ("org.openx.data.jsonserde.JsonSerDe", "org.apache.hive.hcatalog.data.JsonSerDe")
_PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


def get_catalog_table(glue: Any, database: str, table: str, *, catalog_id: str | None, account: str) -> dict[str, Any]:
    """``glue:GetTable``; a missing table or database is a one-line :class:`ConfigError`."""
    kwargs: dict[str, Any] = {"DatabaseName": database, "Name": table}
    if catalog_id:
        kwargs["CatalogId"] = catalog_id
    try:
        return dict(glue.get_table(**kwargs)["Table"])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "EntityNotFoundException":
            raise ConfigError(
                f"from_catalog: Glue table {database}.{table} not found in {account}; register it with "
                f"'ddbmigrate crawl EXPORT_URI --register {database}.{table}' or run the crawler"
            ) from None
        raise ConfigError(f"from_catalog: Glue table {database}.{table}: GetTable failed ({code}) in {account}") from None


def table_format(table: Mapping[str, Any]) -> str:
    """``json`` or ``parquet`` from the table's classification or SerDe; anything else is refused."""
    sd = table.get("StorageDescriptor", {})
    classification = str((table.get("Parameters") or {}).get("classification")
                         or (sd.get("Parameters") or {}).get("classification") or "").lower()
    serde = (sd.get("SerdeInfo") or {}).get("SerializationLibrary", "")
    if classification == "json" or serde in _JSON_SERDES:
        return "json"
    if classification == "parquet" or serde == _PARQUET_SERDE:
        return "parquet"
    raise ConfigError(
        f"from_catalog: table {table.get('DatabaseName', '?')}.{table.get('Name', '?')} has classification "
        f"{classification or 'none'!r} and SerDe {serde or 'none'!r}; the local Glue runtime reads json and parquet tables"
    )


def _converter(type_: Any) -> Callable[[Any], Any]:
    """JSON value → Spark value of the catalog type, as the JsonSerDe reads it (mismatch → null)."""
    if isinstance(type_, Mapping):
        kind = type_["type"]
        if kind == "struct":
            names = [f["name"] for f in type_["fields"]]
            parts = [_converter(f["type"]) for f in type_["fields"]]

            def struct(value: Any) -> Any:
                if not isinstance(value, dict):
                    return None
                lowered = {str(k).lower(): v for k, v in value.items()}
                return tuple(part(value[name] if name in value else lowered.get(name.lower()))
                             for name, part in zip(names, parts, strict=True))

            return struct
        if kind == "array":
            element = _converter(type_["elementType"])
            return lambda value: [element(v) for v in value] if isinstance(value, list) else None
        if kind == "map":
            inner = _converter(type_["valueType"])
            return lambda value: {str(k): inner(v) for k, v in value.items()} if isinstance(value, dict) else None
    if type_ == "string":
        return lambda value: value if isinstance(value, str) else None if value is None else json.dumps(
            value, separators=(",", ":"), ensure_ascii=False)
    if type_ == "boolean":
        return lambda value: value if isinstance(value, bool) else None
    if type_ in ("long", "integer", "short", "byte"):
        return lambda value: value if isinstance(value, int) and not isinstance(value, bool) else None
    if type_ in ("double", "float"):
        return lambda value: float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if isinstance(type_, str) and type_.startswith("decimal"):
        def decimal(value: Any) -> Any:
            try:
                return Decimal(str(value)) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None
            except InvalidOperation:
                return None

        return decimal
    return lambda value: None


def _json_rows(schema_json: Mapping[str, Any]) -> Callable[[Iterator[Any]], Iterator[Any]]:
    convert = _converter(schema_json)

    def rows(lines: Iterator[Any]) -> Iterator[Any]:
        for line in lines:
            text = line[0]
            if text.strip():
                yield convert(json.loads(text))

    return rows


def read_catalog_table(
    spark: Any,
    glue: Any,
    s3_client: Callable[[], Any],
    database: str,
    table_name: str,
    *,
    account: str,
    additional_options: Mapping[str, Any] | None = None,
    push_down_predicate: str = "",
    catalog_id: str | None = None,
    staging_dir: str | None = None,
) -> Any:
    """The table's data as a DataFrame with the catalog's columns (module docstring)."""
    options = dict(additional_options or {})
    unknown = sorted(set(options) - CATALOG_OPTIONS)
    if unknown:
        raise ConfigError(
            f"additional_options: {', '.join(map(repr, unknown))} is not supported by the local Glue runtime "
            f"for catalog tables; supported: {', '.join(sorted(CATALOG_OPTIONS))}"
        )
    table = get_catalog_table(glue, database, table_name, catalog_id=catalog_id, account=account)
    where = f"Glue table {database}.{table_name}"
    keys = table.get("PartitionKeys") or []
    if push_down_predicate and not keys:
        raise ConfigError(f"push_down_predicate: {where} has no partition keys to filter; leave it out")
    fmt = table_format(table)
    sd = table.get("StorageDescriptor", {})
    from pyspark.sql.types import StructType

    fields = [{"name": c["Name"], "type": hive_to_spark(c.get("Type", ""), where=f"{where} column {c['Name']!r}"),
               "nullable": True, "metadata": {}} for c in sd.get("Columns", [])]
    schema_json = {"type": "struct", "fields": fields}
    if not keys:
        location = sd.get("Location")
        if not location:
            raise ConfigError(f"from_catalog: {where} has no StorageDescriptor.Location")
        return _read_location(spark, location, fmt, schema_json, options, s3_client, staging_dir)
    key_types = [(k["Name"], hive_to_spark(k.get("Type", ""), where=f"{where} partition key {k['Name']!r}")) for k in keys]
    partitions = _partitions(glue, database, table_name, catalog_id=catalog_id, where=where)
    selected = _select_partitions(spark, partitions, key_types, push_down_predicate, where=where)
    from pyspark.sql import functions as F

    full = StructType.fromJson({"type": "struct", "fields": [*fields, *({"name": n, "type": t, "nullable": True,
                                                                          "metadata": {}} for n, t in key_types)]})
    df = spark.createDataFrame([], full)
    for partition in selected:
        part = _read_location(spark, partition["StorageDescriptor"]["Location"], fmt, schema_json, options, s3_client,
                              staging_dir)
        for (name, type_), value in zip(key_types, partition["Values"], strict=True):
            part = part.withColumn(name, F.lit(value).cast(_data_type(type_)))
        df = df.unionByName(part)
    return df


def _data_type(type_json: Any) -> Any:
    """A Spark DataType from its JSON form (what :func:`hive_to_spark` returns)."""
    from pyspark.sql.types import StructType

    return StructType.fromJson({"type": "struct", "fields": [{"name": "v", "type": type_json, "nullable": True,
                                                             "metadata": {}}]})["v"].dataType


def _partitions(glue: Any, database: str, table: str, *, catalog_id: str | None, where: str) -> list[dict[str, Any]]:
    kwargs: dict[str, Any] = {"DatabaseName": database, "TableName": table}
    if catalog_id:
        kwargs["CatalogId"] = catalog_id
    try:
        return [p for page in glue.get_paginator("get_partitions").paginate(**kwargs) for p in page.get("Partitions", [])]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ConfigError(f"from_catalog: {where}: GetPartitions failed ({code})") from None


def _select_partitions(
    spark: Any, partitions: list[dict[str, Any]], key_types: list[tuple[str, Any]], predicate: str, *, where: str,
) -> list[dict[str, Any]]:
    """The partitions whose key values satisfy ``predicate`` (Spark SQL, evaluated as Glue does on the values)."""
    if not predicate or not partitions:
        return partitions
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    values = spark.createDataFrame([(i, *p["Values"]) for i, p in enumerate(partitions)],
                                   StructType([StructField("_index", StringType())] +
                                              [StructField(n, StringType()) for n, _ in key_types]))
    typed = values.select("_index", *[F.col(f"`{n}`").cast(_data_type(t)).alias(n) for n, t in key_types])
    try:
        kept = {int(r["_index"]) for r in typed.filter(predicate).select("_index").collect()}
    except PySparkException as exc:
        keys = ", ".join(n for n, _ in key_types)
        reason = str(exc).strip().splitlines()[0][:200]
        raise ConfigError(f"push_down_predicate: {predicate!r} cannot be evaluated on the partition keys of {where} "
                          f"({keys}): {reason}") from None
    return [p for i, p in enumerate(partitions) if i in kept]


def _read_location(
    spark: Any, location: str, fmt: str, schema_json: Mapping[str, Any], options: Mapping[str, Any],
    s3_client: Callable[[], Any], staging_dir: str | None,
) -> Any:
    """One location's files as a DataFrame of the catalog schema (JSON parsed as the JsonSerDe does)."""
    from pyspark.sql.types import StructType

    schema = StructType.fromJson(dict(schema_json))
    staged: StagedFiles = stage_files(S3ReadOptions.from_connection_options({"paths": [location], **options}),
                                      s3_client, staging_dir=staging_dir)
    if not staged.files:
        return spark.createDataFrame([], schema)
    if fmt == "parquet":
        return spark.read.schema(schema).parquet(*staged.files)
    df = spark.createDataFrame(spark.read.text(staged.files).rdd.mapPartitions(_json_rows(schema_json)), schema,
                               verifySchema=False)
    try:
        df.cache().count()  # parse now, so that a malformed line fails here, named
    except Exception:
        problem = find_malformed_json(staged, multiline=False)
        if problem is None:
            raise
        raise ConfigError(f"{problem}; fix or remove the file (the local runtime reads JSON strictly)") from None
    return df
