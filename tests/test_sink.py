"""The sink against DynamoDB Local (target account), directly and through the fault proxy.

Every test that writes compares what arrived with what was sent, item by item and type-exact,
and checks that ``received = written + dead_lettered``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ParamValidationError,
)
from tables import sample_key, scan_by_key

from ddbmigrate.accounts import Account
from ddbmigrate.deadletter import DeadLetterWriter
from ddbmigrate.dynamodb import RetryPolicy, describe_table
from ddbmigrate.errors import ConfigError, SinkError
from ddbmigrate.sample import create_sample_table, sample_item, sample_items
from ddbmigrate.sink import SinkOptions, SinkStats, TableWriter, open_writer, writer_client
from ddbmigrate.values import deserialize_item, item_to_json

# --------------------------------------------------------------------------- helpers


def _assert_arrived_exactly(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    """Every item is in the table with every attribute type-exact (sets stay sets, numbers exact)."""
    found = scan_by_key(client, table)
    expected = {sample_key(i): i for i in items}  # later writes of a key win
    assert set(found) == set(expected)
    for key, item in expected.items():
        assert deserialize_item(found[key]) == deserialize_item(item), key
        assert {n: next(iter(v)) for n, v in found[key].items()} == {n: next(iter(v)) for n, v in item.items()}, key


class Sleeps:
    """An injected sleep that records instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def _batch_sizes(client: Any) -> list[int]:
    """Record the number of requests in every BatchWriteItem the client sends (the body, at botocore's
    last event before the wire, which the lean sender emits too)."""
    sizes: list[int] = []

    def record(request: Any, **_: Any) -> None:
        sizes.append(sum(len(v) for v in json.loads(request.body)["RequestItems"].values()))

    client.meta.events.register("before-send.dynamodb.BatchWriteItem", record)
    return sizes


@pytest.fixture
def table(target_ddb: Any, unique_name: Callable[[str], str]) -> str:
    name = unique_name("sink")
    create_sample_table(target_ddb, name, provisioned_wcu=100)
    return name


# --------------------------------------------------------------------------- options (pure)


def test_glue_options_map_to_fields_case_insensitively() -> None:
    base = Account(profile="target", external_id="ext", label="target")
    options = SinkOptions.from_glue_options(
        {
            "dynamodb.output.tableName": "orders",
            "dynamodb.throughput.write.percent": "1.2",
            "dynamodb.output.numparalleltasks": "8",
            "dynamodb.output.retry": "3",
            "dynamodb.sts.roleArn": "arn:aws:iam::123456789012:role/writer",
            "dynamodb.region": "eu-central-1",
        },
        target=base,
        dead_letter="s3://bucket/dl/",
        capacity_override=500,
    )
    assert (options.table, options.write_percent, options.parallel_tasks, options.max_retries) == ("orders", 1.2, 8, 3)
    assert options.target.role_arn == "arn:aws:iam::123456789012:role/writer"
    assert options.target.session_name == "glue-dynamodb-write-sts-session"
    assert (options.target.region, options.target.profile, options.target.external_id) == ("eu-central-1", "target", "ext")
    assert (options.dead_letter, options.capacity_override) == ("s3://bucket/dl/", 500)
    defaults = SinkOptions.from_glue_options({"dynamodb.output.tableName": "t"})
    assert (defaults.write_percent, defaults.max_retries, defaults.parallel_tasks, defaults.max_batch_items) == (0.5, 10, None, 25)


