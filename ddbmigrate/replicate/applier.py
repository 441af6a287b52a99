"""Apply a batch of stream changes to the target: full images only, last change per key, nothing
before the cut-off, through the same sink (rate, retries, dead letters) and mapping as the bulk load.

Why this is safe to repeat: every write is a whole new image (put) or a delete by key, so applying
a change twice, or applying an older change that the export already holds, only passes the item
through states it already had; the last change of each key wins. Callers rely on that: Lambda
retries every record after the lowest failed one, and a restarted poller replays from its last
checkpoint. Records created before the cut-off (export time minus a margin, for the approximate
stream timestamps) are already in the export and are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

from ddbmigrate.drift import DriftCounts
from ddbmigrate.errors import DdbMigrateError
from ddbmigrate.mapping.items import ItemMapping, MappedItem
from ddbmigrate.replicate.records import ChangeRecord
from ddbmigrate.values import Item, key_of

__all__ = ["TTL_POLICIES", "ApplyPolicy", "ChangePlan", "ReplicationStats", "apply_changes", "first_sequence",
           "plan_changes"]

TtlPolicy = Literal["replicate", "skip"]
TTL_POLICIES: tuple[TtlPolicy, ...] = ("replicate", "skip")


@dataclass(frozen=True)
class ApplyPolicy:
    """What is replayed: changes from ``cutoff`` on; TTL deletes replicated or skipped."""

    cutoff: datetime
    ttl_deletes: TtlPolicy = "replicate"


@dataclass
class ReplicationStats:
    """Counters of a replay; ``seen = applied + skipped + superseded + dead_lettered`` always."""

    seen: int = 0
    puts: int = 0
    deletes: int = 0
    skipped_before_cutoff: int = 0
    skipped_ttl: int = 0
    superseded: int = 0
    dead_lettered: int = 0
    consumed_wcu: float = 0.0
    newest_applied: float = 0.0
    """``created`` of the newest change applied, as a POSIX time (0: none yet): the lag's reference."""
    drift: DriftCounts = field(default_factory=DriftCounts)
    """New images that carried schema drift (new attributes, new types) through the mapping, by name."""

    @property
    def applied(self) -> int:
        return self.puts + self.deletes

    @property
    def skipped(self) -> int:
        return self.skipped_before_cutoff + self.skipped_ttl

    @property
    def reconciles(self) -> bool:
        return self.seen == self.applied + self.skipped + self.superseded + self.dead_lettered

    def merge(self, other: ReplicationStats) -> ReplicationStats:
        merged = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        merged["newest_applied"] = max(self.newest_applied, other.newest_applied)
        return ReplicationStats(**merged)

    def lag_seconds(self, now: float) -> float | None:
        """Seconds between ``now`` and the newest change applied; None before the first."""
        return max(0.0, now - self.newest_applied) if self.newest_applied else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "applied": self.applied, "skipped": self.skipped}

    def summary(self) -> str:
        drift = self.drift.summary()
        return (f"seen={self.seen} applied={self.applied} (puts {self.puts}, deletes {self.deletes}) "
                f"skipped={self.skipped} (before cut-off {self.skipped_before_cutoff}, ttl {self.skipped_ttl}) "
                f"superseded={self.superseded} dead_lettered={self.dead_lettered}" + (f"; {drift}" if drift else ""))


@dataclass(frozen=True)
class ChangePlan:
    """What a batch comes to: the changes to write (the last of each key, in stream order) and counts."""

    writes: tuple[ChangeRecord, ...]
    stats: ReplicationStats = field(default_factory=ReplicationStats)


