"""Capacity arithmetic shared by the sink, the source reader, the estimate and deploy: Glue's rules.

Glue's DynamoDB connector (and so ddbmigrate) budgets writes as::

    table capacity   = provisioned WCU, or 40,000 for on-demand (or the user's absolute cap)
    job budget       = floor(table capacity × dynamodb.throughput.write.percent)
    per-task budget  = job budget / dynamodb.output.numParallelTasks

and reads the same way with RCU and ``dynamodb.throughput.read.percent``. Parallel tasks default
to min(partitions, slots), where slots = (workers − 1) × slots per executor for the worker type.
Everything here is pure: no boto3, no Spark.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ddbmigrate.errors import ConfigError

__all__ = [
    "DEFAULT_READ_PERCENT",
    "DEFAULT_WRITE_PERCENT",
    "DPU_PER_WORKER",
    "ON_DEMAND_CAPACITY",
    "PERCENT_RANGE",
    "SLOTS_PER_EXECUTOR",
    "default_parallel_tasks",
    "glue_slots",
    "job_budget",
    "spark_task_slots",
    "table_read_capacity",
    "table_write_capacity",
    "task_budget",
    "validate_capacity",
    "validate_percent",
    "validate_worker_type",
]

ON_DEMAND_CAPACITY = 40_000
"""Glue's assumption for an on-demand table's capacity (read and write)."""

DEFAULT_WRITE_PERCENT = 0.5
DEFAULT_READ_PERCENT = 0.5
PERCENT_RANGE = (0.1, 1.5)

SLOTS_PER_EXECUTOR: Mapping[str, int] = {
    "G.1X": 4, "G.2X": 8, "G.4X": 16, "G.8X": 32, "G.12X": 48, "G.16X": 64,
    "R.1X": 4, "R.2X": 8, "R.4X": 16, "R.8X": 32,
}
"""Every Glue worker type a Spark ETL job can use (Glue's "worker types" page; G.025X is for streaming
jobs only), with its Spark task slots per executor on Glue 3.0+ (one per vCPU); executors = workers − 1."""

DPU_PER_WORKER: Mapping[str, int] = {
    "G.1X": 1, "G.2X": 2, "G.4X": 4, "G.8X": 8, "G.12X": 12, "G.16X": 16,
    "R.1X": 1, "R.2X": 2, "R.4X": 4, "R.8X": 8,
}
"""DPUs billed per worker (R types: memory-optimised M-DPUs, which Glue prices higher than a DPU)."""


def validate_percent(value: Any, *, option: str = "dynamodb.throughput.write.percent") -> float:
    """The percent as a float, or :class:`ConfigError` naming the option and Glue's range."""
    try:
        percent = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{option}: expected a number between {PERCENT_RANGE[0]} and {PERCENT_RANGE[1]}, got {value!r}") from None
    if not PERCENT_RANGE[0] <= percent <= PERCENT_RANGE[1]:
        raise ConfigError(
            f"{option}: {percent} is outside Glue's range {PERCENT_RANGE[0]}–{PERCENT_RANGE[1]} "
            "(0.5 = half of the table's capacity)"
        )
    return percent


def validate_worker_type(worker_type: str, *, option: str = "worker type") -> str:
    if worker_type not in SLOTS_PER_EXECUTOR:
        raise ConfigError(f"{option}: unknown worker type {worker_type!r}; expected one of {', '.join(SLOTS_PER_EXECUTOR)}")
    return worker_type


def validate_capacity(units: int) -> int:
    """The user's absolute capacity figure (an override of the table's), or :class:`ConfigError`."""
    if units <= 0:
        raise ConfigError(f"capacity override must be a positive number of capacity units, got {units}")
    return int(units)


def _capacity(description: Mapping[str, Any], kind: str, override: int | None) -> int:
    if override is not None:
        return validate_capacity(override)
    table = description.get("Table", description)
    billing = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    provisioned = (table.get("ProvisionedThroughput") or {}).get(f"{kind}CapacityUnits") or 0
    if billing == "PAY_PER_REQUEST" or provisioned == 0:
        cap = (table.get("OnDemandThroughput") or {}).get(f"Max{kind}RequestUnits")
        return int(cap) if cap and cap > 0 else ON_DEMAND_CAPACITY
    return int(provisioned)


def table_write_capacity(description: Mapping[str, Any], override: int | None = None) -> int:
    """WCU to budget against, from a DescribeTable response (or its ``Table``).

    Provisioned: the table's WCU. On-demand: the table's maximum write request units when set,
    else 40,000 as Glue assumes — unless the user gives an absolute ``override``.
    """
    return _capacity(description, "Write", override)


def table_read_capacity(description: Mapping[str, Any], override: int | None = None) -> int:
    """RCU to budget against; the same rules as :func:`table_write_capacity`."""
    return _capacity(description, "Read", override)


def job_budget(capacity: int, percent: float) -> int:
    """floor(capacity × percent), at least 1 unit per second."""
    return max(1, math.floor(capacity * percent))


def task_budget(capacity: int, percent: float, tasks: int) -> float:
    """Per-task units per second: floor(capacity × percent) / tasks."""
    if tasks < 1:
        raise ConfigError(f"dynamodb.output.numParallelTasks must be at least 1, got {tasks}")
    return job_budget(capacity, percent) / tasks


def glue_slots(worker_type: str, workers: int) -> int:
    """Spark task slots of a Glue job: (workers − 1) executors × slots per executor."""
    validate_worker_type(worker_type)
    if workers < 2:
        raise ConfigError(f"number of workers must be at least 2 (one is the driver), got {workers}")
    return (workers - 1) * SLOTS_PER_EXECUTOR[worker_type]


def spark_task_slots(spark_context: Any) -> int:
    """The running job's task slots: executors × cores per executor, as Glue sizes them.

    On Glue the executors are the workers but one (``spark.dynamicAllocation.maxExecutors`` or
    ``spark.executor.instances``) and each has ``spark.executor.cores`` slots (4 for G.1X, 8 for
    G.2X, …), which is :func:`glue_slots`' formula read from the job itself — so a run started with
    other worker settings than the job's defaults is sized right. Where those are not set (local
    mode), Spark's default parallelism is the number of slots.
    """
    conf = spark_context.getConf()
    executors = conf.get("spark.executor.instances") or conf.get("spark.dynamicAllocation.maxExecutors")
    cores = conf.get("spark.executor.cores")
    try:
        if executors and cores and 0 < int(executors) < 100_000:
            return int(executors) * int(cores)
    except ValueError:
        pass
    return max(1, int(spark_context.defaultParallelism))


def default_parallel_tasks(partitions: int, slots: int) -> int:
    """Glue's default for ``dynamodb.output.numParallelTasks``: min(partitions, slots)."""
    return max(1, min(partitions, slots))
