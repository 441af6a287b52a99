"""One Spark accumulator type for every counter dataclass that knows how to ``merge``.

The sink's :class:`~ddbmigrate.sink.stats.SinkStats` and the Scan's
:class:`~ddbmigrate.copy.ScanStats` come back from the executors the same way: each task adds its
own instance, Spark merges them field by field. Spark applies a task's update exactly once when
the update happens inside an action (``foreachPartition``).
"""

from __future__ import annotations

from typing import Any

from pyspark.accumulators import AccumulatorParam

__all__ = ["MergeParam"]


class MergeParam(AccumulatorParam):  # type: ignore[misc]  # pyspark ships no type hints
    """Accumulate instances of a class with a no-argument constructor and ``merge(other) -> self``."""

    def zero(self, value: Any) -> Any:
        return type(value)()

    def addInPlace(self, value1: Any, value2: Any) -> Any:  # Spark's name
        return value1.merge(value2)
