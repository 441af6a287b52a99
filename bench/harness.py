"""The bench's own world: a private local stack, the environment pointing at it, one SparkSession.

Why a private stack: other engineers' test sessions run their own stacks on this machine; the
bench must neither share their DynamoDB Local (its load would skew our numbers and their tests)
nor disturb them. :func:`ddbmigrate.local.stack.stack_up` picks free loopback ports and records
exactly the processes it started, so a stack in a temporary state folder is fully ours, and
``stack_down`` stops only those processes.

Why the environment is set before Spark starts: Spark's Python workers inherit the driver's
environment at Spark start (``AWS_CONFIG_FILE`` → the stack's profiles). Everything changed in
``os.environ`` is restored on the way out, and SIGTERM is turned into an exception so that a
``kill`` tears down as cleanly as Ctrl-C does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from ddbmigrate.accounts import Account
from ddbmigrate.local.stack import Stack, patched_environ, stack_down, stack_up

REPO = Path(__file__).resolve().parents[1]


@dataclass
class World:
    """What every scenario runs against."""

    stack: Stack
    spark: Any
    source: Account
    target: Account
    workdir: Path


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Raise ``KeyboardInterrupt`` on SIGTERM so ``finally`` blocks stop the stack (restored after)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _spark_session(cores: str) -> Any:
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("ddbmigrate-bench")
        .config("spark.sql.caseSensitive", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "4g")  # 200k items are cached twice by the pipeline
        .getOrCreate()
    )


@contextlib.contextmanager
def bench_world(*, cores: str = "*", keep_dir: Path | None = None) -> Iterator[World]:
    """Start a private stack and a SparkSession; always stop both and restore the environment.

    Refuses to run when a SparkSession is already active in this process: the bench measures with
    its own session and never stops one it did not start.
    """
    from pyspark.sql import SparkSession

    if SparkSession.getActiveSession() is not None:
        raise RuntimeError("bench/run.py starts its own SparkSession; run it as its own process")
    with contextlib.ExitStack() as stack_of_cleanups:
        stack_of_cleanups.enter_context(sigterm_as_interrupt())
        if keep_dir is None:
            workdir = Path(stack_of_cleanups.enter_context(tempfile.TemporaryDirectory(prefix="ddbmigrate-bench-")))
        else:
            workdir = keep_dir
            workdir.mkdir(parents=True, exist_ok=True)
        state_dir = workdir / "stack"
        base_env = {
            "DDBMIGRATE_CACHE_DIR": os.environ.get("DDBMIGRATE_CACHE_DIR") or str(REPO / ".cache" / "ddbmigrate"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
        }
        stack_of_cleanups.enter_context(patched_environ(base_env))
        stack_of_cleanups.callback(stack_down, state_dir)  # registered first: runs even if up fails half-way
        local = stack_up(state_dir)
        stack_of_cleanups.enter_context(patched_environ(local.environ()))
        spark = _spark_session(cores)
        stack_of_cleanups.callback(spark.stop)  # ours: created above, no session was active before
        spark.sparkContext.setLogLevel("WARN")
        yield World(
            stack=local,
            spark=spark,
            source=Account(profile="source", label="source"),
            target=Account(profile="target", label="target"),
            workdir=workdir,
        )
