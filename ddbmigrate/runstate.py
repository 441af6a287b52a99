"""Run state: what a killed or failed run had finished, so a run with the same ``--run_id`` goes on.

A load of hours must never redo finished work. Each data file (export-import) or Scan segment
(table copy) is recorded only after the sink has synced — every item before the record written,
its dead letters durable — so a crash between the two only makes the next run write that unit
again, and puts of full images are idempotent. Records are one small JSON object each (S3 has no
append; tasks never share an object), written whole: an object put on S3, a renamed temporary file
locally. ``run.json`` pins what the run is about (export, mapping digest, target table…); a resume
against anything else is refused. Pure Python plus boto3: it runs on Glue workers. docs/resume.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ddbmigrate.accounts import Account
from ddbmigrate.drift import DriftCounts
from ddbmigrate.errors import ConfigError, SinkError
from ddbmigrate.s3uri import parse_s3_uri

if TYPE_CHECKING:
    from ddbmigrate.dynamodb import TableDescription
    from ddbmigrate.sink.spark import Checkpoint
    from ddbmigrate.sink.stats import SinkStats

__all__ = [
    "RUN_STATE_FOLDER",
    "FileRecord",
    "ResumeTotals",
    "RunIdentity",
    "RunState",
    "SegmentRecord",
    "mapping_digest",
    "open_run_state",
    "run_state_location",
    "table_identity",
]

RUN_STATE_FOLDER = "run-state"
"""The default run-state folder's name, beside the dead-letter location."""
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_IDENTITY_NAME = "run.json"


def run_state_location(run_state: str | None, dead_letter: str | None) -> str:
    """``--run_state``, else ``run-state/`` beside ``--dead_letter`` (its parent folder's child)."""
    if run_state:
        return run_state
    if not dead_letter:
        raise ConfigError("--run_id needs a place for its run state: give --run_state FOLDER|s3://… "
                          "(or --dead_letter, beside which it is kept)")
    if dead_letter.startswith("s3://"):
        uri = parse_s3_uri(dead_letter, what="--dead_letter")
        parent = uri.key.rstrip("/").rpartition("/")[0]
        return str(type(uri)(uri.bucket, parent).join(RUN_STATE_FOLDER)) + "/"
    return str(Path(dead_letter).resolve().parent / RUN_STATE_FOLDER)


def table_identity(table: TableDescription, account: Account) -> str:
    """A table as a run state pins it: its ARN (its name where there is none), with the endpoint
    when one is given — DynamoDB Local gives every account the same ARNs."""
    name = table.arn or table.name
    return f"{name} at {account.endpoint_url}" if account.endpoint_url else name


def mapping_digest(text: str) -> str:
    """sha256 of a mapping's canonical text (:func:`~ddbmigrate.mapping.file.dumps_mapping`)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RunIdentity:
    """What a run is about; a resume must match it field by field (empty: not part of this job)."""

    job: str
    source: str
    """The export (its ARN, else its folder) or the source table (ARN, with the endpoint when one is given)."""
    target: str
    mapping: str = ""
    """The mapping's digest (:func:`mapping_digest`); empty without a mapping."""
    segments: int = 0
    """Scan segments of a table copy (a segment's key only means something among as many)."""

    def difference(self, recorded: RunIdentity) -> str | None:
        """The first field that differs, said for the user (recorded vs this run), else None."""
        names = {"job": "job", "source": "export" if self.job == "export-import" else "source table",
                 "target": "target table", "mapping": "mapping (sha256 of its rules and schema)",
                 "segments": "number of scan segments (--splits)"}
        for name, label in names.items():
            then, now = getattr(recorded, name), getattr(self, name)
            if then != now:
                return f"{label}: {_short(then)} when it started, {_short(now)} now"
        return None


def _short(value: Any) -> str:
    text = str(value) if value not in ("", None) else "none"
    return text[:12] + "…" if re.fullmatch(r"[0-9a-f]{64}", text) else text


@dataclass(frozen=True)
class FileRecord:
    """One data file imported in full: its counts reconcile (read = written + dead-lettered)."""

    key: str
    read: int
    written: int
    dead_lettered: int
    drift: dict[str, Any] = field(default_factory=dict)
    """The file's :class:`~ddbmigrate.drift.DriftCounts` as a dict."""

    @property
    def reconciles(self) -> bool:
        return self.read == self.written + self.dead_lettered


@dataclass(frozen=True)
class SegmentRecord:
    """One Scan segment's progress: counts so far (over every run) and where to go on from."""

    segment: int
    read: int = 0
    written: int = 0
    dead_lettered: int = 0
    last_key: dict[str, Any] | None = None
    """``LastEvaluatedKey`` of the last acknowledged page, in DynamoDB JSON; None with ``done``."""
    done: bool = False
    drift: dict[str, Any] = field(default_factory=dict)

    @property
    def reconciles(self) -> bool:
        return self.read == self.written + self.dead_lettered


