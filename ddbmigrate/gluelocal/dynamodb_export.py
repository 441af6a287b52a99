"""Glue's DynamoDB *export* connector locally, and the two transforms that shape its rows.

With ``dynamodb.export`` = ``ddb`` Glue starts ``ExportTableToPointInTime`` and waits; with ``s3``
it reads a past export. Either way the rows are the export's lines as JSON: one column ``Item``
holding DynamoDB JSON (each attribute a struct of its type tag). Locally the export is started
with :func:`ddbmigrate.export.run_export` (emulated where the endpoint has no export API, as on
DynamoDB Local) and its data files, listed by the manifest, are read by Spark.

``unnestDDBJson`` / :func:`unnest_ddb_json` and ``simplifyDDBJson`` / :func:`simplify_ddb_json`
drop the tags as Glue documents them; both are lossy (N and B become strings, sets become
arrays, NULL disappears) — docs/gluelocal.md, "The export connector", has the table.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ddbmigrate.accounts import Account
from ddbmigrate.errors import ConfigError, ExportError
from ddbmigrate.gluelocal.dynamodb_source import glue_spelled
from ddbmigrate.sink.options import split_table_arn

__all__ = [
    "GLUE_EXPORT_OPTIONS",
    "ExportSourceOptions",
    "export_folder",
    "read_export",
    "simplify_ddb_json",
    "unnest_ddb_json",
]

log = logging.getLogger("ddbmigrate.gluelocal")

GLUE_EXPORT_OPTIONS: Mapping[str, str] = {
    name.lower(): name
    for name in ("dynamodb.export", "dynamodb.tableArn", "dynamodb.unnestDDBJson", "dynamodb.simplifyDDBJson",
                 "dynamodb.s3.bucket", "dynamodb.s3.prefix", "dynamodb.s3.bucketOwner", "dynamodb.sts.roleArn",
                 "dynamodb.sts.roleSessionName", "dynamodb.sts.region", "dynamodb.exportTime")
}
"""The export connector's options as Glue documents them (lower-cased name → Glue's spelling)."""
_SESSION_NAME = "glue-dynamodb-read-sts-session"
_TAGS = frozenset({"S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "M", "L"})


def _flag(value: str, option: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise ConfigError(f"{option}: expected true or false, got {value!r}")
    return value.lower() == "true"


@dataclass(frozen=True)
class ExportSourceOptions:
    """Glue's export-connector options, checked (module docstring)."""

    mode: str
    table_arn: str
    bucket: str
    prefix: str | None = None
    bucket_owner: str | None = None
    unnest: bool = False
    simplify: bool = False
    role_arn: str | None = None
    session_name: str = _SESSION_NAME
    region: str | None = None
    export_time: datetime | None = None

    @classmethod
    def from_glue_options(cls, options: Mapping[str, Any]) -> ExportSourceOptions:
        given = glue_spelled(options, GLUE_EXPORT_OPTIONS, connector="export connector")
        mode = given["dynamodb.export"].lower()
        if mode not in ("ddb", "s3"):
            raise ConfigError(f"dynamodb.export: expected 'ddb' (start an export) or 's3' (read a past export), "
                              f"got {given['dynamodb.export']!r}")
        table = given.get("dynamodb.tableArn")
        if not table:
            raise ConfigError("dynamodb.tableArn is required with dynamodb.export: the ARN of the table to export")
        split_table_arn(table)
        bucket = given.get("dynamodb.s3.bucket")
        if not bucket:
            raise ConfigError("dynamodb.s3.bucket is required locally (on Glue it defaults to the job's --TempDir, "
                              "which a local run does not have)")
        unnest = _flag(given.get("dynamodb.unnestDDBJson", "false"), "dynamodb.unnestDDBJson")
        simplify = _flag(given.get("dynamodb.simplifyDDBJson", "false"), "dynamodb.simplifyDDBJson")
        if unnest and simplify:
            raise ConfigError("dynamodb.unnestDDBJson and dynamodb.simplifyDDBJson are both true; Glue refuses that — "
                              "keep one (Glue recommends simplifyDDBJson)")
        owner = given.get("dynamodb.s3.bucketOwner") or None
        if owner is not None and not re.fullmatch(r"\d{12}", owner):
            raise ConfigError(f"dynamodb.s3.bucketOwner: {owner!r} is not a 12-digit AWS account id")
        return cls(
            mode=mode, table_arn=table, bucket=bucket, prefix=given.get("dynamodb.s3.prefix") or None,
            bucket_owner=owner, unnest=unnest, simplify=simplify, role_arn=given.get("dynamodb.sts.roleArn") or None,
            session_name=given.get("dynamodb.sts.roleSessionName") or _SESSION_NAME,
            region=given.get("dynamodb.sts.region") or split_table_arn(table)[1],
            export_time=_time(given.get("dynamodb.exportTime")),
        )


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"dynamodb.exportTime: {text!r} is not an ISO-8601 instant (e.g. 2024-05-01T12:00:00Z)") from None
    if moment.tzinfo is None:
        raise ConfigError(f"dynamodb.exportTime: {text!r} has no time zone; give one (e.g. 2024-05-01T12:00:00Z)")
    return moment


