"""Export → mapping → sink on the local stack: every target item equals its source item.

Each end-to-end test proves equality twice: item by item here (type-exact, then by digest), and
with the library's own :func:`ddbmigrate.verify.verify_tables` (every key, every item).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from ddbmigrate.accounts import Account
from ddbmigrate.bulk import ExportImportOptions, run_export_import
from ddbmigrate.digest import item_digest
from ddbmigrate.errors import ConfigError, ExportIntegrityError
from ddbmigrate.export import emulate_export, open_export
from ddbmigrate.export.layout import (
    FILES_CHECKSUM_NAME,
    FILES_NAME,
    checksum_text,
    encode_files_manifest,
    md5_base64,
)
from ddbmigrate.mapping import MappingFile, build_mapping, save_mapping
from ddbmigrate.sample import create_sample_table, sample_items
from ddbmigrate.schema import crawl, infer_schema
from ddbmigrate.values import Item
from ddbmigrate.verify import VerifyOptions, mapping_transform, verify_tables

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def _scan(client, table):
    items, kwargs = [], {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _key(item: Item) -> tuple[str, str]:
    return item["pk"]["S"], item["sk"]["N"]


def _seed_export_and_map(source: Account, source_ddb: Any, s3: Any, bucket: str, table: str, count: int,
                         mapping_path: Path) -> tuple[list[Item], str]:
    """A source table of ``count`` sample items, its export in ``bucket``, its mapping file: (items, export URI)."""
    create_sample_table(source_ddb, table)
    items = list(sample_items(count))
    for i in range(0, len(items), 25):
        source_ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]})
    uri = emulate_export(source, table, s3, bucket, "exp")
    save_mapping(build_mapping(crawl(open_export(uri, s3))), mapping_path)
    return items, uri


def _assert_every_item_arrived(target_ddb: Any, table: str, expected: list[Item]) -> None:
    """Item by item: same keys, same attribute names and type tags, same digest (set order and number spelling aside)."""
    got = {_key(it): it for it in _scan(target_ddb, table)}
    assert len(got) == len(expected)
    for item in expected:
        have = got[_key(item)]
        assert set(have) == set(item)
        assert {k: next(iter(v)) for k, v in have.items()} == {k: next(iter(v)) for k, v in item.items()}
        assert item_digest(have) == item_digest(item)


def _assert_verify_identical(source: Account, table: str, expected_count: int) -> None:
    """The library's verify agrees: every key present on both sides, no differing item."""
    report = verify_tables(VerifyOptions(source=source, source_table=table, target=Account(profile="target", label="target"),
                                         target_table=table, consistent=True))
    assert report.identical, report.summary()
    assert report.source_items == report.target_items == expected_count


@pytest.mark.parametrize(("apply_mapping", "route"), [("auto", "identity"), ("always", "applymapping")])
def test_export_import_is_lossless_across_accounts(apply_mapping, route, spark, source, source_ddb, target_ddb, s3, bucket,
                                                   unique_name, tmp_path: Path) -> None:
    table = unique_name("src")
    expected, uri = _seed_export_and_map(source, source_ddb, s3, bucket, table, 60, tmp_path / "m.json")
    create_sample_table(target_ddb, table)
    # the mapping as a Glue job finds it: an object in the job account's bucket
    s3.put_object(Bucket=bucket, Key="mappings/m.json", Body=(tmp_path / "m.json").read_bytes())
    (tmp_path / "m.json").unlink()

    result = run_export_import(spark, ExportImportOptions(
        export_uri=uri, mapping=f"s3://{bucket}/mappings/m.json", target_table=table,
        target=Account(profile="target"), bucket_account=Account(profile="target"),
        dead_letter=str(tmp_path / "dl"), apply_mapping=apply_mapping,
    ))

    assert (result.read, result.written, result.dead_lettered) == (60, 60, 0)
    assert result.ok and result.mapping_route == route
    _assert_every_item_arrived(target_ddb, table, expected)
    _assert_verify_identical(source, table, 60)


FAULT_SEED = 2
"""With one writer the proxy's draws are reproducible; under this seed each fault kind fires (several writers
under faults: tests/test_sink_pool.py)."""


