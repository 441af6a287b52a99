"""``ddbmigrate replicate run|status`` through the real command (``cli.main.main``) against the local
stack: each preflight refusal is one line on stderr with its exit code and nothing written; a run to
caught-up ends with its summary; a dead letter makes it exit non-zero; status shows every shard."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ddbmigrate.accounts import Account
from ddbmigrate.cli.main import main
from ddbmigrate.errors import ConfigError, ReplicationError, SinkError
from ddbmigrate.replicate.checkpoints import FileCheckpoints
from ddbmigrate.sample import create_sample_table, sample_items

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _run(src: str, dst: str, tmp_path: Path, *extra: str, cutoff: datetime | None = None) -> list[str]:
    return ["replicate", "run", "--source-profile", "source", "--source-table", src, "--target-profile", "target",
            "--target-table", dst, "--checkpoint", f"file:{tmp_path / 'ck.json'}",
            "--cutoff", _iso(cutoff or datetime.now(timezone.utc)), *extra]


def _count(client: Any, table: str) -> int:
    return client.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"]


@pytest.fixture
def tables(source_ddb: Any, target_ddb: Any, unique_name: Callable[[str], str]) -> tuple[str, str]:
    src, dst = unique_name("src"), unique_name("dst")
    create_sample_table(source_ddb, src, stream=True)
    create_sample_table(target_ddb, dst)
    return src, dst


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], error: type[Exception], message: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == error.exit_code != 0  # type: ignore[attr-defined]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ddbmigrate: error: ") and "Traceback" not in err
    assert message in lines[0], lines[0]
    return lines[0]


def test_refused_when_the_stream_is_off(capsys, source_ddb, target_ddb, unique_name, tmp_path) -> None:
    src, dst = unique_name("src"), unique_name("dst")
    create_sample_table(source_ddb, src)
    create_sample_table(target_ddb, dst)
    _refused(capsys, _run(src, dst, tmp_path), ReplicationError, "has no stream enabled: enable it with NEW_IMAGE")
    assert _count(target_ddb, dst) == 0 and not (tmp_path / "ck.json").exists()


def test_refused_when_the_stream_has_no_new_images(capsys, source_ddb, target_ddb, unique_name, tmp_path) -> None:
    src, dst = unique_name("src"), unique_name("dst")
    source_ddb.create_table(TableName=src, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST",
                            StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    source_ddb.put_item(TableName=src, Item={"pk": {"S": "a"}})
    create_sample_table(target_ddb, dst)
    _refused(capsys, _run(src, dst, tmp_path), ReplicationError,
             "has a KEYS_ONLY stream, without new images; replication writes full new images: enable the stream with "
             "NEW_IMAGE or NEW_AND_OLD_IMAGES")
    assert _count(target_ddb, dst) == 0 and not (tmp_path / "ck.json").exists()


def test_refused_when_the_stream_was_created_after_the_cutoff(capsys, tables, source_ddb, target_ddb, tmp_path) -> None:
    src, dst = tables
    source_ddb.put_item(TableName=src, Item=next(sample_items(1)))
    line = _refused(capsys, _run(src, dst, tmp_path, cutoff=datetime.now(timezone.utc) - timedelta(minutes=30)),
                    ReplicationError, "changes in between were never recorded: export again")
    assert "its stream was enabled at" in line
    assert _count(target_ddb, dst) == 0 and not (tmp_path / "ck.json").exists()


def test_refused_when_replay_would_start_past_the_retention(capsys, tables, source_ddb, target_ddb, tmp_path) -> None:
    # the cut-off itself is after the stream's creation; the margin takes replay 24 h back
    src, dst = tables
    source_ddb.put_item(TableName=src, Item=next(sample_items(1)))
    _refused(capsys, _run(src, dst, tmp_path, "--margin", "24h",
                          cutoff=datetime.now(timezone.utc) + timedelta(seconds=2)),
             ReplicationError, "older than the stream's 24 h retention minus 1 h; changes since then may be trimmed")
    assert _count(target_ddb, dst) == 0 and not (tmp_path / "ck.json").exists()


def test_refused_when_the_mapping_does_not_turn_the_source_key_into_the_target_key(
        capsys, tables, source_ddb, target_ddb, tmp_path) -> None:
    src, dst = tables
    source_ddb.put_item(TableName=src, Item=next(sample_items(1)))
    mapping = json.loads((REPO / "mappings" / "example.json").read_text())
    mapping["mappings"] = [["Item.pk.S", "string", "customer", "string"] if rule[0] == "Item.pk.S" else rule
                           for rule in mapping["mappings"]]
    (tmp_path / "m.json").write_text(json.dumps(mapping))
    _refused(capsys, _run(src, dst, tmp_path, "--mapping", str(tmp_path / "m.json")), ConfigError,
             f"--mapping does not fit: source table {src!r} has key pk, sk; target table {dst!r} needs pk, sk")
    assert _count(target_ddb, dst) == 0 and not (tmp_path / "ck.json").exists()


def test_run_until_caught_up_prints_the_summary_and_status_shows_each_shard(
        capsys, tables, source_ddb, target_ddb, tmp_path) -> None:
    src, dst = tables
    cutoff = datetime.now(timezone.utc)
    items = list(sample_items(12))
    for item in items:
        source_ddb.put_item(TableName=src, Item=item)
    source_ddb.delete_item(TableName=src, Key={"pk": items[0]["pk"], "sk": items[0]["sk"]})
    assert main(_run(src, dst, tmp_path, "--cloudwatch-metrics", "on", cutoff=cutoff)) == 0
    out = capsys.readouterr().out
    # item 0's put is superseded by its delete in the same batch
    assert f"replicated {src} → {dst}: seen=13 applied=12 (puts 11, deletes 1) skipped=0" in out
    assert "superseded=1 dead_lettered=0" in out
    assert _count(target_ddb, dst) == 11
    # and the target account's CloudWatch (moto) holds the records applied, in total, and a lag
    cloudwatch = Account(profile="target").client("cloudwatch")
    listed = cloudwatch.list_metrics(Namespace="ddbmigrate", MetricName="RecordsApplied",
                                     Dimensions=[{"Name": "Table", "Value": dst}])["Metrics"]
    (dimensions,) = {tuple((d["Name"], d["Value"]) for d in m["Dimensions"]) for m in listed}  # one run: one set
    metric = {"Dimensions": [{"Name": k, "Value": v} for k, v in dimensions]}
    end = datetime.now(timezone.utc) + timedelta(minutes=5)

    def statistic(name: str, kind: str) -> list[float]:
        points = cloudwatch.get_metric_statistics(Namespace="ddbmigrate", MetricName=name, Dimensions=metric["Dimensions"],
                                                  StartTime=end - timedelta(hours=1), EndTime=end, Period=3600,
                                                  Statistics=[kind])["Datapoints"]
        return [p[kind] for p in points]

    assert {d["Name"]: d["Value"] for d in metric["Dimensions"]}["JobName"] == "ddbmigrate-replicate"
    assert sum(statistic("RecordsApplied", "Sum")) == 12 and statistic("ReplicationLagSeconds", "Maximum")

    code = main(["replicate", "status", "--source-profile", "source", "--source-table", src,
                 "--target-profile", "target", "--checkpoint", f"file:{tmp_path / 'ck.json'}"])
    out = capsys.readouterr().out
    stream = source_ddb.describe_table(TableName=src)["Table"]["LatestStreamArn"]
    checkpoints = FileCheckpoints(tmp_path / "ck.json").checkpoints(stream)
    assert code == 0 and checkpoints and "stream" in out
    for shard, checkpoint in checkpoints.items():
        row = next(line for line in out.splitlines() if shard in line)
        assert str(checkpoint.sequence_number) in row and row.rstrip(" │|").endswith("yes")

    # a change after the run: status says that shard waits, with its lag
    source_ddb.put_item(TableName=src, Item=items[0])
    main(["replicate", "status", "--source-profile", "source", "--source-table", src,
          "--target-profile", "target", "--checkpoint", f"file:{tmp_path / 'ck.json'}"])
    rows = [line for line in capsys.readouterr().out.splitlines() if any(s in line for s in checkpoints)]
    assert any(line.rstrip(" │|").endswith("no") and "s " in line for line in rows), rows


def test_a_dead_lettered_change_makes_the_run_exit_non_zero(capsys, tables, source_ddb, target_ddb, tmp_path) -> None:
    src, dst = tables
    cutoff = datetime.now(timezone.utc)
    for item in sample_items(3):
        source_ddb.put_item(TableName=src, Item=item)
    # the mapping renames blob to a long name: the item passes 400 KB once mapped, only in the target
    source_ddb.put_item(TableName=src, Item={"pk": {"S": "big"}, "sk": {"N": "9"}, "blob": {"B": b"x" * 399_000}})
    mapping = json.loads((REPO / "mappings" / "example.json").read_text())
    mapping["mappings"] = [["Item.blob.B", "string", "blob_" + "n" * 12_000, "string"] if rule[0] == "Item.blob.B" else rule
                           for rule in mapping["mappings"]]
    (tmp_path / "m.json").write_text(json.dumps(mapping))
    dl = tmp_path / "dl"
    code = main(_run(src, dst, tmp_path, "--dead-letter", str(dl), "--mapping", str(tmp_path / "m.json"),
                     "--writers-per-shard", "1", cutoff=cutoff))  # one writer: the same counts
    captured = capsys.readouterr()
    assert "seen=4 applied=3" in captured.out and "dead_lettered=1" in captured.out
    assert code == SinkError.exit_code
    line, = captured.err.strip().splitlines()
    assert line.startswith("ddbmigrate: error: 1 change(s) were dead-lettered under --dead-letter") and "xxxx" not in line
    assert len(list(dl.glob("*.jsonl"))) == 1


def test_lease_seconds_is_checked_and_release_gives_up_only_expired_leases_unforced(
        capsys, tables, source_ddb, target_ddb, tmp_path) -> None:
    src, dst = tables
    _refused(capsys, _run(src, dst, tmp_path, "--lease-seconds", "2"), ConfigError,
             "--lease-seconds: expected a whole number between 5 and 3,600, got 2")
    _refused(capsys, _run(src, dst, tmp_path, "--writers-per-shard", "0"), ConfigError,
             "--writers-per-shard: expected a whole number between 1 and 32, got 0")
    assert not (tmp_path / "ck.json").exists()
    # GIVEN a lease of a run that died more than its lease ago
    stream = source_ddb.describe_table(TableName=src)["Table"]["LatestStreamArn"]
    FileCheckpoints(tmp_path / "ck.json").acquire(stream, "shardId-1", owner="poller@gone:9/x",
                                                  now=datetime.now(timezone.utc).timestamp() - 120, duration=60)
    release = ["replicate", "release", "--source-profile", "source", "--source-table", src,
               "--target-profile", "target", "--checkpoint", f"file:{tmp_path / 'ck.json'}"]
    # WHEN it is released THEN no --force is needed, and a second release finds nothing
    assert main(release) == 0
    assert "released shardId-1 (held by poller@gone:9/x)" in capsys.readouterr().out
    assert main(release) == 0 and "no lease held" in capsys.readouterr().out
