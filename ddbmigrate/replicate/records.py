"""One change of the source table, whatever carried it: a Lambda DynamoDB Streams event record or a
``GetRecords`` reply of the Streams API (a Kinesis Data Streams payload can join as one more reader).

Binary values are decoded exactly once: a Lambda event carries ``B``/``BS`` as base64 text (at any
depth, keys included), which :func:`from_lambda_record` decodes through the same checked parse as
an export line; ``GetRecords`` replies decoded by botocore stay as they are, and those a client
hands over as they came (:func:`read_wire_records`) are decoded like a Lambda event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from ddbmigrate.dynamodb import keep_list_as_json
from ddbmigrate.errors import ReplicationError
from ddbmigrate.values import Item, JsonItem, item_from_json, read_json_item

__all__ = [
    "NEW_IMAGE_VIEW_TYPES",
    "TTL_PRINCIPAL",
    "WIRE_RECORDS",
    "ChangeRecord",
    "Operation",
    "from_lambda_record",
    "from_stream_record",
    "read_wire_records",
]

Operation = Literal["INSERT", "MODIFY", "REMOVE"]

TTL_PRINCIPAL = "dynamodb.amazonaws.com"
"""``userIdentity.principalId`` of a delete made by Time to Live (``type`` is ``Service``)."""
NEW_IMAGE_VIEW_TYPES = frozenset({"NEW_IMAGE", "NEW_AND_OLD_IMAGES"})
"""Stream view types that carry the full new image a replay needs."""


@dataclass(frozen=True)
class ChangeRecord:
    """One stream record, in wire form (attribute values as the low-level client has them).

    ``position`` names the record in messages and dead letters: stream, shard and sequence number
    (never its contents). ``shard_id`` is None for Lambda events, which do not carry it.
    """

    stream_arn: str
    shard_id: str | None
    sequence_number: str
    operation: Operation
    keys: Item
    new_image: Item | None
    created: datetime
    """``ApproximateCreationDateTime`` (UTC). AWS gives the second; DynamoDB Local floors it to the minute."""
    view_type: str
    ttl_delete: bool = False
    image_size: int | None = field(default=None, compare=False)
    """(Not part of the change: how it was read.) The new image's item size when it was counted on the way in (records read as JSON)."""
    image_document: Mapping[str, Any] | None = field(default=None, compare=False)
    """The new image's DynamoDB JSON as it came, when it is exactly what the sink would encode (every
    binary in canonical base64): sent as it is, the image is not encoded a second time."""

    @property
    def sequence(self) -> int:
        """The sequence number as a number: Streams orders records of a shard by it (decimal digits)."""
        return int(self.sequence_number)

    @property
    def position(self) -> str:
        shard = f" shard {self.shard_id}" if self.shard_id else ""
        return f"stream {self.stream_arn}{shard} sequence {self.sequence_number}"


def from_lambda_record(record: Mapping[str, Any]) -> ChangeRecord:
    """A record of a Lambda DynamoDB Streams event (DynamoDB JSON: binaries as base64 text)."""
    stream = _required(record, "eventSourceARN", "event record")
    body = _required(record, "dynamodb", f"event record of {stream}")
    where = f"stream {stream} sequence {body.get('SequenceNumber')}"
    return _record(
        record, body, stream_arn=stream, shard_id=None,
        keys=item_from_json(_required(body, "Keys", where), where=f"{where} Keys"),
        new_image=_json_image(body, where), created=_epoch(body.get("ApproximateCreationDateTime"), where),
    )


def _json_image(body: Mapping[str, Any], where: str) -> JsonItem | None:
    """The ``NewImage`` of a record in DynamoDB JSON, decoded and sized in one walk (None: none)."""
    new_image = body.get("NewImage")
    return read_json_item(new_image, where=f"{where} NewImage") if new_image is not None else None


WIRE_RECORDS = "DdbMigrateWireRecords"
"""Set (True) in a ``GetRecords`` reply whose ``Records`` are the wire JSON (see :func:`read_wire_records`)."""


