"""Step 1, plan: describe both sides and choose the path, saying why.

Pure once the descriptions are read (:func:`choose_path`), so every rule is testable without AWS.
Rules (docs/migrate.md, "The three paths"): without a bucket only the table copy is possible;
ImportTable when the target does not exist, nothing is mapped and the source has no LSIs (ImportTable
cannot create them) — it consumes no write capacity; otherwise the estimate's recommendation
(table copy up to 10 GiB, export-import above).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ddbmigrate.dynamodb import TableDescription, describe_table, dynamodb_client, error_code
from ddbmigrate.errors import ConfigError
from ddbmigrate.estimate import TABLE_COPY_MAX_BYTES, format_bytes
from ddbmigrate.migrate.options import AUTO, EXPORT_IMPORT, IMPORT_TABLE, TABLE_COPY, MigrateOptions
from ddbmigrate.migrate.schema import SourceSchema, read_source_schema

__all__ = ["Plan", "TargetState", "choose_path", "make_plan", "pitr_status"]


@dataclass(frozen=True)
class TargetState:
    """The target as found: ``absent``, ``compatible`` (same key schema) or ``incompatible``."""

    status: str
    description: TableDescription | None = None
    empty: bool = True


@dataclass(frozen=True)
class Plan:
    """What will run, and why."""

    path: str
    reasons: tuple[str, ...]
    source: TableDescription
    schema: SourceSchema
    pitr: str
    """``ENABLED``, ``DISABLED`` or ``unsupported`` (DynamoDB Local: the export is emulated)."""
    target: TargetState
    notes: tuple[str, ...] = field(default=())

    def rows(self) -> list[tuple[str, str]]:
        """The plan as (what, value) rows for the CLI's table and the report."""
        s = self.source
        gsis = [i["IndexName"] for i in self.schema.table.get("GlobalSecondaryIndexes") or ()]
        lsis = [i["IndexName"] for i in self.schema.local_secondary_indexes]
        capacity = "on-demand" if s.on_demand else f"provisioned {s.provisioned_read_units} RCU / {s.provisioned_write_units} WCU"
        return [
            ("source", f"{s.name}: {s.item_count:,} items, {format_bytes(s.size_bytes)}, {capacity}"),
            ("source PITR", self.pitr),
            ("source stream", s.stream_view_type or "off"),
            ("source indexes", f"GSIs: {', '.join(gsis) or 'none'}; LSIs: {', '.join(lsis) or 'none'}"),
            ("source TTL", self.schema.ttl_attribute or "off"),
            ("source tags", "cannot be listed here (DynamoDB Local)" if self.schema.tags is None
             else str(len(self.schema.tags))),
            ("target", self.target.status + ("" if self.target.empty else ", not empty")),
            ("path", self.path),
            *(("why", reason) for reason in self.reasons),
            *(("note", note) for note in self.notes),
        ]


def pitr_status(client: Any, table: str) -> str:
    """``ENABLED``/``DISABLED``, or ``unsupported`` where the API does not exist (DynamoDB Local)."""
    try:
        description = client.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    except ClientError as exc:
        if error_code(exc) == "UnknownOperationException":
            return "unsupported"
        raise
    return str((description.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus", "DISABLED"))


def _target_state(options: MigrateOptions, client: Any, source: TableDescription) -> TargetState:
    try:
        client.describe_table(TableName=options.target_table)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return TargetState("absent")
        raise
    target = describe_table(options.target, options.target_table, option="--target-table", client=client)
    empty = not client.scan(TableName=options.target_table, Limit=1, Select="COUNT").get("Count")
    same = (target.key_names == source.key_names and
            all(target.attribute_types[k] == source.attribute_types[k] for k in target.key_names))
    return TargetState("compatible" if same or options.mapping else "incompatible", target, empty)


def choose_path(options: MigrateOptions, source: TableDescription, schema: SourceSchema,
                target: TargetState) -> tuple[str, tuple[str, ...]]:
    """The path and the reasons (an explicit ``--path`` is checked, not second-guessed)."""
    lsis = bool(schema.local_secondary_indexes)
    if options.path == IMPORT_TABLE:
        if target.status != "absent":
            raise ConfigError(f"--path import-table: target table {options.target_table!r} exists; ImportTable only "
                              "creates new tables — choose --path export-import")
        if lsis:
            raise ConfigError(f"--path import-table: source table {source.name!r} has LSIs, which ImportTable cannot "
                              "create — choose --path export-import")
        return IMPORT_TABLE, ("asked for with --path",)
    if options.path != AUTO:
        return options.path, ("asked for with --path",)
    if not options.bucket:
        return TABLE_COPY, ("no --bucket: the table copy is the path that needs no S3",)
    if target.status == "absent" and not lsis and not options.mapping:
        return IMPORT_TABLE, ("the target does not exist, nothing is mapped and the source has no LSIs: ImportTable "
                              "creates it from the export and consumes no write capacity",)
    if source.size_bytes > TABLE_COPY_MAX_BYTES:
        return EXPORT_IMPORT, (f"the table holds {format_bytes(source.size_bytes)}, above the "
                               f"{format_bytes(TABLE_COPY_MAX_BYTES)} where a table copy stops being sensible",)
    why = "the target exists" if target.status != "absent" else ("the source has LSIs" if lsis else "a --mapping is applied")
    return EXPORT_IMPORT, (f"{why}, so ImportTable cannot be used; the export reads PITR data and costs the "
                           "source no read capacity",)


def make_plan(options: MigrateOptions, *, path: str | None = None) -> Plan:
    """Describe both sides (DescribeTable, DescribeContinuousBackups, DescribeTimeToLive, tags) and choose
    (``path``: the one a resumed run recorded, kept as it is)."""
    source_client = dynamodb_client(options.source)
    source = describe_table(options.source, options.source_table, option="--source-table", client=source_client)
    schema = read_source_schema(source_client, source.name)
    target = _target_state(options, dynamodb_client(options.target), source)
    path, reasons = ((path, ("chosen by the first run (recorded in the state file)",)) if path
                     else choose_path(options, source, schema, target))
    pitr = pitr_status(source_client, source.name) if path != TABLE_COPY else "not needed"
    notes = []
    if pitr == "unsupported":
        notes.append("this endpoint has no PITR API (DynamoDB Local): the export is emulated with a consistent scan")
    if path == IMPORT_TABLE:
        notes.append("ImportTable creates the table; TTL and tags are added after the import")
    elif target.status == "absent":
        notes.append("the target is created from the source's description; TTL and tags are added after the load")
    return Plan(path, reasons, source, schema, pitr, target, tuple(notes))
