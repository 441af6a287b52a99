"""BatchWriteItem bodies built with ``json.dumps`` instead of botocore's shape walk — the same bytes.

botocore's per-value walk over the service model cost more CPU per item than reading and validating
the item (bench/README.md, "Measurements behind design choices"), and the DynamoDB JSON protocol's
body is plain JSON, so :func:`batch_write_body` builds it directly, in botocore's order and
spelling (the tests compare the bytes). :func:`use_prebuilt_bodies` hands it to botocore through
its ``before-parameter-build`` and ``before-call`` events; endpoint, signing, retries and parsing
stay botocore's, and a call without :data:`BODY_PARAM` is untouched. See docs/sink.md, "Batching".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ddbmigrate.values import item_to_json

__all__ = ["BODY_PARAM", "Document", "batch_write_body", "use_prebuilt_bodies"]

BODY_PARAM = "DdbMigratePrebuiltBody"
"""Call parameter carrying the prebuilt body from the writer to the event handlers (never sent)."""
_CONTEXT_KEY = "ddbmigrate_prebuilt_body"


Document = Mapping[str, Any] | str
"""An item's (or key's) DynamoDB JSON as a reader already holds it: the decoded object, or the JSON
text it was decoded from (an export line's ``Item``), which goes into the body without encoding it again."""


def batch_write_body(table: str, requests: Iterable[tuple[str, Mapping[str, Any], Document | None]],
                     return_consumed: str) -> bytes:
    """The body of ``BatchWriteItem(RequestItems={table: …}, ReturnConsumedCapacity=…)``.

    ``requests`` are ``("put", item, document)`` or ``("delete", key, document)`` in wire form; a
    ``document`` is the value's DynamoDB JSON when it is already at hand exactly as
    ``item_to_json`` would make it (:attr:`~ddbmigrate.values.JsonItem.json_exact`), else None.
    Without JSON text among the documents the bytes are botocore's own; with it, the same JSON
    value (the text keeps its own spacing and escapes).
    """
    requests = list(requests)
    if not any(isinstance(document, str) for _, _, document in requests):
        entries = [_entry(kind, body, document) for kind, body, document in requests]
        return json.dumps({"RequestItems": {table: entries}, "ReturnConsumedCapacity": return_consumed}).encode("utf-8")
    texts = ", ".join(_entry_text(kind, body, document) for kind, body, document in requests)
    return (f'{{"RequestItems": {{{json.dumps(table)}: [{texts}]}}, '
            f'"ReturnConsumedCapacity": {json.dumps(return_consumed)}}}').encode()


def _entry(kind: str, body: Mapping[str, Any], document: Any) -> dict[str, Any]:
    if kind == "put":
        return {"PutRequest": {"Item": document or item_to_json(body)}}
    return {"DeleteRequest": {"Key": document or item_to_json(body)}}


def _entry_text(kind: str, body: Mapping[str, Any], document: Document | None) -> str:
    """One entry as ``json.dumps`` spells it inside the body, JSON text embedded as it is."""
    if isinstance(document, str):
        return ('{"PutRequest": {"Item": ' if kind == "put" else '{"DeleteRequest": {"Key": ') + document + "}}"
    return json.dumps(_entry(kind, body, document))


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
