"""``ddbmigrate run`` — run a Glue job script of ``jobs/`` on the local runtime, with a progress bar.

Command lines::

    ddbmigrate run export-import --export URI --mapping FILE --target-profile P --target-table T
                                 [--write-percent P] [--write-capacity WCU] [--parallel-tasks N]
                                 [--dead-letter DIR|s3://…] [--max-retries N] [--requests-in-flight N]
                                 [--apply-mapping auto|always] [--estimate]
    ddbmigrate run table-copy --source-profile P --source-table T --target-profile Q --target-table U
                              [--read-percent P] [--read-capacity RCU] [--splits N] [--consistent]
                              [--mapping FILE] [write options as above] [--estimate]

Each option becomes the script's Glue argument (``--write-percent`` → ``--write_percent``), and
the script runs exactly as on AWS Glue, through :func:`ddbmigrate.gluelocal.run_script` — so what
works here works as a Glue job. ``--estimate`` prints the time, DPU-hours and Glue cost for the
table instead of running. The exit code is the script's: 0 only when every item was written and
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
from ddbmigrate.capacity import DEFAULT_READ_PERCENT, DEFAULT_WRITE_PERCENT, SLOTS_PER_EXECUTOR
from ddbmigrate.cli.options import Decorator, apply, side_options
from ddbmigrate.errors import ConfigError
from ddbmigrate.sink.options import DEFAULT_REQUESTS_IN_FLIGHT

__all__ = ["command", "job_script", "spark_progress"]

_JOB_SCRIPTS = {"export-import": "export_import.py", "table-copy": "table_copy.py"}
_TABLE_HELP = "The table's name or ARN (an ARN's region is used when none is given)."


def job_script(job: str) -> Path:
    """The job's script: ``$DDBMIGRATE_JOBS_DIR/<script>``, else ``jobs/`` of this checkout."""
    folder = Path(os.environ.get("DDBMIGRATE_JOBS_DIR") or Path(__file__).resolve().parents[2] / "jobs")
    script = folder / _JOB_SCRIPTS[job]
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
                  TextColumn("tasks"), TimeElapsedColumn(), console=console, transient=True) as progress:
        bar = progress.add_task("starting Spark", total=None)

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


def _run(job: str, arguments: dict[str, Any]) -> int:
    """Run the job's script with ``--name value`` Glue arguments; return its exit code."""
    from ddbmigrate.gluelocal import local_spark_session, run_script

    script = job_script(job)
    argv: list[str] = []
    for name, value in arguments.items():
        if value is None or value is False:
            continue
        argv += [f"--{name}", "true" if value is True else str(value)]
    from pyspark.sql import SparkSession

    console = Console(stderr=True)
    running = SparkSession.getActiveSession()  # a caller's session (a notebook, a test) is used, never stopped
    session = running or local_spark_session(f"ddbmigrate-{job}")
    try:
        with spark_progress(session.sparkContext, console):
            return run_script(script, argv, spark=session)
    finally:
        if running is None:
            session.stop()


def _write_options() -> list[Decorator]:
    return [
        click.option("--write-percent", type=float, default=DEFAULT_WRITE_PERCENT, show_default=True,
                     help="Share of the target's WCU for the whole job (0.1–1.5, Glue's rule)."),
        click.option("--write-capacity", type=click.IntRange(min=1),
                     help="WCU to take the percentage of instead of the table's (on-demand counts as 40,000)."),
        click.option("--parallel-tasks", type=click.IntRange(min=1), help="Writing tasks (default: min(partitions, slots))."),
        click.option("--dead-letter", help="Folder or s3://bucket/prefix/ for items that can never be written."),
        click.option("--max-retries", type=click.IntRange(min=0), default=10, show_default=True,
                     help="Attempts without progress before a batch gives up."),
        click.option("--requests-in-flight", type=click.IntRange(min=1), default=DEFAULT_REQUESTS_IN_FLIGHT, show_default=True,
                     help="Writers per task, each with one request in flight (they share the task's budget)."),
        click.option("--estimate", is_flag=True, help="Print time, DPU-hours and Glue cost instead of running."),
        click.option("--worker-type", type=click.Choice(list(SLOTS_PER_EXECUTOR)), default="G.1X", show_default=True,
                     help="For --estimate: the Glue worker type."),
        click.option("--workers", type=click.IntRange(min=2), default=10, show_default=True,
                     help="For --estimate: the number of Glue workers."),
    ]


