"""``ddbmigrate estimate`` — time, DPU-hours and cost of a run, and which path fits.

Command lines::

    ddbmigrate estimate --table Orders --profile source [--target-table Orders --target-profile target]
                        [--write-percent 0.5] [--worker-type G.1X] [--workers 10]
    ddbmigrate estimate --items 25000000 --avg-item-bytes 1800 --wcu 4000 [--rcu 2000]

Numbers given on the command line win over what DescribeTable says. Without a target table the
target is assumed to get the source's write capacity (it says so).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ddbmigrate.accounts import Account
from ddbmigrate.capacity import SLOTS_PER_EXECUTOR
from ddbmigrate.cli.options import argument_option
from ddbmigrate.dynamodb import describe_table
from ddbmigrate.errors import ConfigError
from ddbmigrate.estimate import (
    PATHS,
    PRICE_PER_DPU_HOUR,
    Estimate,
    TableStats,
    estimate_run,
    format_bytes,
    format_duration,
    stats_from_table,
)
from ddbmigrate.jobargs import TABLE_COPY

__all__ = ["command", "describe_table_stats", "render_estimate"]


def describe_table_stats(account: Account, table: str, *, option: str = "--table") -> TableStats:
    """DescribeTable → :class:`TableStats`; errors name the option and the account."""
    return stats_from_table(describe_table(account, table, option=option))


def render_estimate(estimate: Estimate, console: Console, *, title: str = "estimate") -> None:
    """The estimate as a table, then the reasons for the path and any notes."""
    table = Table("", "", title=title, show_header=False)
    table.add_row("path", estimate.path + ("" if estimate.path == estimate.recommended_path
                                           else f" (recommended: {estimate.recommended_path})"))
    table.add_row("items", f"{estimate.items:,} × {format_bytes(estimate.avg_item_bytes)} average "
                           f"({format_bytes(estimate.table_bytes)})")
    table.add_row("write units", f"{estimate.write_units:,} ({estimate.units_per_item} per item)")
    table.add_row("write budget", f"{estimate.write_budget:,} WCU/s = floor({estimate.write_capacity:,} × "
                                  f"{estimate.write_percent:g})")
    table.add_row("write time", format_duration(estimate.write_seconds))
    if estimate.read_seconds is not None:
        table.add_row("read time", format_duration(estimate.read_seconds))
    table.add_row("run time", f"{format_duration(estimate.seconds)} (incl. {estimate.startup_seconds:.0f} s start-up)")
    table.add_row("workers", f"{estimate.workers} × {estimate.worker_type} = {estimate.dpu} DPU, "
                             f"{estimate.slots} Spark task slots")
    table.add_row("DPU-hours", f"{estimate.dpu_hours:,.2f}")
    table.add_row("Glue cost", f"${estimate.cost:,.2f} at ${estimate.price_per_dpu_hour:g}/DPU-hour")
    console.print(table)
    console.print(f"why {escape(estimate.recommended_path)}:")
    for reason in estimate.reasons:
        console.print(f"  • {escape(reason)}")
    for note in estimate.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")


def _pick(given: Any, found: Any, option: str, hint: str) -> Any:
    if given is not None:
        return given
    if found is None:
        raise ConfigError(f"{option}: not given, and {hint}")
    return found


@click.command("estimate")
@click.option("--table", help="Source table to read the item count, size and RCU from (DescribeTable).")
@click.option("--profile", help="AWS profile of the source account.")
@click.option("--region", help="Source region (default: the profile's).")
@click.option("--target-table", help="Target table to read the WCU from.")
@click.option("--target-profile", help="AWS profile of the target account.")
@click.option("--target-region", help="Target region (default: the profile's).")
@click.option("--items", type=click.IntRange(min=0), help="Number of items (overrides DescribeTable).")
@click.option("--avg-item-bytes", type=click.IntRange(min=0), help="Average item size in bytes.")
@click.option("--table-bytes", type=click.IntRange(min=0), help="Table size in bytes (default: items × average).")
@click.option("--wcu", type=click.IntRange(min=1), help="Target write capacity (on-demand: the cap, else 40000).")
@click.option("--rcu", type=click.IntRange(min=1), help="Source read capacity (table copy read time).")
@argument_option(TABLE_COPY.by_name["write_percent"])
@argument_option(TABLE_COPY.by_name["read_percent"])
@click.option("--worker-type", type=click.Choice(list(SLOTS_PER_EXECUTOR)), default="G.1X", show_default=True)
@click.option("--workers", type=click.IntRange(min=2), default=10, show_default=True)
@click.option("--path", type=click.Choice(list(PATHS)), help="Estimate this path (default: the recommended one).")
@click.option("--price-per-dpu-hour", type=float, default=PRICE_PER_DPU_HOUR, show_default=True,
              help="Glue's price in your region (default: us-east-1).")
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON on stdout.")
def command(table: str | None, profile: str | None, region: str | None, target_table: str | None,
            target_profile: str | None, target_region: str | None, items: int | None, avg_item_bytes: int | None,
            table_bytes: int | None, wcu: int | None, rcu: int | None, write_percent: str | None, read_percent: str | None,
            worker_type: str, workers: int, path: str | None, price_per_dpu_hour: float, as_json: bool) -> None:
    """Estimate a run's time, DPU-hours and Glue cost, and say which path fits the table."""
    console = Console(stderr=True, soft_wrap=True)
    write_percent = TABLE_COPY.by_name["write_percent"].parse(write_percent, option="--write-percent")
    read_percent = TABLE_COPY.by_name["read_percent"].parse(read_percent, option="--read-percent")
    source = describe_table_stats(Account(profile=profile, region=region, label="source"), table) if table else None
    target = None
    if target_table:
        target = describe_table_stats(Account(profile=target_profile, region=target_region, label="target"),
                                      target_table, option="--target-table")
    target_wcu = target.write_capacity if target else None
    if wcu is None and target_wcu is None and source is not None:
        target_wcu = source.write_capacity
        console.print("[yellow]note:[/] no --target-table or --wcu: assuming the target gets the source's "
                      f"write capacity ({target_wcu:,} WCU)")
    no_table = "no --table to read it from"
    estimate = estimate_run(
        _pick(items, source.items if source else None, "--items", no_table),
        _pick(avg_item_bytes, source.avg_item_bytes if source else None, "--avg-item-bytes", no_table),
        _pick(wcu, target_wcu, "--wcu", "no --target-table or --table to read it from"),
        write_percent, worker_type, workers,
        table_bytes=table_bytes if table_bytes is not None else (
            source.table_bytes if source and items is None and avg_item_bytes is None else None),
        rcu=rcu if rcu is not None else (source.read_capacity if source else None),
        read_percent=read_percent, path=path, price_per_dpu_hour=price_per_dpu_hour,
    )
    if as_json:
        click.echo(json.dumps(asdict(estimate), indent=2))
        return
    render_estimate(estimate, Console(soft_wrap=True))