def plan_changes(records: Sequence[ChangeRecord], policy: ApplyPolicy) -> ChangePlan:
    """Pure: which changes of ``records`` (one shard's, in order) are written, and why the others are not."""
    stats = ReplicationStats(seen=len(records))
    latest: dict[tuple[Any, ...], ChangeRecord] = {}
    for record in records:
        if record.created < policy.cutoff:
            stats.skipped_before_cutoff += 1
            continue
        if record.ttl_delete and policy.ttl_deletes == "skip":
            stats.skipped_ttl += 1
            continue
        key = _identity(record.keys)
        if key in latest:
            stats.superseded += 1
        latest[key] = record  # a later change of the same key replaces the earlier one
    writes = tuple(sorted(latest.values(), key=lambda r: r.sequence))
    return ChangePlan(writes=writes, stats=stats)


def apply_changes(plan: ChangePlan, writer: Any, *, transform: Callable[[Item], Item] | None = None) -> ReplicationStats:
    """Write ``plan`` through ``writer`` (a sink :class:`~ddbmigrate.sink.TableWriter`) and wait until
    every request is written or dead-lettered; the counts of the plan plus what the sink did.

    ``transform`` is the bulk load's item mapping (an :class:`~ddbmigrate.mapping.items.ItemMapping`,
    whose schema drift is carried and counted, or any function of an item); a change it cannot map
    is dead-lettered with its stream position. The caller checkpoints only after this returns: flush, then record.
    """
    before = (writer.stats.written, writer.stats.dead_lettered, writer.stats.consumed_wcu)
    operations: dict[str, str] = {}
    newest = 0.0
    drift = DriftCounts()
    for record in plan.writes:
        source = record.keys if record.operation == "REMOVE" else record.new_image or {}
        try:
            mapped, unknown, retyped = _map(transform, source) if transform is not None else (source, (), ())
        except _CONTENT_ERRORS as exc:  # this record's contents: its dead letter, not the shard's end
            reason = str(exc) if isinstance(exc, DdbMigrateError) else type(exc).__name__  # ours name no values
            writer.reject(f"cannot apply the mapping: {reason}", origin=record.position, key=record.keys,
                          item=record.new_image)
            continue
        if unknown or retyped:
            drift.add(unknown, retyped)
        if record.operation == "REMOVE":
            writer.delete(mapped, origin=record.position)
        elif transform is None:  # the image as it came: its size and JSON need no second walk
            writer.put(mapped, origin=record.position, size=record.image_size, document=record.image_document)
        else:
            writer.put(mapped, origin=record.position)
        operations[record.position] = record.operation
        newest = max(newest, record.created.timestamp())
    writer.flush()
    stats = plan.stats
    written = writer.stats.written - before[0]
    dead = writer.stats.dead_lettered - before[1]
    deletes = sum(1 for op in operations.values() if op == "REMOVE")
    # the sink does not say which requests of a flush were dead-lettered; deletes are rarely refused,
    # so refusals count against puts first and the totals always reconcile
    stats.deletes = min(deletes, written)
    stats.puts = written - stats.deletes
    stats.dead_lettered = dead
    stats.consumed_wcu = writer.stats.consumed_wcu - before[2]
    stats.newest_applied = newest if written else 0.0
    stats.drift = drift
    return stats


def _map(transform: Callable[[Item], Item], item: Item) -> MappedItem:
    """An :class:`ItemMapping` says what drifted; a plain function's result carries no drift."""
    return transform.map(item) if isinstance(transform, ItemMapping) else MappedItem(transform(item))


_CONTENT_ERRORS = (DdbMigrateError, ValueError, ArithmeticError, RecursionError)
"""What a mapping raises because of one item's values (our refusals, a bad number or text, nesting
too deep); anything else (TypeError, KeyError, AttributeError…) is a bug and stops the run."""


def _identity(keys: Item) -> tuple[Any, ...]:
    """A hashable key identity from a record's ``Keys`` (which hold exactly the key attributes)."""
    return key_of(keys, [{"AttributeName": name} for name in sorted(keys)])


def first_sequence(records: Iterable[ChangeRecord]) -> str | None:
    """The lowest sequence number of ``records`` (what Lambda restarts from), None when empty."""
    ordered = sorted(records, key=lambda r: r.sequence)
    return ordered[0].sequence_number if ordered else None
