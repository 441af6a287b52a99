"""``ddbmigrate start`` — start a deployed job with overrides, after showing what the run will cost.

Command line::

    ddbmigrate start JOB [--workers N] [--worker-type G.1X] [--write-percent P] [--read-percent P]
                         [--arg KEY=VALUE …] [--timeout MINUTES] [--follow] [--profile P] [--region R]
                         [--items N --avg-item-bytes B --wcu W] [--source-profile P] [--no-estimate]

Before starting it prints the estimate for the run's effective settings (time, DPU-hours, cost):
item count and size from the export's manifest (export-import) or the source table
(table copy, ``--source-profile``), write capacity from ``--write_capacity`` or the target table.
What it cannot find it says, and starts anyway. Stdout ends with the console URL and, last, the
run id; ``--follow`` then polls until the run ends, showing the run's CloudWatch metrics
(items written, WCU, dead letters, throttles, ETA), and exits non-zero unless it SUCCEEDED.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape

from ddbmigrate.accounts import Account
from ddbmigrate.capacity import SLOTS_PER_EXECUTOR
from ddbmigrate.cli.estimate import describe_table_stats, render_estimate
from ddbmigrate.cli.options import argument_option
from ddbmigrate.cli.watch import RunMetricsView
from ddbmigrate.deploy.config import DEFAULT_CONFIG, read_required_arguments
from ddbmigrate.deploy.start import (
    RunOverrides,
    effective_arguments,
    effective_workers,
    follow_run,
    get_job,
    parse_run_arguments,
    run_console_url,
    script_spec,
    start_request,
    start_run,
)
from ddbmigrate.dynamodb import describe_table
from ddbmigrate.errors import ConfigError, DdbMigrateError
from ddbmigrate.estimate import (
    EXPORT_IMPORT,
    TABLE_COPY,
    Estimate,
    TableStats,
    estimate_run,
    stats_from_export_summary,
)
from ddbmigrate.jobargs import TABLE_COPY as TABLE_COPY_ARGS


def _stats(path: str | None, arguments: dict[str, str], account: Account, source_profile: str | None) -> TableStats:
    if path == EXPORT_IMPORT and arguments.get("--export_uri"):
        from ddbmigrate.export import open_export

        export = open_export(arguments["--export_uri"], account.client("s3"), verify_manifests=False)
        return stats_from_export_summary(export.summary)
    if path == TABLE_COPY and arguments.get("--source_table"):
        source = Account(profile=source_profile, region=arguments.get("--source_region"),
                         role_arn=None if source_profile else arguments.get("--source_role_arn"),
                         external_id=None if source_profile else arguments.get("--source_external_id"),
                         label="source")
        return describe_table_stats(source, arguments["--source_table"], option="--source_table")
    raise ConfigError("no export (--export_uri) or source table (--source_table) to count items from")


def _estimate(job: dict[str, Any], arguments: dict[str, str], worker_type: str, workers: int, account: Account,
              options: dict[str, Any]) -> Estimate:
    spec = script_spec(job)
    path = spec.name if spec else None  # the job names are the estimate's path names
    stats = None
    if options["items"] is None or options["avg_item_bytes"] is None:
        stats = _stats(path, arguments, account, options["source_profile"])
    items = options["items"] if options["items"] is not None else stats.items if stats else 0
    avg = options["avg_item_bytes"] if options["avg_item_bytes"] is not None else stats.avg_item_bytes if stats else 0

    def argument(name: str) -> Any:  # the job's own parse and default (the copy's declaration has them all)
        return TABLE_COPY_ARGS.by_name[name].parse(arguments.get(f"--{name}"))

    wcu = options["wcu"] or argument("write_capacity")
    if wcu is None:
        if not arguments.get("--target_table"):
            raise ConfigError("no --wcu, --write_capacity or --target_table to take the write capacity from")
        target = account.with_(region=arguments.get("--target_region") or account.region, label="target")
        wcu = describe_table(target, arguments["--target_table"], option="--target_table").write_capacity
    return estimate_run(
        items, avg, wcu, argument("write_percent"), worker_type, workers,
        table_bytes=stats.table_bytes if stats and options["items"] is None and options["avg_item_bytes"] is None
        else None,
        rcu=stats.read_capacity if stats and path == TABLE_COPY else None,
        read_percent=argument("read_percent"), path=path,
        price_per_dpu_hour=options["price_per_dpu_hour"],
    )


@click.command("start")
@click.argument("job_name", metavar="JOB")
@click.option("--workers", type=int, help="Number of workers for this run (one is the driver).")
@click.option("--worker-type", type=click.Choice(list(SLOTS_PER_EXECUTOR)), help="Worker type for this run.")
@argument_option(TABLE_COPY_ARGS.by_name["write_percent"])
@argument_option(TABLE_COPY_ARGS.by_name["read_percent"])
@click.option("--arg", "arguments", multiple=True, metavar="KEY=VALUE",
              help="Run argument overriding the job's default (e.g. export_uri=s3://…); repeat for several.")
@click.option("--timeout", "timeout_minutes", type=int, help="Timeout of this run in minutes.")
@click.option("--follow", is_flag=True, help="Poll the run until it ends; exit non-zero unless it SUCCEEDED.")
@click.option("--poll-seconds", type=float, default=30.0, show_default=True)
@click.option("--profile", help="AWS profile of the account the job runs in.")
@click.option("--region", help="AWS region (default: the profile's).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_CONFIG,
              show_default=True, help="glue_jobs.yaml, for the job's required_arguments.")
@click.option("--no-estimate", is_flag=True, help="Start without estimating.")
@click.option("--items", type=click.IntRange(min=0), help="Items to copy (for the estimate).")
@click.option("--avg-item-bytes", type=click.IntRange(min=0), help="Average item size (for the estimate).")
@click.option("--wcu", type=click.IntRange(min=1), help="Target write capacity (for the estimate).")
@click.option("--source-profile", help="Profile to describe the source table with (table copy estimate).")
@click.option("--price-per-dpu-hour", type=float, default=0.44, show_default=True)
def command(job_name: str, workers: int | None, worker_type: str | None, write_percent: str | None,
            read_percent: str | None, arguments: tuple[str, ...], timeout_minutes: int | None, follow: bool,
            poll_seconds: float, profile: str | None, region: str | None, config_path: Path, no_estimate: bool,
            **estimate_options: Any) -> None:
    """Start a run of a deployed Glue job with overrides; print the estimate, run id and console URL."""
    console = Console(stderr=True, soft_wrap=True)
    account = Account(profile=profile, region=region, label="jobs account")
    glue = account.client("glue")
    job = get_job(glue, job_name)
    spec = script_spec(job)  # the script's declaration checks every --arg as the script will parse it
    run_arguments = parse_run_arguments(arguments, job=spec)
    for option, key, value in (("--write-percent", "--write_percent", write_percent),
                               ("--read-percent", "--read_percent", read_percent)):
        if value is not None:
            if key in run_arguments:
                raise ConfigError(f"{option}: also given as --arg {key.lstrip('-')}=…; give it once")
            run_arguments.update(parse_run_arguments([f"{key}={value}"], job=spec, option=option))
    overrides = RunOverrides(arguments=run_arguments, worker_type=worker_type, workers=workers,
                             timeout_minutes=timeout_minutes)
    request = start_request(job, overrides, required_arguments=read_required_arguments(config_path, job_name) or ())
    effective = effective_arguments(job, run_arguments)
    run_worker_type, run_workers = effective_workers(job, overrides)
    if not no_estimate:
        try:
            estimate = _estimate(job, effective, run_worker_type, run_workers, account, estimate_options)
        except (DdbMigrateError, ClientError, BotoCoreError, ValueError) as exc:  # an estimate never blocks a run
            console.print(f"[yellow]note:[/] no estimate ({escape(str(exc))}); pass --items, --avg-item-bytes "
                          "and --wcu to get one")
        else:
            render_estimate(estimate, console, title=f"estimate for {job_name}")
    run_id = start_run(glue, request)
    region_name = glue.meta.region_name
    console.print(f"started {escape(job_name)} on {run_workers} × {run_worker_type}"
                  + (f" with {', '.join(sorted(run_arguments))}" if run_arguments else ""))
    click.echo(run_console_url(region_name, job_name, run_id))
    click.echo(run_id)
    if follow:
        with console.status(f"{job_name} {run_id}: starting") as status:
            def on_state(run: dict[str, Any]) -> None:
                status.update(f"{job_name} {run_id}: {run.get('JobRunState')}")
                console.print(f"{escape(job_name)} {escape(run_id)}: {escape(str(run.get('JobRunState')))}")

            metrics = RunMetricsView(account.client("cloudwatch"), job_name, run_id)  # the run's own, live

            def wait(seconds: float) -> None:
                time.sleep(seconds)
                status.update(f"{job_name} {run_id}: {metrics.refresh() or 'no ddbmigrate metrics yet'}")

            run = follow_run(glue, job_name, run_id, poll_seconds=poll_seconds, on_state=on_state, sleep=wait)
        if metrics.refresh():
            console.print(escape(metrics.last))
        seconds = run.get("ExecutionTime")
        console.print(f"{escape(job_name)} {escape(run_id)}: SUCCEEDED"
                      + (f" in {seconds} s" if seconds is not None else ""))
