"""Setting the scene, untimed: a seeded source table, its emulated export, the generated mapping."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.harness import World
from bench.loaders import WriteRun, build_batches, count_items, fresh_table, parallel_write
from ddbmigrate.sample import sample_items
from ddbmigrate.values import Item, item_size, write_capacity_units

SEED_THREADS = 4
BUCKET = "ddbmigrate-bench-exports"


@dataclass
class Source:
    table: str
    items: int
    seeding: WriteRun
    profile: str = "every-type"


@dataclass
class ExportedSource:
    source: Source
    uri: str
    mapping: Path
    data_files: int


def small_item(i: int) -> Item:
    """Item number ``i`` of the small profile: a key and a handful of short attributes (about
    150 bytes as DynamoDB sizes it, 330 bytes as an export line).

    The usual shape of a live table (issue #16), beside the every-type sample items; same key schema.
    """
    return {
        "pk": {"S": f"customer#{i // 4:06d}"},
        "sk": {"N": str(i % 4)},
        "name": {"S": f"Person {i}"},
        "email": {"S": f"person{i}@example.com"},
        "status": {"S": ("active", "closed", "pending")[i % 3]},
        "balance": {"N": f"{(i * 7919) % 100000}.{i % 100:02d}"},
        "visits": {"N": str(i % 1000)},
        "verified": {"BOOL": i % 2 == 0},
        "updated": {"S": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z"},
        "plan": {"M": {"tier": {"S": ("free", "pro")[i % 2]}, "seats": {"N": str(1 + i % 9)}}},
    }


def small_items(count: int) -> Iterator[Item]:
    """``count`` distinct small items (keys ``customer#NNNNNN`` × sort key 0–3)."""
    return (small_item(i) for i in range(count))


PROFILES: dict[str, Callable[[int], Iterator[Item]]] = {"every-type": sample_items, "small": small_items}
"""Item shapes the bench runs with: the sample items (every DynamoDB type, odd names) and small items."""


def mean_wcu_per_item(sample: int = 1000) -> float:
    """Average WCU of the bench's items (the sample items are the same shape throughout)."""
    sizes = [write_capacity_units(item_size(item)) for item in itertools.islice(sample_items(sample), sample)]
    return sum(sizes) / len(sizes)


def seed_source(world: World, table: str, count: int, console: Console, *, profile: str = "every-type") -> Source:
    """Create ``table`` in the source account and fill it with ``count`` items of ``profile`` (:data:`PROFILES`)."""
    fresh_table(world.source, table)
    batches = build_batches(PROFILES[profile](count))
    run = parallel_write(world.source, table, batches, SEED_THREADS)
    found = count_items(world.source, table)
    if found != count:
        raise RuntimeError(f"seeding {table}: wrote {count} items but the table holds {found}")
    console.print(f"seeded {count} {profile} items into source table {table} ({run.items_per_second:.0f} items/s, {SEED_THREADS} threads)")
    return Source(table=table, items=count, seeding=run, profile=profile)


def export_source(world: World, source: Source, prefix: str, console: Console) -> ExportedSource:
    """Emulate the native export into the target account's bucket, check it, crawl, build the mapping."""
    from ddbmigrate.export import emulate_export, open_export
    from ddbmigrate.mapping import build_mapping, save_mapping
    from ddbmigrate.schema import crawl

    s3: Any = world.target.client("s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        s3.create_bucket(Bucket=BUCKET)
    uri = emulate_export(world.source, source.table, s3, BUCKET, prefix)
    export = open_export(uri, s3)
    export.check(verify_checksums=True)
    if export.item_count != source.items:
        raise RuntimeError(f"export {uri} holds {export.item_count} items, the table {source.items}")
    mapping = build_mapping(crawl(export), source={"export": uri})
    path = world.workdir / f"{source.table}.mapping.json"
    save_mapping(mapping, path)
    console.print(f"exported {export.item_count} items in {len(export.data_files)} data files: {uri}")
    return ExportedSource(source=source, uri=uri, mapping=path, data_files=len(export.data_files))
