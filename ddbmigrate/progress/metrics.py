"""CloudWatch custom metrics of a run, namespace ``ddbmigrate``, dimensions JobName, JobRunId, Table.

Counters are published as the increase since the previous publication (unit Count), so a
CloudWatch ``Sum`` over any period is what happened in it, and over the whole run equals the
final summary; ``EstimatedSecondsRemaining`` and ``ReplicationLagSeconds`` are gauges (Seconds).
The client is injected (the job's own account: its role on Glue, moto's CloudWatch in tests). A
failed publication is logged once and the job goes on. The IAM side: ``policies glue-role``.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ddbmigrate.progress.counters import Status, Totals

__all__ = ["COUNTERS", "NAMESPACE", "RECORDS_APPLIED", "REPLICATION_LAG", "MetricsPublisher", "RunDimensions", "RunMetrics", "read_run_metrics"]

log = logging.getLogger(__name__)

NAMESPACE = "ddbmigrate"
RECORDS_APPLIED = "RecordsApplied"
REPLICATION_LAG = "ReplicationLagSeconds"
"""Replication's two figures, under the same names from ``replicate run``, ``migrate`` and the Lambda."""
COUNTERS: Mapping[str, str] = {
    "ItemsWritten": "written",
    "WriteUnitsConsumed": "consumed_wcu",
    "DeadLettered": "dead_lettered",
    "Throttles": "throttles",
}
"""Metric name → :class:`~ddbmigrate.progress.counters.Totals` field, published as increases."""
_PER_CALL = 20
"""PutMetricData's limit on data per call in the oldest API version botocore still knows."""


@dataclass(frozen=True)
class RunDimensions:
    job_name: str
    job_run_id: str
    table: str

    def as_list(self) -> list[dict[str, str]]:
        return [{"Name": "JobName", "Value": self.job_name}, {"Name": "JobRunId", "Value": self.job_run_id},
                {"Name": "Table", "Value": self.table}]


@dataclass
class MetricsPublisher:
    """Publishes a run's figures to CloudWatch; ``client`` is a boto3 ``cloudwatch`` client."""

    client: Any
    dimensions: RunDimensions
    now: Callable[[], _dt.datetime] = field(default=lambda: _dt.datetime.now(_dt.timezone.utc))
    _last: Totals = field(default_factory=Totals)
    _failed: bool = False

    def publish(self, status: Status) -> None:
        """The counters' increases since the last call, and the ETA when it is known."""
        totals = status.totals
        data = [self._datum(name, getattr(totals, attr) - getattr(self._last, attr), "Count")
                for name, attr in COUNTERS.items()]
        if status.eta_seconds is not None:
            data.append(self._datum("EstimatedSecondsRemaining", status.eta_seconds, "Seconds"))
        if self._put(data):
            self._last = Totals().merge(totals)

    def publish_replication(self, *, lag_seconds: float | None, records_applied: int) -> bool:
        """Replication's figures: the lag (a gauge) and the records applied since the last call;
        False when not published (the caller adds the records to the next call)."""
        data = [self._datum(RECORDS_APPLIED, records_applied, "Count")]
        if lag_seconds is not None:
            data.append(self._datum(REPLICATION_LAG, lag_seconds, "Seconds"))
        return self._put(data)

    def _datum(self, name: str, value: float, unit: str) -> dict[str, Any]:
        return {"MetricName": name, "Dimensions": self.dimensions.as_list(), "Timestamp": self.now(),
                "Value": float(value), "Unit": unit}

    def _put(self, data: list[dict[str, Any]]) -> bool:
        try:
            for start in range(0, len(data), _PER_CALL):
                self.client.put_metric_data(Namespace=NAMESPACE, MetricData=data[start:start + _PER_CALL])
        except Exception as exc:  # metrics never fail a job
            if not self._failed:
                self._failed = True
                log.warning("CloudWatch metrics for %s not published (%s: %s); the job goes on. "
                            "Is cloudwatch:PutMetricData allowed for namespace %r? (ddbmigrate policies glue-role)",
                            self.dimensions.table, type(exc).__name__, exc, NAMESPACE)
            return False
        return True


@dataclass(frozen=True)
class RunMetrics:
    """A Glue run's figures as CloudWatch holds them (``ddbmigrate start --follow`` shows them)."""

    table: str
    sums: Mapping[str, float]
    """Metric name → its Sum since the run started (the counters of :data:`COUNTERS`)."""
    eta_seconds: float | None

    def line(self) -> str:
        written, wcu = self.sums.get("ItemsWritten", 0.0), self.sums.get("WriteUnitsConsumed", 0.0)
        dead, throttles = self.sums.get("DeadLettered", 0.0), self.sums.get("Throttles", 0.0)
        eta = "?" if self.eta_seconds is None else f"{self.eta_seconds:,.0f}s"
        return (f"{self.table}: written={written:,.0f} consumed_wcu={wcu:,.1f} dead_lettered={dead:,.0f} "
                f"throttles={throttles:,.0f} eta={eta}")


def read_run_metrics(client: Any, job_name: str, run_id: str, *, since: _dt.datetime | None = None,
                     now: _dt.datetime | None = None) -> list[RunMetrics]:
    """Every table's figures published by run ``run_id`` of ``job_name`` (empty until the first)."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    since = since or now - _dt.timedelta(days=1)
    found = client.list_metrics(Namespace=NAMESPACE, MetricName="ItemsWritten",
                                Dimensions=[{"Name": "JobName", "Value": job_name}, {"Name": "JobRunId", "Value": run_id}])
    tables = sorted({d["Value"] for m in found.get("Metrics", []) for d in m["Dimensions"] if d["Name"] == "Table"})
    period = max(60, int((now - since).total_seconds()) // 60 * 60 + 60)
    result = []
    for table in tables:
        dimensions = RunDimensions(job_name, run_id, table).as_list()
        sums = {}
        for name in COUNTERS:
            points = client.get_metric_statistics(Namespace=NAMESPACE, MetricName=name, Dimensions=dimensions,
                                                  StartTime=since, EndTime=now + _dt.timedelta(minutes=1),
                                                  Period=period, Statistics=["Sum"])["Datapoints"]
            sums[name] = sum(p["Sum"] for p in points)
        points = client.get_metric_statistics(Namespace=NAMESPACE, MetricName="EstimatedSecondsRemaining",
                                              Dimensions=dimensions, StartTime=now - _dt.timedelta(minutes=10),
                                              EndTime=now + _dt.timedelta(minutes=1), Period=60,
                                              Statistics=["Minimum"])["Datapoints"]
        latest = max(points, key=lambda p: p["Timestamp"]) if points else None
        result.append(RunMetrics(table, sums, latest["Minimum"] if latest else None))
    return result
