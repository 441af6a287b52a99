"""BatchWriteItem with a prebuilt body, without botocore's per-call machinery — the same request.

For a body that is already JSON, botocore still spent about 0.8 ms of CPU per call (event hooks,
parameter serialisation, endpoint rules, response parsing): 30–45 µs per small item, a fifth of a
writing task's CPU (bench/README.md, "Measurements behind design choices"). A :class:`LeanSender`
lets the first call go through botocore whole and keeps what it sent: URL and headers, less the
per-call date, signature, token and invocation id. Later calls send those headers and the body,
signed afresh by botocore's ``SigV4Auth`` in the first call's credential scope with the client's
own (refreshing) credentials, after botocore's ``before-send`` event, through the client's own
HTTP session (pool, TLS, proxies, timeouts, its transport errors). Answers are read as botocore
reads DynamoDB's JSON protocol; a failed ``x-amz-crc32`` check is a ``ChecksumError``. Retries stay
the writer's. Where anything of this is missing, the sender never arms and botocore sends.
"""

from __future__ import annotations

import json
import re
import uuid
import zlib
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ChecksumError, ClientError
from botocore.parsers import ResponseParserError

from ddbmigrate.values import item_from_json

__all__ = ["LeanSender"]

_OPERATION = "BatchWriteItem"
_PER_CALL = frozenset({"authorization", "x-amz-date", "x-amz-security-token", "amz-sdk-invocation-id",
                       "content-length"})
"""Headers botocore makes for each call: re-made for each lean call (Content-Length by the session)."""
_UNSIGNED = ("amz-sdk-request",)
"""Headers botocore adds after signing (with ``amz-sdk-invocation-id``): added after ours too."""
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


class LeanSender:
    """Sends ``BatchWriteItem`` bodies for one botocore DynamoDB ``client``; armed by its first call.

    :attr:`armed` is False until botocore itself has sent one ``BatchWriteItem`` for this client
    (signed with SigV4); until then the caller sends through the client as usual.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._url: str | None = None
        self._headers: dict[str, str] = {}
        self._after: dict[str, str] = {}
        self._region = self._service = ""
        signer = getattr(client, "_request_signer", None)
        self._credentials = getattr(signer, "_credentials", None)
        self._session = getattr(getattr(client, "_endpoint", None), "http_session", None)
        self._events = getattr(getattr(client, "meta", None), "events", None)
        self._event = f"before-send.dynamodb.{_OPERATION}"
        if self._credentials is not None and self._session is not None and self._events is not None:
            self._events.register_last(self._event, self._learn, unique_id=f"ddbmigrate-lean-{id(self)}")

    @property
    def armed(self) -> bool:
        return self._url is not None

    def _learn(self, request: Any, **_: Any) -> None:
        """``before-send``: keep what botocore sends (once). Not SigV4, or no scope: stay unarmed."""
        if self._url is not None:
            return
        headers = {k: v.decode("utf-8") if isinstance(v, bytes) else str(v) for k, v in request.headers.items()}
        scope = _SCOPE.search(headers.get("Authorization", ""))
        if scope is None or not headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
            return
        self._region, self._service = scope.group(1), scope.group(2)
        self._headers = {k: v for k, v in headers.items() if k.lower() not in _PER_CALL and k.lower() not in _UNSIGNED}
        self._after = {k: v for k, v in headers.items() if k.lower() in _UNSIGNED}
        self._url = request.url

    def batch_write_item(self, body: bytes) -> dict[str, Any]:
        """Send one prebuilt body; the answer as botocore would parse it, or its exceptions."""
        if self._url is None or self._credentials is None or self._session is None:
            raise RuntimeError("LeanSender: not armed (botocore has not sent a BatchWriteItem yet)")
        request = AWSRequest(method="POST", url=self._url, data=body, headers=self._headers)
        SigV4Auth(self._credentials.get_frozen_credentials(), self._service, self._region).add_auth(request)
        request.headers["amz-sdk-invocation-id"] = str(uuid.uuid4())
        for name, value in self._after.items():
            request.headers[name] = value
        prepared = request.prepare()
        # botocore's last event before the wire, kept (cheap): what observes or answers requests there still does
        answers = [answer for _, answer in self._events.emit(self._event, request=prepared) if answer is not None]
        response = answers[0] if answers else self._session.send(prepared)
        content = response.content
        expected = response.headers.get("x-amz-crc32")
        if expected is not None and int(expected) != zlib.crc32(content):
            raise ChecksumError(checksum_type="crc32", expected_checksum=expected, actual_checksum=zlib.crc32(content))
        try:
            parsed = json.loads(content) if content else {}
        except ValueError:  # an error page of a proxy or load balancer; for a 200, botocore's parser error
            if response.status_code < 300:
                raise ResponseParserError(f"{_OPERATION}: the answer is not JSON") from None
            parsed = {}
        if response.status_code >= 300:
            raise ClientError(_error(parsed, response), _OPERATION)
        return _answer(parsed)


def _error(parsed: Any, response: Any) -> dict[str, Any]:
    """botocore's error shape for DynamoDB's JSON protocol (code after ``#``, ``message`` or ``Message``)."""
    body = parsed if isinstance(parsed, dict) else {}
    code = str(body.get("__type") or response.status_code).split(":", 1)[0].rsplit("#", 1)[-1]
    return {
        "Error": {"Code": code, "Message": body.get("message", body.get("Message", ""))},
        "ResponseMetadata": {"HTTPStatusCode": response.status_code, "HTTPHeaders": dict(response.headers),
                             "RequestId": response.headers.get("x-amzn-requestid", "")},
    }


def _answer(parsed: dict[str, Any]) -> dict[str, Any]:
    """``UnprocessedItems`` back in wire form (binaries as bytes, as botocore gives them)."""
    unprocessed = parsed.get("UnprocessedItems")
    if unprocessed:
        parsed["UnprocessedItems"] = {
            table: [{kind: {part: item_from_json(value) for part, value in request.items()}
                     for kind, request in entry.items()} for entry in entries]
            for table, entries in unprocessed.items()
        }
    return parsed
