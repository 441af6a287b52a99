"""The export's wire formats: ids, names, times, manifests, checksums, data lines (no I/O)."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
from datetime import datetime, timedelta, timezone

import pytest

from ddbmigrate.errors import ConfigError, ExportError, ExportIntegrityError, InvalidItemError
from ddbmigrate.export import layout
from ddbmigrate.s3uri import S3Uri, parse_s3_uri


def _summary(**changes: object) -> dict[str, object]:
    summary: dict[str, object] = {
        "version": "2020-06-30",
        "exportArn": "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/export/01700000000000-0a1b2c3d",
        "startTime": "2024-05-01T12:00:00.000Z",
        "endTime": "2024-05-01T12:05:00.000Z",
        "tableArn": "arn:aws:dynamodb:us-east-1:123456789012:table/Orders",
        "tableId": "12345a12-abcd-123a-ab12-1234abc12345",
        "exportTime": "2024-05-01T12:00:00.000Z",
        "s3Bucket": "exports",
        "s3Prefix": "p",
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": "p/AWSDynamoDB/01700000000000-0a1b2c3d/manifest-files.json",
        "billedSizeBytes": 10,
        "itemCount": 3,
        "outputFormat": "DYNAMODB_JSON",
    }
    summary.update(changes)
    return summary


# ----------------------------------------------------------------------------- names


def test_export_id_has_the_shape_dynamodb_gives_and_encodes_the_time() -> None:
    moment = datetime(2023, 8, 18, 9, 16, 22, 719000, tzinfo=timezone.utc)
    export_id = layout.new_export_id(moment, random.Random(1))
    assert re.fullmatch(r"\d{14}-[0-9a-f]{8}", export_id)
    assert export_id.startswith("01692350182719-")


def test_data_file_names_are_26_base32_characters_and_distinct() -> None:
    rng = random.Random(3)
    names = {layout.new_data_file_name(rng) for _ in range(200)}
    assert len(names) == 200
    assert all(re.fullmatch(r"[a-z2-7]{26}\.json\.gz", n) for n in names)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("exports/2024", "exports/2024/AWSDynamoDB/01700000000000-0a1b2c3d/"),
        ("exports/2024/", "exports/2024/AWSDynamoDB/01700000000000-0a1b2c3d/"),
        (None, "AWSDynamoDB/01700000000000-0a1b2c3d/"),
        ("", "AWSDynamoDB/01700000000000-0a1b2c3d/"),
    ],
)
def test_folder_key(prefix: str | None, expected: str) -> None:
    assert layout.export_folder_key(prefix, "01700000000000-0a1b2c3d") == expected


def test_folder_key_refuses_a_malformed_export_id() -> None:
    with pytest.raises(ExportError, match="not an ExportId"):
        layout.export_folder_key("p", "abc")


def test_find_export_location_splits_at_the_innermost_export() -> None:
    loc = layout.find_export_location("a/AWSDynamoDB/01700000000000-0a1b2c3d/data/x.json.gz")
    assert loc == layout.ExportLocation("a/AWSDynamoDB/01700000000000-0a1b2c3d/", "01700000000000-0a1b2c3d", "data/x.json.gz")
    nested = layout.find_export_location(
        "AWSDynamoDB/01700000000000-0a1b2c3d/copy/AWSDynamoDB/01800000000000-ffffffff/manifest-files.json"
    )
    assert nested is not None and nested.export_id == "01800000000000-ffffffff"
    assert nested.relative == "manifest-files.json"
    no_slash = layout.find_export_location("p/AWSDynamoDB/01700000000000-0a1b2c3d")
    assert no_slash is not None and no_slash.folder_key == "p/AWSDynamoDB/01700000000000-0a1b2c3d/"
    assert layout.find_export_location("p/NotDynamo/01700000000000-0a1b2c3d/") is None


def test_export_arn_round_trip() -> None:
    arn = layout.export_arn("arn:aws:dynamodb:eu-west-1:123456789012:table/Orders", "01700000000000-0a1b2c3d")
    parsed = layout.parse_export_arn(arn)
    assert parsed is not None
    assert (parsed.table_name, parsed.region, parsed.account, parsed.export_id) == (
        "Orders", "eu-west-1", "123456789012", "01700000000000-0a1b2c3d")
    assert layout.parse_export_arn("arn:aws:dynamodb:eu-west-1:123456789012:table/Orders") is None


# ----------------------------------------------------------------------------- times and digests


def test_times_are_written_with_milliseconds_in_utc_and_read_back() -> None:
    moment = datetime(2020, 11, 4, 8, 28, 34, 28999, tzinfo=timezone(timedelta(hours=1)))
    text = layout.format_time(moment)
    assert text == "2020-11-04T07:28:34.028Z"
    assert layout.parse_time(text, where="x") == datetime(2020, 11, 4, 7, 28, 34, 28000, tzinfo=timezone.utc)
    with pytest.raises(ExportError, match="field-x"):
        layout.parse_time("yesterday", where="field-x")


def test_checksum_file_is_hex_md5_and_both_encodings_verify() -> None:
    data = b'{"version":"2020-06-30"}'
    digest = hashlib.md5(data).digest()
    assert layout.checksum_text(data) == digest.hex()
    assert layout.checksum_matches(data, digest.hex() + "\n")
    assert layout.checksum_matches(data, base64.b64encode(digest).decode())
    assert not layout.checksum_matches(data + b" ", digest.hex())
    assert not layout.checksum_matches(data, "not a checksum")


def test_md5_base64_is_what_s3_content_md5_uses() -> None:
    assert layout.md5_base64(b"") == "1B2M2Y8AsgTpgAmY7PhCfg=="


# ----------------------------------------------------------------------------- manifests


def test_summary_round_trip_keeps_documented_order_and_compact_form() -> None:
    encoded = layout.encode_summary(_summary())  # type: ignore[arg-type]
    assert encoded.startswith(b'{"version":"2020-06-30","exportArn":')
    assert list(json.loads(encoded)) == list(layout.SUMMARY_FIELD_TYPES)
    assert layout.decode_summary(encoded, where="s") == _summary()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"itemCount": "3"}, "field 'itemCount' should be int, got str"),
        ({"itemCount": True}, "field 'itemCount' should be int, got bool"),
        ({"s3Prefix": 5}, "field 's3Prefix' should be str or null"),
        ({"itemCount": -1}, "itemCount is negative"),
    ],
)
def test_summary_type_errors_name_the_field(change: dict[str, object], message: str) -> None:
    data = json.dumps(_summary(**change)).encode()
    with pytest.raises(ExportIntegrityError, match=re.escape(message)):
        layout.decode_summary(data, where="s3://b/k/manifest-summary.json")


def test_summary_missing_field_and_bad_json_and_version() -> None:
    missing = _summary()
    del missing["manifestFilesS3Key"]
    with pytest.raises(ExportIntegrityError, match="'manifestFilesS3Key' is missing"):
        layout.decode_summary(json.dumps(missing).encode(), where="s")
    with pytest.raises(ExportIntegrityError, match="where-it-is: not valid JSON"):
        layout.decode_summary(b"{oops", where="where-it-is")
    with pytest.raises(ExportError, match="version '2099-01-01' is not supported"):
        layout.decode_summary(json.dumps(_summary(version="2099-01-01")).encode(), where="s")


def test_ion_and_incremental_exports_are_refused_with_a_way_forward() -> None:
    with pytest.raises(ExportError, match=r"outputFormat is 'ION'.*DYNAMODB_JSON"):
        layout.require_supported(_summary(outputFormat="ION"), where="s")
    with pytest.raises(ExportError, match=r"incremental export.*full exports only"):
        layout.require_supported(_summary(exportType="INCREMENTAL_EXPORT"), where="s")
    layout.require_supported(_summary(exportType="FULL_EXPORT"), where="s")
    layout.require_supported(_summary(), where="s")


def test_files_manifest_round_trip_and_line_errors() -> None:
    entries = [
        {"itemCount": 8, "md5Checksum": "sQMSpEILNgoQmarvDFonGQ==", "etag": "af83d6f217c19b8b0fff8023d8ca4716-1",
         "dataFileS3Key": "AWSDynamoDB/01700000000000-0a1b2c3d/data/a.json.gz"},
        {"itemCount": 0, "md5Checksum": "x", "etag": "y", "dataFileS3Key": "AWSDynamoDB/01700000000000-0a1b2c3d/data/b.json.gz"},
    ]
    encoded = layout.encode_files_manifest(entries)  # type: ignore[arg-type]
    assert encoded.count(b"\n") == 2 and encoded.endswith(b"\n")
    assert encoded.split(b"\n")[0] == (
        b'{"itemCount":8,"md5Checksum":"sQMSpEILNgoQmarvDFonGQ==","etag":"af83d6f217c19b8b0fff8023d8ca4716-1",'
        b'"dataFileS3Key":"AWSDynamoDB/01700000000000-0a1b2c3d/data/a.json.gz"}'
    )
    assert layout.decode_files_manifest(encoded, where="f") == entries
    broken = encoded + b'{"itemCount":1,"etag":"e","md5Checksum":"m"}\n'
    with pytest.raises(ExportIntegrityError, match="f line 3: field 'dataFileS3Key' is missing"):
        layout.decode_files_manifest(broken, where="f")


# ----------------------------------------------------------------------------- data lines


def test_item_line_round_trip_is_type_exact() -> None:
    item = {"pk": {"S": "a"}, "b": {"B": b"\x00\xff"}, "bs": {"BS": [b"\x01"]}, "n": {"N": "1E-130"},
            "m": {"M": {"l": {"L": [{"NULL": True}, {"BOOL": False}]}}}, "ü": {"SS": ["x"]}}
    line = layout.encode_item_line(item)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line)["Item"]["b"] == {"B": "AP8="}
    assert layout.parse_item_line(line.decode().rstrip("\n"), where="w") == item


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"Item": {"pk": {"S": "a"}', "f line 3: not valid JSON"),
        ('{"Keys": {}}', r"f line 3: expected \{\"Item\""),
        ('{"Item": {"pk": {"X": "secret-value"}}}', "f line 3: attribute 'pk': unknown type tag 'X'"),
    ],
)
def test_bad_item_lines_name_file_and_line_but_never_values(line: str, message: str) -> None:
    with pytest.raises(InvalidItemError, match=message) as caught:
        layout.parse_item_line(line, where="f line 3")
    assert "secret-value" not in str(caught.value)


# ----------------------------------------------------------------------------- s3 uris


def test_s3_uri_parse_join_and_errors() -> None:
    uri = parse_s3_uri("s3://my-bucket/a/b")
    assert uri == S3Uri("my-bucket", "a/b")
    assert str(uri.join("c.json")) == "s3://my-bucket/a/b/c.json"
    assert str(uri.folder()) == "s3://my-bucket/a/b/"
    assert uri.name == "b"
    assert parse_s3_uri("s3://my-bucket").key == ""
    with pytest.raises(ConfigError, match="--bucket: 'http://x' is not an S3 URI"):
        parse_s3_uri("http://x", what="--bucket")
    with pytest.raises(ConfigError, match="'My_Bucket' is not a valid bucket name"):
        parse_s3_uri("s3://My_Bucket/k")
