"""``ddbmigrate demo`` — ``ddbmigrate migrate`` on the local two-account stack, while the source is written.

Starts the stack, seeds a sample table with every DynamoDB type (and a stream) in the **source**
account, starts a writer thread that keeps putting, updating and deleting items, and runs the whole
live migration — plan, preflight, target, export-import (the export emulated, as DynamoDB Local has no
export API), replication from the export time, verify with re-checks, report — into the **target**
account. The writer stops when verify starts; the demo fails unless verify says identical.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ddbmigrate.accounts import Account
from ddbmigrate.local.stack import DEFAULT_STATE_DIR, patched_environ, stack_down, stack_up
from ddbmigrate.sample import create_sample_table, sample_items

__all__ = ["command"]

_TABLE = "ddbmigrate-demo-orders"
_BUCKET = "ddbmigrate-demo-exports"


@click.command("demo")
@click.option("--items", type=click.IntRange(1, 1_000_000), default=500, show_default=True, help="Sample items to seed.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"), show_default=True,
              help="Folder for the migration's state, mapping and report (OUT/migration).")
@click.option("--path", "path", type=click.Choice(["export-import", "table-copy", "import-table"]),
              default="export-import", show_default=True, help="The load path the demo migrates by.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_STATE_DIR, show_default=True)
@click.option("--keep-stack/--stop-stack", default=False, show_default=True, help="Leave the local stack running afterwards.")
def command(items: int, out: Path, path: str, state_dir: Path, keep_stack: bool) -> None:
    """Migrate a live sample table on the local two-account stack and print the report."""
    from ddbmigrate.local.writer import ChangeWriter
    from ddbmigrate.migrate import MigrateOptions, Migration, open_state_location
    from ddbmigrate.migrate.report import summary_rows

    console = Console()
    started = time.monotonic()
    stack = stack_up(state_dir)
    cleanup = contextlib.ExitStack()
    cleanup.enter_context(patched_environ(stack.environ()))  # restored in `finally`: callers keep their own stack
    writer = None
    try:
        source, target = Account(profile="source", label="source"), Account(profile="target", label="target")
        ddb, target_ddb, s3 = source.client("dynamodb"), target.client("dynamodb"), target.client("s3")
        for client in (ddb, target_ddb):
            if _TABLE in client.list_tables()["TableNames"]:
                client.delete_table(TableName=_TABLE)
                client.get_waiter("table_not_exists").wait(TableName=_TABLE)
        create_sample_table(ddb, _TABLE, stream=True)
        _seed(ddb, items)
        if _BUCKET not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
            s3.create_bucket(Bucket=_BUCKET)
        console.print(f"seeded {items} items with every DynamoDB type into [bold]{_TABLE}[/] (source account, stream on)")

        writer = ChangeWriter(ddb, _TABLE, slots=items + items // 5, pause=0.02)
        writer.start()
        console.print("writer thread started: puts, updates and deletes on the source during the whole migration")
        state = out / "migration"
        shutil.rmtree(state, ignore_errors=True)
        options = MigrateOptions(source=source, source_table=_TABLE, target=target, target_table=_TABLE,
                                 state=str(state), path=path, bucket=None if path == "table-copy" else _BUCKET,  # type: ignore[arg-type]
                                 prefix="demo")

        def on_step(step: str, event: str) -> None:
            console.print(f"[bold]{step}[/]: {event} ({time.monotonic() - started:.1f}s)")
            if (step, event) == ("verify", "start") and writer is not None:
                console.print(f"writer stopped after {writer.finish()} changes; verify compares every item")

        report = Migration(options, open_state_location(str(state)), notify=console.print, on_step=on_step).run()
        table = Table("what", "value", title="ddbmigrate demo: migrate on the local stack", title_justify="left")
        for what, value in summary_rows(report):
            table.add_row(what, value)
        table.add_row("writer", ", ".join(f"{kind} {n}" for kind, n in writer.changes.items()))
        table.add_row("elapsed", f"{time.monotonic() - started:.1f}s")
        Console(width=160).print(table)
        console.print(f"report: {state / 'report.md'}; state: {state / 'state.json'}")
    finally:
        if writer is not None:
            writer.stopped.set()
        cleanup.close()
        if not keep_stack:
            stack_down(state_dir)


def _seed(client: object, items: int) -> None:
    batch: list[dict] = []
    for item in sample_items(items):
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == 25:
            _write(client, batch)
            batch = []
    if batch:
        _write(client, batch)


def _write(client: object, batch: list[dict]) -> None:
    request = {_TABLE: batch}
    while request:
        request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}  # type: ignore[attr-defined]
