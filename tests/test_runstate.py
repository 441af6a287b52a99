"""Run state (``ddbmigrate.runstate``) and the sink's "flush, then record" order, without Spark.

Records are stored on the local S3 (moto server) and in folders; the order test writes through a
real :class:`~ddbmigrate.sink.spark.TaskPlan` into DynamoDB Local and looks at the target and the
dead-letter file from inside the checkpoint callback — what a crash right after it would leave.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ddbmigrate.drift import DriftCounts
from ddbmigrate.dynamodb import describe_table
from ddbmigrate.errors import ConfigError
from ddbmigrate.runstate import (
    RunIdentity,
    RunState,
    SegmentRecord,
    open_run_state,
    run_state_location,
)
from ddbmigrate.sample import create_sample_table, sample_items
from ddbmigrate.sink import Rejected, SinkOptions, SinkStats
from ddbmigrate.sink.spark import Checkpoint, TaskPlan

IDENTITY = RunIdentity("export-import", "arn:aws:dynamodb:eu-west-1:111122223333:table/orders/export/01", "orders",
                       "a" * 64)


def test_the_run_state_sits_beside_the_dead_letters_unless_given(tmp_path: Path) -> None:
    assert run_state_location(None, "s3://jobs/ddbmigrate/dead-letters/") == "s3://jobs/ddbmigrate/run-state/"
    assert run_state_location(None, "s3://jobs/dead-letters") == "s3://jobs/run-state/"
    assert run_state_location(None, str(tmp_path / "dl")) == str(tmp_path / "run-state")
    assert run_state_location("s3://elsewhere/state/", "s3://jobs/dl/") == "s3://elsewhere/state/"
    with pytest.raises(ConfigError, match=r"--run_id needs a place for its run state: give --run_state"):
        run_state_location(None, None)
    with pytest.raises(ConfigError, match=r"--run_state is only used with --run_id"):
        open_run_state(None, str(tmp_path), None, None)
    assert open_run_state(None, None, "s3://jobs/dl/", None) is None
    with pytest.raises(ConfigError, match=r"--run_id: expected 1–128 letters.*got 'a/b'"):
        RunState(str(tmp_path), "a/b")


@pytest.mark.parametrize("change, named", [
    ({"source": "arn:aws:dynamodb:eu-west-1:111122223333:table/orders/export/02"}, "export: arn:"),
    ({"target": "customers"}, "target table: orders when it started, customers now"),
    ({"mapping": "b" * 64}, "mapping (sha256 of its rules and schema): aaaaaaaaaaaa… when it started, bbbbbbbbbbbb… now"),
])
def test_a_resume_of_another_run_is_refused_in_one_line_naming_what_differs(tmp_path: Path, change: dict[str, Any],
                                                                           named: str) -> None:
    state = RunState(str(tmp_path), "orders-1")
    assert state.open(IDENTITY) is None  # a new run records what it is about
    assert state.open(IDENTITY) == IDENTITY  # the same again resumes

    with pytest.raises(ConfigError) as refused:
        RunState(str(tmp_path), "orders-1").open(RunIdentity(**{**IDENTITY.__dict__, **change}))

    message = str(refused.value)
    assert message.startswith(f"--run_id orders-1: the run state {tmp_path}/orders-1/ belongs to another run")
    assert named in message and "give a new --run_id" in message and "\n" not in message


def test_records_round_trip_on_s3_and_the_totals_reconcile_unit_by_unit(s3, bucket, target) -> None:
    state = RunState(f"s3://{bucket}/ddbmigrate/run-state/", "orders-1", target)
    assert state.recorded() is None and state.files() == {}
    state.open(IDENTITY)
    drift = DriftCounts()
    drift.add([("colour",)], [])
    for n, (read, dead) in enumerate([(20, 0), (15, 2)]):
        mark = state.file_checkpoint(f"prefix/AWSDynamoDB/01/data/file-{n}.json.gz", drift).mark
        state.checkpoint_reached(mark, SinkStats(received=read, written=read - dead, dead_lettered=dead))

    assert json.loads(s3.get_object(Bucket=bucket, Key="ddbmigrate/run-state/orders-1/run.json")["Body"].read()) == \
        IDENTITY.__dict__
    again = RunState(f"s3://{bucket}/ddbmigrate/run-state/", "orders-1", target)  # a new run reads them back
    assert sorted(again.files()) == ["prefix/AWSDynamoDB/01/data/file-0.json.gz", "prefix/AWSDynamoDB/01/data/file-1.json.gz"]
    totals = again.totals(3, skipped=2, this_run=0)
    assert (totals.read, totals.written, totals.dead_lettered, totals.units) == (35, 33, 2, 2)
    assert totals.drift.unknown == {"colour": 2}
    assert not totals.complete  # a third file is not recorded yet
    assert "2 of 3 data file(s) done by an earlier run, skipped; 2 of 3 recorded" in totals.summary()


def test_a_segment_record_carries_earlier_runs_counts_and_moves_on_page_by_page(tmp_path: Path) -> None:
    state = RunState(str(tmp_path), "copy-1")
    earlier = SegmentRecord(3, read=10, written=10, last_key={"pk": {"S": "a"}})
    for page, key in enumerate(({"pk": {"S": "b"}}, None)):
        mark = state.segment_checkpoint(earlier, key, DriftCounts()).mark
        state.checkpoint_reached(mark, SinkStats(received=5, written=4 + page, dead_lettered=1 - page))

    record = state.segments()[3]
    assert (record.read, record.written, record.dead_lettered, record.done, record.last_key) == (20, 19, 1, True, None)
    with pytest.raises(Exception, match="segment 4: counts do not reconcile"):
        state.record_segment(SegmentRecord(4, read=3, written=1))


@pytest.mark.parametrize("in_flight", [1, 3])
def test_the_sink_records_a_file_only_after_its_items_are_written_and_its_dead_letters_durable(
    target, target_ddb, unique_name, tmp_path: Path, in_flight: int,
) -> None:
    table = unique_name("order")
    create_sample_table(target_ddb, table)
    items = list(sample_items(60))
    options = SinkOptions(table=table, target=target, dead_letter=str(tmp_path / "dl"), requests_in_flight=in_flight,
                          write_percent=1.0, capacity_override=40_000)
    seen: list[tuple[Any, SinkStats, int, int]] = []

    def on_checkpoint(mark: Any, stats: SinkStats) -> None:  # what a crash right after this would leave
        stored = target_ddb.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"]
        letters = sum(len(p.read_text().splitlines()) for p in (tmp_path / "dl").glob("*.jsonl"))
        seen.append((mark, stats, stored, letters))

    rows: list[tuple[str, Any]] = [(f"file-a line {n}", item) for n, item in enumerate(items[:40])]
    rows += [("file-a line 40", Rejected("a reason naming no value")), ("file-a", Checkpoint("file-a"))]
    rows += [(f"file-b line {n}", item) for n, item in enumerate(items[40:])] + [("file-b", Checkpoint("file-b"))]
    plan = TaskPlan(options, describe_table(target, table), 1000.0, "test", on_checkpoint)

    plan.write(iter(rows))

    assert [(m, s.received, s.written, s.dead_lettered, stored, letters) for m, s, stored, letters in seen] == [
        ("file-a", 41, 40, 1, 40, 1), ("file-b", 20, 20, 0, 60, 1)]
