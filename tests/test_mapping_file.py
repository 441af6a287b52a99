"""Mapping files: readable and diff-friendly, pasteable into Glue, validated on load, edits honoured."""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path
from typing import Any

import pytest

from ddbmigrate.cli.main import main
from ddbmigrate.errors import MappingError
from ddbmigrate.mapping import (
    MappingFile,
    build_mapping,
    dumps_mapping,
    glue_python,
    load_mapping,
    save_mapping,
)
from ddbmigrate.mapping.file import loads_mapping
from ddbmigrate.sample import sample_items
from ddbmigrate.schema import infer_schema, save_schema


@pytest.fixture(scope="module")
def mapping() -> MappingFile:
    return build_mapping(infer_schema(sample_items(12)), source={"export": "s3://b/p/AWSDynamoDB/01-a/"})


def test_round_trip_through_text(mapping: MappingFile) -> None:
    again = loads_mapping(dumps_mapping(mapping))
    assert again.mappings == mapping.mappings
    assert again.schema == mapping.schema
    assert again.source == mapping.source
    assert again.notes == mapping.notes


def test_one_rule_per_line_for_good_diffs(mapping: MappingFile) -> None:
    lines = dumps_mapping(mapping).splitlines()
    rule_lines = [line for line in lines if line.startswith('  ["Item.')]
    assert len(rule_lines) == len(mapping.mappings)
    for line, rule in zip(rule_lines, mapping.mappings, strict=True):
        assert json.loads(line.strip().rstrip(",")) == list(rule)
    assert any("ünïcödé_属性" in line for line in rule_lines)  # unicode as is, not \u-escaped


def test_notes_explain_passthroughs_and_glue_studio(mapping: MappingFile) -> None:
    notes = " ".join(mapping.notes)
    assert "Item.history (L)" in notes and "Item.mixed (N, S)" in notes and "Item.empty_map (empty M)" in notes
    assert "[tuple(m) for m in" in notes and "case_sensitive=True" in notes


def test_the_mappings_list_pastes_into_python_and_becomes_glue_tuples(mapping: MappingFile) -> None:
    text = dumps_mapping(mapping)
    start = text.index(' "mappings": [') + len(' "mappings": ')
    end = text.index("\n ],", start) + len("\n ]")
    pasted = ast.literal_eval(text[start:end])  # what Python sees when a user pastes the JSON list
    assert [tuple(m) for m in pasted] == mapping.glue_tuples()
    assert all(isinstance(t, tuple) and len(t) == 4 for t in mapping.glue_tuples())


def test_glue_python_prints_tuples(mapping: MappingFile) -> None:
    text = glue_python(mapping)
    namespace: dict[str, Any] = {}
    exec(text, namespace)  # the snippet a user pastes into a Glue Studio script
    assert namespace["mappings"] == mapping.glue_tuples()
    assert '("Item.`dotted.name`.S", "string", "`dotted.name`", "string"),' in text


def test_save_creates_the_folder_and_load_reads_it(tmp_path: Path, mapping: MappingFile) -> None:
    path = tmp_path / "mappings" / "orders.json"
    save_mapping(mapping, path)
    assert load_mapping(path).mappings == mapping.mappings


def edited(mapping: MappingFile, change: Any) -> str:
    document = json.loads(dumps_mapping(mapping))
    change(document)
    return json.dumps(document, ensure_ascii=False)


def test_edits_are_kept_on_load(mapping: MappingFile) -> None:
    def rename_and_drop(document: dict[str, Any]) -> None:
        rules = document["mappings"]
        rules[:] = [r for r in rules if r[2] != "blob"]
        for rule in rules:
            if rule[2] == "name":
                rule[2] = "full_name"

    loaded = loads_mapping(edited(mapping, rename_and_drop))
    targets = {rule.target for rule in loaded.rules}
    assert ("full_name",) in targets and ("name",) not in targets and ("blob",) not in targets


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["mappings"].append(["Item.ghost.S", "string", "ghost", "string"]),
         r"mappings\[\d+\] \['Item.ghost.S'.*is not in the mapping's schema"),
        (lambda d: d["mappings"][0].__setitem__(3, "varchar"), r"mappings\[0\].*'varchar' is not a Glue type name"),
        (lambda d: d["mappings"][1].__setitem__(2, d["mappings"][0][2]), r"both write target 'Case'"),
        (lambda d: d["mappings"][0].pop(), r"mappings\[0\]: Field required|mappings\[0\]"),
        (lambda d: d["mappings"].append(["Item.pk.S", "string", 7, "string"]), r"mappings\[\d+\]\[2\]"),
        (lambda d: d.pop("schema"), r"schema: Field required"),
        (lambda d: d.__setitem__("format", "ddbmigrate-mapping/2"), r"format"),
        (lambda d: d.__setitem__("extra", 1), r"extra: Extra inputs are not permitted"),
    ],
)
def test_bad_files_name_the_file_and_rule(tmp_path: Path, mapping: MappingFile, change: Any, message: str) -> None:
    path = tmp_path / "orders.json"
    path.write_text(edited(mapping, change), encoding="utf-8")
    with pytest.raises(MappingError, match=message) as caught:
        load_mapping(path)
    assert str(caught.value).startswith(str(path))


