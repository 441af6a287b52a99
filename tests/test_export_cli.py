"""The issue's exact command lines, run through the real CLI entry point against the local stack."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ddbmigrate.cli.main import main
from ddbmigrate.s3uri import parse_s3_uri
from ddbmigrate.sample import create_sample_table, sample_items

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def table(source_ddb: Any) -> Iterator[str]:
    name = f"export-cli-{uuid.uuid4().hex[:8]}"
    create_sample_table(source_ddb, name)
    for item in sample_items(9):
        source_ddb.put_item(TableName=name, Item=item)
    yield name
    source_ddb.delete_table(TableName=name)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_export_check_and_fix_ownership_as_the_issue_writes_them(
    capsys: pytest.CaptureFixture[str], table: str, bucket: str, s3: Any
) -> None:
    code, out, err = run(capsys, "export", "--profile", "source", "--table", table, "--bucket", bucket,
                         "--prefix", "cli", "--wait")
    assert code == 0, err
    uri = out.strip().splitlines()[-1]
    assert re.fullmatch(rf"s3://{bucket}/cli/AWSDynamoDB/\d{{14}}-[0-9a-f]{{8}}/", uri)
    assert "no export API" in err and "UnknownOperationException" in err and "(emulated)" in err

    code, out, err = run(capsys, "export", "check", uri, "--profile", "target")
    assert code == 0, err
    assert out.strip().splitlines()[-1] == f"OK {uri}"
    assert "9" in out and "md5, counts, lines" in out

    code, out, err = run(capsys, "export", "fix-ownership", uri, "--profile", "source")
    assert code == 0, err
    assert out.strip() == f"set bucket-owner-full-control on 9 object(s) of {uri}"

    # damage one data file: check fails with the integrity exit code and names it
    folder = parse_s3_uri(uri)
    data_key = next(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=folder.key + "data/")["Contents"])
    s3.put_object(Bucket=bucket, Key=data_key, Body=b"not gzip")
    code, out, err = run(capsys, "export", "check", uri, "--profile", "target")
    assert code == 5
    assert "ddbmigrate: error: export " in err and f"s3://{bucket}/{data_key}: md5 is " in err


def test_run_subcommand_and_forced_emulation(capsys: pytest.CaptureFixture[str], table: str, bucket: str) -> None:
    code, out, err = run(capsys, "export", "run", "--profile", "source", "--table", table, "--bucket", bucket,
                         "--emulate")
    assert code == 0, err
    assert "no export API" not in err
    uri = out.strip().splitlines()[-1]
    assert uri.startswith(f"s3://{bucket}/AWSDynamoDB/")
    code, out, _ = run(capsys, "export", "check", uri, "--profile", "target", "--quick")
    assert code == 0 and "presence only" in out


def test_usage_errors_name_the_option(capsys: pytest.CaptureFixture[str], bucket: str) -> None:
    code, _, err = run(capsys, "export", "--profile", "source", "--bucket", bucket)
    assert code == 2 and "Missing option '--table'" in err
    code, _, err = run(capsys, "export", "--profile", "source", "--table", "t", "--bucket", bucket,
                       "--bucket-owner", "42")
    assert code == 2 and "--bucket-owner: '42' is not a 12-digit AWS account id" in err
    code, _, err = run(capsys, "export", "--profile", "source", "--table", "t", "--bucket", bucket,
                       "--export-time", "last tuesday")
    assert code == 2 and "--export-time: 'last tuesday' is not an ISO 8601 time" in err
    code, _, err = run(capsys, "export", "check", f"s3://{bucket}/somewhere/", "--profile", "target")
    assert code == 2 and "is not an export folder" in err
    code, _, err = run(capsys, "export", "fix-ownership", f"s3://{bucket}/", "--profile", "source")
    assert code == 2 and "fix-ownership only works on" in err