def test_export_import_is_lossless_under_throttles_partial_batches_5xx_and_drops(
        spark, proxy_factory, source, source_ddb, target_ddb, s3, bucket, unique_name, tmp_path: Path) -> None:
    # GIVEN the fault mix in front of the target account (a seed under which every kind occurs)
    table = unique_name("src")
    expected, uri = _seed_export_and_map(source, source_ddb, s3, bucket, table, 300, tmp_path / "m.json")
    create_sample_table(target_ddb, table)
    proxy = proxy_factory(throttle_rate=0.10, unprocessed_rate=0.10, error_5xx_rate=0.02, drop_rate=0.01, seed=FAULT_SEED)

    # WHEN the job writes through it. One writer task with one writer, so the proxy's seeded draws meet the requests
    # in a fixed order; 20 WCU/s makes batches of 4 items (the bucket holds 0.2 s of rate), so 300
    # items take ~100 requests and every fault kind gets its chance.
    result = run_export_import(spark, ExportImportOptions(
        export_uri=uri, mapping=str(tmp_path / "m.json"), target_table=table,
        target=Account(profile="target", endpoint_url=proxy.endpoint, label="target"),
        bucket_account=Account(profile="target"), write_percent=1.0, write_capacity=20, parallel_tasks=1,
        requests_in_flight=1, dead_letter=str(tmp_path / "dl"),
    ))

    # THEN nothing is lost or dead-lettered, the counts reconcile, and every fault really fired
    assert (result.read, result.written, result.dead_lettered) == (300, 300, 0)
    assert result.reconciles and result.ok
    assert not (tmp_path / "dl").exists() or not list((tmp_path / "dl").rglob("*.jsonl"))
    injected = proxy.stats
    assert injected.throttled > 0
    assert injected.partial_batches > 0
    assert injected.errors_5xx > 0
    assert injected.dropped_before + injected.dropped_after > 0
    assert result.throttles == injected.throttled
    assert result.retries >= injected.throttled + injected.partial_batches + injected.errors_5xx
    _assert_every_item_arrived(target_ddb, table, expected)
    _assert_verify_identical(source, table, 300)


def test_glue_script_runs_locally_and_fails_loudly_on_dead_letters(spark, source, source_ddb, target_ddb, s3, bucket, unique_name, tmp_path: Path, capsys) -> None:
    from ddbmigrate.gluelocal import run_script

    table = unique_name("src")
    create_sample_table(source_ddb, table)
    items = list(sample_items(8))
    source_ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": it}} for it in items]})
    uri = emulate_export(source, table, s3, bucket, "exp")
    mapping = build_mapping(crawl(open_export(uri, s3)))
    save_mapping(mapping, tmp_path / "m.json")
    # GIVEN a target whose sort key is a string: the export's numeric sk can never be written there
    target_ddb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    )
    script = Path(__file__).resolve().parents[1] / "jobs" / "export_import.py"
    code = run_script(script, ["--JOB_NAME", "t", "--export_uri", uri, "--mapping", str(tmp_path / "m.json"),
                               "--target_table", table, "--target_profile", "target", "--dead_letter", str(tmp_path / "dl")],
                      spark=spark)
    out = capsys.readouterr().out
    assert code == 1
    assert "read=8 written=0 dead_lettered=8" in out
    assert "reconciles: read 8 = written 0 + dead-lettered 8: yes" in out
    assert "mapping applied: identity" in out  # the generated mapping: nothing to apply
    letters = [line for f in (tmp_path / "dl").rglob("*.jsonl") for line in f.read_text().splitlines()]
    assert len(letters) == 8 and all("sk" in line for line in letters)


# --------------------------------------------------------------------------- bad inputs at job level


