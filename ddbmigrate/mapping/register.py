"""Register an export's ``data/`` folder in a Glue Data Catalog as the Glue crawler would.

``ddbmigrate crawl EXPORT_URI --register DB.TABLE`` writes the table a Glue crawler over the same
files creates (the crawler in ``crawlers/``), so that Glue Studio, Athena, ``mapping generate
--catalog`` and ``create_dynamic_frame.from_catalog`` — on AWS, or locally against moto's Glue —
see the export without a crawler run. What is written:

* one column ``item`` (the crawler lower-cases top-level column names) whose Hive type is
  inferred from every line as the crawler's JSON classifier infers it: an object is a
  ``struct`` of its keys (first-seen order, names kept as written), an array an ``array`` of its
  merged element type (``array<string>`` when every array is empty), a string ``string``, a
  boolean ``boolean``; structs seen with different keys merge, and any other conflict is
  ``string``. DynamoDB JSON has no JSON numbers (N is text), so no numeric type ever appears;
* location (the ``data/`` folder), ``TextInputFormat`` / ``HiveIgnoreKeyTextOutputFormat``, the
  OpenX ``JsonSerDe`` with ``paths=Item``, ``Compressed`` false, and the table parameters the
  crawler sets (``classification`` json, ``compressionType`` gzip, ``typeOfData`` file,
  ``objectCount``, ``recordCount``, ``sizeKey``, ``averageRecordSize``, ``UPDATED_BY_CRAWLER``,
  ``CrawlerSchema(De)SerializerVersion``), on the table and on its storage descriptor.

Where a real crawler run can differ is in ``docs/mapping.md`` ("Registering the export").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from ddbmigrate.errors import ConfigError

__all__ = [
    "CRAWLER_PARAMETERS",
    "INPUT_FORMAT",
    "JSON_SERDE",
    "OUTPUT_FORMAT",
    "HiveTypeAccumulator",
    "hive_type_string",
    "register_export",
    "table_input",
]

JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
CRAWLER_PARAMETERS: Mapping[str, str] = {
    "classification": "json",
    "compressionType": "gzip",
    "typeOfData": "file",
    "CrawlerSchemaDeserializerVersion": "1.0",
    "CrawlerSchemaSerializerVersion": "1.0",
}
"""The fixed table parameters a crawler sets on a gzip JSON table (the counts are added per export)."""

_SIMPLE_NAME = re.compile(r"[A-Za-z0-9_]+")
_Type = Any  # "string" | "boolean" | ("array", element | None) | ("struct", {name: type})


def _merge(a: _Type, b: _Type) -> _Type:
    if a is None:
        return b
    if b is None or a == b:
        return a
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0]:
        if a[0] == "array":
            return ("array", _merge(a[1], b[1]))
        fields = dict(a[1])
        for name, type_ in b[1].items():
            fields[name] = _merge(fields.get(name), type_)
        return ("struct", fields)
    return "string"


def _of(value: Any) -> _Type:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int):
        return "int" if -(2**31) <= value < 2**31 else "bigint"
    if isinstance(value, float):
        return "double"
    if isinstance(value, list):
        element: _Type = None
        for v in value:
            element = _merge(element, _of(v))
        return ("array", element)
    if isinstance(value, dict):
        return ("struct", {k: _of(v) for k, v in value.items() if v is not None})
    return None  # JSON null: the crawler learns nothing from it


def _name(name: str) -> str:
    return name if _SIMPLE_NAME.fullmatch(name) else "`" + name.replace("`", "``") + "`"


def hive_type_string(type_: _Type) -> str:
    """A merged type as the Hive type string Glue stores (``struct<pk:struct<S:string>>``)."""
    if type_ is None:
        return "string"
    if isinstance(type_, str):
        return type_
    if type_[0] == "array":
        return f"array<{hive_type_string(type_[1])}>"
    return "struct<" + ",".join(f"{_name(k)}:{hive_type_string(v)}" for k, v in type_[1].items()) + ">"


class HiveTypeAccumulator:
    """The crawler's JSON inference, one parsed line at a time; :meth:`columns` gives the result."""

    def __init__(self) -> None:
        self._columns: dict[str, _Type] = {}
        self.keys: list[str] = []
        """Top-level keys as written in the data (the SerDe's ``paths``)."""
        self.records = 0
        self.record_bytes = 0

    def add(self, record: Mapping[str, Any], size: int) -> None:
        for key, value in record.items():
            column = key.lower()
            if key not in self.keys:
                self.keys.append(key)
            self._columns[column] = _merge(self._columns.get(column), _of(value))
        self.records += 1
        self.record_bytes += size

    def columns(self) -> list[dict[str, str]]:
        return [{"Name": name, "Type": hive_type_string(t)} for name, t in self._columns.items()]


