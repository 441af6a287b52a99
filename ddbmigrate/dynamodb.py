"""The one DynamoDB layer the reader, the sink, verify, export and the CLI share.

It owns four facts that used to be written once per caller: how a client is built
(:func:`dynamodb_client`), which failures a later attempt may get past (:func:`classify`: throttled,
server and connection failures are retried; invalid requests and everything else are not), how
patiently to retry (:class:`RetryPolicy`) and what DescribeTable says (:func:`describe_table`).
Callers that retry themselves switch botocore's retries off so every wait is injected and counted.
The classification table: docs/sink.md, "Retries".
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ChecksumError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    ParamValidationError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError

from ddbmigrate.accounts import Account, client_config
from ddbmigrate.capacity import table_read_capacity, table_write_capacity, validate_capacity
from ddbmigrate.errors import ConfigError
from ddbmigrate.values import key_attribute_types

__all__ = [
    "ErrorClass",
    "RetryPolicy",
    "TableDescription",
    "classify",
    "describe_table",
    "dynamodb_client",
    "error_code",
    "keep_list_as_json",
]

_NO_BOTOCORE_RETRIES = {"total_max_attempts": 1, "mode": "standard"}


def dynamodb_client(
    account: Account,
    *,
    botocore_retries: bool = True,
    parameter_validation: bool = True,
    max_pool_connections: int = 32,
) -> Any:
    """A DynamoDB client for ``account``.

    ``botocore_retries=False`` for callers that retry with a :class:`RetryPolicy` themselves (botocore
    would otherwise retry invisibly first, doubling the backoff and hiding throttles from the counts).
    ``parameter_validation=False`` only for callers that validate every request already (the sink:
    botocore's second walk over each item was about a third of its CPU).
    """
    config = client_config(
        max_pool_connections=max_pool_connections,
        retries=None if botocore_retries else dict(_NO_BOTOCORE_RETRIES),
        parameter_validation=parameter_validation,
    )
    return account.client("dynamodb", config=config)


def keep_list_as_json(client: Any, operation: str, member: str, marker: str) -> bool:
    """Let ``client`` hand the list ``member`` of ``operation``'s replies over as the JSON that came,
    unparsed by botocore, with ``marker`` set (True) in the reply; False for an object that is no
    botocore client. ``operation`` is botocore's event name, e.g. ``"dynamodb.Scan"``.

    botocore's parse walks the service model for every attribute value: 85 % of a GetRecords call's
    time against DynamoDB Local (bench/README.md). The items' wire JSON is then read by our checked
    parse (:func:`~ddbmigrate.values.read_json_item`), which sizes them on the way and keeps their
    JSON for the writer; the rest of the reply, errors, retries and signing stay botocore's.
    """
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is None:
        return False
    events.register_last(f"before-parse.{operation}", _JsonListKeeper(member, marker),
                         unique_id=f"ddbmigrate-wire-{operation}-{member}")
    return True


@dataclass(frozen=True)
class _JsonListKeeper:
    member: str
    marker: str

    def __call__(self, response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
        if response_dict.get("status_code") != 200:
            return  # errors are botocore's to parse
        reply = json.loads(response_dict["body"])
        if not isinstance(reply, dict) or not isinstance(reply.get(self.member), list):
            return
        customized_response_dict[self.member] = reply.pop(self.member)
        customized_response_dict[self.marker] = True
        response_dict["body"] = json.dumps(reply).encode("utf-8")  # what botocore still parses (keys, capacity)


# --------------------------------------------------------------------------- errors


class ErrorClass(enum.Enum):
    """What a failed call means for the caller (see the module docstring's table)."""

    THROTTLED = "throttled"
    SERVER = "server error"
    CONNECTION = "connection error"
    INVALID = "invalid request"
    FATAL = "fatal"

    @property
    def retryable(self) -> bool:
        """True when a later attempt of the same request may succeed."""
        return self in (ErrorClass.THROTTLED, ErrorClass.SERVER, ErrorClass.CONNECTION)


_THROTTLE_CODES = frozenset({
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "TooManyRequestsException",
})
_SERVER_CODES = frozenset({"InternalServerError", "InternalFailure", "ServiceUnavailable", "TransactionConflictException"})
_INVALID_CODES = frozenset({"ValidationException", "ItemCollectionSizeLimitExceededException", "SerializationException"})
_TRANSPORT = (BotoConnectionError, HTTPClientError, IncompleteReadError, ChecksumError, ResponseParserError)


def error_code(exc: BaseException) -> str:
    """DynamoDB's error code for a ClientError, else the exception's class name."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "ClientError")
    return type(exc).__name__


def classify(exc: BaseException) -> ErrorClass:
    """Which :class:`ErrorClass` an exception raised by a DynamoDB call belongs to."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _THROTTLE_CODES:
            return ErrorClass.THROTTLED
        if code in _SERVER_CODES or status >= 500:
            return ErrorClass.SERVER
        if code in _INVALID_CODES:
            return ErrorClass.INVALID
        return ErrorClass.FATAL
    if isinstance(exc, ParamValidationError):
        return ErrorClass.INVALID
    if isinstance(exc, _TRANSPORT):
        return ErrorClass.CONNECTION
    if isinstance(exc, (BotoCoreError, OSError)):
        return ErrorClass.CONNECTION if isinstance(exc, (ConnectionError, TimeoutError)) else ErrorClass.FATAL
    return ErrorClass.FATAL


# --------------------------------------------------------------------------- retries


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``max_retries`` retries in a row without progress, with full-jitter backoff.

    Retry ``n`` (0-based) waits a uniform random time in ``[0, min(max_delay, base_delay × 2ⁿ))``,
    which spreads the retries of many tasks apart instead of returning them in lock-step. For the
    sink "without progress" matters (any request accepted resets the count; Glue's
    ``dynamodb.output.retry``); a Scan page either arrives or not, so there it is retries per page.
    """

    max_retries: int = 10
    base_delay: float = 0.05
    max_delay: float = 20.0

    def delay(self, retry: int, random: Callable[[], float]) -> float:
        """Seconds to wait before retry ``retry`` (0-based); ``random`` gives a float in [0, 1)."""
        return random() * min(self.max_delay, self.base_delay * (2 ** min(retry, 62)))

    def exhausted(self, failures: int) -> bool:
        """True once ``failures`` failed attempts in a row leave no retry."""
        return failures > self.max_retries


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class TableDescription:
    """What any caller needs from DescribeTable (frozen and picklable: Spark ships it to executors).

    ``read_capacity``/``write_capacity`` are the units to budget against by Glue's rules
    (:mod:`ddbmigrate.capacity`: provisioned units, else the on-demand maximum, else 40,000); a
    caller with the user's absolute figure applies it with :meth:`with_capacity`.
    """

    name: str
    key_schema: tuple[Mapping[str, str], ...]
    """``({"AttributeName": …, "KeyType": "HASH"}, …)`` as DynamoDB gives it (partition key first)."""
    attribute_types: Mapping[str, str]
    """Key attribute name → ``"S"``, ``"N"`` or ``"B"``."""
    write_capacity: int
    read_capacity: int = 0
    billing_mode: str = "PROVISIONED"
    provisioned_read_units: int = 0
    provisioned_write_units: int = 0
    item_count: int = 0
    size_bytes: int = 0
    """``ItemCount`` and ``TableSizeBytes``: refreshed by DynamoDB about every six hours."""
    arn: str = ""
    table_id: str = ""
    """``TableId`` (absent on DynamoDB Local)."""
    created: datetime | None = None
    stream_view_type: str | None = None
    """The stream's view type when a stream is enabled, else None."""
    stream_arn: str | None = None

    @classmethod
    def from_response(cls, response: Mapping[str, Any]) -> TableDescription:
        """From a DescribeTable response (or its ``Table``) — pure, for callers that already have one."""
        table = response.get("Table", response)
        schema = tuple({"AttributeName": e["AttributeName"], "KeyType": e["KeyType"]}
                       for e in sorted(table.get("KeySchema", ()), key=lambda e: e["KeyType"] != "HASH"))
        keys = {e["AttributeName"] for e in schema}
        types = key_attribute_types(table.get("AttributeDefinitions", ()))
        provisioned = table.get("ProvisionedThroughput") or {}
        stream = table.get("StreamSpecification") or {}
        return cls(
            name=str(table.get("TableName", "")),
            key_schema=schema,
            attribute_types={k: v for k, v in types.items() if k in keys},
            write_capacity=table_write_capacity(table),
            read_capacity=table_read_capacity(table),
            billing_mode=(table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"),
            provisioned_read_units=int(provisioned.get("ReadCapacityUnits") or 0),
            provisioned_write_units=int(provisioned.get("WriteCapacityUnits") or 0),
            item_count=int(table.get("ItemCount") or 0),
            size_bytes=int(table.get("TableSizeBytes") or 0),
            arn=str(table.get("TableArn", "")),
            table_id=str(table.get("TableId") or ""),
            created=table.get("CreationDateTime"),
            stream_view_type=stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
            stream_arn=table.get("LatestStreamArn"),
        )

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(e["AttributeName"] for e in self.key_schema)

    @property
    def on_demand(self) -> bool:
        return self.billing_mode == "PAY_PER_REQUEST"

    def with_capacity(self, *, read: int | None = None, write: int | None = None) -> TableDescription:
        """The same table budgeted against the user's absolute RCU/WCU instead (None keeps the table's)."""
        return replace(
            self,
            read_capacity=self.read_capacity if read is None else validate_capacity(read),
            write_capacity=self.write_capacity if write is None else validate_capacity(write),
        )


def describe_table(where: Account | Any, table: str, *, option: str = "--table", client: Any = None) -> TableDescription:
    """DescribeTable (name or ARN) → :class:`TableDescription`.

    ``where`` is the account (or, for callers that only hold one, a DynamoDB client); ``client``
    overrides the account's default client. Every failure is a :class:`ConfigError` naming
    ``option``, the table and the account, since the fix is in the command line or profile.
    """
    if isinstance(where, Account):
        account = where.describe()
        client = client if client is not None else dynamodb_client(where)
    else:
        client = where
        meta = getattr(client, "meta", None)
        account = f"the account at {getattr(meta, 'endpoint_url', '?')} (region={getattr(meta, 'region_name', '?')})"
    try:
        response = client.describe_table(TableName=table)
    except ClientError as exc:
        code = error_code(exc)
        if code == "ResourceNotFoundException":
            raise ConfigError(f"{option}: table {table!r} not found in {account}; check the name, profile and region") from None
        raise ConfigError(f"{option}: DescribeTable {table!r} failed in {account} ({code})") from None
    except BotoCoreError as exc:
        raise ConfigError(f"{option}: cannot reach DynamoDB for {account} ({type(exc).__name__})") from None
    return TableDescription.from_response(response)
