"""(e) Resume: the time a resumed export-import saves against a fresh one (issue 16).

A fresh run with a run id imports every data file into an empty table. Then the records of half
of the files are removed from its run state and the table emptied — what a run killed right after
its first half left behind, minus the in-flight files — and the same run id is run again: it
imports only the other half. Both runs are checked: the target holds exactly the source's items
and read = written + dead-lettered over every run of the id.

    python -m bench.resume [--items 20000]     # a private stack, as bench/run.py starts it
    .venv/bin/python bench/run.py --scenario resume [--resume-items 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.harness import World, bench_world, sigterm_as_interrupt
from bench.loaders import count_items, drop_table, fresh_table
from bench.prepare import ExportedSource, export_source, seed_source
from bench.scenarios import NO_LIMIT_WCU, Check

__all__ = ["RESUME_ITEMS", "main", "resume", "seeded_resume"]

RESUME_ITEMS = 20_000
"""Items in the resume scenario's source table unless told otherwise."""


def resume(world: World, exported: ExportedSource, console: Console) -> list[Check]:
    """Fresh vs resumed (half of the files done) wall-clock seconds of the export-import job."""
    from ddbmigrate.bulk import ExportImportOptions, run_export_import

    table = f"bench-resume-{int(time.time())}"
    state = world.workdir / "run-state"
    options = ExportImportOptions(
        export_uri=exported.uri, mapping=str(exported.mapping), target_table=table, target=world.target,
        bucket_account=world.target, write_percent=1.0, write_capacity=NO_LIMIT_WCU,
        dead_letter=str(world.workdir / f"dead-letters-{table}"), run_id=table, run_state=str(state),
    )
    items = exported.source.items
    fresh_table(world.target, table)
    started = time.monotonic()
    fresh = run_export_import(world.spark, options)
    fresh_seconds = time.monotonic() - started
    fresh_ok = fresh.ok and count_items(world.target, table) == items

    records = sorted((state / table / "files").glob("*.json"))
    for record in records[: len(records) // 2]:  # these files were "in flight or not started" when the run died
        Path(record).unlink()
    fresh_table(world.target, table)
    started = time.monotonic()
    resumed = run_export_import(world.spark, options)
    resumed_seconds = time.monotonic() - started
    resumed_items = count_items(world.target, table)
    drop_table(world.target, table)
    left = len(records) - len(records) // 2
    resumed_ok = resumed.ok and resumed.read == items and resumed.resume is not None and resumed.resume.skipped == left

    saved = fresh_seconds - resumed_seconds
    shown = Table(title=f"(e) resume — {items} items in {len(records)} data files; the rerun finds {left} done")
    for column in ("run", "seconds", "items written by this run", "reconciles over all runs"):
        shown.add_column(column)
    shown.add_row("fresh", f"{fresh_seconds:.1f}", str(fresh.written), "yes" if fresh_ok else "NO")
    shown.add_row("resumed", f"{resumed_seconds:.1f}", str(resumed_items), "yes" if resumed_ok else "NO")
    console.print(shown)
    return [Check("resume", f"resumed run with {left} of {len(records)} files done", f"{resumed_seconds:.1f} s, "
                  f"{saved:.1f} s saved ({saved / fresh_seconds:.0%} of {fresh_seconds:.1f} s)" if fresh_seconds else "-",
                  "less than the fresh run, counts reconcile", fresh_ok and resumed_ok and saved > 0)]


def seeded_resume(world: World, items: int, console: Console) -> list[Check]:
    """``bench/run.py --scenario resume``: a source of ``items`` every-type items, its export, :func:`resume`."""
    source = seed_source(world, "bench-resume-source", items, console)
    return resume(world, export_source(world, source, "resume", console), console)


def main(argv: list[str] | None = None) -> int:
    """Seed, export, then :func:`resume` on a private stack; exit 1 when the check fails."""
    parser = argparse.ArgumentParser(prog="python -m bench.resume", description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=RESUME_ITEMS, help=f"items in the source table (default {RESUME_ITEMS})")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    console = Console()
    with sigterm_as_interrupt(), bench_world() as world:
        checks = seeded_resume(world, args.items, console)
    for check in checks:
        console.print(f"{check.name}: {check.measured} (target: {check.target}) — {'pass' if check.passed else 'FAIL'}")
    return 0 if all(check.passed for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
