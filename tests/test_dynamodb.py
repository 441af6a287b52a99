"""The DynamoDB layer: client, error classes, retry policy and table description.

Descriptions are read from DynamoDB Local (the target account of the local stack). The error
classes are checked on botocore's own exception objects built by hand — data, not mocks: no local
component throttles on demand, and the fault proxy's answers are covered in test_sink/test_source.
"""

from __future__ import annotations

import contextlib
import random
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    IncompleteReadError,
    ParamValidationError,
    ReadTimeoutError,
)

from ddbmigrate.accounts import Account
from ddbmigrate.dynamodb import (
    ErrorClass,
    RetryPolicy,
    TableDescription,
    classify,
    describe_table,
    dynamodb_client,
    error_code,
)
from ddbmigrate.errors import ConfigError
from ddbmigrate.sample import SAMPLE_KEY_SCHEMA, create_sample_table, sample_items
from ddbmigrate.source import SCAN_RETRY_POLICY

# --------------------------------------------------------------------------- errors


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Scan")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_client_error("ProvisionedThroughputExceededException", 400), ErrorClass.THROTTLED),
        (_client_error("ThrottlingException", 400), ErrorClass.THROTTLED),
        (_client_error("RequestLimitExceeded", 400), ErrorClass.THROTTLED),
        (_client_error("InternalServerError", 500), ErrorClass.SERVER),
        (_client_error("ServiceUnavailable", 503), ErrorClass.SERVER),
        (_client_error("Whatever", 502), ErrorClass.SERVER),
        (_client_error("TransactionConflictException", 400), ErrorClass.SERVER),
        (_client_error("ValidationException", 400), ErrorClass.INVALID),
        (_client_error("ResourceNotFoundException", 400), ErrorClass.FATAL),
        (_client_error("AccessDeniedException", 400), ErrorClass.FATAL),
        (ConnectionClosedError(endpoint_url="http://x"), ErrorClass.CONNECTION),
        (EndpointConnectionError(endpoint_url="http://x"), ErrorClass.CONNECTION),
        (ReadTimeoutError(endpoint_url="http://x"), ErrorClass.CONNECTION),
        (IncompleteReadError(actual_bytes=1, expected_bytes=2), ErrorClass.CONNECTION),
        (ParamValidationError(report="bad"), ErrorClass.INVALID),
        (RuntimeError("bug"), ErrorClass.FATAL),
    ],
)
def test_errors_are_classified(exc: Exception, expected: ErrorClass) -> None:
    assert classify(exc) is expected
    assert classify(exc).retryable is (expected in (ErrorClass.THROTTLED, ErrorClass.SERVER, ErrorClass.CONNECTION))


def test_error_code_is_dynamodbs_or_the_exception_class() -> None:
    assert error_code(_client_error("ThrottlingException", 400)) == "ThrottlingException"
    assert error_code(ConnectionClosedError(endpoint_url="http://x")) == "ConnectionClosedError"


# --------------------------------------------------------------------------- retry policy