def _tamper(s3: Any, uri: str, rewrite: Any) -> Any:
    """Rewrite the export's largest data file with ``rewrite(gzip bytes, lines) -> new stored bytes``.

    The manifest entry's md5 (and the manifest's own checksum) is updated to match, so the md5
    check passes and only the intended fault remains. Returns the tampered ``DataFile``.
    """
    export = open_export(uri, s3)
    data_file = max(export.data_files, key=lambda f: f.item_count)
    assert data_file.item_count >= 3
    original = export.read_file(data_file)
    body = rewrite(original, [line for _, line in export.iter_lines(data_file)])
    s3.put_object(Bucket=data_file.bucket, Key=data_file.key, Body=body)
    folder = export.folder_key
    manifest = s3.get_object(Bucket=data_file.bucket, Key=folder + FILES_NAME)["Body"].read().decode()
    entries = [json.loads(line) for line in manifest.splitlines() if line.strip()]
    for entry in entries:
        if entry["dataFileS3Key"].endswith(data_file.key.rsplit("/", 1)[-1]):
            entry["md5Checksum"] = md5_base64(body)
    text = encode_files_manifest(entries)
    s3.put_object(Bucket=data_file.bucket, Key=folder + FILES_NAME, Body=text)
    s3.put_object(Bucket=data_file.bucket, Key=folder + FILES_CHECKSUM_NAME, Body=checksum_text(text).encode())
    open_export(uri, s3)  # the manifests are consistent again
    return data_file


def _gzip_lines(lines: list[str]) -> bytes:
    return gzip.compress("".join(line + "\n" for line in lines).encode("utf-8"))


def _options(uri: str, mapping: Path, table: str, dead_letter: Path | None, apply_mapping: str = "auto") -> ExportImportOptions:
    return ExportImportOptions(export_uri=uri, mapping=str(mapping), target_table=table,
                               target=Account(profile="target"), bucket_account=Account(profile="target"),
                               dead_letter=None if dead_letter is None else str(dead_letter), apply_mapping=apply_mapping)


ROUTES = pytest.mark.parametrize("apply_mapping", ["auto", "always"])
"""Bad input must end the same way whichever route applies the mapping (item by item, or ApplyMapping)."""


