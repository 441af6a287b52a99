"""What ``migrate`` was asked to do: one frozen value the CLI builds once and every step reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from ddbmigrate.accounts import Account
from ddbmigrate.capacity import DEFAULT_READ_PERCENT, DEFAULT_WRITE_PERCENT
from ddbmigrate.errors import ConfigError
from ddbmigrate.replicate.runner import DEFAULT_MARGIN

__all__ = ["AUTO", "EXPORT_IMPORT", "IMPORT_TABLE", "PATHS", "TABLE_COPY", "UNTIL", "MigrateOptions", "MigrationPath", "Until"]

AUTO, EXPORT_IMPORT, TABLE_COPY, IMPORT_TABLE = "auto", "export-import", "table-copy", "import-table"
PATHS = (AUTO, EXPORT_IMPORT, TABLE_COPY, IMPORT_TABLE)
UNTIL = ("caught-up", "verified")
MigrationPath = Literal["auto", "export-import", "table-copy", "import-table"]
Until = Literal["caught-up", "verified"]


@dataclass(frozen=True)
class MigrateOptions:
    """Both sides, the path and its knobs, where state lives, and how far to go."""

    source: Account
    source_table: str
    target: Account
    target_table: str
    state: str
    """``--state``: a folder or ``s3://…`` for state.json, the reports, mapping, dead letters, checkpoints."""
    path: MigrationPath = "auto"
    bucket: str | None = None
    prefix: str | None = None
    mapping: str | None = None
    write_percent: float = DEFAULT_WRITE_PERCENT
    read_percent: float = DEFAULT_READ_PERCENT
    on_glue: str | None = None
    workers: int | None = None
    worker_type: str | None = None
    resume: bool = False
    dry_run: bool = False
    enable_pitr: bool = False
    enable_stream: bool = False
    until: Until = "verified"
    margin: timedelta = DEFAULT_MARGIN
    rechecks: int = 3
    """Rounds a differing key is re-checked (after replication caught up again) before it is reported."""
    function_name: str = "ddbmigrate-replication"
    """With ``--on-glue``: the replication Lambda whose stream mapping is enabled after the load."""

    def __post_init__(self) -> None:
        if self.path not in PATHS:
            raise ConfigError(f"--path: expected one of {', '.join(PATHS)}, got {self.path!r}")
        if self.until not in UNTIL:
            raise ConfigError(f"--until: expected one of {', '.join(UNTIL)}, got {self.until!r}")
        if self.path in (EXPORT_IMPORT, IMPORT_TABLE) and not self.bucket:
            raise ConfigError(f"--path {self.path} exports the source: give --bucket (a bucket of the target account)")
        if self.path == IMPORT_TABLE and self.mapping:
            raise ConfigError("--path import-table copies items as they are: ImportTable applies no mapping; "
                              "drop --mapping or choose --path export-import")
        if self.prefix and not self.bucket:
            raise ConfigError("--prefix needs --bucket")
        if (self.workers is not None or self.worker_type is not None) and not self.on_glue:
            raise ConfigError("--workers and --worker-type size a Glue run: give --on-glue JOB too")
        if self.on_glue and not self.state.startswith("s3://"):
            raise ConfigError(f"--on-glue {self.on_glue}: give --state s3://BUCKET/PREFIX (not {self.state!r}): the Glue "
                              "job reads the mapping and writes its dead letters and run state there")
        if self.on_glue and self.mapping and not self.mapping.startswith("s3://"):
            raise ConfigError(f"--on-glue {self.on_glue}: --mapping {self.mapping!r} is a local file the Glue job cannot "
                              "read; upload it and give --mapping s3://BUCKET/KEY.json")
