"""DynamoDB Local's stream quirks, corrected where the poller reads a record — never taken for AWS.

Measured against DynamoDB Local 3.3.0 (the local stack):

* a Time to Live delete arrives with ``eventName`` ``UNKNOWN_TO_SDK_VERSION`` (its Java SDK's
  name for an enum value it cannot map), an ``OldImage``, no ``NewImage`` and no ``userIdentity``;
  AWS sends ``REMOVE`` with ``userIdentity`` ``{"type": "Service", "principalId":
  "dynamodb.amazonaws.com"}``. :func:`adapt_dynamodb_local` rewrites it to AWS's form, so the
  TTL policy applies to it exactly as on AWS; :mod:`.records` keeps refusing unknown names.
* an empty map comes as ``{}`` — a value without its ``M`` tag, at any depth of an image; AWS
  sends ``{"M": {}}``. The adapter puts the tag back (a value without a tag can be nothing else).
* ``ApproximateCreationDateTime`` is floored to the minute (AWS: the second); the cut-off margin
  (default 5 minutes) covers it, nothing here changes it.
* ``GetShardIterator`` with ``AT_TIMESTAMP`` answers HTTP 500; the poller never uses it.

The adapter runs only when the caller says it talks to DynamoDB Local (``quirks="dynamodb-local"``);
:func:`is_dynamodb_local_stream` recognises a stream of DynamoDB Local by its ARN's region and account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from ddbmigrate.replicate.records import TTL_PRINCIPAL

__all__ = ["QUIRKS", "Quirks", "adapt_dynamodb_local", "is_dynamodb_local_stream"]

Quirks = Literal["none", "dynamodb-local"]
QUIRKS: tuple[Quirks, ...] = ("none", "dynamodb-local")

_LOCAL_TTL_EVENT_NAME = "UNKNOWN_TO_SDK_VERSION"
_LOCAL_REGION, _LOCAL_ACCOUNT = "ddblocal", "000000000000"


def adapt_dynamodb_local(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """A ``GetRecords`` record of DynamoDB Local as AWS would send it (other records unchanged)."""
    body = record.get("dynamodb") or {}
    if isinstance(body.get("NewImage"), Mapping):
        body = {**body, "NewImage": {name: _tagged(value) for name, value in body["NewImage"].items()}}
        record = {**record, "dynamodb": body}
    if (record.get("eventName") == _LOCAL_TTL_EVENT_NAME and "userIdentity" not in record
            and body.get("NewImage") is None and body.get("Keys") is not None):
        return {**record, "eventName": "REMOVE", "userIdentity": {"type": "Service", "principalId": TTL_PRINCIPAL}}
    return record


def _tagged(value: Any) -> Any:
    """``value`` with every untagged empty map (``{}``) given its ``M`` tag back.

    Every attribute of every image passes here, so the common case (a scalar or set tag) returns
    after two lookups; records arrive as plain dicts (JSON or botocore's parse)."""
    if value.__class__ is not dict:
        return value
    if not value:
        return {"M": {}}
    if len(value) == 1:
        payload = value.get("M")
        if payload.__class__ is dict:
            return {"M": {name: _tagged(v) for name, v in payload.items()}}
        payload = value.get("L")
        if payload.__class__ is list:
            return {"L": [_tagged(v) for v in payload]}
    return value


def is_dynamodb_local_stream(stream_arn: str) -> bool:
    """True for DynamoDB Local's stream ARNs (``arn:aws:dynamodb:ddblocal:000000000000:…``)."""
    parts = stream_arn.split(":")
    return len(parts) > 5 and parts[3] == _LOCAL_REGION and parts[4] == _LOCAL_ACCOUNT