@ROUTES
def test_a_corrupt_gzip_file_fails_the_job_naming_the_file_and_writes_nothing(
        apply_mapping, spark, source, source_ddb, target_ddb, s3, bucket, unique_name, tmp_path: Path) -> None:
    # GIVEN an export whose largest data file is cut in half (its manifest md5 updated to match)
    table = unique_name("src")
    _, uri = _seed_export_and_map(source, source_ddb, s3, bucket, table, 24, tmp_path / "m.json")
    create_sample_table(target_ddb, table)
    bad = _tamper(s3, uri, lambda raw, _lines: raw[: len(raw) // 2])
    # WHEN the job runs (even with a dead-letter location: a broken file is not an item to set aside)
    with pytest.raises(ExportIntegrityError) as caught:
        run_export_import(spark, _options(uri, tmp_path / "m.json", table, tmp_path / "dl", apply_mapping))
    # THEN the error is ours, names the file and what is wrong with it, and nothing was written
    assert bad.uri in str(caught.value)
    assert "not a valid gzip file" in str(caught.value)
    assert _scan(target_ddb, table) == []
    assert not list((tmp_path / "dl").rglob("*.jsonl"))


MALFORMED_MARKER = "SECRET-CUSTOMER-TEXT"
"""Part of the malformed line: it must not reach the dead-letter file (the line may hold customer data)."""


@ROUTES
def test_bad_lines_are_dead_lettered_with_file_line_and_reason_and_the_rest_is_written(
        apply_mapping, spark, source, source_ddb, target_ddb, s3, bucket, unique_name, tmp_path: Path) -> None:
    # GIVEN a data file whose line 1 is not JSON, line 2 is an item over 400 KB and line 3 an item without its pk
    table = unique_name("src")
    expected, uri = _seed_export_and_map(source, source_ddb, s3, bucket, table, 24, tmp_path / "m.json")
    create_sample_table(target_ddb, table)
    tampered: dict[str, Item] = {}

    def rewrite(_raw: bytes, lines: list[str]) -> bytes:
        big, keyless = json.loads(lines[1]), json.loads(lines[2])
        tampered["big"], tampered["keyless"] = json.loads(lines[1])["Item"], json.loads(lines[2])["Item"]
        tampered["malformed"] = json.loads(lines[0])["Item"]
        big["Item"]["name"] = {"S": "x" * 410_000}
        del keyless["Item"]["pk"]
        return _gzip_lines(['{"Item": ' + MALFORMED_MARKER, json.dumps(big), json.dumps(keyless), *lines[3:]])

    bad = _tamper(s3, uri, rewrite)
    # WHEN the job runs with a dead-letter location
    result = run_export_import(spark, _options(uri, tmp_path / "m.json", table, tmp_path / "dl", apply_mapping))
    # THEN the three are dead-lettered, every other item is written, and the run is not ok
    assert (result.read, result.written, result.dead_lettered) == (24, 21, 3)
    assert result.reconciles and not result.ok
    refused = {_key(tampered["big"]), _key(tampered["malformed"])}
    keyless_key = _key(tampered["keyless"])
    _assert_every_item_arrived(target_ddb, table, [it for it in expected if _key(it) not in refused | {keyless_key}])
    files = sorted((tmp_path / "dl").rglob("*.jsonl"))
    text = "".join(f.read_text() for f in files)
    letters = {record["origin"]: record for record in map(json.loads, text.splitlines())}
    assert set(letters) == {f"{bad.uri} line {n}" for n in (1, 2, 3)}
    malformed, big, keyless = (letters[f"{bad.uri} line {n}"] for n in (1, 2, 3))
    # a malformed line: its origin and why, never its text
    assert "JSON" in malformed["reason"]
    assert malformed["item"] is None and malformed["key"] is None
    assert MALFORMED_MARKER not in text
    # an item over 400 KB: the size limit named, the whole item kept so it can be fixed and replayed
    assert "400 KB" in big["reason"]
    assert big["key"] == {"pk": tampered["big"]["pk"], "sk": tampered["big"]["sk"]}
    # an item without its partition key: the key attribute named
    assert "partition key attribute 'pk' is missing" in keyless["reason"]
    assert "pk" not in keyless["item"] and keyless["key"] == {"sk": tampered["keyless"]["sk"]}


@ROUTES
def test_without_a_dead_letter_location_any_refused_item_fails_the_run_before_writing(
        apply_mapping, spark, source, source_ddb, target_ddb, s3, bucket, unique_name, tmp_path: Path) -> None:
    # GIVEN the same three bad lines (malformed, over 400 KB, no pk)
    table = unique_name("src")
    _, uri = _seed_export_and_map(source, source_ddb, s3, bucket, table, 24, tmp_path / "m.json")
    create_sample_table(target_ddb, table)

    def rewrite(_raw: bytes, lines: list[str]) -> bytes:
        big, keyless = json.loads(lines[1]), json.loads(lines[2])
        big["Item"]["name"] = {"S": "x" * 410_000}
        del keyless["Item"]["pk"]
        return _gzip_lines(["not json", json.dumps(big), json.dumps(keyless), *lines[3:]])

    bad = _tamper(s3, uri, rewrite)
    # WHEN the job runs without --dead_letter
    with pytest.raises(ConfigError) as caught:
        run_export_import(spark, _options(uri, tmp_path / "m.json", table, None, apply_mapping))
    # THEN it fails with our ConfigError naming the count, the first file/line and the option, and wrote nothing
    message = str(caught.value)
    assert "3 item(s) cannot be imported" in message
    assert f"{bad.uri} line" in message and "--dead_letter" in message
    assert _scan(target_ddb, table) == []


def test_glue_script_maps_with_awsglue_applymapping_and_every_item_arrives(
        spark, source, source_ddb, target_ddb, s3, bucket, unique_name, tmp_path: Path, capsys, monkeypatch) -> None:
    import sys

    from ddbmigrate.gluelocal import run_script
    from ddbmigrate.gluelocal import transforms as shim_transforms

    # GIVEN an export, its mapping and a well-formed target
    table = unique_name("src")
    expected, uri = _seed_export_and_map(source, source_ddb, s3, bucket, table, 40, tmp_path / "m.json")
    create_sample_table(target_ddb, table)
    calls: list[dict[str, Any]] = []
    original = shim_transforms.ApplyMapping.__call__

    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:  # records, then runs the stand-in itself
        calls.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(shim_transforms.ApplyMapping, "__call__", recording)
    # WHEN the Glue script runs on the local runtime (awsglue is the stand-in here)
    script = Path(__file__).resolve().parents[1] / "jobs" / "export_import.py"
    code = run_script(script, ["--JOB_NAME", "t", "--export_uri", uri, "--mapping", str(tmp_path / "m.json"),
                               "--target_table", table, "--target_profile", "target", "--dead_letter", str(tmp_path / "dl"),
                               "--apply_mapping", "always"],
                      spark=spark)
    out = capsys.readouterr().out
    # THEN the mapping went through awsglue.transforms.ApplyMapping, case-sensitively, once
    assert sys.modules["awsglue.transforms"].ApplyMapping is shim_transforms.ApplyMapping
    assert len(calls) == 1 and calls[0]["case_sensitive"] is True
    assert ("Item.pk.S", "string", "pk", "string") in calls[0]["mappings"]
    # AND the items are the same as the library path writes: every one equal to its source
    assert code == 0, out
    assert "read=40 written=40 dead_lettered=0" in out
    _assert_every_item_arrived(target_ddb, table, expected)
    _assert_verify_identical(source, table, 40)


@pytest.mark.parametrize("through", ["library", "awsglue ApplyMapping"])
def test_an_edited_cast_that_cannot_hold_a_value_is_dead_lettered_never_dropped(
        through, spark, source, source_ddb, target_ddb, s3, bucket, unique_name, tmp_path: Path) -> None:
    # GIVEN a mapping edited to cast 'precise' (38 digits) to long, which gives null, and sk to long, which fits
    table = unique_name("src")
    _, uri = _seed_export_and_map(source, source_ddb, s3, bucket, table, 12, tmp_path / "m.json")
    create_sample_table(target_ddb, table)
    document = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    for rule in document["mappings"]:
        if rule[2] in ("precise", "sk"):
            rule[3] = "long"
    (tmp_path / "m.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    glue_context = None
    if through != "library":
        from ddbmigrate.gluelocal import install_awsglue_shim

        install_awsglue_shim()  # no-op where real awsglue works
        from awsglue.context import GlueContext

        glue_context = GlueContext(spark.sparkContext)
    # WHEN the job runs
    result = run_export_import(spark, _options(uri, tmp_path / "m.json", table, tmp_path / "dl"), glue_context=glue_context)
    # THEN no item is written without its 'precise': each is dead-lettered naming that target (and not sk)
    assert (result.read, result.written, result.dead_lettered) == (12, 0, 12)
    assert _scan(target_ddb, table) == []
    letters = [json.loads(line) for f in (tmp_path / "dl").rglob("*.jsonl") for line in f.read_text().splitlines()]
    assert len(letters) == 12
    assert all("'precise'" in letter["reason"] and "'sk'" not in letter["reason"] for letter in letters)


def test_an_edited_mapping_without_casts_writes_the_same_items_item_by_item_as_through_applymapping(
        spark, source, source_ddb, target_ddb, s3, bucket, unique_name, tmp_path: Path) -> None:
    # GIVEN a mapping edited to rename ('name' → 'full_name'), drop ('tiny'), nest ('active' → 'flags.active')
    # and lift a map member out of its map ('address.city' → 'city'): no cast
    table = unique_name("src")
    expected, uri = _seed_export_and_map(source, source_ddb, s3, bucket, table, 30, tmp_path / "m.json")
    document = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    renames = {"name": "full_name", "active": "flags.active", "address.city": "city"}
    document["mappings"] = [[r[0], r[1], renames.get(r[2], r[2]), r[3]] for r in document["mappings"] if r[2] != "tiny"]
    (tmp_path / "m.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    # WHEN the import runs once per route, into two tables
    written: dict[str, dict[tuple[str, str], Item]] = {}
    for apply_mapping, route in (("auto", "per-item"), ("always", "applymapping")):
        target = f"{table}-{apply_mapping}"
        create_sample_table(target_ddb, target)
        result = run_export_import(spark, _options(uri, tmp_path / "m.json", target, tmp_path / f"dl-{apply_mapping}", apply_mapping))
        assert (result.read, result.written, result.dead_lettered, result.mapping_route) == (30, 30, 0, route)
        written[apply_mapping] = {_key(it): it for it in _scan(target_ddb, target)}
    # THEN item by item the two routes wrote the same items (names, type tags, values)
    assert set(written["auto"]) == set(written["always"]) == {_key(it) for it in expected}
    for key, item in written["always"].items():
        mine = written["auto"][key]
        assert {k: next(iter(v)) for k, v in mine.items()} == {k: next(iter(v)) for k, v in item.items()}
        assert item_digest(mine) == item_digest(item)
    # AND the edits are there: renamed, dropped, nested, lifted, the rest untouched
    source_item = expected[0]
    mapped = written["auto"][_key(source_item)]
    assert "name" not in mapped and mapped["full_name"] == source_item["name"]
    assert "tiny" not in mapped
    assert mapped["flags"] == {"M": {"active": source_item["active"]}}
    assert mapped["city"] == source_item["address"]["M"]["city"] and "city" not in mapped["address"]["M"]
    assert item_digest({"blob": mapped["blob"], "history": mapped["history"]}) == \
        item_digest({"blob": source_item["blob"], "history": source_item["history"]})


# --------------------------------------------------------------------------- what the job asks of S3, and as whom


@pytest.mark.parametrize(("apply_mapping", "dead_letter", "passes"), [
    ("auto", True, 2),    # verify every file, then read, map and write
    ("auto", False, 3),   # verify, look for refusals, then write
    ("always", True, 1),  # the Spark route reads each file once (cached) and checks it as it reads
])
def test_the_manifests_are_read_once_per_run_and_each_data_file_once_per_pass(
        apply_mapping, dead_letter, passes, spark, s3_recorder, source, source_ddb, target_ddb, s3, bucket, unique_name,
        tmp_path: Path) -> None:
    """Counted on the wire: the job's S3 requests pass a recording proxy in front of the local S3."""
    # GIVEN an export of several data files, read by the job through the recording proxy
    table = unique_name("src")
    _, uri = _seed_export_and_map(source, source_ddb, s3, bucket, table, 40, tmp_path / "m.json")
    create_sample_table(target_ddb, table)
    export = open_export(uri, s3)
    assert len(export.data_files) > 1
    recorder = s3_recorder.recorder
    # WHEN the job runs
    result = run_export_import(spark, ExportImportOptions(
        export_uri=uri, mapping=str(tmp_path / "m.json"), target_table=table, target=Account(profile="target"),
        bucket_account=s3_recorder.account, dead_letter=str(tmp_path / "dl") if dead_letter else None,
        apply_mapping=apply_mapping,
    ))
    assert (result.read, result.written) == (40, 40)
    # THEN each manifest and checksum was fetched once (by the driver), and each data file once per pass
    folder = f"/{bucket}/{export.folder_key}"
    for name in ("manifest-summary.json", "manifest-summary.checksum", "manifest-files.json", "manifest-files.checksum"):
        assert recorder.count("GET", folder + name) == 1, name
    for data_file in export.data_files:
        assert recorder.count("GET", f"/{bucket}/{data_file.key}") == passes, data_file.key
    assert recorder.overflow == 0


TRUST_ANYONE_IN_THE_ACCOUNT = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]})


def test_dead_letters_of_every_stage_are_stored_with_the_jobs_own_account_never_the_target_role(
        spark, s3_recorder, source, source_ddb, target_ddb, s3, bucket, unique_name, tmp_path: Path) -> None:
    """The recorder reads the access key id that signed each S3 request (moto does not enforce IAM, so a
    refusal cannot show it): the target role's keys come from moto's STS and differ from the profile's."""
    # GIVEN a target written through an assumed role, an export line that is not JSON (a read-stage
    # dead letter) and a target whose sort key is a string (every other item a dead letter of the sink)
    table = unique_name("src")
    _, uri = _seed_export_and_map(source, source_ddb, s3, bucket, table, 12, tmp_path / "m.json")
    _tamper(s3, uri, lambda _raw, lines: _gzip_lines(["not json", *lines[1:]]))
    target_ddb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    )
    job = s3_recorder.account
    role = Account(profile="target").client("iam").create_role(
        RoleName=unique_name("writer")[:60], AssumeRolePolicyDocument=TRUST_ANYONE_IN_THE_ACCOUNT)["Role"]["Arn"]
    target = job.with_(role_arn=role, label="target")
    role_key = target.session().get_credentials().access_key
    job_key = job.session().get_credentials().access_key
    assert role_key != job_key
    # WHEN the import runs (the Spark route: the read stage sets the bad line aside itself)
    result = run_export_import(spark, ExportImportOptions(
        export_uri=uri, mapping=str(tmp_path / "m.json"), target_table=table, target=target, bucket_account=job,
        dead_letter=f"s3://{bucket}/dead-letters/", apply_mapping="always",
    ))
    # THEN every item is dead-lettered, by both stages, and every dead-letter object was stored with the job's keys
    assert (result.read, result.written, result.dead_lettered) == (12, 0, 12)
    stored = {r: n for r, n in s3_recorder.recorder.requests().items()
              if r.path.startswith(f"/{bucket}/dead-letters/") and r.method in ("PUT", "POST")}
    names = {r.path.rsplit("/", 1)[-1] for r in stored}
    assert "read-stage.jsonl" in names and len(names) >= 2
    assert {r.access_key for r in stored} == {job_key}
    letters = [json.loads(line) for obj in s3.list_objects_v2(Bucket=bucket, Prefix="dead-letters/")["Contents"]
               for line in s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode().splitlines()]
    assert len(letters) == 12