def test_backoff_is_full_jitter_exponential_and_capped() -> None:
    policy = RetryPolicy(max_retries=3, base_delay=0.1, max_delay=1.0)
    assert [policy.delay(n, lambda: 1.0) for n in range(6)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert policy.delay(3, lambda: 0.25) == pytest.approx(0.2)
    assert policy.delay(500, lambda: 1.0) == 1.0  # no overflow after very long runs
    assert [policy.delay(n, lambda: 0.0) for n in range(3)] == [0.0, 0.0, 0.0]
    assert not policy.exhausted(3) and policy.exhausted(4)


def test_backoff_stays_within_its_bounds_with_a_seeded_random() -> None:
    policy, rng = RetryPolicy(), random.Random(7)
    for retry in range(40):
        ceiling = min(policy.max_delay, policy.base_delay * 2**retry)
        assert 0.0 <= policy.delay(retry, rng.random) < ceiling


def test_each_side_keeps_its_default() -> None:
    # The sink: Glue's dynamodb.output.retry (10 retries without progress); a Scan page: 10 attempts.
    assert RetryPolicy() == RetryPolicy(max_retries=10, base_delay=0.05, max_delay=20.0)
    assert SCAN_RETRY_POLICY.max_retries + 1 == 10


# --------------------------------------------------------------------------- client


@pytest.mark.integration
def test_the_client_knobs_reach_botocore(target: Account) -> None:
    default = dynamodb_client(target)
    own = dynamodb_client(target, botocore_retries=False, parameter_validation=False, max_pool_connections=4)
    assert default.meta.config.retries["mode"] == "adaptive" and default.meta.config.parameter_validation
    assert (own.meta.config.retries["total_max_attempts"], own.meta.config.max_pool_connections) == (1, 4)
    # a wrongly typed parameter: the validating client refuses it before sending, the other sends it
    wrong = {"no-such-table": [{"PutRequest": {"Item": {"pk": {"S": 1}}}}]}
    with pytest.raises(ParamValidationError):
        default.batch_write_item(RequestItems=wrong)
    with contextlib.suppress(ClientError):  # whatever DynamoDB Local makes of it, botocore let it through
        own.batch_write_item(RequestItems=wrong)


# --------------------------------------------------------------------------- describe_table


@pytest.mark.integration
def test_describe_a_provisioned_table_with_a_stream(target: Account, target_ddb: Any, unique_name: Any) -> None:
    table = unique_name("describe-prov")
    create_sample_table(target_ddb, table, stream=True, provisioned_wcu=7)
    target_ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}} for i in sample_items(3)]})
    info = describe_table(target, table, option="--target-table")
    assert (info.name, info.key_names, info.attribute_types) == (table, ("pk", "sk"), {"pk": "S", "sk": "N"})
    assert info.key_schema == tuple(SAMPLE_KEY_SCHEMA)
    assert (info.billing_mode, info.on_demand) == ("PROVISIONED", False)
    assert (info.provisioned_read_units, info.provisioned_write_units, info.read_capacity, info.write_capacity) == (7, 7, 7, 7)
    assert info.item_count == 3 and info.size_bytes > 0
    assert info.arn.endswith(f":table/{table}")
    assert info.stream_view_type == "NEW_AND_OLD_IMAGES" and info.stream_arn
    assert info.with_capacity(write=500).write_capacity == 500 and info.with_capacity(write=500).read_capacity == 7


@pytest.mark.integration
def test_describe_an_on_demand_table(target: Account, target_ddb: Any, unique_name: Any) -> None:
    table = unique_name("describe-od")
    create_sample_table(target_ddb, table)
    info = describe_table(target_ddb, table)  # a client is enough where no account is at hand
    assert (info.billing_mode, info.on_demand, info.write_capacity, info.read_capacity) == ("PAY_PER_REQUEST", True, 40_000, 40_000)
    assert (info.item_count, info.stream_view_type) == (0, None)
    assert info == TableDescription.from_response(target_ddb.describe_table(TableName=table))
    with pytest.raises(ConfigError, match="capacity override must be a positive number"):
        info.with_capacity(read=0)


@pytest.mark.integration
def test_a_missing_table_is_one_error_naming_table_account_and_option(target: Account, target_ddb: Any) -> None:
    with pytest.raises(ConfigError, match=r"^--target-table: table 'no-such-table' not found in target \(profile=target"):
        describe_table(target, "no-such-table", option="--target-table")
    with pytest.raises(ConfigError, match=r"^--table: table 'no-such-table' not found in the account at http://"):
        describe_table(target_ddb, "no-such-table")


@pytest.mark.integration
def test_an_unreachable_endpoint_names_the_option_and_account(target: Account) -> None:
    nowhere = target.with_(endpoint_url="http://127.0.0.1:9", label="target")
    client = dynamodb_client(nowhere, botocore_retries=False)
    with pytest.raises(ConfigError, match=r"^--target-table: cannot reach DynamoDB for target \(profile=target.*EndpointConnectionError"):
        describe_table(nowhere, "t", option="--target-table", client=client)
