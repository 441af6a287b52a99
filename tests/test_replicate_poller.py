"""The poller: shard lineage and iterator errors with a fake streams client (DynamoDB Local rolls
shards only every 4 h and never trims or expires an iterator on demand), then real DynamoDB Local
streams across two accounts: quirks, poison records, faults, stop between flush and checkpoint."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ddbmigrate.accounts import Account
from ddbmigrate.errors import ReplicationError
from ddbmigrate.replicate.applier import ApplyPolicy
from ddbmigrate.replicate.checkpoints import Checkpoint, FileCheckpoints
from ddbmigrate.replicate.local import adapt_dynamodb_local
from ddbmigrate.replicate.poller import Poller, PollerOptions
from ddbmigrate.replicate.runner import ReplicationOptions, run_replication
from ddbmigrate.sample import create_sample_table, sample_items
from ddbmigrate.sink import SinkStats

ARN = "arn:aws:dynamodb:us-east-1:111122223333:table/t/stream/2024-01-01T00:00:00.000"
NOW = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "GetRecords")


class FakeStreams:
    """A streams client over in-memory shards (``{shard: (parent, closed, [pk …])}``), with faults on demand."""

    def __init__(self, shards: dict[str, tuple[str | None, bool, list[str]]], *, page: int = 2) -> None:
        self.shards, self.page, self.calls = shards, page, []  # type: ignore[var-annotated]
        self.expire_once: set[str] = set()
        self.trimmed: set[str] = set()
        self.order: list[str] = []

    def describe_stream(self, StreamArn: str, ExclusiveStartShardId: str | None = None) -> Any:
        ids = sorted(self.shards)
        start = ids.index(ExclusiveStartShardId) + 1 if ExclusiveStartShardId else 0
        chunk = ids[start:start + 2]  # two per page: pagination is exercised
        shards = [{"ShardId": s, **({"ParentShardId": self.shards[s][0]} if self.shards[s][0] else {}),
                   "SequenceNumberRange": {"StartingSequenceNumber": "1",
                                           **({"EndingSequenceNumber": "9"} if self.shards[s][1] else {})}}
                  for s in chunk]
        more = {"LastEvaluatedShardId": chunk[-1]} if start + 2 < len(ids) else {}
        return {"StreamDescription": {"StreamArn": StreamArn, "Shards": shards, **more}}

    def get_shard_iterator(self, StreamArn: str, ShardId: str, ShardIteratorType: str,
                           SequenceNumber: str | None = None) -> Any:
        self.calls.append((ShardId, ShardIteratorType, SequenceNumber))
        if ShardId in self.trimmed:
            raise _error("TrimmedDataAccessException")
        position = 0 if ShardIteratorType == "TRIM_HORIZON" else int(SequenceNumber or 0) % 1000
        return {"ShardIterator": f"{ShardId}|{position}"}

    def get_records(self, ShardIterator: str, Limit: int) -> Any:
        shard, position = ShardIterator.split("|")
        if shard in self.expire_once:
            self.expire_once.discard(shard)
            raise _error("ExpiredIteratorException")
        _, closed, keys = self.shards[shard]
        start = int(position)
        chunk = keys[start:start + self.page]
        records = [{"eventName": "INSERT", "dynamodb": {
            "Keys": {"pk": {"S": k}}, "NewImage": {"pk": {"S": k}, "shard": {"S": shard}},
            "SequenceNumber": str(1000 * (sorted(self.shards).index(shard) + 1) + start + i + 1),
            "ApproximateCreationDateTime": NOW, "StreamViewType": "NEW_IMAGE"}} for i, k in enumerate(chunk)]
        self.order += [f"{shard}:{k}" for k in chunk]
        end = start + len(chunk)
        done = closed and end >= len(keys)
        return {"Records": records, **({} if done else {"NextShardIterator": f"{shard}|{end}"})}


class RecordingWriter:
    """A stand-in sink writer (what the poller's ordering is about is not DynamoDB's side)."""

    def __init__(self) -> None:
        self.stats, self.items = SinkStats(), []  # type: ignore[var-annotated]

    def put(self, item: Any, *, origin: str = "", size: int | None = None, document: Any = None) -> None:
        self.items.append(item["pk"]["S"])
        self.stats.received += 1
        self.stats.written += 1

    def delete(self, key: Any, *, origin: str = "") -> None:
        self.put(key)

    def flush(self) -> None:
        pass

    def sync(self) -> None:
        pass

    def close(self) -> None:
        pass


def _poller(streams: FakeStreams, store: Any, **options: Any) -> tuple[Poller, list[RecordingWriter]]:
    writers: list[RecordingWriter] = []

    def writer_for(shard: str) -> RecordingWriter:
        writers.append(RecordingWriter())
        return writers[-1]

    opts = PollerOptions(stream_arn=ARN, policy=ApplyPolicy(NOW - timedelta(minutes=5)), idle_wait=0, owner="me",
                         **options)
    return Poller(streams, store, writer_for, opts, clock=lambda: NOW.timestamp(), sleep=lambda s: None), writers


def test_children_start_after_their_parent_is_finished_and_orphans_start_at_once(tmp_path: Path) -> None:
    # GIVEN parent a (closed) → children b, c (open); d's parent z was trimmed away; five shards: two DescribeStream pages
    streams = FakeStreams({"a": (None, True, ["a1", "a2", "a3"]), "b": ("a", False, ["b1"]), "c": ("a", False, ["c1", "c2"]),
                           "d": ("z", False, ["d1"]), "e": (None, False, [])})
    store = FileCheckpoints(tmp_path / "ck.json")
    poller, _ = _poller(streams, store, max_shards=2)
    result = poller.run()
    order = streams.order
    assert all(order.index("a:a3") < order.index(child) for child in ("b:b1", "c:c1"))
    assert sorted(order) == sorted(["a:a1", "a:a2", "a:a3", "b:b1", "c:c1", "c:c2", "d:d1"])
    assert result.stats.seen == result.stats.applied == 7
    checkpoints = store.checkpoints(ARN)
    assert checkpoints["a"] == Checkpoint(ARN, "a", "1003", finished=True)
    assert checkpoints["c"] == Checkpoint(ARN, "c", "3002", finished=False)


def test_expired_iterator_resumes_after_the_checkpoint(tmp_path: Path) -> None:
    streams = FakeStreams({"a": (None, True, ["k1", "k2", "k3", "k4"])})
    store = FileCheckpoints(tmp_path / "ck.json")
    poller, writers = _poller(streams, store)
    original = streams.get_records
    pages = iter(range(100))

    def get_records(**kwargs: Any) -> Any:
        if next(pages) == 1:  # the second page: the iterator has expired
            streams.expire_once.add("a")
        return original(**kwargs)

    streams.get_records = get_records  # type: ignore[method-assign]
    poller.run()
    assert streams.calls == [("a", "TRIM_HORIZON", None), ("a", "AFTER_SEQUENCE_NUMBER", "1002")]
    assert writers[0].items == ["k1", "k2", "k3", "k4"]


@pytest.mark.parametrize("where", ["iterator", "records"])
def test_trimmed_data_stops_with_a_gap_error(tmp_path: Path, where: str) -> None:
    streams = FakeStreams({"a": (None, False, ["k1"])})
    if where == "iterator":
        streams.trimmed.add("a")
    else:
        streams.get_records = lambda **kw: (_ for _ in ()).throw(_error("TrimmedDataAccessException"))  # type: ignore[method-assign]
    poller, _ = _poller(streams, FileCheckpoints(tmp_path / "ck.json"))
    with pytest.raises(ReplicationError, match=r"shard a: .*there is a gap: redo the bulk load .* or use the Kinesis path"):
        poller.run()


def test_a_cutoff_past_the_retention_is_refused_before_reading(tmp_path: Path) -> None:
    streams = FakeStreams({"a": (None, False, ["k1"])})
    poller, _ = _poller(streams, FileCheckpoints(tmp_path / "ck.json"))
    poller.options = PollerOptions(stream_arn=ARN, policy=ApplyPolicy(NOW - timedelta(hours=23, minutes=30)), owner="me")
    with pytest.raises(ReplicationError, match="older than the stream's 24 h retention minus 1 h"):
        poller.run()
    assert streams.calls == []


def test_a_shard_leased_by_another_poller_is_refused(tmp_path: Path) -> None:
    streams = FakeStreams({"a": (None, False, ["k1"])})
    store = FileCheckpoints(tmp_path / "ck.json")
    store.acquire(ARN, "a", owner="other", now=NOW.timestamp())
    poller, writers = _poller(streams, store)
    with pytest.raises(ReplicationError, match="shard a is leased by other"):
        poller.run()
    assert writers == []


# --------------------------------------------------------------------------- DynamoDB Local


def test_dynamodb_local_ttl_delete_becomes_an_aws_ttl_remove() -> None:
    # GIVEN the record DynamoDB Local 3.3.0 sends for a TTL delete (measured)
    raw = {"eventName": "UNKNOWN_TO_SDK_VERSION", "dynamodb": {"Keys": {"pk": {"S": "a"}}, "OldImage": {"pk": {"S": "a"}},
                                                               "SequenceNumber": "4", "StreamViewType": "NEW_AND_OLD_IMAGES",
                                                               "ApproximateCreationDateTime": NOW}}
    adapted = adapt_dynamodb_local(raw)
    assert adapted["eventName"] == "REMOVE"
    assert adapted["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert raw["eventName"] == "UNKNOWN_TO_SDK_VERSION"  # the caller's record is not changed


def _wait_for_local_ttl_record(source: Account, source_ddb: Any, table: str) -> None:
    """DynamoDB Local deletes an expired item within seconds (get_item hides it earlier)."""
    streams = source.client("dynamodbstreams")
    arn = source_ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    for _ in range(150):
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        if any(r["eventName"] == "UNKNOWN_TO_SDK_VERSION" for r in streams.get_records(ShardIterator=iterator)["Records"]):
            return
        threading.Event().wait(0.2)
    raise AssertionError("DynamoDB Local did not expire the item within 30 s")


def _tables(source_ddb: Any, target_ddb: Any, unique_name: Callable[[str], str]) -> tuple[str, str]:
    src, dst = unique_name("src"), unique_name("dst")
    create_sample_table(source_ddb, src, stream=True)
    create_sample_table(target_ddb, dst)
    return src, dst


def _options(source: Account, src: str, target: Account, dst: str, tmp_path: Path, **kw: Any) -> ReplicationOptions:
    kw.setdefault("cutoff", datetime.now(timezone.utc))
    return ReplicationOptions(source=source, source_table=src, target=target, target_table=dst,
                              store=FileCheckpoints(tmp_path / "ck.json"), idle_wait=0.1, **kw)


def _count(client: Any, table: str) -> int:
    return client.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"]


@pytest.mark.parametrize("ttl_deletes, expected", [("replicate", 0), ("skip", 1)])
def test_dynamodb_local_ttl_deletes_follow_the_ttl_policy(source, target, source_ddb, target_ddb, unique_name, tmp_path,
                                                          ttl_deletes, expected) -> None:
    src, dst = _tables(source_ddb, target_ddb, unique_name)
    source_ddb.update_time_to_live(TableName=src, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    source_ddb.put_item(TableName=src, Item={"pk": {"S": "gone"}, "sk": {"N": "1"}, "exp": {"N": str(int(time.time()) - 10)}})
    _wait_for_local_ttl_record(source, source_ddb, src)
    result = run_replication(_options(source, src, target, dst, tmp_path, ttl_deletes=ttl_deletes))
    assert _count(target_ddb, dst) == expected
    assert result.stats.skipped_ttl == expected and result.stats.reconciles


def test_dynamodb_local_untagged_empty_maps_are_restored(source, target, source_ddb, target_ddb, unique_name, tmp_path) -> None:
    src, dst = _tables(source_ddb, target_ddb, unique_name)
    item = {"pk": {"S": "e"}, "sk": {"N": "1"}, "m": {"M": {}}, "deep": {"L": [{"M": {"x": {"M": {}}}}]}}
    source_ddb.put_item(TableName=src, Item=item)
    run_replication(_options(source, src, target, dst, tmp_path))
    assert target_ddb.get_item(TableName=dst, Key={"pk": {"S": "e"}, "sk": {"N": "1"}})["Item"] == item


def test_minute_floored_timestamps_keep_a_change_just_after_the_cutoff(source, target, source_ddb, target_ddb,
                                                                         unique_name, tmp_path) -> None:
    # GIVEN a change made after the cut-off; DynamoDB Local stamps it with the minute's start, which
    # may be before the cut-off — the default 5-minute margin still applies it
    src, dst = _tables(source_ddb, target_ddb, unique_name)
    cutoff = datetime.now(timezone.utc)
    source_ddb.put_item(TableName=src, Item={"pk": {"S": "late"}, "sk": {"N": "1"}})
    result = run_replication(_options(source, src, target, dst, tmp_path, cutoff=cutoff))
    assert result.stats.applied == 1
    # and without a margin, a record stamped before the cut-off is skipped (what the margin is for)
    floored = cutoff.replace(second=0, microsecond=0)
    later = cutoff.replace(second=59, microsecond=999999)
    other = _options(source, src, target, dst, tmp_path / "again", cutoff=later, margin=timedelta(0))
    assert floored < later
    assert run_replication(other).stats.skipped_before_cutoff == 1


def test_poison_record_is_dead_lettered_with_its_sequence_number_and_the_rest_applied(
        source, target, source_ddb, target_ddb, unique_name, tmp_path) -> None:
    src, dst = _tables(source_ddb, target_ddb, unique_name)
    items = list(sample_items(20))
    for item in items:
        source_ddb.put_item(TableName=src, Item=item)
    poison = {"pk": {"S": "poison"}, "sk": {"N": "1"}, "blob": {"B": b"x" * 399_000}}
    source_ddb.put_item(TableName=src, Item=poison)

    def mapping(item: Any) -> Any:  # renames blob to a long name: the item passes 400 KB once mapped
        return {("blob_" + "n" * 12_000 if name == "blob" else name): value for name, value in item.items()}

    result = run_replication(_options(source, src, target, dst, tmp_path, transform=mapping,
                                      dead_letter=str(tmp_path / "dl")))
    assert result.stats.dead_lettered == 1 and result.stats.applied == 20 and result.stats.reconciles
    assert _count(target_ddb, dst) == 20
    letters = "".join(p.read_text() for p in (tmp_path / "dl").glob("*.jsonl"))
    origins = [json.loads(line)["origin"] for line in letters.splitlines()]
    assert len(origins) == 1 and re.search(r"/stream/\S+ shard \S+ sequence \d{21}$", origins[0]) and "409,600" in letters


def test_faults_on_the_target_are_retried_and_counts_reconcile(source, target, source_ddb, target_ddb, unique_name,
                                                               tmp_path, proxy_factory) -> None:
    src, dst = _tables(source_ddb, target_ddb, unique_name)
    items = list(sample_items(120))
    for i, item in enumerate(items):
        source_ddb.put_item(TableName=src, Item=item)
        if i % 10 == 0:
            source_ddb.delete_item(TableName=src, Key={"pk": item["pk"], "sk": item["sk"]})
    # seed 4: the proxy's first two draws are a 5xx and a throttle, whichever writer threads send the first two
    # requests (a handful of batches would otherwise meet no throttle at a 10 % rate about one run in four)
    proxy = proxy_factory(throttle_rate=0.1, unprocessed_rate=0.2, error_5xx_rate=0.1, drop_rate=0.05, seed=4)
    faulty = target.with_(endpoint_url=proxy.endpoint)
    result = run_replication(_options(source, src, faulty, dst, tmp_path))
    assert result.stats.reconciles and result.stats.dead_lettered == 0
    assert _count(target_ddb, dst) == _count(source_ddb, src) == 108
    assert proxy.stats.throttled and proxy.stats.errors_5xx


def test_stop_between_flush_and_checkpoint_only_replays(source, target, source_ddb, target_ddb, unique_name, tmp_path) -> None:
    src, dst = _tables(source_ddb, target_ddb, unique_name)
    for item in sample_items(30):
        source_ddb.put_item(TableName=src, Item=item)
    options = _options(source, src, target, dst, tmp_path)
    store = options.store
    original = store.save

    def crash(checkpoint: Checkpoint, *, owner: str | None = None) -> None:
        raise KeyboardInterrupt  # the process dies after the flush, before the checkpoint

    store.save = crash  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        run_replication(options)
    assert _count(target_ddb, dst) == 30 and store.checkpoints(source_ddb.describe_table(TableName=src)["Table"]["LatestStreamArn"]) == {}
    store.save = original  # type: ignore[method-assign]
    again = run_replication(options)  # lease expired? no: same owner takes it back
    assert again.stats.seen == 30 and again.stats.applied == 30 and _count(target_ddb, dst) == 30


# --------------------------------------------------------------------------- flush, then dead letters, then record


class OrderRecordingWriter(RecordingWriter):
    """Records the writer's steps into a journal shared with the checkpoint store."""

    def __init__(self, journal: list[str]) -> None:
        super().__init__()
        self.journal = journal

    def flush(self) -> None:
        self.journal.append("flush")

    def sync(self) -> None:
        self.journal.append("dead letters durable")


