"""``ddbmigrate policies …`` — print the IAM documents each principal of a migration needs.

Command lines::

    ddbmigrate policies export --table ARN --bucket B --target-account ID [--prefix P] [--source-principal ARN]
    ddbmigrate policies glue-role --account ID --region R --artifacts s3://B/P/ --target-role-arn ARN …
    ddbmigrate policies target-role --table ARN --trusted ARN … --external-id X
    ddbmigrate policies source-role --table ARN --trusted ARN … --external-id X
    ddbmigrate policies replication-role --table ARN --function-name F --target-role-arn ARN

Each prints its documents as JSON on stdout, each preceded by a title on stderr; ``--only NAME``
prints one document alone (ready for ``file://`` in the AWS CLI) and ``--format cloudformation``
a template that creates the role (or sets the bucket policy).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from ddbmigrate import policies as p
from ddbmigrate.errors import ConfigError

_FORMATS = click.Choice(["json", "cloudformation"])


def _emit(documents: dict[str, tuple[str, dict[str, Any]]], only: str | None, template: dict[str, Any] | None) -> None:
    """Print ``{name: (title, document)}`` — all, one (``only``), or a CloudFormation template."""
    console = Console(stderr=True, soft_wrap=True)
    if template is not None:
        click.echo(json.dumps(template, indent=2))
        return
    if only is not None:
        click.echo(json.dumps(documents[only][1], indent=2))
        return
    for name, (title, document) in documents.items():
        console.print(f"[bold]# {escape(name)}[/]: {escape(title)}")
        click.echo(json.dumps(document, indent=2))


def _table_arn(table: str, account: str | None, region: str | None) -> str:
    if table.startswith("arn:"):
        arns, _ = p.Arns.from_table_arn(table)
        if account and account != arns.account:
            raise ConfigError(f"--table: the ARN is in account {arns.account}, not {account}")
        return table
    if not (account and region):
        raise ConfigError("--table: give the table ARN, or its name with --source-account/--account and --region")
    return p.Arns(account=account, region=region).table(table)


def _format_options(choices: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = click.option("--format", "fmt", type=_FORMATS, default="json", show_default=True,
                            help="JSON documents, or a CloudFormation template.")(func)
        return click.option("--only", type=click.Choice(choices), help="Print only this document.")(func)

    return decorate


@click.group("policies")
def command() -> None:
    """Least-privilege IAM documents: export, Glue job role, target/source roles, replication role."""


@command.command("export")
@click.option("--table", required=True, help="Source table name or ARN.")
@click.option("--source-account", help="12-digit source account id (with a table name).")
@click.option("--region", help="Source table's region (with a table name).")
@click.option("--target-account", required=True, help="12-digit id of the account owning --bucket.")
@click.option("--bucket", required=True, help="Bucket the export is written to (target account).")
@click.option("--prefix", help="Key prefix of the export (as given to 'ddbmigrate export').")
@click.option("--source-principal", help="Role/user ARN that runs the export (default: the source account).")
@click.option("--enable-pitr", is_flag=True, help="Also allow turning PITR on (export --enable-pitr).")
@click.option("--fix-ownership", is_flag=True, help="Also allow 'export fix-ownership' (listing the export).")
@click.option("--kms-key-arn", help="KMS key of an SSE-KMS bucket.")
@_format_options(["identity", "bucket"])
def export(table: str, source_account: str | None, region: str | None, target_account: str, bucket: str,
           prefix: str | None, source_principal: str | None, enable_pitr: bool, fix_ownership: bool,
           kms_key_arn: str | None, only: str | None, fmt: str) -> None:
    """The source identity policy and the target bucket policy the native export needs."""
    table_arn = _table_arn(table, source_account, region)
    arns, _ = p.Arns.from_table_arn(table_arn)
    if target_account == arns.account:
        note = "source and target are the same account: the bucket policy is not needed"
        Console(stderr=True, soft_wrap=True).print(f"[yellow]note:[/] {note}")
    identity = p.export_identity_policy(table_arn, bucket, prefix, bucket_owner=target_account,
                                        enable_pitr=enable_pitr, fix_ownership=fix_ownership, kms_key_arn=kms_key_arn)
    bucket_policy = p.export_bucket_policy(bucket, prefix, source_principal or arns.account,
                                           fix_ownership=fix_ownership, partition=arns.partition)
    template = None
    if fmt == "cloudformation":
        if only is None:
            raise ConfigError("--format cloudformation: the two documents live in two accounts; "
                              "add --only identity (source account) or --only bucket (target account)")
        template = (p.managed_policy_template("ddbmigrate-export", "ddbmigrate: run the DynamoDB export", identity)
                    if only == "identity" else
                    p.bucket_policy_template(bucket, "ddbmigrate: let the source account write the export",
                                             bucket_policy))
    _emit({
        "identity": (f"identity policy for the exporting principal in the source account {arns.account}", identity),
        "bucket": (f"bucket policy for s3://{bucket} in the target account {target_account} "
                   "(merge with its existing statements)", bucket_policy),
    }, only, template)


@command.command("glue-role")
@click.option("--account", required=True, help="12-digit id of the account the Glue jobs run in.")
@click.option("--region", required=True, help="Region the Glue jobs run in.")
@click.option("--artifacts", required=True, help="S3 folder of scripts, wheel and mappings (deploy's artifacts).")
@click.option("--export", "export_uri", help="Export prefix the export-import job reads (s3://B/P/).")
@click.option("--dead-letter", help="S3 folder for dead letters.")
@click.option("--temp-dir", help="The jobs' --TempDir.")
@click.option("--target-role-arn", help="Target-account role the jobs assume to write.")
@click.option("--target-table-arn", help="Target table written directly (same account, no role).")
@click.option("--source-role-arn", help="Source-account role a table copy assumes to read.")
@click.option("--source-table-arn", help="Source table read directly (same account, no role).")
@click.option("--crawler-database", help="Data Catalog database the export crawler (same role) writes.")
@click.option("--role-name", default="ddbmigrate-glue", show_default=True)
@_format_options(["trust", "permissions"])
def glue_role(account: str, region: str, artifacts: str, export_uri: str | None, dead_letter: str | None,
              temp_dir: str | None, target_role_arn: str | None, target_table_arn: str | None,
              source_role_arn: str | None, source_table_arn: str | None, crawler_database: str | None,
              role_name: str, only: str | None, fmt: str) -> None:
    """The Glue job role: trust for Glue, and what the two jobs (and the crawler) read, write and assume."""
    arns = p.Arns(account=account, region=region)
    policy = p.glue_role_policy(arns, artifacts, export=export_uri, dead_letter=dead_letter, temp_dir=temp_dir,
                                target_role_arn=target_role_arn, target_table_arn=target_table_arn,
                                source_role_arn=source_role_arn, source_table_arn=source_table_arn,
                                crawler_database=crawler_database)
    _emit_role(role_name, "ddbmigrate Glue job role", p.glue_role_trust_policy(), policy, only, fmt)


def _emit_role(role_name: str, description: str, trust: dict[str, Any], policy: dict[str, Any],
               only: str | None, fmt: str) -> None:
    template = p.role_template(role_name, description, trust, policy) if fmt == "cloudformation" else None
    _emit({"trust": (f"trust policy of role {role_name}", trust),
           "permissions": (f"permissions policy of role {role_name}", policy)}, only, template)


def _cross_account_role(kind: str, builder: Callable[..., dict[str, Any]], default_name: str) -> click.Command:
    @click.option("--table", required=True, help=f"The {kind} table's name or ARN.")
    @click.option("--account", help=f"12-digit id of the {kind} account (with a table name).")
    @click.option("--region", help=f"The {kind} table's region (with a table name).")
    @click.option("--trusted", multiple=True, required=True,
                  help="Role ARN (or account id) allowed to assume the role; repeat for several.")
    @click.option("--external-id", required=True, help="External id the trusted principals must pass.")
    @click.option("--role-name", default=default_name, show_default=True)
    @_format_options(["trust", "permissions"])
    def role(table: str, account: str | None, region: str | None, trusted: tuple[str, ...], external_id: str,
             role_name: str, only: str | None, fmt: str, **extra: Any) -> None:
        table_arn = _table_arn(table, account, region)
        trust = p.trust_policy_with_external_id(list(trusted), external_id)
        _emit_role(role_name, f"ddbmigrate {kind} role", trust, builder(table_arn, **extra), only, fmt)

    if kind == "target":  # replication's checkpoints live in the target account, written with this role
        role = click.option("--checkpoint-table", help="Replication's checkpoint table (--checkpoint table:NAME) "
                            "in the same account and region.")(role)

    return click.command(f"{kind}-role", help=(
        f"The {kind}-account role: {'writes to' if kind == 'target' else 'reads'} one table; "
        "trusted principals must pass the external id.")
    )(role)


command.add_command(_cross_account_role("target", p.target_role_policy, "ddbmigrate-target-writer"))
command.add_command(_cross_account_role("source", p.source_role_policy, "ddbmigrate-source-reader"))


@command.command("replication-role")
@click.option("--table", required=True, help="Source table ARN (its streams are read).")
@click.option("--function-name", default="ddbmigrate-replication", show_default=True)
@click.option("--target-role-arn", required=True, help="Target-account write role the function assumes.")
@click.option("--failure-destination", help="S3 bucket (arn:aws:s3:::B), SQS queue or SNS topic ARN for batches given up on.")
@click.option("--dead-letter", help="s3://B/P/ where the function stores changes it can never write.")
@click.option("--mapping", help="s3:// mapping file the function applies.")
@click.option("--role-name", default="ddbmigrate-replication", show_default=True)
@_format_options(["trust", "permissions"])
def replication_role(table: str, function_name: str, target_role_arn: str, failure_destination: str | None,
                     dead_letter: str | None, mapping: str | None, role_name: str, only: str | None, fmt: str) -> None:
    """The stream-replication Lambda's role: stream reads, its logs, the target role, its S3 locations."""
    policy = p.replication_role_policy(_table_arn(table, None, None), function_name, target_role_arn,
                                       failure_destination_arn=failure_destination, dead_letter=dead_letter,
                                       mapping=mapping)
    _emit_role(role_name, "ddbmigrate stream replication role", p.replication_role_trust_policy(), policy, only, fmt)
