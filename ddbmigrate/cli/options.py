"""Option blocks that several commands share, so one account is spelled the same everywhere."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

__all__ = ["Decorator", "apply", "side_options"]

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def side_options(side: str, *, table_help: str | None = None) -> list[Decorator]:
    """``--<side>-table/-profile/-region/-role-arn/-external-id/-endpoint-url``; read them back with
    :meth:`ddbmigrate.accounts.Account.from_options`."""
    return [
        click.option(f"--{side}-table", required=True, help=table_help or f"The {side} table's name."),
        click.option(f"--{side}-profile", help=f"AWS profile of the {side} account."),
        click.option(f"--{side}-region", help="AWS region (default: the profile's)."),
        click.option(f"--{side}-role-arn", help="Role to assume in that account (credentials refresh)."),
        click.option(f"--{side}-external-id", help="External id for the role."),
        click.option(f"--{side}-endpoint-url", help="DynamoDB endpoint override (e.g. DynamoDB Local)."),
    ]


def apply(options: Sequence[Decorator]) -> Decorator:
    """One decorator that adds ``options`` in the order given (as they appear in ``--help``)."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate
