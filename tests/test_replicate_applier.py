"""The applier: which changes of a batch are written (pure planning, checked with hypothesis), and the
batch applied through a real sink ``TableWriter`` into the target account's DynamoDB Local — cut-off,
last change per key, TTL policy, mapping failures as dead letters, and the reconciliation
``seen = applied + skipped + superseded + dead_lettered``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddbmigrate.digest import item_digest
from ddbmigrate.errors import MappingError
from ddbmigrate.replicate.applier import ApplyPolicy, apply_changes, first_sequence, plan_changes
from ddbmigrate.replicate.records import ChangeRecord
from ddbmigrate.sample import create_sample_table, sample_item
from ddbmigrate.sink import SinkOptions, open_writer
from ddbmigrate.values import Item

STREAM = "arn:aws:dynamodb:us-east-1:111122223333:table/t/stream/2024-01-01T00:00:00.000"
CUTOFF = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)


def change(sequence: int, operation: str, pk: str, *, sk: int = 0, minutes: float = 1, ttl: bool = False,
           image: Item | None = None) -> ChangeRecord:
    """A change of key (pk, sk) ``minutes`` after the cut-off (negative: before it)."""
    keys = {"pk": {"S": pk}, "sk": {"N": str(sk)}}
    new = None if operation == "REMOVE" else (image or {**keys, "seq": {"N": str(sequence)}})
    return ChangeRecord(stream_arn=STREAM, shard_id="shardId-1", sequence_number=f"{sequence:021d}",
                        operation=operation, keys=keys, new_image=new,  # type: ignore[arg-type]
                        created=CUTOFF + timedelta(minutes=minutes), view_type="NEW_AND_OLD_IMAGES", ttl_delete=ttl)


# --------------------------------------------------------------------------- planning (pure)

_changes = st.lists(st.tuples(st.sampled_from(["INSERT", "MODIFY", "REMOVE"]), st.sampled_from("abcd"),
                              st.integers(0, 1), st.sampled_from([-10, -0.5, 0, 0.5, 10]), st.booleans()),
                    max_size=40)


@settings(max_examples=300, deadline=None)
@given(_changes, st.sampled_from(["replicate", "skip"]))
def test_plan_keeps_the_last_eligible_change_of_each_key_in_stream_order_and_counts_the_rest(
        raw: list[tuple[str, str, int, float, bool]], ttl_deletes: str) -> None:
    records = [change(i + 1, op, pk, sk=sk, minutes=minutes, ttl=ttl and op == "REMOVE")
               for i, (op, pk, sk, minutes, ttl) in enumerate(raw)]
    policy = ApplyPolicy(CUTOFF, ttl_deletes)  # type: ignore[arg-type]
    plan = plan_changes(records, policy)
    eligible = [r for r in records if r.created >= CUTOFF and not (r.ttl_delete and ttl_deletes == "skip")]
    last: dict[Any, ChangeRecord] = {}
    for record in eligible:
        last[(record.keys["pk"]["S"], record.keys["sk"]["N"])] = record
    assert list(plan.writes) == sorted(last.values(), key=lambda r: r.sequence)
    stats = plan.stats
    assert stats.seen == len(records)
    assert stats.skipped_before_cutoff == sum(r.created < CUTOFF for r in records)
    assert stats.superseded == len(eligible) - len(last)
    assert stats.seen == len(plan.writes) + stats.skipped + stats.superseded
    assert first_sequence(records) == (records[0].sequence_number if records else None)


def test_a_change_exactly_at_the_cutoff_is_applied() -> None:
    plan = plan_changes([change(1, "INSERT", "a", minutes=0), change(2, "INSERT", "b", minutes=-1 / 60)],
                        ApplyPolicy(CUTOFF))
    assert [r.keys["pk"]["S"] for r in plan.writes] == ["a"] and plan.stats.skipped_before_cutoff == 1


# --------------------------------------------------------------------------- applied through the real sink


@pytest.fixture
def table(target_ddb: Any, unique_name: Callable[[str], str]) -> str:
    name = unique_name("apply")
    create_sample_table(target_ddb, name)
    return name


def _writer(target: Any, table: str, tmp_path: Path) -> Any:
    return open_writer(SinkOptions(table=table, target=target, dead_letter=str(tmp_path / "dl")), name="apply")


def _contents(client: Any, table: str) -> dict[tuple[str, str], Item]:
    items = client.scan(TableName=table, ConsistentRead=True)["Items"]
    return {(i["pk"]["S"], i["sk"]["N"]): i for i in items}


def _letters(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for p in sorted((tmp_path / "dl").glob("*.jsonl")) for line in p.read_text().splitlines()]


@pytest.mark.parametrize("ttl_deletes", ["replicate", "skip"])
def test_a_batch_applies_the_last_change_per_key_after_the_cutoff_and_reconciles(
        target: Any, target_ddb: Any, table: str, tmp_path: Path, ttl_deletes: str) -> None:
    # GIVEN items already in the target (the export's), then a batch of changes
    for pk in ("old", "hot", "ttl", "gone"):
        target_ddb.put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"N": "0"}, "seq": {"N": "0"}})
    full = sample_item(3)  # every type, binary sets, nesting
    batch = [
        change(1, "MODIFY", "old", minutes=-6),          # before the cut-off: already in the export
        change(2, "MODIFY", "hot"), change(3, "REMOVE", "hot"), change(4, "INSERT", "hot"),  # delete, re-insert
        change(5, "REMOVE", "ttl", ttl=True),
        change(6, "REMOVE", "gone"),
        change(7, "INSERT", full["pk"]["S"], sk=int(full["sk"]["N"]), image=full),
        change(8, "MODIFY", "hot", image={"pk": {"S": "hot"}, "sk": {"N": "0"}, "seq": {"N": "8"}}),
    ]
    writer = _writer(target, table, tmp_path)
    stats = apply_changes(plan_changes(batch, ApplyPolicy(CUTOFF, ttl_deletes)), writer)  # type: ignore[arg-type]
    writer.close()

    got = _contents(target_ddb, table)
    assert got[("old", "0")]["seq"] == {"N": "0"}            # untouched
    assert got[("hot", "0")]["seq"] == {"N": "8"}            # the last change won
    assert ("gone", "0") not in got
    assert (("ttl", "0") in got) is (ttl_deletes == "skip")
    assert item_digest(got[(full["pk"]["S"], full["sk"]["N"])]) == item_digest(full)  # by DynamoDB's semantics
    assert stats.seen == 8 and stats.superseded == 3 and stats.skipped_before_cutoff == 1
    assert stats.skipped_ttl == (1 if ttl_deletes == "skip" else 0)
    assert stats.deletes == (2 if ttl_deletes == "replicate" else 1) and stats.dead_lettered == 0
    assert stats.reconciles and stats.seen == stats.applied + stats.skipped + stats.superseded + stats.dead_lettered
    assert stats.newest_applied == (CUTOFF + timedelta(minutes=1)).timestamp()


@pytest.mark.parametrize("failure", [MappingError("attribute 'x' does not fit the rule"), ValueError("bad value 42"),
                                     ArithmeticError("overflow"), RecursionError("too deep")])
def test_whatever_a_mapping_raises_for_one_items_contents_dead_letters_that_record_only(
        target: Any, target_ddb: Any, table: str, tmp_path: Path, failure: Exception) -> None:
    def mapping(item: Item) -> Item:
        if item["pk"]["S"] == "bad":
            raise failure
        return item

    batch = [change(1, "INSERT", "a"), change(2, "INSERT", "bad"), change(3, "INSERT", "b")]
    writer = _writer(target, table, tmp_path)
    stats = apply_changes(plan_changes(batch, ApplyPolicy(CUTOFF)), writer, transform=mapping)
    writer.close()
    assert set(_contents(target_ddb, table)) == {("a", "0"), ("b", "0")}
    assert (stats.applied, stats.dead_lettered) == (2, 1) and stats.reconciles
    letter, = _letters(tmp_path)
    assert letter["origin"] == f"stream {STREAM} shard shardId-1 sequence {2:021d}"
    assert letter["item"] == {"pk": {"S": "bad"}, "sk": {"N": "0"}, "seq": {"N": "2"}}
    # our errors name attributes and are kept; a foreign one is named by its class only (it may quote values)
    expected = str(failure) if isinstance(failure, MappingError) else type(failure).__name__
    assert letter["reason"] == f"cannot apply the mapping: {expected}" and "42" not in letter["reason"]


def test_a_programming_error_in_the_mapping_surfaces(target: Any, table: str, tmp_path: Path) -> None:
    def mapping(item: Item) -> Item:
        return item["no such attribute"]  # a bug: KeyError

    writer = _writer(target, table, tmp_path)
    with pytest.raises(KeyError):
        apply_changes(plan_changes([change(1, "INSERT", "a")], ApplyPolicy(CUTOFF)), writer, transform=mapping)
    writer.close()
    assert _letters(tmp_path) == [] if (tmp_path / "dl").exists() else True


def test_a_mapping_carries_schema_drift_into_the_target_and_the_counts_name_it(
        target: Any, target_ddb: Any, table: str, tmp_path: Path) -> None:
    from ddbmigrate.mapping import build_mapping
    from ddbmigrate.mapping.items import ItemMapping
    from ddbmigrate.schema import infer_schema

    # GIVEN the bulk load's generated mapping, and new images that gained an attribute or changed a type
    mapping = ItemMapping(build_mapping(infer_schema([change(1, "INSERT", "a").new_image])))  # type: ignore[list-item]
    gained = {"pk": {"S": "b"}, "sk": {"N": "0"}, "seq": {"N": "2"}, "loyalty": {"SS": ["gold"]}}
    retyped = {"pk": {"S": "c"}, "sk": {"N": "0"}, "seq": {"S": "three"}}
    batch = [change(1, "INSERT", "a"), change(2, "INSERT", "b", image=gained), change(3, "INSERT", "c", image=retyped)]
    # WHEN they are applied through it, and the batch's counts merge into a run's
    writer = _writer(target, table, tmp_path)
    stats = apply_changes(plan_changes(batch, ApplyPolicy(CUTOFF)), writer, transform=mapping)
    writer.close()
    total = stats.merge(stats)
    # THEN every change is written as it came, and the drift is counted by name (never a value)
    got = _contents(target_ddb, table)
    assert got[("b", "0")] == gained and got[("c", "0")] == retyped
    assert (stats.applied, stats.dead_lettered) == (3, 0) and stats.reconciles
    assert (stats.drift.unknown, stats.drift.retyped) == ({"loyalty": 1}, {"seq (N→S)": 1})
    assert total.drift.unknown == {"loyalty": 2} and "schema drift: 2 item(s) carried new attribute(s) loyalty (2)" \
        in total.summary()
    assert "gold" not in total.summary() and "three" not in total.summary()
