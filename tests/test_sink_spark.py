"""``write_partitions`` on real Spark and DynamoDB Local: a writer per partition, stats by accumulator."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ddbmigrate.dynamodb import TableDescription
from ddbmigrate.errors import SinkError
from ddbmigrate.sample import SAMPLE_KEY_SCHEMA, create_sample_table, sample_item, sample_items
from ddbmigrate.sink import SinkOptions, write_partitions
from ddbmigrate.sink.spark import _fit
from ddbmigrate.values import deserialize_item

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def _scan(client: Any, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    items = client.scan(TableName=table, ConsistentRead=True)["Items"]
    return {(i["pk"]["S"], i["sk"]["N"]): i for i in items}


def test_partitions_are_written_counted_and_dead_lettered(local_stack: Any, spark: Any, target: Any, target_ddb: Any, unique_name: Any, tmp_path: Path) -> None:
    # GIVEN 3 partitions of (origin, item) rows, one of them without its sort key
    table = unique_name("spark-sink")
    create_sample_table(target_ddb, table, provisioned_wcu=1000)
    items = list(sample_items(90))
    broken = {k: v for k, v in sample_item(500).items() if k != "sk"}
    rows = [(f"data/part-{i % 3}.json line {i}", item) for i, item in enumerate(items)]
    rows.insert(40, ("data/part-x.json line 999", broken))
    rdd = spark.sparkContext.parallelize(rows, 3)
    options = SinkOptions(table, target=target, write_percent=1.0, parallel_tasks=2, dead_letter=str(tmp_path / "dl"))

    # WHEN they are written by 2 parallel tasks
    stats = write_partitions(rdd, options, run_id="run1")

    # THEN the accumulator's totals reconcile and match the table, item by item
    assert (stats.received, stats.written, stats.dead_lettered) == (91, 90, 1)
    assert stats.consumed_wcu == 90.0 and stats.batches >= 4
    found = _scan(target_ddb, table)
    assert len(found) == 90
    for item in items:
        assert deserialize_item(found[(item["pk"]["S"], item["sk"]["N"])]) == deserialize_item(item)
    # one dead-letter file, from the writer that met the broken row, named by run, partition, attempt, writer
    files = sorted(p.name for p in (tmp_path / "dl").iterdir())
    assert len(files) == 1 and re.fullmatch(r"run1-part-0000[01]-attempt-0-writer-[01]\.jsonl", files[0])
    letter = json.loads((tmp_path / "dl" / files[0]).read_text())
    assert letter["origin"] == "data/part-x.json line 999" and letter["reason"] == "sort key attribute 'sk' is missing"


def test_more_tasks_than_partitions_keep_each_keys_writes_together_and_in_order(local_stack: Any, spark: Any, target: Any, target_ddb: Any, unique_name: Any) -> None:
    table = unique_name("spark-order")
    create_sample_table(target_ddb, table)
    items = list(sample_items(40))
    later = [dict(item, name={"S": f"version 2 of {i}"}) for i, item in enumerate(items)]
    rows = [(f"line {i}", item) for i, item in enumerate(items + later)]  # every key twice, v2 last
    rdd = spark.sparkContext.parallelize(rows, 1)

    info = TableDescription(table, tuple(SAMPLE_KEY_SCHEMA), {"pk": "S", "sk": "N"}, 100)
    fitted = _fit(rdd, 1, 4, info).glom().collect()
    assert len(fitted) == 4 and sum(len(p) for p in fitted) == 80
    for partition in fitted:  # both writes of a key share a partition, the first one first
        seen: dict[tuple[str, str], int] = {}
        for origin, item in partition:
            seen.setdefault((item["pk"]["S"], item["sk"]["N"]), int(origin.split()[1]))
            assert int(origin.split()[1]) >= seen[(item["pk"]["S"], item["sk"]["N"])]

    stats = write_partitions(rdd, SinkOptions(table, target=target, write_percent=1.5, parallel_tasks=4))
    assert stats.received == stats.written == 80
    found = _scan(target_ddb, table)
    assert {key: item["name"]["S"] for key, item in found.items()} == {
        (item["pk"]["S"], item["sk"]["N"]): item["name"]["S"] for item in later
    }


def test_an_executor_failure_reaches_the_driver_as_a_sink_error(local_stack: Any, spark: Any, target: Any, target_ddb: Any, unique_name: Any) -> None:
    table = unique_name("spark-fail")
    create_sample_table(target_ddb, table)
    rdd = spark.sparkContext.parallelize([("row 1", sample_item(1)), ("row 2", {"pk": {"S": "x"}})], 1)
    with pytest.raises(SinkError, match=r"row 2 cannot be written: sort key attribute 'sk' is missing"):
        write_partitions(rdd, SinkOptions(table, target=target))  # no dead-letter location: fail loudly


def test_faults_met_by_executors_add_up_on_the_driver(local_stack: Any, spark: Any, target_ddb: Any, unique_name: Any) -> None:
    # Executors reach DynamoDB Local through the fault proxy over loopback; their counters, merged
    # by the accumulator, must match what the proxy injected.
    from ddbmigrate.accounts import Account
    from ddbmigrate.local.faults import FaultProxy

    table = unique_name("spark-faults")
    create_sample_table(target_ddb, table)
    items = list(sample_items(160))
    rdd = spark.sparkContext.parallelize([(f"line {i}", item) for i, item in enumerate(items)], 2)
    with FaultProxy(local_stack.target_dynamodb, throttle_rate=0.15, unprocessed_rate=0.15, error_5xx_rate=0.05, seed=4) as proxy:
        target = Account(profile="target", endpoint_url=proxy.endpoint, label="target")
        stats = write_partitions(rdd, SinkOptions(table, target=target, write_percent=1.5, max_batch_items=5, base_backoff=0.01))
        injected = proxy.stats
    assert stats.received == stats.written == 160
    assert stats.throttles == injected.throttled > 0 and stats.server_errors == injected.errors_5xx
    assert stats.batches == injected.requests and injected.partial_batches > 0
    found = _scan(target_ddb, table)
    assert all(deserialize_item(found[(i["pk"]["S"], i["sk"]["N"])]) == deserialize_item(i) for i in items)
