"""The lean BatchWriteItem sender: the same request as botocore's, botocore's answers and errors.

Against DynamoDB Local (real HTTP). The error cases no local server produces on demand (a bad
checksum, a proxy's HTML error page) are answered at botocore's own ``before-send`` event, the
hook botocore itself honours for a short-circuited answer — no mock stands in for the client.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ChecksumError, ClientError

from ddbmigrate.dynamodb import ErrorClass, classify, describe_table
from ddbmigrate.sample import create_sample_table, sample_items
from ddbmigrate.sink.encode import BODY_PARAM, batch_write_body, use_prebuilt_bodies
from ddbmigrate.sink.send import LeanSender, _answer
from ddbmigrate.sink.writer import TableWriter, writer_client

EVENT = "before-send.dynamodb.BatchWriteItem"
_PER_CALL = {"x-amz-date", "authorization", "amz-sdk-invocation-id"}


@pytest.fixture
def table(target_ddb: Any, unique_name: Callable[[str], str]) -> str:
    name = unique_name("send")
    create_sample_table(target_ddb, name)
    return name


def _armed(target: Any, table: str) -> tuple[Any, LeanSender, list[Any]]:
    """A writer client whose lean sender has seen botocore's first call; every request sent is recorded."""
    client = writer_client(target)
    use_prebuilt_bodies(client)
    lean = LeanSender(client)
    sent: list[Any] = []
    client.meta.events.register(EVENT, lambda request, **_: sent.append(request))
    item = next(sample_items(1))
    body = batch_write_body(table, [("put", item, None)], "INDEXES")
    client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item}}]}, ReturnConsumedCapacity="INDEXES",
                            **{BODY_PARAM: body})
    assert lean.armed
    return client, lean, sent


@pytest.mark.integration
def test_the_lean_request_is_botocores_request_signed_afresh(target: Any, table: str) -> None:
    # GIVEN a sender armed by one botocore call
    client, lean, sent = _armed(target, table)
    items = list(sample_items(25))
    body = batch_write_body(table, [("put", item, None) for item in items], "INDEXES")
    # WHEN the same body goes once through botocore, once through the lean sender
    client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": items[0]}}]}, ReturnConsumedCapacity="INDEXES",
                            **{BODY_PARAM: body})
    answer = lean.batch_write_item(body)
    # THEN URL, method, body bytes and every header agree, but the per-call ones; same signed headers and scope
    botocore_request, lean_request = sent[-2], sent[-1]
    assert (lean_request.method, lean_request.url, lean_request.body) == (botocore_request.method, botocore_request.url, body)

    def headers(request: Any) -> dict[str, str]:
        return {k.lower(): v.decode() if isinstance(v, bytes) else str(v) for k, v in request.headers.items()}

    ours, theirs = headers(lean_request), headers(botocore_request)
    assert list(ours) == list(theirs)  # the same headers, in the same order
    assert {k: v for k, v in ours.items() if k not in _PER_CALL} == {k: v for k, v in theirs.items() if k not in _PER_CALL}
    assert ours["authorization"].split(" Signature=")[0].split("/", 2)[2] == theirs["authorization"].split(" Signature=")[0].split("/", 2)[2]
    assert ours["authorization"] != theirs["authorization"] or ours["x-amz-date"] == theirs["x-amz-date"]
    assert ours["amz-sdk-invocation-id"] != theirs["amz-sdk-invocation-id"]
    assert answer["UnprocessedItems"] == {} and answer["ConsumedCapacity"][0]["Table"]["CapacityUnits"] == 25.0


@pytest.mark.integration
def test_the_writer_sends_lean_after_its_first_call(target: Any, target_ddb: Any, table: str) -> None:
    # GIVEN a writer counting botocore's whole path (before-call) and every request on the wire (before-send)
    client = writer_client(target)
    through_botocore: list[int] = []
    on_the_wire: list[int] = []
    client.meta.events.register("before-call.dynamodb.BatchWriteItem", lambda **_: through_botocore.append(1))
    client.meta.events.register(EVENT, lambda request, **_: on_the_wire.append(len(json.loads(request.body)["RequestItems"][table])))
    items = list(sample_items(60))
    # WHEN it writes 60 items
    with TableWriter(client, describe_table(client, table)) as writer:
        for item in items:
            writer.put(item)
    # THEN only the first of three calls took botocore's path, and every item arrived
    assert on_the_wire == [25, 25, 10] and len(through_botocore) == 1
    assert writer.stats.written == 60 and target_ddb.describe_table(TableName=table)["Table"]["ItemCount"] == 60


def _answering(client: Any, status: int, content: bytes, headers: dict[str, str]) -> None:
    def answer(request: Any, **_: Any) -> AWSResponse:
        return AWSResponse(request.url, status, headers, _Raw(content))

    client.meta.events.register_first(EVENT, answer)


class _Raw:
    """The raw stream an AWSResponse reads its content from."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Any:
        yield self._content


@pytest.mark.integration
def test_a_bad_crc32_is_a_checksum_error_that_is_retried(target: Any, table: str) -> None:
    client, lean, _ = _armed(target, table)
    content = b'{"UnprocessedItems":{}}'
    _answering(client, 200, content, {"x-amz-crc32": str(zlib.crc32(content) ^ 1)})
    with pytest.raises(ChecksumError) as raised:
        lean.batch_write_item(b"{}")
    assert classify(raised.value) is ErrorClass.CONNECTION


@pytest.mark.integration
@pytest.mark.parametrize(("status", "content", "code", "kind"), [
    (400, b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}',
     "ProvisionedThroughputExceededException", ErrorClass.THROTTLED),
    (400, b'{"__type":"com.amazon.coral.validate#ValidationException","Message":"bad"}', "ValidationException",
     ErrorClass.INVALID),
    (503, b"<html>Service Unavailable</html>", "503", ErrorClass.SERVER),
])
def test_errors_are_botocores_client_errors(target: Any, table: str, status: int, content: bytes, code: str,
                                            kind: ErrorClass) -> None:
    client, lean, _ = _armed(target, table)
    _answering(client, status, content, {"x-amzn-requestid": "r-1"})
    with pytest.raises(ClientError) as raised:
        lean.batch_write_item(b"{}")
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert classify(raised.value) is kind


def test_unprocessed_items_come_back_in_wire_form() -> None:
    parsed = {"UnprocessedItems": {"t": [{"PutRequest": {"Item": {"pk": {"B": "AAE="}, "n": {"N": "1"}}}},
                                         {"DeleteRequest": {"Key": {"pk": {"S": "x"}}}}]}}
    assert _answer(parsed)["UnprocessedItems"]["t"] == [
        {"PutRequest": {"Item": {"pk": {"B": b"\x00\x01"}, "n": {"N": "1"}}}},
        {"DeleteRequest": {"Key": {"pk": {"S": "x"}}}},
    ]
