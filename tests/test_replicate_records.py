"""Change records read from a Lambda event (binaries as base64 text: decoded exactly once) and from a
GetRecords reply as botocore returns it (binaries already bytes); TTL identity; refusals that name the
record's position, never its contents. Events are built by hand in AWS's documented shape, so the
reader is not checked against its own encoder."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

import pytest

from ddbmigrate.errors import DdbMigrateError, ReplicationError
from ddbmigrate.replicate.records import from_lambda_record, from_stream_record
from ddbmigrate.values import item_size, item_to_json

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/ExampleTableWithStream/stream/2015-06-27T00:48:05.899"
SECRET = b"\x00\xffsecret-\x80payload"
"""Bytes that are not UTF-8 and not valid base64 when taken as text: a double decode or encode shows."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def lambda_record(event_name: str = "INSERT", *, keys: dict[str, Any] | None = None,
                  new_image: dict[str, Any] | None = None, sequence: str = "4421584500000000017450439091",
                  view_type: str = "NEW_AND_OLD_IMAGES", created: float = 1428537600,
                  user_identity: dict[str, str] | None = None, **drop: bool) -> dict[str, Any]:
    """One record of a Lambda DynamoDB Streams event, as Lambda delivers it (AWS's sample shape)."""
    body: dict[str, Any] = {"ApproximateCreationDateTime": created,
                            "Keys": keys if keys is not None else {"Id": {"N": "101"}},
                            "SequenceNumber": sequence, "SizeBytes": 26, "StreamViewType": view_type}
    if new_image is not None:
        body["NewImage"] = new_image
    record: dict[str, Any] = {"eventID": "c4ca4238a0b923820dcc509a6f75849b", "eventName": event_name,
                              "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                              "dynamodb": body, "eventSourceARN": STREAM}
    if user_identity is not None:
        record["userIdentity"] = user_identity
    for name in drop:
        (body if name in body else record).pop(name)
    return record


def test_binaries_at_every_depth_and_in_keys_round_trip_byte_exact_decoded_once() -> None:
    # GIVEN a binary partition key and B/BS at the top, inside M, inside L, inside M inside L
    keys = {"pk": {"B": _b64(SECRET)}, "sk": {"S": "x"}}
    image = {**keys, "b": {"B": _b64(SECRET)}, "bs": {"BS": [_b64(SECRET), _b64(b"\x01")]},
             "m": {"M": {"b": {"B": _b64(SECRET)}, "l": {"L": [{"BS": [_b64(SECRET)]}, {"M": {"b": {"B": _b64(b"\x00")}}}]}}}}
    # WHEN it is read
    record = from_lambda_record(lambda_record(keys=keys, new_image=image))
    # THEN every binary is the original bytes (not base64 text, not bytes of base64 text)
    assert record.keys == {"pk": {"B": SECRET}, "sk": {"S": "x"}}
    new = record.new_image or {}
    assert new["b"] == {"B": SECRET} and new["bs"] == {"BS": [SECRET, b"\x01"]}
    assert new["m"]["M"]["b"] == {"B": SECRET}
    assert new["m"]["M"]["l"]["L"] == [{"BS": [SECRET]}, {"M": {"b": {"B": b"\x00"}}}]
    assert record.operation == "INSERT" and record.shard_id is None and not record.ttl_delete
    assert record.created == datetime(2015, 4, 9, tzinfo=timezone.utc)


def test_a_getrecords_record_as_botocore_returns_it_is_taken_as_it_is() -> None:
    # GIVEN botocore's parse: bytes for B, a naive datetime for the timestamp (as its parser may give)
    raw = {"eventID": "1", "eventName": "MODIFY", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
           "awsRegion": "us-east-1",
           "dynamodb": {"ApproximateCreationDateTime": datetime(2024, 5, 1, 12, 30, 15),
                        "Keys": {"pk": {"B": SECRET}}, "NewImage": {"pk": {"B": SECRET}, "bs": {"BS": [SECRET]}},
                        "SequenceNumber": "000000000000000000001", "SizeBytes": 40, "StreamViewType": "NEW_IMAGE"}}
    record = from_stream_record(raw, stream_arn=STREAM, shard_id="shardId-0001")
    assert record.keys == {"pk": {"B": SECRET}} and record.new_image == {"pk": {"B": SECRET}, "bs": {"BS": [SECRET]}}
    assert record.created == datetime(2024, 5, 1, 12, 30, 15, tzinfo=timezone.utc)
    assert record.sequence == 1 and record.position == f"stream {STREAM} shard shardId-0001 sequence 000000000000000000001"


@pytest.mark.parametrize("identity, ttl", [
    ({"type": "Service", "principalId": "dynamodb.amazonaws.com"}, True),
    ({"type": "Service", "principalId": "lambda.amazonaws.com"}, False),
    ({"type": "User", "principalId": "dynamodb.amazonaws.com"}, False),
    (None, False),
])
def test_ttl_delete_is_recognised_by_its_user_identity_only(identity: dict[str, str] | None, ttl: bool) -> None:
    record = from_lambda_record(lambda_record("REMOVE", user_identity=identity))
    assert record.operation == "REMOVE" and record.new_image is None and record.ttl_delete is ttl


@pytest.mark.parametrize("view_type", ["KEYS_ONLY", "OLD_IMAGE"])
def test_a_stream_without_new_images_is_refused_with_the_fix(view_type: str) -> None:
    with pytest.raises(ReplicationError, match=rf"sequence 4421584500000000017450439091: a MODIFY record without a new "
                                               rf"image \(stream view type {view_type}\).*enable the stream with NEW_IMAGE "
                                               "or NEW_AND_OLD_IMAGES"):
        from_lambda_record(lambda_record("MODIFY", view_type=view_type))
    # a REMOVE needs no image, whatever the view type
    assert from_lambda_record(lambda_record("REMOVE", view_type=view_type)).operation == "REMOVE"


@pytest.mark.parametrize("change, message", [
    ({"eventName": "UPSERT"}, "unknown eventName 'UPSERT'; expected INSERT, MODIFY or REMOVE"),
    ({"drop": "Keys"}, "Keys is missing; not a DynamoDB Streams record"),
    ({"drop": "SequenceNumber"}, "SequenceNumber is missing"),
    ({"created": "yesterday"}, "ApproximateCreationDateTime 'yesterday' is not a time"),
    ({"image": {"pk": {"B": "not base64!"}}}, "NewImage"),
    ({"image": {"pk": {"N": "1e999"}}}, "NewImage"),
])
def test_malformed_records_are_refused_naming_the_position_never_the_contents(change: dict[str, Any], message: str) -> None:
    secret = "customer-secret-4d2"
    image = change.get("image", {"pk": {"S": secret}})
    record = lambda_record(keys={"pk": {"S": secret}}, new_image=image, created=change.get("created", 1428537600),
                           **({change["drop"]: True} if "drop" in change else {}))
    if "eventName" in change:
        record["eventName"] = change["eventName"]
    with pytest.raises(DdbMigrateError) as raised:  # ReplicationError, or InvalidItemError for a value
        from_lambda_record(record)
    text = str(raised.value)
    assert message in text and STREAM in text
    assert secret not in text and "not base64!" not in text
    if change.get("drop") != "SequenceNumber":
        assert "4421584500000000017450439091" in text


def test_a_record_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ReplicationError, match="eventSourceARN is missing; not a DynamoDB Streams record"):
        from_lambda_record({"Records": []})


