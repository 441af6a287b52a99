"""The estimate: formulas on numbers worked out by hand, Glue's rounding rules, the path advice,
and ``ddbmigrate estimate`` reading DescribeTable from the local stack."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ddbmigrate.cli.main import main
from ddbmigrate.dynamodb import TableDescription
from ddbmigrate.errors import ConfigError
from ddbmigrate.estimate import (
    EXPORT_IMPORT,
    TABLE_COPY,
    estimate_run,
    format_bytes,
    format_duration,
    stats_from_export_summary,
    stats_from_table,
)
from ddbmigrate.sample import create_sample_table, sample_items
from ddbmigrate.values import item_size


def test_worked_example() -> None:
    # 1,000,000 items of 2,500 B: 3 WCU each = 3,000,000 units; budget floor(1000 × 0.5) = 500/s
    # → 6,000 s writing + 60 s start-up = 6,060 s; 10 × G.1X = 10 DPU → 16.8333 DPU-h → $7.4067
    e = estimate_run(1_000_000, 2500, 1000, 0.5, "G.1X", 10)
    assert (e.units_per_item, e.write_units, e.write_budget) == (3, 3_000_000, 500)
    assert e.write_seconds == 6000 and e.seconds == 6060
    assert e.dpu == 10 and e.slots == 36
    assert e.dpu_hours == pytest.approx(10 * 6060 / 3600)
    assert e.cost == pytest.approx(10 * 6060 / 3600 * 0.44)
    assert e.table_bytes == 2_500_000_000 and e.read_seconds is None


@pytest.mark.parametrize(("size", "units"), [(0, 1), (1, 1), (1024, 1), (1025, 2), (3 * 1024, 3), (400 * 1024, 400)])
def test_an_item_costs_one_unit_per_started_kilobyte(size: int, units: int) -> None:
    assert estimate_run(10, size, 100, 1.0, "G.1X", 2).units_per_item == units


def test_budget_is_floored_like_glue_and_worker_type_scales_dpu() -> None:
    e = estimate_run(100, 100, 5, 0.5, "G.2X", 3, startup_seconds=0)
    assert e.write_budget == 2  # floor(2.5)
    assert e.write_seconds == 50
    assert e.dpu == 6 and e.slots == 16
    # billed for at least a minute
    assert e.dpu_hours == pytest.approx(6 * 60 / 3600)


def test_on_demand_capacity_and_percent_above_one() -> None:
    e = estimate_run(40_000_000, 900, 40_000, 1.5, "G.8X", 5, startup_seconds=0)
    assert e.write_budget == 60_000
    assert e.write_seconds == pytest.approx(40_000_000 / 60_000)
    assert e.dpu == 40


def test_path_advice_by_size_and_explicit_path() -> None:
    small = estimate_run(1000, 1000, 100, 0.5, "G.1X", 2)
    assert small.recommended_path == small.path == TABLE_COPY
    assert any("no PITR, no bucket" in r for r in small.reasons)
    big = estimate_run(20_000_000, 1024, 100, 0.5, "G.1X", 2)  # 19.1 GiB
    assert big.recommended_path == EXPORT_IMPORT
    assert any("no read capacity" in r for r in big.reasons)
    forced = estimate_run(1000, 1000, 100, 0.5, "G.1X", 2, path=EXPORT_IMPORT)
    assert forced.path == EXPORT_IMPORT and forced.recommended_path == TABLE_COPY
    tiny_limit = estimate_run(1000, 1000, 100, 0.5, "G.1X", 2, table_copy_max_bytes=10_000)
    assert tiny_limit.recommended_path == EXPORT_IMPORT


def test_table_copy_read_side_can_bound_the_run() -> None:
    # 4,096,000 B = 1,000 read units of 4 KB × 0.5 (eventually consistent) = 500 units at floor(10 × 0.5) = 5/s
    e = estimate_run(1000, 4096, 10_000, 1.0, "G.1X", 2, rcu=10, read_percent=0.5, startup_seconds=0)
    assert e.read_seconds == pytest.approx(100)
    assert e.write_seconds == pytest.approx(4000 / 10_000)
    assert e.seconds == pytest.approx(100)
    assert any("read capacity" in n for n in e.notes)
    # export-import does not read the table
    assert estimate_run(1000, 4096, 10_000, 1.0, "G.1X", 2, rcu=10, path=EXPORT_IMPORT).read_seconds is None


def test_more_workers_than_the_budget_can_use_is_noted() -> None:
    e = estimate_run(1000, 100, 20, 0.5, "G.2X", 11)  # budget 10/s, 80 slots
    (note,) = e.notes
    assert "below one unit per Spark task" in note and "2 workers would write as fast" in note
    assert estimate_run(1000, 100, 10_000, 0.5, "G.1X", 10).notes == ()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"write_percent": 2.0}, "write percent: 2.0 is outside Glue's range 0.1–1.5"),
    ({"write_percent": 0.05}, "outside Glue's range"),
    ({"worker_type": "G.3X"}, "unknown worker type 'G.3X'; expected one of G.1X, G.2X, G.4X, G.8X"),
    ({"workers": 1}, "number of workers must be at least 2"),
    ({"item_count": -1}, "item count: expected a whole number"),
    ({"wcu": 0}, "write capacity: expected at least 1 WCU"),
    ({"path": "copy"}, "path: 'copy' is not one of table-copy, export-import"),
])
def test_bad_inputs_name_the_option(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"item_count": 10, "avg_item_bytes": 10, "wcu": 10, "write_percent": 0.5,
                            "worker_type": "G.1X", "workers": 2}
    args.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        estimate_run(**args)


def test_stats_from_describe_table_and_export_summary() -> None:
    provisioned = {"Table": {"TableName": "T", "ItemCount": 10, "TableSizeBytes": 2501,
                             "ProvisionedThroughput": {"ReadCapacityUnits": 7, "WriteCapacityUnits": 9}}}
    stats = stats_from_table(TableDescription.from_response(provisioned))
    assert (stats.items, stats.table_bytes, stats.avg_item_bytes) == (10, 2501, 251)
    assert (stats.write_capacity, stats.read_capacity, stats.on_demand) == (9, 7, False)
    on_demand = {"TableName": "T", "ItemCount": 0, "TableSizeBytes": 0,
                 "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
                 "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0}}
    stats = stats_from_table(TableDescription.from_response(on_demand))
    assert (stats.write_capacity, stats.on_demand, stats.avg_item_bytes) == (40_000, True, 0)
    assert stats_from_table(TableDescription.from_response(on_demand), capacity_override=1200).write_capacity == 1200
    summary = stats_from_export_summary({"itemCount": 4, "billedSizeBytes": 4100, "exportArn": "arn:x"})
    assert (summary.items, summary.avg_item_bytes) == (4, 1025)
    with pytest.raises(ConfigError, match="itemCount and billedSizeBytes"):
        stats_from_export_summary({"itemCount": 4})


def test_formatting() -> None:
    assert [format_duration(s) for s in (5, 90, 3725, 47 * 3600, 50 * 3600)] == [
        "5 s", "2 min", "1 h 2 min", "47 h 0 min", "2 d 2 h"]
    assert [format_bytes(b) for b in (5, 1536, 10 * 1024**3)] == ["5 B", "1.5 KiB", "10.0 GiB"]


# --------------------------------------------------------------------------- CLI


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_with_explicit_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "estimate", "--items", "1000000", "--avg-item-bytes", "2500", "--wcu", "1000",
                         "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["write_seconds"] == 6000 and data["cost"] == pytest.approx(7.40667, rel=1e-4)
    code, out, err = run(capsys, "estimate", "--items", "1000000", "--avg-item-bytes", "2500", "--wcu", "1000",
                         "--worker-type", "G.2X", "--workers", "5")
    assert code == 0, err
    assert "1 h 41 min" in out and "5 × G.2X = 10 DPU" in out and "$7.41" in out
    code, _, err = run(capsys, "estimate", "--items", "10", "--avg-item-bytes", "10")
    assert code == 2 and "--wcu: not given" in err
    code, _, err = run(capsys, "estimate", "--items", "10", "--avg-item-bytes", "10", "--wcu", "10",
                       "--write-percent", "2.0")
    assert code == 2 and "--write-percent: 2.0 is outside" in err


@pytest.fixture(scope="module")
def tables(source_ddb: Any, target_ddb: Any) -> Iterator[tuple[str, str, list[Any]]]:
    source_name, target_name = f"est-src-{uuid.uuid4().hex[:8]}", f"est-tgt-{uuid.uuid4().hex[:8]}"
    create_sample_table(source_ddb, source_name, provisioned_wcu=50)
    create_sample_table(target_ddb, target_name, provisioned_wcu=20)
    items = list(sample_items(12))
    for item in items:
        source_ddb.put_item(TableName=source_name, Item=item)
    yield source_name, target_name, items
    source_ddb.delete_table(TableName=source_name)
    target_ddb.delete_table(TableName=target_name)


@pytest.mark.integration
def test_cli_reads_describe_table_of_both_accounts(capsys: pytest.CaptureFixture[str],
                                                   tables: tuple[str, str, list[Any]]) -> None:
    source_name, target_name, items = tables
    code, out, err = run(capsys, "estimate", "--table", source_name, "--profile", "source",
                         "--target-table", target_name, "--target-profile", "target", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["items"] == len(items)
    assert data["write_capacity"] == 20 and data["write_budget"] == 10
    # DynamoDB Local's TableSizeBytes is the sum of the item sizes as values.item_size counts them
    assert data["table_bytes"] == sum(item_size(i) for i in items)
    assert data["path"] == TABLE_COPY and data["read_seconds"] is not None
    code, out, err = run(capsys, "estimate", "--table", source_name, "--profile", "source")
    assert code == 0, err
    assert "assuming the target gets the source's write capacity (50 WCU)" in err
    code, _, err = run(capsys, "estimate", "--table", "no-such-table", "--profile", "source")
    assert code == 13 and "--table: table 'no-such-table' not found in source (profile=source" in err
