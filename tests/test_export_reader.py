"""Opening, reading and checking exports on moto S3: every failure names the file at fault."""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ddbmigrate.errors import ConfigError, ExportError, ExportIntegrityError, InvalidItemError
from ddbmigrate.export import DataFile, ExportHandle, emulate_export, open_export
from ddbmigrate.export.layout import md5_base64
from ddbmigrate.s3uri import parse_s3_uri
from ddbmigrate.sample import create_sample_table, sample_items

pytestmark = pytest.mark.integration

ITEMS = 12


@pytest.fixture(scope="module")
def table(source_ddb: Any) -> Iterator[str]:
    name = f"export-reader-{uuid.uuid4().hex[:8]}"
    create_sample_table(source_ddb, name)
    for item in sample_items(ITEMS):
        source_ddb.put_item(TableName=name, Item=item)
    yield name
    source_ddb.delete_table(TableName=name)


@pytest.fixture
def exported(source: Any, s3: Any, table: str, bucket: str) -> str:
    """A fresh export per test (tests damage it)."""
    return emulate_export(source, table, s3, bucket, "nightly", data_files=3)


def _key(uri: str) -> tuple[str, str]:
    parsed = parse_s3_uri(uri)
    return parsed.bucket, parsed.key


def _read(s3: Any, uri: str) -> bytes:
    bucket, key = _key(uri)
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _write(s3: Any, uri: str, data: bytes) -> None:
    bucket, key = _key(uri)
    s3.put_object(Bucket=bucket, Key=key, Body=data)


def _rewrite_manifest(s3: Any, folder: str, name: str, data: bytes) -> None:
    """Replace a manifest *and* its checksum, as a consistent (but lying) export would have them."""
    _write(s3, folder + f"{name}.json", data)
    _write(s3, folder + f"{name}.checksum", hashlib.md5(data).hexdigest().encode())


def _nonempty(export: ExportHandle) -> DataFile:
    return next(f for f in export.data_files if f.item_count > 1)


# ----------------------------------------------------------------------------- opening


def test_open_by_folder_uri_in_any_spelling(exported: str, s3: Any, bucket: str) -> None:
    without_slash = exported.rstrip("/")
    summary_uri = exported + "manifest-summary.json"
    handles = [open_export(u, s3) for u in (exported, without_slash, summary_uri)]
    assert {h.folder_uri for h in handles} == {exported}
    export = handles[0]
    assert export.bucket == bucket
    assert export.folder_key == _key(exported)[1]
    assert exported.endswith(f"/AWSDynamoDB/{export.export_id}/")
    assert export.item_count == ITEMS == sum(f.item_count for f in export.data_files)
    assert export.export_time == datetime.fromisoformat(export.summary["exportTime"].replace("Z", "+00:00"))
    assert export.export_time.tzinfo == timezone.utc
    manifest_keys = [json.loads(line)["dataFileS3Key"] for line in _read(s3, exported + "manifest-files.json").splitlines()]
    assert [f.key for f in export.data_files] == manifest_keys
    assert all(f.uri == f"s3://{bucket}/{f.key}" and f.bucket == bucket for f in export.data_files)


def test_check_passes_and_reports_what_it_verified(exported: str, s3: Any) -> None:
    export = open_export(exported, s3)
    seen: list[str] = []
    report = export.check(on_file=lambda f: seen.append(f.key))
    assert report.checksums_verified and report.items == ITEMS and report.data_files == 3
    assert report.stored_bytes == sum(len(export.read_file(f)) for f in export.data_files)
    assert sorted(seen) == sorted(f.key for f in export.data_files)
    assert report.notes == []
    quick = export.check(verify_checksums=False)
    assert not quick.checksums_verified and quick.data_files == 3


def test_other_exports_and_strays_under_the_same_prefix_are_ignored(
    source: Any, s3: Any, table: str, bucket: str, exported: str
) -> None:
    second = emulate_export(source, table, s3, bucket, "nightly", data_files=2)
    _write(s3, f"s3://{bucket}/nightly/AWSDynamoDB/stray.json.gz", b"junk")
    _write(s3, exported + "data/not-in-manifest.json.gz", b"junk")
    first_handle, second_handle = open_export(exported, s3), open_export(second, s3)
    assert len(first_handle.data_files) == 3 and len(second_handle.data_files) == 2
    assert all(f.key.startswith(first_handle.folder_key) for f in first_handle.data_files)
    assert all(f.key.startswith(second_handle.folder_key) for f in second_handle.data_files)
    assert not any(f.key.endswith("not-in-manifest.json.gz") for f in first_handle.data_files)
    first_handle.check()
    second_handle.check()