@pytest.mark.integration
def test_getrecords_read_as_wire_json_gives_the_same_changes_as_botocores_parse(source: Any, source_ddb: Any,
                                                                                 unique_name: Any) -> None:
    from ddbmigrate.replicate.local import adapt_dynamodb_local
    from ddbmigrate.replicate.records import WIRE_RECORDS, read_wire_records

    # GIVEN changes of every type (binaries that are no UTF-8, in the key too) on DynamoDB Local's stream
    table = unique_name("wire")
    source_ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "B"}],
                            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    item = {"pk": {"B": b"\x00\xff="}, "s": {"S": "é"}, "n": {"N": "-1.5E-130"}, "b": {"B": b"\xfe"},
            "bs": {"BS": [b"\x00", b"\xff"]}, "ss": {"SS": ["a"]}, "ns": {"NS": ["1", "2"]}, "t": {"BOOL": True},
            "z": {"NULL": True}, "m": {"M": {"in": {"B": b"\x01"}, "e": {"M": {}}}}, "l": {"L": [{"B": b"\x02"}, {"L": []}]}}
    source_ddb.put_item(TableName=table, Item=item)
    source_ddb.delete_item(TableName=table, Key={"pk": item["pk"]})
    arn = source_ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]

    def changes(wired: bool) -> list[Any]:
        streams = source.client("dynamodbstreams")
        assert read_wire_records(streams) if wired else True
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        reply = streams.get_records(ShardIterator=iterator["ShardIterator"])
        assert bool(reply.get(WIRE_RECORDS)) == wired and reply["NextShardIterator"]
        return [from_stream_record(adapt_dynamodb_local(r), stream_arn=arn, shard_id=shard, wire=wired)
                for r in reply["Records"]]

    # WHEN read through botocore's parse, and as wire JSON THEN the changes are equal, binaries byte-exact
    parsed, wired = changes(False), changes(True)
    assert wired == parsed and len(wired) == 2
    # and the wire JSON's image (its empty map tagged again) is what the sink sends as it is
    assert wired[0].image_document == item_to_json(wired[0].new_image or {}) and parsed[0].image_document is None
    stored = source_ddb.get_item(TableName=table, Key={"pk": item["pk"]})  # gone; the stream kept the image
    assert "Item" not in stored and wired[1].operation == "REMOVE" and wired[1].keys == {"pk": {"B": b"\x00\xff="}}
    image = wired[0].new_image or {}
    assert (image["b"], image["m"]["M"]["in"], image["l"]["L"][0]) == ({"B": b"\xfe"}, {"B": b"\x01"}, {"B": b"\x02"})
    assert sorted(image["bs"]["BS"]) == [b"\x00", b"\xff"] and image["m"]["M"]["e"] == {"M": {}}