# --------------------------------------------------------------------------- where the export is


def _start_export(account: Account, options: ExportSourceOptions, dynamodb: Any) -> str:
    """``dynamodb.export=ddb``: refuse a table without PITR as AWS does, else export and wait; the folder."""
    from ddbmigrate.dynamodb import describe_table
    from ddbmigrate.export import ExportRequest, run_export
    from ddbmigrate.export.trigger import api_absent

    table = describe_table(account, options.table_arn, option="dynamodb.tableArn", client=dynamodb)
    try:
        backups = dynamodb.describe_continuous_backups(TableName=table.name)["ContinuousBackupsDescription"]
    except ClientError as exc:
        if not api_absent(exc):
            code = exc.response.get("Error", {}).get("Code", "")
            raise ExportError(f"dynamodb.export=ddb: DescribeContinuousBackups on {table.arn} failed ({code})") from None
    else:
        status = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
        if status != "ENABLED":
            raise ExportError(
                f"dynamodb.export=ddb: point-in-time recovery is off for table {table.arn}, and an export reads "
                f"PITR data; turn it on (aws dynamodb update-continuous-backups --table-name {table.name} "
                "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true) or use dynamodb.export=s3"
            )
    request = ExportRequest(table=table.arn, bucket=options.bucket, prefix=options.prefix,
                            bucket_owner=options.bucket_owner, export_time=options.export_time)
    outcome = run_export(account, request, wait=True, dynamodb_client=dynamodb, notify=log.warning)
    return outcome.folder_uri


def _past_export(options: ExportSourceOptions, s3: Any) -> str:
    """``dynamodb.export=s3``: the export folder at bucket/prefix, or the newest export of the table below it."""
    from ddbmigrate.export.layout import EXPORT_ROOT, SUMMARY_NAME, decode_summary, find_export_location

    prefix = (options.prefix or "").strip("/")
    where = f"s3://{options.bucket}/{prefix}"
    if find_export_location(prefix + "/") is not None:
        return where.rstrip("/") + "/"
    root = f"{prefix}/{EXPORT_ROOT}/" if prefix else f"{EXPORT_ROOT}/"
    name = split_table_arn(options.table_arn)[0]
    found: list[tuple[str, str]] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=options.bucket, Prefix=root, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                key = common["Prefix"] + SUMMARY_NAME
                try:
                    body = s3.get_object(Bucket=options.bucket, Key=key)["Body"].read()
                except ClientError:
                    continue  # an export still running (or failed) has no summary yet
                summary = decode_summary(body, where=f"s3://{options.bucket}/{key}")
                if split_table_arn(summary["tableArn"])[0] == name:
                    found.append((summary["exportTime"], common["Prefix"]))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ConfigError(f"dynamodb.export=s3: cannot list {where} ({code})") from None
    if not found:
        raise ConfigError(f"dynamodb.export=s3: no completed export of table {name} at {where} "
                          f"(looked for {EXPORT_ROOT}/<ExportId>/{SUMMARY_NAME} below dynamodb.s3.prefix)")
    return f"s3://{options.bucket}/{max(found)[1]}"


def export_folder(account: Account, options: ExportSourceOptions, *, dynamodb_client: Any = None,
                  s3_client: Any = None) -> str:
    """The export folder the options name: started and waited for (``ddb``) or found (``s3``)."""
    if options.mode == "ddb":
        from ddbmigrate.dynamodb import dynamodb_client as new_client

        return _start_export(account, options, dynamodb_client if dynamodb_client is not None else new_client(account))
    return _past_export(options, s3_client if s3_client is not None else account.client("s3"))


