"""Step 2, preflight: every refusal first, before anything is changed; then the two changes the
user allowed (``--enable-pitr``, ``--enable-stream``), the stream waited ACTIVE so that it records
every change made after the export time (or the copy's start) is taken.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from ddbmigrate.errors import ConfigError
from ddbmigrate.migrate.options import TABLE_COPY, MigrateOptions
from ddbmigrate.migrate.plan import Plan
from ddbmigrate.replicate.records import NEW_IMAGE_VIEW_TYPES

__all__ = ["check", "enable_what_was_allowed"]

STREAM_VIEW = "NEW_AND_OLD_IMAGES"


def check(options: MigrateOptions, plan: Plan, *, s3_client: Any, resumed_target: bool) -> None:
    """Raise :class:`ConfigError` (one line, the option that fixes it) for the first thing that cannot work."""
    source = f"source table {plan.source.name!r} ({options.source.describe()})"
    if plan.pitr == "DISABLED" and not options.enable_pitr:
        raise ConfigError(f"{source}: point-in-time recovery is off and the {plan.path} path exports the table; "
                          "re-run with --enable-pitr (or choose --path table-copy)")
    view = plan.source.stream_view_type
    if view is None and not options.enable_stream:
        raise ConfigError(f"{source}: no stream is enabled, so changes made during the load would be lost; "
                          "re-run with --enable-stream (NEW_AND_OLD_IMAGES, enabled before the export time is taken)")
    if view is not None and view not in NEW_IMAGE_VIEW_TYPES and not options.enable_stream:
        raise ConfigError(f"{source}: its stream is {view}, without new images; re-run with --enable-stream "
                          f"(it is replaced by a {STREAM_VIEW} stream before the export time is taken)")
    if plan.path != TABLE_COPY:
        _check_bucket(options, s3_client)
    target = plan.target
    where = f"target table {options.target_table!r} ({options.target.describe()})"
    if target.status == "incompatible" and target.description is not None:
        raise ConfigError(f"{where} exists with key {', '.join(target.description.key_names)}, the source's is "
                          f"{', '.join(plan.source.key_names)}; give another --target-table, or a --mapping that "
                          "builds the target's key")
    if not target.empty and not resumed_target:
        raise ConfigError(f"{where} is not empty; migrate only loads an empty table (or one a --resume'd run "
                          "made): give another --target-table or empty it")


def _check_bucket(options: MigrateOptions, s3: Any) -> None:
    """A probe object written and deleted under the prefix: the bucket exists and the target account may write.

    A failure is AWS's own (NoSuchBucket, AccessDenied), which the CLI turns into one line naming the
    profile, region and bucket (:mod:`ddbmigrate.awserrors`).
    """
    key = f"{(options.prefix or '').strip('/')}/.ddbmigrate-probe-{uuid.uuid4().hex}".lstrip("/")
    s3.put_object(Bucket=options.bucket, Key=key, Body=b"")
    s3.delete_object(Bucket=options.bucket, Key=key)


def enable_what_was_allowed(options: MigrateOptions, plan: Plan, client: Any, *, streams: Any = None,
                            sleep: Callable[[float], None] = time.sleep, timeout: float = 300.0) -> list[str]:
    """Turn on PITR and the stream when asked; returns what was done (for the report).

    A stream turned on is waited ``ENABLED`` (DescribeStream, with ``streams``) before this returns,
    so that the export time or the copy's start, taken after, is covered by it.
    """
    done: list[str] = []
    name = plan.source.name
    if plan.pitr == "DISABLED" and options.enable_pitr:
        client.update_continuous_backups(TableName=name,
                                         PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        done.append("point-in-time recovery enabled on the source")
    view = plan.source.stream_view_type
    if options.enable_stream and view not in NEW_IMAGE_VIEW_TYPES:
        if view is not None:  # a stream's view type cannot change in place: off, then on again
            client.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
            _wait_active(client, name, sleep=sleep, timeout=timeout)
        client.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": STREAM_VIEW})
        _wait_active(client, name, sleep=sleep, timeout=timeout)
        if streams is not None:
            _wait_stream_enabled(streams, client.describe_table(TableName=name)["Table"]["LatestStreamArn"],
                                 sleep=sleep, timeout=timeout)
        done.append(f"stream enabled on the source ({STREAM_VIEW}) before the export time was taken")
    return done


def _wait_active(client: Any, name: str, *, sleep: Callable[[float], None], timeout: float) -> None:
    waited = 0.0
    while client.describe_table(TableName=name)["Table"].get("TableStatus") != "ACTIVE":
        if waited >= timeout:
            raise ConfigError(f"source table {name!r} is not ACTIVE after {timeout:.0f}s of enabling its stream; "
                              "run again with --resume")
        sleep(1.0)
        waited += 1.0


def _wait_stream_enabled(streams: Any, arn: str, *, sleep: Callable[[float], None], timeout: float) -> None:
    waited = 0.0
    while streams.describe_stream(StreamArn=arn)["StreamDescription"].get("StreamStatus") != "ENABLED":
        if waited >= timeout:
            raise ConfigError(f"stream {arn} is not ENABLED after {timeout:.0f}s; run again with --resume")
        sleep(1.0)
        waited += 1.0
