"""Prebuilt BatchWriteItem bodies (ddbmigrate.sink.encode): byte for byte botocore's, and really sent."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from item_strategies import items

from ddbmigrate.sample import create_sample_table, sample_items
from ddbmigrate.sink import writer_client
from ddbmigrate.sink.encode import BODY_PARAM, batch_write_body, use_prebuilt_bodies
from ddbmigrate.values import item_to_json, read_json_item

_OPERATION = botocore.session.get_session().get_service_model("dynamodb").operation_model("BatchWriteItem")


def _botocore_body(table: str, requests: list[tuple[str, dict[str, Any]]], return_consumed: str | None) -> bytes:
    entries = [{"PutRequest": {"Item": body}} if kind == "put" else {"DeleteRequest": {"Key": body}} for kind, body in requests]
    params: dict[str, Any] = {"RequestItems": {table: entries}}
    if return_consumed:
        params["ReturnConsumedCapacity"] = return_consumed
    return create_serializer("json", include_validation=True).serialize_to_request(params, _OPERATION)["body"]


def test_sample_items_and_deletes_encode_to_botocores_bytes() -> None:
    requests: list[tuple[str, dict[str, Any]]] = [("put", item) for item in sample_items(25)]
    requests[3] = ("delete", {"pk": requests[3][1]["pk"], "sk": requests[3][1]["sk"]})
    assert batch_write_body("tbl", [(kind, body, None) for kind, body in requests], "INDEXES") == \
        _botocore_body("tbl", requests, "INDEXES")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items)
def test_every_type_encodes_to_botocores_bytes_from_the_item_or_from_its_exact_document(item: dict[str, Any]) -> None:
    table = "arn:aws:dynamodb:eu-west-1:111122223333:table/ünï code"
    expected = _botocore_body(table, [("put", item)], "TOTAL")
    assert batch_write_body(table, [("put", item, None)], "TOTAL") == expected
    read = read_json_item(json.loads(json.dumps(item_to_json(item))))  # as the import reads an export line
    if read.json_exact:
        assert batch_write_body(table, [("put", read.item, json.loads(json.dumps(item_to_json(item))))], "TOTAL") == expected


@pytest.mark.integration
def test_the_prebuilt_body_is_what_goes_on_the_wire_and_the_items_arrive(target: Any, target_ddb: Any, unique_name: Any) -> None:
    # GIVEN a sink client that records each BatchWriteItem body as sent (after signing)
    table = unique_name("encode")
    create_sample_table(target_ddb, table)
    client = writer_client(target)
    assert use_prebuilt_bodies(client)
    sent: list[bytes] = []
    client.meta.events.register("before-send.dynamodb.BatchWriteItem", lambda request, **_: sent.append(request.body))
    batch = list(sample_items(10))
    body = batch_write_body(table, [("put", item, None) for item in batch], "INDEXES")
    # WHEN it is called with a prebuilt body (and the request list botocore's own hooks may read)
    response = client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": it}} for it in batch]},
                                       ReturnConsumedCapacity="INDEXES", **{BODY_PARAM: body})
    # THEN exactly that body was sent, and DynamoDB wrote every item
    assert sent == [body]
    assert not response.get("UnprocessedItems")
    assert response["ConsumedCapacity"][0]["TableName"] == table
    assert target_ddb.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"] == 10
    # AND a call without one is botocore's own
    key = {"pk": batch[0]["pk"], "sk": batch[0]["sk"]}
    client.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": key}}]})
    assert sent[1] == _botocore_body(table, [("delete", key)], None)
    assert target_ddb.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"] == 9


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items)
def test_an_items_json_text_goes_into_the_body_as_it_is_and_the_body_means_the_same(item: dict[str, Any]) -> None:
    # GIVEN an item's JSON text as an export line spells it (compact, raw UTF-8), beside a delete
    text = json.dumps(item_to_json(item), separators=(",", ":"), ensure_ascii=False)
    key = {"pk": {"S": "k"}}
    body = batch_write_body("tbl", [("put", item, text), ("delete", key, None)], "TOTAL")
    # THEN the text is in the body unchanged, and the body is botocore's JSON value
    assert text.encode("utf-8") in body
    assert json.loads(body) == json.loads(_botocore_body("tbl", [("put", item), ("delete", key)], "TOTAL"))
