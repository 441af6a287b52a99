"""ddbmigrate benchmarks (a script, not a test): job throughput vs the raw ceiling, rate control, table copy.

    .venv/bin/python bench/run.py                      # everything, 200,000 items (tens of minutes)
    .venv/bin/python bench/run.py --quick              # 5,000 items, a 25-second rate run
    make bench BENCH_ARGS="--scenario rate --provisioned-wcu 400 --write-percent 0.5"

It starts its own local stack in a temporary folder (free ports; other stacks on the machine are
untouched), points the environment at it (restored afterwards), starts its own SparkSession
(``local[*]``) and always tears everything down, on errors and Ctrl-C/SIGTERM too. Each scenario
prints a table; the run ends with one PASS/FAIL line per target and exits 1 when any failed.
See bench/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

DEFAULT_ITEMS = 200_000
QUICK_ITEMS = 5_000
DEFAULT_CHANGES = 20_000
QUICK_CHANGES = 5_000
QUICK_RESUME_ITEMS = 4_000


def parse_args(argv: list[str]) -> argparse.Namespace:
    from bench.resume import RESUME_ITEMS

    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=None, help=f"items for throughput/copy (default {DEFAULT_ITEMS}; --quick {QUICK_ITEMS})")
    parser.add_argument("--scenario", choices=("all", "throughput", "rate", "copy", "replication", "resume"),
                        default="all")
    parser.add_argument("--write-percent", type=float, default=0.5, help="rate scenario: dynamodb.throughput.write.percent")
    parser.add_argument("--provisioned-wcu", type=int, default=400, help="rate scenario: the target table's provisioned WCU")
    parser.add_argument("--window", type=int, default=5, help="rate scenario: window length in seconds")
    parser.add_argument("--rate-seconds", type=float, default=None,
                        help="rate scenario: seconds of writing at the budget to size the run (default 75; --quick 25)")
    parser.add_argument("--replication-changes", type=int, default=None,
                        help=f"replication scenario: changes replayed for throughput (default {DEFAULT_CHANGES}; --quick {QUICK_CHANGES})")
    parser.add_argument("--lag-seconds", type=float, default=None,
                        help="replication scenario: seconds of writing at half the replication rate for the lag (default 20; --quick 10)")
    parser.add_argument("--resume-items", type=int, default=None,
                        help=f"resume scenario: every-type items in its own source table (default {RESUME_ITEMS}; --quick {QUICK_RESUME_ITEMS})")
    parser.add_argument("--threads", default="1,2,4,8", help="raw ceiling: thread counts to try (comma-separated)")
    parser.add_argument("--profiles", default="every-type,small",
                        help="item shapes for throughput/copy, comma-separated: every-type (the sample items), small")
    parser.add_argument("--scan-segments", default="1,2,4", help="raw Scan ceiling (copy): segment counts to try")
    parser.add_argument("--probe", type=int, default=None, help="raw ceiling: items per thread-count probe (default items/20, 1000–10000)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the stack state, mappings and dead letters here (default: a temp folder)")
    parser.add_argument("--isolate-dynamodb", action="store_true",
                        help="run DynamoDB Local on the last core and everything else on the others (as on Glue, "
                             "where the workers' cores are not DynamoDB's); default: all processes share the cores")
    parser.add_argument("--quick", action="store_true", help=f"a small run: {QUICK_ITEMS} items, 25 s of rate control")
    args = parser.parse_args(argv)
    args.items = args.items or (QUICK_ITEMS if args.quick else DEFAULT_ITEMS)
    args.rate_seconds = args.rate_seconds or (25.0 if args.quick else 75.0)
    args.replication_changes = args.replication_changes or (QUICK_CHANGES if args.quick else DEFAULT_CHANGES)
    args.lag_seconds = args.lag_seconds or (10.0 if args.quick else 20.0)
    args.probe = args.probe or min(10_000, max(1_000, args.items // 20))
    args.resume_items = args.resume_items or (QUICK_RESUME_ITEMS if args.quick else RESUME_ITEMS)
    try:
        args.thread_counts = sorted({int(t) for t in args.threads.split(",") if t.strip()})
        args.scan_segments = sorted({int(t) for t in args.scan_segments.split(",") if t.strip()})
    except ValueError:
        parser.error(f"--threads, --scan-segments: expected comma-separated whole numbers, got {args.threads!r}, "
                     f"{args.scan_segments!r}")
    args.profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    if not args.profiles or set(args.profiles) - {"every-type", "small"}:
        parser.error(f"--profiles: every-type and/or small, got {','.join(args.profiles)!r}")
    if not args.thread_counts or min(args.thread_counts) < 1:
        parser.error("--threads: at least one thread count ≥ 1")
    if args.items < 1 or args.window < 1 or args.provisioned_wcu < 1:
        parser.error("--items, --window and --provisioned-wcu must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))  # `python bench/run.py` puts bench/ first, not the repository
    from rich.console import Console

    from bench import scenarios
    from bench.harness import bench_world
    from ddbmigrate.capacity import validate_percent

    args = parse_args(sys.argv[1:] if argv is None else argv)
    validate_percent(args.write_percent, option="--write-percent")
    console = Console()
    wanted = {"throughput", "rate", "copy", "replication", "resume"} if args.scenario == "all" else {args.scenario}
    checks: list[scenarios.Check] = []
    started = time.monotonic()
    sizes = [f"{args.items} items"] if wanted - {"replication", "resume"} else []
    if "resume" in wanted:
        sizes.append(f"resume: {args.resume_items} items")
    if "replication" in wanted:
        sizes.append(f"{args.replication_changes} changes + {args.lag_seconds} s for the lag")
    console.rule(f"ddbmigrate bench: {', '.join(sorted(wanted))}; {'; '.join(sizes)}")
    try:
        with bench_world(keep_dir=args.workdir, isolate_dynamodb=args.isolate_dynamodb) as world:
            console.print(f"private stack: source {world.stack.source_dynamodb}, target {world.stack.target_dynamodb}, "
                          f"s3 {world.stack.s3}; Spark {world.spark.sparkContext.master} "
                          f"({world.spark.sparkContext.defaultParallelism} slots; its Python workers started in "
                          f"{world.python_workers_seconds:.1f} s, untimed); {world.placement}")
            # Cheapest first, the export-import job (the longest phase) last: an interrupted run
            # still has the ceiling, the copy and the rate results.
            ceiling = source = None
            if wanted & {"throughput", "copy"} and "every-type" in args.profiles:
                source = scenarios.prepare_throughput_source(world, args.items, console)
            if source is not None or "replication" in wanted:  # the replication alone: a ceiling of its own size
                ceiling_items = args.items if wanted & {"throughput", "copy"} else args.replication_changes
                probe = args.probe if wanted & {"throughput", "copy"} else min(args.probe, max(1_000, ceiling_items // 20))
                ceiling = scenarios.raw_ceiling(world, ceiling_items, args.thread_counts, probe, console)
            if "copy" in wanted and source is not None and ceiling is not None:
                checks += _guarded("copy", console, lambda: scenarios.copy(
                    world, source, ceiling, console, scenarios.scan_ceiling(world, source, args.scan_segments, console)))
            if "replication" in wanted and ceiling is not None:
                from bench.replication import replication

                checks += _guarded("replication", console, lambda: replication(
                    world, changes=args.replication_changes, lag_seconds=args.lag_seconds, ceiling=ceiling,
                    console=console))
            if "rate" in wanted:
                checks += _guarded("rate", console, lambda: scenarios.rate(
                    world, wcu=args.provisioned_wcu, write_percent=args.write_percent,
                    seconds=args.rate_seconds, window=args.window, ceiling=ceiling, console=console))
            if "resume" in wanted:
                from bench.resume import seeded_resume

                checks += _guarded("resume", console, lambda: seeded_resume(world, args.resume_items, console))
            for profile in [p for p in args.profiles if p != "every-type"] if wanted & {"throughput", "copy"} else []:
                checks += _guarded(f"{profile} items", console, lambda profile=profile: scenarios.profile_runs(
                    world, profile, items=args.items, thread_counts=args.thread_counts, probe=args.probe,
                    scan_segments=args.scan_segments, wanted=wanted, console=console))
            if "throughput" in wanted and source is not None and ceiling is not None:
                checks += _guarded("throughput", console, lambda: scenarios.throughput(
                    world, scenarios.export_source(world, source, "bench", console), ceiling, console))
    except KeyboardInterrupt:
        console.print("[red]interrupted: the bench's stack and Spark session were stopped[/]")
        return 130
    console.rule(f"summary ({time.monotonic() - started:.0f} s; machine: {_machine(args.isolate_dynamodb)})")
    for check in checks:
        verdict = "[green]PASS[/]" if check.passed else "[red]FAIL[/]"
        console.print(f"{verdict} {check.scenario}: {check.name}: {check.measured} (target {check.target})")
    return 0 if checks and all(c.passed for c in checks) else 1


def _guarded(name: str, console: Any, run: Callable[[], list[Any]]) -> list[Any]:
    """Run one scenario; an error becomes a FAIL line (with its message) and the others still run."""
    from bench.scenarios import Check

    console.rule(f"[bold]{name}[/] ({time.strftime('%H:%M:%S')})")
    try:
        return run()
    except Exception as exc:  # a benchmark reports; the traceback is printed for the investigation
        console.print_exception(max_frames=8)
        return [Check(name, "scenario ran", f"{type(exc).__name__}: {exc}"[:300], "no error", False)]


def _machine(isolated: bool) -> str:
    import os

    return f"{os.cpu_count()} cores" + ("; DynamoDB Local on its own core (--isolate-dynamodb)" if isolated else "")


if __name__ == "__main__":
    sys.exit(main())
