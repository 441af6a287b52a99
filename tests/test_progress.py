"""Live progress: the board's arithmetic, the tasks → driver channel, the log line and CloudWatch
metrics (moto's, through the same tick), and a rate-limited import watched while it runs."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from ddbmigrate.accounts import Account
from ddbmigrate.bulk import ExportImportOptions, run_export_import
from ddbmigrate.export import emulate_export, open_export
from ddbmigrate.mapping import build_mapping, save_mapping
from ddbmigrate.progress import (
    Board,
    Goal,
    MetricsPublisher,
    Monitor,
    RunDimensions,
    Totals,
    observing,
    status_of,
)
from ddbmigrate.progress import channel as channel_module
from ddbmigrate.progress import monitor as monitor_module
from ddbmigrate.progress.channel import Listener, TaskReporter
from ddbmigrate.progress.counters import Sample, progress_line
from ddbmigrate.progress.monitor import RunInfo
from ddbmigrate.sample import create_sample_table, sample_items
from ddbmigrate.schema import crawl


class Clock:
    """An injected monotonic clock: tests move time, never wait for it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_board_keeps_each_tasks_newest_report_and_a_retried_attempt_replaces_the_one_before() -> None:
    board = Board()
    board.update("write-0", Totals(written=10), seq=2)
    assert not board.update("write-0", Totals(written=5), seq=1)  # late and older: ignored
    board.update("write-1", Totals(written=7, consumed_wcu=7.0), seq=1)
    board.update("write-0", Totals(written=3), attempt=1, seq=1)  # the retry starts again from its own zero
    assert not board.update("write-0", Totals(written=99), attempt=0, seq=9)  # the failed attempt's straggler
    assert board.totals() == Totals(written=10, consumed_wcu=7.0)


def test_the_eta_and_rates_follow_an_injected_clock() -> None:
    clock = Clock()
    lines: list[str] = []
    monitor = Monitor(RunInfo("Orders", Goal(total_items=1000, budget_wcu=50.0)), clock=clock, emit=lines.append,
                      log_interval=60.0)
    monitor.board.update("write-0", Totals(written=0))
    assert monitor.tick().eta_seconds is None  # nothing written yet: no rate, no ETA
    clock.now += 10
    monitor.board.update("write-0", Totals(written=100, consumed_wcu=400.0), seq=1)
    status = monitor.tick()
    assert status.items_per_second == pytest.approx(10.0)
    assert status.wcu_per_second == pytest.approx(40.0)
    assert status.eta_seconds == pytest.approx(90.0)  # 900 left at 10 items/s
    assert len(lines) == 1  # one line per minute, the first at once
    clock.now += 60
    monitor.board.update("write-0", Totals(written=1000, consumed_wcu=4000.0), seq=2)
    assert monitor.tick().eta_seconds == 0.0
    assert "written=1,000 of 1,000 (100.0%)" in lines[-1] and "budget 50" in lines[-1] and "eta=0s" in lines[-1]


def test_rates_are_taken_over_the_last_minute_only() -> None:
    samples = [Sample(0.0, Totals(written=0)), Sample(100.0, Totals(written=100)), Sample(160.0, Totals(written=700))]
    assert status_of(samples, Goal()).items_per_second == pytest.approx(10.0)  # (700 − 100) / 60 s


def test_a_task_reports_running_totals_over_http_and_a_report_without_the_token_is_refused() -> None:
    board = Board()
    listener = Listener(board, interval=0.05)
    try:
        counts = Totals()
        reporter = TaskReporter(listener.channel, "write-00003", interval=0.05)
        reporter.follow(lambda: Totals(written=counts.written))
        counts.written = 40
        seen = threading.Event()
        for _ in range(100):  # the reporter's own thread posts while the "task" goes on
            if board.totals().written == 40:
                seen.set()
                break
            threading.Event().wait(0.02)
        assert seen.is_set()
        counts.written = 55
        reporter.close()  # the final report is synchronous: the board holds the task's last word
        assert board.totals().written == 55
        forged = TaskReporter(channel_module.Channel(listener.channel.url, "not-the-token"), "write-9")
        forged.follow(lambda: Totals(written=10**6))
        forged.close()
        assert board.totals().written == 55 and listener.rejected >= 1
    finally:
        listener.close()


