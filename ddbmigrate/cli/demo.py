"""``ddbmigrate demo`` — the bulk path on the local stack, as far as it has landed.

Starts the two-account local stack, seeds a sample table with every DynamoDB type in the
**source** account, exports it (DynamoDB Local has no export API, so the library emulates the
native export byte for byte) into a bucket the **target** account owns, checks the export
against its manifests, crawls it and generates the mapping file.
It then imports the export into the **target** account with the export-import pipeline (the
same code as ``jobs/export_import.py``) and verifies every item of the target against the source.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ddbmigrate.accounts import Account
from ddbmigrate.local.stack import DEFAULT_STATE_DIR, patched_environ, stack_down, stack_up
from ddbmigrate.sample import create_sample_table, sample_items

_TABLE = "ddbmigrate-demo-orders"
_BUCKET = "ddbmigrate-demo-exports"


@click.command("demo")
@click.option("--items", type=click.IntRange(1, 1_000_000), default=500, show_default=True, help="Sample items to seed.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"), show_default=True,
              help="Folder for the schema and mapping files the demo generates.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_STATE_DIR, show_default=True)
@click.option("--keep-stack/--stop-stack", default=False, show_default=True, help="Leave the local stack running afterwards.")
def command(items: int, out: Path, state_dir: Path, keep_stack: bool) -> None:
    """Run the demo migration on the local two-account stack and print a summary."""
    from ddbmigrate.export import emulate_export, open_export
    from ddbmigrate.mapping import build_mapping, save_mapping
    from ddbmigrate.schema import crawl, save_schema

    console = Console(stderr=True)
    started = time.monotonic()
    stack = stack_up(state_dir)
    cleanup = contextlib.ExitStack()
    cleanup.enter_context(patched_environ(stack.environ()))  # restored in `finally`: callers keep their own stack
    try:
        source, target = Account(profile="source", label="source"), Account(profile="target", label="target")
        ddb, s3 = source.client("dynamodb"), target.client("s3")
        if _TABLE in ddb.list_tables()["TableNames"]:
            ddb.delete_table(TableName=_TABLE)
            ddb.get_waiter("table_not_exists").wait(TableName=_TABLE)
        create_sample_table(ddb, _TABLE)
        batch: list[dict] = []
        for item in sample_items(items):
            batch.append({"PutRequest": {"Item": item}})
            if len(batch) == 25:
                _write(ddb, batch)
                batch = []
        if batch:
            _write(ddb, batch)
        console.print(f"seeded {items} items with every DynamoDB type into [bold]{_TABLE}[/] (source account)")

        if _BUCKET not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
            s3.create_bucket(Bucket=_BUCKET)
        uri = emulate_export(source, _TABLE, s3, _BUCKET, "demo")
        export = open_export(uri, s3)
        export.check(verify_checksums=True)
        console.print(f"exported and checked: {uri}")

        schema = crawl(export)
        out.mkdir(parents=True, exist_ok=True)
        save_schema(schema, out / f"{_TABLE}.schema.json", source={"export": uri})
        mapping = build_mapping(schema, source={"export": uri})
        save_mapping(mapping, out / f"{_TABLE}.json")

        from ddbmigrate.bulk import ExportImportOptions, run_export_import
        from ddbmigrate.gluelocal.runner import local_spark_session
        from ddbmigrate.verify import VerifyOptions, verify_tables

        target_ddb = target.client("dynamodb")
        if _TABLE in target_ddb.list_tables()["TableNames"]:
            target_ddb.delete_table(TableName=_TABLE)
            target_ddb.get_waiter("table_not_exists").wait(TableName=_TABLE)
        create_sample_table(target_ddb, _TABLE)
        from pyspark.sql import SparkSession

        owns_spark = SparkSession.getActiveSession() is None  # never stop a caller's session
        spark = local_spark_session("ddbmigrate-demo")
        try:
            result = run_export_import(spark, ExportImportOptions(
                export_uri=uri, mapping=str(out / f"{_TABLE}.json"), target_table=_TABLE,
                target=target, bucket_account=target, dead_letter=str(out / "dead-letters"),
            ))
        finally:
            if owns_spark:
                spark.stop()
        report = verify_tables(VerifyOptions(source=source, source_table=_TABLE, target=target, target_table=_TABLE))

        table = Table("step", "result", title="ddbmigrate demo (local stack)")
        table.add_row("source table (source account)", f"{_TABLE}: {items} items")
        table.add_row("export (target account's bucket)", uri)
        table.add_row("export check", f"{len(export.data_files)} data files, {export.item_count} items, md5 and counts OK")
        table.add_row("schema", str(out / f"{_TABLE}.schema.json"))
        table.add_row("mapping", f"{out / f'{_TABLE}.json'} ({len(mapping.mappings)} ApplyMapping rules)")
        table.add_row("import (target account)", f"read {result.read}, written {result.written}, dead-lettered "
                      f"{result.dead_lettered}, {result.consumed_wcu:.0f} WCU, {result.elapsed_seconds:.1f}s")
        table.add_row("verify", "identical" if report.identical else
                      f"[red]DIFFERENT[/]: missing {report.missing}, extra {report.extra}, differing {report.differing}")
        table.add_row("elapsed", f"{time.monotonic() - started:.1f}s")
        Console().print(table)
        if export.item_count != items or not result.ok:
            raise click.ClickException(f"export {export.item_count}, read {result.read}, written {result.written} of {items} items")
        report.raise_if_different()
    finally:
        cleanup.close()
        if not keep_stack:
            stack_down(state_dir)


def _write(client: object, batch: list[dict]) -> None:
    request = {_TABLE: batch}
    while request:
        request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}  # type: ignore[attr-defined]
