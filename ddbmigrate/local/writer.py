"""A thread that keeps changing a sample-schema table — puts, updates, deletes, every type — for the
demo and the tests of a live migration (a few hot keys take most changes; deleted keys come back).
It counts what it did and keeps the exception that stopped it, so a dead writer cannot pass unseen.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from ddbmigrate.sample import sample_item

__all__ = ["ChangeWriter"]


class ChangeWriter(threading.Thread):
    """Changes ``slots`` keys of the sample schema (pk S, sk N) until :meth:`finish` is called."""

    def __init__(self, client: Any, table: str, *, slots: int = 200, hot: int = 5, seed: int = 11,
                 pause: float = 0.005) -> None:
        super().__init__(name=f"ddbmigrate-writer-{table}", daemon=True)
        self.client, self.table, self.slots, self.hot, self.pause = client, table, slots, hot, pause
        self.rng = random.Random(seed)
        self.stopped = threading.Event()
        self.changes = {"put": 0, "update": 0, "delete": 0}
        self.error: BaseException | None = None

    def _key(self, slot: int) -> dict[str, Any]:
        item = sample_item(slot)
        return {"pk": item["pk"], "sk": item["sk"]}

    def run(self) -> None:
        version = 0
        try:
            while not self.stopped.is_set():
                version += 1
                slot = self.rng.randrange(self.hot) if self.rng.random() < 0.3 else self.rng.randrange(self.slots)
                roll = self.rng.random()
                if roll < 0.5:
                    item = sample_item(slot, rng=random.Random(version))
                    item["version"] = {"N": str(version)}
                    self.client.put_item(TableName=self.table, Item=item)
                    self.changes["put"] += 1
                elif roll < 0.85:
                    self.client.update_item(
                        TableName=self.table, Key=self._key(slot),
                        UpdateExpression="SET version = :v, tags = :t, note = :b, flag = :f",
                        ExpressionAttributeValues={":v": {"N": str(version)}, ":t": {"SS": ["a", str(version)]},
                                                   ":b": {"B": bytes([version % 256])}, ":f": {"BOOL": version % 2 == 0}})
                    self.changes["update"] += 1
                else:
                    self.client.delete_item(TableName=self.table, Key=self._key(slot))
                    self.changes["delete"] += 1
                time.sleep(self.pause)
        except BaseException as exc:  # kept for the caller, who must check it
            self.error = exc

    @property
    def total(self) -> int:
        return sum(self.changes.values())

    def finish(self, timeout: float = 10.0) -> int:
        """Stop, join, raise what stopped it early; the number of changes made."""
        self.stopped.set()
        self.join(timeout)
        if self.error is not None:
            raise self.error
        return self.total
