"""Click options derived from the job-argument declarations (:mod:`ddbmigrate.jobargs`), so an
option is spelled, defaulted and explained the same way in every command and every job script.

Values reach the command as the strings the user typed and are parsed by the declaration (one
validation, with the option's own name in the error), never by a click type of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from ddbmigrate.jobargs import Argument, side_arguments

__all__ = ["Decorator", "apply", "argument_option", "side_options"]

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


_METAVARS = {"int": "N", "percent": "0.1-1.5", "text": "TEXT"}


def argument_option(argument: Argument) -> Decorator:
    """The click option of one declared argument (dest = the argument's name)."""
    if argument.kind == "flag":
        return click.option(argument.cli_flag, argument.name, is_flag=True, default=None, help=argument.help)
    help_text = argument.help
    if argument.default is not None:
        help_text += f"  [default: {argument.default}]"
    metavar = "|".join(argument.choices) if argument.choices else _METAVARS.get(argument.kind)
    # "required" is checked by the declaration (the same message on every runtime); --help marks it
    return click.option(argument.cli_flag, argument.name, default=None, metavar=metavar,
                        help=help_text + ("  [required]" if argument.required else ""))


def side_options(side: str, *, table_help: str | None = None) -> list[Decorator]:
    """``--<side>-table/-profile/-region/-endpoint-url/-role-arn/-external-id``; read them back with
    :func:`ddbmigrate.jobargs.account_of` (or :meth:`ddbmigrate.accounts.Account.from_options`).
    The table is required here, as click requires it (commands that are not jobs)."""
    options: list[Decorator] = []
    for argument in side_arguments(side, table_help=table_help):
        if argument.name == f"{side}_table":
            options.append(click.option(argument.cli_flag, argument.name, required=True, help=argument.help))
        else:
            options.append(argument_option(argument))
    return options


def apply(options: Sequence[Decorator]) -> Decorator:
    """One decorator that adds ``options`` in the order given (as they appear in ``--help``)."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate
