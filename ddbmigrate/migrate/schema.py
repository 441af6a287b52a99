"""The target table made from the source's description: what CreateTable accepts of it, and what
is applied only after the load (TTL, so expired items are copied as they are; tags, which
ImportTable's own request cannot carry for every case). Pure request building; the calls are in
:func:`create_target` and :func:`finish_target`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ddbmigrate.dynamodb import error_code
from ddbmigrate.errors import DdbMigrateError

__all__ = ["SourceSchema", "create_table_request", "create_target", "finish_target", "read_source_schema",
           "table_creation_parameters"]

_UNSUPPORTED = frozenset({"UnknownOperationException"})


@dataclass(frozen=True)
class SourceSchema:
    """What the target copies: DescribeTable's ``Table``, the TTL attribute and the tags.

    ``tags`` is None when the account cannot list them (DynamoDB Local answers
    UnknownOperationException): the report then says that tags were skipped.
    """

    table: Mapping[str, Any]
    ttl_attribute: str | None = None
    tags: tuple[Mapping[str, str], ...] | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def local_secondary_indexes(self) -> list[Mapping[str, Any]]:
        return list(self.table.get("LocalSecondaryIndexes") or ())


def read_source_schema(client: Any, table: str) -> SourceSchema:
    """DescribeTable, DescribeTimeToLive and ListTagsOfResource of the source."""
    description = client.describe_table(TableName=table)["Table"]
    ttl = client.describe_time_to_live(TableName=table).get("TimeToLiveDescription") or {}
    attribute = ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") else None
    tags: list[Mapping[str, str]] | None = []
    kwargs: dict[str, Any] = {"ResourceArn": description["TableArn"]}
    try:
        while True:
            page = client.list_tags_of_resource(**kwargs)
            tags += page.get("Tags") or []  # type: ignore[operator]
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    except ClientError as exc:
        if error_code(exc) not in _UNSUPPORTED:
            raise
        tags = None
    return SourceSchema(description, attribute, None if tags is None else tuple(tags))


def _index(index: Mapping[str, Any], *, on_demand: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"IndexName": index["IndexName"], "KeySchema": list(index["KeySchema"]),
                           "Projection": dict(index["Projection"])}
    throughput = index.get("ProvisionedThroughput") or {}
    if not on_demand and "WriteCapacityUnits" in throughput:
        out["ProvisionedThroughput"] = {"ReadCapacityUnits": throughput["ReadCapacityUnits"],
                                        "WriteCapacityUnits": throughput["WriteCapacityUnits"]}
    if index.get("OnDemandThroughput"):
        out["OnDemandThroughput"] = dict(index["OnDemandThroughput"])
    return out


def table_creation_parameters(schema: SourceSchema, *, with_lsis: bool = True) -> dict[str, Any]:
    """What CreateTable and ImportTable's ``TableCreationParameters`` share: keys, attributes,
    billing and capacities, GSIs (and, for CreateTable, LSIs) with their projections, SSE."""
    table = schema.table
    on_demand = (table.get("BillingModeSummary") or {}).get("BillingMode") == "PAY_PER_REQUEST"
    indexes = [*(table.get("GlobalSecondaryIndexes") or ()), *(schema.local_secondary_indexes if with_lsis else ())]
    used = {e["AttributeName"] for e in table["KeySchema"]}
    used |= {e["AttributeName"] for index in indexes for e in index["KeySchema"]}
    out: dict[str, Any] = {
        "KeySchema": [dict(e) for e in table["KeySchema"]],
        "AttributeDefinitions": [dict(d) for d in table["AttributeDefinitions"] if d["AttributeName"] in used],
        "BillingMode": "PAY_PER_REQUEST" if on_demand else "PROVISIONED",
    }
    if not on_demand:
        throughput = table.get("ProvisionedThroughput") or {}
        out["ProvisionedThroughput"] = {"ReadCapacityUnits": throughput["ReadCapacityUnits"],
                                        "WriteCapacityUnits": throughput["WriteCapacityUnits"]}
    if table.get("OnDemandThroughput"):
        out["OnDemandThroughput"] = dict(table["OnDemandThroughput"])
    if table.get("GlobalSecondaryIndexes"):
        out["GlobalSecondaryIndexes"] = [_index(i, on_demand=on_demand) for i in table["GlobalSecondaryIndexes"]]
    sse = table.get("SSEDescription") or {}
    if sse.get("Status") in ("ENABLED", "ENABLING") and sse.get("SSEType") == "KMS":
        # the source's key is in the other account: the target uses its own AWS-managed key (docs/migrate.md)
        out["SSESpecification"] = {"Enabled": True, "SSEType": "KMS"}
    return out


def create_table_request(schema: SourceSchema, name: str) -> dict[str, Any]:
    """The CreateTable request for the target: everything but TTL and tags (added after the load)."""
    request = {"TableName": name, **table_creation_parameters(schema)}
    if schema.local_secondary_indexes:
        request["LocalSecondaryIndexes"] = [
            {"IndexName": i["IndexName"], "KeySchema": list(i["KeySchema"]), "Projection": dict(i["Projection"])}
            for i in schema.local_secondary_indexes]
    table_class = (schema.table.get("TableClassSummary") or {}).get("TableClass")
    if table_class:
        request["TableClass"] = table_class
    if schema.table.get("DeletionProtectionEnabled"):
        request["DeletionProtectionEnabled"] = True
    return request


def create_target(client: Any, schema: SourceSchema, name: str, *, sleep: Callable[[float], None] = time.sleep,
                  timeout: float = 600.0) -> dict[str, Any]:
    """CreateTable (already there from a killed run: kept) and wait until ACTIVE; the request sent."""
    request = create_table_request(schema, name)
    try:
        client.create_table(**request)
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
    _wait_active(client, name, sleep=sleep, timeout=timeout)
    return request


def _wait_active(client: Any, name: str, *, sleep: Callable[[float], None], timeout: float) -> None:
    waited = 0.0
    while True:
        table = client.describe_table(TableName=name)["Table"]
        indexes = table.get("GlobalSecondaryIndexes") or ()
        if table.get("TableStatus") == "ACTIVE" and all(i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes):
            return
        if waited >= timeout:
            raise DdbMigrateError(f"target table {name!r} is still {table.get('TableStatus')} after {timeout:.0f}s; "
                                  "run again with --resume once it is ACTIVE")
        sleep(1.0)
        waited += 1.0


def finish_target(client: Any, schema: SourceSchema, name: str) -> list[str]:
    """After the load: the TTL attribute and the tags; returns what was done or skipped (for the report)."""
    done: list[str] = []
    if schema.ttl_attribute:
        current = client.describe_time_to_live(TableName=name).get("TimeToLiveDescription") or {}
        if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and current.get("AttributeName") == schema.ttl_attribute:
            done.append(f"TTL on {schema.ttl_attribute!r} already enabled")
        else:
            client.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "Enabled": True, "AttributeName": schema.ttl_attribute})
            done.append(f"TTL enabled on {schema.ttl_attribute!r} after the load (expired items were copied as they were)")
    if schema.tags is None:
        done.append("tags skipped: this DynamoDB endpoint has no tagging API (DynamoDB Local)")
    elif schema.tags:
        arn = client.describe_table(TableName=name)["Table"]["TableArn"]
        try:
            client.tag_resource(ResourceArn=arn, Tags=[dict(t) for t in schema.tags])
            done.append(f"{len(schema.tags)} tag(s) copied")
        except ClientError as exc:
            if error_code(exc) not in _UNSUPPORTED:
                raise
            done.append("tags skipped: this DynamoDB endpoint has no tagging API (DynamoDB Local)")
    return done
