"""``ddbmigrate migrate``: the whole live migration as one resumable command (docs/migrate.md).

:mod:`~ddbmigrate.migrate.options` (what was asked), :mod:`~ddbmigrate.migrate.state` (the state file),
:mod:`~ddbmigrate.migrate.plan`, :mod:`~ddbmigrate.migrate.preflight`, :mod:`~ddbmigrate.migrate.schema`
(the target from the source's description), :mod:`~ddbmigrate.migrate.steps` (the run),
:mod:`~ddbmigrate.migrate.recheck` (verify a live table), :mod:`~ddbmigrate.migrate.report`.
"""

from __future__ import annotations

from ddbmigrate.migrate.options import MigrateOptions
from ddbmigrate.migrate.state import MigrationState, StateLocation, open_state_location
from ddbmigrate.migrate.steps import Migration

__all__ = ["MigrateOptions", "Migration", "MigrationState", "StateLocation", "open_state_location"]
