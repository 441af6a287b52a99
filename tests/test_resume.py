"""Kill tests, done for real: a job run as its own process is SIGKILLed mid-load and run again with
the same ``--run-id``; the target ends equal to the source and the counts reconcile over both runs.

The killed run is ``python -m ddbmigrate run …`` in a new process group (its Spark JVM included) on
the local stack, its writes held to a small WCU budget so the kill lands mid-load; the group is
killed by its id once the run state shows the first finished unit (a data file, an acknowledged
page). The resumed run is the same command in this process, on the tests' shared SparkSession.
A resume against another export, mapping or table is refused before anything is written.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tables import put_all

from ddbmigrate.cli.main import main
from ddbmigrate.digest import item_digest
from ddbmigrate.errors import ConfigError
from ddbmigrate.export import emulate_export, open_export
from ddbmigrate.mapping import MappingFile, build_mapping, save_mapping
from ddbmigrate.sample import create_sample_table, sample_items
from ddbmigrate.schema import crawl

pytestmark = [pytest.mark.integration, pytest.mark.spark]

ITEMS = 160
FILES = 8


def _start(arguments: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "ddbmigrate", "run", *arguments], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def _kill_when(process: subprocess.Popen[bytes], ready: Any, log: Path, *, timeout: float = 120) -> None:
    """SIGKILL the process group we started as soon as ``ready()``; fail if the run ended first."""
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            if process.poll() is not None:
                pytest.fail(f"the run ended before it could be killed:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"nothing recorded after {timeout}s:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
    finally:
        _kill_session(process.pid)
        process.wait(timeout=60)
        _wait_until_gone(process.pid)


def _session(sid: int) -> list[int]:
    """Live processes of the session ``sid`` (proc(5) stat: state, ppid, pgrp, session; zombies are dead).

    By session, not process group: pyspark's daemon puts itself and the Python workers it forks in a
    group of their own (``os.setpgid(0, 0)``), so a group kill missed them and a worker recorded one
    more page after the driver died (CI caught it twice)."""
    alive = []
    for entry in os.listdir("/proc"):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # not a process, or gone meanwhile
        if int(fields[3]) == sid and fields[0] != "Z":
            alive.append(int(entry))
    return alive


def _kill_session(sid: int) -> None:
    """SIGKILL every process of the run at once, as a lost machine would: driver, JVM, Python workers."""
    for pid in _session(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _wait_until_gone(sid: int, timeout: float = 60) -> None:
    """Wait until no process of the killed run's session remains: the state read after the kill must
    be what the resumed run finds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not (alive := _session(sid)):
            return
        _kill_session(sid)  # a process forked between the kill and now
        time.sleep(0.05)
    pytest.fail(f"processes {alive} of the killed run's session {sid} still alive after {timeout}s")


def _finish(arguments: list[str], capsys: Any) -> str:
    capsys.readouterr()
    code = main(["run", *arguments])
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    return out


def _items(client: Any, table: str) -> list[bytes]:
    """Every item's digest (DynamoDB's semantics: sets unordered, numbers by value), sorted."""
    pages = client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    return sorted(item_digest(item) for page in pages for item in page["Items"])


