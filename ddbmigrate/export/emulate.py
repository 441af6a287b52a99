"""Emulate ``ExportTableToPointInTime`` where the API does not exist (DynamoDB Local).

It writes an export folder with the exact layout and formats of a native export
(:mod:`ddbmigrate.export.layout`), so everything downstream — ``export check``, the reader, the
crawler, the import — runs unchanged on the local stack. Unlike a native export it is not a
snapshot (a consistent parallel Scan); ``exportTime`` defaults to the scan's start so stream
replication replays every write made meanwhile. Not idempotent by design: each call is a new
ExportId, and a failed run leaves a folder without a summary, which readers refuse.
How it is made: docs/export.md, "On the local stack: emulation".
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import random
import tempfile
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any

from botocore.exceptions import ClientError

from ddbmigrate.accounts import Account
from ddbmigrate.dynamodb import describe_table, dynamodb_client
from ddbmigrate.errors import ConfigError, ExportError
from ddbmigrate.export.layout import (
    DATA_FOLDER,
    FILES_CHECKSUM_NAME,
    FILES_NAME,
    MANIFEST_VERSION,
    OUTPUT_FORMAT,
    STARTED_NAME,
    SUMMARY_CHECKSUM_NAME,
    SUMMARY_NAME,
    ManifestFileEntry,
    ManifestSummary,
    checksum_text,
    encode_files_manifest,
    encode_item_line,
    encode_summary,
    export_arn,
    export_folder_key,
    format_time,
    new_data_file_name,
    new_export_id,
)
from ddbmigrate.values import item_size

__all__ = ["emulate_export"]

_PART_BYTES = 64 * 1024 * 1024
_SPOOL_BYTES = 32 * 1024 * 1024
_MAX_SCAN_THREADS = 4


@dataclass
class _Segment:
    """One data file in the making."""

    name: str
    spool: IO[bytes]
    items: int = 0
    item_bytes: int = 0


def emulate_export(
    source_account: Account,
    table: str,
    s3_client: Any,
    bucket: str,
    prefix: str | None,
    *,
    export_time: datetime | None = None,
    data_files: int = 4,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    rng: random.Random | None = None,
    on_items: Callable[[int], None] | None = None,
) -> str:
    """Scan ``table`` (name or ARN) of ``source_account`` into a native-format export; its folder URI.

    >>> emulate_export(source, "orders", s3, "exports", "2024")   # doctest: +SKIP
    's3://exports/2024/AWSDynamoDB/01714557600000-5f0c1a2b/'

    ``s3_client`` writes the files (on AWS the source account writes into the target's bucket).
    ``on_items(n)`` is called after each scanned page with the page's item count (progress).
    """
    if data_files < 1:
        raise ConfigError(f"data_files: {data_files} — an export has at least one data file")
    rng = rng or random.Random()
    description = describe_table(source_account, table, option="--table")
    table_name, table_arn = description.name, description.arn

    start = clock()
    export_id = new_export_id(start, rng)
    folder = export_folder_key(prefix, export_id)
    _put(s3_client, bucket, folder + STARTED_NAME, b"")

    progress_lock = threading.Lock()

    def report(count: int) -> None:
        if on_items is not None:
            with progress_lock:
                on_items(count)

    with contextlib.ExitStack() as spools:
        segments = [
            _Segment(name=new_data_file_name(rng),
                     spool=spools.enter_context(tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)))
            for _ in range(data_files)
        ]
        with ThreadPoolExecutor(max_workers=min(data_files, _MAX_SCAN_THREADS)) as pool:
            futures = [
                pool.submit(_scan_segment, source_account, table_name, index, data_files, segment, report)
                for index, segment in enumerate(segments)
            ]
            for future in futures:
                future.result()
        entries: list[ManifestFileEntry] = []
        for segment in segments:
            key = f"{folder}{DATA_FOLDER}/{segment.name}"
            segment.spool.seek(0)
            md5 = _md5_of(segment.spool)
            segment.spool.seek(0)
            etag = _upload_multipart(s3_client, bucket, key, segment.spool)
            entries.append({"itemCount": segment.items, "md5Checksum": md5, "etag": etag, "dataFileS3Key": key})

    files_manifest = encode_files_manifest(entries)
    _put(s3_client, bucket, folder + FILES_NAME, files_manifest)
    _put(s3_client, bucket, folder + FILES_CHECKSUM_NAME, checksum_text(files_manifest).encode("ascii"))
    summary: ManifestSummary = {
        "version": MANIFEST_VERSION,
        "exportArn": export_arn(table_arn, export_id),
        "startTime": format_time(start),
        "endTime": format_time(clock()),
        "tableArn": table_arn,
        "tableId": description.table_id or _derived_table_id(table_arn, description.created),
        "exportTime": format_time(export_time or start),
        "s3Bucket": bucket,
        "s3Prefix": prefix or None,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": folder + FILES_NAME,
        "billedSizeBytes": sum(s.item_bytes for s in segments),
        "itemCount": sum(s.items for s in segments),
        "outputFormat": OUTPUT_FORMAT,
    }
    summary_bytes = encode_summary(summary)
    _put(s3_client, bucket, folder + SUMMARY_NAME, summary_bytes)
    _put(s3_client, bucket, folder + SUMMARY_CHECKSUM_NAME, checksum_text(summary_bytes).encode("ascii"))
    return f"s3://{bucket}/{folder}"


def _scan_segment(
    account: Account, table_name: str, index: int, total: int, segment: _Segment, report: Callable[[int], None]
) -> None:
    """Consistent paginated Scan of one segment, gzip-written into the segment's spool."""
    dynamodb = dynamodb_client(account)  # one client per thread: sessions are not shared
    kwargs: dict[str, Any] = {"TableName": table_name, "ConsistentRead": True, "Segment": index, "TotalSegments": total}
    with gzip.GzipFile(filename="", fileobj=segment.spool, mode="wb", mtime=0) as out:
        while True:
            try:
                page = dynamodb.scan(**kwargs)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                raise ExportError(f"scanning {table_name!r} segment {index}/{total} failed ({code})") from None
            for item in page.get("Items", []):
                out.write(encode_item_line(item))
                segment.items += 1
                segment.item_bytes += item_size(item)
            report(len(page.get("Items", [])))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _md5_of(spool: IO[bytes]) -> str:
    """``md5Checksum``: base64 md5 of the stored bytes, computed streaming."""
    digest = hashlib.md5()
    for chunk in iter(lambda: spool.read(1024 * 1024), b""):
        digest.update(chunk)
    return base64.b64encode(digest.digest()).decode("ascii")


def _upload_multipart(s3: Any, bucket: str, key: str, spool: IO[bytes]) -> str:
    """Upload in 64 MB parts (one part for any normal file); the ETag S3 returns. Aborts on failure."""
    try:
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    except ClientError as exc:
        raise _write_error(exc, bucket, key) from None
    try:
        parts = []
        number = 1
        while True:
            chunk = spool.read(_PART_BYTES)
            if not chunk and parts:
                break
            response = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk)
            parts.append({"ETag": response["ETag"], "PartNumber": number})
            number += 1
            if len(chunk) < _PART_BYTES:
                break
        done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                            MultipartUpload={"Parts": parts})
    except ClientError as exc:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise _write_error(exc, bucket, key) from None
    return str(done["ETag"]).strip('"')


def _put(s3: Any, bucket: str, key: str, body: bytes) -> None:
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    except ClientError as exc:
        raise _write_error(exc, bucket, key) from None


def _write_error(exc: ClientError, bucket: str, key: str) -> ExportError:
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "NoSuchBucket":
        return ExportError(f"--bucket: bucket {bucket!r} does not exist")
    return ExportError(f"cannot write s3://{bucket}/{key} ({code})")


def _derived_table_id(table_arn: str, created: Any) -> str:
    """A stable UUID for a table that has no TableId (DynamoDB Local)."""
    stamp = created.isoformat() if isinstance(created, datetime) else str(created or "")
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{table_arn}@{stamp}"))