def test_a_copied_export_is_read_where_it_now_is(exported: str, s3: Any, unique_name: Any) -> None:
    other = unique_name("copy")
    s3.create_bucket(Bucket=other)
    src_bucket, src_key = _key(exported)
    folder_name = src_key.rstrip("/").rsplit("/", 1)[-1]
    for obj in s3.list_objects_v2(Bucket=src_bucket, Prefix=src_key)["Contents"]:
        relative = obj["Key"][len(src_key):]
        s3.copy_object(Bucket=other, Key=f"moved/AWSDynamoDB/{folder_name}/{relative}",
                       CopySource={"Bucket": src_bucket, "Key": obj["Key"]})
    moved = open_export(f"s3://{other}/moved/AWSDynamoDB/{folder_name}/", s3)
    assert all(f.bucket == other and f.key.startswith("moved/AWSDynamoDB/") for f in moved.data_files)
    assert moved.check().items == ITEMS


def test_a_uri_that_is_not_an_export_folder_lists_the_exports_under_it(exported: str, s3: Any, bucket: str) -> None:
    with pytest.raises(ConfigError, match=r"is not an export folder.*exports found under it: " + exported):
        open_export(f"s3://{bucket}/nightly/", s3)
    with pytest.raises(ConfigError, match="is inside an export; pass its folder"):
        open_export(exported + "data/x.json.gz", s3)


def test_an_unfinished_export_is_refused(s3: Any, bucket: str) -> None:
    folder = f"s3://{bucket}/p/AWSDynamoDB/01700000000000-0a1b2c3d/"
    with pytest.raises(ExportError, match=r"no export here \(manifest-summary.json not found\)"):
        open_export(folder, s3)
    _write(s3, folder + "_started", b"")
    with pytest.raises(ExportError, match="has started but not finished"):
        open_export(folder, s3)


# ----------------------------------------------------------------------------- damaged exports


