"""Table → table copy between the two local accounts: lossless, within the read budget, under faults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tables import put_all

from ddbmigrate.accounts import Account
from ddbmigrate.copy import ScanStats, TableCopyOptions, run_table_copy
from ddbmigrate.digest import item_digest
from ddbmigrate.errors import ConfigError, MappingError
from ddbmigrate.local.faults import FaultProxy
from ddbmigrate.mapping import MappingFile, build_mapping, save_mapping
from ddbmigrate.sample import sample_items
from ddbmigrate.schema import infer_schema
from ddbmigrate.values import Item
from ddbmigrate.verify import VerifyOptions, mapping_transform, verify_tables

REPO = Path(__file__).resolve().parents[1]

KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
ATTRIBUTES = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "B"},
              {"AttributeName": "region", "AttributeType": "S"}]
GSI = [{"IndexName": "by-region", "KeySchema": [{"AttributeName": "region", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"}}]


def binary_keyed(count: int, *, start: int = 0) -> list[Item]:
    """Sample items (every type, odd names) with a binary sort key and a GSI attribute."""
    items = list(sample_items(start + count))[start:]
    return [{**item, "sk": {"B": bytes([int(item["sk"]["N"]), 0x00, 0xFF])}, "region": {"S": f"r{n % 3}"}}
            for n, item in enumerate(items)]


def create(client: Any, name: str, *, rcu: int | None = None) -> None:
    kwargs: dict[str, Any] = {"TableName": name, "KeySchema": KEY_SCHEMA, "AttributeDefinitions": ATTRIBUTES}
    if rcu:
        kwargs["ProvisionedThroughput"] = {"ReadCapacityUnits": rcu, "WriteCapacityUnits": 1000}
        kwargs["GlobalSecondaryIndexes"] = [{**GSI[0], "ProvisionedThroughput": kwargs["ProvisionedThroughput"]}]
    else:
        kwargs["BillingMode"] = "PAY_PER_REQUEST"
        kwargs["GlobalSecondaryIndexes"] = GSI
    client.create_table(**kwargs)
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def scan_all(client: Any, table: str) -> dict[tuple[str, bytes], Item]:
    items, kwargs = {}, {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items.update({(i["pk"]["S"], i["sk"]["B"]): i for i in page["Items"]})
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def assert_copied(expected: list[Item], got: dict[tuple[str, bytes], Item]) -> None:
    """Every source item arrived, compared one by one: same names, same type tags, same values."""
    assert len(got) == len(expected)
    for item in expected:
        have = got[(item["pk"]["S"], item["sk"]["B"])]
        assert {k: next(iter(v)) for k, v in have.items()} == {k: next(iter(v)) for k, v in item.items()}
        assert item_digest(have) == item_digest(item)


@pytest.fixture
def tables(source_ddb, target_ddb, unique_name) -> tuple[str, str]:
    source_table, target_table = unique_name("copy-src"), unique_name("copy-dst")
    create(source_ddb, source_table)
    create(target_ddb, target_table)
    return source_table, target_table


def options(source_table: str, target_table: str, tmp_path: Path, **kwargs: Any) -> TableCopyOptions:
    return TableCopyOptions(
        source_table=source_table, source=kwargs.pop("source", Account(profile="source")),
        target_table=target_table, target=kwargs.pop("target", Account(profile="target")),
        dead_letter=str(tmp_path / "dl"), **kwargs,
    )


def integration(test: Any) -> Any:
    """Needs the local stack and the shared SparkSession."""
    return pytest.mark.spark(pytest.mark.integration(test))


def dead_letters(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted(folder.rglob("*.jsonl")) for line in path.read_text().splitlines()]


@integration
def test_copy_is_lossless_across_accounts_with_a_binary_sort_key_and_a_gsi(
    spark, source, target, source_ddb, target_ddb, tables, tmp_path: Path,
) -> None:
    source_table, target_table = tables
    expected = binary_keyed(120)
    put_all(source_ddb, source_table, expected)

    result = run_table_copy(spark, options(source_table, target_table, tmp_path, splits=3))

    assert (result.read, result.written, result.dead_lettered) == (120, 120, 0)
    assert result.ok and result.reconciles
    assert result.stages["segments"] == 3 and result.consumed_rcu > 0
    assert_copied(expected, scan_all(target_ddb, target_table))
    # the GSI of the target is filled from the copied items
    in_r1 = target_ddb.query(TableName=target_table, IndexName="by-region", KeyConditionExpression="#r = :r",
                             ExpressionAttributeNames={"#r": "region"}, ExpressionAttributeValues={":r": {"S": "r1"}})
    assert in_r1["Count"] == sum(1 for i in expected if i["region"]["S"] == "r1")
    report = verify_tables(VerifyOptions(source=source, source_table=source_table, target=target, target_table=target_table))
    assert report.identical, report.summary()


@integration
def test_reads_stay_within_the_read_budget_measured_from_consumed_capacity(
    spark, source_ddb, target_ddb, unique_name, tmp_path: Path,
) -> None:
    source_table, target_table = unique_name("copy-rcu"), unique_name("copy-rcu-dst")
    create(source_ddb, source_table, rcu=8)  # budget floor(8 × 0.5) = 4 RCU/s: ~30 RCU of items take ~7 s
    create(target_ddb, target_table)
    expected = binary_keyed(150, start=1000)
    put_all(source_ddb, source_table, expected)

    result = run_table_copy(spark, options(source_table, target_table, tmp_path, read_percent=0.5, splits=2))

    assert result.read_budget == 4 and result.ok
    scan = result.scan
    seconds = max(scan.per_second) - min(scan.per_second) + 1
    assert seconds >= 4, f"the scan took {seconds} s: too short to show a rate (use more items)"
    # the whole job: consumed ≤ budget × time + one second of burst per running segment
    assert scan.consumed_rcu <= 4 * (seconds + 2)
    # and in every 3-second window (token bucket: rate × window + burst + one page's estimate)
    assert scan.peak(3) <= 4 * (3 + 2), scan.per_second
    assert_copied(expected, scan_all(target_ddb, target_table))


@integration
def test_nothing_is_lost_under_faults_on_both_sides(spark, local_stack, source_ddb, target_ddb, tables, tmp_path: Path) -> None:
    source_table, target_table = tables
    expected = binary_keyed(300, start=2000)
    put_all(source_ddb, source_table, expected)

    with (
        FaultProxy(local_stack.source_dynamodb, throttle_rate=0.15, error_5xx_rate=0.05, drop_rate=0.02, seed=11,
                   operations={"Scan"}) as reads,
        FaultProxy(local_stack.target_dynamodb, throttle_rate=0.1, unprocessed_rate=0.1, error_5xx_rate=0.1,
                   drop_rate=0.1, seed=12) as writes,
    ):
        result = run_table_copy(spark, options(
            # small budgets make small pages and batches: many requests, so every kind of fault fires
            source_table, target_table, tmp_path, splits=4, read_capacity=8, read_percent=1.0,
            write_capacity=160, write_percent=1.0,
            source=Account(profile="source", endpoint_url=reads.endpoint),
            target=Account(profile="target", endpoint_url=writes.endpoint),
        ))

    assert (result.read, result.written, result.dead_lettered) == (300, 300, 0) and result.ok
    read_faults, write_faults = reads.stats, writes.stats
    assert read_faults.requests >= 30, read_faults
    assert read_faults.throttled and read_faults.errors_5xx and result.scan_retries > 0
    assert write_faults.requests >= 40, write_faults
    assert write_faults.throttled and write_faults.partial_batches and write_faults.errors_5xx
    assert write_faults.dropped_before + write_faults.dropped_after > 0 and result.retries > 0
    assert_copied(expected, scan_all(target_ddb, target_table))


@integration
def test_a_mapping_renames_carries_a_new_attribute_and_dead_letters_one_that_collides_with_a_target(
    spark, source, target, source_ddb, target_ddb, tables, tmp_path: Path,
) -> None:
    # GIVEN a renaming mapping, an item with an attribute its schema never saw, and one whose new
    # attribute is named like the renamed target
    source_table, target_table = tables
    expected = binary_keyed(40, start=3000)
    generated = build_mapping(infer_schema(expected))
    renamed = tuple((s, st, "customer_name" if t == "name" else t, tt) for s, st, t, tt in generated.mappings)
    save_mapping(MappingFile(renamed, generated.schema), tmp_path / "m.json")
    drifted = {**binary_keyed(1, start=3100)[0], "unexpected": {"SS": ["secret-value-42"]}}
    stray = {**binary_keyed(1, start=3200)[0], "customer_name": {"S": "secret-value-43"}}
    put_all(source_ddb, source_table, [*expected, drifted, stray])
    # WHEN the copy runs with it
    result = run_table_copy(spark, options(source_table, target_table, tmp_path, mapping=str(tmp_path / "m.json")))
    # THEN the new attribute is carried and counted by name; the collision is dead-lettered with its key
    assert (result.read, result.written, result.dead_lettered) == (42, 41, 1)
    assert result.reconciles and not result.ok
    assert (result.drift.items_unknown, result.drift.unknown) == (1, {"unexpected": 1})
    assert any(line.startswith("schema drift: 1 item(s) carried new attribute(s) unexpected (1)")
               for line in result.summary_lines())
    got = scan_all(target_ddb, target_table)
    assert all("customer_name" in item and "name" not in item for item in got.values())
    assert got[(drifted["pk"]["S"], drifted["sk"]["B"])]["unexpected"] == {"SS": ["secret-value-42"]}
    assert (stray["pk"]["S"], stray["sk"]["B"]) not in got
    [letter] = dead_letters(tmp_path / "dl")
    assert "'customer_name' is new" in letter["reason"] and "already writes target 'customer_name'" in letter["reason"]
    assert "secret-value" not in letter["reason"] and not any("secret" in line for line in result.summary_lines())
    assert letter["key"]["pk"] == stray["pk"] and letter["origin"].startswith(f"{source_table} segment ")
    assert letter["item"]["customer_name"] == {"S": "secret-value-43"}  # the whole item, to fix and replay
    target_ddb.delete_item(TableName=target_table, Key={"pk": stray["pk"], "sk": stray["sk"]})
    source_ddb.delete_item(TableName=source_table, Key={"pk": stray["pk"], "sk": stray["sk"]})
    report = verify_tables(VerifyOptions(source=source, source_table=source_table, target=target, target_table=target_table),
                           transform=mapping_transform(str(tmp_path / "m.json")))
    assert report.identical


@integration
def test_a_mapping_that_casts_is_refused_before_any_read(spark, tables, tmp_path: Path) -> None:
    source_table, target_table = tables
    items = binary_keyed(3, start=4000)
    generated = build_mapping(infer_schema(items))
    cast = tuple((s, st, t, "double") if s == "Item.balance.N" else (s, st, t, tt) for s, st, t, tt in generated.mappings)
    save_mapping(MappingFile(cast, generated.schema), tmp_path / "cast.json")
    with pytest.raises(MappingError, match=r"casts string to double"):
        run_table_copy(spark, options(source_table, target_table, tmp_path, mapping=str(tmp_path / "cast.json")))


@integration
def test_a_missing_source_table_fails_naming_it(spark, target_ddb, unique_name, tmp_path: Path) -> None:
    target_table = unique_name("copy-dst")
    create(target_ddb, target_table)
    with pytest.raises(ConfigError, match=r"--source_table: table 'no-such-table' not found in account \(profile=source\)"):
        run_table_copy(spark, options("no-such-table", target_table, tmp_path))


@integration
def test_the_glue_script_copies_and_prints_the_reconciliation(spark, source_ddb, target_ddb, tables, tmp_path: Path, capsys) -> None:
    from ddbmigrate.gluelocal import run_script

    source_table, target_table = tables
    expected = binary_keyed(30, start=5000)
    put_all(source_ddb, source_table, expected)

    code = run_script(REPO / "jobs" / "table_copy.py", [
        "--JOB_NAME", "copy-test", "--source_table", source_table, "--source_profile", "source",
        "--target_table", target_table, "--target_profile", "target", "--read_percent", "1.0",
        "--splits", "2", "--dead_letter", str(tmp_path / "dl"),
    ], spark=spark)

    out = capsys.readouterr().out
    assert code == 0, out
    assert "read=30 written=30 dead_lettered=0" in out and "reconciles: read 30 = written 30 + dead-lettered 0: yes" in out
    assert_copied(expected, scan_all(target_ddb, target_table))


@integration
def test_the_glue_script_reads_an_s3_mapping_and_stores_dead_letters_with_the_jobs_own_account(
        spark, s3_recorder, source_ddb, target_ddb, s3, bucket, tables, unique_name, tmp_path: Path, capsys) -> None:
    """As deployed: ``--mapping s3://…`` (a Glue job has no local file) and a target role. The recorder in
    front of the local S3 reads which access key signed each request (moto does not enforce IAM)."""
    from ddbmigrate.gluelocal import run_script

    # GIVEN a renaming mapping in the job's bucket, a source item it cannot map, and a target role
    source_table, target_table = tables
    expected = binary_keyed(10, start=6000)
    generated = build_mapping(infer_schema(expected))
    renamed = tuple((s, st, "customer_name" if t == "name" else t, tt) for s, st, t, tt in generated.mappings)
    save_mapping(MappingFile(renamed, generated.schema), tmp_path / "m.json")
    s3.put_object(Bucket=bucket, Key="mappings/m.json", Body=(tmp_path / "m.json").read_bytes())
    stray = {**binary_keyed(1, start=6100)[0], "customer_name": {"S": "x"}}  # collides with the renamed target
    put_all(source_ddb, source_table, [*expected, stray])
    role = Account(profile="target").client("iam").create_role(
        RoleName=unique_name("writer")[:60], AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]
    job_key = s3_recorder.account.session().get_credentials().access_key
    # WHEN the Glue script runs
    code = run_script(REPO / "jobs" / "table_copy.py", [
        "--JOB_NAME", "copy-test", "--source_table", source_table, "--source_profile", "source",
        "--target_table", target_table, "--target_profile", str(s3_recorder.account.profile), "--target_role_arn", role,
        "--splits", "2", "--mapping", f"s3://{bucket}/mappings/m.json", "--dead_letter", f"s3://{bucket}/dl/",
    ], spark=spark)
    # THEN the mapping was read from S3 and applied, and the one dead letter was stored with the job's own keys
    out = capsys.readouterr().out
    assert code == 1, out
    assert "read=11 written=10 dead_lettered=1" in out
    got = scan_all(target_ddb, target_table)
    assert len(got) == 10 and all("customer_name" in item and "name" not in item for item in got.values())
    requests = s3_recorder.recorder.requests()
    assert {r.access_key for r in requests if r.path == f"/{bucket}/mappings/m.json"} == {job_key}
    stored = {r.access_key for r in requests if r.path.startswith(f"/{bucket}/dl/") and r.method in ("PUT", "POST")}
    assert stored == {job_key}


# --------------------------------------------------------------------------- options (no stack needed)


def _args(**extra: str) -> dict[str, str]:
    return {"JOB_NAME": "j", "source_table": "Orders", "target_table": "Orders", "source_profile": "a",
            "target_profile": "b", **extra}


@pytest.mark.parametrize(("extra", "message"), [
    ({"read_percent": "2.0"}, r"--read_percent"),
    ({"write_percent": "0.05"}, r"--write_percent"),
    ({"splits": "0"}, r"--splits: expected a whole number between 1 and 1,000,000, got 0"),
    ({"splits": "many"}, r"--splits: expected a whole number, got 'many'"),
    ({"read_capacity": "0"}, r"--read_capacity: expected a whole number ≥ 1, got 0"),
    ({"consistent_read": "yes"}, r"--consistent_read: expected true or false"),
])
def test_bad_job_arguments_name_the_argument(extra: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TableCopyOptions.from_job_args(_args(**extra))


def test_job_arguments_build_both_accounts_and_an_arn_gives_the_region() -> None:
    arn = "arn:aws:dynamodb:eu-central-1:111122223333:table/Orders"
    opts = TableCopyOptions.from_job_args(_args(source_table=arn, source_role_arn="arn:aws:iam::111122223333:role/r",
                                                source_external_id="x", consistent_read="true", splits="16"))
    assert opts.source.region == "eu-central-1" and opts.source_table_name == "Orders"
    assert opts.source.role_arn == "arn:aws:iam::111122223333:role/r" and opts.source.external_id == "x"
    assert (opts.consistent, opts.splits, opts.read_percent, opts.write_percent) == (True, 16, 0.5, 0.5)
    assert opts.target.profile == "b" and opts.target.label == "target"


def test_copying_a_table_onto_itself_is_refused() -> None:
    with pytest.raises(ConfigError, match="same table"):
        TableCopyOptions.from_job_args(_args(target_profile="a"))


def test_scan_stats_peak_is_the_busiest_window() -> None:
    stats = ScanStats(per_second={100: 5.0, 101: 1.0, 103: 7.0, 104: 2.0})
    assert stats.peak(1) == 7.0 and stats.peak(2) == 9.0 and stats.peak(5) == 15.0
    assert ScanStats().merge(stats).merge(ScanStats(per_second={101: 4.0})).per_second[101] == 5.0
