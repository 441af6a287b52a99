"""``ddbmigrate local up|down|status`` — the two-account local stack."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ddbmigrate.local.stack import DEFAULT_STATE_DIR, iter_services, stack_down, stack_status, stack_up

_state_dir = click.option(
    "--state-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_STATE_DIR,
    show_default=True, help="Folder for the stack's state, logs, aws_config and env files.",
)


@click.group("local")
def command() -> None:
    """Run DynamoDB Local (source and target accounts) and an S3 server on loopback."""


@command.command("up")
@_state_dir
def up(state_dir: Path) -> None:
    """Start the stack (two DynamoDB Local processes + moto S3/STS) and write DIR/aws_config."""
    stack = stack_up(state_dir)
    console = Console(stderr=True)
    table = Table("service", "endpoint", "pid", title="ddbmigrate local stack")
    for service in stack.services.values():
        table.add_row(service.name, service.endpoint, str(service.pid))
    console.print(table)
    console.print(f"Profiles [bold]source[/] and [bold]target[/] are in {stack.aws_config}. Run:")
    click.echo(f"source {stack.env_file}")


@command.command("down")
@_state_dir
def down(state_dir: Path) -> None:
    """Stop exactly the processes that 'up' started in this state folder."""
    stopped = stack_down(state_dir)
    click.echo(f"stopped {len(stopped)} process(es)" + (f": {', '.join(stopped)}" if stopped else ""))


@command.command("status")
@_state_dir
def status(state_dir: Path) -> int:
    """Show the stack's services and whether each answers; exit 1 when any is down."""
    stack = stack_status(state_dir)
    if stack is None:
        click.echo(f"no stack recorded in {state_dir}")
        return 1
    table = Table("service", "endpoint", "pid", "state")
    healthy = True
    for service, running in iter_services(stack):
        healthy &= running
        table.add_row(service.name, service.endpoint, str(service.pid), "running" if running else "[red]down[/]")
    Console().print(table)
    return 0 if healthy else 1
