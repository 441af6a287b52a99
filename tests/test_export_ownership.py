"""``bucket-owner-full-control`` on every object of one export, and nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ddbmigrate.errors import ConfigError, ExportError
from ddbmigrate.export import emulate_export, fix_ownership
from ddbmigrate.s3uri import parse_s3_uri
from ddbmigrate.sample import create_sample_table, sample_items

FOLDER = "s3://target-exports/p/AWSDynamoDB/01714557600000-5f0c1a2b/"


@pytest.fixture(scope="module")
def table(source_ddb: Any) -> Iterator[str]:
    name = f"export-owner-{uuid.uuid4().hex[:8]}"
    create_sample_table(source_ddb, name)
    for item in sample_items(4):
        source_ddb.put_item(TableName=name, Item=item)
    yield name
    source_ddb.delete_table(TableName=name)


def _record_acls(client: Any) -> list[tuple[str, str]]:
    """Observe the PutObjectAcl requests the client really sends (moto cannot show cross-account grants)."""
    seen: list[tuple[str, str]] = []
    client.meta.events.register(
        "provide-client-params.s3.PutObjectAcl", lambda params, **_: seen.append((params["Key"], params["ACL"]))
    )
    return seen


@pytest.mark.integration
def test_every_object_of_the_export_and_only_those(source: Any, table: str, bucket: str) -> None:
    writer = source.client("s3")  # the source account wrote the export, so it fixes it
    first = emulate_export(source, table, writer, bucket, "shared", data_files=3)
    second = emulate_export(source, table, writer, bucket, "shared", data_files=2)
    seen = _record_acls(writer)
    progress: list[str] = []
    result = fix_ownership(writer, first, on_object=progress.append)

    folder = parse_s3_uri(first)
    keys = {o["Key"] for o in writer.list_objects_v2(Bucket=bucket, Prefix=folder.key)["Contents"]}
    assert len(keys) == 3 + 5  # data files + 2 manifests + 2 checksums + _started
    assert (result.objects, result.updated, result.acl_disabled) == (8, 8, False)
    assert result.folder_uri == first
    assert {key for key, _ in seen} == keys and len(seen) == len(keys)
    assert {acl for _, acl in seen} == {"bucket-owner-full-control"}
    assert sorted(progress) == sorted(keys)
    second_key = parse_s3_uri(second).key
    assert not any(key.startswith(second_key) for key, _ in seen)
    for key in keys:  # moto answers GetObjectAcl once an ACL was set: the owner keeps full control
        grants = writer.get_object_acl(Bucket=bucket, Key=key)["Grants"]
        assert any(g["Permission"] == "FULL_CONTROL" for g in grants)


@pytest.mark.integration
def test_running_it_again_changes_nothing_and_counts_the_same(source: Any, table: str, bucket: str) -> None:
    writer = source.client("s3")
    uri = emulate_export(source, table, writer, bucket, None, data_files=2)
    assert fix_ownership(writer, uri) == fix_ownership(writer, uri)
    assert fix_ownership(writer, uri.rstrip("/")).updated == 7


def test_only_an_export_folder_is_accepted() -> None:
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client):  # no request may be sent
        for uri in ("s3://target-exports/", "s3://target-exports/p/", FOLDER + "data/x.json.gz"):
            with pytest.raises(ConfigError, match="is not an export folder; fix-ownership only works on"):
                fix_ownership(client, uri)


def _stubbed(keys: list[str]) -> tuple[Any, Stubber]:
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stub = Stubber(client)
    prefix = parse_s3_uri(FOLDER).key
    stub.add_response("list_objects_v2", {"Contents": [{"Key": k} for k in keys], "IsTruncated": False},
                      {"Bucket": "target-exports", "Prefix": prefix})
    return client, stub


def test_a_bucket_with_acls_disabled_needs_nothing() -> None:
    # Object Ownership "bucket owner enforced": S3 rejects ACLs (moto does not model this; stubbed).
    key = parse_s3_uri(FOLDER).key + "_started"
    client, stub = _stubbed([key])
    stub.add_client_error("put_object_acl", "AccessControlListNotSupported", "The bucket does not allow ACLs", 400)
    with stub:
        result = fix_ownership(client, FOLDER)
    assert (result.objects, result.updated, result.acl_disabled) == (1, 0, True)


def test_denied_acl_change_says_which_account_must_run_it() -> None:
    key = parse_s3_uri(FOLDER).key + "_started"
    client, stub = _stubbed([key])
    stub.add_client_error("put_object_acl", "AccessDenied", "Access Denied", 403)
    with stub, pytest.raises(ExportError, match=f"s3://target-exports/{key}: access denied .* account that wrote"):
        fix_ownership(client, FOLDER)


def test_an_empty_folder_is_an_error() -> None:
    client, stub = _stubbed([])
    with stub, pytest.raises(ExportError, match="no objects found"):
        fix_ownership(client, FOLDER)
