"""Checkpoints and leases, in both stores: the DynamoDB table (DynamoDB Local, target account) and the file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ddbmigrate.errors import ConfigError, ReplicationError
from ddbmigrate.replicate.checkpoints import (
    STREAM_WIDE,
    Checkpoint,
    FileCheckpoints,
    TableCheckpoints,
    open_checkpoints,
    release_leases,
    renew,
)

ARN = "arn:aws:dynamodb:us-east-1:111122223333:table/orders/stream/2024-01-01T00:00:00.000"


@pytest.fixture(params=["table", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path, unique_name: Callable[[str], str]) -> Any:
    if request.param == "file":
        return FileCheckpoints(tmp_path / "checkpoints.json")
    target = request.getfixturevalue("target")
    return TableCheckpoints(target, unique_name("ckpt"))


def test_checkpoint_round_trips_and_never_moves_back(store: Any) -> None:
    assert store.checkpoints(ARN) == {}
    store.save(Checkpoint(ARN, "shard-1", "900000000000000000002"))
    store.save(Checkpoint(ARN, "shard-1", "1000000000000000000001"))  # longer is larger: compared as numbers
    store.save(Checkpoint(ARN, "shard-1", "1000000000000000000001"))  # the same again (a replay) is fine
    with pytest.raises(ReplicationError, match=r"shard shard-1: checkpoint 900000000000000000003 would move back"):
        store.save(Checkpoint(ARN, "shard-1", "900000000000000000003"))
    store.save(Checkpoint(ARN, "shard-2", None, finished=True))
    assert store.checkpoints(ARN) == {
        "shard-1": Checkpoint(ARN, "shard-1", "1000000000000000000001"),
        "shard-2": Checkpoint(ARN, "shard-2", None, finished=True),
    }
    with pytest.raises(ReplicationError, match="would move back"):
        store.save(Checkpoint(ARN, "shard-2", None, finished=False))


def test_lease_refused_to_a_second_owner_until_it_expires(store: Any) -> None:
    lease = store.acquire(ARN, "shard-1", owner="poller-a", now=1000.0, duration=60)
    assert lease.expires == 1060.0
    with pytest.raises(ReplicationError, match=r"shard shard-1 is leased by poller-a until 1970-01-01T00:17:40"):
        store.acquire(ARN, "shard-1", owner="poller-b", now=1030.0, duration=60)
    store.acquire(ARN, "shard-2", owner="poller-b", now=1030.0)  # another shard is free
    lease = renew(store, lease, now=1050.0, duration=60)
    with pytest.raises(ReplicationError, match="leased by poller-a"):
        store.acquire(ARN, "shard-1", owner="poller-b", now=1100.0)
    taken = store.acquire(ARN, "shard-1", owner="poller-b", now=1111.0)  # expired: taken over
    assert taken.owner == "poller-b"
    with pytest.raises(ReplicationError, match="leased by poller-b"):
        renew(store, lease, now=1112.0)
    # the old owner may no longer record progress; the new one may
    with pytest.raises(ReplicationError, match="the lease of poller-a passed to poller-b"):
        store.save(Checkpoint(ARN, "shard-1", "5"), owner="poller-a")
    store.save(Checkpoint(ARN, "shard-1", "5"), owner="poller-b")
    store.release(lease)  # not the holder: nothing happens
    with pytest.raises(ReplicationError, match="leased by poller-b"):
        store.acquire(ARN, "shard-1", owner="poller-c", now=1113.0)
    store.release(taken)
    store.acquire(ARN, "shard-1", owner="poller-c", now=1113.0)


def test_stream_wide_lease_excludes_shard_leases_both_ways(store: Any) -> None:
    store.acquire(ARN, "shard-1", owner="poller-a", now=1000.0, duration=60)
    with pytest.raises(ReplicationError, match="shard shard-1 is leased by poller-a"):
        store.acquire(ARN, STREAM_WIDE, owner="lambda", now=1000.0)
    lam = store.acquire(ARN, STREAM_WIDE, owner="lambda", now=1061.0, duration=60)
    with pytest.raises(ReplicationError, match="the whole stream is leased by lambda"):
        store.acquire(ARN, "shard-9", owner="poller-a", now=1062.0)
    store.release(lam)
    store.acquire(ARN, "shard-9", owner="poller-a", now=1062.0)
    assert store.checkpoints(ARN) == {}  # leases are not checkpoints


def test_a_dead_runs_leases_are_given_up_fresh_ones_only_when_forced(store: Any) -> None:
    # GIVEN a killed run's leases: one still fresh, one expired, and its checkpoint
    store.save(Checkpoint(ARN, "shard-1", "100000000000000000001"))
    store.acquire(ARN, "shard-1", owner="poller@dead:1/a", now=1000.0, duration=60)
    store.acquire(ARN, "shard-2", owner="poller@dead:1/a", now=900.0, duration=60)
    # WHEN they are given up without force THEN the fresh one refuses it (that run may be alive), nothing changes
    with pytest.raises(ReplicationError, match=r"shard shard-1 is leased by poller@dead:1/a until .* \(60s from now\), "
                                               r"1 lease\(s\) still fresh: if that run is dead, give them up with --force"):
        release_leases(store, ARN, now=1000.0)
    assert {lease.shard_id for lease in store.leases(ARN)} == {"shard-1", "shard-2"}
    # WHEN forced THEN both are gone, a restart takes the shard at once, and the checkpoint stays
    assert {lease.shard_id for lease in release_leases(store, ARN, now=1000.0, force=True)} == {"shard-1", "shard-2"}
    assert store.leases(ARN) == []
    store.acquire(ARN, "shard-1", owner="poller@new:2/b", now=1001.0, duration=60)
    assert store.checkpoints(ARN)["shard-1"].sequence_number == "100000000000000000001"
    # AND expired leases need no force
    assert [lease.owner for lease in release_leases(store, ARN, now=1062.0)] == ["poller@new:2/b"]
    assert release_leases(store, ARN, now=1062.0) == []


def test_table_store_is_created_on_demand(target: Any, target_ddb: Any, unique_name: Callable[[str], str]) -> None:
    name = unique_name("ckpt")
    store = open_checkpoints(f"table:{name}", target)
    store.save(Checkpoint(ARN, "shard-1", "7"))
    table = target_ddb.describe_table(TableName=name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert open_checkpoints(f"table:{name}", target).checkpoints(ARN) == {"shard-1": Checkpoint(ARN, "shard-1", "7")}


def test_file_store_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ck.json"
    store = open_checkpoints(f"file:{path}", None)  # type: ignore[arg-type]
    store.save(Checkpoint(ARN, "shard-1", "7"))
    assert json.loads(path.read_text())["streams"][ARN]["shard-1"] == {"finished": False, "sequence": "7"}
    assert [p.name for p in path.parent.iterdir() if p.suffix == ".tmp"] == []


def test_checkpoint_spec_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"--checkpoint: expected table:NAME or file:PATH, got 'dynamo:x'"):
        open_checkpoints("dynamo:x", None)  # type: ignore[arg-type]
