"""``ddbmigrate run`` — run a Glue job script of ``jobs/`` on the local runtime, with a progress bar.

Command lines (``--help`` lists every option; each is a job argument declared once in
:mod:`ddbmigrate.jobargs`)::

    ddbmigrate run export-import --export URI --mapping FILE --target-profile P --target-table T [...]
    ddbmigrate run table-copy --source-profile P --source-table T --target-profile Q --target-table U [...]

Each option becomes the script's Glue argument (``--write-percent`` → ``--write_percent``), and
the script runs exactly as on AWS Glue, through :func:`ddbmigrate.gluelocal.run_script` — so what
works here works as a Glue job. ``--estimate`` prints the time, DPU-hours and Glue cost for the
table instead of running. Every option is checked before Spark starts. The exit code is the script's: 0 only when every item was written and
the counts reconcile.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from ddbmigrate.accounts import Account
from ddbmigrate.capacity import DEFAULT_READ_PERCENT, SLOTS_PER_EXECUTOR
from ddbmigrate.cli.options import Decorator, apply, argument_option
from ddbmigrate.cli.watch import item_rows, quiet_spark_logs, write_run_report
from ddbmigrate.errors import ConfigError
from ddbmigrate.jobargs import EXPORT_IMPORT, JOBS, TABLE_COPY, JobSpec, ParsedArgs, account_of

__all__ = ["command", "job_script", "spark_progress"]



def job_script(job: str) -> Path:
    """The job's script: ``$DDBMIGRATE_JOBS_DIR/<script>``, else ``jobs/`` of this checkout."""
    folder = Path(os.environ.get("DDBMIGRATE_JOBS_DIR") or Path(__file__).resolve().parents[2] / "jobs")
    script = folder / JOBS[job].script
    if not script.is_file():
        raise ConfigError(f"the {job} job script {script} does not exist; run from a clone of the repository "
                          "or set DDBMIGRATE_JOBS_DIR to its jobs/ folder")
    return script


