"""The local stack: two accounts that do not see each other, and a down that leaves nothing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from ddbmigrate.local.stack import Stack, stack_down, stack_up

pytestmark = pytest.mark.integration


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_source_table_is_invisible_to_target(local_stack: Stack, source_ddb, target_ddb, unique_name) -> None:
    # GIVEN a table created with profile "source"
    name = unique_name("acct")
    source_ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    # THEN only the source account lists it
    assert name in source_ddb.list_tables()["TableNames"]
    assert name not in target_ddb.list_tables()["TableNames"]


def test_profiles_reach_their_own_endpoints(local_stack: Stack) -> None:
    session = boto3.Session(profile_name="target")
    assert session.client("dynamodb").meta.endpoint_url == local_stack.target_dynamodb
    assert session.client("s3").meta.endpoint_url == local_stack.s3
    assert boto3.Session(profile_name="source").client("dynamodbstreams").meta.endpoint_url == local_stack.source_dynamodb
    assert boto3.Session(profile_name="source").region_name != session.region_name


def test_cli_up_status_down_leaves_no_process_and_frees_ports(tmp_path: Path) -> None:
    # A second stack, side by side with the session's, through the real console script.
    state = tmp_path / "st"
    cli = [sys.executable, "-m", "ddbmigrate", "local"]
    up = subprocess.run([*cli, "up", "--state-dir", str(state)], capture_output=True, text=True, check=False)
    assert up.returncode == 0, up.stderr
    stack = Stack.load(state)
    assert stack is not None and len(stack.services) == 3
    assert (state / "env").read_text().startswith(f"export AWS_CONFIG_FILE={(state / 'aws_config').resolve()}")
    status = subprocess.run([*cli, "status", "--state-dir", str(state)], capture_output=True, text=True, check=False)
    assert status.returncode == 0 and status.stdout.count("running") == 3

    down = subprocess.run([*cli, "down", "--state-dir", str(state)], capture_output=True, text=True, check=False)
    assert down.returncode == 0 and "stopped 3" in down.stdout
    for service in stack.services.values():
        assert not Path(f"/proc/{service.pid}").exists() or "Z" in Path(f"/proc/{service.pid}/stat").read_text().split(") ")[1][:1]
        assert _port_free(service.port), f"{service.name} still holds port {service.port}"
    assert not (state / "stack.json").exists()


def test_down_never_signals_a_process_it_did_not_start(tmp_path: Path) -> None:
    # GIVEN a state file whose pid now belongs to an unrelated process
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        state = tmp_path / "st"
        state.mkdir()
        Stack(state_dir=state, services={}).save()
        service = {"name": "s3", "pid": bystander.pid, "port": 1, "command": ["moto"], "log": "x"}
        (state / "stack.json").write_text(json.dumps({"services": {"s3": service}}))
        # WHEN down runs THEN the bystander survives
        assert stack_down(state) == []
        assert bystander.poll() is None
    finally:
        bystander.kill()


def test_up_is_idempotent(tmp_path: Path) -> None:
    state = tmp_path / "st"
    first = stack_up(state)
    try:
        again = stack_up(state)
        assert {k: v.pid for k, v in again.services.items()} == {k: v.pid for k, v in first.services.items()}
    finally:
        stack_down(state)


def test_missing_java_is_one_clear_line(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path))  # neither java nor npm on PATH
    result = subprocess.run(
        [sys.executable, "-m", "ddbmigrate", "local", "up", "--state-dir", str(tmp_path / "st")],
        capture_output=True, text=True, env=env, check=False,
    )
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        "ddbmigrate: error: Java 17 or newer is required for DynamoDB Local: install a JDK 17 (e.g. apt-get install openjdk-17-jre-headless)"
    ]
