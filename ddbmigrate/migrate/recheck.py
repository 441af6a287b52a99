"""Step 6, verify a live table: compare once replication has caught up, then re-check each key that
differed after catching up again (the changes in flight when it was read), so that only differences
that persist are reported. Re-checks read single items (GetItem, consistent) — never a full scan again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ddbmigrate.digest import item_digest
from ddbmigrate.dynamodb import describe_table, dynamodb_client
from ddbmigrate.migrate.options import MigrateOptions
from ddbmigrate.values import Item, item_from_json
from ddbmigrate.verify import Transform, VerifyOptions, verify_tables

__all__ = ["VerifyOutcome", "verify_with_rechecks"]

_MAX_KEYS = 100_000


@dataclass
class VerifyOutcome:
    """The first comparison, how many keys were re-checked, and the differences that persisted."""

    first_pass: str = ""
    compared: int = 0
    rechecked: int = 0
    rounds: int = 0
    persisting: list[dict[str, Any]] = field(default_factory=list)
    """``{"side": "source"|"target", "key": …}`` for each key still different after every round (keys only)."""

    @property
    def identical(self) -> bool:
        return not self.persisting

    def summary(self) -> str:
        if self.identical:
            return (f"identical: {self.compared:,} items compared; {self.rechecked} differing key(s) re-checked "
                    "after the replication lag and now equal")
        return f"{len(self.persisting)} key(s) still differ after {self.rounds} re-check(s) (first pass: {self.first_pass})"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "identical": self.identical, "summary": self.summary()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VerifyOutcome:
        names = ("first_pass", "compared", "rechecked", "rounds", "persisting")
        return cls(**{k: data[k] for k in names if k in data})


def verify_with_rechecks(options: MigrateOptions, catch_up: Callable[[], Any], *, transform: Transform | None = None,
                         sleep: Callable[[float], None] = time.sleep, lag_seconds: float = 1.0,
                         caught_up: bool = False) -> VerifyOutcome:
    """Catch up (unless the caller just did: ``caught_up``), compare every key, then re-check the
    differing ones up to ``options.rechecks`` rounds."""
    if not caught_up:
        catch_up()
    report = verify_tables(VerifyOptions(source=options.source, source_table=options.source_table,
                                         target=options.target, target_table=options.target_table,
                                         read_percent=options.read_percent, consistent=True, max_samples=_MAX_KEYS),
                           transform=transform)
    outcome = VerifyOutcome(first_pass=report.summary(), compared=report.source_items)
    pending = ([{"side": "source", "key": k} for k in report.missing_keys]
               + [{"side": "source", "key": d.source_key} for d in report.differing_items]
               + [{"side": "target", "key": k} for k in report.extra_keys])
    outcome.rechecked = len(pending)
    checker = _Checker(options, transform)
    while pending and outcome.rounds < options.rechecks:
        sleep(lag_seconds)
        catch_up()
        outcome.rounds += 1
        pending = [entry for entry in pending if not checker.equal(entry["side"], item_from_json(entry["key"]))]
    outcome.persisting = pending + [{"side": "source", "invalid": sample} for sample in report.invalid_samples]
    return outcome


class _Checker:
    """One key, both sides, read now: equal when both are absent or their digests match."""

    def __init__(self, options: MigrateOptions, transform: Transform | None) -> None:
        self.options, self.transform = options, transform
        self.source, self.target = dynamodb_client(options.source), dynamodb_client(options.target)
        self.target_keys = describe_table(options.target, options.target_table, option="--target-table").key_names

    def _get(self, client: Any, table: str, key: Item) -> Item | None:
        return client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def equal(self, side: str, key: Item) -> bool:
        if side == "target":  # a key only the target had: gone now, or the source has it (unmapped keys only)
            found = self._get(self.target, self.options.target_table, key)
            if found is None:
                return True
            if self.transform is not None:
                return False
            source = self._get(self.source, self.options.source_table, key)
            return source is not None and item_digest(source) == item_digest(found)
        source = self._get(self.source, self.options.source_table, key)
        if source is None:
            if self.transform is not None:
                return False  # the target's key cannot be told without the item
            return self._get(self.target, self.options.target_table, key) is None
        expected = self.transform(source) if self.transform is not None else source
        target_key = {name: expected[name] for name in self.target_keys if name in expected}
        found = self._get(self.target, self.options.target_table, target_key)
        return found is not None and item_digest(expected) == item_digest(found)