@contextmanager
def spark_progress(spark_context: Any, console: Console, *, interval: float = 0.5) -> Iterator[None]:
    """A progress bar over the Spark tasks of the stages that run meanwhile (read from the status tracker)."""
    tracker = spark_context.statusTracker()
    stop = threading.Event()
    seen: dict[int, tuple[int, int, str]] = {}

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), TextColumn("{task.fields[rates]}"),
                  console=console, transient=True) as progress, item_rows(progress):  # items: ddbmigrate.progress
        bar = progress.add_task("starting Spark", total=None, unit="tasks", rates="")

        def refresh() -> None:
            active = set(tracker.getActiveStageIds())
            for stage_id, (_, total, name) in list(seen.items()):  # stages that ended since: all tasks done
                if stage_id not in active:
                    seen[stage_id] = (total, total, name)
            for stage_id in active:
                info = tracker.getStageInfo(stage_id)
                if info is not None:
                    seen[stage_id] = (info.numCompletedTasks, info.numTasks, info.name)
            if seen:
                done, total = sum(s[0] for s in seen.values()), sum(s[1] for s in seen.values())
                latest = seen[max(seen)][2].split(" at ")[0]
                progress.update(bar, completed=done, total=total, description=f"stage {max(seen)} ({latest})")

        def poll() -> None:
            while not stop.wait(interval):
                refresh()

        thread = threading.Thread(target=poll, name="ddbmigrate-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            refresh()


def _run(spec: JobSpec, parsed: ParsedArgs, report: str | None = None) -> int:
    """Run the job's script with its Glue arguments (already checked); return its exit code.
    ``report``: a folder for the run's charts and series afterwards."""
    from ddbmigrate.gluelocal import local_spark_session, run_script

    script = job_script(spec.name)
    from pyspark.sql import SparkSession

    console = Console(stderr=True)
    running = SparkSession.getActiveSession()  # a caller's session (a notebook, a test) is used, never stopped
    with quiet_spark_logs(running is None):  # Spark's start-up WARN lines are not the user's business
        session = running or local_spark_session(f"ddbmigrate-{spec.name}")
    try:
        with spark_progress(session.sparkContext, console):
            code = run_script(script, spec.glue_arguments(parsed), spark=session)
        if report:
            write_run_report(report, console)
        return code
    finally:
        if running is None:
            session.stop()


def _parse(spec: JobSpec, values: dict[str, Any]) -> ParsedArgs:
    """The declaration checks every option, naming it as the user typed it — before Spark starts."""
    return spec.parse(values, option=lambda argument: argument.cli_flag)


_ESTIMATE_OPTIONS: list[Decorator] = [
    click.option("--estimate", is_flag=True, help="Print time, DPU-hours and Glue cost instead of running."),
    click.option("--worker-type", type=click.Choice(list(SLOTS_PER_EXECUTOR)), default="G.1X", show_default=True,
                 help="For --estimate: the Glue worker type."),
    click.option("--workers", type=click.IntRange(min=2), default=10, show_default=True,
                 help="For --estimate: the number of Glue workers."),
    click.option("--report", type=click.Path(file_okay=False), default=None,
                 help="After the run, write charts (WCU/s against the budget, items/s) and their series into DIR."),
]


def _job_options(spec: JobSpec) -> Decorator:
    """Every argument of the job, in its declared order, then the estimate's own options."""
    return apply([argument_option(argument) for argument in spec.arguments] + _ESTIMATE_OPTIONS)


def _print_estimate(path: str, source_stats: Any, target: Account, target_table: str, parsed: ParsedArgs,
                    values: dict[str, Any]) -> None:
    from ddbmigrate.cli.estimate import describe_table_stats, render_estimate
    from ddbmigrate.estimate import estimate_run

    target_stats = describe_table_stats(target, target_table, option="--target-table")
    estimate = estimate_run(
        source_stats.items, source_stats.avg_item_bytes, parsed["write_capacity"] or target_stats.write_capacity,
        parsed["write_percent"], values["worker_type"], values["workers"], table_bytes=source_stats.table_bytes,
        rcu=parsed.get("read_capacity") or source_stats.read_capacity if path == "table-copy" else None,
        read_percent=parsed.get("read_percent") or DEFAULT_READ_PERCENT, path=path,
    )
    render_estimate(estimate, Console(soft_wrap=True), title=f"{path} estimate")


@click.group("run")
def command() -> None:
    """Run a migration job locally (the same Glue script as on AWS), with a progress bar."""


@command.command("export-import")
@_job_options(EXPORT_IMPORT)
def export_import(**values: Any) -> int:
    """Import a native DynamoDB export into the target table (jobs/export_import.py)."""
    parsed = _parse(EXPORT_IMPORT, values)
    if values["estimate"]:
        from ddbmigrate.estimate import stats_from_export_summary
        from ddbmigrate.export import open_export

        target = account_of(parsed, "target")
        export = open_export(parsed["export_uri"], account_of(parsed, "target", with_role=False).client("s3"))
        _print_estimate("export-import", stats_from_export_summary(export.summary), target, parsed["target_table"],
                        parsed, values)
        return 0
    return _run(EXPORT_IMPORT, parsed, values["report"])


@command.command("table-copy")
@_job_options(TABLE_COPY)
def table_copy(**values: Any) -> int:
    """Copy the source table into the target table with a parallel Scan (jobs/table_copy.py)."""
    parsed = _parse(TABLE_COPY, values)
    if values["estimate"]:
        from ddbmigrate.cli.estimate import describe_table_stats

        source_stats = describe_table_stats(account_of(parsed, "source"), parsed["source_table"], option="--source-table")
        _print_estimate("table-copy", source_stats, account_of(parsed, "target"), parsed["target_table"], parsed, values)
        return 0
    return _run(TABLE_COPY, parsed, values["report"])
