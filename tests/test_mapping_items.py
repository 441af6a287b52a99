"""A mapping applied item by item carries schema drift (DESIGN principle 6): what the schema never saw
passes through unchanged, a known attribute of a new type keeps its value and tag at its rule's
target (renamed or not), what no rule names stays dropped — checked with hypothesis over generated
mappings, then the edge cases (nested members, restructured maps, collisions) one by one."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from item_strategies import items, nested, semantic_item

from ddbmigrate.drift import DriftCounts, TypeChange, find_drift
from ddbmigrate.errors import InvalidItemError
from ddbmigrate.mapping import MappingFile, build_mapping
from ddbmigrate.mapping.items import ItemMapping, MappedItem
from ddbmigrate.sample import sample_items
from ddbmigrate.schema import attribute_fields, infer_schema, join_path, split_path
from ddbmigrate.values import Item

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _tag(av: Any) -> str:
    return next(iter(av))


def _typed_attributes(schema: dict[str, Any]) -> dict[str, str]:
    """Known top-level attributes that are not typed pass-throughs → their one tag."""
    return {f["name"]: f["type"]["fields"][0]["name"] for f in attribute_fields(schema) if f["type"] != "string"}


def _source_name(rule: tuple[str, ...]) -> str:
    return split_path(rule[0])[1]


# --------------------------------------------------------------------------- properties


@PROPERTY
@given(base=st.lists(items, min_size=1, max_size=3), extra=items, data=st.data())
def test_new_attributes_pass_through_unchanged_and_are_named(base: list[Item], extra: Item, data: Any) -> None:
    # GIVEN the generated mapping of some items, and one of them with attributes the schema never saw
    schema = infer_schema(base)
    known = {f["name"] for f in attribute_fields(schema)}
    new = {name: av for name, av in extra.items() if name not in known}
    assume(new)
    item = {**data.draw(st.sampled_from(base)), **new}
    # WHEN it is mapped item by item
    mapped = ItemMapping(build_mapping(schema)).map(item)
    # THEN each new attribute is there byte for byte, named as drift, and nothing else changed
    assert {name: mapped.item[name] for name in new} == new
    assert sorted(mapped.unknown) == sorted((name,) for name in new) and mapped.retyped == ()
    assert semantic_item(mapped.item) == semantic_item(item)


@PROPERTY
@given(base=st.lists(items, min_size=1, max_size=3), data=st.data())
def test_attributes_no_rule_names_stay_dropped_whatever_their_type_now(base: list[Item], data: Any) -> None:
    # GIVEN a generated mapping with the rules of some attributes deleted, and an item whose dropped
    # attributes all carry a new type
    schema = infer_schema(base)
    generated = build_mapping(schema)
    known = sorted({f["name"] for f in attribute_fields(schema)})
    dropped = set(data.draw(st.lists(st.sampled_from(known), min_size=1, unique=True)))
    kept = tuple(rule for rule in generated.mappings if _source_name(rule) not in dropped)
    item = dict(data.draw(st.sampled_from(base)))
    for name in dropped:
        item[name] = {"BOOL": True} if _tag(item.get(name, {"S": ""})) != "BOOL" else {"S": "now text"}
    # WHEN it is mapped
    mapped = ItemMapping(MappingFile(kept, schema)).map(item)
    # THEN none of them is written, and none counts as drift: the user dropped them
    assert not set(mapped.item) & dropped
    assert (mapped.unknown, mapped.retyped) == ((), ())


@PROPERTY
@given(base=st.lists(items, min_size=1, max_size=3), value=nested, rename=st.booleans(), data=st.data())
def test_a_known_attribute_of_a_new_type_keeps_value_and_tag_at_its_target(
        base: list[Item], value: Any, rename: bool, data: Any) -> None:
    # GIVEN a generated mapping, perhaps with one attribute renamed, and an item where that attribute
    # holds a value of another type than the schema's
    schema = infer_schema(base)
    typed = _typed_attributes(schema)
    assume(typed)
    name = data.draw(st.sampled_from(sorted(typed)))
    assume(_tag(value) != typed[name])
    target = f"{name}-renamed" if rename else name
    assume(target == name or target not in {f["name"] for f in attribute_fields(schema)})
    rules = tuple((s, st_, join_path((target, *split_path(t)[1:])) if _source_name((s,)) == name else t, tt)
                  for s, st_, t, tt in build_mapping(schema).mappings)
    item = {**data.draw(st.sampled_from(base)), name: value}
    # WHEN it is mapped
    mapped = ItemMapping(MappingFile(rules, schema)).map(item)
    # THEN the value arrives unchanged, with its new tag, under the rule's target, and is named as drift
    assert mapped.item[target] == value
    assert rename is (name not in mapped.item)
    assert mapped.retyped == (TypeChange((name,), typed[name], _tag(value)),) and mapped.unknown == ()


# --------------------------------------------------------------------------- one by one

SAMPLE = list(sample_items(6))
SCHEMA = infer_schema(SAMPLE)


def _edited(renames: dict[str, str], drop: tuple[str, ...] = ()) -> ItemMapping:
    """The generated mapping of the sample with targets renamed (by full target path) and rules dropped."""
    rules = tuple((s, st_, renames.get(t, t), tt) for s, st_, t, tt in build_mapping(SCHEMA).mappings
                  if not any(t == d or t.startswith(d + ".") for d in drop))
    return ItemMapping(MappingFile(rules, SCHEMA))


def _with_zip(item: Item) -> Item:
    return {**item, "address": {"M": {**item["address"]["M"], "zip": {"S": "01234"}}}}


def test_a_new_member_of_a_known_map_is_carried_where_its_map_goes() -> None:
    item = _with_zip(SAMPLE[0])
    same = _edited({}).map(item)
    assert same.item["address"]["M"]["zip"] == {"S": "01234"} and same.unknown == (("address", "zip"),)
    moved = _edited({t: "location" + t[len("address"):] for t in _targets() if t.startswith("address.")}).map(item)
    assert "address" not in moved.item and moved.item["location"]["M"]["zip"] == {"S": "01234"}
    assert semantic_item({"a": moved.item["location"]}) == semantic_item({"a": item["address"]})


def test_a_new_member_of_a_dropped_map_is_dropped_with_it() -> None:
    mapped = _edited({}, drop=("address",)).map(_with_zip(SAMPLE[0]))
    assert "address" not in mapped.item and mapped.unknown == ()


def test_a_new_member_of_a_map_the_rules_spread_out_has_no_place_and_says_so() -> None:
    lifted = _edited({"address.city": "city"})  # the member city leaves its map; geo stays
    with pytest.raises(InvalidItemError, match=r"attribute 'address.zip' is new .* spread the members of 'address' "
                                               r"over several targets.*'ddbmigrate crawl'") as caught:
        lifted.map(_with_zip(SAMPLE[0]))
    assert "01234" not in str(caught.value)
    deeper = {**SAMPLE[0], "address": {"M": {**SAMPLE[0]["address"]["M"], "geo": {"M": {
        **SAMPLE[0]["address"]["M"]["geo"]["M"], "alt": {"N": "12"}}}}}}
    assert lifted.map(deeper).item["address"]["M"]["geo"]["M"]["alt"] == {"N": "12"}  # geo itself kept together


def test_a_new_attribute_named_like_a_target_is_refused_naming_both() -> None:
    renamed = _edited({"name": "full_name"})
    with pytest.raises(InvalidItemError, match=r"attribute 'full_name' is new .* already writes target 'full_name'"):
        renamed.map({**SAMPLE[0], "full_name": {"S": "x"}})
    assert renamed.map({**SAMPLE[0], "name": {"N": "7"}}).item["full_name"] == {"N": "7"}  # the renamed, retyped


def test_a_retyped_attribute_follows_its_nesting_rule_and_an_empty_map_keeps_its_place() -> None:
    nested_rule = _edited({"active": "flags.active"})
    mapped = nested_rule.map({**SAMPLE[0], "active": {"S": "yes"}})
    assert mapped.item["flags"] == {"M": {"active": {"S": "yes"}}}
    empty = _edited({}).map({**SAMPLE[0], "address": {"M": {}}})
    assert empty.item["address"] == {"M": {}} and empty.retyped == (TypeChange(("address",), "M", "empty M"),)


def test_an_item_that_fits_maps_as_before_and_the_mapping_pickles() -> None:
    mapping = pickle.loads(pickle.dumps(_edited({"address.city": "city"})))
    for item in SAMPLE:
        result = mapping.map(item)
        assert isinstance(result, MappedItem) and (result.unknown, result.retyped) == ((), ())
        assert mapping(item) == result.item
    with pytest.raises(InvalidItemError, match="spread"):  # its restructured-map marker survived pickling
        mapping.map(_with_zip(SAMPLE[0]))


def _targets() -> list[str]:
    return [t for _, _, t, _ in build_mapping(SCHEMA).mappings]


# --------------------------------------------------------------------------- finding and counting drift


def test_drift_is_found_nested_and_never_inside_a_typed_pass_through() -> None:
    item = {**_with_zip(SAMPLE[0]), "loyalty": {"N": "3"}, "balance": {"S": "12"}, "history": {"S": "anything"}}
    drift = find_drift(item, SCHEMA)
    assert drift is not None
    assert sorted(drift.unknown) == [("address", "zip"), ("loyalty",)]
    assert drift.retyped == (TypeChange(("balance",), "N", "S"),)  # history is a pass-through: any type fits
    assert all(find_drift(it, SCHEMA) is None for it in SAMPLE)


def test_counts_merge_and_the_summary_names_attributes_never_values() -> None:
    a, b = DriftCounts(), DriftCounts()
    for _ in range(120):
        a.add([("loyalty",)], [])
    b.add([("loyalty",), ("address", "zip")], [TypeChange(("price",), "N", "S")])
    b.add([], [TypeChange(("price",), "N", "S")])
    total = a + b
    assert (total.items_unknown, total.items_retyped) == (121, 2)
    assert total.unknown == {"loyalty": 121, "address.zip": 1} and total.retyped == {"price (N→S)": 2}
    assert total.summary() == ("schema drift: 121 item(s) carried new attribute(s) loyalty (121), address.zip (1), "
                               "2 item(s) changed type of price (N→S) (2); re-crawl to make them part of the mapping "
                               "('ddbmigrate crawl', then 'ddbmigrate mapping generate')")
    assert DriftCounts().summary() is None and not DriftCounts()
    assert a.merge(DriftCounts()) is a and a.items_unknown == 120


def test_counts_keep_a_bounded_number_of_names() -> None:
    counts = DriftCounts()
    for n in range(80):
        counts.add([(f"generated_{n}",)], [])
    assert len(counts.unknown) == 51 and counts.unknown["(other names)"] == 30
    assert counts.summary() is not None and counts.summary().count("(other names) (30)") == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["dotted.name", "with space"])
def test_odd_names_are_named_as_glue_paths(name: str) -> None:
    counts = DriftCounts()
    counts.add([(name,)], [])
    assert f"`{name}` (1)" in (counts.summary() or "")

