"""Digests: equal items digest alike whatever the order or spelling; any real change shows."""

from __future__ import annotations

import copy
import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from item_strategies import items, spell

from ddbmigrate.digest import (
    canonical_encoding,
    describe_differences,
    in_sample,
    item_digest,
    key_digest,
    key_names,
)
from ddbmigrate.errors import InvalidItemError, InvalidKeyError
from ddbmigrate.sample import SAMPLE_KEY_SCHEMA, sample_item, sample_items
from ddbmigrate.values import Item, item_to_json

PROPERTY = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def scramble(av: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """An equal value, written differently: map and set order shuffled, numbers respelled."""
    ((tag, payload),) = av.items()
    if tag == "N":
        return {"N": spell(Decimal(payload), rng.randrange(5))}
    if tag == "NS":
        members = [spell(Decimal(x), rng.randrange(5)) for x in payload]
        rng.shuffle(members)
        return {"NS": members}
    if tag in ("SS", "BS"):
        members = list(payload)
        rng.shuffle(members)
        return {tag: members}
    if tag == "M":
        return {"M": scramble_item(payload, rng)}
    if tag == "L":
        return {"L": [scramble(v, rng) for v in payload]}
    return {tag: payload}


def scramble_item(item: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    names = list(item)
    rng.shuffle(names)
    return {name: scramble(item[name], rng) for name in names}


@PROPERTY
@given(items, st.integers(0, 2**32))
def test_equal_items_have_equal_digests_whatever_the_order_or_spelling(item: Item, seed: int) -> None:
    other = scramble_item(item, random.Random(seed))
    assert item_digest(other) == item_digest(item)
    assert canonical_encoding(other) == canonical_encoding(item)


@PROPERTY
@given(items)
def test_digest_is_the_same_in_dynamodb_json_form(item: Item) -> None:
    # Binaries as base64 text (export files) digest like bytes (scans).
    assert item_digest(item_to_json(item)) == item_digest(item)


def _paths(av: dict[str, Any], path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    ((tag, payload),) = av.items()
    found = [path]
    if tag == "M":
        for name, child in payload.items():
            found += _paths(child, (*path, "M", name))
    elif tag == "L":
        for i, child in enumerate(payload):
            found += _paths(child, (*path, "L", i))
    return found


def _replace(av: dict[str, Any], path: tuple[Any, ...], new: dict[str, Any]) -> dict[str, Any]:
    if not path:
        return new
    out = copy.deepcopy(av)
    node = out
    for tag, step in zip(path[0:-2:2], path[1:-2:2], strict=True):
        node = node[tag][step]
    node[path[-2]][path[-1]] = new
    return out


def mutate(av: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A value that DynamoDB considers different: changed, retyped, grown or shrunk."""
    ((tag, payload),) = av.items()
    if tag == "S":
        return {"S": payload + "x"}
    if tag == "N":
        return {"N": str(Decimal(payload) + 1)} if abs(Decimal(payload)) < Decimal("1E+20") else {"S": payload}
    if tag == "B":
        return {"B": bytes(payload) + b"\x00"}
    if tag == "BOOL":
        return {"BOOL": not payload}
    if tag == "NULL":
        return {"BOOL": True}
    if tag in ("SS", "NS", "BS"):
        # the set became a list of the same members, or lost a member
        return {"L": [{tag[0]: m} for m in payload]} if rng.random() < 0.5 or len(payload) == 1 else {tag: payload[1:]}
    if tag == "M":
        return {"L": list(payload.values())} if payload else {"M": {"x": {"NULL": True}}}
    return {"L": [*payload, {"NULL": True}]}


@PROPERTY
@given(items, st.integers(0, 2**32))
def test_any_change_changes_the_digest(item: Item, seed: int) -> None:
    rng = random.Random(seed)
    name = rng.choice(sorted(item))
    path = rng.choice(_paths(item[name]))
    node: Any = item[name]
    for tag, step in zip(path[0::2], path[1::2], strict=True):
        node = node[tag][step]
    changed_value = mutate(node, rng)
    changed = {**item, name: _replace(item[name], path, changed_value)}
    assert item_digest(changed) != item_digest(item)
    assert describe_differences(item, changed) != []


@PROPERTY
@given(items)
def test_dropping_or_renaming_an_attribute_changes_the_digest(item: Item) -> None:
    name = sorted(item)[0]
    dropped = {k: v for k, v in item.items() if k != name}
    renamed = {**dropped, name.swapcase() if name.swapcase() not in item else name + "_": item[name]}
    assert item_digest(dropped) != item_digest(item)
    assert item_digest(renamed) != item_digest(item)


def test_the_classic_losses_are_caught() -> None:
    original = sample_item(3)
    changes = {
        "set became a list": {**original, "tags": {"L": [{"S": t} for t in original["tags"]["SS"]]}},
        "number lost precision": {**original, "precise": {"N": "1234567890123456800000000000000000000"}},
        "number became a string": {**original, "with space": {"S": "42"}},
        "nested value changed": {**original, "address": {"M": {**original["address"]["M"], "geo": {"M": {
            "lat": {"N": "47.3769"}, "lon": {"N": "8.5418"}}}}}},
        "empty string became null": {**original, "empty_string": {"NULL": True}},
        "case-only name merged": {k: v for k, v in original.items() if k != "Case"},
        "list reordered": {**original, "history": {"L": list(reversed(original["history"]["L"]))}},
        "binary lost a byte": {**original, "blob": {"B": original["blob"]["B"][:-1]}},
    }
    digests = {item_digest(original)}
    for label, changed in changes.items():
        digest = item_digest(changed)
        assert digest not in digests, label
        digests.add(digest)


def test_numbers_compare_by_value_and_types_by_tag() -> None:
    assert item_digest({"n": {"N": "1.50"}}) == item_digest({"n": {"N": "1.5"}}) == item_digest({"n": {"N": "15E-1"}})
    assert item_digest({"n": {"N": "-0"}}) == item_digest({"n": {"N": "0.000"}})
    assert item_digest({"n": {"N": "1"}}) != item_digest({"n": {"S": "1"}})
    assert item_digest({"n": {"NS": ["1", "2"]}}) == item_digest({"n": {"NS": ["2.0", "1"]}})
    assert item_digest({"n": {"SS": ["1", "2"]}}) != item_digest({"n": {"NS": ["1", "2"]}})
    assert item_digest({"s": {"S": ""}}) != item_digest({"s": {"B": b""}}) != item_digest({"s": {"NULL": True}})
    # length prefixes: no two different splits of the same characters encode alike
    assert item_digest({"ab": {"S": "c"}}) != item_digest({"a": {"S": "bc"}})
    assert item_digest({"l": {"SS": ["ab", "c"]}}) != item_digest({"l": {"SS": ["a", "bc"]}})


def test_invalid_values_raise_naming_the_path_not_the_value() -> None:
    with pytest.raises(InvalidItemError, match=r"attribute 'a'\.b\[0\]: N is not a number") as info:
        item_digest({"a": {"M": {"b": {"L": [{"N": "secret-99"}]}}}})
    assert "secret" not in str(info.value)
    with pytest.raises(InvalidItemError, match="unknown type tag 'Q'"):
        item_digest({"a": {"Q": "x"}})


def test_key_digest_depends_on_key_attributes_only() -> None:
    names = key_names(SAMPLE_KEY_SCHEMA)
    assert names == ("pk", "sk")
    assert key_names(list(reversed(SAMPLE_KEY_SCHEMA))) == ("pk", "sk")
    a, b = sample_item(5), sample_item(5)
    b["name"] = {"S": "changed"}
    b["sk"] = {"N": "1.0"}  # same number as "1"
    assert key_digest(a, names) == key_digest(b, names)
    assert key_digest(a, names) != key_digest(sample_item(6), names)
    assert key_digest(a, names) != item_digest({"pk": a["pk"], "sk": a["sk"]})  # a separate domain
    with pytest.raises(InvalidKeyError, match="key attribute 'sk' is missing"):
        key_digest({"pk": {"S": "a"}}, names)


def test_sampling_is_deterministic_and_close_to_the_fraction() -> None:
    names = key_names(SAMPLE_KEY_SCHEMA)
    digests = [key_digest(item, names) for item in sample_items(4000)]
    picked = [d for d in digests if in_sample(d, 0.1)]
    assert 300 <= len(picked) <= 500
    assert picked == [d for d in digests if in_sample(d, 0.1)]
    assert all(in_sample(d, 0.25) for d in picked)  # a larger fraction contains a smaller one
    assert all(in_sample(d, 1.0) for d in digests)


def test_describe_differences_names_paths_and_types_only() -> None:
    source = sample_item(2)
    target = copy.deepcopy(source)
    target["tags"] = {"L": [{"S": t} for t in source["tags"]["SS"]]}
    target["precise"] = {"N": "1234567890123456800000000000000000000"}
    target["address"]["M"]["geo"]["M"]["lon"] = {"N": "8.5"}
    del target["nothing"]
    target["extra"] = {"S": "new"}
    target["history"]["L"][4]["M"]["at"] = {"S": "2025-01-01"}
    target["scores"] = {"NS": source["scores"]["NS"][1:]}
    lines = describe_differences(source, target)
    assert lines == [
        "attribute 'address'.geo.lon: N differs (5 significant digits in source, 2 in target)",
        "attribute 'extra': only in target",
        "attribute 'history'[4].at: S differs",
        "attribute 'nothing': missing in target",
        "attribute 'precise': N differs (38 significant digits in source, 17 in target)",
        f"attribute 'scores': NS has {len(source['scores']['NS'])} members in source, "
        f"{len(source['scores']['NS']) - 1} in target",
        "attribute 'tags': SS in source, L in target",
    ]
    text = "\n".join(lines)
    for secret in ("2024-01-01", "2025", "8.5", "Zürich", "1234567890"):
        assert secret not in text
    assert describe_differences(source, copy.deepcopy(source)) == []


def test_describe_differences_is_bounded() -> None:
    source = {f"a{i:03d}": {"S": "x"} for i in range(100)}
    lines = describe_differences(source, {}, limit=5)
    assert len(lines) == 5 and lines[-1] == "… and 96 more differences"
