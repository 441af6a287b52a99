"""The sink's options: one frozen value, built directly or from Glue's DynamoDB connection options.

Glue scripts' ``connection_options`` work unchanged: names are matched case-insensitively, and an
unknown name is an error, not a silent no-op. Settings Glue has no option for (dead-letter
location, absolute capacity, backoff bounds, batch limits) are keyword arguments of
:meth:`SinkOptions.from_glue_options`. The option table is in docs/sink.md, "Options".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from ddbmigrate.accounts import Account
from ddbmigrate.capacity import DEFAULT_WRITE_PERCENT, validate_percent
from ddbmigrate.errors import ConfigError
from ddbmigrate.s3uri import parse_s3_uri

if TYPE_CHECKING:
    from ddbmigrate.deadletter import DeadLetterWriter

__all__ = [
    "DEFAULT_REQUESTS_IN_FLIGHT",
    "GLUE_DEFAULT_RETRIES",
    "GLUE_SESSION_NAME",
    "GLUE_SINK_OPTIONS",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_ITEMS",
    "SinkOptions",
    "split_table_arn",
]

MAX_BATCH_ITEMS = 25
"""BatchWriteItem's limit on requests per call."""
MAX_BATCH_BYTES = 16 * 1024 * 1024
"""BatchWriteItem's limit on a call's total size."""
GLUE_DEFAULT_RETRIES = 10
DEFAULT_REQUESTS_IN_FLIGHT = 4
"""Writers per task: requests stay in flight while the task prepares the next batch. Four, not two:
with two, DynamoDB Local spent more CPU per small item on a job's requests than on a raw 8-thread
writer's (0.26 against 0.20 ms), with four the same (docs/sink.md, "Writers per task")."""
GLUE_SESSION_NAME = "glue-dynamodb-write-sts-session"

GLUE_SINK_OPTIONS: Mapping[str, str] = {
    "dynamodb.output.tablename": "dynamodb.output.tableName",
    "dynamodb.throughput.write.percent": "dynamodb.throughput.write.percent",
    "dynamodb.output.numparalleltasks": "dynamodb.output.numParallelTasks",
    "dynamodb.output.retry": "dynamodb.output.retry",
    "dynamodb.sts.rolearn": "dynamodb.sts.roleArn",
    "dynamodb.sts.rolesessionname": "dynamodb.sts.roleSessionName",
    "dynamodb.region": "dynamodb.region",
    "dynamodb.sts.region": "dynamodb.sts.region",
    "dynamodb.awsaccesskeyid": "dynamodb.awsAccessKeyId",
    "dynamodb.awssecretaccesskey": "dynamodb.awsSecretAccessKey",
    "dynamodb.awssessiontoken": "dynamodb.awsSessionToken",
}
"""Lower-cased name → Glue's spelling, for every Glue option the sink understands."""


def split_table_arn(table: str) -> tuple[str, str | None]:
    """``arn:aws:dynamodb:<region>:<account>:table/<name>`` → (name, region); a name → (name, None)."""
    if not table.startswith("arn:"):
        return table, None
    parts = table.split(":", 5)
    if len(parts) != 6 or parts[2] != "dynamodb" or not parts[5].startswith("table/") or len(parts[5]) <= 6:
        raise ConfigError(
            f"dynamodb.output.tableName: {table!r} is not a DynamoDB table ARN "
            "(arn:aws:dynamodb:REGION:ACCOUNT:table/NAME)"
        )
    return parts[5][len("table/"):].split("/", 1)[0], parts[3] or None