@dataclass
class ResumeTotals:
    """Counts over every unit recorded so far (every run), and whether each reconciles."""

    run_id: str = ""
    kind: str = "data file"
    expected: int = 0
    """Units the job has (data files of the export, segments of the Scan)."""
    skipped: int = 0
    """Units earlier runs had finished, so this run did not read them again."""
    this_run: int = 0
    """Items this run read (the rest were read by earlier runs)."""
    units: int = 0
    read: int = 0
    written: int = 0
    dead_lettered: int = 0
    not_reconciled: list[str] = field(default_factory=list)
    drift: DriftCounts = field(default_factory=DriftCounts)

    def add(self, name: str, record: FileRecord | SegmentRecord) -> None:
        self.units += 1
        self.read += record.read
        self.written += record.written
        self.dead_lettered += record.dead_lettered
        self.drift.merge(DriftCounts(**record.drift) if record.drift else DriftCounts())
        if not record.reconciles:
            self.not_reconciled.append(name)

    @property
    def complete(self) -> bool:
        """Every unit recorded, and each reconciles: the run as a whole is done."""
        return self.units == self.expected and not self.not_reconciled

    def summary(self) -> str:
        """One line: what resuming skipped, and the per-unit reconciliation (names, never items)."""
        each = "yes" if not self.not_reconciled else "NO (" + ", ".join(self.not_reconciled[:5]) + ")"
        return (f"run {self.run_id}: {self.skipped} of {self.expected} {self.kind}(s) done by an earlier run, skipped; "
                f"{self.units} of {self.expected} recorded, each read = written + dead-lettered: {each}; "
                f"this run read {self.this_run} item(s); the counts above are over every run of this id")