def test_a_json_image_carries_its_size_and_the_document_the_sink_sends_as_it_is() -> None:
    # GIVEN an image in DynamoDB JSON with a binary, a number, a set and a nested map
    image = {"Id": {"N": "101"}, "b": {"B": _b64(SECRET)}, "n": {"N": "-12.5"}, "ss": {"SS": ["a", "é"]},
             "m": {"M": {"l": {"L": [{"S": "x"}, {"BS": [_b64(b"\x01")]}]}}}}
    # WHEN it is read from a Lambda event and as a GetRecords record's wire JSON
    for record in (from_lambda_record(lambda_record(new_image=image)),
                   from_stream_record(lambda_record(new_image=image), stream_arn=STREAM, shard_id="s", wire=True)):
        # THEN it was sized on the way in, and its JSON is exactly what the sink would have encoded
        assert record.image_size == item_size(record.new_image or {})
        assert record.image_document == item_to_json(record.new_image or {}) == image
    # and a REMOVE, or a record botocore parsed, carries neither
    removed = from_lambda_record(lambda_record("REMOVE", new_image=image))
    parsed = from_stream_record(lambda_record(new_image={"Id": {"N": "1"}, "b": {"B": SECRET}}), stream_arn=STREAM,
                                shard_id="s")
    assert (removed.image_size, removed.image_document, parsed.image_size, parsed.image_document) == (None,) * 4
