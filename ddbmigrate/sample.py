"""A deterministic sample table with every DynamoDB type: for the demo, the tests and the bench.

The items exercise everything the lossless principle promises: S, N with 38 digits and both
exponent extremes, B, SS/NS/BS, BOOL, NULL, M nested deep, L with mixed element types, empty
strings/binaries/maps/lists, names with dots, spaces, unicode, and names that differ only by case.
Items are wire form (``{"S": …}``), generated from a seed so that runs are reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from ddbmigrate.values import Item

__all__ = ["SAMPLE_ATTRIBUTE_DEFINITIONS", "SAMPLE_KEY_SCHEMA", "create_sample_table", "sample_item", "sample_items"]

SAMPLE_KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
SAMPLE_ATTRIBUTE_DEFINITIONS = [
    {"AttributeName": "pk", "AttributeType": "S"},
    {"AttributeName": "sk", "AttributeType": "N"},
]


def _nested(depth: int, leaf: dict[str, Any]) -> dict[str, Any]:
    value = leaf
    for level in range(depth):
        value = {"M": {f"level{depth - level}": value, "n": {"N": str(level)}}}
    return value


def sample_item(i: int, *, rng: random.Random | None = None, payload_bytes: int = 0) -> Item:
    """Item number ``i``; ``payload_bytes`` pads it (for size-aware capacity tests)."""
    rng = rng or random.Random(i)
    item: Item = {
        "pk": {"S": f"customer#{i // 4:06d}"},
        "sk": {"N": str(i % 4)},
        "name": {"S": f"Person {i} — Zoë 東京"},
        "balance": {"N": f"{rng.randint(-10**15, 10**15)}.{rng.randint(0, 10**20):020d}"},
        "precise": {"N": "1234567890123456789012345678901234567.8"},
        "tiny": {"N": "1E-130"},
        "huge": {"N": "9.9999999999999999999999999999999999999E+125"},
        "negative": {"N": "-0.000001"},
        "blob": {"B": rng.randbytes(16)},
        "tags": {"SS": sorted({f"tag{rng.randint(0, 9)}" for _ in range(3)})},
        "scores": {"NS": sorted({str(rng.randint(0, 1000)) for _ in range(3)} | {"3.14159265358979323846"})},
        "keys": {"BS": [b"\x00\x01", b"\xff", rng.randbytes(4)]},
        "active": {"BOOL": i % 2 == 0},
        "nothing": {"NULL": True},
        "address": {"M": {"city": {"S": "Zürich"}, "geo": {"M": {"lat": {"N": "47.3769"}, "lon": {"N": "8.5417"}}}}},
        "history": {"L": [{"S": "created"}, {"N": str(i)}, {"BOOL": True}, {"NULL": True},
                          {"M": {"at": {"S": "2024-01-01"}}}, {"L": [{"B": b"\x01"}]}, {"SS": ["x", "y"]}]},
        "empty_string": {"S": ""},
        "empty_binary": {"B": b""},
        "empty_map": {"M": {}},
        "empty_list": {"L": []},
        "deep": _nested(10, {"S": "bottom"}),
        "dotted.name": {"S": "dots are literal"},
        "with space": {"N": "42"},
        "ünïcödé_属性": {"S": "unicode name"},
        "Case": {"S": "upper"},
        "case": {"S": "lower"},
    }
    if i % 3 == 0:
        item["mixed"] = {"S": "sometimes a string"}
    elif i % 3 == 1:
        item["mixed"] = {"N": "7"}
    if payload_bytes:
        item["payload"] = {"B": rng.randbytes(payload_bytes)}
    return item


def sample_items(count: int, *, seed: int = 7, payload_bytes: int = 0) -> Iterator[Item]:
    """``count`` distinct items (keys ``customer#NNNNNN`` × sort key 0–3)."""
    rng = random.Random(seed)
    for i in range(count):
        yield sample_item(i, rng=random.Random(rng.random()), payload_bytes=payload_bytes)


def create_sample_table(client: Any, table: str, *, stream: bool = False, provisioned_wcu: int | None = None) -> None:
    """Create the sample table's schema (composite key pk S / sk N) and wait until it is active."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeySchema": SAMPLE_KEY_SCHEMA,
        "AttributeDefinitions": SAMPLE_ATTRIBUTE_DEFINITIONS,
    }
    if provisioned_wcu:
        kwargs["ProvisionedThroughput"] = {"ReadCapacityUnits": provisioned_wcu, "WriteCapacityUnits": provisioned_wcu}
    else:
        kwargs["BillingMode"] = "PAY_PER_REQUEST"
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    client.create_table(**kwargs)
    client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