# --------------------------------------------------------------------------- schema drift (DESIGN principle 6)


def _drifted_export(source: Account, source_ddb: Any, s3: Any, bucket: str, table: str, mapping_path: Path,
                    renames: dict[str, str]) -> tuple[list[Item], str]:
    """24 sample items, mapped from the schema of the items *before* the table drifted: 5 items gained
    'loyalty', one gained a member 'address.zip', 3 hold 'balance' as S instead of N. (items, export URI)"""
    create_sample_table(source_ddb, table)
    items = list(sample_items(24))
    generated = build_mapping(infer_schema(items))
    save_mapping(MappingFile(tuple((s, st, renames.get(t, t), tt) for s, st, t, tt in generated.mappings),
                             generated.schema), mapping_path)
    for item in items[:5]:
        item["loyalty"] = {"N": "7"}
    items[5]["address"] = {"M": {**items[5]["address"]["M"], "zip": {"S": "SECRET-ZIP"}}}
    for item in items[6:9]:
        item["balance"] = {"S": "SECRET-BALANCE"}
    for i in range(0, len(items), 25):
        source_ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]})
    return items, emulate_export(source, table, s3, bucket, "exp")


DRIFT_SUMMARY = ("schema drift: 6 item(s) carried new attribute(s) loyalty (5), address.zip (1), 3 item(s) changed "
                 "type of balance (N→S) (3); re-crawl to make them part of the mapping ('ddbmigrate crawl', then "
                 "'ddbmigrate mapping generate')")


