"""``replicate enable-lambda``'s checks and its one UpdateEventSourceMapping call.

The Lambda API is botocore's Stubber on a real lambda client: no local component serves event
source mappings on a DynamoDB Local stream (moto's Lambda looks streams up in its own DynamoDB),
so the Stubber checks the request shapes against Lambda's service model instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ddbmigrate.errors import ReplicationError
from ddbmigrate.replicate.enable import EnableRequest, enable_replication_lambda

NOW = datetime(2025, 3, 1, 18, 0, tzinfo=timezone.utc)
STREAM = "arn:aws:dynamodb:eu-west-1:111122223333:table/Orders/stream/2025-03-01T11:00:00.000"
FUNCTION = "ddbmigrate-replication"
UUID = "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE"


@pytest.fixture
def lam() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("lambda", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def request(**changes: Any) -> EnableRequest:
    base = {"function_name": FUNCTION, "stream_arn": STREAM, "replay_from": NOW - timedelta(hours=5),
            "expected_items": 1000, "target_items": 1000, "target_table": "Orders"}
    return EnableRequest(**{**base, **changes})


def listed(stubber: Stubber, *mappings: dict[str, Any]) -> None:
    stubber.add_response("list_event_source_mappings", {"EventSourceMappings": list(mappings)},
                         {"FunctionName": FUNCTION, "EventSourceArn": STREAM})


def mapping(state: str = "Disabled", position: str = "TRIM_HORIZON", uuid: str = UUID) -> dict[str, Any]:
    return {"UUID": uuid, "State": state, "StartingPosition": position, "EventSourceArn": STREAM}


def test_a_finished_load_enables_the_disabled_mapping(lam) -> None:
    client, stubber = lam
    listed(stubber, mapping())
    stubber.add_response("update_event_source_mapping", {"UUID": UUID, "State": "Enabling"},
                         {"UUID": UUID, "Enabled": True})
    result = enable_replication_lambda(request(), lambda_client=client, now=NOW)
    assert (result.uuid, result.state, result.already_enabled) == (UUID, "Enabling", False)


def test_an_unfinished_load_is_refused_unless_forced(lam) -> None:
    client, stubber = lam
    listed(stubber, mapping())
    with pytest.raises(ReplicationError, match="holds 900 items, the export 1000: the bulk load must finish"):
        enable_replication_lambda(request(target_items=900), lambda_client=client, now=NOW)
    listed(stubber, mapping())
    stubber.add_response("update_event_source_mapping", {"UUID": UUID, "State": "Enabling"},
                         {"UUID": UUID, "Enabled": True})
    assert enable_replication_lambda(request(target_items=900, force=True), lambda_client=client, now=NOW).uuid == UUID


@pytest.mark.parametrize(("found", "changes", "message"), [
    ([], {}, "has no event source mapping on stream .*deploy replication/template.yaml"),
    ([mapping(), mapping(uuid="b1b2c3d4-5678-90ab-cdef-22222EXAMPLE")], {}, "has 2 event source mappings .*delete all but one"),
    ([mapping(position="LATEST")], {}, "starts at LATEST, not TRIM_HORIZON"),
    ([mapping(state="Updating")], {}, "is Updating, not Disabled"),
    ([mapping()], {"replay_from": NOW - timedelta(hours=23, minutes=30)}, "older than the stream's 24 h retention"),
    ([mapping()], {"expected_items": None}, "give the export .* or --force"),
])
def test_refusals_change_nothing(lam, found, changes, message) -> None:
    client, stubber = lam
    listed(stubber, *found)
    with pytest.raises(ReplicationError, match=message):
        enable_replication_lambda(request(**changes), lambda_client=client, now=NOW)


def test_an_enabled_mapping_is_left_as_it_is(lam) -> None:
    client, stubber = lam
    listed(stubber, mapping(state="Enabled"))
    assert enable_replication_lambda(request(target_items=0), lambda_client=client, now=NOW).already_enabled