def _metric_sums(cloudwatch: Any, table: str) -> dict[str, float]:
    sums = {}
    end = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
    for name in ("ItemsWritten", "WriteUnitsConsumed", "DeadLettered", "Throttles"):
        metrics = cloudwatch.list_metrics(Namespace="ddbmigrate", MetricName=name,
                                          Dimensions=[{"Name": "Table", "Value": table}])["Metrics"]
        assert metrics, name
        stats = cloudwatch.get_metric_statistics(
            Namespace="ddbmigrate", MetricName=name, Dimensions=metrics[0]["Dimensions"],
            StartTime=end - dt.timedelta(hours=1), EndTime=end, Period=3600, Statistics=["Sum"])
        sums[name] = sum(point["Sum"] for point in stats["Datapoints"])
    return sums


def test_the_log_line_and_the_cloudwatch_metrics_come_from_the_same_tick(local_stack: Any, unique_name: Any) -> None:
    """moto's CloudWatch on the local stack; the publisher sends increases, so the Sums are the totals."""
    table = unique_name("cw")
    cloudwatch = Account(profile="target").client("cloudwatch")
    clock, lines = Clock(), []
    publisher = MetricsPublisher(cloudwatch, RunDimensions("ddbmigrate-export-import", "jr_test", table))
    monitor = Monitor(RunInfo(table, Goal(total_items=300)), clock=clock, publisher=publisher, emit=lines.append)
    for step, written in enumerate((50, 120, 300), start=1):
        clock.now += 61
        monitor.board.update("write-0", Totals(written=written, consumed_wcu=2.0 * written, throttles=step), seq=step)
        monitor.tick()
    assert len(lines) == 3 and lines[-1].startswith(f"{table}: progress: written=300 of 300")
    assert _metric_sums(cloudwatch, table) == {"ItemsWritten": 300, "WriteUnitsConsumed": 600, "DeadLettered": 0,
                                               "Throttles": 3}
    eta = cloudwatch.list_metrics(Namespace="ddbmigrate", MetricName="EstimatedSecondsRemaining",
                                  Dimensions=[{"Name": "Table", "Value": table}])["Metrics"]
    assert {d["Name"] for d in eta[0]["Dimensions"]} == {"JobName", "JobRunId", "Table"}


def test_a_rate_limited_import_is_seen_rising_while_it_runs_and_ends_on_the_final_summary(
        spark: Any, source: Account, source_ddb: Any, target_ddb: Any, s3: Any, bucket: str, unique_name: Any,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(channel_module, "REPORT_INTERVAL", 0.3)  # the driver tells the tasks how often
    monkeypatch.setattr(monitor_module, "TICK", 0.2)
    name = unique_name("watched")
    create_sample_table(source_ddb, name)
    items = list(sample_items(200))
    for i in range(0, len(items), 25):
        source_ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]})
    uri = emulate_export(source, name, s3, bucket, "exp")
    mapping = tmp_path / "mapping.json"
    save_mapping(build_mapping(crawl(open_export(uri, s3))), mapping)
    create_sample_table(target_ddb, name)
    samples: list[Totals] = []
    observed: list[Monitor] = []

    def observe(monitor: Monitor) -> None:
        observed.append(monitor)
        samples.append(monitor.last_totals())

    options = ExportImportOptions(export_uri=uri, mapping=str(mapping), target_table=name,
                                  target=Account(profile="target"), bucket_account=Account(profile="target"),
                                  write_capacity=60, write_percent=1.0, cloudwatch_metrics="on")
    caplog.set_level(logging.INFO, logger="ddbmigrate.progress")
    with observing(observe):
        result = run_export_import(spark, options)
    assert result.ok and result.written == len(items)
    monitor = observed[-1]
    final = monitor.last_totals()
    assert (final.written, final.dead_lettered, final.received) == (result.written, result.dead_lettered, result.read)
    assert final.consumed_wcu == pytest.approx(result.consumed_wcu)
    rising = sorted({s.written for s in samples if 0 < s.written < result.written})
    assert len(rising) >= 3, rising  # seen at least three times part-way, each below the end
    assert all(s.written <= final.written and s.consumed_wcu <= final.consumed_wcu + 1e-6 for s in samples)
    assert monitor.goal == Goal(total_items=len(items), budget_wcu=60.0)
    assert any(f"{name}: progress: written={len(items)}" in r.getMessage() for r in caplog.records)
    sums = _metric_sums(Account(profile="target").client("cloudwatch"), name)
    assert sums["ItemsWritten"] == result.written and sums["WriteUnitsConsumed"] == pytest.approx(result.consumed_wcu)
    assert "eta=" in progress_line(monitor.status())