def _print_estimate(path: str, source_stats: Any, target: Account, target_table: str, values: dict[str, Any]) -> None:
    from ddbmigrate.cli.estimate import describe_table_stats, render_estimate
    from ddbmigrate.estimate import estimate_run

    target_stats = describe_table_stats(target, target_table, option="--target-table")
    estimate = estimate_run(
        source_stats.items, source_stats.avg_item_bytes, values.get("write_capacity") or target_stats.write_capacity,
        values["write_percent"], values["worker_type"], values["workers"], table_bytes=source_stats.table_bytes,
        rcu=values.get("read_capacity") or source_stats.read_capacity if path == "table-copy" else None,
        read_percent=values.get("read_percent") or DEFAULT_READ_PERCENT, path=path,
    )
    render_estimate(estimate, Console(soft_wrap=True), title=f"{path} estimate")


@click.group("run")
def command() -> None:
    """Run a migration job locally (the same Glue script as on AWS), with a progress bar."""


@command.command("export-import")
@click.option("--export", "export_uri", required=True, help="Export folder: s3://B/P/AWSDynamoDB/<ExportId>/.")
@click.option("--mapping", required=True, help="Mapping file (path or s3://…) from `ddbmigrate mapping generate`.")
@click.option("--apply-mapping", type=click.Choice(["auto", "always"]), default="auto", show_default=True,
              help="auto: rules that only rename, drop or nest are applied item by item (same items); "
                   "always: ApplyMapping on a DynamicFrame.")
@apply(side_options("target", table_help=_TABLE_HELP))
@apply(_write_options())
def export_import(**values: Any) -> int:
    """Import a native DynamoDB export into the target table (jobs/export_import.py)."""
    if values["estimate"]:
        from ddbmigrate.estimate import stats_from_export_summary
        from ddbmigrate.export import open_export

        export = open_export(values["export_uri"], Account.from_options("target", values, label="target").client("s3"))
        _print_estimate("export-import", stats_from_export_summary(export.summary), Account.from_options("target", values, label="target"),
                        values["target_table"], values)
        return 0
    return _run("export-import", {
        "export_uri": values["export_uri"], "mapping": values["mapping"], "target_table": values["target_table"],
        "apply_mapping": values["apply_mapping"], **_glue_side(values, "target"), **_glue_write(values),
    })


@command.command("table-copy")
@apply(side_options("source", table_help=_TABLE_HELP))
@apply(side_options("target", table_help=_TABLE_HELP))
@click.option("--read-percent", type=float, default=DEFAULT_READ_PERCENT, show_default=True,
              help="Share of the source's RCU for the whole job (0.1–1.5; on-demand counts as 40,000).")
@click.option("--read-capacity", type=click.IntRange(min=1), help="RCU to take the percentage of instead of the table's.")
@click.option("--splits", type=click.IntRange(1, 1_000_000), help="Parallel Scan segments (default: Spark's task slots).")
@click.option("--consistent", is_flag=True, help="Strongly consistent reads (twice the read units).")
@click.option("--mapping", help="Optional mapping file of renames (path or s3://…).")
@apply(_write_options())
def table_copy(**values: Any) -> int:
    """Copy the source table into the target table with a parallel Scan (jobs/table_copy.py)."""
    if values["estimate"]:
        from ddbmigrate.cli.estimate import describe_table_stats

        source_stats = describe_table_stats(Account.from_options("source", values, label="source"), values["source_table"], option="--source-table")
        _print_estimate("table-copy", source_stats, Account.from_options("target", values, label="target"), values["target_table"], values)
        return 0
    return _run("table-copy", {
        "source_table": values["source_table"], "target_table": values["target_table"],
        **_glue_side(values, "source"), **_glue_side(values, "target"),
        "read_percent": values["read_percent"], "read_capacity": values["read_capacity"], "splits": values["splits"],
        "consistent_read": values["consistent"], "mapping": values["mapping"], **_glue_write(values),
    })


def _glue_side(values: dict[str, Any], side: str) -> dict[str, Any]:
    return {f"{side}_{name}": values[f"{side}_{name}"] for name in ("profile", "region", "endpoint_url", "role_arn", "external_id")}


def _glue_write(values: dict[str, Any]) -> dict[str, Any]:
    return {name: values[name] for name in ("write_percent", "write_capacity", "parallel_tasks", "dead_letter", "max_retries",
                                             "requests_in_flight")}
