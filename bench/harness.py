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
import time
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
    placement: str = "all processes share the cores"
    """Where the processes run (:func:`bench_world`'s ``isolate_dynamodb``), for the tables' titles."""
    python_workers_seconds: float = 0.0
    """How long starting Spark's Python workers took, before anything was measured."""


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
def bench_world(*, cores: str = "*", keep_dir: Path | None = None, isolate_dynamodb: bool = False) -> Iterator[World]:
    """Start a private stack and a SparkSession; always stop both and restore the environment.

    Refuses to run when a SparkSession is already active in this process: the bench measures with
    its own session and never stops one it did not start.

    ``isolate_dynamodb``: both DynamoDB Local processes run on the last core, everything else (this
    process and its threads, Spark's JVM and Python workers, moto) on the others — as on Glue,
    where the workers' cores are not DynamoDB's. On shared cores a job and the DynamoDB it writes to
    compete for CPU, so job ÷ raw there also compares the job's CPU per item with a bare writer's;
    isolated, it shows whether the job keeps the same DynamoDB as busy as a bare writer does. Spark
    keeps the machine's core count as its task slots. The processes are placed after they start, so
    each JVM sizes its threads for the whole machine as it does unplaced.
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
        placement = World.placement
        if isolate_dynamodb:
            placement, cores = _isolate_dynamodb(local, stack_of_cleanups), cores if cores != "*" else str(os.cpu_count())
        spark = _spark_session(cores)
        stack_of_cleanups.callback(spark.stop)  # ours: created above, no session was active before
        spark.sparkContext.setLogLevel("WARN")
        python_workers = _start_python_workers(spark)
        yield World(
            stack=local,
            spark=spark,
            source=Account(profile="source", label="source"),
            target=Account(profile="target", label="target"),
            workdir=workdir,
            placement=placement,
            python_workers_seconds=python_workers,
        )


def _start_python_workers(spark: Any) -> float:
    """Start Spark's Python workers (one per task slot) with a job that imports nothing of ours; its
    seconds. A session's first Python job forks them (2–3 s here); on Glue that is paid once per job
    run, not per item, so no measured job should pay it — as the raw writer's clients are made
    before its clock starts. Our own imports and clients stay inside what each job measures."""
    sc = spark.sparkContext
    started = time.monotonic()
    sc.parallelize(range(sc.defaultParallelism), sc.defaultParallelism).map(lambda n: n).collect()
    return time.monotonic() - started


def _isolate_dynamodb(local: Stack, cleanups: contextlib.ExitStack) -> str:
    """Place the stack's DynamoDB Local processes on the last core, this process and moto on the rest."""
    from bench.machine import pin

    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise RuntimeError(f"--isolate-dynamodb needs at least 2 cores; this process may use {len(cpus)}")
    dynamodb, rest = {cpus[-1]}, set(cpus[:-1])
    services = [service.pid for service in local.services.values()]
    for name, service in local.services.items():
        pin(service.pid, dynamodb if name.endswith("-dynamodb") else rest)
    pin(os.getpid(), rest, sparing=services)
    cleanups.callback(pin, os.getpid(), set(cpus), sparing=services)
    return f"DynamoDB Local on core {cpus[-1]}, everything else on core(s) {', '.join(map(str, sorted(rest)))}"