def test_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="mapping file not found"):
        load_mapping(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text("[1,")
    with pytest.raises(MappingError, match=r"broken\.json: not valid JSON"):
        load_mapping(broken)


def test_mapping_files_pickle_for_spark_executors(mapping: MappingFile) -> None:
    import pickle

    again = pickle.loads(pickle.dumps(mapping))
    assert again.rules == mapping.rules and again.mappings == mapping.mappings


# --------------------------------------------------------------------------- no pass over the data


def test_generating_from_a_saved_schema_reads_no_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A schema saved from a 1M-item export whose files no longer exist (and no AWS at all): the
    mapping is generated from the schema file alone, in well under a second."""
    schema_file = tmp_path / "big.schema.json"
    save_schema(infer_schema(sample_items(8)), schema_file,
                source={"export": "s3://no-such-bucket-anywhere/x/AWSDynamoDB/01700000000000-deadbeef/",
                        "export_items": 1_000_000, "items_crawled": 1_000_000})
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))

    import botocore.client

    def no_aws(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("generate --schema made an AWS call")

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", no_aws)
    out = tmp_path / "mappings" / "big.json"
    started = time.perf_counter()
    code = main(["mapping", "generate", "--schema", str(schema_file), "--out", str(out)])
    elapsed = time.perf_counter() - started
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip().endswith(str(out))
    generated = load_mapping(out)
    assert generated.source == {"schema": str(schema_file)}
    assert ("Item.pk.S", "string", "pk", "string") in generated.glue_tuples()
    assert elapsed < 2.0


def test_generate_needs_exactly_one_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mapping", "generate", "--out", str(tmp_path / "m.json")]) == 2
    assert "exactly one of --export, --schema, --catalog" in capsys.readouterr().err
    schema_file = tmp_path / "s.json"
    save_schema(infer_schema(sample_items(1)), schema_file)
    assert main(["mapping", "generate", "--schema", str(schema_file), "--catalog", "db.t",
                 "--out", str(tmp_path / "m.json")]) == 2


def test_show_and_check_commands(tmp_path: Path, mapping: MappingFile, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "orders.json"
    save_mapping(mapping, path)
    assert main(["mapping", "check", str(path)]) == 0
    assert f"OK {path}: {len(mapping.mappings)} rule(s)" in capsys.readouterr().out
    assert main(["mapping", "show", str(path), "--python"]) == 0
    assert capsys.readouterr().out == glue_python(mapping)
    assert main(["mapping", "show", str(path)]) == 0
    assert "Item.pk.S" in capsys.readouterr().out
    path.write_text(path.read_text().replace('"Item.pk.S", "string"', '"Item.pk.S", "strin"'))
    assert main(["mapping", "check", str(path)]) == 2
    assert "'strin' is not a Glue type name" in capsys.readouterr().err


def test_the_example_in_mappings_is_what_generate_produces() -> None:
    example = Path(__file__).resolve().parents[1] / "mappings" / "example.json"
    loaded = load_mapping(example)
    regenerated = build_mapping(infer_schema(sample_items(12)), source=loaded.source)
    assert example.read_text(encoding="utf-8") == dumps_mapping(regenerated)


# --------------------------------------------------------------------------- from S3 (moto)


@pytest.mark.integration
def test_a_mapping_loads_from_s3(s3: Any, bucket: str, mapping: MappingFile) -> None:
    s3.put_object(Bucket=bucket, Key="mappings/orders.json", Body=dumps_mapping(mapping).encode("utf-8"))
    loaded = load_mapping(f"s3://{bucket}/mappings/orders.json", s3_client=s3)
    assert loaded.mappings == mapping.mappings and loaded.schema == mapping.schema
    assert loaded.where == f"s3://{bucket}/mappings/orders.json"


@pytest.mark.integration
def test_s3_mapping_errors_name_the_uri(s3: Any, bucket: str, mapping: MappingFile) -> None:
    missing = f"s3://{bucket}/mappings/nope.json"
    with pytest.raises(MappingError, match="mapping file not found") as caught:
        load_mapping(missing, s3_client=s3)
    assert str(caught.value).startswith(missing)
    with pytest.raises(MappingError, match="does not exist") as caught:
        load_mapping(f"s3://{bucket}-absent/m.json", s3_client=s3)
    assert str(caught.value).startswith(f"s3://{bucket}-absent/m.json")
    # a broken file is refused like a local one, naming the URI and the rule at fault
    s3.put_object(Bucket=bucket, Key="bad.json",
                  Body=edited(mapping, lambda d: d["mappings"][0].__setitem__(3, "varchar")).encode("utf-8"))
    with pytest.raises(MappingError, match=r"mappings\[0\].*'varchar'") as caught:
        load_mapping(f"s3://{bucket}/bad.json", s3_client=s3)
    assert str(caught.value).startswith(f"s3://{bucket}/bad.json")


def test_s3_mapping_needs_a_client_and_a_key() -> None:
    with pytest.raises(MappingError, match=r"s3://my-bucket/m\.json: .*needs an S3 client"):
        load_mapping("s3://my-bucket/m.json")
    with pytest.raises(MappingError, match=r"s3://my-bucket/maps/: names a folder"):
        load_mapping("s3://my-bucket/maps/", s3_client=object())
