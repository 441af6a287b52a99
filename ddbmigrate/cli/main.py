"""Entry point: the command tree, and the one place library errors become exit codes.

Each command lives in its own module ``ddbmigrate/cli/<name>.py`` exposing ``command`` (a click
command or group). Library errors (:class:`~ddbmigrate.errors.DdbMigrateError`) are printed as one
line, ``ddbmigrate: error: …``, and exit with the error class's code; so are botocore failures the
user can fix (credentials, region, access, a missing resource, a refused parameter, an unreachable
endpoint), translated here by :func:`ddbmigrate.awserrors.edge_error`. Anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from ddbmigrate import __version__
from ddbmigrate.awserrors import edge_error

__all__ = ["cli", "main"]

COMMAND_MODULES: tuple[str, ...] = (
    "demo", "local", "export", "crawl", "mapping", "run", "verify", "estimate", "policies", "deploy", "start", "replicate", "migrate",
)
"""Modules under ``ddbmigrate.cli`` whose ``command`` joins the tree, in help order."""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="ddbmigrate")
def cli() -> None:
    """Move a live DynamoDB table into another AWS account: export/import, table copy,
    stream replication — lossless, at a controlled share of the target's write capacity."""


for _name in COMMAND_MODULES:
    cli.add_command(importlib.import_module(f"ddbmigrate.cli.{_name}").command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (library errors → one line on stderr)."""
    try:
        result = cli.main(args=argv, prog_name="ddbmigrate", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("ddbmigrate: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except Exception as exc:
        error = edge_error(exc)
        if error is None:
            raise
        click.echo(f"ddbmigrate: error: {error}", err=True)
        return error.exit_code
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
