"""The migration's state file: each step recorded before and after it runs, with the ids of
everything it created, so that ``migrate --resume`` continues after a kill without redoing a
finished step. One JSON document (``state.json``) in a local folder or under ``s3://…``; it is
rewritten whole after every change (a local write goes through a temporary file and a rename, so a
kill never leaves half a file). The reports are written next to it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ddbmigrate.errors import ConfigError, DdbMigrateError
from ddbmigrate.s3uri import parse_s3_uri

__all__ = ["STATE_NAME", "STEPS", "MigrationState", "StateLocation", "StepRecord", "open_state_location"]

STATE_NAME = "state.json"
STATE_VERSION = 1
STEPS = ("plan", "preflight", "target", "load", "replicate", "verify", "report")
"""The steps in the order they run (docs/migrate.md)."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class StepRecord:
    """One step: ``started`` is written before it runs, ``ended`` after it succeeded."""

    started: str | None = None
    ended: str | None = None
    runs: int = 0
    """How many times the step was started (more than one: it was resumed after a kill)."""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.ended is not None

    def seconds(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return (datetime.fromisoformat(self.ended) - datetime.fromisoformat(self.started)).total_seconds()


@dataclass
class MigrationState:
    """What ``state.json`` holds: the command's identity, each step, and what was created."""

    source_table: str
    target_table: str
    path: str = ""
    owner: str = ""
    """The replication lease owner: a resumed run takes its leases over at once instead of waiting."""
    steps: dict[str, StepRecord] = field(default_factory=dict)
    created: dict[str, Any] = field(default_factory=dict)
    """Ids of everything created: export URI and time, target table, import ARN, mapping file…"""
    counts: dict[str, Any] = field(default_factory=dict)

    def step(self, name: str) -> StepRecord:
        return self.steps.setdefault(name, StepRecord())

    def to_json(self) -> str:
        data = {"version": STATE_VERSION, "source_table": self.source_table, "target_table": self.target_table,
                "path": self.path, "owner": self.owner, "created": self.created, "counts": self.counts,
                "steps": {name: vars(record) for name, record in self.steps.items()}}
        return json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"

    @classmethod
    def from_json(cls, text: str, *, where: str) -> MigrationState:
        try:
            data = json.loads(text)
            if data.get("version") != STATE_VERSION:
                raise ConfigError(f"{where}: state file version {data.get('version')!r}; this ddbmigrate reads "
                                  f"version {STATE_VERSION}")
            steps = {name: StepRecord(**record) for name, record in data["steps"].items()}
            return cls(source_table=data["source_table"], target_table=data["target_table"], path=data["path"],
                       owner=data["owner"], steps=steps, created=data["created"], counts=data["counts"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{where}: not a ddbmigrate migration state file ({type(exc).__name__}: {exc}); "
                              "point --state at the folder of an earlier run, or drop --resume") from None


class StateLocation:
    """A folder (local or ``s3://``) holding ``state.json`` and the reports."""

    def __init__(self, uri: str, *, s3_client: Any = None) -> None:
        self.uri = uri
        self._s3 = s3_client
        self._local = None if uri.startswith("s3://") else Path(uri)
        self._remote = parse_s3_uri(uri, what="--state").folder() if self._local is None else None

    def describe(self, name: str = STATE_NAME) -> str:
        return str(self._local / name) if self._local is not None else str(self._remote.join(name))  # type: ignore[union-attr]

    def read(self, name: str = STATE_NAME) -> str | None:
        """The file's text, or None when it does not exist."""
        if self._local is not None:
            path = self._local / name
            return path.read_text(encoding="utf-8") if path.is_file() else None
        uri = self._remote.join(name)  # type: ignore[union-attr]
        try:
            return self._s3.get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read().decode("utf-8")
        except Exception as exc:  # botocore's NoSuchKey is per-client; tell it by its code
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404"):
                return None
            raise

    def write(self, name: str, text: str) -> None:
        self.write_bytes(name, text.encode("utf-8"))

    def write_bytes(self, name: str, data: bytes) -> None:
        """Replace the file ``name`` (may hold ``/``) whole: a reader never sees half of it."""
        if self._local is not None:
            path = self._local / name
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.tmp")
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
            return
        uri = self._remote.join(name)  # type: ignore[union-attr]
        self._s3.put_object(Bucket=uri.bucket, Key=uri.key, Body=data)

    def local_path(self, name: str) -> str:
        """Where a file of this run goes (dead letters, the mapping): under the folder, local or s3."""
        return self.describe(name)

    def load(self) -> MigrationState | None:
        text = self.read()
        return None if text is None else MigrationState.from_json(text, where=self.describe())

    def save(self, state: MigrationState) -> None:
        self.write(STATE_NAME, state.to_json())


def open_state_location(uri: str, *, s3_client: Any = None) -> StateLocation:
    """``--state DIR|s3://…`` (an s3 location needs ``s3_client``)."""
    if uri.startswith("s3://") and s3_client is None:
        raise DdbMigrateError("an s3:// state location needs an S3 client")
    return StateLocation(uri, s3_client=s3_client)

