"""``ddbmigrate migrate`` — the whole live migration as one resumable command, ending in a report.

Thin: options → :class:`~ddbmigrate.migrate.MigrateOptions` (write and read percent parsed by their
one declaration in :mod:`ddbmigrate.jobargs`), then :class:`~ddbmigrate.migrate.Migration`; the plan
and the report are printed as rich tables. docs/migrate.md tells the steps, the state file and resume.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ddbmigrate.accounts import Account
from ddbmigrate.capacity import SLOTS_PER_EXECUTOR
from ddbmigrate.cli.options import apply, argument_option, side_options
from ddbmigrate.errors import VerifyMismatch
from ddbmigrate.jobargs import TABLE_COPY
from ddbmigrate.migrate import MigrateOptions, Migration, open_state_location
from ddbmigrate.migrate.options import PATHS, UNTIL
from ddbmigrate.migrate.report import summary_rows

__all__ = ["command"]

_WRITE_PERCENT = TABLE_COPY.by_name["write_percent"]
_READ_PERCENT = TABLE_COPY.by_name["read_percent"]


@click.command("migrate")
@apply([
    *side_options("source"),
    *side_options("target"),
    click.option("--path", type=click.Choice(PATHS), default="auto", show_default=True,
                 help="How to load: auto chooses and says why (docs/migrate.md)."),
    click.option("--bucket", help="Bucket of the target account for the export (export-import, import-table)."),
    click.option("--prefix", help="Key prefix for the export under --bucket."),
    click.option("--mapping", help="Mapping file (path or s3://…); default: generated from the export."),
    argument_option(_WRITE_PERCENT),
    argument_option(_READ_PERCENT),
    click.option("--on-glue", "on_glue", metavar="JOB", help="Run the load as this deployed Glue job; hand replication to the Lambda."),
    click.option("--workers", type=click.IntRange(min=2), help="With --on-glue: the number of workers."),
    click.option("--worker-type", type=click.Choice(list(SLOTS_PER_EXECUTOR)), help="With --on-glue: the worker type."),
    click.option("--state", "state", help="Folder or s3://… for the state file and reports.  "
                                          "[default: migrations/SOURCE-to-TARGET]"),
    click.option("--resume", is_flag=True, help="Continue the migration recorded under --state."),
    click.option("--dry-run", "dry_run", is_flag=True, help="Print the plan and stop."),
    click.option("--enable-pitr", "enable_pitr", is_flag=True, help="Turn on point-in-time recovery of the source."),
    click.option("--enable-stream", "enable_stream", is_flag=True,
                 help="Turn on the source's stream (NEW_AND_OLD_IMAGES) before the export time is taken."),
    click.option("--until", type=click.Choice(UNTIL), default="verified", show_default=True,
                 help="Stop once replication has caught up, or verify and report."),
])
def command(path: str, bucket: str | None, prefix: str | None, mapping: str | None, on_glue: str | None,
            workers: int | None, worker_type: str | None, state: str | None, resume: bool, dry_run: bool,
            enable_pitr: bool, enable_stream: bool, until: str, **options: Any) -> int:
    """Migrate a live table: plan, preflight, target, load, replicate, verify, report — resumable."""
    source = Account.from_options("source", options, label="source")
    target = Account.from_options("target", options, label="target")
    location_uri = state or f"migrations/{options['source_table']}-to-{options['target_table']}"
    migrate_options = MigrateOptions(
        source=source, source_table=options["source_table"], target=target, target_table=options["target_table"],
        state=location_uri, path=path, bucket=bucket, prefix=prefix, mapping=mapping,  # type: ignore[arg-type]
        write_percent=_WRITE_PERCENT.parse(options["write_percent"], option="--write-percent"),
        read_percent=_READ_PERCENT.parse(options["read_percent"], option="--read-percent"),
        on_glue=on_glue, workers=workers, worker_type=worker_type, resume=resume, dry_run=dry_run,
        enable_pitr=enable_pitr, enable_stream=enable_stream, until=until)  # type: ignore[arg-type]
    s3 = target.without_role(label="state owner (target account)").client("s3") if location_uri.startswith("s3://") else None
    console = Console()  # stdout: stderr carries only the one-line error
    started = time.monotonic()

    def on_step(step: str, event: str) -> None:
        console.print(f"[bold]{step}[/]: {event} ({time.monotonic() - started:.1f}s)")

    migration = Migration(migrate_options, open_state_location(location_uri, s3_client=s3),
                          notify=lambda message: console.print(message), on_step=on_step)
    if dry_run:
        plan = migration.plan()
        _print("ddbmigrate migrate --dry-run: the plan", plan.rows())
        return 0
    title = f"ddbmigrate migrate: {options['source_table']} → {options['target_table']}"
    try:
        report = migration.run()
    except VerifyMismatch:  # the report was written: show it, then the one-line error
        _print(title, summary_rows(json.loads(migration.location.read("report.json") or "{}")))
        raise
    _print(title, summary_rows(report))
    click.echo(f"report: {migration.location.describe('report.md')}")
    return 0


def _print(title: str, rows: list[tuple[str, str]]) -> None:
    table = Table("what", "value", title=title, title_justify="left")
    for what, value in rows:
        table.add_row(what, value)
    Console(width=160).print(table)