@pytest.mark.parametrize(
    ("options", "extra", "message"),
    [
        ({}, {}, "dynamodb.output.tableName is required"),
        ({"dynamodb.output.tableName": "t", "dynamodb.throughput.write.percent": "2"}, {}, r"write.percent: 2.0 is outside"),
        ({"dynamodb.output.tableName": "t", "dynamodb.output.retry": "ten"}, {}, "dynamodb.output.retry: expected a whole number"),
        ({"dynamodb.output.tableName": "t", "dynamodb.output.numParallelTasks": "0"}, {}, "numParallelTasks: expected a whole number ≥ 1"),
        ({"dynamodb.output.tableName": "t", "dynamodb.output.batchSize": "25"}, {}, "unknown DynamoDB sink option 'dynamodb.output.batchSize'"),
        ({"dynamodb.output.tableName": "t"}, {"max_batch_items": 26}, "at most 25"),
        ({"dynamodb.output.tableName": "t"}, {"dead_letter": "s3://B/x"}, "not a valid bucket name"),
        ({"dynamodb.output.tableName": "t"}, {"base_backoff": 2.0, "max_backoff": 1.0}, "at least base_backoff"),
        ({"dynamodb.output.tableName": "t"}, {"deadletter": "x"}, "unknown sink setting"),
        ({"dynamodb.output.tableName": "arn:aws:s3:::bucket"}, {}, "not a DynamoDB table ARN"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, str], extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SinkOptions.from_glue_options(options, **extra)


def test_a_table_arn_gives_name_and_region() -> None:
    options = SinkOptions("arn:aws:dynamodb:ap-south-1:123456789012:table/orders")
    assert options.table_name == "orders" and options.target.region == "ap-south-1"
    kept = SinkOptions("arn:aws:dynamodb:ap-south-1:123456789012:table/orders", target=Account(region="us-east-1"))
    assert kept.target.region == "us-east-1"


# --------------------------------------------------------------------------- retry policy (pure)


def test_stats_merge_and_reconcile() -> None:
    a = SinkStats(received=5, written=4, dead_lettered=1, consumed_wcu=4.0)
    b = SinkStats(received=2, written=1, throttles=3)
    merged = SinkStats().merge(a).merge(b)
    assert (merged.received, merged.written, merged.dead_lettered, merged.throttles) == (7, 5, 1, 3)
    assert merged.pending == 1 and not merged.reconciles and a.reconciles
    assert "received=7 written=5" in merged.summary()


# --------------------------------------------------------------------------- writer on DynamoDB Local



@pytest.mark.integration
def test_batches_hold_at_most_25_requests_and_the_byte_limit(target: Any, target_ddb: Any, table: str) -> None:
    client = writer_client(target)
    sizes = _batch_sizes(client)
    items = list(sample_items(60))
    with TableWriter(client, describe_table(client, table)) as writer:
        for i, item in enumerate(items):
            writer.put(item, origin=f"line {i}")
    assert sizes == [25, 25, 10]
    _assert_arrived_exactly(target_ddb, table, items)
    assert (writer.stats.received, writer.stats.written, writer.stats.batches) == (60, 60, 3)
    assert writer.stats.consumed_wcu == 60.0  # every sample item is under 1 KB: 1 WCU each

    small = writer_client(target)
    small_sizes = _batch_sizes(small)
    with TableWriter(small, describe_table(small, table), max_batch_bytes=3000) as writer:
        for item in items[:10]:  # ~620 bytes each: four fit in 3000 bytes
            writer.put(item)
    assert small_sizes == [4, 4, 2]


@pytest.mark.integration
def test_batch_wcu_never_exceeds_the_bucket(target: Any, table: str) -> None:
    client = writer_client(target)
    sizes = _batch_sizes(client)
    with TableWriter(client, describe_table(client, table), rate=1000.0) as writer:  # 200 WCU bucket
        for item in sample_items(20, payload_bytes=40_000):  # 40 WCU each: five per batch
            writer.put(item)
    assert sizes == [5, 5, 5, 5]


@pytest.mark.integration
def test_a_repeated_key_flushes_first_so_the_last_write_wins(target: Any, target_ddb: Any, table: str) -> None:
    client = writer_client(target)
    sizes = _batch_sizes(client)
    first, other, again = sample_item(0), sample_item(1), dict(sample_item(0), name={"S": "second version"})
    renumbered = dict(sample_item(4), pk=first["pk"], sk={"N": "0.0"})  # the same key: 0 and 0.0 are one number
    with TableWriter(client, describe_table(client, table)) as writer:
        writer.put(first)
        writer.put(other)
        writer.put(again)  # flushes [first, other] before it
        writer.put(renumbered)  # flushes [again] before it
    assert sizes == [2, 1, 1]
    got = target_ddb.get_item(TableName=table, Key={"pk": first["pk"], "sk": {"N": "0"}}, ConsistentRead=True)["Item"]
    assert got["name"] == renumbered["name"]
    assert writer.stats.received == writer.stats.written == 4


@pytest.mark.integration
def test_items_sent_as_their_json_text_arrive_and_a_refused_text_never_decides_an_items_fate(
    tmp_path: Path, target: Any, target_ddb: Any, table: str
) -> None:
    # GIVEN items with the JSON text a reader kept; one text is not the item's JSON (a stand-in for any
    # text DynamoDB refuses where the item itself is fine: a reader's bug must not lose the item)
    items = list(sample_items(6))
    texts = [json.dumps(item_to_json(item), separators=(",", ":")) for item in items]
    texts[2] = texts[2].replace('"S":', '"Q":', 1)
    client = writer_client(target)
    sizes = _batch_sizes(client)
    with DeadLetterWriter(str(tmp_path), "task-0") as letters, TableWriter(
        client, describe_table(target_ddb, table), dead_letters=letters
    ) as writer:
        for i, (item, text) in enumerate(zip(items, texts, strict=True)):
            writer.put(item, origin=f"line {i}", document=text)
    # THEN DynamoDB refused the batch, the writer halved it down to the bad text (6 → 3 → 2 → 1) and
    # sent that item once more encoded from the item itself: every item arrived exactly, no dead letter
    assert sizes == [6, 3, 1, 2, 1, 1, 1, 3]
    _assert_arrived_exactly(target_ddb, table, items)
    assert (writer.stats.received, writer.stats.written, writer.stats.dead_lettered) == (6, 6, 0)


@pytest.mark.integration
def test_bad_items_are_dead_lettered_naming_the_key_attribute(tmp_path: Path, target: Any, target_ddb: Any, table: str) -> None:
    good = list(sample_items(5))
    too_big = sample_item(100, payload_bytes=400 * 1024)
    no_sort_key = {k: v for k, v in sample_item(101).items() if k != "sk"}
    wrong_type = dict(sample_item(102), pk={"N": "102"})
    empty_key = dict(sample_item(103), pk={"S": ""})
    bad_number = dict(sample_item(104), sk={"N": "twelve"})
    not_a_dict = ["pk", "x"]
    bad_value = dict(sample_item(105), balance={"N": "twelve"})
    with DeadLetterWriter(str(tmp_path), "task-0") as letters, TableWriter(
        writer_client(target), describe_table(target_ddb, table), dead_letters=letters
    ) as writer:
        for i, item in enumerate([good[0], too_big, good[1], no_sort_key, wrong_type, good[2], empty_key, bad_number, not_a_dict, bad_value, *good[3:]]):
            writer.put(item, origin=f"s3://exports/data/a.json.gz line {i + 1}")  # type: ignore[arg-type]
    _assert_arrived_exactly(target_ddb, table, good)
    assert (writer.stats.received, writer.stats.written, writer.stats.dead_lettered) == (12, 5, 7)
    assert writer.stats.reconciles
    lines = [json.loads(line) for line in (tmp_path / "task-0.jsonl").read_text().splitlines()]
    reasons = {line["origin"].rsplit(" ", 1)[1]: line["reason"] for line in lines}
    assert "DynamoDB's limit is 409,600" in reasons["2"]
    assert reasons["4"] == "sort key attribute 'sk' is missing"
    assert reasons["5"] == "partition key attribute 'pk' is of type N; the table expects S"
    assert reasons["7"] == "partition key attribute 'pk' is empty; key values may not be empty"
    assert reasons["8"].startswith("key attribute 'pk', 'sk': N is not a number")
    assert reasons["9"].startswith("expected a mapping")
    assert reasons["10"].startswith("attribute 'balance': N is not a number")
    by_origin = {line["origin"].rsplit(" ", 1)[1]: line for line in lines}
    assert by_origin["4"]["key"] == {"pk": {"S": no_sort_key["pk"]["S"]}}
    assert by_origin["2"]["item"]["payload"]["B"]  # the whole item is kept for a fix and replay


@pytest.mark.integration
def test_an_item_dynamodb_rejects_is_isolated_by_splitting(tmp_path: Path, target: Any, target_ddb: Any, table: str) -> None:
    items = list(sample_items(12))
    poisoned = dict(items[7], extra={"N": "1" * 39})  # too many digits: the writer leaves values to DynamoDB
    empty_set = dict(items[9], tags={"SS": []})
    sent = [*items[:7], poisoned, items[8], empty_set, *items[10:]]
    with DeadLetterWriter(str(tmp_path), "t") as letters, TableWriter(
        writer_client(target), describe_table(target_ddb, table), dead_letters=letters
    ) as writer:
        for i, item in enumerate(sent):
            writer.put(item, origin=f"line {i}")
    _assert_arrived_exactly(target_ddb, table, [i for i in sent if i is not poisoned and i is not empty_set])
    lines = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert sorted(line["origin"] for line in lines) == ["line 7", "line 9"]
    assert all(line["reason"].startswith("rejected by DynamoDB (ValidationException)") for line in lines)
    assert writer.stats.splits >= 3 and writer.stats.written == 10 and writer.stats.dead_lettered == 2


@pytest.mark.integration
def test_without_a_dead_letter_location_a_bad_item_fails_the_write(target: Any, target_ddb: Any, table: str) -> None:
    writer = TableWriter(writer_client(target), describe_table(target_ddb, table))
    writer.put(sample_item(0))
    with pytest.raises(SinkError, match=r"line 9 cannot be written: sort key attribute 'sk' is missing\. Set a dead-letter"):
        writer.put({"pk": {"S": "x"}}, origin="line 9")
    with pytest.raises(SinkError, match="already failed"):
        writer.put(sample_item(1))
    writer.close()


@pytest.mark.integration
def test_deletes_go_through_the_same_batches(target: Any, target_ddb: Any, table: str) -> None:
    items = list(sample_items(8))
    client = writer_client(target)
    with TableWriter(client, describe_table(client, table)) as writer:
        for item in items:
            writer.put(item)
        for item in items[:3]:
            writer.delete(item, origin="stream REMOVE")  # the whole item: only its key is sent
    _assert_arrived_exactly(target_ddb, table, items[3:])
    assert writer.stats.received == writer.stats.written == 11


# --------------------------------------------------------------------------- under the fault proxy


@pytest.mark.integration
def test_nothing_is_lost_under_throttles_partial_batches_5xx_and_drops(tmp_path: Path, proxy_factory, target_ddb: Any, table: str) -> None:
    # GIVEN the fault mix (a seed under which every fault kind occurs) and 300 items with
    # every DynamoDB type
    proxy = proxy_factory(throttle_rate=0.10, unprocessed_rate=0.10, error_5xx_rate=0.02, drop_rate=0.01, seed=2)
    items = list(sample_items(300))
    sleeps = Sleeps()
    client = writer_client(Account(profile="target", endpoint_url=proxy.endpoint))
    # WHEN the writer writes them in batches of 4 (so ~100 calls see the fault draws)
    with DeadLetterWriter(str(tmp_path), "t") as letters, TableWriter(
        client, describe_table(client, table), dead_letters=letters, max_batch_items=4, sleep=sleeps
    ) as writer:
        for i, item in enumerate(items):
            writer.put(item, origin=f"line {i}")
    # THEN every item arrived type-exact, the counts reconcile, and every fault kind happened
    _assert_arrived_exactly(target_ddb, table, items)
    stats, injected = writer.stats, proxy.stats
    assert (stats.received, stats.written, stats.dead_lettered) == (300, 300, 0)
    assert not (tmp_path / "t.jsonl").exists()
    assert stats.throttles == injected.throttled > 0
    assert stats.server_errors == injected.errors_5xx > 0
    assert stats.connection_errors == injected.dropped_before + injected.dropped_after > 0
    assert injected.partial_batches > 0 and stats.unprocessed > 0
    assert stats.batches == injected.requests  # botocore retried nothing behind our back
    assert stats.retries == stats.batches - 75
    assert len(sleeps.calls) == stats.retries and stats.backoff_seconds == pytest.approx(sum(sleeps.calls))


@pytest.mark.integration
def test_retries_after_a_dropped_answer_rewrite_harmlessly(proxy_factory, target_ddb: Any, table: str) -> None:
    # Drops *after* forwarding: the table has the items, the client does not know, and re-sends them.
    proxy = proxy_factory(drop_rate=0.4, drop_mode="after", seed=3)
    items = list(sample_items(100))
    client = writer_client(Account(profile="target", endpoint_url=proxy.endpoint))
    with TableWriter(client, describe_table(client, table), sleep=Sleeps()) as writer:
        for item in items:
            writer.put(item)
    _assert_arrived_exactly(target_ddb, table, items)
    assert proxy.stats.dropped_after > 0
    assert proxy.stats.written_requests > 100  # some items really were written twice
    assert writer.stats.written == 100  # and counted once


@pytest.mark.integration
def test_exhausted_retries_raise_and_dead_letter_what_was_in_hand(tmp_path: Path, proxy_factory, target_ddb: Any, table: str) -> None:
    proxy = proxy_factory(throttle_rate=1.0)
    sleeps = Sleeps()
    client = writer_client(Account(profile="target", endpoint_url=proxy.endpoint))
    writer = TableWriter(
        client, describe_table(client, table),
        dead_letters=DeadLetterWriter(str(tmp_path), "t"),
        policy=RetryPolicy(max_retries=3, base_delay=0.5, max_delay=1.0),
        sleep=sleeps, random=lambda: 1.0,
    )
    items = list(sample_items(7))
    expected = r"retries exhausted \(3 without progress; last error ProvisionedThroughputExceededException\); 7 request\(s\) in hand dead-lettered"
    with pytest.raises(SinkError, match=expected), writer:
        for i, item in enumerate(items):
            writer.put(item, origin=f"line {i}")
    assert proxy.stats.requests == 4  # the first attempt and 3 retries
    assert sleeps.calls == [0.5, 1.0, 1.0]
    assert writer.stats.received == 7 and writer.stats.dead_lettered == 7 and writer.stats.reconciles
    lines = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert [line["origin"] for line in lines] == [f"line {i}" for i in range(7)]
    assert all(line["reason"].startswith("unwritten: retries exhausted") for line in lines)
    assert scan_by_key(target_ddb, table) == {}


@pytest.mark.integration
def test_a_missing_table_fails_at_once_without_retrying(tmp_path: Path, target: Any, target_ddb: Any, table: str) -> None:
    client = writer_client(target)
    info = describe_table(client, table)
    target_ddb.delete_table(TableName=table)
    sleeps = Sleeps()
    writer = TableWriter(client, info, dead_letters=DeadLetterWriter(str(tmp_path), "t"), sleep=sleeps)
    with pytest.raises(SinkError, match=r"ResourceNotFoundException \(cannot be retried\); 1 request"), writer:
        writer.put(sample_item(0), origin="line 1")
    assert sleeps.calls == [] and writer.stats.batches == 1 and writer.stats.reconciles
    with pytest.raises(ConfigError, match=f"--table: table '{table}' not found"):
        describe_table(client, table)


@pytest.mark.integration
def test_progress_resets_the_retry_count(proxy_factory, target_ddb: Any, table: str) -> None:
    # Every batch is partly refused, over and over: more attempts than max_retries, yet it finishes.
    proxy = proxy_factory(unprocessed_rate=1.0, seed=2)
    items = list(sample_items(25))
    client = writer_client(Account(profile="target", endpoint_url=proxy.endpoint))
    with TableWriter(client, describe_table(client, table), policy=RetryPolicy(max_retries=1), sleep=Sleeps()) as writer:
        for item in items:
            writer.put(item)
    _assert_arrived_exactly(target_ddb, table, items)
    assert writer.stats.batches > 2 and writer.stats.written == 25


@pytest.mark.integration
def test_consumed_wcu_stays_within_the_budget_over_5_second_windows(proxy_factory, target_ddb: Any, table: str) -> None:
    # GIVEN a table of 100 WCU (the proxy enforces it per second) and a write percent of 0.5
    proxy = proxy_factory(provisioned_wcu=100, seed=1)
    options = SinkOptions(table, target=Account(profile="target", endpoint_url=proxy.endpoint), write_percent=0.5)
    items = list(sample_items(250, payload_bytes=1000))  # 2 WCU each: 500 WCU, 10 s at 50 WCU/s
    # WHEN one task writes them
    started = time.monotonic()
    with open_writer(options) as writer:
        for item in items:
            writer.put(item)
    elapsed = time.monotonic() - started
    # THEN no 5-second window went over 1.05 × 50 × 5, nothing was throttled, and the budget was used
    per_second = [wcu for _, wcu in proxy.consumed_timeline()]
    windows = [sum(per_second[i:i + 5]) for i in range(len(per_second) - 4)]
    assert windows and max(windows) <= 1.05 * 50 * 5
    assert proxy.stats.budget_throttled == proxy.stats.budget_partial_batches == 0
    assert writer.stats.consumed_wcu == 500.0
    assert writer.stats.consumed_wcu / elapsed >= 0.85 * 50
    _assert_arrived_exactly(target_ddb, table, items)


@pytest.mark.integration
def test_a_table_arn_works_end_to_end_with_unprocessed_items(proxy_factory, target_ddb: Any, table: str) -> None:
    arn = target_ddb.describe_table(TableName=table)["Table"]["TableArn"]
    proxy = proxy_factory(unprocessed_rate=0.5, seed=9)
    options = SinkOptions(arn, target=Account(profile="target", endpoint_url=proxy.endpoint), capacity_override=10_000)
    items = list(sample_items(50))
    with open_writer(options) as writer:
        for item in items:
            writer.put(item)
    _assert_arrived_exactly(target_ddb, table, items)
    assert proxy.stats.unprocessed_requests > 0 and writer.stats.written == 50


@pytest.mark.integration
def test_dynamodbs_own_message_stays_out_of_errors_and_logs(target: Any, target_ddb: Any, table: str, caplog: pytest.LogCaptureFixture) -> None:
    # DynamoDB's messages may quote input; only its error code leaves the dead-letter file.
    writer = TableWriter(writer_client(target), describe_table(target_ddb, table))
    writer.put(dict(sample_item(0), secret={"SS": []}), origin="line 1")
    with pytest.raises(SinkError) as caught:
        writer.flush()
    assert str(caught.value).endswith("line 1 cannot be written: rejected by DynamoDB (ValidationException). "
                                      "Set a dead-letter location to collect such items instead of failing.")
    assert "may not be empty" not in str(caught.value) and "may not be empty" not in caplog.text


def test_the_writer_client_leaves_validation_and_retries_to_the_writer(target: Any, table: str) -> None:
    client = writer_client(target)
    # botocore does not check the request (the writer has, item by item): a wrong payload type is
    # sent, where a validating client raises ParamValidationError before sending
    wrong = {table: [{"PutRequest": {"Item": {"pk": {"S": 1}, "sk": {"N": "1"}}}}]}
    with pytest.raises(ParamValidationError):
        target.client("dynamodb").batch_write_item(RequestItems=wrong)
    with contextlib.suppress(ClientError):  # DynamoDB refuses it (SerializationException); DynamoDB Local coerces it
        client.batch_write_item(RequestItems=wrong)
    assert client.meta.config.retries["total_max_attempts"] == 1  # retries are the writer's, counted and bounded
