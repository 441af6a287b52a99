"""Typed reads of a Glue job's arguments, each error naming the ``--argument`` at fault.

``getResolvedOptions`` hands every value over as a string (and an empty default as ``""``); both
job scripts turn those into options the same way here.
"""

from __future__ import annotations

from typing import Any

from ddbmigrate.accounts import Account
from ddbmigrate.capacity import DEFAULT_WRITE_PERCENT, validate_percent
from ddbmigrate.errors import ConfigError
from ddbmigrate.sink.options import DEFAULT_REQUESTS_IN_FLIGHT, GLUE_DEFAULT_RETRIES

__all__ = ["JobArgs"]


class JobArgs:
    """Typed reads of Glue's string arguments, each error naming the ``--argument``."""

    def __init__(self, args: dict[str, Any]) -> None:
        self._args = args

    def text(self, name: str) -> str | None:
        value = self._args.get(name)
        return None if value in (None, "", "None") else str(value)

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise ConfigError(f"--{name} is required")
        return value

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"--{name}: expected a whole number, got {value!r}") from None

    def _integer_or(self, name: str, default: int) -> int:
        """:meth:`integer`, or ``default`` when the argument is absent (never in place of a given 0)."""
        value = self.integer(name)
        return default if value is None else value

    def flag(self, name: str) -> bool:
        value = (self.text(name) or "false").lower()
        if value not in ("true", "false"):
            raise ConfigError(f"--{name}: expected true or false, got {value!r}")
        return value == "true"

    def account(self, side: str) -> Account:
        return Account(
            profile=self.text(f"{side}_profile"),
            region=self.text(f"{side}_region"),
            endpoint_url=self.text(f"{side}_endpoint_url"),
            role_arn=self.text(f"{side}_role_arn"),
            external_id=self.text(f"{side}_external_id"),
            label=side,
        )

    def write_options(self) -> dict[str, Any]:
        """The target-side arguments both jobs take, with Glue's defaults (write percent 0.5)."""
        return {
            "write_percent": validate_percent(self.text("write_percent") or DEFAULT_WRITE_PERCENT, option="--write_percent"),
            "write_capacity": self.integer("write_capacity"),
            "parallel_tasks": self.integer("parallel_tasks"),
            "dead_letter": self.text("dead_letter"),
            "max_retries": self._integer_or("max_retries", GLUE_DEFAULT_RETRIES),
            "requests_in_flight": self._integer_or("requests_in_flight", DEFAULT_REQUESTS_IN_FLIGHT),
        }
