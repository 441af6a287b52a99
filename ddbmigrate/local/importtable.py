"""Emulate ``ImportTable``/``DescribeImport`` where the API does not exist (DynamoDB Local), as the
export is emulated: it creates the table from ``TableCreationParameters``, writes every item of the
export's data files without metering (ImportTable consumes no write capacity), logs each refused
line to a CloudWatch-like JSON-lines file (``/aws-dynamodb/imports``: one event per error, never the
item) and answers with an ``ImportTableDescription`` of the same field names, which it keeps so that
:func:`describe_emulated_import` can answer later, from another process.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ddbmigrate.dynamodb import error_code
from ddbmigrate.errors import ConfigError, DdbMigrateError
from ddbmigrate.export import open_export
from ddbmigrate.export.layout import parse_item_line

__all__ = ["LOG_GROUP", "describe_emulated_import", "emulate_import_table"]

LOG_GROUP = "/aws-dynamodb/imports"
_BATCH = 25


def _arn_id(import_arn: str) -> str:
    return import_arn.rsplit("/", 1)[-1]


def emulate_import_table(client: Any, s3: Any, request: Mapping[str, Any], export_uri: str, log_dir: str | Path,
                         *, import_id: str | None = None) -> dict[str, Any]:
    """Run ``request`` (an ImportTable request: ``S3BucketSource``, ``InputFormat`` DYNAMODB_JSON,
    ``TableCreationParameters``) over the export at ``export_uri``; the final ``ImportTableDescription``."""
    if request.get("InputFormat") != "DYNAMODB_JSON":
        raise ConfigError(f"the ImportTable emulation reads DYNAMODB_JSON exports, got {request.get('InputFormat')!r}")
    parameters = dict(request["TableCreationParameters"])
    name = parameters["TableName"]
    started = datetime.now(timezone.utc)
    try:
        table = client.create_table(**parameters)["TableDescription"]
    except ClientError as exc:
        if error_code(exc) == "ResourceInUseException":  # as ImportTable: it only creates tables
            raise DdbMigrateError(f"ImportTable: table {name!r} already exists; ImportTable only creates new tables") from None
        raise
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    import_arn = f"{table['TableArn']}/import/{import_id or new_import_id()}"
    folder = Path(log_dir)
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"{_arn_id(import_arn)}.log.jsonl"
    processed = imported = errors = processed_bytes = 0
    export = open_export(export_uri, s3)
    with open(log_path, "w", encoding="utf-8") as log:
        for data_file in export.data_files:
            batch: list[dict[str, Any]] = []
            for number, line in export.iter_lines(data_file, verify=True):
                processed += 1
                processed_bytes += len(line)
                try:
                    batch.append({"PutRequest": {"Item": parse_item_line(line, where=f"{data_file.uri} line {number}")}})
                except DdbMigrateError as exc:
                    _log(log, f"{data_file.uri} line {number}: {exc}")
                    continue
                if len(batch) == _BATCH:
                    imported += _write(client, name, batch, log)
                    batch = []
            if batch:
                imported += _write(client, name, batch, log)
    errors = processed - imported  # lines refused, and items the table refused
    description = {
        "ImportArn": import_arn, "ImportStatus": "COMPLETED", "TableArn": table["TableArn"],
        "TableId": table.get("TableId", ""), "ClientToken": request.get("ClientToken", ""),
        "S3BucketSource": dict(request["S3BucketSource"]), "ErrorCount": errors,
        "CloudWatchLogGroupArn": f"{LOG_GROUP} (emulated: {log_path})", "InputFormat": "DYNAMODB_JSON",
        "InputCompressionType": request.get("InputCompressionType", "GZIP"), "TableCreationParameters": parameters,
        "StartTime": started.isoformat(), "EndTime": datetime.now(timezone.utc).isoformat(),
        "ProcessedSizeBytes": processed_bytes, "ProcessedItemCount": processed, "ImportedItemCount": imported,
    }
    (folder / f"{_arn_id(import_arn)}.json").write_text(json.dumps(description, indent=2, default=str), encoding="utf-8")
    return description


def new_import_id() -> str:
    """An import id in the shape AWS gives (``01`` + 13 digits of ms + ``-`` + 8 hex)."""
    now = int(datetime.now(timezone.utc).timestamp() * 1000)
    return f"01{now:013d}-{uuid.uuid4().hex[:8]}"


def describe_emulated_import(log_dir: str | Path, import_arn: str) -> dict[str, Any]:
    """``DescribeImport`` of an emulated import: its ``ImportTableDescription``."""
    path = Path(log_dir) / f"{_arn_id(import_arn)}.json"
    if not path.is_file():
        raise DdbMigrateError(f"DescribeImport: no import {import_arn} under {log_dir}")
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _write(client: Any, table: str, batch: list[dict[str, Any]], log: Any) -> int:
    """BatchWriteItem until nothing is unprocessed; a refused batch is retried item by item, each refusal logged."""
    try:
        requests: dict[str, Any] = {table: batch}
        while requests:
            requests = client.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
        return len(batch)
    except ClientError as exc:
        if error_code(exc) != "ValidationException":
            raise
    written = 0
    for request in batch:
        try:
            client.put_item(TableName=table, Item=request["PutRequest"]["Item"])
            written += 1
        except ClientError as exc:
            if error_code(exc) != "ValidationException":
                raise
            _log(log, f"item refused by the table ({error_code(exc)}): {exc.response.get('Error', {}).get('Message', '')}")
    return written


def _log(log: Any, message: str) -> None:
    event = {"timestamp": int(datetime.now(timezone.utc).timestamp() * 1000), "message": message}
    log.write(json.dumps(event, ensure_ascii=False) + "\n")
