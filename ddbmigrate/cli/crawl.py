"""``ddbmigrate crawl EXPORT_URI --out FILE [--register DB.TABLE]`` — the local crawler.

``--out`` saves the export's schema; ``--register`` writes the Glue Data Catalog table a Glue
crawler would create for the export's ``data/`` folder (:mod:`ddbmigrate.mapping.register`), in
the catalog of the account ``--profile`` names (moto's Glue on the local stack).

The schema is what the import job reads the export with (an explicit schema: no inference pass)
and what ``ddbmigrate mapping generate --schema FILE`` turns into rules. Reading every data file
gives the exact schema; ``--sample-files N`` reads N files only — faster, but an attribute or a
type found in no sampled file is missing, and the job then dead-letters those items (naming the
attribute) instead of writing them. Re-crawl without ``--sample-files`` to fix that.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ddbmigrate.accounts import Account
from ddbmigrate.export import open_export
from ddbmigrate.schema import Schema, attribute_fields, crawl, passthrough_reasons, save_schema

__all__ = ["account_from", "account_options", "command", "crawl_export", "print_schema_summary", "register_table"]


def account_options(label: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--profile/--region/--role-arn/--external-id`` of the account ``label``."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed([
            click.option("--profile", help=f"AWS profile of the {label}."),
            click.option("--region", help="AWS region (default: the profile's)."),
            click.option("--role-arn", help="Role to assume in that account."),
            click.option("--external-id", help="External id for --role-arn."),
        ]):
            func = option(func)
        return func

    return decorate


def account_from(options: dict[str, Any], label: str) -> Account:
    return Account(profile=options.get("profile"), region=options.get("region"), role_arn=options.get("role_arn"),
                   external_id=options.get("external_id"), label=label, option_prefix="--")


def crawl_export(export_uri: str, account: Account, sample_files: int | None) -> tuple[Schema, dict[str, Any]]:
    """Open the export with the bucket owner's S3 client, crawl it with a progress bar; (schema, source)."""
    export = open_export(export_uri, account.client("s3"))
    non_empty = sum(1 for f in export.data_files if f.item_count > 0)
    planned = min(sample_files, non_empty) if sample_files else non_empty
    counted = {"files": 0, "items": 0}
    with Progress(TextColumn("crawling"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[items]} items"),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("files", total=planned, items="0")

        def on_file(_data_file: Any, items: int) -> None:
            counted["files"] += 1
            counted["items"] += items
            progress.update(task, advance=1, items=f"{counted['items']:,}")

        schema = crawl(export, sample_files=sample_files, on_file=on_file)
    source = {
        "export": export.folder_uri,
        "export_items": export.item_count,
        "items_crawled": counted["items"],
        "files_crawled": f"{counted['files']} of {non_empty} non-empty",
    }
    return schema, source


def print_schema_summary(console: Console, schema: Schema, source: dict[str, Any]) -> None:
    attributes = attribute_fields(schema)
    reasons = passthrough_reasons(schema)
    if "items_crawled" in source:
        console.print(f"{len(attributes)} attribute(s) in {source['items_crawled']:,} item(s) "
                      f"({escape(str(source['files_crawled']))} file(s))")
    else:
        console.print(f"{len(attributes)} attribute(s)")
    for path, why in reasons.items():
        console.print(f"  typed pass-through: {escape(path)} ({escape(why)})")


def register_table(export_uri: str, account: Account, name: str) -> None:
    """``--register DB.TABLE``: one pass over the export, then CreateTable/UpdateTable."""
    from ddbmigrate.mapping.catalog import parse_table_name
    from ddbmigrate.mapping.register import register_export

    database, table = parse_table_name(name, option="--register")
    s3 = account.client("s3")
    export = open_export(export_uri, s3)
    with Progress(TextColumn("registering"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("files", total=len(export.data_files))
        description = register_export(account.client("glue"), s3, export, database, table,
                                      on_file=lambda _f, _n: progress.update(task, advance=1))
    parameters = description["Parameters"]
    Console(stderr=True).print(f"registered {escape(database)}.{escape(table)}: {parameters['recordCount']} record(s) "
                               f"in {parameters['objectCount']} file(s) at {escape(description['StorageDescriptor']['Location'])}")
    click.echo(f"{database}.{table}")


@click.command("crawl")
@click.argument("export_uri")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Schema file to write (JSON), e.g. mappings/orders.schema.json.")
@click.option("--register", "register", metavar="DB.TABLE",
              help="Also register the export's data/ folder in this account's Glue Data Catalog, as the Glue crawler would.")
@click.option("--sample-files", type=click.IntRange(min=1), default=None,
              help="Read only N data files (faster; may miss rare attributes — the job then dead-letters those items).")
@account_options("bucket owner (the account that owns the export bucket)")
def command(export_uri: str, out: Path | None, register: str | None, sample_files: int | None, **options: Any) -> None:
    """Compute the schema of an export's items by reading its data files, and save it (--out)
    or register it in the Glue Data Catalog (--register DB.TABLE).

    EXPORT_URI is the export folder (s3://BUCKET/PREFIX/AWSDynamoDB/<ExportId>/).
    """
    from ddbmigrate.errors import ConfigError

    if out is None and register is None:
        raise ConfigError("crawl: give --out FILE, --register DB.TABLE, or both")
    account = account_from(options, "bucket owner (target account)")
    if register is not None:
        if sample_files:
            raise ConfigError("crawl --register reads every data file, as the Glue crawler does; leave out --sample-files")
        register_table(export_uri, account, register)
        if out is None:
            return
    schema, source = crawl_export(export_uri, account, sample_files)
    if sample_files:
        source["sampled"] = True
    save_schema(schema, out, source=source)
    console = Console(stderr=True)
    print_schema_summary(console, schema, source)
    if sample_files:
        console.print("[yellow]note:[/] sampled: items with attributes or types outside the sample will be "
                      "dead-lettered by the job; crawl without --sample-files for the exact schema")
    click.echo(str(out))
