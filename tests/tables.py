"""Test helpers: create and fill tables on the local stack, and a clock whose sleeps cost nothing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ddbmigrate.sample import SAMPLE_ATTRIBUTE_DEFINITIONS, SAMPLE_KEY_SCHEMA
from ddbmigrate.values import Item

__all__ = ["EVERY_TYPE_ITEMS", "FakeClock", "create_table", "put_all", "sample_key", "scan_by_key"]


EVERY_TYPE_ITEMS: list[Item] = [
    {"pk": {"S": "a"}, "qty": {"N": "3"}, "price": {"N": "12345678901234567890.123456789"}, "ok": {"BOOL": True},
     "blob": {"B": b"\x00\xff"}, "tags": {"SS": ["x", "y"]}, "nums": {"NS": ["1", "2.5"]}, "nothing": {"NULL": True},
     "address": {"M": {"city": {"S": "Porto"}, "geo": {"M": {"lat": {"N": "41.1"}}}}},
     "history": {"L": [{"S": "x"}, {"N": "1"}]}, "dotted.name": {"S": "d"}, "mixed": {"S": "text"}},
    {"pk": {"S": "b"}, "qty": {"N": "12345678901"}, "ok": {"BOOL": False}, "mixed": {"N": "7"},
     "address": {"M": {"city": {"S": "Lisboa"}}}},
]  # fmt: skip
"""Two items with every DynamoDB type between them, nesting, a dotted name and an attribute typed
S in one and N in the other: what a crawler and a Glue script must keep apart."""


def create_table(client: Any, name: str, *, rcu: int | None = None) -> None:
    """The sample schema (pk S, sk N); provisioned with ``rcu`` read units, else on-demand."""
    kwargs: dict[str, Any] = {"TableName": name, "KeySchema": SAMPLE_KEY_SCHEMA,
                              "AttributeDefinitions": SAMPLE_ATTRIBUTE_DEFINITIONS}
    if rcu:
        kwargs["ProvisionedThroughput"] = {"ReadCapacityUnits": rcu, "WriteCapacityUnits": 100}
    else:
        kwargs["BillingMode"] = "PAY_PER_REQUEST"
    client.create_table(**kwargs)
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def sample_key(item: Item) -> tuple[str, str]:
    """The sample schema's key as a tuple: ``(pk, sk)``."""
    return item["pk"]["S"], item["sk"]["N"]


def scan_by_key(client: Any, table: str) -> dict[tuple[str, str], Item]:
    """Every item of a sample-schema table (consistent reads), by :func:`sample_key`."""
    found: dict[tuple[str, str], Item] = {}
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        found.update({sample_key(item): item for item in page["Items"]})
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def put_all(client: Any, name: str, items: Iterable[Item]) -> int:
    """BatchWriteItem in 25s, resending UnprocessedItems; returns the number written."""
    batch: list[Item] = []
    count = 0
    for item in items:
        batch.append(item)
        if len(batch) == 25:
            count += _flush(client, name, batch)
            batch = []
    if batch:
        count += _flush(client, name, batch)
    return count


def _flush(client: Any, name: str, batch: list[Item]) -> int:
    requests: dict[str, Any] = {name: [{"PutRequest": {"Item": item}} for item in batch]}
    while requests:
        requests = client.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
    return len(batch)


class FakeClock:
    """``clock()`` reads virtual seconds; ``sleep(s)`` records and advances them instantly.

    Like a real clock, a sleep always lets *some* time pass (1 µs at least): a float sleep of
    1e-16 s added to 1.4 would otherwise leave the time unchanged and a waiting loop spinning.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(1e-6, seconds)
