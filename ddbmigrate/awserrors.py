"""botocore failures a user can cause → one of our errors, with one line that says what to fix.

Library code keeps seeing botocore's own exceptions (its retries catch them by type and code);
only the edges — the CLI and the local job runner — call :func:`aws_error`. To name the account,
profile, region and resource, :func:`annotate_client` (installed by ``Account.client``) wraps the
client's one call path: a call that raises gets an :class:`AwsCall` attached to the *same*
exception object, which is then re-raised. A call that succeeds pays one extra Python frame.

A library error raised while handling a botocore failure and written for the case
(``describe_table``'s "table not found", the export reader's "no export here") keeps its message,
which names the option or file; when its class is a generic one (:data:`GENERIC_CLASSES`) it takes
the AWS class and exit code. One that only relays AWS's error code ("failed (AccessDeniedException)")
is replaced by the AWS error, and so is any *account* failure (credentials, region, connection):
the fix is in the profile, not in the option.

Messages never hold item contents: the resource is taken from name parameters only (TableName,
Bucket/Key, StreamArn…), never from ``Item``/``Key`` values, and botocore's parameter-validation
text is stripped of the values it quotes.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlparse

import botocore.exceptions as bex

from ddbmigrate.errors import (
    AwsAccessDenied,
    AwsConnectionError,
    AwsCredentialsError,
    AwsError,
    AwsNotFound,
    AwsRegionError,
    AwsValidationError,
    ConfigError,
    DdbMigrateError,
    ExportError,
    GlueError,
    SinkError,
    SourceError,
)

__all__ = [
    "CALL_ATTRIBUTE", "GENERIC_CLASSES", "AccountLike", "AwsCall", "annotate_client", "aws_error", "edge_error",
    "no_region_error", "translate",
]

CALL_ATTRIBUTE = "ddbmigrate_call"
"""Attribute of a botocore exception that holds the :class:`AwsCall` that raised it."""


class AccountLike(Protocol):
    """What a message needs of :class:`ddbmigrate.accounts.Account` (kept a protocol: no import cycle)."""

    label: str
    profile: str | None
    region: str | None
    role_arn: str | None
    option_prefix: str | None


@dataclass(frozen=True)
class AwsCall:
    """The failing call: which account, service, operation, resource (names only), region, endpoint."""

    account: AccountLike | None
    service: str
    operation: str | None = None
    resource: str | None = None
    region: str | None = None
    endpoint_url: str | None = None


# ------------------------------------------------------------------------------------ annotate

_NAMED_PARAMS: tuple[tuple[str, str], ...] = (
    ("TableName", "table"), ("TableArn", "table"), ("StreamArn", "stream"), ("ExportArn", "export"),
    ("S3Bucket", "bucket"), ("RoleArn", "role"), ("JobName", "Glue job"), ("CrawlerName", "Glue crawler"),
)


def resource_of(service: str, params: Mapping[str, Any]) -> str | None:
    """The resource a request names, from name parameters only (never item keys or values)."""
    bucket = params.get("Bucket")
    if isinstance(bucket, str):
        key = params.get("Key") or params.get("Prefix") or ""
        return f"s3://{bucket}/{key}" if isinstance(key, str) else f"s3://{bucket}/"
    for name, kind in _NAMED_PARAMS:
        value = params.get(name)
        if isinstance(value, str) and value:
            return f"{kind} {value!r}"
    requests = params.get("RequestItems")
    if isinstance(requests, Mapping) and requests:
        return "table " + ", ".join(repr(str(t)) for t in sorted(requests))
    if service == "glue" and isinstance(params.get("DatabaseName"), str):
        name = params.get("Name") or params.get("TableName")
        database = params["DatabaseName"]
        return f"Glue table '{database}.{name}'" if name else f"Glue database {database!r}"
    return None


def annotate_client(client: Any, account: AccountLike | None) -> Any:
    """Make every exception a call of ``client`` raises carry an :class:`AwsCall` (same object re-raised).

    Wraps the instance's ``_make_api_call``, the path every operation method takes; events the
    library registers (the sink's prebuilt bodies, Stubber) still run inside it, unchanged.
    """
    make_api_call: Callable[[str, Any], Any] = client._make_api_call
    service = client.meta.service_model.service_name
    region, endpoint_url = client.meta.region_name, client.meta.endpoint_url

    def _make_api_call(operation_name: str, api_params: Any) -> Any:
        try:
            return make_api_call(operation_name, api_params)
        except Exception as exc:
            if getattr(exc, CALL_ATTRIBUTE, None) is None:  # an inner call (e.g. AssumeRole) knows better
                params = api_params if isinstance(api_params, Mapping) else {}
                call = AwsCall(account, service, operation_name, resource_of(service, params), region, endpoint_url)
                with contextlib.suppress(AttributeError):  # an exception type with __slots__: left as it is
                    setattr(exc, CALL_ATTRIBUTE, call)
            raise

    client._make_api_call = _make_api_call
    return client


# ------------------------------------------------------------------------------------ translate

_EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})
_UNRECOGNISED = frozenset({
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId", "SignatureDoesNotMatch",
    "InvalidSignatureException", "MissingAuthenticationToken", "MissingAuthenticationTokenException", "AuthFailure",
    "IncompleteSignature", "IncompleteSignatureException",
})
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AllAccessDisabled",
                     "Forbidden", "403"})
_NOT_FOUND = frozenset({
    "ResourceNotFoundException", "NoSuchBucket", "NoSuchKey", "NotFound", "404", "TableNotFoundException",
    "ExportNotFoundException", "EntityNotFoundException", "NoSuchEntity", "NoSuchEntityException",
})
_INVALID = frozenset({
    "ValidationException", "ValidationError", "InvalidParameterValue", "InvalidParameterValueException",
    "InvalidParameterException", "InvalidInputException", "InvalidArgument", "InvalidBucketName",
    "InvalidParameterCombination",
})
_WRONG_REGION = frozenset({"AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException"})

_EXPIRED_TYPES: tuple[type[Exception], ...] = tuple(
    t for t in (getattr(bex, n, None) for n in ("TokenRetrievalError", "SSOError", "LoginError"))
    if isinstance(t, type))
_CONNECTION_TYPES: tuple[type[Exception], ...] = (
    bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ReadTimeoutError, bex.ConnectionClosedError,
    bex.ProxyConnectionError, bex.ConnectionError,
)
_QUOTED_VALUE = re.compile(r", value: .*?(?=, (?:type|valid)\b|$)", re.MULTILINE)


def _one_line(text: str, limit: int = 400) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _who(call: AwsCall | None) -> str:
    """``source [profile source, region eu-west-1]`` — or what is known of it."""
    account = call.account if call else None
    label = account.label if account else "AWS"
    parts = [f"profile {account.profile}" if account and account.profile else "no profile"]
    region = (call.region if call else None) or (account.region if account else None)
    if region:
        parts.append(f"region {region}")
    if account and account.role_arn:
        parts.append(f"role {account.role_arn}")
    return f"{label} [{', '.join(parts)}]"


def _account_name(account: AccountLike | None) -> str:
    """``the source account``, ``the bucket owner (target account)``."""
    if account is None:
        return "the right account"
    return f"the {account.label}" + ("" if "account" in account.label else " account")


def _option(account: AccountLike | None, name: str) -> str:
    """How the CLI spells this account's option ``name`` (``--source-profile``), or a description."""
    if account and account.option_prefix:
        return f"{account.option_prefix}{name}"
    return f"{_account_name(account)}'s {name}"


def _action(call: AwsCall | None) -> str:
    if call is None or call.operation is None:
        return "the AWS call"
    return f"{call.service}:{call.operation}" + (f" on {call.resource}" if call.resource else "")


def _login_hint(account: AccountLike | None) -> str:
    if account and account.profile:
        return f"log in again (aws sso login --profile {account.profile}) or renew the profile's session token"
    return f"renew the credentials in the environment, or pass {_option(account, 'profile')}"


def _no_credentials(call: AwsCall | None) -> AwsCredentialsError:
    account = call.account if call else None
    if account and account.profile:
        return AwsCredentialsError(
            f"{_who(call)}: profile {account.profile!r} has no credentials. Add keys "
            f"(aws configure --profile {account.profile}) or log in (aws sso login --profile {account.profile})")
    return AwsCredentialsError(
        f"{_who(call)}: no AWS credentials found (none in the environment, ~/.aws or an instance role). "
        f"Pass {_option(account, 'profile')} with a profile of {_account_name(account)}")


def no_region_error(account: AccountLike | None, service: str) -> AwsRegionError:
    """The error for botocore's ``NoRegionError`` at client creation: name the profile and three fixes."""
    label = account.label if account else "AWS"
    profile = f"profile {account.profile!r} has no region" if account and account.profile else "no profile given"
    return AwsRegionError(
        f"{label}: no AWS region for {service} ({profile}). Pass {_option(account, 'region')}, set 'region' "
        f"in the profile, or set AWS_DEFAULT_REGION")


def _connection(exc: Exception, call: AwsCall | None) -> AwsConnectionError:
    endpoint = str(getattr(exc, "kwargs", {}).get("endpoint_url") or (call.endpoint_url if call else "") or "?")
    host = urlparse(endpoint).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1"):
        fix = "the local stack is not running here: start it with 'ddbmigrate local up' and 'source .stack/env'"
    else:
        fix = "check the network, proxy settings and the region's endpoint"
    return AwsConnectionError(f"{_who(call)}: cannot reach {endpoint} for {_action(call)} "
                              f"({type(exc).__name__}): {fix}")


def _client_error(exc: bex.ClientError, call: AwsCall | None) -> AwsError | None:
    error = exc.response.get("Error", {}) if isinstance(exc.response, Mapping) else {}
    code = str(error.get("Code") or "")
    message = _one_line(error.get("Message") or "")
    said = f" (AWS: {code}{': ' + message if message else ''})"
    account = call.account if call else None
    action, who = _action(call), _who(call)
    if code in _EXPIRED:
        return AwsCredentialsError(f"{who}: the credentials have expired, calling {action}{said}. "
                                   f"Fix: {_login_hint(account)}")
    if code in _UNRECOGNISED:
        fix = (f"check the keys of profile {account.profile!r} (aws configure --profile {account.profile})"
               if account and account.profile else f"check the credentials in the environment or pass "
               f"{_option(account, 'profile')}")
        return AwsCredentialsError(f"{who}: AWS does not accept these credentials, calling {action}{said}. "
                                   f"Fix: {fix}, and that they belong to {_account_name(account)}")
    if code in _DENIED:
        if call and call.operation == "AssumeRole":
            fix = (f"the role's trust policy must allow this principal, with {_option(account, 'external-id')} "
                   f"when it asks for one ('ddbmigrate policies --help' prints the role documents)")
        else:
            fix = (f"grant it to the principal of {_account_name(account)} "
                   f"('ddbmigrate policies --help' prints the policies each principal needs)")
        return AwsAccessDenied(f"{who}: access denied to {action}{said}. Fix: {fix}")
    if code in _NOT_FOUND:
        if call and call.resource:
            what, action = call.resource, f"{call.service}:{call.operation}"
        else:
            what = "the resource"
        return AwsNotFound(f"{who}: {what} not found, calling {action}{said}. Check the name, and that this "
                           f"profile and region are the account and region that hold it")
    if code in _WRONG_REGION:
        return AwsRegionError(f"{who}: {action} is in another region{said}. Pass {_option(account, 'region')} "
                              f"with the resource's region")
    if code in _INVALID:
        return AwsValidationError(f"{who}: AWS refused {action}{said}. Check the option or file that gave it")
    return None


def translate(exc: BaseException, call: AwsCall | None = None) -> AwsError | None:
    """Our error for a botocore failure the user can fix; None for anything else (a bug keeps its traceback)."""
    if isinstance(exc, bex.ClientError):
        return _client_error(exc, call)
    account = call.account if call else None
    if isinstance(exc, bex.NoRegionError):
        return no_region_error(account, call.service if call else "AWS")
    if isinstance(exc, bex.NoCredentialsError):
        return _no_credentials(call)
    if isinstance(exc, bex.PartialCredentialsError):
        missing = getattr(exc, "kwargs", {}).get("cred_var", "?")
        return AwsCredentialsError(f"{_who(call)}: partial credentials ({_one_line(str(exc))}): add {missing}, "
                                   f"or remove the incomplete keys so that the profile's own are used")
    if _EXPIRED_TYPES and isinstance(exc, _EXPIRED_TYPES):
        return AwsCredentialsError(f"{_who(call)}: the credentials could not be refreshed ({type(exc).__name__}). "
                                   f"Fix: {_login_hint(account)}")
    if isinstance(exc, bex.CredentialRetrievalError):
        return AwsCredentialsError(f"{_who(call)}: {_one_line(str(exc))}. Fix: {_login_hint(account)}")
    if isinstance(exc, _CONNECTION_TYPES):
        return _connection(exc, call)
    if isinstance(exc, bex.ParamValidationError):
        report = _one_line(_QUOTED_VALUE.sub("", str(getattr(exc, "kwargs", {}).get("report", exc))))
        return AwsValidationError(f"{_who(call)}: botocore refused {_action(call)} before sending it: {report}. "
                                  f"Check the option or file that gave it")
    return None


def aws_error(exc: BaseException) -> AwsError | None:
    """:func:`translate` with the :class:`AwsCall` that :func:`annotate_client` attached, if any."""
    call = getattr(exc, CALL_ATTRIBUTE, None)
    return translate(exc, call if isinstance(call, AwsCall) else None)


GENERIC_CLASSES: tuple[type[DdbMigrateError], ...] = (ConfigError, ExportError, GlueError, SourceError, SinkError)
"""Library error classes (exactly these, not subclasses) whose exit code yields to the AWS class's."""

_ACCOUNT_LEVEL = (AwsCredentialsError, AwsRegionError, AwsConnectionError)


def _botocore_cause(exc: BaseException) -> BaseException | None:
    """The botocore failure ``exc`` was raised from or while handling (``raise … from None`` included)."""
    seen: BaseException | None = exc.__cause__ or exc.__context__
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, (bex.BotoCoreError, bex.ClientError)):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, bex.ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "ClientError")
    return type(exc).__name__


def edge_error(exc: BaseException) -> DdbMigrateError | None:
    """What an edge prints and exits with for ``exc``; None when it is a bug (keep the traceback)."""
    if isinstance(exc, DdbMigrateError):
        cause = None if isinstance(exc, AwsError) else _botocore_cause(exc)
        aws = aws_error(cause) if cause is not None else None
        if aws is None or cause is None:
            return exc
        if isinstance(aws, _ACCOUNT_LEVEL) or _error_code(cause) in str(exc):
            return aws
        return type(aws)(str(exc)) if type(exc) in GENERIC_CLASSES else exc
    return aws_error(exc)
