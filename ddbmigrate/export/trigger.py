"""Start the native export on AWS (``ExportTableToPointInTime``), wait for it, find its folder.

:func:`run_export` checks point-in-time recovery (the export reads PITR data, never the live
table, so it costs no read capacity), starts a ``DYNAMODB_JSON`` full export with a fresh
``ClientToken`` — botocore's retries cannot start a second export; a second command deliberately
does — and polls ``DescribeExport`` with an injected clock. Only DynamoDB Local's
``UnknownOperationException`` makes it fall back to the emulation, and it says so.
See docs/export.md, "Start an export" and "On the local stack: emulation".
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from ddbmigrate.accounts import Account
from ddbmigrate.dynamodb import describe_table
from ddbmigrate.dynamodb import dynamodb_client as new_dynamodb_client
from ddbmigrate.errors import ConfigError, ExportError
from ddbmigrate.export.emulate import emulate_export
from ddbmigrate.export.layout import OUTPUT_FORMAT, export_folder_key, find_export_location, parse_export_arn

__all__ = [
    "ExportOutcome",
    "ExportRequest",
    "api_absent",
    "ensure_pitr",
    "export_folder_uri",
    "run_export",
    "start_export",
    "wait_for_export",
]

_ABSENT_CODES = frozenset({"UnknownOperationException"})
_FAILURE_HINTS = {
    "S3AccessDenied": "the bucket policy must let the source account write (s3:PutObject, s3:AbortMultipartUpload, "
                      "s3:PutObjectAcl) under the prefix — see 'ddbmigrate policies export'",
    "S3NoSuchBucket": "check --bucket (and that the bucket is in a region the source account can reach)",
    "S3InvalidBucketOwner": "--bucket-owner must be the 12-digit id of the account that owns the bucket",
}


@dataclass(frozen=True)
class ExportRequest:
    """One export, as the user asked for it (CLI options map one to one)."""

    table: str
    bucket: str
    prefix: str | None = None
    bucket_owner: str | None = None
    export_time: datetime | None = None
    enable_pitr: bool = False

    def __post_init__(self) -> None:
        if self.bucket_owner is not None and not re.fullmatch(r"\d{12}", self.bucket_owner):
            raise ConfigError(f"--bucket-owner: {self.bucket_owner!r} is not a 12-digit AWS account id")
        if self.export_time is not None and self.export_time.tzinfo is None:
            raise ConfigError("--export-time: give a time zone (e.g. 2024-05-01T12:00:00Z)")


@dataclass(frozen=True)
class ExportOutcome:
    """Where the export is (or will be) and how it was made."""

    folder_uri: str
    export_arn: str
    status: str
    emulated: bool
    item_count: int | None = None


def api_absent(exc: BaseException) -> bool:
    """True only when the endpoint does not know the operation (DynamoDB Local), not on denial."""
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in _ABSENT_CODES


class _ApiAbsent(Exception):
    """Internal: the export API is missing at this endpoint."""


# --------------------------------------------------------------------------- steps


def ensure_pitr(
    dynamodb: Any,
    table_name: str,
    *,
    enable: bool = False,
    export_time: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """Check point-in-time recovery (and ``export_time`` against its window); True if we enabled it."""
    try:
        description = dynamodb.describe_continuous_backups(TableName=table_name)["ContinuousBackupsDescription"]
    except ClientError as exc:
        if api_absent(exc):
            raise _ApiAbsent from None
        raise ExportError(f"DescribeContinuousBackups {table_name!r} failed ({_code(exc)})") from None
    pitr = description.get("PointInTimeRecoveryDescription", {})
    current = now or datetime.now(timezone.utc)
    if export_time is not None and export_time > current:
        raise ConfigError(f"--export-time: {export_time.isoformat()} is in the future")
    if pitr.get("PointInTimeRecoveryStatus") == "ENABLED":
        earliest = pitr.get("EarliestRestorableDateTime")
        if export_time is not None and earliest is not None and export_time < earliest:
            raise ConfigError(
                f"--export-time: {export_time.isoformat()} is before the earliest restorable time of "
                f"{table_name!r}, {earliest.isoformat()}"
            )
        return False
    if not enable:
        raise ExportError(
            f"point-in-time recovery is off for table {table_name!r}; the native export reads PITR data. "
            "Re-run with --enable-pitr, or: aws dynamodb update-continuous-backups --table-name "
            f"{table_name} --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true"
        )
    if export_time is not None:
        raise ConfigError(
            f"--export-time: point-in-time recovery is off for {table_name!r}, so no past time can be exported; "
            "drop --export-time to export as of now once PITR is enabled"
        )
    try:
        dynamodb.update_continuous_backups(
            TableName=table_name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    except ClientError as exc:
        raise ExportError(f"--enable-pitr: UpdateContinuousBackups {table_name!r} failed ({_code(exc)})") from None
    return True


def start_export(dynamodb: Any, request: ExportRequest, table_arn: str) -> dict[str, Any]:
    """Call ``ExportTableToPointInTime``; the ``ExportDescription`` it returns (``IN_PROGRESS``)."""
    kwargs: dict[str, Any] = {
        "TableArn": table_arn,
        "S3Bucket": request.bucket,
        "ExportFormat": OUTPUT_FORMAT,
        "ExportType": "FULL_EXPORT",
        "ClientToken": str(uuid.uuid4()),
    }
    if request.prefix:
        kwargs["S3Prefix"] = request.prefix
    if request.bucket_owner:
        kwargs["S3BucketOwner"] = request.bucket_owner
    if request.export_time is not None:
        kwargs["ExportTime"] = request.export_time
    try:
        return dict(dynamodb.export_table_to_point_in_time(**kwargs)["ExportDescription"])
    except ClientError as exc:
        if api_absent(exc):
            raise _ApiAbsent from None
        code, message = _code(exc), exc.response.get("Error", {}).get("Message", "")
        if code == "InvalidExportTimeException":
            raise ConfigError(f"--export-time: DynamoDB refused it ({message})") from None
        if code == "PointInTimeRecoveryUnavailableException":
            raise ExportError(f"point-in-time recovery is not available for {table_arn} yet ({message}); retry later") from None
        if code == "LimitExceededException":
            raise ExportError(f"too many exports are running in this account ({message}); wait for some to finish") from None
        raise ExportError(f"ExportTableToPointInTime failed ({code}: {message})") from None


def wait_for_export(
    dynamodb: Any,
    export_arn: str,
    *,
    poll_seconds: float = 10.0,
    timeout_seconds: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_poll: Callable[[dict[str, Any], float], None] | None = None,
) -> dict[str, Any]:
    """Poll ``DescribeExport`` until ``COMPLETED``; ``FAILED`` or the timeout raise :class:`ExportError`.

    The export keeps running in AWS if we stop waiting; ``ddbmigrate export wait ARN`` resumes.
    """
    started = clock()
    while True:
        try:
            description = dict(dynamodb.describe_export(ExportArn=export_arn)["ExportDescription"])
        except ClientError as exc:
            raise ExportError(f"DescribeExport {export_arn} failed ({_code(exc)})") from None
        elapsed = clock() - started
        if on_poll is not None:
            on_poll(description, elapsed)
        status = description.get("ExportStatus")
        if status == "COMPLETED":
            return description
        if status == "FAILED":
            code = description.get("FailureCode", "unknown")
            hint = _FAILURE_HINTS.get(code)
            raise ExportError(
                f"export {export_arn} FAILED: {code}: {description.get('FailureMessage', '')}" + (f" — {hint}" if hint else "")
            )
        if timeout_seconds is not None and elapsed >= timeout_seconds:
            raise ExportError(
                f"export {export_arn} is still {status} after {elapsed:.0f}s; it keeps running in AWS — "
                f"resume with: ddbmigrate export wait {export_arn}"
            )
        sleep(poll_seconds)


def export_folder_uri(description: dict[str, Any]) -> str:
    """``s3://B/P/AWSDynamoDB/<ExportId>/`` from an ``ExportDescription``.

    Taken from ``ExportManifest`` (the summary's key, or an s3:// URI of it) once AWS reports it,
    otherwise built from ``S3Prefix`` and the ExportId at the end of the ARN.
    """
    bucket = description["S3Bucket"]
    manifest = str(description.get("ExportManifest") or "")
    if manifest.startswith("s3://"):
        manifest = manifest.split("/", 3)[3] if manifest.count("/") >= 3 else ""
    location = find_export_location(manifest) if manifest else None
    if location is not None:
        return f"s3://{bucket}/{location.folder_key}"
    parsed = parse_export_arn(description["ExportArn"])
    if parsed is None:
        raise ExportError(f"{description['ExportArn']!r} is not an export ARN; cannot tell its folder")
    return f"s3://{bucket}/{export_folder_key(description.get('S3Prefix'), parsed.export_id)}"


# --------------------------------------------------------------------------- the whole step


def run_export(
    account: Account,
    request: ExportRequest,
    *,
    emulate: bool | None = None,
    wait: bool = False,
    s3_client: Any = None,
    dynamodb_client: Any = None,
    notify: Callable[[str], None] = lambda message: None,
    on_poll: Callable[[dict[str, Any], float], None] | None = None,
    on_items: Callable[[int], None] | None = None,
    poll_seconds: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> ExportOutcome:
    """Export ``request.table`` of ``account`` into ``request.bucket``; see the module docstring.

    ``s3_client`` is used only by the emulation (default: ``account``'s S3 client — the writer
    of the files, as on AWS); ``dynamodb_client`` defaults to ``account``'s.
    """
    dynamodb = dynamodb_client if dynamodb_client is not None else new_dynamodb_client(account)
    table = describe_table(account, request.table, option="--table", client=dynamodb)
    if emulate is not True:
        try:
            enabled = ensure_pitr(dynamodb, table.name, enable=request.enable_pitr, export_time=request.export_time)
            if enabled:
                notify(f"point-in-time recovery enabled on {table.name}")
            description = start_export(dynamodb, request, table.arn)
        except _ApiAbsent:
            if emulate is False:
                raise ExportError(
                    f"the DynamoDB endpoint of {account.describe()} has no export API (UnknownOperationException); "
                    "drop --no-emulate to emulate the export with a scan"
                ) from None
            notify(
                f"the DynamoDB endpoint of {account.describe()} has no export API (UnknownOperationException, "
                "as DynamoDB Local answers): emulating the export with a consistent scan"
            )
        else:
            if wait:
                description = wait_for_export(dynamodb, description["ExportArn"], poll_seconds=poll_seconds,
                                              sleep=sleep, on_poll=on_poll)
            return ExportOutcome(
                folder_uri=export_folder_uri(description), export_arn=description["ExportArn"],
                status=description.get("ExportStatus", ""), emulated=False, item_count=description.get("ItemCount"),
            )
    if request.bucket_owner:
        notify("--bucket-owner is not used by the emulation (it writes with the profile's S3 client)")
    if request.export_time is not None:
        notify("the emulation scans the table as it is now; --export-time is only recorded as the exportTime")
    s3 = s3_client if s3_client is not None else account.client("s3")
    uri = emulate_export(account, table.arn, s3, request.bucket, request.prefix,
                         export_time=request.export_time, on_items=on_items)
    location = find_export_location(uri.split("/", 3)[3])
    export_id = location.export_id if location else ""
    return ExportOutcome(folder_uri=uri, export_arn=f"{table.arn}/export/{export_id}", status="COMPLETED",
                         emulated=True)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
