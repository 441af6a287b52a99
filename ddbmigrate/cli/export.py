"""``ddbmigrate export`` — start (or emulate) the native export, wait, check, fix ownership.

Command lines::

    ddbmigrate export --profile P --table NAME|ARN --bucket B [--prefix P] [--bucket-owner ID]
                      [--export-time ISO8601] [--wait] [--enable-pitr] [--emulate|--no-emulate]
    ddbmigrate export run …            (the same, spelled as a subcommand)
    ddbmigrate export wait ARN --profile P
    ddbmigrate export check URI|ARN --profile P [--quick]
    ddbmigrate export fix-ownership URI --profile WRITER

The export commands print the export folder URI as the **last line of stdout**, so scripts can
do ``uri=$(ddbmigrate export … | tail -n1)``; notes and progress go to stderr.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ddbmigrate.accounts import Account
from ddbmigrate.errors import ConfigError
from ddbmigrate.export import ExportRequest, fix_ownership, open_export, run_export, wait_for_export
from ddbmigrate.export.layout import parse_time
from ddbmigrate.export.trigger import export_folder_uri

_EXPORT_DEFAULTS: dict[str, Any] = {
    "table": None, "bucket": None, "prefix": None, "bucket_owner": None, "export_time": None,
    "wait": False, "enable_pitr": False, "emulate": None, "poll_seconds": 10.0,
}


def _account_options(label: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed([
            click.option("--profile", help=f"AWS profile of the {label}."),
            click.option("--region", help="AWS region (default: the profile's)."),
            click.option("--role-arn", help="Role to assume in that account (credentials refresh)."),
            click.option("--external-id", help="External id for --role-arn."),
        ]):
            func = option(func)
        return func

    return decorate


def _export_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--table", help="Source table name or ARN."),
        click.option("--bucket", help="Bucket to export into (may belong to another account)."),
        click.option("--prefix", help="Key prefix inside the bucket."),
        click.option("--bucket-owner", help="12-digit account id owning --bucket, when it is another account's."),
        click.option("--export-time", help="Point in time to export (ISO 8601 with zone, e.g. 2024-05-01T12:00:00Z)."),
        click.option("--wait/--no-wait", default=False, show_default=True, help="Poll until the export completes."),
        click.option("--enable-pitr", is_flag=True, help="Turn point-in-time recovery on if it is off (billed)."),
        click.option("--emulate/--no-emulate", default=None,
                     help="Force the local emulation / forbid it. Default: emulate only where the API is absent."),
        click.option("--poll-seconds", type=float, default=10.0, show_default=True, help="Polling interval for --wait."),
    ]):
        func = option(func)
    return func


def _account(options: dict[str, Any], label: str, prefix: str = "") -> Account:
    return Account(profile=options.get(f"{prefix}profile"), region=options.get(f"{prefix}region"),
                   role_arn=options.get(f"{prefix}role_arn"), external_id=options.get(f"{prefix}external_id"),
                   label=label, option_prefix=f"--{prefix.replace('_', '-')}")


def _parse_time(text: str | None) -> datetime | None:
    return None if text is None else parse_time(text, where="--export-time", error=ConfigError)


@click.group("export", invoke_without_command=True)
@_export_options
@_account_options("source account (the table's)")
@click.pass_context
def command(ctx: click.Context, **options: Any) -> None:
    """Export a table with DynamoDB's native point-in-time export (emulated on DynamoDB Local).

    Without a subcommand this is 'export run'. The last line printed is the export folder URI.
    """
    if ctx.invoked_subcommand is not None:
        given = [f"--{k.replace('_', '-')}" for k, v in options.items() if k in _EXPORT_DEFAULTS and v != _EXPORT_DEFAULTS[k]]
        if given:
            raise click.UsageError(f"{', '.join(given)} belong(s) to the export itself, not to '{ctx.invoked_subcommand}'")
        return
    _run(options)


@command.command("run")
@_export_options
@_account_options("source account (the table's)")
def run(**options: Any) -> None:
    """Start the export (the same as 'ddbmigrate export' with options)."""
    _run(options)


def _run(options: dict[str, Any]) -> None:
    for required in ("table", "bucket"):
        if not options.get(required):
            raise click.UsageError(f"Missing option '--{required}'.")
    account = _account(options, "source")
    request = ExportRequest(table=options["table"], bucket=options["bucket"], prefix=options["prefix"],
                            bucket_owner=options["bucket_owner"], export_time=_parse_time(options["export_time"]),
                            enable_pitr=options["enable_pitr"])
    console = Console(stderr=True)
    scanned = [0]
    with console.status("starting the export…") as status:

        def on_items(count: int) -> None:
            scanned[0] += count
            status.update(f"emulating: {scanned[0]:,} items scanned")

        def on_poll(description: dict[str, Any], elapsed: float) -> None:
            status.update(f"export {description.get('ExportStatus')} — {elapsed:,.0f}s elapsed")

        outcome = run_export(account, request, emulate=options["emulate"], wait=options["wait"],
                             notify=lambda m: console.print(f"[yellow]note:[/] {escape(m)}"),
                             on_poll=on_poll, on_items=on_items, poll_seconds=options["poll_seconds"])
    console.print(f"export [bold]{escape(outcome.export_arn)}[/]: {outcome.status}"
                  + (" (emulated)" if outcome.emulated else ""))
    if outcome.status != "COMPLETED":
        console.print(f"wait for it with: ddbmigrate export wait {escape(outcome.export_arn)}"
                      + (f" --profile {escape(options['profile'])}" if options.get("profile") else ""))
    click.echo(outcome.folder_uri)


@command.command("wait")
@click.argument("arn")
@_account_options("source account (that ran the export)")
@click.option("--poll-seconds", type=float, default=10.0, show_default=True)
@click.option("--timeout", "timeout_seconds", type=float, default=None, help="Give up after this many seconds.")
def wait(arn: str, poll_seconds: float, timeout_seconds: float | None, **options: Any) -> None:
    """Wait for a started export to complete; print its folder URI."""
    dynamodb = _account(options, "source").client("dynamodb")
    console = Console(stderr=True)
    with console.status(f"waiting for {escape(arn)}") as status:
        description = wait_for_export(
            dynamodb, arn, poll_seconds=poll_seconds, timeout_seconds=timeout_seconds,
            on_poll=lambda d, elapsed: status.update(f"export {d.get('ExportStatus')} — {elapsed:,.0f}s elapsed"),
        )
    console.print(f"export {escape(arn)}: COMPLETED, {description.get('ItemCount', '?')} items")
    click.echo(export_folder_uri(description))


@command.command("check")
@click.argument("uri")
@_account_options("bucket owner (target account)")
@click.option("--source-profile", help="Profile of the exporting account, to resolve an export ARN.")
@click.option("--source-region", help="Region of the exporting table, to resolve an export ARN.")
@click.option("--quick", is_flag=True, help="Only check that every data file exists (no download).")
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True)
def check(uri: str, source_profile: str | None, source_region: str | None, quick: bool, workers: int,
          **options: Any) -> None:
    """Verify an export: manifests, every data file's md5 and item count, every line.

    URI is the export folder (s3://B/P/AWSDynamoDB/<ExportId>/) or the export ARN. Fails naming
    each file at fault.
    """
    s3 = _account(options, "bucket owner (target account)").client("s3")
    dynamodb = None
    if uri.startswith("arn:"):
        dynamodb = Account(profile=source_profile or options.get("profile"), region=source_region,
                           label="source").client("dynamodb")
    export = open_export(uri, s3, dynamodb_client=dynamodb)
    with Progress(TextColumn("checking"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("files", total=len(export.data_files))
        report = export.check(verify_checksums=not quick, workers=workers,
                              on_file=lambda _f: progress.advance(task))
    table = Table("export", "data files", "empty", "items", "bytes", "verified", title="export check: OK")
    table.add_row(report.folder_uri, str(report.data_files), str(report.empty_files),
                  f"{report.items:,}" if not quick else f"{export.item_count:,} (manifest)",
                  f"{report.stored_bytes:,}", "md5, counts, lines" if report.checksums_verified else "presence only")
    console = Console()
    console.print(table)
    for note in report.notes:
        console.print(f"note: {escape(note)}")
    click.echo(f"OK {report.folder_uri}")


@command.command("fix-ownership")
@click.argument("uri")
@_account_options("account that wrote the export (the source)")
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True)
def fix_ownership_command(uri: str, workers: int, **options: Any) -> None:
    """Give the bucket owner full control of every object of an export another account wrote.

    Run it with the writer's profile. Idempotent. Not needed when the bucket's Object Ownership is
    'Bucket owner enforced' (then it says so and changes nothing).
    """
    s3 = _account(options, "export writer").client("s3")
    with Console(stderr=True).status("setting bucket-owner-full-control…") as status:
        done = [0]

        def on_object(_key: str) -> None:
            done[0] += 1
            status.update(f"bucket-owner-full-control set on {done[0]:,} object(s)")

        result = fix_ownership(s3, uri, workers=workers, on_object=on_object)
    if result.acl_disabled:
        click.echo(f"ACLs are disabled on the bucket (Object Ownership: bucket owner enforced): the bucket owner "
                   f"already owns all {result.objects} object(s) of {result.folder_uri}; nothing to do")
    else:
        click.echo(f"set bucket-owner-full-control on {result.updated} object(s) of {result.folder_uri}")
