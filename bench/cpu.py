"""CPU per item of one writing task, in this process: the identity route without Spark around it.

Spark's Python worker runs a task's read, decompress, validate, size, send and account in one
process; this runs the same functions (``bulk._items_of_file`` into ``TaskPlan.write``) over an
export's files here, so ``time.process_time`` (every thread of the process) and cProfile see exactly
that path. With ``requests_in_flight=1`` everything runs on the calling thread, which is what
cProfile can attribute; the job's default (4 writers) is measured for its CPU only.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from dataclasses import dataclass
from typing import Any

from bench.harness import World
from bench.loaders import count_items, drop_table, fresh_table
from bench.prepare import ExportedSource

__all__ = ["TaskCpu", "one_task"]


@dataclass(frozen=True)
class TaskCpu:
    """One in-process writing task over the whole export."""

    items: int
    writers: int
    cpu_seconds: float
    wall_seconds: float
    profile: str = ""
    """cProfile's top functions by own time (empty unless asked for)."""

    @property
    def cpu_us_per_item(self) -> float:
        return self.cpu_seconds / self.items * 1e6

    @property
    def items_per_second(self) -> float:
        return self.items / self.wall_seconds


def one_task(world: World, exported: ExportedSource, *, writers: int, profile: bool = False, top: int = 25) -> TaskCpu:
    """Import every file of ``exported`` through one writing task in this process; CPU and wall time."""
    from ddbmigrate.bulk import DataFileTask, _items_of_file, _one_client_per_partition
    from ddbmigrate.capacity import task_budget
    from ddbmigrate.drift import DriftCounts
    from ddbmigrate.dynamodb import describe_table
    from ddbmigrate.export import open_export
    from ddbmigrate.mapping import load_mapping
    from ddbmigrate.sink import SinkOptions
    from ddbmigrate.sink.spark import TaskPlan

    table = "bench-task"
    fresh_table(world.target, table)
    s3: Any = world.target.client("s3")
    export = open_export(exported.uri, s3)
    mapping = load_mapping(str(exported.mapping))
    options = SinkOptions(table=table, target=world.target, write_percent=1.0, capacity_override=1_000_000,
                          requests_in_flight=writers, dead_letter=str(world.workdir / "dead-letters-task"))
    info = describe_table(world.target, table, option="--target-table").with_capacity(write=options.capacity_override)
    plan = TaskPlan(options, info, task_budget(info.write_capacity, 1.0, 1), f"cpu-{writers}")
    tasks = [DataFileTask(f, world.target, dict(mapping.schema)) for f in export.data_files]

    def rows() -> Any:  # one partition holding every file, as a writing task reads its share (drift counted too)
        drift = DriftCounts()
        yield from _one_client_per_partition(lambda task, s3: _items_of_file(task, None, None, drift, s3))(tasks)

    profiler = cProfile.Profile() if profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    stats = plan.write(rows())
    if profiler is not None:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    found = count_items(world.target, table)
    drop_table(world.target, table)
    if found != exported.source.items or stats.written != exported.source.items:
        raise RuntimeError(f"one task: wrote {stats.written}, table holds {found}, expected {exported.source.items}")
    text = ""
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
        text = out.getvalue()
    return TaskCpu(items=found, writers=writers, cpu_seconds=cpu, wall_seconds=wall, profile=text)