@dataclass(frozen=True)
class SinkOptions:
    """How to write one target table. Frozen and picklable: Spark ships it to every task.

    * ``table`` — name or ARN (an ARN's region is used when ``target`` has none; requests name the
      table as given, so an ARN reaches another account's table through its resource policy).
    * ``write_percent`` — share of the table's WCU for the whole job (0.1–1.5, Glue's rule).
    * ``capacity_override`` — absolute WCU to budget against instead of the table's (useful for
      on-demand tables, which otherwise count as 40,000 like Glue does, or as their max write units).
    * ``parallel_tasks`` — tasks writing at once; the per-task budget is
      floor(capacity × percent) / tasks. ``None``: min(partitions, slots), as Glue.
    * ``max_retries`` — attempts *without progress* before giving up (Glue's
      ``dynamodb.output.retry``); a partly accepted batch is progress and resets the count.
    * ``base_backoff`` / ``max_backoff`` — seconds; retry *n* waits random(0, min(max, base × 2ⁿ)).
    * ``dead_letter`` — local folder or ``s3://bucket/prefix/`` for items that can never be written.
      ``None``: such an item fails the write with :class:`SinkError` instead.
    * ``dead_letter_account`` — who writes S3 dead letters: the job's own account. Default: ``target``
      without its role (:meth:`~ddbmigrate.accounts.Account.without_role`) — the role a job assumes
      to write another account's table may do nothing else.
    * ``max_batch_items`` / ``max_batch_bytes`` — at most DynamoDB's 25 requests / 16 MB per call.
    * ``requests_in_flight`` — writers per task, each with one request in flight (items routed by
      key, so one key's writes stay in order; they share the task's budget). See
      :mod:`ddbmigrate.sink.pool`.
    """

    table: str
    target: Account = field(default_factory=lambda: Account(label="target"))
    write_percent: float = DEFAULT_WRITE_PERCENT
    capacity_override: int | None = None
    parallel_tasks: int | None = None
    max_retries: int = GLUE_DEFAULT_RETRIES
    base_backoff: float = 0.05
    max_backoff: float = 20.0
    dead_letter: str | None = None
    max_batch_items: int = MAX_BATCH_ITEMS
    max_batch_bytes: int = MAX_BATCH_BYTES
    requests_in_flight: int = DEFAULT_REQUESTS_IN_FLIGHT
    dead_letter_account: Account | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.table, str) or not self.table:
            raise ConfigError("dynamodb.output.tableName: the target table's name or ARN is required")
        _, region = split_table_arn(self.table)
        if region and not self.target.region:
            object.__setattr__(self, "target", replace(self.target, region=region))
        if self.dead_letter_account is None:
            object.__setattr__(self, "dead_letter_account", self.target.without_role(label="dead-letter account"))
        object.__setattr__(self, "write_percent", validate_percent(self.write_percent))
        _positive_int(self.capacity_override, "capacity override (absolute WCU)", allow_none=True)
        _positive_int(self.parallel_tasks, "dynamodb.output.numParallelTasks", allow_none=True)
        _positive_int(self.requests_in_flight, "requests in flight per task")
        if not isinstance(self.max_retries, int) or isinstance(self.max_retries, bool) or self.max_retries < 0:
            raise ConfigError(f"dynamodb.output.retry: expected a whole number ≥ 0, got {self.max_retries!r}")
        for name in ("base_backoff", "max_backoff"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{name}: expected a positive number of seconds, got {value!r}")
        if self.max_backoff < self.base_backoff:
            raise ConfigError(f"max_backoff ({self.max_backoff}) must be at least base_backoff ({self.base_backoff})")
        _positive_int(self.max_batch_items, "max_batch_items")
        if self.max_batch_items > MAX_BATCH_ITEMS:
            raise ConfigError(f"max_batch_items: BatchWriteItem takes at most {MAX_BATCH_ITEMS} requests, got {self.max_batch_items}")
        _positive_int(self.max_batch_bytes, "max_batch_bytes")
        if self.max_batch_bytes > MAX_BATCH_BYTES:
            raise ConfigError(f"max_batch_bytes: BatchWriteItem takes at most {MAX_BATCH_BYTES} bytes, got {self.max_batch_bytes}")
        if self.dead_letter is not None:
            if not isinstance(self.dead_letter, str) or not self.dead_letter:
                raise ConfigError("dead-letter location: expected a local folder or s3://bucket/prefix/")
            if self.dead_letter.startswith("s3://"):
                parse_s3_uri(self.dead_letter, what="dead-letter location")

    def dead_letter_writer(self, name: str) -> DeadLetterWriter:
        """The dead-letter file ``<dead_letter>/<name>.jsonl``, written with ``dead_letter_account``.

        Every stage that sets items aside (the sink's writers, the import's read stage) opens its
        file here, so they all store with the same identity.
        """
        from ddbmigrate.deadletter import DeadLetterWriter

        if self.dead_letter is None:
            raise ConfigError("no dead-letter location is set (--dead_letter)")
        account = self.dead_letter_account or self.target
        s3 = account.client("s3") if self.dead_letter.startswith("s3://") else None
        return DeadLetterWriter(self.dead_letter, name, s3_client=s3)

    @property
    def table_name(self) -> str:
        """The table's name (from an ARN, the part after ``table/``)."""
        return split_table_arn(self.table)[0]

    @classmethod
    def from_glue_options(
        cls,
        options: Mapping[str, Any],
        *,
        target: Account | None = None,
        **extra: Any,
    ) -> SinkOptions:
        """Build from Glue's connection options (strings, as Glue passes them).

        ``target`` is the account to start from (profile, endpoint, external id); the role, session
        name and region in ``options`` override it. ``extra`` sets the fields Glue has no option for
        (``dead_letter``, ``capacity_override``, ``base_backoff``…).

        >>> SinkOptions.from_glue_options({"dynamodb.output.tableName": "orders",
        ...     "dynamodb.throughput.write.percent": "0.8"}, dead_letter="/tmp/dl").write_percent
        0.8
        """
        given: dict[str, Any] = {}
        for name, value in options.items():
            canonical = GLUE_SINK_OPTIONS.get(str(name).lower())
            if canonical is None:
                raise ConfigError(
                    f"unknown DynamoDB sink option {name!r}; supported: {', '.join(GLUE_SINK_OPTIONS.values())}"
                )
            given[canonical] = value
        allowed = {f.name for f in fields(cls)} - {"table", "target"}
        unknown = set(extra) - allowed
        if unknown:
            raise ConfigError(f"unknown sink setting(s) {', '.join(sorted(unknown))}; expected some of {', '.join(sorted(allowed))}")
        table = _text(given.get("dynamodb.output.tableName"))
        if table is None:
            raise ConfigError("dynamodb.output.tableName is required (the target table's name or ARN)")
        account = target or Account(label="target")
        role = _text(given.get("dynamodb.sts.roleArn"))
        session_name = _text(given.get("dynamodb.sts.roleSessionName"))
        region = _text(given.get("dynamodb.region")) or _text(given.get("dynamodb.sts.region"))
        changes: dict[str, Any] = {}
        if role:
            changes["role_arn"] = role
            changes["session_name"] = session_name or GLUE_SESSION_NAME
        elif session_name:
            changes["session_name"] = session_name
        if region:
            changes["region"] = region
        key_id, secret = _text(given.get("dynamodb.awsAccessKeyId")), _text(given.get("dynamodb.awsSecretAccessKey"))
        if bool(key_id) != bool(secret):
            raise ConfigError("dynamodb.awsAccessKeyId and dynamodb.awsSecretAccessKey go together; give both or neither")
        if key_id:
            changes.update(access_key_id=key_id, secret_access_key=secret,
                           session_token=_text(given.get("dynamodb.awsSessionToken")))
        kwargs: dict[str, Any] = dict(extra)
        percent = _text(given.get("dynamodb.throughput.write.percent"))
        if percent is not None:
            kwargs["write_percent"] = validate_percent(percent)
        tasks = _integer(given.get("dynamodb.output.numParallelTasks"), "dynamodb.output.numParallelTasks")
        if tasks is not None:
            kwargs["parallel_tasks"] = tasks
        retries = _integer(given.get("dynamodb.output.retry"), "dynamodb.output.retry")
        if retries is not None:
            kwargs["max_retries"] = retries
        return cls(table=table, target=replace(account, **changes) if changes else account, **kwargs)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _integer(value: Any, option: str) -> int | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{option}: expected a whole number, got {text!r}") from None


def _positive_int(value: Any, option: str, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{option}: expected a whole number ≥ 1, got {value!r}")
