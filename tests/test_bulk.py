"""Export → mapping → sink on the local stack: every target item equals its source item.

Each end-to-end test proves equality twice: item by item here (type-exact, then by digest), and
with the library's own :func:`ddbmigrate.verify.verify_tables` (every key, every item).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ddbmigrate.accounts import Account
from ddbmigrate.bulk import ExportImportOptions, run_export_import
from ddbmigrate.digest import item_digest
from ddbmigrate.export import emulate_export, open_export
from ddbmigrate.mapping import build_mapping, save_mapping
from ddbmigrate.sample import create_sample_table, sample_items
from ddbmigrate.schema import crawl
from ddbmigrate.values import Item
from ddbmigrate.verify import VerifyOptions, verify_tables

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def _scan(client, table):
    items, kwargs = [], {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _key(item: Item) -> tuple[str, str]:
    return item["pk"]["S"], item["sk"]["N"]


def _seed_export_and_map(source: Account, source_ddb: Any, s3: Any, bucket: str, table: str, count: int,
                         mapping_path: Path) -> tuple[list[Item], str]:
    """A source table of ``count`` sample items, its export in ``bucket``, its mapping file: (items, export URI)."""
    create_sample_table(source_ddb, table)
    items = list(sample_items(count))
    for i in range(0, len(items), 25):
        source_ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]})
    uri = emulate_export(source, table, s3, bucket, "exp")
    save_mapping(build_mapping(crawl(open_export(uri, s3))), mapping_path)
    return items, uri


def _assert_every_item_arrived(target_ddb: Any, table: str, expected: list[Item]) -> None:
    """Item by item: same keys, same attribute names and type tags, same digest (set order and number spelling aside)."""
    got = {_key(it): it for it in _scan(target_ddb, table)}
    assert len(got) == len(expected)
    for item in expected:
        have = got[_key(item)]
        assert set(have) == set(item)
        assert {k: next(iter(v)) for k, v in have.items()} == {k: next(iter(v)) for k, v in item.items()}
        assert item_digest(have) == item_digest(item)


def _assert_verify_identical(source: Account, table: str, expected_count: int) -> None:
    """The library's verify agrees: every key present on both sides, no differing item."""
    report = verify_tables(VerifyOptions(source=source, source_table=table, target=Account(profile="target", label="target"),
                                         target_table=table, consistent=True))
    assert report.identical, report.summary()
    assert report.source_items == report.target_items == expected_count


def test_export_import_is_lossless_across_accounts(spark, source, source_ddb, target_ddb, s3, bucket, unique_name, tmp_path: Path) -> None:
    table = unique_name("src")
    expected, uri = _seed_export_and_map(source, source_ddb, s3, bucket, table, 60, tmp_path / "m.json")
    create_sample_table(target_ddb, table)

    result = run_export_import(spark, ExportImportOptions(
        export_uri=uri, mapping=str(tmp_path / "m.json"), target_table=table,
        target=Account(profile="target"), bucket_account=Account(profile="target"),
        dead_letter=str(tmp_path / "dl"),
    ))

    assert (result.read, result.written, result.dead_lettered) == (60, 60, 0)
    assert result.ok
    _assert_every_item_arrived(target_ddb, table, expected)
    _assert_verify_identical(source, table, 60)


FAULT_SEED = 2
"""With one writer task the proxy's draws are reproducible; under this seed each fault kind fires."""


def test_export_import_is_lossless_under_throttles_partial_batches_5xx_and_drops(
        spark, proxy_factory, source, source_ddb, target_ddb, s3, bucket, unique_name, tmp_path: Path) -> None:
    # GIVEN the fault mix in front of the target account (a seed under which every kind occurs)
    table = unique_name("src")
    expected, uri = _seed_export_and_map(source, source_ddb, s3, bucket, table, 300, tmp_path / "m.json")
    create_sample_table(target_ddb, table)
    proxy = proxy_factory(throttle_rate=0.10, unprocessed_rate=0.10, error_5xx_rate=0.02, drop_rate=0.01, seed=FAULT_SEED)

    # WHEN the job writes through it. One writer task, so the proxy's seeded draws meet the requests
    # in a fixed order; 20 WCU/s makes batches of 4 items (the bucket holds 0.2 s of rate), so 300
    # items take ~100 requests and every fault kind gets its chance.
    result = run_export_import(spark, ExportImportOptions(
        export_uri=uri, mapping=str(tmp_path / "m.json"), target_table=table,
        target=Account(profile="target", endpoint_url=proxy.endpoint, label="target"),
        bucket_account=Account(profile="target"), write_percent=1.0, write_capacity=20, parallel_tasks=1,
        dead_letter=str(tmp_path / "dl"),
    ))

    # THEN nothing is lost or dead-lettered, the counts reconcile, and every fault really fired
    assert (result.read, result.written, result.dead_lettered) == (300, 300, 0)
    assert result.reconciles and result.ok
    assert not (tmp_path / "dl").exists() or not list((tmp_path / "dl").rglob("*.jsonl"))
    injected = proxy.stats
    assert injected.throttled > 0
    assert injected.partial_batches > 0
    assert injected.errors_5xx > 0
    assert injected.dropped_before + injected.dropped_after > 0
    assert result.throttles == injected.throttled
    assert result.retries >= injected.throttled + injected.partial_batches + injected.errors_5xx
    _assert_every_item_arrived(target_ddb, table, expected)
    _assert_verify_identical(source, table, 300)


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
