"""The replication Lambda handler, driven with events in AWS's exact shape against DynamoDB Local.

The target is the real target-account DynamoDB Local (reached as Lambda would: default
credentials, here the ``target`` profile through ``AWS_PROFILE``), dead letters go to moto's S3.
The invocation context is a stand-in (:class:`FakeContext`): only Lambda provides a real one, and
the handler uses its remaining-time function, request id and function name.
Metrics are read back from the Embedded Metric Format JSON that powertools prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ddbmigrate.deadletter import read_dead_letters
from ddbmigrate.digest import describe_differences, item_digest
from ddbmigrate.errors import ConfigError, ReplicationError
from ddbmigrate.replicate import lambda_handler as lh
from ddbmigrate.replicate.checkpoints import TableCheckpoints
from ddbmigrate.values import Item, item_to_json

pytestmark = pytest.mark.integration

CUTOFF = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
AFTER = CUTOFF + timedelta(minutes=1)
STREAM = "arn:aws:dynamodb:eu-west-1:111122223333:table/Orders/stream/2025-03-01T11:00:00.000"
SECRET = "customer-secret-value-7f3a"


@dataclass
class FakeContext:
    """Stand-in for Lambda's context object: ``remaining`` gives each call's milliseconds left."""

    remaining: list[int] = field(default_factory=lambda: [900_000])
    function_name: str = "ddbmigrate-replication"
    aws_request_id: str = "4b5c1d2e-req"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


class Events:
    """Builds Lambda DynamoDB Streams events exactly as Lambda delivers them (binaries as base64)."""

    def __init__(self) -> None:
        self.sequence = 100_000_000_000_000_000_000

    def record(self, name: str, keys: Item, new_image: Item | None = None, *, created: datetime = AFTER,
               view_type: str = "NEW_AND_OLD_IMAGES", ttl: bool = False) -> dict[str, Any]:
        self.sequence += 100
        body: dict[str, Any] = {"ApproximateCreationDateTime": created.timestamp(), "Keys": item_to_json(keys),
                                "SequenceNumber": str(self.sequence), "SizeBytes": 64, "StreamViewType": view_type}
        if new_image is not None and view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            body["NewImage"] = item_to_json(new_image)
        record = {"eventID": f"{self.sequence:x}", "eventName": name, "eventVersion": "1.1",
                  "eventSource": "aws:dynamodb", "awsRegion": "eu-west-1", "dynamodb": body,
                  "eventSourceARN": STREAM}
        if ttl:
            record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
        return record

    def put(self, item: Item, **kwargs: Any) -> dict[str, Any]:
        return self.record("INSERT", {k: item[k] for k in ("pk", "sk")}, item, **kwargs)

    def remove(self, item: Item, **kwargs: Any) -> dict[str, Any]:
        return self.record("REMOVE", {k: item[k] for k in ("pk", "sk")}, **kwargs)

    @staticmethod
    def event(*records: dict[str, Any]) -> dict[str, Any]:
        return {"Records": list(records)}


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def table(target_ddb: Any, unique_name: Callable[[str], str], monkeypatch: pytest.MonkeyPatch) -> str:
    """A target table keyed by a *binary* partition key and a string sort key; Lambda's credentials
    are the target profile's (``AWS_PROFILE``), as the function's role would be in AWS."""
    monkeypatch.setenv("AWS_PROFILE", "target")
    name = unique_name("repl")
    target_ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "B"},
                                                  {"AttributeName": "sk", "AttributeType": "S"}])
    return name


@pytest.fixture
def function(table: str, bucket: str) -> Callable[..., lh.ReplicationFunction]:
    def make(**changes: Any) -> lh.ReplicationFunction:
        settings = lh.LambdaSettings(target_table=table, cutoff=CUTOFF, dead_letter=f"s3://{bucket}/dead/")
        return lh.ReplicationFunction(replace(settings, **changes))

    return make


def item(number: int, /, **extra: Any) -> Item:
    return {"pk": {"B": bytes([0, 255, number]) + b"\x00=="}, "sk": {"S": f"s{number}"}, **extra}


def stored(client: Any, table: str, it: Item) -> Item | None:
    reply = client.get_item(TableName=table, Key={"pk": it["pk"], "sk": it["sk"]}, ConsistentRead=True)
    return reply.get("Item")


def emitted(out: str) -> dict[str, float]:
    """The metrics of the EMF documents powertools printed: name → value (summed over documents)."""
    values: dict[str, float] = {}
    for line in out.splitlines():
        if not line.startswith("{"):
            continue
        doc = json.loads(line)
        if "_aws" not in doc:
            continue
        assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ddbmigrate"
        for metric in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            values[metric["Name"]] = values.get(metric["Name"], 0) + sum(doc[metric["Name"]])
    return values


@pytest.fixture(autouse=True)
def _clear_metrics() -> Iterator[None]:
    yield
    lh.metrics.clear_metrics()


EVERY_TYPE: Item = {
    "s": {"S": "héllo"}, "empty_s": {"S": ""}, "n": {"N": "-1.2345678901234567890123456789012345678E-130"},
    "b": {"B": b"\x00\x01\xfe\xff"}, "empty_b": {"B": b""}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "9.9E+125"]},
    "bs": {"BS": [b"\x00", b"\xff\xfe"]}, "bool": {"BOOL": False}, "null": {"NULL": True},
    "m": {"M": {"deep": {"M": {"b": {"B": b"=\x00"}, "bs": {"BS": [b"AA==", b"\x01"]}}}, "empty": {"M": {}}}},
    "l": {"L": [{"B": b"\xff"}, {"S": "x"}, {"L": [{"BS": [b"\x02"]}]}, {"L": []}]},
    "name with.dots and spaces": {"S": "ok"}, "Case": {"S": "1"}, "case": {"S": "2"},
}


def test_every_type_round_trips_byte_exact_binaries_decoded_once(events, function, table, target_ddb) -> None:
    # GIVEN an INSERT of an item of every type, binaries at every depth and in the key
    it = item(1, **EVERY_TYPE)
    # WHEN the handler receives it as Lambda delivers it (base64 text)
    result = function()(events.event(events.put(it)), FakeContext())
    # THEN the target holds the item by DynamoDB's semantics, binaries as the source's bytes, not base64 text
    assert result == {"batchItemFailures": []}
    got = stored(target_ddb, table, it)
    assert got is not None and item_digest(got) == item_digest(it), describe_differences(it, got)
    assert got["pk"] == it["pk"] and got["m"]["M"]["deep"]["M"]["b"] == {"B": b"=\x00"}
    assert sorted(got["m"]["M"]["deep"]["M"]["bs"]["BS"]) == [b"\x01", b"AA=="]


def test_modify_overwrites_remove_deletes_and_the_last_change_of_a_key_wins(events, function, table, target_ddb,
                                                                          capsys) -> None:
    # GIVEN two keys: one inserted then modified, one inserted then removed, in one batch
    a, b = item(1, v={"N": "1"}), item(2, v={"N": "1"})
    a2 = {**a, "v": {"N": "2"}}
    batch = events.event(events.put(a), events.put(b), events.record("MODIFY", {"pk": a["pk"], "sk": a["sk"]}, a2),
                         events.remove(b))
    # WHEN it is applied
    result = function()(batch, FakeContext())
    # THEN a holds its last image, b is gone, and the metrics say what happened
    assert result == {"batchItemFailures": []}
    assert stored(target_ddb, table, a) == a2
    assert stored(target_ddb, table, b) is None
    assert emitted(capsys.readouterr().out) | {"ReplicationLagSeconds": 0} == {
        "RecordsApplied": 2, "skipped": 0, "superseded": 2, "dead_lettered": 0, "ReplicationLagSeconds": 0,
        "drift_new_attributes": 0, "drift_new_types": 0}


@pytest.mark.parametrize(("policy", "kept"), [("replicate", False), ("skip", True)])
def test_ttl_deletes_follow_the_policy(events, function, table, target_ddb, policy, kept) -> None:
    # GIVEN an item in the target and a TTL delete of it on the stream
    it = item(3)
    function()(events.event(events.put(it)), FakeContext())
    # WHEN the TTL delete arrives under the policy
    function(ttl_deletes=policy)(events.event(events.remove(it, ttl=True)), FakeContext())
    # THEN the item is deleted (replicate) or kept (skip)
    assert (stored(target_ddb, table, it) is not None) is kept


def test_records_before_the_cutoff_are_skipped(events, function, table, target_ddb, capsys) -> None:
    # GIVEN a record created before the cut-off and one after it
    old, new = item(4), item(5)
    batch = events.event(events.put(old, created=CUTOFF - timedelta(seconds=1)), events.put(new))
    # WHEN applied
    function()(batch, FakeContext())
    # THEN only the later one is written, and one is counted as skipped
    assert stored(target_ddb, table, old) is None
    assert stored(target_ddb, table, new) == new
    metrics = emitted(capsys.readouterr().out)
    assert (metrics["RecordsApplied"], metrics["skipped"]) == (1, 1)
    assert metrics["ReplicationLagSeconds"] > 0


def test_poison_record_is_dead_lettered_with_its_sequence_number_the_rest_apply(events, function, table, target_ddb,
                                                                               bucket, s3, capsys) -> None:
    # GIVEN a batch whose middle record can never be written (over 400 KB)
    good1, good2 = item(6), item(7)
    poison = item(8, blob={"S": SECRET + "x" * 410_000})
    records = [events.put(good1), events.put(poison), events.put(good2)]
    # WHEN applied
    result = function()(events.event(*records), FakeContext())
    # THEN nothing is reported failed, the others are written, and the dead letter names the record
    assert result == {"batchItemFailures": []}
    assert stored(target_ddb, table, good1) == good1 and stored(target_ddb, table, good2) == good2
    letters = list(read_dead_letters(f"s3://{bucket}/dead/", s3_client=s3))
    assert len(letters) == 1
    assert letters[0].record["origin"] == f"stream {STREAM} sequence {records[1]['dynamodb']['SequenceNumber']}"
    out = capsys.readouterr().out
    assert emitted(out)["dead_lettered"] == 1
    assert SECRET not in out  # logs carry positions, never item contents


def test_dead_letters_are_stored_before_each_answer_and_the_container_keeps_one_writer(
        events, function, table, target_ddb, bucket, s3) -> None:
    # GIVEN one container (its writers counted) and two invocations, each with a poison record
    opened: list[str] = []
    fn = function()
    make = fn._writer_factory
    fn._writer_factory = lambda name: (opened.append(name), make(name))[1]
    letters = []
    for n in (50, 52):
        poison = item(n, blob={"S": "x" * 410_000})
        records = [events.put(item(n + 1)), events.put(poison)]
        # WHEN one is answered
        assert fn(events.event(*records), FakeContext()) == {"batchItemFailures": []}
        # THEN its dead letter is already in S3, named by its stream position
        letters = list(read_dead_letters(f"s3://{bucket}/dead/", s3_client=s3))
        assert letters[-1].record["origin"] == f"stream {STREAM} sequence {records[1]['dynamodb']['SequenceNumber']}"
    # AND both letters are kept, written by the one writer the container opened (each sync its own object)
    assert len(letters) == 2 and len(opened) == 1
    assert stored(target_ddb, table, item(51)) == item(51) and stored(target_ddb, table, item(53)) == item(53)


def test_schema_drift_goes_to_the_metrics_per_kind_and_by_name_to_the_log(events, function, table, target_ddb,
                                                                          tmp_path, capsys, caplog) -> None:
    from ddbmigrate.mapping import build_mapping, save_mapping
    from ddbmigrate.schema import infer_schema

    # GIVEN the bulk load's mapping, and new images that gained an attribute or changed a type
    known = item(60, seq={"N": "1"})
    path = tmp_path / "mapping.json"
    save_mapping(build_mapping(infer_schema([known])), path)
    gained, retyped = item(61, seq={"N": "2"}, loyalty={"S": SECRET}), item(62, seq={"S": SECRET})
    # WHEN they are applied
    result = function(mapping=str(path))(events.event(*(events.put(i) for i in (known, gained, retyped))), FakeContext())
    # THEN they are written as they came; the metrics count the items per kind of drift (no name, no
    # value), and the log line names the attribute — never its value
    assert result == {"batchItemFailures": []}
    assert stored(target_ddb, table, gained) == gained and stored(target_ddb, table, retyped) == retyped
    metrics = emitted(capsys.readouterr().out)
    assert (metrics["drift_new_attributes"], metrics["drift_new_types"], metrics["RecordsApplied"]) == (1, 1, 3)
    (done,) = [str(r.stats) for r in caplog.records if r.getMessage() == "batch done"]
    assert "loyalty (1)" in done and "seq (N→S) (1)" in done and SECRET not in done


def test_a_failure_mid_batch_reports_the_first_record_not_applied(events, function, table, target_ddb) -> None:
    # GIVEN no dead-letter location, chunks of two, and a third record the table refuses (no sort key)
    first, second, fourth = item(9), item(10), item(11)
    broken = {"pk": item(12)["pk"], "other": {"S": "x"}}
    records = [events.put(first), events.put(second),
               events.record("INSERT", {"pk": broken["pk"], "sk": {"S": "s12"}}, broken), events.put(fourth)]
    # WHEN applied
    result = function(dead_letter=None, chunk_records=2)(events.event(*records), FakeContext())
    # THEN the first chunk is written and Lambda is told to retry from the broken record's chunk
    assert result == {"batchItemFailures": [{"itemIdentifier": records[2]["dynamodb"]["SequenceNumber"]}]}
    assert stored(target_ddb, table, first) == first and stored(target_ddb, table, second) == second
    assert stored(target_ddb, table, fourth) is None


def test_the_deadline_stops_it_safely(events, function, table, target_ddb) -> None:
    # GIVEN chunks of two and a context whose time runs short after the first chunk
    items = [item(20 + n) for n in range(5)]
    records = [events.put(it) for it in items]
    context = FakeContext(remaining=[60_000, 2_000])
    # WHEN applied
    result = function(chunk_records=2)(events.event(*records), context)
    # THEN it stops before the second chunk and reports its first record; nothing after is written
    assert result == {"batchItemFailures": [{"itemIdentifier": records[2]["dynamodb"]["SequenceNumber"]}]}
    assert [stored(target_ddb, table, it) is not None for it in items] == [True, True, False, False, False]


@pytest.mark.parametrize("view_type", ["KEYS_ONLY", "OLD_IMAGE"])
def test_a_stream_without_new_images_is_refused_saying_how_to_fix_it(events, function, table, target_ddb,
                                                                     view_type) -> None:
    # GIVEN a REMOVE from a stream without new images (the one record such a stream can carry whole)
    it = item(30)
    target_ddb.put_item(TableName=table, Item=it)
    # WHEN it arrives THEN the invocation fails before writing anything, naming the fix
    with pytest.raises(ReplicationError, match=f"view type {view_type} carries no new image.*NEW_IMAGE or NEW_AND_OLD"):
        function()(events.event(events.remove(it, view_type=view_type)), FakeContext())
    assert stored(target_ddb, table, it) == it


def test_a_poller_holding_the_stream_keeps_the_lambda_out(events, function, table, target, target_ddb,
                                                          unique_name) -> None:
    # GIVEN a checkpoint table where a poller leases one shard of the stream
    store = TableCheckpoints(target, unique_name("ckpt"))
    store.acquire(STREAM, "shardId-0001", owner="poller@host:1/abc", now=datetime.now(timezone.utc).timestamp())
    it = item(31)
    # WHEN the Lambda receives a batch of that stream THEN it refuses, naming the holder, and writes nothing
    with pytest.raises(ReplicationError, match="leased by poller@host:1/abc"):
        function(checkpoint_table=store.table)(events.event(events.put(it)), FakeContext())
    assert stored(target_ddb, table, it) is None


def test_the_lambda_holds_the_stream_wide_lease_against_pollers(events, function, table, target, unique_name) -> None:
    # GIVEN the Lambda applied a batch with a checkpoint table
    name = unique_name("ckpt")
    function(checkpoint_table=name)(events.event(events.put(item(32))), FakeContext())
    # WHEN a poller then tries a shard of the same stream THEN the Lambda's lease keeps it out
    with pytest.raises(ReplicationError, match="leased by lambda@ddbmigrate-replication"):
        TableCheckpoints(target, name).acquire(STREAM, "shardId-0001", owner="poller@x",
                                               now=datetime.now(timezone.utc).timestamp())


def test_handler_reads_its_settings_from_the_environment(events, table, target_ddb, monkeypatch) -> None:
    # GIVEN the variables the template sets, and a fresh container
    monkeypatch.setattr(lh, "_function", None)
    for name, value in {"target_table": table, "export_time": "2025-03-01T12:05:00.000Z",
                        "cutoff_margin_seconds": "300", "ttl_deletes": "skip", "write_percent": "1.0"}.items():
        monkeypatch.setenv(lh.ENVIRONMENT[name], value)
    it = item(40)
    # WHEN Lambda calls the entry point
    assert lh.handler(events.event(events.put(it)), FakeContext()) == {"batchItemFailures": []}
    # THEN it wrote the target, with the cut-off at export time minus the margin
    assert stored(target_ddb, table, it) == it
    assert lh._function is not None and lh._function.settings.cutoff == CUTOFF
    assert lh._function.settings.ttl_deletes == "skip"


@pytest.mark.parametrize(("environ", "message"), [
    ({}, "DDBMIGRATE_TARGET_TABLE: the target table's name or ARN is required"),
    ({"DDBMIGRATE_TARGET_TABLE": "t"}, "set exactly one of DDBMIGRATE_CUTOFF"),
    ({"DDBMIGRATE_TARGET_TABLE": "t", "DDBMIGRATE_CUTOFF": "2025-03-01T12:00:00Z",
      "DDBMIGRATE_EXPORT_TIME": "2025-03-01T12:00:00Z"}, "set exactly one of DDBMIGRATE_CUTOFF"),
    ({"DDBMIGRATE_TARGET_TABLE": "t", "DDBMIGRATE_CUTOFF": "yesterday"}, "DDBMIGRATE_CUTOFF: 'yesterday' is not an ISO"),
    ({"DDBMIGRATE_TARGET_TABLE": "t", "DDBMIGRATE_CUTOFF": "2025-03-01T12:00:00Z", "DDBMIGRATE_TTL_DELETES": "keep"},
     "DDBMIGRATE_TTL_DELETES: 'keep' is not one of replicate, skip"),
    ({"DDBMIGRATE_TARGET_TABLE": "t", "DDBMIGRATE_CUTOFF": "2025-03-01T12:00:00Z", "DDBMIGRATE_WRITE_PERCENT": "3"},
     "DDBMIGRATE_WRITE_PERCENT: 3.0 is outside"),
    ({"DDBMIGRATE_TARGET_TABLE": "t", "DDBMIGRATE_CUTOFF": "2025-03-01T12:00:00Z", "DDBMIGRATE_CONCURRENCY": "0"},
     "DDBMIGRATE_CONCURRENCY: expected a whole number ≥ 1"),
])
def test_settings_errors_name_the_variable(environ, message) -> None:
    with pytest.raises(ConfigError, match=message):
        lh.LambdaSettings.from_environ(environ)


def test_settings_from_the_environment_build_the_target_account() -> None:
    settings = lh.LambdaSettings.from_environ({
        "DDBMIGRATE_TARGET_TABLE": "Orders", "DDBMIGRATE_CUTOFF": "2025-03-01T12:00:00Z",
        "DDBMIGRATE_TARGET_REGION": "us-east-1", "DDBMIGRATE_TARGET_ROLE_ARN": "arn:aws:iam::444455556666:role/w",
        "DDBMIGRATE_TARGET_EXTERNAL_ID": "ext-1", "DDBMIGRATE_WRITE_CAPACITY": "400", "DDBMIGRATE_MAPPING": "",
    })
    assert (settings.target.role_arn, settings.target.external_id, settings.target.region) == (
        "arn:aws:iam::444455556666:role/w", "ext-1", "us-east-1")
    assert settings.sink_options().capacity_override == 400 and settings.mapping is None
    assert settings.cutoff == CUTOFF