def read_export(spark: Any, options: ExportSourceOptions, account: Account, *, staging_dir: str | None = None) -> tuple[Any, str]:
    """The export's items as Glue's export connector returns them; (DataFrame, frame name)."""
    from ddbmigrate.export import open_export
    from ddbmigrate.gluelocal.staging import S3ReadOptions, stage_files

    s3 = account.client("s3")
    folder = export_folder(account, options, s3_client=s3)
    export = open_export(folder, s3)
    name = split_table_arn(options.table_arn)[0]
    if export.table_arn and split_table_arn(export.table_arn)[0] != name:
        raise ConfigError(f"dynamodb.tableArn names table {name} but the export at {folder} is of {export.table_arn}")
    uris = [f.uri for f in export.data_files]
    staged = stage_files(S3ReadOptions.from_connection_options({"paths": uris}), lambda: s3,
                         staging_dir=staging_dir) if uris else None
    if staged is None or not staged.files or export.item_count == 0:
        df = spark.createDataFrame([], "struct<>")
    else:
        df = spark.read.json(staged.files, mode="FAILFAST")
    if options.unnest:
        df = unnest_ddb_json(df)
    elif options.simplify:
        df = simplify_ddb_json(df)
    return df, name


# --------------------------------------------------------------------------- the two transforms


def _tag(dtype: Any) -> str | None:
    """The one DynamoDB type tag a field carries in every item, else None (several tags, or not DynamoDB JSON)."""
    from pyspark.sql.types import StructType

    if isinstance(dtype, StructType) and len(dtype.fields) == 1 and dtype.fields[0].name in _TAGS:
        return dtype.fields[0].name
    return None


def _plain(column: Any, dtype: Any) -> Any:
    """The value without its tag (S, N, B as text; sets as arrays; NULL as null), or None for M and L."""
    from pyspark.sql import functions as F

    tag = _tag(dtype)
    if tag is None or tag in ("M", "L"):
        return None
    return F.lit(None) if tag == "NULL" else column.getField(tag)


def _simplified(column: Any, dtype: Any) -> Any:
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    tag = _tag(dtype)
    if tag == "M":
        members = dtype["M"].dataType
        if not isinstance(members, StructType) or not members.fields:
            return column.getField("M")
        inner = column.getField("M")
        return F.struct(*[_simplified(inner.getField(f.name), f.dataType).alias(f.name) for f in members.fields])
    if tag == "L":
        element = dtype["L"].dataType.elementType
        if _tag(element) in (None, "M", "L"):
            return column.getField("L")  # several element types, or maps/lists inside: left as DynamoDB JSON
        return F.transform(column.getField("L"), lambda e: _simplified(e, element))
    plain = _plain(column, dtype)
    return column if plain is None else plain


def _attributes(df: Any) -> tuple[Any, list[Any]]:
    """(the column holding the attributes, its fields): ``Item`` (an export's line; ``item`` as the
    crawler names it) when the frame has it, else the frame's own columns."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    for name in ("Item", "item"):
        if name in df.columns and isinstance(df.schema[name].dataType, StructType):
            return F.col(name), list(df.schema[name].dataType.fields)
    return None, list(df.schema.fields)


def simplify_ddb_json(df: Any) -> Any:
    """Glue's ``simplify_ddb_json``: every tag dropped, maps kept as structs, recursively.

    A list whose elements have several types or are maps stays as DynamoDB JSON (as Glue
    documents); so does a field whose type differs across items (Glue would make it a choice).
    """
    from pyspark.sql import functions as F

    root, fields = _attributes(df)
    source = (lambda n: root.getField(n)) if root is not None else (lambda n: F.col(f"`{n}`"))
    return df.select(*[_simplified(source(f.name), f.dataType).alias(f.name) for f in fields])


def _unnested(column: Any, dtype: Any, name: str) -> list[Any]:
    if _tag(dtype) == "M":
        members = dtype["M"].dataType
        inner = column.getField("M")
        return [c for f in getattr(members, "fields", []) for c in _unnested(inner.getField(f.name), f.dataType,
                                                                             f"{name}.{f.name}")]
    if _tag(dtype) == "L":
        return [column.getField("L").alias(name)]  # an array of structs is not unnested (Glue's docs)
    plain = _plain(column, dtype)
    return [(column if plain is None else plain).alias(name)]


def unnest_ddb_json(df: Any) -> Any:
    """Glue's ``unnest_ddb_json``: tags dropped and maps flattened into ``parent.child`` columns.

    Lists keep their elements as DynamoDB JSON; a field whose type differs across items stays
    as its DynamoDB JSON struct (Glue would make it a choice). docs/gluelocal.md has the table.
    """
    from pyspark.sql import functions as F

    root, fields = _attributes(df)
    source = (lambda n: root.getField(n)) if root is not None else (lambda n: F.col(f"`{n}`"))
    return df.select(*[c for f in fields for c in _unnested(source(f.name), f.dataType, f.name)])