def test_a_corrupted_data_file_fails_the_check_naming_it(exported: str, s3: Any) -> None:
    export = open_export(exported, s3)
    victim = _nonempty(export)
    data = bytearray(export.read_file(victim))
    data[len(data) // 2] ^= 0xFF
    _write(s3, victim.uri, bytes(data))
    with pytest.raises(ExportIntegrityError, match="1 problem") as caught:
        export.check()
    message = str(caught.value)
    assert f"{victim.uri}: md5 is " in message and f"manifest-files.json says {victim.md5_checksum}" in message
    with pytest.raises(ExportIntegrityError, match=victim.uri):
        next(export.iter_lines(victim, verify=True))


def test_a_missing_data_file_fails_the_check_naming_it(exported: str, s3: Any) -> None:
    export = open_export(exported, s3)
    victim = export.data_files[-1]
    s3.delete_object(Bucket=victim.bucket, Key=victim.key)
    with pytest.raises(ExportIntegrityError, match=f"{victim.uri}: data file listed in manifest-files.json is missing"):
        export.check()
    with pytest.raises(ExportIntegrityError, match="is missing"):
        export.check(verify_checksums=False)


def test_a_wrong_item_count_fails_the_check_naming_the_file(exported: str, s3: Any) -> None:
    export = open_export(exported, s3)
    victim = _nonempty(export)
    lines = []
    for line in _read(s3, exported + "manifest-files.json").decode().splitlines():
        entry = json.loads(line)
        if entry["dataFileS3Key"] == victim.key:
            entry["itemCount"] += 1
        lines.append(json.dumps(entry, separators=(",", ":")) + "\n")
    _rewrite_manifest(s3, exported, "manifest-files", "".join(lines).encode())
    summary = json.loads(_read(s3, exported + "manifest-summary.json"))
    summary["itemCount"] += 1
    _rewrite_manifest(s3, exported, "manifest-summary", json.dumps(summary).encode())

    export = open_export(exported, s3)
    with pytest.raises(ExportIntegrityError) as caught:
        export.check()
    assert f"{victim.uri}: holds {victim.item_count} item line(s), manifest-files.json says {victim.item_count + 1}" \
        in str(caught.value)


def test_manifests_that_disagree_are_refused_at_open(exported: str, s3: Any) -> None:
    files = _read(s3, exported + "manifest-files.json")
    _write(s3, exported + "manifest-files.json", files.replace(b'"itemCount":', b'"itemCount":1', 1))
    with pytest.raises(ExportIntegrityError, match=r"manifest-files.json: does not match manifest-files.checksum"):
        open_export(exported, s3)
    _rewrite_manifest(s3, exported, "manifest-files", files.replace(b'"itemCount":', b'"itemCount":1', 1))
    with pytest.raises(ExportIntegrityError, match=rf"manifest-summary.json: itemCount is {ITEMS} but .* lists"):
        open_export(exported, s3)


def test_a_bad_line_is_named_by_file_and_line(exported: str, s3: Any) -> None:
    export = open_export(exported, s3)
    victim = _nonempty(export)
    lines = gzip.decompress(export.read_file(victim)).decode().splitlines(keepends=True)
    lines[1] = '{"Item":{"pk":{"S":"x"},"sk":{"N":"not-a-number-secret"}}}\n'
    body = gzip.compress("".join(lines).encode())
    _write(s3, victim.uri, body)
    fixed = []
    for line in _read(s3, exported + "manifest-files.json").decode().splitlines():
        entry = json.loads(line)
        if entry["dataFileS3Key"] == victim.key:
            entry["md5Checksum"] = md5_base64(body)
        fixed.append(json.dumps(entry) + "\n")
    _rewrite_manifest(s3, exported, "manifest-files", "".join(fixed).encode())

    export = open_export(exported, s3)
    victim = next(f for f in export.data_files if f.key == victim.key)
    with pytest.raises(ExportIntegrityError, match=f"{victim.uri} line 2: attribute 'sk': N is not a number") as caught:
        export.check()
    assert "secret" not in str(caught.value)
    items = export.iter_items(victim, verify=True)
    assert next(items)[0] == 1
    with pytest.raises(InvalidItemError, match=f"{victim.uri} line 2"):
        next(items)


def test_corrupt_gzip_raises_naming_the_file_while_streaming(exported: str, s3: Any) -> None:
    export = open_export(exported, s3)
    victim = _nonempty(export)
    _write(s3, victim.uri, b"\x1f\x8b\x08\x00garbage that is not deflate")
    with pytest.raises(ExportIntegrityError, match=f"{victim.uri}: not a valid gzip file"):
        list(export.iter_lines(victim))


def test_ion_exports_are_refused_until_supported(exported: str, s3: Any) -> None:
    summary = json.loads(_read(s3, exported + "manifest-summary.json"))
    summary["outputFormat"] = "ION"
    _rewrite_manifest(s3, exported, "manifest-summary", json.dumps(summary).encode())
    with pytest.raises(ExportError, match="outputFormat is 'ION'"):
        open_export(exported, s3)


def test_incremental_exports_are_refused_until_supported(exported: str, s3: Any) -> None:
    summary = json.loads(_read(s3, exported + "manifest-summary.json"))
    summary.update(exportType="INCREMENTAL_EXPORT", exportFromTime=summary["exportTime"])
    _rewrite_manifest(s3, exported, "manifest-summary", json.dumps(summary).encode())
    with pytest.raises(ExportError, match="incremental export"):
        open_export(exported, s3)


def test_access_denied_on_data_points_at_fix_ownership(exported: str, s3: Any) -> None:
    # moto does not enforce object ownership, so the 403 is stubbed on a client of its own.
    export = open_export(exported, s3)
    victim = export.data_files[0]
    denied = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(denied) as stub:
        stub.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403,
                              expected_params={"Bucket": victim.bucket, "Key": victim.key})
        handle = ExportHandle(parse_s3_uri(exported), export.summary, export.data_files, denied)
        with pytest.raises(ExportError, match=r"access denied.*ddbmigrate export fix-ownership"):
            list(handle.iter_lines(victim))


# ----------------------------------------------------------------------------- by ARN


def test_open_by_export_arn_resolves_the_folder_with_describe_export(exported: str, s3: Any) -> None:
    # DynamoDB Local has no DescribeExport: the DynamoDB side is stubbed, S3 is the real moto.
    export = open_export(exported, s3)
    arn = export.summary["exportArn"].replace("ddblocal", "us-east-1").replace("000000000000", "123456789012")
    ddb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    bucket, folder_key = _key(exported)
    with Stubber(ddb) as stub:
        stub.add_response("describe_export", {"ExportDescription": {
            "ExportArn": arn, "ExportStatus": "COMPLETED", "S3Bucket": bucket, "S3Prefix": "nightly",
            "ExportManifest": folder_key + "manifest-summary.json"}}, {"ExportArn": arn})
        stub.add_response("describe_export", {"ExportDescription": {
            "ExportArn": arn, "ExportStatus": "IN_PROGRESS", "S3Bucket": bucket, "S3Prefix": "nightly"}},
            {"ExportArn": arn})
        by_arn = open_export(arn, s3, dynamodb_client=ddb)
        assert by_arn.folder_uri == exported and by_arn.item_count == ITEMS
        with pytest.raises(ExportError, match="is IN_PROGRESS; only a COMPLETED export can be read"):
            open_export(arn, s3, dynamodb_client=ddb)
    with pytest.raises(ConfigError, match="needs a DynamoDB client"):
        open_export(arn, s3)
