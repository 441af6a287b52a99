"""Dead-letter files: exact line shape, local and S3 (moto server), replay into DynamoDB Local."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ddbmigrate.deadletter import (
    DeadLetterWriter,
    dead_letter_record,
    list_dead_letter_files,
    read_dead_letters,
    replay_dead_letters,
)
from ddbmigrate.dynamodb import describe_table
from ddbmigrate.errors import ConfigError, InvalidItemError, SinkError
from ddbmigrate.sample import create_sample_table, sample_item
from ddbmigrate.sink import TableWriter, writer_client
from ddbmigrate.values import deserialize_item, item_to_json


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_record_is_dynamodb_json_with_key_and_reason() -> None:
    item = sample_item(3)
    record = dead_letter_record("too big", origin="s3://b/data/x.json.gz line 17", key={"pk": item["pk"]}, item=item)
    assert record == {
        "reason": "too big",
        "origin": "s3://b/data/x.json.gz line 17",
        "operation": "put",
        "key": {"pk": item["pk"]},
        "item": item_to_json(item),
    }
    assert record["item"]["blob"]["B"] == base64.b64encode(item["blob"]["B"]).decode()
    json.dumps(record)  # ready for a JSON line as it is


def test_a_value_dynamodb_json_cannot_express_is_kept_and_marked_lossy() -> None:
    record = dead_letter_record("float", origin="row 1", key=None, item={"pk": {"S": "a"}, "x": {"N": 1.5}, "b": {"B": b"\x00"}})
    assert record["lossy"] is True
    assert record["item"] == {"pk": {"S": "a"}, "x": {"N": 1.5}, "b": {"B": "AA=="}}
    assert record["key"] is None


def test_local_file_lines_and_no_file_when_nothing_was_dead_lettered(tmp_path: Path) -> None:
    with DeadLetterWriter(str(tmp_path / "dl"), "part-00001") as empty:
        pass
    assert empty.count == 0 and not (tmp_path / "dl").exists()

    item = sample_item(1)
    with DeadLetterWriter(str(tmp_path / "dl"), "part-00002", buffer_bytes=10) as writer:
        writer.write("reason one", origin="f line 1", key={"pk": item["pk"]}, item=item)
        writer.write("reason two", origin="f line 2", key={"pk": item["pk"], "sk": item["sk"]}, item=None, operation="delete")
    path = tmp_path / "dl" / "part-00002.jsonl"
    assert writer.uri == str(path) and writer.count == 2
    lines = _lines(path)
    assert [line["reason"] for line in lines] == ["reason one", "reason two"]
    assert lines[0]["item"] == item_to_json(item) and lines[1]["operation"] == "delete" and lines[1]["item"] is None
    with pytest.raises(SinkError, match="already closed"):
        writer.write("late", origin="x", key=None, item=None)


def test_s3_small_file_is_one_object(s3: Any, bucket: str) -> None:
    item = sample_item(2)
    with DeadLetterWriter(f"s3://{bucket}/dead/run1/", "part-00000", s3_client=s3) as writer:
        writer.write("r", origin="o", key={"pk": item["pk"]}, item=item)
    body = s3.get_object(Bucket=bucket, Key="dead/run1/part-00000.jsonl")["Body"].read().decode()
    assert json.loads(body)["item"] == item_to_json(item)
    assert list_dead_letter_files(f"s3://{bucket}/dead/run1", s3_client=s3) == [f"s3://{bucket}/dead/run1/part-00000.jsonl"]


def test_s3_large_file_goes_up_in_parts_and_reads_back_whole(s3: Any, bucket: str) -> None:
    # ~7 MB of dead letters: more than one 5 MB part
    big = {"pk": {"S": "k"}, "sk": {"N": "1"}, "payload": {"B": b"\x07" * 300_000}}
    with DeadLetterWriter(f"s3://{bucket}/dl/", "big", s3_client=s3, buffer_bytes=5 * 1024 * 1024) as writer:
        for i in range(18):
            writer.write(f"item {i}", origin=f"line {i}", key={"pk": big["pk"]}, item=big)
    assert len(writer._parts) == 2  # one part mid-way, one at close
    lines = list(read_dead_letters(f"s3://{bucket}/dl/", s3_client=s3))
    assert [entry.record["reason"] for entry in lines] == [f"item {i}" for i in range(18)]
    assert lines[5].where == f"s3://{bucket}/dl/big.jsonl line 6"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_storing_into_a_missing_bucket_fails_loudly(s3: Any, unique_name: Callable[[str], str]) -> None:
    writer = DeadLetterWriter(f"s3://{unique_name('nobucket')}/dl/", "x", s3_client=s3)
    writer.write("r", origin="o", key=None, item={"pk": {"S": "a"}})
    with pytest.raises(SinkError, match="cannot store 1 dead letter"):
        writer.close()


def test_s3_location_needs_a_client_and_names_are_plain() -> None:
    with pytest.raises(ConfigError, match="S3 client"):
        DeadLetterWriter("s3://bucket/prefix/", "x")
    with pytest.raises(ConfigError, match="plain file name"):
        DeadLetterWriter("/tmp", "a/b")


def test_reading_names_file_and_line_of_a_broken_record(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"reason":"r","origin":"o","key":{},"item":{"pk":{"S":"a"}}}\n{"reason": oops}\n')
    entries = read_dead_letters(str(tmp_path))
    assert next(entries).record["item"] == {"pk": {"S": "a"}}
    with pytest.raises(InvalidItemError, match=r"x\.jsonl line 2: not JSON"):
        next(entries)
    path.write_text('{"reason":"r","origin":"o","key":{},"item":[1]}\n')
    with pytest.raises(InvalidItemError, match="line 1: a put's item must be DynamoDB JSON"):
        list(read_dead_letters(str(path)))
    with pytest.raises(ConfigError, match="does not exist"):
        list_dead_letter_files(str(tmp_path / "missing"))


@pytest.mark.integration
def test_fix_and_replay_writes_the_items(tmp_path: Path, target: Any, target_ddb: Any, unique_name) -> None:
    # GIVEN dead letters from a run: one item too big, one with its sort key missing
    table = unique_name("replay")
    create_sample_table(target_ddb, table)
    info = describe_table(target_ddb, table)
    big = sample_item(0, payload_bytes=410_000)
    keyless = sample_item(1)
    del keyless["sk"]
    first = tmp_path / "run1"
    with DeadLetterWriter(str(first), "part-0") as letters, TableWriter(writer_client(target), info, dead_letters=letters) as w:
        w.put(big, origin="data.json line 1")
        w.put(keyless, origin="data.json line 2")
    assert w.stats.dead_lettered == 2 and w.stats.written == 0
    records = _lines(first / "part-0.jsonl")
    assert "409,600" in records[0]["reason"] and records[0]["key"] == {"pk": item_to_json(big)["pk"], "sk": item_to_json(big)["sk"]}
    assert records[1]["reason"] == "sort key attribute 'sk' is missing" and records[1]["key"] == {"pk": {"S": "customer#000000"}}

    # WHEN the user fixes them (shrinks the payload, adds the key) and replays into a new location
    records[0]["item"]["payload"] = {"B": base64.b64encode(b"small").decode()}
    records[1]["item"]["sk"] = {"N": "9"}
    (first / "part-0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    with DeadLetterWriter(str(tmp_path / "run2"), "replay") as letters, TableWriter(writer_client(target), info, dead_letters=letters) as w:
        handed = replay_dead_letters(str(first), w)

    # THEN both are in the table, type-exact, and nothing new was dead-lettered
    assert handed == 2 and w.stats.written == 2 and w.stats.dead_lettered == 0
    got = target_ddb.get_item(TableName=table, Key={"pk": {"S": "customer#000000"}, "sk": {"N": "9"}}, ConsistentRead=True)["Item"]
    expected = dict(keyless, sk={"N": "9"})
    assert deserialize_item(got) == deserialize_item(expected)
    assert not (tmp_path / "run2").exists()


@pytest.mark.integration
def test_replay_refuses_lossy_records_until_fixed(tmp_path: Path, target: Any, target_ddb: Any, unique_name) -> None:
    table = unique_name("lossy")
    create_sample_table(target_ddb, table)
    with DeadLetterWriter(str(tmp_path), "p") as letters:
        letters.write("float", origin="o", key=None, item={"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"N": 1.5}})
    with TableWriter(writer_client(target), describe_table(target_ddb, table)) as w, pytest.raises(InvalidItemError, match="lossy"):
        replay_dead_letters(str(tmp_path), w)
    assert w.stats.received == 0


def test_a_letter_without_an_item_is_read_but_replay_says_where_to_fix_it(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"reason":"malformed line: JSONDecodeError","origin":"s3://b/data/f.json.gz line 7",'
                    '"operation":"put","key":null,"item":null}\n')
    [entry] = list(read_dead_letters(str(tmp_path)))
    assert entry.record["item"] is None

    class Refuse:
        def put(self, item: Any, *, origin: str = "") -> None:
            raise AssertionError("nothing may be written")

        def delete(self, key: Any, *, origin: str = "") -> None:
            raise AssertionError("nothing may be written")

    with pytest.raises(InvalidItemError, match=r"x\.jsonl line 1: nothing to replay .*malformed line.*"
                                               r"fix it at its origin, s3://b/data/f\.json\.gz line 7"):
        replay_dead_letters(str(tmp_path), Refuse())


def _reasons(location: str, s3: Any = None) -> list[str]:
    return [entry.record["reason"] for entry in read_dead_letters(location, s3_client=s3)]


def test_sync_makes_a_local_file_durable_before_close(tmp_path: Path) -> None:
    # GIVEN a writer whose buffer is far from full
    writer = DeadLetterWriter(str(tmp_path), "w")
    writer.write("first", origin="o1", key={"pk": {"S": "a"}}, item=None, operation="delete")
    assert not (tmp_path / "w.jsonl").exists()  # buffered
    # WHEN it syncs THEN the letter is on disk before close (what a kill right after would leave)
    writer.sync()
    assert _reasons(str(tmp_path)) == ["first"]
    writer.sync()  # nothing held: nothing changes
    writer.write("second", origin="o2", key={"pk": {"S": "b"}}, item=None, operation="delete")
    writer.close()
    assert _reasons(str(tmp_path)) == ["first", "second"]


def test_each_s3_sync_is_its_own_object_in_order_and_none_is_overwritten(s3: Any, bucket: str) -> None:
    location = f"s3://{bucket}/dl/"
    writer = DeadLetterWriter(location, "replicate-shard-1", s3_client=s3)
    writer.write("a", origin="o", key={"pk": {"S": "a"}}, item=None, operation="delete")
    writer.sync()
    writer.sync()  # nothing held: no empty object
    writer.write("b", origin="o", key={"pk": {"S": "b"}}, item=None, operation="delete")
    writer.write("c", origin="o", key={"pk": {"S": "c"}}, item=None, operation="delete")
    writer.sync()
    writer.write("d", origin="o", key={"pk": {"S": "d"}}, item=None, operation="delete")
    writer.close()
    # a neighbour writer's file sorts among them without disturbing either's order
    with DeadLetterWriter(location, "replicate-shard-1-other", s3_client=s3) as other:
        other.write("x", origin="o", key={"pk": {"S": "x"}}, item=None, operation="delete")
    keys = [obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket, Prefix="dl/")["Contents"]]
    assert sorted(keys) == ["dl/replicate-shard-1-other.jsonl", "dl/replicate-shard-1.jsonl",
                            "dl/replicate-shard-1_00000001.jsonl", "dl/replicate-shard-1_00000002.jsonl"]
    mine = [r for r in _reasons(location, s3) if r != "x"]
    assert mine == ["a", "b", "c", "d"]


def test_s3_sync_during_a_multipart_upload_completes_it_and_the_next_object_follows(s3: Any, bucket: str) -> None:
    big = {"pk": {"S": "k"}, "payload": {"B": b"\x07" * 300_000}}
    location = f"s3://{bucket}/dl/"
    writer = DeadLetterWriter(location, "big", s3_client=s3, buffer_bytes=5 * 1024 * 1024)
    for i in range(14):  # ~5.6 MB: one part goes up mid-way
        writer.write(f"item {i}", origin=f"line {i}", key={"pk": big["pk"]}, item=big)
    assert writer._upload_id is not None
    writer.sync()
    writer.write("after", origin="line 99", key={"pk": big["pk"]}, item=None, operation="delete")
    writer.close()
    assert _reasons(location, s3) == [f"item {i}" for i in range(14)] + ["after"]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(SinkError, match="already closed"):
        writer.sync()