def test_the_glue_role_may_publish_metrics_to_the_ddbmigrate_namespace_only() -> None:
    from ddbmigrate import policies

    arns = policies.Arns(account="111122223333", region="eu-west-1")
    doc = policies.glue_role_policy(arns, "s3://artifacts/", target_table_arn=TARGET_TABLE_ARN)
    run = next(s for s in doc["Statement"] if s["Sid"] == "RunMetrics")
    assert run["Action"] == ["cloudwatch:PutMetricData"] and run["Resource"] == "*"
    assert run["Condition"] == {"StringEquals": {"cloudwatch:namespace": "ddbmigrate"}}


TARGET_TABLE_ARN = "arn:aws:dynamodb:eu-west-1:111122223333:table/Orders"


def test_charts_are_drawn_from_a_recorded_series_and_the_series_is_kept_beside_them(tmp_path: Path) -> None:
    from ddbmigrate.progress.charts import load_series, write_charts
    from ddbmigrate.progress.counters import LagPoint, Series

    series = Series([Sample(10.0 * i, Totals(written=80 * i, consumed_wcu=160.0 * i, received=80 * i)) for i in range(7)])
    goal = Goal(total_items=600, budget_wcu=20.0)
    lag = [LagPoint(0.0, 40.0), LagPoint(30.0, 12.0), LagPoint(60.0, 1.5)]
    files = write_charts(series, goal, tmp_path / "report", title="Orders", lag=lag)
    for png in (files.wcu, files.items, files.lag):
        assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again, goal_again, lag_again, title = load_series(tmp_path / "report")
    assert again.samples == series.samples and goal_again == goal and lag_again == lag and title == "Orders"
    rows = (tmp_path / "report" / "series.csv").read_text().splitlines()
    assert len(rows) == 1 + len(series.samples) and rows[0].startswith("at,read,received,written")
    assert rows[-1].endswith(",8.0,16.0")  # 80 items and 160 WCU in each 10 s
    redrawn = write_charts(again, goal_again, tmp_path / "redrawn")
    assert redrawn.lag is None and redrawn.wcu.exists()


def test_the_bar_row_shows_items_of_the_total_rates_against_the_budget_and_the_eta() -> None:
    import io

    from rich.console import Console
    from rich.progress import Progress, TextColumn

    from ddbmigrate.cli.watch import item_rows

    screen = io.StringIO()
    clock = Clock()
    monitor = Monitor(RunInfo("Orders", Goal(total_items=1000, budget_wcu=50.0)), clock=clock, emit=lambda _: None)
    console = Console(file=screen, force_terminal=True, color_system=None, width=160)
    with Progress(TextColumn("{task.description} {task.completed}/{task.total} {task.fields[rates]}"),
                  console=console) as progress, item_rows(progress):
        monitor.tick()
        clock.now += 10
        monitor.board.update("write-0", Totals(written=195, dead_lettered=5, consumed_wcu=400.0), seq=1)
        monitor.tick()
    shown = screen.getvalue()
    assert "writing Orders 200/1000 20 items/s · 40/50 WCU/s · dead-lettered 5 · ETA 40s" in shown, shown[-400:]


def test_run_table_copy_reports_reads_and_writes_live_and_writes_its_charts(
        spark: Any, source_ddb: Any, target_ddb: Any, unique_name: Any, tmp_path: Path) -> None:
    import json

    from tables import put_all

    from ddbmigrate.cli.main import main

    source_table, target_table = unique_name("cp-src"), unique_name("cp-dst")
    create_sample_table(source_ddb, source_table)
    put_all(source_ddb, source_table, sample_items(40))
    create_sample_table(target_ddb, target_table)
    code = main(["run", "table-copy", "--source-profile", "source", "--source-table", source_table,
                 "--target-profile", "target", "--target-table", target_table, "--splits", "2",
                 "--report", str(tmp_path / "report")])
    assert code == 0
    last = json.loads((tmp_path / "report" / "series.json").read_text())["samples"][-1]
    assert (last["read"], last["written"]) == (40, 40) and last["consumed_rcu"] > 0 and last["consumed_wcu"] >= 40
    assert (tmp_path / "report" / "wcu.png").exists() and (tmp_path / "report" / "items.png").exists()


