"""CPU seconds per process over a phase of the bench: this process (every thread) and each local service.

On a 2-core machine the bench's own Python and both DynamoDB Local JVMs share the cores, so a ratio
against the raw ceiling is also a statement about CPU: where a record's CPU goes, and how many
records per second the cores allow at that cost, is what this measures (from ``/proc``, Linux only;
elsewhere every figure is absent and the tables say so).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from bench.harness import World

__all__ = ["cpu_spent"]

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
SELF = "bench process"


def _cpu_seconds(pid: int | str) -> float | None:
    """utime + stime of one process (all its threads), or None when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS  # fields 14 and 15 of proc(5), counted after the name


def _snapshot(world: World) -> dict[str, float | None]:
    shot = {SELF: _cpu_seconds("self")}
    for name, service in world.stack.services.items():
        shot[name] = _cpu_seconds(service.pid)
    return shot


@contextlib.contextmanager
def cpu_spent(world: World) -> Iterator[dict[str, float]]:
    """Fills the yielded dict, on exit, with each process's CPU seconds over the block (readable ones only)."""
    before = _snapshot(world)
    spent: dict[str, float] = {}
    try:
        yield spent
    finally:
        after = _snapshot(world)
        for name, start in before.items():
            end = after.get(name)
            if start is not None and end is not None:
                spent[name] = end - start
