"""The local export emulation against DynamoDB Local + moto S3: same files, fields and bytes as AWS."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from ddbmigrate.errors import ExportError
from ddbmigrate.export import emulate_export, open_export
from ddbmigrate.export.layout import SUMMARY_FIELD_TYPES, find_export_location
from ddbmigrate.sample import create_sample_table, sample_items
from ddbmigrate.values import item_size

pytestmark = pytest.mark.integration

ITEMS = 24
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
_EXPORT_TIME = datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=timezone.utc)


def load_items(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]
        pending: dict[str, Any] = {table: requests}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def canonical(value: Any) -> Any:
    """Sets compare as sets (DynamoDB does not keep member order); numbers as Decimals."""
    if isinstance(value, dict) and len(value) == 1:
        (tag, payload), = value.items()
        if tag == "NS":
            return {tag: sorted(Decimal(x) for x in payload)}
        if tag in ("SS", "BS"):
            return {tag: sorted(bytes(x) if tag == "BS" else x for x in payload)}
        if tag == "M":
            return {tag: {k: canonical(v) for k, v in payload.items()}}
        if tag == "L":
            return {tag: [canonical(v) for v in payload]}
        if tag == "B":
            return {tag: bytes(payload)}
    return value


def canonical_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: canonical(value) for name, value in item.items()}


def key_of(item: dict[str, Any]) -> tuple[str, str]:
    return item["pk"]["S"], item["sk"]["N"]


def scan_all(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture(scope="module")
def sample_table(source_ddb: Any) -> Iterator[str]:
    name = f"export-sample-{uuid.uuid4().hex[:8]}"
    create_sample_table(source_ddb, name)
    load_items(source_ddb, name, list(sample_items(ITEMS)))
    yield name
    source_ddb.delete_table(TableName=name)


@pytest.fixture(scope="module")
def export_bucket(s3: Any) -> str:
    name = f"export-emulate-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def exported(source: Any, s3: Any, sample_table: str, export_bucket: str) -> str:
    return emulate_export(source, sample_table, s3, export_bucket, "exports/2024", export_time=_EXPORT_TIME, data_files=4)


def get(s3: Any, uri: str, name: str = "") -> bytes:
    bucket, key = uri[len("s3://"):].split("/", 1)
    return bytes(s3.get_object(Bucket=bucket, Key=key + name)["Body"].read())


def test_every_type_round_trips_item_by_item(exported: str, s3: Any, source_ddb: Any, sample_table: str) -> None:
    export = open_export(exported, s3)
    export.check()
    from_files: dict[tuple[str, str], dict[str, Any]] = {}
    for data_file in export.data_files:
        for _, item in export.iter_items(data_file, verify=True):
            assert key_of(item) not in from_files, f"{key_of(item)} exported twice"
            from_files[key_of(item)] = item
    from_table = {key_of(item): item for item in scan_all(source_ddb, sample_table)}
    assert len(from_table) == ITEMS
    assert set(from_files) == set(from_table)
    for key, item in from_table.items():
        assert canonical_item(from_files[key]) == canonical_item(item), f"item {key} differs"
    # The sample really exercises the hard cases: spot-check that they survived as such.
    first = from_files[("customer#000000", "0")]
    assert Decimal(first["huge"]["N"]) == Decimal("9.9999999999999999999999999999999999999E+125")
    assert Decimal(first["tiny"]["N"]) == Decimal("1E-130")
    assert first["empty_binary"] == {"B": b""} and first["empty_map"] == {"M": {}}
    assert {"dotted.name", "with space", "ünïcödé_属性", "Case", "case"} <= set(first)


def test_summary_has_every_documented_field_with_its_documented_type(
    exported: str, s3: Any, source_ddb: Any, sample_table: str, export_bucket: str
) -> None:
    raw = get(s3, exported, "manifest-summary.json")
    summary = json.loads(raw)
    assert list(summary) == [
        "version", "exportArn", "startTime", "endTime", "tableArn", "tableId", "exportTime", "s3Bucket",
        "s3Prefix", "s3SseAlgorithm", "s3SseKmsKeyId", "manifestFilesS3Key", "billedSizeBytes", "itemCount",
        "outputFormat",
    ]
    assert list(summary) == list(SUMMARY_FIELD_TYPES)
    for name in ("version", "exportArn", "startTime", "endTime", "tableArn", "tableId", "exportTime", "s3Bucket",
                 "s3Prefix", "s3SseAlgorithm", "manifestFilesS3Key", "outputFormat"):
        assert isinstance(summary[name], str), name
    for name in ("billedSizeBytes", "itemCount"):
        assert isinstance(summary[name], int) and not isinstance(summary[name], bool), name
    assert summary["s3SseKmsKeyId"] is None

    folder_key = exported.split("/", 3)[3]
    location = find_export_location(folder_key)
    assert location is not None and location.relative == ""
    table = source_ddb.describe_table(TableName=sample_table)["Table"]
    assert summary["version"] == "2020-06-30"
    assert summary["exportArn"] == f"{table['TableArn']}/export/{location.export_id}"
    assert summary["tableArn"] == table["TableArn"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", summary["tableId"])
    assert all(_TIME.match(summary[t]) for t in ("startTime", "endTime", "exportTime"))
    assert summary["startTime"] <= summary["endTime"]
    assert summary["exportTime"] == "2024-05-01T12:30:15.250Z"
    assert (summary["s3Bucket"], summary["s3Prefix"]) == (export_bucket, "exports/2024")
    assert summary["s3SseAlgorithm"] == "AES256"
    assert summary["manifestFilesS3Key"] == folder_key + "manifest-files.json"
    assert summary["itemCount"] == ITEMS
    assert summary["billedSizeBytes"] == sum(item_size(i) for i in scan_all(source_ddb, sample_table))
    assert summary["outputFormat"] == "DYNAMODB_JSON"
    assert folder_key.startswith("exports/2024/AWSDynamoDB/")
    assert re.fullmatch(r"\d{14}-[0-9a-f]{8}", location.export_id)


def test_files_manifest_lines_match_the_stored_objects(exported: str, s3: Any, export_bucket: str) -> None:
    raw = get(s3, exported, "manifest-files.json")
    assert raw.endswith(b"\n")
    folder_key = exported.split("/", 3)[3]
    lines = [json.loads(line) for line in raw.decode().splitlines()]
    assert len(lines) == 4
    total = 0
    for entry in lines:
        assert list(entry) == ["itemCount", "md5Checksum", "etag", "dataFileS3Key"]
        assert isinstance(entry["itemCount"], int)
        assert re.fullmatch(re.escape(folder_key) + r"data/[a-z2-7]{26}\.json\.gz", entry["dataFileS3Key"])
        stored = s3.get_object(Bucket=export_bucket, Key=entry["dataFileS3Key"])
        body = stored["Body"].read()
        assert entry["md5Checksum"] == base64.b64encode(hashlib.md5(body).digest()).decode()
        assert entry["etag"] == stored["ETag"].strip('"')
        assert re.fullmatch(r"[0-9a-f]{32}-1", entry["etag"]), "AWS's multipart ETag shape"
        content = gzip.decompress(body).decode()
        item_lines = content.splitlines()
        assert len(item_lines) == entry["itemCount"]
        assert content == "" or content.endswith("\n")
        assert all(list(json.loads(line)) == ["Item"] for line in item_lines)
        total += entry["itemCount"]
    assert total == ITEMS
    assert len({e["dataFileS3Key"] for e in lines}) == 4


def test_started_marker_and_checksum_files(exported: str, s3: Any) -> None:
    assert get(s3, exported, "_started") == b""
    for manifest in ("manifest-summary", "manifest-files"):
        data = get(s3, exported, f"{manifest}.json")
        assert get(s3, exported, f"{manifest}.checksum").decode() == hashlib.md5(data).hexdigest()


def test_empty_partitions_give_empty_but_valid_data_files(source: Any, source_ddb: Any, s3: Any, bucket: str) -> None:
    name = f"export-two-{uuid.uuid4().hex[:8]}"
    create_sample_table(source_ddb, name)
    try:
        load_items(source_ddb, name, list(sample_items(2)))
        uri = emulate_export(source, name, s3, bucket, None, data_files=6)
    finally:
        source_ddb.delete_table(TableName=name)
    assert uri.startswith(f"s3://{bucket}/AWSDynamoDB/")
    export = open_export(uri, s3)
    assert export.summary["s3Prefix"] is None
    assert len(export.data_files) == 6
    empty = [f for f in export.data_files if f.item_count == 0]
    assert len(empty) >= 4
    for data_file in empty:
        assert gzip.decompress(export.read_file(data_file)) == b""
        assert list(export.iter_lines(data_file, verify=True)) == []
    report = export.check()
    assert (report.items, report.data_files, report.empty_files) == (2, 6, len(empty))
    assert export.summary["exportTime"] == export.summary["startTime"]


def test_a_missing_bucket_is_named(source: Any, s3: Any, sample_table: str) -> None:
    with pytest.raises(ExportError, match="--bucket: bucket 'no-such-bucket-here' does not exist"):
        emulate_export(source, sample_table, s3, "no-such-bucket-here", "p")


def test_progress_reports_every_item(source: Any, s3: Any, sample_table: str, bucket: str) -> None:
    seen: list[int] = []
    emulate_export(source, sample_table, s3, bucket, "p", data_files=3, on_items=seen.append)
    assert sum(seen) == ITEMS


def test_unicode_line_separators_inside_values_do_not_split_lines(
    source: Any, source_ddb: Any, s3: Any, bucket: str
) -> None:
    """JSON keeps U+2028, U+2029 and U+0085 raw; only '\\n' ends a line (str.splitlines would split)."""
    name = f"export-seps-{uuid.uuid4().hex[:8]}"
    create_sample_table(source_ddb, name)
    tricky = {"pk": {"S": "a\u2028b"}, "sk": {"N": "1"}, "line\u2029name": {"S": "x\u0085y\r\nz"},
              "l": {"L": [{"S": "\u2028"}]}}
    try:
        source_ddb.put_item(TableName=name, Item=tricky)
        export = open_export(emulate_export(source, name, s3, bucket, "seps", data_files=1), s3)
    finally:
        source_ddb.delete_table(TableName=name)
    (data_file,) = export.data_files
    assert "\u2028" in gzip.decompress(export.read_file(data_file)).decode()
    assert [item for _, item in export.iter_items(data_file, verify=True)] == [tricky]
    assert export.check().items == 1
