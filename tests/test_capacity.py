"""Glue's capacity rules: budgets, on-demand tables, slots and the percent range."""

from __future__ import annotations

from typing import Any

import pytest

from ddbmigrate.capacity import (
    ON_DEMAND_CAPACITY,
    default_parallel_tasks,
    glue_slots,
    job_budget,
    spark_task_slots,
    table_read_capacity,
    table_write_capacity,
    task_budget,
    validate_percent,
)
from ddbmigrate.errors import ConfigError

PROVISIONED = {"Table": {"BillingModeSummary": {"BillingMode": "PROVISIONED"},
                         "ProvisionedThroughput": {"ReadCapacityUnits": 300, "WriteCapacityUnits": 1000}}}
ON_DEMAND = {"Table": {"BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
                       "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0}}}


def test_budgets_are_floored_and_split_over_tasks() -> None:
    assert job_budget(1000, 0.5) == 500 and job_budget(3, 0.5) == 1 and job_budget(1, 0.1) == 1
    assert task_budget(1000, 0.5, 4) == 125.0 and task_budget(999, 1.5, 2) == 749.0
    with pytest.raises(ConfigError, match="numParallelTasks must be at least 1"):
        task_budget(1000, 0.5, 0)


def test_table_capacity_provisioned_on_demand_capped_and_overridden() -> None:
    assert (table_write_capacity(PROVISIONED), table_read_capacity(PROVISIONED["Table"])) == (1000, 300)
    assert table_write_capacity(ON_DEMAND) == ON_DEMAND_CAPACITY == 40_000
    capped = {"Table": {**ON_DEMAND["Table"], "OnDemandThroughput": {"MaxWriteRequestUnits": 2500}}}
    assert table_write_capacity(capped) == 2500 and table_read_capacity(capped) == 40_000
    assert table_write_capacity(ON_DEMAND, override=800) == 800
    with pytest.raises(ConfigError, match="capacity override must be a positive"):
        table_read_capacity(PROVISIONED, override=0)


@pytest.mark.parametrize(("value", "expected"), [("0.5", 0.5), (1.5, 1.5), (0.1, 0.1)])
def test_percent_in_glues_range(value: Any, expected: float) -> None:
    assert validate_percent(value) == expected


@pytest.mark.parametrize("value", ["2.0", 0.05, "half", None])
def test_percent_outside_glues_range_names_the_option(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"^--read_percent: "):
        validate_percent(value, option="--read_percent")


def test_slots_and_default_parallel_tasks() -> None:
    assert glue_slots("G.1X", 10) == 36 and glue_slots("G.2X", 3) == 16
    with pytest.raises(ConfigError, match="at least 2"):
        glue_slots("G.1X", 1)
    with pytest.raises(ConfigError, match=r"unknown worker type 'G\.3X'"):
        glue_slots("G.3X", 5)
    assert default_parallel_tasks(100, 36) == 36 and default_parallel_tasks(3, 36) == 3 and default_parallel_tasks(0, 8) == 1


class _GlueLikeContext:
    """A SparkContext as a Glue job sees it (no Glue cluster here): only what spark_task_slots reads."""

    def __init__(self, conf: dict[str, str], default_parallelism: int = 2) -> None:
        self._conf, self.defaultParallelism = conf, default_parallelism

    def getConf(self) -> Any:
        return self._conf


def test_task_slots_come_from_the_jobs_executors_like_glues_formula() -> None:
    # G.1X × 10 workers: 9 executors × 4 cores = glue_slots("G.1X", 10)
    glue = _GlueLikeContext({"spark.dynamicAllocation.maxExecutors": "9", "spark.executor.cores": "4"}, 72)
    assert spark_task_slots(glue) == glue_slots("G.1X", 10) == 36
    assert spark_task_slots(_GlueLikeContext({"spark.executor.instances": "2", "spark.executor.cores": "8"})) == 16
    assert spark_task_slots(_GlueLikeContext({}, default_parallelism=6)) == 6


@pytest.mark.spark
def test_task_slots_of_a_local_session_are_its_parallelism(spark) -> None:
    assert spark_task_slots(spark.sparkContext) == spark.sparkContext.defaultParallelism