def read_wire_records(client: Any) -> bool:
    """Let a ``dynamodbstreams`` client hand ``GetRecords``' records over as JSON, unparsed by botocore
    (:func:`~ddbmigrate.dynamodb.keep_list_as_json`): botocore's parse made the poller read a shard
    slower than the target absorbed it. The records' wire JSON is the Lambda event's (binaries
    base64, times in epoch seconds), so :func:`from_stream_record` decodes it with the same checked
    parse. False for an object that is no botocore client.
    """
    return keep_list_as_json(client, "dynamodb-streams.GetRecords", "Records", WIRE_RECORDS)


def from_stream_record(record: Mapping[str, Any], *, stream_arn: str, shard_id: str, wire: bool = False) -> ChangeRecord:
    """A record of a ``GetRecords`` reply: decoded by botocore, or (``wire``) its JSON as it came."""
    body = _required(record, "dynamodb", f"record of {stream_arn} shard {shard_id}")
    where = f"stream {stream_arn} shard {shard_id} sequence {body.get('SequenceNumber')}"
    if wire:
        return _record(
            record, body, stream_arn=stream_arn, shard_id=shard_id,
            keys=item_from_json(_required(body, "Keys", where), where=f"{where} Keys"),
            new_image=_json_image(body, where), created=_epoch(body.get("ApproximateCreationDateTime"), where))
    created = body.get("ApproximateCreationDateTime")
    if not isinstance(created, datetime):
        created = _epoch(created, where)
    elif created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return _record(record, body, stream_arn=stream_arn, shard_id=shard_id, keys=dict(_required(body, "Keys", where)),
                   new_image=dict(body["NewImage"]) if body.get("NewImage") is not None else None,
                   created=created.astimezone(timezone.utc))


def _record(record: Mapping[str, Any], body: Mapping[str, Any], *, stream_arn: str, shard_id: str | None,
            keys: Item, new_image: Item | JsonItem | None, created: datetime) -> ChangeRecord:
    sequence = str(_required(body, "SequenceNumber", f"record of {stream_arn}"))
    where = f"stream {stream_arn} sequence {sequence}"
    view_type = str(body.get("StreamViewType") or "")
    operation, ttl = _operation(record, where)
    if operation != "REMOVE" and new_image is None:
        raise ReplicationError(
            f"{where}: a {operation} record without a new image (stream view type {view_type or 'unknown'}); "
            "replication writes full new images: enable the stream with NEW_IMAGE or NEW_AND_OLD_IMAGES")
    size = document = None
    if isinstance(new_image, JsonItem):
        size, document = new_image.size, body["NewImage"] if new_image.json_exact else None
        new_image = new_image.item
    if operation == "REMOVE":
        new_image = size = document = None
    return ChangeRecord(stream_arn=stream_arn, shard_id=shard_id, sequence_number=sequence, operation=operation,
                        keys=keys, new_image=new_image, created=created, view_type=view_type, ttl_delete=ttl,
                        image_size=size, image_document=document)


def _operation(record: Mapping[str, Any], where: str) -> tuple[Operation, bool]:
    """``eventName`` and whether a REMOVE was made by TTL (``userIdentity``, as AWS documents it).

    DynamoDB Local reports its TTL deletes with another ``eventName`` and no ``userIdentity``; that
    quirk is recognised by the local stack's adapter, never here (see ``replicate.local``).
    """
    name = record.get("eventName")
    if name not in ("INSERT", "MODIFY", "REMOVE"):
        raise ReplicationError(f"{where}: unknown eventName {name!r}; expected INSERT, MODIFY or REMOVE")
    identity = record.get("userIdentity") or {}
    ttl = name == "REMOVE" and identity.get("type") == "Service" and identity.get("principalId") == TTL_PRINCIPAL
    return name, ttl


def _required(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(mapping, Mapping) or mapping.get(key) is None:
        raise ReplicationError(f"{where}: {key} is missing; not a DynamoDB Streams record")
    return mapping[key]


def _epoch(value: Any, where: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError):
        raise ReplicationError(f"{where}: ApproximateCreationDateTime {value!r} is not a time") from None
