"""Turn on the replication Lambda's event source mapping once it is safe — checks first, then one call.

replication/template.yaml creates the mapping disabled at TRIM_HORIZON: replay must not write before
the bulk load has finished (an export image written after a newer streamed image would overwrite
it for good). :func:`enable_replication_lambda` refuses, with one error saying what to do, when
the target holds fewer items than the export (unless forced: DynamoDB refreshes ``ItemCount``
only about every six hours), when the mapping is not disabled at TRIM_HORIZON, or when the cut-off
is already close to leaving the stream's 24 h window; then it calls ``UpdateEventSourceMapping``
with ``Enabled=true``. Enabling a mapping that is already enabled changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ddbmigrate.errors import ReplicationError
from ddbmigrate.replicate.poller import check_retention

__all__ = ["EnableRequest", "EnableResult", "enable_replication_lambda", "find_event_source_mapping"]


@dataclass(frozen=True)
class EnableRequest:
    """Which mapping (function name + stream ARN), from when (``replay_from``: cut-off minus margin),
    and how many items the bulk load must have written (``expected_items``; None with ``force``)."""

    function_name: str
    stream_arn: str
    replay_from: datetime
    expected_items: int | None
    target_items: int
    target_table: str
    force: bool = False


@dataclass(frozen=True)
class EnableResult:
    uuid: str
    state: str
    already_enabled: bool = False


def find_event_source_mapping(lambda_client: Any, function_name: str, stream_arn: str) -> Mapping[str, Any]:
    """The one event source mapping of ``function_name`` on ``stream_arn`` (ListEventSourceMappings pages)."""
    found: list[Mapping[str, Any]] = []
    kwargs: dict[str, Any] = {"FunctionName": function_name, "EventSourceArn": stream_arn}
    while True:
        page = lambda_client.list_event_source_mappings(**kwargs)
        found += page.get("EventSourceMappings", [])
        if not page.get("NextMarker"):
            break
        kwargs["Marker"] = page["NextMarker"]
    if not found:
        raise ReplicationError(
            f"function {function_name} has no event source mapping on stream {stream_arn}: deploy "
            "replication/template.yaml with SourceStreamArn set to this stream (docs/replication.md)")
    if len(found) > 1:
        raise ReplicationError(
            f"function {function_name} has {len(found)} event source mappings on stream {stream_arn} "
            f"({', '.join(m['UUID'] for m in found)}); two would apply every change twice: delete all but one")
    return found[0]


def enable_replication_lambda(request: EnableRequest, *, lambda_client: Any, now: datetime) -> EnableResult:
    """Check, then enable. Each refusal is one :class:`ReplicationError` and nothing is changed."""
    mapping = find_event_source_mapping(lambda_client, request.function_name, request.stream_arn)
    uuid, state = mapping["UUID"], mapping.get("State", "")
    where = f"event source mapping {uuid} of {request.function_name}"
    if state in ("Enabled", "Enabling"):
        return EnableResult(uuid, state, already_enabled=True)
    if state != "Disabled":
        raise ReplicationError(f"{where} is {state or 'in an unknown state'}, not Disabled: wait until it settles "
                               "and run this again")
    if mapping.get("StartingPosition") != "TRIM_HORIZON":
        raise ReplicationError(
            f"{where} starts at {mapping.get('StartingPosition')}, not TRIM_HORIZON: it would skip every change "
            "since the export; delete it and deploy replication/template.yaml again (it creates it at TRIM_HORIZON)")
    check_retention(request.replay_from, now, stream_arn=request.stream_arn)
    if not request.force:
        if request.expected_items is None:
            raise ReplicationError("give the export (its item count shows the bulk load has finished), or --force")
        if request.target_items < request.expected_items:
            raise ReplicationError(
                f"target table {request.target_table} holds {request.target_items} items, the export "
                f"{request.expected_items}: the bulk load must finish before replay writes (an export image "
                "written after a newer streamed one would overwrite it). DynamoDB refreshes ItemCount about every "
                "six hours: if the load has finished, wait, or check with 'ddbmigrate verify' and pass --force")
    reply = lambda_client.update_event_source_mapping(UUID=uuid, Enabled=True)
    return EnableResult(uuid, reply.get("State", "Enabling"))
