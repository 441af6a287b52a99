"""CPU seconds per process over a phase of the bench: this process (every thread) and each local service.

On a 2-core machine the bench's own Python and both DynamoDB Local JVMs share the cores, so a ratio
against the raw ceiling is also a statement about CPU: where a record's CPU goes, and how many
records per second the cores allow at that cost, is what this measures (from ``/proc``, Linux only;
elsewhere every figure is absent and the tables say so).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from rich.table import Table

from bench.harness import World

__all__ = ["Phase", "cpu_per_item_table", "cpu_spent", "per_item_sum", "pin"]

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
SELF = "bench process"
"""This process with its descendants: the bench's threads, and Spark's JVM and Python workers."""


def _processes() -> dict[int, tuple[int, float]]:
    """Every process's ``(parent pid, utime + stime seconds)`` (all its threads), from ``/proc``."""
    found: dict[int, tuple[int, float]] = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # gone meanwhile
            # proc(5): ppid is field 4, utime and stime fields 14 and 15; counted here after the name
            found[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS)
    return found


def pin(pid: int, cpus: set[int], *, sparing: Collection[int] = ()) -> None:
    """Run every thread of ``pid`` and of its descendants (but not those of ``sparing``) on ``cpus``
    only; threads they start later inherit it. Linux only: ``sched_setaffinity`` is per thread, hence
    the walk over ``/proc``."""
    processes = _processes()
    todo = [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError):
            for thread in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError):  # a thread that ended meanwhile
                    os.sched_setaffinity(int(thread), cpus)
        todo += [child for child, (parent, _) in processes.items() if parent == current and child not in sparing]


def _snapshot(world: World) -> dict[str, float | None]:
    """CPU seconds so far of this process and each local service, each with its descendants (Spark's
    JVM and Python workers are this process's); a service is never counted as this process's child."""
    processes = _processes()
    if not processes:
        return {}
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    services = {service.pid: name for name, service in world.stack.services.items()}

    def tree(root: int) -> float | None:
        if root not in processes:
            return None
        total, todo = 0.0, [root]
        while todo:
            pid = todo.pop()
            total += processes[pid][1]
            todo += [child for child in children.get(pid, []) if child not in services]
        return total

    return {SELF: tree(os.getpid()), **{name: tree(pid) for pid, name in services.items()}}


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


class Phase(NamedTuple):
    """One measured phase: its name, the CPU seconds per process over it, and the items it handled."""

    name: str
    spent: Mapping[str, float]
    items: int


def cpu_per_item_table(title: str, phases: Sequence[Phase]) -> Table:
    """Milliseconds of CPU per item, per process, for each phase, and the items/s the machine's cores
    allow at that cost (each phase had the machine to itself). A phase ``spent`` may be a sum of
    phases (e.g. raw Scan + raw write: what one copied item costs at the raw ceilings)."""
    cores = os.cpu_count() or 1
    names = sorted({name for phase in phases for name in phase.spent}, key=lambda n: (n != SELF, n))
    table = Table(title=f"{title} (ms of CPU per item; {cores} cores)")
    for col in ("phase", *names, "total", "cores allow (items/s)"):
        table.add_column(col, justify="right" if col != "phase" else "left")
    for phase in phases:
        if not phase.spent or not phase.items:
            table.add_row(phase.name, *["–"] * len(names), "–", "(not measurable here)")
            continue
        per = {name: phase.spent.get(name, 0.0) / phase.items * 1000 for name in names}
        total = sum(per.values())
        table.add_row(phase.name, *[f"{per[name]:.2f}" for name in names], f"{total:.2f}",
                      f"{cores * 1000 / total:.0f}" if total else "–")
    return table


def per_item_sum(*phases: Phase) -> dict[str, float]:
    """CPU seconds per process that one item costs across ``phases``, scaled back to the first's item count."""
    items = phases[0].items
    total: dict[str, float] = {}
    for phase in phases:
        for name, seconds in phase.spent.items():
            total[name] = total.get(name, 0.0) + seconds / max(phase.items, 1) * items
    return total
