"""Export → mapping → sink on the local stack: every target item equals its source item."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddbmigrate.accounts import Account
from ddbmigrate.bulk import ExportImportOptions, run_export_import
from ddbmigrate.digest import item_digest
from ddbmigrate.export import emulate_export, open_export
from ddbmigrate.mapping import build_mapping, save_mapping
from ddbmigrate.sample import create_sample_table, sample_items
from ddbmigrate.schema import crawl

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def _scan(client, table):
    items, kwargs = [], {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_export_import_is_lossless_across_accounts(spark, source, source_ddb, target_ddb, s3, bucket, unique_name, tmp_path: Path) -> None:
    table = unique_name("src")
    create_sample_table(source_ddb, table)
    expected = list(sample_items(60))
    for i in range(0, len(expected), 25):
        source_ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": it}} for it in expected[i:i + 25]]})
    uri = emulate_export(source, table, s3, bucket, "exp")
    save_mapping(build_mapping(crawl(open_export(uri, s3))), tmp_path / "m.json")
    create_sample_table(target_ddb, table)

    result = run_export_import(spark, ExportImportOptions(
        export_uri=uri, mapping=str(tmp_path / "m.json"), target_table=table,
        target=Account(profile="target"), bucket_account=Account(profile="target"),
        dead_letter=str(tmp_path / "dl"),
    ))

    assert (result.read, result.written, result.dead_lettered) == (60, 60, 0)
    assert result.ok
    key = lambda it: (it["pk"]["S"], it["sk"]["N"])  # noqa: E731
    got = {key(it): it for it in _scan(target_ddb, table)}
    assert len(got) == 60
    for item in expected:  # equal by DynamoDB's semantics: set order and number spelling aside
        have = got[key(item)]
        assert set(have) == set(item)
        assert {k: next(iter(v)) for k, v in have.items()} == {k: next(iter(v)) for k, v in item.items()}
        assert item_digest(have) == item_digest(item)


def test_glue_script_runs_locally_and_fails_loudly_on_dead_letters(spark, source, source_ddb, target_ddb, s3, bucket, unique_name, tmp_path: Path, capsys) -> None:
    from ddbmigrate.gluelocal import run_script

    table = unique_name("src")
    create_sample_table(source_ddb, table)
    items = list(sample_items(8))
    source_ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": it}} for it in items]})
    uri = emulate_export(source, table, s3, bucket, "exp")
    mapping = build_mapping(crawl(open_export(uri, s3)))
    save_mapping(mapping, tmp_path / "m.json")
    # GIVEN a target whose sort key is a string: the export's numeric sk can never be written there
    target_ddb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    )
    script = Path(__file__).resolve().parents[1] / "jobs" / "export_import.py"
    code = run_script(script, ["--JOB_NAME", "t", "--export_uri", uri, "--mapping", str(tmp_path / "m.json"),
                               "--target_table", table, "--target_profile", "target", "--dead_letter", str(tmp_path / "dl")],
                      spark=spark)
    out = capsys.readouterr().out
    assert code == 1
    assert "read=8 written=0 dead_lettered=8" in out
    assert "reconciles: read 8 = written 0 + dead-lettered 8: yes" in out
    letters = [line for f in (tmp_path / "dl").rglob("*.jsonl") for line in f.read_text().splitlines()]
    assert len(letters) == 8 and all("sk" in line for line in letters)
