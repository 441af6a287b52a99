"""verify against the local stack: source table in the source account, target in the target account.

Identical tables pass; a missing item, an extra item, a changed nested value, a set that became a
list and a number that lost precision are each reported (library, CLI exit code, JSON report),
locally and with Spark; sampling, mappings, and the read budget measured from ConsumedCapacity.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tables import create_table, put_all

from ddbmigrate.accounts import Account
from ddbmigrate.cli.main import main
from ddbmigrate.digest import in_sample, key_digest
from ddbmigrate.errors import ConfigError, InvalidItemError, MappingError, VerifyMismatch
from ddbmigrate.mapping import MappingFile, build_mapping, save_mapping
from ddbmigrate.sample import sample_item, sample_items
from ddbmigrate.schema import infer_schema
from ddbmigrate.values import Item, item_to_json
from ddbmigrate.verify import (
    MappingTransform,
    VerifyOptions,
    VerifyReport,
    digest_record,
    mapping_transform,
    verify_spark,
    verify_tables,
)

pytestmark = pytest.mark.integration

COUNT = 48
KEY = ("pk", "sk")
# Item contents that must never appear in output or reports (names, values of non-key attributes).
CONTENTS = ("Zoë", "Zürich", "dots are literal", "sometimes a string", "bottom", "1234567890123456789012345678901234567")


@pytest.fixture
def items() -> list[Item]:
    return list(sample_items(COUNT))


@pytest.fixture
def pair(source_ddb: Any, target_ddb: Any, unique_name: Callable[[str], str], items: list[Item]) -> tuple[str, str]:
    """A source table and an identical copy in the target account."""
    source_table, target_table = unique_name("vsrc"), unique_name("vtgt")
    create_table(source_ddb, source_table)
    create_table(target_ddb, target_table)
    put_all(source_ddb, source_table, items)
    put_all(target_ddb, target_table, items)
    return source_table, target_table


def options(source: Account, target: Account, pair: tuple[str, str], **changes: Any) -> VerifyOptions:
    return VerifyOptions(source=source, source_table=pair[0], target=target, target_table=pair[1],
                         segments=changes.pop("segments", 3), **changes)


def key_of(item: Item) -> dict[str, Any]:
    return item_to_json({"pk": item["pk"], "sk": item["sk"]})


# --------------------------------------------------------------------------- the defects


def _missing(ddb: Any, table: str, items: list[Item]) -> dict[str, Any]:
    ddb.delete_item(TableName=table, Key={"pk": items[5]["pk"], "sk": items[5]["sk"]})
    return {"missing": 1, "missing_keys": [key_of(items[5])]}


def _extra(ddb: Any, table: str, items: list[Item]) -> dict[str, Any]:
    stray = sample_item(1000)
    ddb.put_item(TableName=table, Item=stray)
    return {"extra": 1, "extra_keys": [key_of(stray)]}


def _put_changed(ddb: Any, table: str, item: Item, change: Callable[[Item], None]) -> None:
    changed = copy.deepcopy(item)
    change(changed)
    ddb.put_item(TableName=table, Item=changed)


def _nested(ddb: Any, table: str, items: list[Item]) -> dict[str, Any]:
    _put_changed(ddb, table, items[7], lambda i: i["address"]["M"]["geo"]["M"].update(lon={"N": "8.6"}))
    return {"differing": 1, "details": {json.dumps(key_of(items[7])): [
        "attribute 'address'.geo.lon: N differs (5 significant digits in source, 2 in target)"]}}


def _set_to_list(ddb: Any, table: str, items: list[Item]) -> dict[str, Any]:
    _put_changed(ddb, table, items[9], lambda i: i.update(tags={"L": [{"S": t} for t in i["tags"]["SS"]]}))
    return {"differing": 1, "details": {json.dumps(key_of(items[9])): ["attribute 'tags': SS in source, L in target"]}}


def _lost_precision(ddb: Any, table: str, items: list[Item]) -> dict[str, Any]:
    # what a trip through a Python float does to a 38-digit number
    as_float = float(items[11]["precise"]["N"])
    _put_changed(ddb, table, items[11], lambda i: i.update(precise={"N": repr(as_float)}))
    return {"differing": 1, "details": {json.dumps(key_of(items[11])): [
        "attribute 'precise': N differs (38 significant digits in source, 17 in target)"]}}


DEFECTS = {"missing item": _missing, "extra item": _extra, "changed nested value": _nested,
           "set became a list": _set_to_list, "number lost precision": _lost_precision}


def check(report: VerifyReport, expected: dict[str, Any]) -> None:
    assert not report.identical
    for kind in ("missing", "extra", "differing"):
        assert getattr(report, kind) == expected.get(kind, 0), kind
    assert report.missing_keys == expected.get("missing_keys", [])
    assert report.extra_keys == expected.get("extra_keys", [])
    details = {json.dumps(d.source_key): d.details for d in report.differing_items}
    assert details == expected.get("details", {})
    assert report.invalid_source == 0


def assert_no_contents(text: str) -> None:
    for secret in CONTENTS:
        assert secret not in text


# --------------------------------------------------------------------------- local mode


def test_identical_tables_pass(source: Account, target: Account, pair: tuple[str, str]) -> None:
    report = verify_tables(options(source, target, pair))
    assert report.identical, report.summary()
    assert report.source_items == report.target_items == report.matching == COUNT
    assert report.missing == report.extra == report.differing == 0
    assert report.source_read_units > 0 and report.target_read_units > 0
    assert report.source_read_budget == report.target_read_budget == 20_000  # on-demand: 40,000 × 0.5
    report.raise_if_different()


@pytest.mark.parametrize("defect", list(DEFECTS), ids=list(DEFECTS))
def test_each_defect_is_reported(source: Account, target: Account, target_ddb: Any, pair: tuple[str, str],
                                 items: list[Item], defect: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    expected = DEFECTS[defect](target_ddb, pair[1], items)
    report = verify_tables(options(source, target, pair))
    check(report, expected)
    with pytest.raises(VerifyMismatch, match=f"{pair[1]} differs from {pair[0]}"):
        report.raise_if_different()

    # the CLI: non-zero exit, the same findings in the JSON report, no item contents anywhere
    report_file = tmp_path / "out" / "report.json"
    code = main(["verify", "--source-profile", "source", "--source-table", pair[0], "--target-profile", "target",
                 "--target-table", pair[1], "--segments", "2", "--report", str(report_file)])
    out = capsys.readouterr()
    assert code == VerifyMismatch.exit_code == 8
    assert "DIFFERENT" in out.out
    assert f"ddbmigrate: error: {pair[1]} differs from {pair[0]}" in out.err
    written = json.loads(report_file.read_text())
    assert written["identical"] is False
    for kind in ("missing", "extra", "differing"):
        assert written[kind] == expected.get(kind, 0)
    assert [d["details"] for d in written["differing_items"]] == list(expected.get("details", {}).values())
    assert_no_contents(out.out + out.err + report_file.read_text())


def test_cli_exit_zero_when_identical(pair: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report_file = tmp_path / "report.json"
    code = main(["verify", "--source-profile", "source", "--source-table", pair[0], "--target-profile", "target",
                 "--target-table", pair[1], "--report", str(report_file), "--read-percent", "0.2"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "identical" in out.out
    written = json.loads(report_file.read_text())
    assert written["identical"] is True and written["matching"] == COUNT
    assert written["source_read_budget"] == 8000  # on-demand 40,000 × 0.2


def test_several_defects_are_counted(source: Account, target: Account, target_ddb: Any, pair: tuple[str, str],
                                     items: list[Item]) -> None:
    for defect in DEFECTS.values():
        defect(target_ddb, pair[1], items)
    target_ddb.delete_item(TableName=pair[1], Key={"pk": items[20]["pk"], "sk": items[20]["sk"]})
    report = verify_tables(options(source, target, pair, max_samples=1))
    assert (report.missing, report.extra, report.differing) == (2, 1, 3)
    assert report.matching == COUNT - 5
    assert len(report.missing_keys) == 1 and len(report.differing_items) == 1  # samples are bounded


def test_sample_compares_the_same_keys_on_both_sides(source: Account, target: Account, target_ddb: Any,
                                                     pair: tuple[str, str], items: list[Item]) -> None:
    picked = [i for i, item in enumerate(items) if in_sample(key_digest(item, KEY), 0.5)]
    skipped = [i for i in range(COUNT) if i not in picked]
    assert picked and skipped
    report = verify_tables(options(source, target, pair, sample=0.5))
    assert report.identical and report.matching == len(picked)
    assert report.compared_source == report.compared_target == len(picked)
    assert report.source_items == report.target_items == COUNT

    # a defect on an unsampled key is outside the sample; one on a sampled key is found
    target_ddb.delete_item(TableName=pair[1], Key={"pk": items[skipped[0]]["pk"], "sk": items[skipped[0]]["sk"]})
    assert verify_tables(options(source, target, pair, sample=0.5)).identical
    target_ddb.delete_item(TableName=pair[1], Key={"pk": items[picked[0]]["pk"], "sk": items[picked[0]]["sk"]})
    report = verify_tables(options(source, target, pair, sample=0.5))
    assert report.missing == 1 and report.missing_keys == [key_of(items[picked[0]])]


def test_items_a_transform_refuses_are_reported_not_skipped(source: Account, target: Account,
                                                            pair: tuple[str, str], items: list[Item]) -> None:
    refused = items[3]["pk"], items[3]["sk"]

    def transform(item: Item) -> Item:
        if (item["pk"], item["sk"]) == refused:
            raise InvalidItemError("attribute 'blob': cannot be mapped")
        return item

    report = verify_tables(options(source, target, pair), transform=transform)
    assert not report.identical
    assert report.invalid_source == 1 and report.extra == 1  # the target holds it, the source could not say
    assert report.invalid_samples == [{"source_key": key_of(items[3]), "reason": "attribute 'blob': cannot be mapped"}]


def test_missing_table_and_key_mismatch_are_config_errors(source: Account, target: Account, source_ddb: Any,
                                                         pair: tuple[str, str], unique_name: Callable[[str], str]) -> None:
    with pytest.raises(ConfigError, match=r"--target-table: table 'no-such-table' not found in target \(profile=target"):
        verify_tables(options(source, target, (pair[0], "no-such-table")))
    other = unique_name("vkey")
    source_ddb.create_table(TableName=other, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
    with pytest.raises(ConfigError, match=r"source key \(id\) and the target key \(pk, sk\) differ; pass the mapping"):
        verify_tables(options(source, target, (other, pair[1])))


@pytest.mark.parametrize(("change", "match"), [
    ({"sample": 0.0}, "--sample: expected a fraction"),
    ({"sample": 1.5}, "--sample: expected a fraction"),
    ({"segments": 0}, "--segments: expected 1 to 10000"),
    ({"read_percent": 2.0}, "--read-percent: 2.0 is outside Glue's range"),
    ({"read_capacity": 0}, "--read-capacity: expected a positive number"),
])
def test_bad_options_name_the_option(source: Account, target: Account, change: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        options(source, target, ("a-table", "b-table"), **change)


def test_cli_reports_bad_options_as_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["verify", "--source-table", "a-table", "--target-table", "b-table", "--sample", "0"])
    assert code == ConfigError.exit_code
    assert "--sample" in capsys.readouterr().err


# --------------------------------------------------------------------------- read budget


def test_reads_stay_within_the_read_budget(source: Account, target: Account, source_ddb: Any, target_ddb: Any,
                                           unique_name: Callable[[str], str]) -> None:
    """Provisioned 10 RCU × read percent 1.0 = 10 RCU/s on the source, measured from ConsumedCapacity."""
    source_table, target_table = unique_name("vbud"), unique_name("vbud")
    create_table(source_ddb, source_table, rcu=10)
    create_table(target_ddb, target_table, rcu=40)
    big = list(sample_items(60, payload_bytes=3000))  # ~3.6 KB each: ~27 RCU to scan (eventually consistent)
    put_all(source_ddb, source_table, big)
    put_all(target_ddb, target_table, big)
    events: dict[str, list[tuple[float, float]]] = {"source": [], "target": []}
    lock = threading.Lock()

    def progress(side: str, _items: int, units: float) -> None:
        with lock:
            events[side].append((time.monotonic(), units))

    started = time.monotonic()
    report = verify_tables(options(source, target, (source_table, target_table), segments=2, read_percent=1.0),
                           progress=progress)
    assert report.identical
    assert report.source_read_budget == 10 and report.target_read_budget == 40
    source_end, source_units = events["source"][-1]
    assert source_units == report.source_read_units >= 20
    elapsed = source_end - started
    burst = 2 * (1.0 + 1.0)  # per worker: a bucket of ≥ 1 unit, plus at most one page settled late
    assert source_units <= 10 * elapsed + burst, (source_units, elapsed)
    assert source_units >= 0.4 * 10 * elapsed  # and the budget is used, not wasted


# --------------------------------------------------------------------------- mapping


def _edited_mapping(items: list[Item], tmp_path: Path) -> Path:
    generated = build_mapping(infer_schema(items))
    edited = []
    for rule in generated.mappings:
        if rule[0] == "Item.name.S":
            edited.append((rule[0], rule[1], "full_name", rule[3]))  # rename
        elif rule[0] == "Item.nothing.NULL":
            continue  # drop
        elif rule[0] == "Item.`with space`.N":
            edited.append((rule[0], rule[1], "stats.count", rule[3]))  # nest
        else:
            edited.append(rule)
    path = tmp_path / "mappings" / "orders.json"
    save_mapping(MappingFile(tuple(edited), generated.schema), path)
    return path


def _as_migrated(item: Item) -> Item:
    """What the job writes with the edited mapping (built by hand, independently of verify)."""
    out = {k: copy.deepcopy(v) for k, v in item.items() if k not in ("name", "nothing", "with space")}
    out["full_name"] = item["name"]
    out["stats"] = {"M": {"count": item["with space"]}}
    return out


def test_mapping_compares_renamed_dropped_and_nested_attributes(source: Account, target: Account, source_ddb: Any,
                                                                target_ddb: Any, unique_name: Callable[[str], str],
                                                                items: list[Item], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    source_table, target_table = unique_name("vmap"), unique_name("vmap")
    create_table(source_ddb, source_table)
    create_table(target_ddb, target_table)
    put_all(source_ddb, source_table, items)
    put_all(target_ddb, target_table, [_as_migrated(i) for i in items])
    mapping = _edited_mapping(items, tmp_path)
    pair = (source_table, target_table)

    assert verify_tables(options(source, target, pair), transform=mapping_transform(str(mapping))).identical
    without = verify_tables(options(source, target, pair))
    assert without.differing == COUNT
    assert without.differing_items[0].details == [
        "attribute 'full_name': only in target", "attribute 'name': missing in target",
        "attribute 'nothing': missing in target", "attribute 'stats': only in target",
        "attribute 'with space': missing in target",
    ]
    common = ["verify", "--source-profile", "source", "--source-table", source_table, "--target-profile", "target",
              "--target-table", target_table]
    assert main([*common, "--mapping", str(mapping)]) == 0
    # a real difference still shows through the mapping
    target_ddb.put_item(TableName=target_table, Item={**_as_migrated(items[2]), "stats": {"M": {"count": {"N": "43"}}}})
    assert main([*common, "--mapping", str(mapping)]) == 8
    assert "attribute 'stats'.count: N differs" in capsys.readouterr().out


def test_mapping_with_a_cast_is_refused_naming_the_rule(items: list[Item], tmp_path: Path) -> None:
    generated = build_mapping(infer_schema(items))
    edited = tuple((r[0], r[1], r[2], "double") if r[0] == "Item.balance.N" else r for r in generated.mappings)
    index = [r[0] for r in edited].index("Item.balance.N")
    path = tmp_path / "cast.json"
    save_mapping(MappingFile(edited, generated.schema), path)
    with pytest.raises(MappingError, match=rf"mappings\[{index}\] casts string to double"):
        mapping_transform(str(path))


def test_generated_mapping_is_the_identity_on_every_type(items: list[Item]) -> None:
    transform = MappingTransform(build_mapping(infer_schema(items)))
    for item in items:
        record = digest_record(item, key_names=KEY)
        mapped = digest_record(item, key_names=KEY, transform=transform)
        assert record == mapped


# --------------------------------------------------------------------------- Spark mode


@pytest.mark.spark
def test_spark_mode_agrees_with_local_mode(local_stack: Any, spark: Any, source: Account, target: Account,
                                           target_ddb: Any, pair: tuple[str, str], items: list[Item]) -> None:
    identical = verify_spark(spark, options(source, target, pair, segments=4))
    assert identical.identical and identical.mode == "spark"
    assert identical.matching == identical.source_items == identical.target_items == COUNT
    assert identical.source_read_units > 0

    expected: dict[str, Any] = {"missing": 0, "extra": 0, "differing": 0, "missing_keys": [], "extra_keys": [], "details": {}}
    for defect in DEFECTS.values():
        found = defect(target_ddb, pair[1], items)
        for kind in ("missing", "extra", "differing"):
            expected[kind] += found.get(kind, 0)
        expected["missing_keys"] += found.get("missing_keys", [])
        expected["extra_keys"] += found.get("extra_keys", [])
        expected["details"].update(found.get("details", {}))
    local = verify_tables(options(source, target, pair))
    distributed = verify_spark(spark, options(source, target, pair, segments=4))
    for report in (local, distributed):
        assert (report.missing, report.extra, report.differing) == (1, 1, 3)
        assert report.missing_keys == expected["missing_keys"] and report.extra_keys == expected["extra_keys"]
        assert {json.dumps(d.source_key): d.details for d in report.differing_items} == expected["details"]
    assert distributed.matching == local.matching == COUNT - 4
    assert distributed.target_items == local.target_items == COUNT
    # and through the CLI (the session is the active one)
    code = main(["verify", "--source-profile", "source", "--source-table", pair[0], "--target-profile", "target",
                 "--target-table", pair[1], "--spark", "--segments", "2"])
    assert code == 8


@pytest.mark.spark
def test_spark_mode_with_mapping_and_sample(local_stack: Any, spark: Any, source: Account, target: Account,
                                            source_ddb: Any, target_ddb: Any, unique_name: Callable[[str], str],
                                            items: list[Item], tmp_path: Path) -> None:
    source_table, target_table = unique_name("vsm"), unique_name("vsm")
    create_table(source_ddb, source_table)
    create_table(target_ddb, target_table)
    put_all(source_ddb, source_table, items)
    put_all(target_ddb, target_table, [_as_migrated(i) for i in items])
    transform = mapping_transform(str(_edited_mapping(items, tmp_path)))
    report = verify_spark(spark, options(source, target, (source_table, target_table), sample=0.5), transform=transform)
    picked = sum(1 for item in items if in_sample(key_digest(item, KEY), 0.5))
    assert report.identical and report.matching == picked == report.compared_source


def _mapping_file(items: list[Item], tmp_path: Path, name: str, edit: Callable[[tuple[str, ...]], Any]) -> str:
    generated = build_mapping(infer_schema(items))
    edited = tuple(r for r in (edit(rule) for rule in generated.mappings) if r is not None)
    path = tmp_path / f"{name}.json"
    save_mapping(MappingFile(edited, generated.schema), path)
    return str(path)


@pytest.mark.spark
def test_spark_and_local_agree_on_refused_and_colliding_items(local_stack: Any, spark: Any, source: Account,
                                                              target: Account, pair: tuple[str, str],
                                                              items: list[Item], tmp_path: Path) -> None:
    # a mapping that drops the sort key: no source item can be compared (each is reported)
    dropped = _mapping_file(items, tmp_path, "dropped", lambda r: None if r[0] == "Item.sk.N" else r)
    # a mapping that fills the sort key from another attribute (42 everywhere): four items per key
    collide = _mapping_file(items, tmp_path, "collide", lambda r: None if r[0] == "Item.sk.N" else (
        (r[0], r[1], "sk", r[3]) if r[0] == "Item.`with space`.N" else r))
    for path, expected in [(dropped, (COUNT, 0, 0, COUNT)), (collide, (COUNT // 4 * 3, COUNT // 4, 0, COUNT))]:
        transform = mapping_transform(path)
        local = verify_tables(options(source, target, pair, max_samples=3), transform=transform)
        distributed = verify_spark(spark, options(source, target, pair, max_samples=3), transform=transform)
        for report in (local, distributed):
            assert (report.invalid_source, report.missing, report.matching, report.extra) == expected
            assert len(report.invalid_samples) == 3
            assert report.compared_target == COUNT
        assert local.compared_source == distributed.compared_source
        assert {s["reason"] for s in local.invalid_samples} == {s["reason"] for s in distributed.invalid_samples}
    assert local.invalid_samples[0]["reason"] == "another source item maps to the same target key"