@pytest.mark.parametrize(("renames", "route"), [({}, "identity"), ({"name": "full_name"}, "per-item")])
def test_items_that_drifted_from_the_schema_are_carried_and_counted_by_name(
        renames, route, spark, source, source_ddb, target_ddb, s3, bucket, unique_name, tmp_path: Path) -> None:
    # GIVEN an export whose items gained attributes and changed a type after the mapping was generated
    table = unique_name("src")
    expected, uri = _drifted_export(source, source_ddb, s3, bucket, table, tmp_path / "m.json", renames)
    create_sample_table(target_ddb, table)
    # WHEN the import runs item by item (the generated mapping, or one that renames without casting)
    result = run_export_import(spark, _options(uri, tmp_path / "m.json", table, tmp_path / "dl"))
    # THEN every item is written, none dead-lettered, and the summary names the drift (names, never values)
    assert (result.read, result.written, result.dead_lettered, result.mapping_route) == (24, 24, 0, route)
    assert result.ok and DRIFT_SUMMARY in result.summary_lines()
    assert not any("SECRET" in line for line in result.summary_lines())
    # AND the target equals the source (through the mapping when it renames), new attributes and types included
    if renames:
        report = verify_tables(VerifyOptions(source=source, source_table=table, target=Account(profile="target"),
                                             target_table=table, consistent=True),
                               transform=mapping_transform(str(tmp_path / "m.json")))
        assert report.identical and report.source_items == report.target_items == 24, report.summary()
        got = {_key(it): it for it in _scan(target_ddb, table)}
        assert got[_key(expected[6])]["balance"] == {"S": "SECRET-BALANCE"} and "full_name" in got[_key(expected[6])]
    else:
        _assert_every_item_arrived(target_ddb, table, expected)
        _assert_verify_identical(source, table, 24)


