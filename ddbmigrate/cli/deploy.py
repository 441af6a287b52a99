"""``ddbmigrate deploy`` — make Glue and S3 match ``glue_jobs.yaml``.

Command line::

    ddbmigrate deploy [--config glue_jobs.yaml] [--var NAME=VALUE …] [--dry-run] [--wheel FILE]
                      [--profile P] [--region R]

Prints one line per call made (or, with ``--dry-run``, per call that would be made, with its
request body), then the Glue Studio link of each job. Nothing to change prints so and exits 0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from ddbmigrate.accounts import Account
from ddbmigrate.deploy.apply import deploy, prepared_wheel
from ddbmigrate.deploy.config import DEFAULT_CONFIG, load_config, parse_vars
from ddbmigrate.deploy.plan import ApiCall
from ddbmigrate.deploy.start import job_console_url


def _request(call: ApiCall) -> str:
    params: dict[str, Any] = dict(call.params)
    if call.body is not None:
        params["Body"] = f"<{call.body}>"
    return json.dumps(params, indent=2, sort_keys=True, default=str)


@click.command("deploy")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_CONFIG,
              show_default=True, help="The jobs and crawlers to deploy.")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
              help="Value for a ${NAME} placeholder (wins over the environment); repeat for several.")
@click.option("--dry-run", is_flag=True, help="Read the current state and print the calls deploy would make.")
@click.option("--wheel", type=click.Path(dir_okay=False, path_type=Path),
              help="Upload this ddbmigrate wheel instead of building one.")
@click.option("--profile", help="AWS profile of the account the jobs run in.")
@click.option("--region", help="AWS region (default: the profile's).")
def command(config_path: Path, variables: tuple[str, ...], dry_run: bool, wheel: Path | None,
            profile: str | None, region: str | None) -> None:
    """Create or update the Glue jobs and crawlers of glue_jobs.yaml (idempotent)."""
    config = load_config(config_path, parse_vars(variables))
    account = Account(profile=profile, region=region, label="jobs account")
    console = Console(stderr=True, soft_wrap=True)
    with prepared_wheel(config, wheel) as wheel_path:
        if dry_run:
            with console.status("reading the current state…"):
                result = deploy(config, account, wheel=wheel_path, dry_run=True)
            click.echo(f"dry run: {len(result.calls)} call(s) would be made")
            for call in result.calls:
                click.echo(f"  {call.describe()}")
                click.echo("\n".join("    " + line for line in _request(call).splitlines()))
            return
        result = deploy(config, account, wheel=wheel_path, on_call=lambda call: click.echo(f"  {call.describe()}"))
    if not result.calls:
        click.echo(f"nothing to change: {len(config.jobs)} job(s), {len(config.crawlers)} crawler(s) and "
                   f"{len(result.artifacts)} artifact(s) are up to date")
    else:
        click.echo(f"deployed: {len(result.calls)} call(s) made")
    region_name = account.client("glue").meta.region_name
    for name in config.jobs:
        console.print(f"{escape(name)} in Glue Studio: {escape(job_console_url(region_name, name))}")
