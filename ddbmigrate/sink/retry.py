"""What a failed BatchWriteItem call means, and how long to wait before trying again.

Every exception from a call falls in one class (:func:`classify`):

=================  ===================================================  ==============================
class              errors                                               the sink
=================  ===================================================  ==============================
``THROTTLED``      ProvisionedThroughputExceededException,              back off, retry; the units
                   ThrottlingException, RequestLimitExceeded, …         are given back to the bucket
``SERVER``         any HTTP 5xx (InternalServerError,                   back off, retry; the units are
                   ServiceUnavailable…), TransactionConflictException   kept (it may have been written)
``CONNECTION``     connection refused/closed/reset, timeouts,           back off, retry; the units are
                   truncated or corrupt responses                       kept (it may have been written)
``INVALID``        ValidationException, ItemCollectionSizeLimit…,       split the batch to find the
                   client-side parameter validation                     item, dead-letter it
``FATAL``          anything else (no table, access denied, bad          stop: dead-letter what is in
                   credentials…): retrying cannot help                  hand as unwritten, raise
=================  ===================================================  ==============================

Retrying a write that may already have happened is harmless: puts overwrite the whole item and
deletes of a deleted key are no-ops, so every request the sink sends is idempotent.

Backoff is exponential with *full jitter*: attempt ``n`` (0-based) waits a uniform random time in
``[0, min(max_backoff, base_backoff × 2ⁿ))`` — spreading retries of many tasks apart instead of
letting them return in lock-step.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

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

__all__ = ["ErrorClass", "RetryPolicy", "classify", "error_code"]


class ErrorClass(enum.Enum):
    THROTTLED = "throttled"
    SERVER = "server error"
    CONNECTION = "connection error"
    INVALID = "invalid request"
    FATAL = "fatal"


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
    """Which :class:`ErrorClass` an exception raised by ``batch_write_item`` belongs to."""
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


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` attempts without progress; full-jitter backoff between ``base`` and ``cap``."""

    max_retries: int = 10
    base_backoff: float = 0.05
    max_backoff: float = 20.0

    def delay(self, attempt: int, random: Callable[[], float]) -> float:
        """Seconds to wait before retry ``attempt`` (0-based)."""
        ceiling = min(self.max_backoff, self.base_backoff * (2 ** min(attempt, 62)))
        return random() * ceiling

    def exhausted(self, stalled: int) -> bool:
        """True once ``stalled`` consecutive attempts made no progress beyond the allowed retries."""
        return stalled > self.max_retries