def test_each_batch_flushes_then_stores_its_dead_letters_then_checkpoints(tmp_path: Path) -> None:
    # GIVEN two pages on one closed shard and a journal of the writer's and the store's steps
    journal: list[str] = []
    streams = FakeStreams({"a": (None, True, ["k1", "k2", "k3"])})
    store = FileCheckpoints(tmp_path / "ck.json")
    original = store.save

    def save(checkpoint: Checkpoint, *, owner: str | None = None) -> None:
        journal.append(f"checkpoint {checkpoint.sequence_number}{' finished' if checkpoint.finished else ''}")
        original(checkpoint, owner=owner)

    store.save = save  # type: ignore[method-assign]
    opts = PollerOptions(stream_arn=ARN, policy=ApplyPolicy(NOW - timedelta(minutes=5)), idle_wait=0, owner="me")
    Poller(streams, store, lambda shard: OrderRecordingWriter(journal), opts, clock=lambda: NOW.timestamp(),
           sleep=lambda s: None).run()
    assert journal == ["flush", "dead letters durable", "checkpoint 1002",
                       "flush", "dead letters durable", "checkpoint 1003", "checkpoint 1003 finished"]


def test_a_kill_at_the_checkpoint_finds_the_batch_dead_letters_already_on_disk(
        source, target, source_ddb, target_ddb, unique_name, tmp_path) -> None:
    # GIVEN a poison record among good ones, dead letters in a local folder
    src, dst = _tables(source_ddb, target_ddb, unique_name)
    for item in sample_items(5):
        source_ddb.put_item(TableName=src, Item=item)
    source_ddb.put_item(TableName=src, Item={"pk": {"S": "poison"}, "sk": {"N": "1"}, "blob": {"B": b"x" * 399_000}})

    def mapping(item: Any) -> Any:  # the poison item passes 400 KB once mapped
        return {("blob_" + "n" * 12_000 if name == "blob" else name): value for name, value in item.items()}

    options = _options(source, src, target, dst, tmp_path, transform=mapping, dead_letter=str(tmp_path / "dl"))
    on_disk: list[list[str]] = []
    original = options.store.save

    def save(checkpoint: Checkpoint, *, owner: str | None = None) -> None:
        # what a SIGKILL at this instant leaves: the dead-letter file as the disk has it (the writer is still open)
        on_disk.append([json.loads(line)["origin"] for p in sorted((tmp_path / "dl").glob("*.jsonl"))
                        for line in p.read_text().splitlines()])
        original(checkpoint, owner=owner)

    options.store.save = save  # type: ignore[method-assign]
    result = run_replication(options)
    assert result.stats.dead_lettered == 1 and result.stats.applied == 5
    # the first checkpoint saved (it covers the poison record: one batch) already had its letter on disk
    assert on_disk and len(on_disk[0]) == 1 and re.search(r" sequence \d+$", on_disk[0][0])
