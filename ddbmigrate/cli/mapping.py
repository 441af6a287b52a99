"""``ddbmigrate mapping generate|show|check`` — the ApplyMapping rule files in ``mappings/``.

Command lines::

    ddbmigrate mapping generate (--export URI [--sample-files N] | --schema FILE | --catalog DB.TABLE)
                                --out mappings/NAME.json [--profile P …]
    ddbmigrate mapping show FILE [--python]
    ddbmigrate mapping check FILE

``generate --schema`` reads only the schema file: no data, no AWS call — fast for any export size.
``--catalog`` makes one ``glue:GetTable`` call. ``--export`` crawls the export first (like
``ddbmigrate crawl``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ddbmigrate.cli.crawl import account_from, account_options, crawl_export, print_schema_summary
from ddbmigrate.errors import ConfigError
from ddbmigrate.mapping import build_mapping, glue_python, load_mapping, save_mapping
from ddbmigrate.mapping.catalog import parse_table_name, schema_from_catalog
from ddbmigrate.schema import Schema, load_schema

__all__ = ["command"]


@click.group("mapping")
def command() -> None:
    """Generate, show and check ApplyMapping rule files (mappings/NAME.json)."""


@command.command("generate")
@click.option("--export", "export_uri", help="Export folder to crawl (s3://B/P/AWSDynamoDB/<ExportId>/).")
@click.option("--schema", "schema_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Schema file written by 'ddbmigrate crawl' (reads no data).")
@click.option("--catalog", help="Glue Data Catalog table DB.TABLE registered by the crawler in crawlers/.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Mapping file to write, e.g. mappings/orders.json.")
@click.option("--sample-files", type=click.IntRange(min=1), default=None,
              help="With --export: read only N data files (see 'ddbmigrate crawl --help').")
@account_options("account that owns the export bucket / the Glue catalog")
def generate(export_uri: str | None, schema_file: Path | None, catalog: str | None, out: Path,
             sample_files: int | None, **options: Any) -> None:
    """Generate the lossless ApplyMapping rules for an export and write them with their schema."""
    chosen = [name for name, value in (("--export", export_uri), ("--schema", schema_file), ("--catalog", catalog))
              if value]
    if len(chosen) != 1:
        raise ConfigError("mapping generate: give exactly one of --export, --schema, --catalog"
                          + (f" (got {', '.join(chosen)})" if chosen else ""))
    if sample_files and not export_uri:
        raise ConfigError("--sample-files applies to --export only")
    console = Console(stderr=True)
    schema: Schema
    if export_uri:
        schema, source = crawl_export(export_uri, account_from(options, "bucket owner (target account)"), sample_files)
        print_schema_summary(console, schema, source)
    elif schema_file:
        schema, source = load_schema(schema_file), {"schema": str(schema_file)}
    else:
        database, table = parse_table_name(str(catalog))
        glue = account_from(options, "catalog owner").client("glue")
        schema, source = schema_from_catalog(glue, database, table), {"catalog": str(catalog)}
    mapping = build_mapping(schema, source=source)
    save_mapping(mapping, out)
    console.print(f"{len(mapping.mappings)} rule(s) written to {escape(str(out))}")
    click.echo(str(out))


@command.command("show")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--python", "as_python", is_flag=True, help="Print Python tuples to paste into a Glue Studio script.")
def show(file: Path, as_python: bool) -> None:
    """Print a mapping file's rules (as a table, or as Python tuples for Glue Studio)."""
    mapping = load_mapping(file)
    if as_python:
        click.echo(glue_python(mapping), nl=False)
        return
    table = Table("#", "source path", "source type", "target path", "target type", "DynamoDB type",
                  title=escape(str(file)))
    for rule, raw in zip(mapping.rules, mapping.mappings, strict=True):
        table.add_row(str(rule.index), escape(raw[0]), raw[1], escape(raw[2]), raw[3], rule.tag or "")
    Console().print(table)


@command.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def check(file: Path) -> None:
    """Validate a (possibly edited) mapping file against its schema."""
    mapping = load_mapping(file)
    click.echo(f"OK {file}: {len(mapping.rules)} rule(s)")