def _records(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


@pytest.fixture(scope="module")
def source_table(source_ddb: Any) -> str:
    name = f"resume-src-{os.getpid()}"
    create_sample_table(source_ddb, name)
    put_all(source_ddb, name, sample_items(ITEMS))
    return name


def test_a_killed_import_resumes_skipping_done_files_and_the_counts_reconcile_over_both_runs(
    spark, source, source_ddb, source_table, target_ddb, s3, bucket, s3_recorder, unique_name, tmp_path: Path, capsys,
) -> None:
    uri = emulate_export(source, source_table, s3, bucket, "resume", data_files=FILES)
    save_mapping(build_mapping(crawl(open_export(uri, s3))), tmp_path / "m.json")
    target_table = unique_name("resume-imp")
    create_sample_table(target_ddb, target_table, provisioned_wcu=16)  # 16 items/s in all: ~10 s of writing
    state = tmp_path / "state"
    arguments = ["export-import", "--export", uri, "--mapping", str(tmp_path / "m.json"),
                 "--target-profile", s3_recorder.account.profile, "--target-table", target_table,
                 "--write-percent", "1.0", "--dead-letter", str(tmp_path / "dl"),
                 "--run-id", "orders-1", "--run-state", str(state)]
    files = state / "orders-1" / "files"

    _kill_when(_start(arguments, tmp_path / "first.log"), lambda: bool(_records(files)), tmp_path / "first.log")
    done = {r["key"]: r for r in _records(files)}
    assert 0 < len(done) < FILES
    assert all(r["read"] == r["written"] + r["dead_lettered"] > 0 for r in done.values())
    s3_recorder.recorder.reset()

    out = _finish([*arguments, "--write-capacity", "2000"], capsys)  # the budget is not what the run is about

    assert f"read={ITEMS} written={ITEMS} dead_lettered=0" in out
    assert f"{len(done)} of {FILES} data file(s) done by an earlier run, skipped; {FILES} of {FILES} recorded" in out
    assert "each read = written + dead-lettered: yes" in out
    assert _items(target_ddb, target_table) == _items(source_ddb, source_table)
    export = open_export(uri, s3)
    for data_file in export.data_files:  # a done file is not read again; the others are
        gets = s3_recorder.recorder.count("GET", f"/{bucket}/{data_file.key}")
        assert (gets == 0) if data_file.key in done else (gets >= 1), (data_file.key, gets)
    records = {r["key"]: r for r in _records(files)}
    assert sum(r["read"] for r in records.values()) == ITEMS and all(r == done[k] for k, r in done.items() if k in records)


def test_a_killed_table_copy_resumes_each_segment_after_its_last_acknowledged_page(
    spark, source_ddb, source_table, target_ddb, unique_name, tmp_path: Path, capsys,
) -> None:
    target_table = unique_name("resume-copy")
    create_sample_table(target_ddb, target_table, provisioned_wcu=16)
    state = tmp_path / "state"
    arguments = ["table-copy", "--source-profile", "source", "--source-table", source_table,
                 "--target-profile", "target", "--target-table", target_table, "--splits", "4",
                 "--read-capacity", "4", "--read-percent", "1.0", "--write-percent", "1.0",
                 "--dead-letter", str(tmp_path / "dl"), "--run-id", "copy-1", "--run-state", str(state)]
    segments = state / "copy-1" / "segments"

    def a_page_acknowledged() -> bool:
        return any(r["last_key"] for r in _records(segments))

    _kill_when(_start(arguments, tmp_path / "first.log"), a_page_acknowledged, tmp_path / "first.log")
    before = {r["segment"]: r for r in _records(segments)}
    assert not all(r["done"] for r in before.values()) or len(before) < 4

    out = _finish([*arguments, "--read-capacity", "2000", "--write-capacity", "2000"], capsys)

    assert f"read={ITEMS} written={ITEMS} dead_lettered=0" in out, out[-3000:]
    assert "4 of 4 recorded, each read = written + dead-lettered: yes" in out
    assert _items(target_ddb, target_table) == _items(source_ddb, source_table)
    after = {r["segment"]: r for r in _records(segments)}
    assert all(r["done"] and r["read"] == r["written"] for r in after.values()) and len(after) == 4
    this_run = int(out.split("this run read ")[1].split()[0])
    earlier = sum(r["read"] for r in before.values())
    assert earlier > 0 and this_run == ITEMS - earlier  # nothing read twice, nothing skipped


def test_a_resume_against_another_export_mapping_or_table_is_refused_naming_what_differs(
    spark, source, source_table, target_ddb, s3, bucket, unique_name, tmp_path: Path, capsys,
) -> None:
    uri = emulate_export(source, source_table, s3, bucket, "refuse", data_files=2)
    other_uri = emulate_export(source, source_table, s3, bucket, "refuse-other", data_files=2)
    mapping = build_mapping(crawl(open_export(uri, s3)))
    save_mapping(mapping, tmp_path / "m.json")
    save_mapping(MappingFile(mapping.mappings[:-1], mapping.schema), tmp_path / "other.json")  # one rule dropped
    target_table, other_table = unique_name("refuse"), unique_name("refuse-other")
    for name in (target_table, other_table):
        create_sample_table(target_ddb, name)

    def run(export: str, mapping_file: str, table: str) -> int:
        return main(["run", "export-import", "--export", export, "--mapping", str(tmp_path / mapping_file),
                     "--target-profile", "target", "--target-table", table, "--dead-letter", str(tmp_path / "dl"),
                     "--run-id", "r1", "--run-state", str(tmp_path / "state")])

    assert run(uri, "m.json", target_table) == 0
    capsys.readouterr()
    for export, mapping_file, table, what in [(other_uri, "m.json", target_table, "export: "),
                                              (uri, "other.json", target_table, "mapping (sha256"),
                                              (uri, "m.json", other_table, "target table: ")]:
        assert run(export, mapping_file, table) == ConfigError.exit_code
        errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
        assert len(errors) == 1 and "error: --run_id r1: the run state" in errors[0] and what in errors[0], errors
    assert target_ddb.scan(TableName=other_table, Select="COUNT")["Count"] == 0  # refused before writing