def test_through_applymapping_the_items_that_drifted_are_dead_lettered_with_the_reason_to_recrawl(
        spark, source, source_ddb, target_ddb, s3, bucket, unique_name, tmp_path: Path) -> None:
    # GIVEN the same drifted export
    table = unique_name("src")
    expected, uri = _drifted_export(source, source_ddb, s3, bucket, table, tmp_path / "m.json", {})
    create_sample_table(target_ddb, table)
    # WHEN the import goes through ApplyMapping on a DynamicFrame, which reads lines with the saved schema
    result = run_export_import(spark, _options(uri, tmp_path / "m.json", table, tmp_path / "dl", "always"))
    # THEN the 9 items that do not fit are dead-lettered naming the attribute and how to re-crawl; the rest arrive
    assert (result.read, result.written, result.dead_lettered) == (24, 15, 9)
    assert not result.drift
    letters = [json.loads(line) for f in (tmp_path / "dl").rglob("*.jsonl") for line in f.read_text().splitlines()]
    reasons = sorted(letter["reason"] for letter in letters)
    assert len(reasons) == 9 and all("'ddbmigrate crawl'" in r and "'ddbmigrate mapping generate'" in r and
                                     "--apply_mapping always" in r and "SECRET" not in r for r in reasons)
    assert sum("'loyalty' is not in the mapping's schema" in r for r in reasons) == 5
    assert sum("'address.zip' is not in the mapping's schema" in r for r in reasons) == 1
    assert sum("'balance' is S but the mapping's schema expects N" in r for r in reasons) == 3
    _assert_every_item_arrived(target_ddb, table, expected[9:])


