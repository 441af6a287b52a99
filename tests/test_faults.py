"""The fault proxy over real HTTP in front of DynamoDB Local: each fault as the wire shows it."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from ddbmigrate.accounts import Account
from ddbmigrate.errors import ConfigError, LocalStackError
from ddbmigrate.local.faults import FaultProxy
from ddbmigrate.sample import create_sample_table, sample_items
from ddbmigrate.sink import writer_client

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table(target_ddb: Any, unique_name: Callable[[str], str]) -> str:
    name = unique_name("faults")
    create_sample_table(target_ddb, name)
    return name


def _count(client: Any, table: str) -> int:
    return int(client.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"])


def _client(proxy: FaultProxy) -> Any:
    return writer_client(Account(profile="target", endpoint_url=proxy.endpoint))


def _puts(table: str, count: int, *, start: int = 0) -> dict[str, Any]:
    items = list(sample_items(start + count))[start:]
    return {table: [{"PutRequest": {"Item": item}} for item in items]}


def test_throttle_has_dynamodbs_exact_error_shape_and_writes_nothing(proxy_factory, table, target_ddb) -> None:
    proxy = proxy_factory(throttle_rate=1.0, seed=1)
    # GIVEN a raw DynamoDB JSON-protocol request, as any SDK sends it
    body = json.dumps({"RequestItems": {table: [{"PutRequest": {"Item": {"pk": {"S": "a"}, "sk": {"N": "1"}}}}]}}).encode()
    request = urllib.request.Request(
        proxy.endpoint + "/", data=body, method="POST",
        headers={"X-Amz-Target": "DynamoDB_20120810.BatchWriteItem", "Content-Type": "application/x-amz-json-1.0"},
    )
    # WHEN it goes through a proxy that throttles everything
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    # THEN the answer is DynamoDB's 400 with its __type, a valid crc32, and nothing was written
    answer = caught.value.read()
    assert caught.value.code == 400
    assert json.loads(answer)["__type"] == "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
    assert "provisioned throughput" in json.loads(answer)["message"]
    assert caught.value.headers["x-amz-crc32"] == str(zlib.crc32(answer) & 0xFFFFFFFF)
    assert caught.value.headers["Content-Type"] == "application/x-amz-json-1.0"
    assert _count(target_ddb, table) == 0
    assert proxy.stats.throttled == 1 and proxy.stats.forwarded == 0


def test_botocore_parses_injected_errors_by_code(proxy_factory, table, target_ddb) -> None:
    throttling = _client(proxy_factory(throttle_rate=1.0))
    with pytest.raises(ClientError) as caught:
        throttling.batch_write_item(RequestItems=_puts(table, 2))
    assert caught.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"

    failing = proxy_factory(error_5xx_rate=1.0)
    client = _client(failing)
    seen = []
    for _ in range(2):
        with pytest.raises(ClientError) as caught:
            client.put_item(TableName=table, Item=next(sample_items(1)))
        seen.append((caught.value.response["ResponseMetadata"]["HTTPStatusCode"], caught.value.response["Error"]["Code"]))
    assert sorted(seen) == [(500, "InternalServerError"), (503, "ServiceUnavailable")]
    assert failing.stats.errors_5xx == 2
    assert _count(target_ddb, table) == 0


def test_drop_before_forwarding_writes_nothing(proxy_factory, table, target_ddb) -> None:
    proxy = proxy_factory(drop_rate=1.0, drop_mode="before")
    with pytest.raises(ConnectionClosedError):
        _client(proxy).batch_write_item(RequestItems=_puts(table, 3))
    assert _count(target_ddb, table) == 0
    assert proxy.stats.dropped_before == 1 and proxy.stats.dropped_after == 0


def test_drop_after_forwarding_has_written_although_the_client_saw_a_reset(proxy_factory, table, target_ddb) -> None:
    proxy = proxy_factory(drop_rate=1.0, drop_mode="after")
    with pytest.raises(ConnectionClosedError):
        _client(proxy).batch_write_item(RequestItems=_puts(table, 3))
    assert _count(target_ddb, table) == 3
    assert proxy.stats.dropped_after == 1 and proxy.stats.written_requests == 3
    assert sum(wcu for _, wcu in proxy.consumed_timeline()) == 3  # the table absorbed them


def test_partial_batch_writes_exactly_the_forwarded_part(proxy_factory, table, target_ddb) -> None:
    proxy = proxy_factory(unprocessed_rate=1.0, seed=5)
    request = _puts(table, 10)
    response = _client(proxy).batch_write_item(RequestItems=request)
    left = response["UnprocessedItems"][table]
    assert 1 <= len(left) <= 9
    # the unprocessed ones are exactly the items missing from the table
    in_table = {(i["pk"]["S"], i["sk"]["N"]) for i in target_ddb.scan(TableName=table, ConsistentRead=True)["Items"]}
    unprocessed = {(r["PutRequest"]["Item"]["pk"]["S"], r["PutRequest"]["Item"]["sk"]["N"]) for r in left}
    everything = {(r["PutRequest"]["Item"]["pk"]["S"], r["PutRequest"]["Item"]["sk"]["N"]) for r in request[table]}
    assert in_table | unprocessed == everything and not in_table & unprocessed
    # and they come back whole: re-sending them completes the batch
    assert left[0] in request[table]
    assert proxy.stats.partial_batches == 1 and proxy.stats.unprocessed_requests == len(left)


def test_provisioned_wcu_caps_each_second_with_partial_batches_then_throttles(proxy_factory, table, target_ddb) -> None:
    clock = Clock()
    proxy = proxy_factory(provisioned_wcu=10, clock=clock)
    client = _client(proxy)
    # 25 items of ~1 KB (1 WCU each, as DynamoDB counts them) in one second with a 10 WCU budget
    first = client.batch_write_item(RequestItems=_puts(table, 25))
    assert len(first["UnprocessedItems"][table]) == 15
    with pytest.raises(ClientError) as caught:  # nothing fits any more this second
        client.batch_write_item(RequestItems=first["UnprocessedItems"])
    assert caught.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    clock.now = 1.5  # the next second has a fresh budget
    second = client.batch_write_item(RequestItems=first["UnprocessedItems"])
    assert len(second["UnprocessedItems"][table]) == 5
    assert proxy.consumed_timeline() == [(0, 10.0), (1, 10.0)]
    assert proxy.stats.budget_throttled == 1 and proxy.stats.budget_partial_batches == 2
    assert _count(target_ddb, table) == 20


def test_big_items_are_charged_by_size(proxy_factory, table) -> None:
    clock = Clock()
    proxy = proxy_factory(clock=clock)
    item = next(sample_items(1, payload_bytes=5000))  # 5 KB payload + the sample's ~0.6 KB: 6 WCU
    _client(proxy).put_item(TableName=table, Item=item)
    assert proxy.consumed_timeline() == [(0, 6.0)]


def test_reads_and_control_calls_are_relayed_untouched(proxy_factory, table) -> None:
    proxy = proxy_factory(throttle_rate=0.5, error_5xx_rate=0.5)
    client = _client(proxy)
    for _ in range(5):
        assert client.describe_table(TableName=table)["Table"]["TableName"] == table
        assert client.scan(TableName=table)["Count"] == 0
    assert proxy.stats.requests == 0  # no write was seen, so no fault was drawn


def test_stop_closes_kept_alive_connections_and_frees_the_port(proxy_factory, table) -> None:
    proxy = proxy_factory()
    client = _client(proxy)
    client.describe_table(TableName=table)  # leaves a kept-alive connection open
    port = int(proxy.endpoint.rsplit(":", 1)[1])
    proxy.stop()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    with pytest.raises(LocalStackError, match="not started"):
        _ = proxy.endpoint


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"throttle_rate": 1.5}, "throttle_rate"),
        ({"drop_rate": -0.1}, "drop_rate"),
        ({"throttle_rate": 0.6, "error_5xx_rate": 0.6}, "may not exceed 1"),
        ({"drop_mode": "sometimes"}, "drop_mode"),
        ({"provisioned_wcu": 0}, "provisioned_wcu"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FaultProxy("http://127.0.0.1:1", **kwargs)


def test_upstream_must_be_an_http_url() -> None:
    with pytest.raises(ConfigError, match="upstream_url"):
        FaultProxy("dynamodb.us-east-1.amazonaws.com")
