"""BatchWriteItem bodies built with ``json.dumps`` instead of botocore's shape walk — the same bytes.

botocore serialises a request by walking DynamoDB's service model for every attribute value of
every item; for the sample items that is about 180 µs of CPU per item, more than reading and
validating the item took. The DynamoDB JSON protocol's body is plain JSON whose attribute values
are DynamoDB JSON (binaries as base64), so :func:`batch_write_body` builds it directly, in the
order and spelling botocore uses (the tests compare the bytes).

The body reaches botocore through two of its documented client events, registered by
:func:`use_prebuilt_bodies`:

* ``before-parameter-build``: the body is taken out of the call's parameters (where the writer put
  it as :data:`BODY_PARAM`) into the request context, and botocore is left one request per table
  to serialise (the table names stay: endpoint rules read them);
* ``before-call``: the body replaces botocore's, before the request is signed and sent.

Everything else — endpoint, signing, retries, parsing the answer and its ``UnprocessedItems`` —
is botocore's own. A call without :data:`BODY_PARAM` is untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ddbmigrate.values import item_to_json

__all__ = ["BODY_PARAM", "batch_write_body", "use_prebuilt_bodies"]

BODY_PARAM = "DdbMigratePrebuiltBody"
"""Call parameter carrying the prebuilt body from the writer to the event handlers (never sent)."""
_CONTEXT_KEY = "ddbmigrate_prebuilt_body"


def batch_write_body(table: str, requests: Iterable[tuple[str, Mapping[str, Any], Mapping[str, Any] | None]],
                     return_consumed: str) -> bytes:
    """The body of ``BatchWriteItem(RequestItems={table: …}, ReturnConsumedCapacity=…)``.

    ``requests`` are ``("put", item, document)`` or ``("delete", key, document)`` in wire form; a
    ``document`` is the value's DynamoDB JSON when it is already at hand exactly as
    ``item_to_json`` would make it (:attr:`~ddbmigrate.values.JsonItem.json_exact`), else None.
    """
    entries = [{"PutRequest": {"Item": document or item_to_json(body)}} if kind == "put"
               else {"DeleteRequest": {"Key": document or item_to_json(body)}}
               for kind, body, document in requests]
    return json.dumps({"RequestItems": {table: entries}, "ReturnConsumedCapacity": return_consumed}).encode("utf-8")


def use_prebuilt_bodies(client: Any) -> bool:
    """Let ``client`` send prebuilt ``BatchWriteItem`` bodies; False for an object that is no botocore client."""
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is None:
        return False
    events.register_last("before-parameter-build.dynamodb.BatchWriteItem", _take_body, unique_id="ddbmigrate-take-body")
    events.register_last("before-call.dynamodb.BatchWriteItem", _put_body, unique_id="ddbmigrate-put-body")
    return True


def _take_body(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    body = params.pop(BODY_PARAM, None)
    if body is not None:
        context[_CONTEXT_KEY] = body
        # botocore still serialises (and, if enabled, validates) the parameters: one request per table
        # keeps them valid at a 25th of the cost; the body that is sent is the prebuilt one.
        params["RequestItems"] = {table: entries[:1] for table, entries in (params.get("RequestItems") or {}).items()}


def _put_body(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    body = context.pop(_CONTEXT_KEY, None)
    if body is not None:
        params["body"] = body
