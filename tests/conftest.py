"""Shared fixtures: the real local stack and one SparkSession, each started once per test session.

* ``local_stack`` — two DynamoDB Local processes (source and target accounts) and a moto server,
  started by the library's own ``stack_up``; ``AWS_CONFIG_FILE`` points at its profiles for the
  whole session, exactly as ``source .stack/env`` does for a user.
* ``source`` / ``target`` — :class:`~ddbmigrate.accounts.Account` for profiles ``source``/``target``.
* ``source_ddb`` / ``target_ddb`` / ``s3`` — low-level clients.
* ``unique_name`` — a fresh table or bucket name per call, so tests never collide.
* ``bucket`` — a new bucket in the target account.
* ``spark`` — ``local[2]``, ``spark.sql.caseSensitive=true``, UI off.
* ``proxy_factory`` — ``proxy_factory(throttle_rate=…, seed=…)`` starts a
  :class:`~ddbmigrate.local.faults.FaultProxy` in front of the *target* DynamoDB Local (keyword
  arguments go to ``FaultProxy``); point an ``Account(endpoint_url=proxy.endpoint)`` at it. Every
  proxy a test started is stopped when the test ends.
* ``s3_recorder`` — :class:`RecordedS3`: a :class:`~ddbmigrate.local.recorder.RequestRecorder` in
  front of the local S3 and ``account``, the target account reaching S3 through it (a profile of
  the stack's config file, so Spark's workers see it too); both gone when the test ends.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]

# Tests never reach real AWS: no instance metadata look-ups, no stray credentials from the runner.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
for _var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(_var, None)
os.environ.setdefault("DDBMIGRATE_CACHE_DIR", str(REPO / ".cache" / "ddbmigrate"))
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from ddbmigrate.local.stack import patched_environ, stack_down, stack_up

    state_dir = tmp_path_factory.mktemp("stack")
    stack = stack_up(state_dir)
    try:
        with patched_environ(stack.environ()):
            yield stack
    finally:
        stack_down(state_dir)


@pytest.fixture(scope="session")
def source(local_stack: Any) -> Any:
    from ddbmigrate.accounts import Account

    return Account(profile="source", label="source")


@pytest.fixture(scope="session")
def target(local_stack: Any) -> Any:
    from ddbmigrate.accounts import Account

    return Account(profile="target", label="target")


@pytest.fixture(scope="session")
def source_ddb(source: Any) -> Any:
    return source.client("dynamodb")


@pytest.fixture(scope="session")
def target_ddb(target: Any) -> Any:
    return target.client("dynamodb")


@pytest.fixture(scope="session")
def s3(target: Any) -> Any:
    return target.client("s3")


_counter = itertools.count()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``unique_name("orders")`` → ``orders-<test>-<n>-<rand>``: valid for tables and buckets."""

    def make(prefix: str = "t") -> str:
        test = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:30].strip("-")
        return f"{prefix}-{test}-{next(_counter)}-{uuid.uuid4().hex[:6]}"[:63]

    return make


@pytest.fixture
def bucket(s3: Any, unique_name: Callable[[str], str]) -> str:
    name = unique_name("bkt")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def proxy_factory(local_stack: Any) -> Iterator[Callable[..., Any]]:
    from ddbmigrate.local.faults import FaultProxy

    started: list[FaultProxy] = []

    def make(**kwargs: Any) -> FaultProxy:
        proxy = FaultProxy(local_stack.target_dynamodb, **kwargs).start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()


@dataclass(frozen=True)
class RecordedS3:
    recorder: Any
    """The :class:`~ddbmigrate.local.recorder.RequestRecorder` every S3 request of ``account`` passes."""
    account: Any
    """The target account (same keys and region) with its S3 endpoint at the recorder."""


@pytest.fixture
def s3_recorder(local_stack: Any, unique_name: Callable[[str], str]) -> Iterator[RecordedS3]:
    from ddbmigrate.accounts import Account
    from ddbmigrate.local.recorder import RequestRecorder
    from ddbmigrate.local.stack import extra_profile

    with RequestRecorder(local_stack.s3) as recorder, \
            extra_profile(local_stack, unique_name("recorded"), like="target", endpoints={"s3": recorder.endpoint}) as name:
        yield RecordedS3(recorder, Account(profile=name, label="target (S3 recorded)"))


@pytest.fixture(scope="session")
def spark(local_stack: Any) -> Iterator[Any]:
    # The local stack first: Spark's Python workers inherit the environment (AWS_CONFIG_FILE)
    # that the driver had when Spark started.
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("ddbmigrate-tests")
        .config("spark.sql.caseSensitive", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def moto_run_states(local_stack: Any) -> Iterator[None]:
    """Make moto walk job runs STARTING → RUNNING → SUCCEEDED, one step per GetJobRun."""

    def call(path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(f"{local_stack.s3}/moto-api/state-manager/{path}", method="POST",
                                         data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).close()

    call("set-transition", {"model_name": "glue::job_run", "transition": {"progression": "manual", "times": 1}})
    try:
        yield
    finally:
        call("unset-transition", {"model_name": "glue::job_run"})