def test_an_export_line_keeps_its_items_text_only_when_it_is_exactly_the_items_json() -> None:
    from ddbmigrate.bulk import _parse_line

    item = '{"pk":{"S":"ü"},"sk":{"N":"1"},"b":{"B":"AAE="}}'
    # a line as DynamoDB writes it: the item's text is kept, as it is, beside the item read from it
    read, text = _parse_line('{"Item":' + item + "}", "f line 1", None)
    assert text == item
    assert read.item == {"pk": {"S": "ü"}, "sk": {"N": "1"}, "b": {"B": b"\x00\x01"}}
    # other spellings of the same line take the full parse: same item, no text
    for line in ['{"Item": ' + item + "}", '{"Item":{"pk":{"S":"x"}},"Item":' + item + "}", " " + '{"Item":' + item + "}"]:
        other, no_text = _parse_line(line, "f line 2", None)
        assert (other.item, no_text) == (read.item, None)
    # a binary in non-canonical base64 is read, but its text is not sent as it is
    loose, none = _parse_line('{"Item":{"pk":{"S":"a"},"b":{"B":"AAF="}}}', "f line 3", None)
    assert loose.item["b"] == {"B": b"\x00\x01"} and none is None
    # refusals are worded as before
    assert _parse_line('{"Item":{"pk":{"S":"a"}}', "f line 4", None) == "malformed line: JSONDecodeError"
    assert _parse_line('{"Item":{"pk":{"S":"a"}},"x":1}', "f line 5", None) == 'malformed line: ValueError'