class RunState:
    """The records of one run id at ``location`` (a folder, or ``s3://bucket/prefix/`` read and
    written with ``account``, the job's own). Picklable: each process builds its own S3 client."""

    def __init__(self, location: str, run_id: str, account: Account | None = None) -> None:
        if not _RUN_ID.match(run_id or ""):
            raise ConfigError(f"--run_id: expected 1–128 letters, digits, '.', '_' or '-' (starting with a letter "
                              f"or digit), got {run_id!r}")
        self.run_id = run_id
        self.account = account
        self.uri = location.rstrip("/") + "/" + run_id + "/"
        self._client: Any = None
        self._progress: dict[int, dict[str, int]] = {}
        """Per segment: what this task added since the run started (the mark carries the rest)."""

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_client": None, "_progress": {}}

    # ------------------------------------------------------------------ identity

    def recorded(self) -> RunIdentity | None:
        """What the run was started with, None for a new run id."""
        text = self._read(_IDENTITY_NAME)
        return RunIdentity(**json.loads(text)) if text is not None else None

    def open(self, identity: RunIdentity) -> RunIdentity | None:
        """Start the run (record ``identity``) or resume it; the recorded identity when resuming.

        Raises :class:`ConfigError` naming what differs when the recorded run is about something else.
        """
        recorded = self.recorded()
        if recorded is None:
            self._write(_IDENTITY_NAME, asdict(identity))
            return None
        problem = identity.difference(recorded)
        if problem:
            raise ConfigError(f"--run_id {self.run_id}: the run state {self.uri} belongs to another run — {problem}; "
                              "give a new --run_id to start afresh (or run again with what it started with)")
        return recorded

    # ------------------------------------------------------------------ records

    def record_file(self, record: FileRecord) -> None:
        """Record a data file done (after the sink synced: see the module docstring)."""
        self._check(record.key, record)
        self._write(f"files/{_file_name(record.key)}.json", asdict(record))

    def files(self) -> dict[str, FileRecord]:
        """Data file key → its record, for every file any run finished."""
        return {r["key"]: FileRecord(**r) for r in self._records("files/")}

    def record_segment(self, record: SegmentRecord) -> None:
        """Record a segment's progress after an acknowledged page (replaces the previous record)."""
        self._check(f"segment {record.segment}", record)
        self._write(f"segments/{record.segment:07d}.json", asdict(record))

    def segments(self) -> dict[int, SegmentRecord]:
        return {r["segment"]: SegmentRecord(**r) for r in self._records("segments/")}

    def file_checkpoint(self, key: str, drift: DriftCounts) -> Checkpoint:
        """The mark a task puts after a data file's last item (:meth:`checkpoint_reached` records it)."""
        from ddbmigrate.sink.spark import Checkpoint

        return Checkpoint(FileRecord(key, 0, 0, 0, asdict(drift) if drift else {}))

    def segment_checkpoint(self, base: SegmentRecord, last_key: dict[str, Any] | None, drift: DriftCounts) -> Checkpoint:
        """The mark after one acknowledged Scan page: ``base`` holds the counts earlier runs recorded,
        ``drift`` the segment's drift over every run; ``last_key`` None means the segment is done."""
        from ddbmigrate.sink.spark import Checkpoint

        return Checkpoint(replace(base, last_key=last_key, done=last_key is None, drift=asdict(drift) if drift else {}))

    def checkpoint_reached(self, mark: FileRecord | SegmentRecord, stats: SinkStats) -> None:
        """Called by the sink once everything before ``mark`` is written and its dead letters are
        durable; ``stats`` counts what it took since the previous mark of the same task."""
        counts = {"read": stats.received, "written": stats.written, "dead_lettered": stats.dead_lettered}
        if isinstance(mark, FileRecord):
            self.record_file(replace(mark, **counts))
            return
        progress = self._progress.setdefault(mark.segment, {"read": 0, "written": 0, "dead_lettered": 0})
        for name, value in counts.items():
            progress[name] += value
        self.record_segment(replace(mark, **{name: getattr(mark, name) + progress[name] for name in progress}))

    def totals(self, expected: int, *, skipped: int, this_run: int, segments: bool = False) -> ResumeTotals:
        """Every record read back (every run of the id): the job's counts, unit by unit."""
        totals = ResumeTotals(self.run_id, "segment" if segments else "data file", expected, skipped, this_run)
        if segments:
            for number, record in sorted(self.segments().items()):
                if record.done:
                    totals.add(f"segment {number}", record)
        else:
            for key, file_record in sorted(self.files().items()):
                totals.add(key, file_record)
        return totals

    @staticmethod
    def _check(name: str, record: FileRecord | SegmentRecord) -> None:
        if not record.reconciles:  # the sink synced before: this would be a bug, never recorded as done
            raise SinkError(f"{name}: counts do not reconcile (read {record.read}, written {record.written}, "
                            f"dead-lettered {record.dead_lettered}); not recorded")

    # ------------------------------------------------------------------ storage

    def _s3(self) -> Any:
        if self._client is None:
            if self.account is None:
                raise ConfigError(f"run state {self.uri}: an account (the job's own) is needed to reach S3")
            self._client = self.account.client("s3")
        return self._client

    def _write(self, name: str, document: Mapping[str, Any]) -> None:
        data = json.dumps(document, sort_keys=True).encode("utf-8")
        try:
            if self.uri.startswith("s3://"):
                target = parse_s3_uri(self.uri + name, what="--run_state")
                self._s3().put_object(Bucket=target.bucket, Key=target.key, Body=data, ContentType="application/json")
            else:
                _replace_file(Path(self.uri) / name, data)
        except (ClientError, OSError) as exc:
            raise SinkError(f"cannot record the run state at {self.uri}{name}: {type(exc).__name__}: {exc}; check "
                            "--run_state and that the job's own account may write it (s3:PutObject)") from exc

    def _read(self, name: str) -> str | None:
        if not self.uri.startswith("s3://"):
            path = Path(self.uri) / name
            return path.read_text(encoding="utf-8") if path.is_file() else None
        target = parse_s3_uri(self.uri + name, what="--run_state")
        try:
            return self._s3().get_object(Bucket=target.bucket, Key=target.key)["Body"].read().decode("utf-8")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise ConfigError(f"cannot read the run state {self.uri}{name}: {exc}; check --run_state and "
                              "that the job's own account may read it (s3:GetObject, s3:ListBucket)") from None

    def _records(self, folder: str) -> list[dict[str, Any]]:
        names = list(self._names(folder))  # (on S3 this also builds the client, before the threads share it)
        with ThreadPoolExecutor(max_workers=16) as pool:  # thousands of files: GETs in parallel
            texts = list(pool.map(lambda n: self._read(folder + n), names))
        return [json.loads(text) for text in texts if text]

    def _names(self, folder: str) -> Iterator[str]:
        if not self.uri.startswith("s3://"):
            path = Path(self.uri) / folder
            yield from sorted(p.name for p in path.glob("*.json")) if path.is_dir() else ()
            return
        prefix = parse_s3_uri(self.uri + folder, what="--run_state")
        for page in self._s3().get_paginator("list_objects_v2").paginate(Bucket=prefix.bucket, Prefix=prefix.key):
            for entry in page.get("Contents", []):
                if entry["Key"].endswith(".json"):
                    yield entry["Key"][len(prefix.key):]


def _file_name(key: str) -> str:
    """A record's name for a data file: its own name (unique in an export's data/) plus a short hash."""
    return key.rstrip("/").rsplit("/", 1)[-1] + "-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def _replace_file(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a temporary file fsynced, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def open_run_state(run_id: str | None, run_state: str | None, dead_letter: str | None,
                   account: Account | None) -> RunState | None:
    """The run state of ``--run_id`` (None without one: the run cannot be resumed)."""
    if not run_id:
        if run_state:
            raise ConfigError("--run_state is only used with --run_id: give the run an id to make it resumable")
        return None
    return RunState(run_state_location(run_state, dead_letter), run_id, account)