def table_input(
    name: str, location: str, accumulator: HiveTypeAccumulator, *, objects: int, stored_bytes: int,
    crawler_name: str,
) -> dict[str, Any]:
    """The ``TableInput`` of ``CreateTable``/``UpdateTable`` for a crawled gzip JSON folder."""
    parameters = {
        **CRAWLER_PARAMETERS,
        "objectCount": str(objects),
        "recordCount": str(accumulator.records),
        "sizeKey": str(stored_bytes),
        "averageRecordSize": str(accumulator.record_bytes // accumulator.records if accumulator.records else 0),
        "UPDATED_BY_CRAWLER": crawler_name,
    }
    columns = accumulator.columns()
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "PartitionKeys": [],
        "StorageDescriptor": {
            "Columns": columns,
            "Location": location,
            "InputFormat": INPUT_FORMAT,
            "OutputFormat": OUTPUT_FORMAT,
            "Compressed": False,
            "NumberOfBuckets": -1,
            "SerdeInfo": {"SerializationLibrary": JSON_SERDE,
                          "Parameters": {"paths": ",".join(sorted(accumulator.keys))}},
            "BucketColumns": [],
            "SortColumns": [],
            "Parameters": dict(parameters),
            "StoredAsSubDirectories": False,
        },
    }


def register_export(
    glue: Any,
    s3: Any,
    export: Any,
    database: str,
    table: str,
    *,
    crawler_name: str = "ddbmigrate-crawl",
    on_file: Callable[[Any, int], None] | None = None,
) -> dict[str, Any]:
    """Read every data file of ``export`` and create (or update) ``database.table``; return its ``TableInput``.

    ``glue`` is the catalog's account's client (the database is created when missing), ``s3`` the
    bucket owner's (for the files' stored sizes). Raises :class:`ConfigError` naming the table
    when Glue refuses.
    """
    import json

    accumulator = HiveTypeAccumulator()
    stored = 0
    for data_file in export.data_files:
        stored += int(s3.head_object(Bucket=data_file.bucket, Key=data_file.key)["ContentLength"])
        before = accumulator.records
        for number, line in export.iter_lines(data_file):
            try:
                record = json.loads(line)
            except ValueError:
                raise ConfigError(f"{data_file.uri} line {number}: not valid JSON; the crawler cannot classify it") from None
            if not isinstance(record, dict):
                raise ConfigError(f"{data_file.uri} line {number}: not a JSON object; the crawler cannot classify it")
            accumulator.add(record, len(line.encode("utf-8")) + 1)
        if on_file is not None:
            on_file(data_file, accumulator.records - before)
    location = export.folder_uri.rstrip("/") + "/data/"
    description = table_input(table, location, accumulator, objects=len(export.data_files), stored_bytes=stored,
                              crawler_name=crawler_name)
    where = f"--register {database}.{table}"
    try:
        try:
            glue.get_database(Name=database)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                raise
            glue.create_database(DatabaseInput={"Name": database})
        try:
            glue.get_table(DatabaseName=database, Name=table)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                raise
            glue.create_table(DatabaseName=database, TableInput=description)
        else:
            glue.update_table(DatabaseName=database, TableInput=description)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ConfigError(f"{where}: Glue refused to register the table ({code}); "
                          "check the account's glue:CreateTable/UpdateTable permissions") from None
    return description