def test_spark_started_by_ddbmigrate_run_shows_no_warnings(tmp_path: Path) -> None:
    """A fresh Spark in a child process (the session fixture's JVM has long started)."""
    import subprocess
    import sys

    script = ("from ddbmigrate.cli.watch import quiet_spark_logs\n"
              "from ddbmigrate.gluelocal import local_spark_session\n"
              "with quiet_spark_logs():\n    s = local_spark_session('quiet')\n"
              "print(s.range(3).count()); s.stop()\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "SPARK_CONF_DIR"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "3", done.stderr[-2000:]
    assert "WARN" not in done.stderr and "log level" not in done.stderr, done.stderr[-2000:]


def test_start_follow_reads_a_runs_metrics_back_from_cloudwatch(local_stack: Any, unique_name: Any) -> None:
    """What a Glue run published (moto's CloudWatch), as ``start --follow`` shows it."""
    from ddbmigrate.cli.watch import RunMetricsView

    table, run_id = unique_name("follow"), f"jr_{unique_name('r')}"
    cloudwatch = Account(profile="target").client("cloudwatch")
    view = RunMetricsView(cloudwatch, "ddbmigrate-export-import", run_id)
    assert view.refresh() == ""  # nothing published yet
    publisher = MetricsPublisher(cloudwatch, RunDimensions("ddbmigrate-export-import", run_id, table))
    clock = Clock()
    monitor = Monitor(RunInfo(table, Goal(total_items=100)), clock=clock, publisher=publisher, emit=lambda _: None)
    for step, written in enumerate((40, 75), start=1):
        clock.now += 61
        monitor.board.update("write-0", Totals(written=written, consumed_wcu=float(written), dead_lettered=step), seq=step)
        monitor.tick()
    assert view.refresh() == f"{table}: written=75 consumed_wcu=75.0 dead_lettered=2 throttles=0 eta=39s"  # 23 left at 36 per 61 s


def test_replication_lag_and_records_applied_are_logged_published_and_kept_for_the_chart(
        local_stack: Any, unique_name: Any) -> None:
    from ddbmigrate.progress.replication import ReplicationWatch

    table = unique_name("repl")
    cloudwatch = Account(profile="target").client("cloudwatch")
    clock, lines = Clock(), []
    watch = ReplicationWatch(table, publisher=MetricsPublisher(cloudwatch, RunDimensions("replicate", "local", table)),
                             clock=clock, emit=lines.append)
    watch.update("shard-a", records=10, lag_seconds=None)  # the first update ticks at once
    clock.now += 30
    watch.update("shard-b", records=5, lag_seconds=90.0)  # not due yet: nothing logged
    clock.now += 31
    watch.update("shard-a", records=40, lag_seconds=12.0)
    assert len(lines) == 2 and "records_applied=45 lag=1m30s" in lines[-1]  # the worst shard's lag
    assert [(p.at, p.seconds) for p in watch.lag] == [(61.0, 90.0)]
    end = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
    dims = RunDimensions("replicate", "local", table).as_list()

    def stat(name: str, statistic: str) -> float:
        points = cloudwatch.get_metric_statistics(Namespace="ddbmigrate", MetricName=name, Dimensions=dims,
                                                  StartTime=end - dt.timedelta(hours=1), EndTime=end, Period=3600,
                                                  Statistics=[statistic])["Datapoints"]
        return sum(p[statistic] for p in points)

    assert stat("RecordsApplied", "Sum") == 45 and stat("ReplicationLagSeconds", "Maximum") == 90.0


def test_on_glue_without_logging_configured_the_progress_line_goes_to_the_drivers_stdout(capsys: Any) -> None:
    """Glue's continuous log records the driver's stdout; a Glue script seldom configures logging."""
    from ddbmigrate.progress import watch_job

    logger = logging.getLogger("ddbmigrate.progress")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with watch_job(None, table="Orders", goal=Goal(total_items=10), metrics="off",
                       argv=["--JOB_NAME", "ddbmigrate-export-import", "--JOB_RUN_ID", "jr_0123abcd"]) as monitor:
            monitor.board.update("write-0", Totals(written=10))
    finally:
        logger.setLevel(level)
    assert "Orders: progress: written=10 of 10 (100.0%)" in capsys.readouterr().out
    assert monitor.info.dimensions == RunDimensions("ddbmigrate-export-import", "jr_0123abcd", "Orders")
