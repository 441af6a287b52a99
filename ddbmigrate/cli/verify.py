"""``ddbmigrate verify`` — prove that the target table equals the source.

Command line::

    ddbmigrate verify --source-profile P --source-table T --target-profile Q --target-table U
                      [--source-region/--source-role-arn/--source-external-id/--source-endpoint-url …]
                      [--target-region/--target-role-arn/--target-external-id/--target-endpoint-url …]
                      [--mapping FILE] [--segments N] [--sample FRACTION] [--read-percent P]
                      [--read-capacity RCU] [--consistent] [--max-samples N] [--report FILE] [--spark]

Prints a summary table (stdout); writes the JSON report with ``--report``. Exit code 0 only when
the tables are identical; 8 (VerifyMismatch) when they differ.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ddbmigrate.accounts import Account
from ddbmigrate.capacity import DEFAULT_READ_PERCENT
from ddbmigrate.cli.options import side_options
from ddbmigrate.errors import ConfigError
from ddbmigrate.verify import VerifyOptions, VerifyReport, mapping_transform, verify_spark, verify_tables


def _options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        *side_options("source"),
        *side_options("target"),
        click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path),
                     help="Mapping file the migration used: compare source items as mapped (renames, drops, nesting)."),
        click.option("--segments", type=int, default=4, show_default=True, help="Parallel Scan segments per table."),
        click.option("--sample", type=float, default=1.0, show_default=True,
                     help="Compare this fraction of keys (chosen by key hash, the same on both sides)."),
        click.option("--read-percent", type=float, default=DEFAULT_READ_PERCENT, show_default=True,
                     help="Share of each table's read capacity to use (0.1–1.5; on-demand counts as 40,000 RCU)."),
        click.option("--read-capacity", type=int, default=None,
                     help="RCU to take the percentage of, instead of the table's (use it to cap on-demand tables)."),
        click.option("--consistent", is_flag=True, help="Strongly consistent reads (twice the read units)."),
        click.option("--max-samples", type=int, default=10, show_default=True, help="Sample keys per kind of difference."),
        click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write the full report as JSON to this file."),
        click.option("--spark", is_flag=True, help="Compare with Spark (digests in executors, join on key digest)."),
    ]):
        func = option(func)
    return func


@click.command("verify")
@_options
def command(mapping: Path | None, report_path: Path | None, spark: bool, **options: Any) -> int:
    """Compare the target table with the source: counts, missing, extra and differing items.

    Item contents are never printed: the report holds key values and attribute paths only.
    """
    verify_options = VerifyOptions(
        source=Account.from_options("source", options, label="source"),
        source_table=options["source_table"],
        target=Account.from_options("target", options, label="target"),
        target_table=options["target_table"],
        segments=options["segments"],
        sample=options["sample"],
        read_percent=options["read_percent"],
        read_capacity=options["read_capacity"],
        consistent=options["consistent"],
        max_samples=options["max_samples"],
    )
    transform = mapping_transform(str(mapping)) if mapping else None
    console = Console(stderr=True)
    if spark:
        report = verify_spark(_spark_session(), verify_options, transform=transform)
    else:
        with Progress(TextColumn("{task.description}"), TextColumn("{task.fields[items]:>12,} items"),
                      TextColumn("{task.fields[units]:>10,.1f} RCU"), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            tasks = {side: progress.add_task(f"reading {side}", items=0, units=0.0) for side in ("source", "target")}

            def on_progress(side: str, items: int, units: float) -> None:
                progress.update(tasks[side], items=items, units=units)

            report = verify_tables(verify_options, transform=transform, progress=on_progress)
    Console().print(_summary(report))
    for line in _sample_lines(report):
        click.echo(line)
    if report_path:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(report.to_json(), encoding="utf-8")
        console.print(f"report written to {escape(str(report_path))}")
    report.raise_if_different()
    return 0


def _spark_session() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("--spark needs pyspark: pip install 'ddbmigrate[spark]'") from None
    return SparkSession.builder.appName("ddbmigrate-verify").config("spark.sql.caseSensitive", "true").getOrCreate()


def _summary(report: VerifyReport) -> Table:
    verdict = "[green]identical[/]" if report.identical else "[red]DIFFERENT[/]"
    table = Table("", "source", "target", title=f"verify {escape(report.source_table)} → "
                  f"{escape(report.target_table)}: {verdict}", title_justify="left")
    table.add_row("items read", f"{report.source_items:,}", f"{report.target_items:,}")
    if report.sample < 1.0:
        table.add_row(f"items compared (sample {report.sample:g})", f"{report.compared_source:,}", f"{report.compared_target:,}")
    table.add_row("read units consumed", f"{report.source_read_units:,.1f}", f"{report.target_read_units:,.1f}")
    table.add_row("read budget (RCU/s)", f"{report.source_read_budget:,.0f}", f"{report.target_read_budget:,.0f}")
    table.add_row("matching", f"{report.matching:,}", "")
    table.add_row("missing in target", _count(report.missing), "")
    table.add_row("extra in target", "", _count(report.extra))
    table.add_row("differing", _count(report.differing), "")
    if report.invalid_source:
        table.add_row("could not be compared", _count(report.invalid_source), "")
    return table


def _sample_lines(report: VerifyReport) -> list[str]:
    """Sample keys and what differs, one plain line each (never wrapped, easy to grep)."""
    lines = [f"missing in target: {_short(key)}" for key in report.missing_keys]
    lines += [f"extra in target:   {_short(key)}" for key in report.extra_keys]
    for difference in report.differing_items:
        lines.append(f"differing:         {_short(difference.source_key)}")
        lines += [f"    {detail}" for detail in difference.details]
    lines += [f"not compared:      {_short(i['source_key'])}: {i['reason']}" for i in report.invalid_samples]
    return lines


def _count(value: int) -> str:
    return f"[red]{value:,}[/]" if value else "0"


def _short(key: dict[str, Any]) -> str:
    text = json.dumps(key, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= 120 else text[:117] + "…"
