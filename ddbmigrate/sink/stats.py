"""The sink's counters: what one writer (or a whole job, merged) did, and whether it adds up.

``received = written + dead_lettered`` once every writer is closed — the reconciliation the jobs
print and check. Items are counted once each: ``written`` when DynamoDB acknowledged them
(a retry after a dropped connection may write an item twice; it is still counted once), and
``dead_lettered`` when their dead letter was recorded. The other counters say how hard it was.
Plain data, no Spark: :mod:`ddbmigrate.sink.spark` merges them through an accumulator.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

__all__ = ["SinkStats"]


@dataclass
class SinkStats:
    """Counters of one writer or of many merged (:meth:`merge`)."""

    received: int = 0
    """Puts and deletes handed to the writer."""
    written: int = 0
    """Requests DynamoDB acknowledged (not returned as unprocessed)."""
    dead_lettered: int = 0
    """Requests recorded as dead letters (with their reason)."""
    consumed_wcu: float = 0.0
    """Write capacity DynamoDB reported consumed on the table."""
    batches: int = 0
    """BatchWriteItem calls made, retries included."""
    retries: int = 0
    """Calls that re-sent requests after a failure or unprocessed items."""
    throttles: int = 0
    """Calls refused for capacity (ProvisionedThroughputExceeded, Throttling, RequestLimitExceeded)."""
    unprocessed: int = 0
    """Requests DynamoDB returned in ``UnprocessedItems`` (each time it did)."""
    server_errors: int = 0
    """Calls answered with a 5xx."""
    connection_errors: int = 0
    """Calls whose connection failed, dropped or timed out."""
    splits: int = 0
    """Batches split in two to find the item DynamoDB rejected."""
    waited_seconds: float = 0.0
    """Time spent waiting for write capacity (the rate limit)."""
    backoff_seconds: float = 0.0
    """Time spent backing off before retries."""
    cpu_seconds: float = 0.0
    """CPU time of the writing tasks' processes while they wrote (``time.process_time``: every
    thread — reading, checking, sending); divided by ``received``, the job's CPU per item."""

    @property
    def pending(self) -> int:
        """Received but neither written nor dead-lettered (0 after a clean close)."""
        return self.received - self.written - self.dead_lettered

    @property
    def reconciles(self) -> bool:
        return self.pending == 0

    def merge(self, other: SinkStats) -> SinkStats:
        """Add ``other`` into this one (in place) and return it."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def summary(self) -> str:
        """One log line: counts and effort, never item contents."""
        return (
            f"received={self.received} written={self.written} dead_lettered={self.dead_lettered} "
            f"consumed_wcu={self.consumed_wcu:.1f} batches={self.batches} retries={self.retries} "
            f"throttles={self.throttles} unprocessed={self.unprocessed} server_errors={self.server_errors} "
            f"connection_errors={self.connection_errors} waited={self.waited_seconds:.1f}s "
            f"backoff={self.backoff_seconds:.1f}s"
        )
