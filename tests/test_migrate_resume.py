"""``migrate`` killed for real (SIGKILL) at a step boundary, in the middle of the load and in the
replicate step — and, in a second test, at every step boundary in turn — then ``--resume``'d: it ends identical, finished steps are not redone, the half-done
import is started over on the table it made, and the counts reconcile across the runs. The
import-table path (emulated) keeps Spark out of the subprocesses, so each run starts in seconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ddbmigrate.local.writer import ChangeWriter
from ddbmigrate.migrate.state import STEPS
from ddbmigrate.sample import create_sample_table, sample_items
from tests.tables import put_all

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class _Migration:
    """A source table with a stream and items, and the ``migrate`` command line that moves it (import-table)."""

    src: str
    dst: str
    folder: Path
    argv: list[str]
    env: dict[str, str]

    @classmethod
    def of(cls, local_stack: Any, source_ddb: Any, bucket: str, unique_name: Callable[[str], str], tmp_path: Path, *,
           items: int) -> _Migration:
        src, dst = unique_name("src"), unique_name("dst")
        create_sample_table(source_ddb, src, stream=True)
        put_all(source_ddb, src, sample_items(items))
        folder = tmp_path / "state"
        argv = [sys.executable, "-m", "ddbmigrate", "migrate", "--source-profile", "source", "--source-table", src,
                "--target-profile", "target", "--target-table", dst, "--path", "import-table", "--bucket", bucket,
                "--state", str(folder)]
        return cls(src, dst, folder, argv, {**os.environ, **local_stack.environ()})


def _state(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "state.json").read_text())
    except (FileNotFoundError, ValueError):
        return {"steps": {}}


def _run_until(argv: list[str], env: dict[str, str], folder: Path, reached: Callable[[dict[str, Any]], bool],
               *, timeout: float = 120) -> subprocess.Popen[bytes]:
    """Start the command and SIGKILL it once ``reached(state)``; the process (already ended if it finished first)."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if reached(_state(folder)):
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait(30)
    return process


def _started(step: str) -> Callable[[dict[str, Any]], bool]:
    return lambda state: bool(state["steps"].get(step, {}).get("started"))


def _ended(step: str) -> Callable[[dict[str, Any]], bool]:
    return lambda state: bool(state["steps"].get(step, {}).get("ended"))


def test_killed_at_a_boundary_mid_load_and_in_replicate_then_resumed_ends_identical_with_reconciled_counts(
        local_stack, source_ddb, target_ddb, bucket, unique_name, tmp_path: Path) -> None:
    # GIVEN a source of 1,500 items with a stream, and a writer changing it through every run
    migration = _Migration.of(local_stack, source_ddb, bucket, unique_name, tmp_path, items=1500)
    src, dst, folder, argv, env = migration.src, migration.dst, migration.folder, migration.argv, migration.env
    writer = ChangeWriter(source_ddb, src, slots=300, pause=0.03)
    writer.start()
    try:
        # WHEN it is killed right after preflight ended (a step boundary)
        first = _run_until(argv, env, folder, _ended("preflight"))
        assert first.returncode == -signal.SIGKILL, first.stderr.read()  # type: ignore[union-attr]
        # (the kill lands a moment after the state said so: the load may already have been started once)
        loads_before = _state(folder)["steps"].get("load", {}).get("runs", 0)
        # and killed again in the middle of the load, once the import has written some items
        def mid_load(state: dict[str, Any]) -> bool:
            return (_started("load")(state) and dst in target_ddb.list_tables()["TableNames"]
                    and target_ddb.scan(TableName=dst, Select="COUNT", Limit=50)["Count"] > 0)

        second = _run_until([*argv, "--resume"], env, folder, mid_load)
        assert second.returncode == -signal.SIGKILL, "the load ended before it was killed: give it more items"
        assert not _ended("load")(_state(folder))
        # and killed once more in the replicate step
        third = _run_until([*argv, "--resume"], env, folder, _started("replicate"))
        assert third.returncode in (-signal.SIGKILL, 0)
        # THEN a last --resume finishes: the writer stops when verify starts
        last = subprocess.Popen([*argv, "--resume"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 180
        while last.poll() is None and not _started("verify")(_state(folder)) and time.monotonic() < deadline:
            time.sleep(0.05)
        changes = writer.finish()
        out, err = last.communicate(timeout=180)
    finally:
        writer.stopped.set()
    assert last.returncode == 0, err.decode()
    assert changes > 100
    state = _state(folder)
    report = json.loads((folder / "report.json").read_text())
    # finished steps were not redone; the killed ones ran again
    runs = {name: step["runs"] for name, step in state["steps"].items()}
    assert runs["plan"] == runs["preflight"] == 1 and runs["load"] == loads_before + 2 and runs["replicate"] in (1, 2)
    # the import started over on the table it had made: every exported item imported, once
    load = report["counts"]["load"]
    assert load["ProcessedItemCount"] == load["ImportedItemCount"] == report["counts"]["exported"] and load["ErrorCount"] == 0
    # every finished replication run reconciles, and the tables are identical
    for counts in state["counts"]["replicate_runs"]:
        assert counts["seen"] == counts["applied"] + counts["skipped"] + counts["superseded"] + counts["dead_lettered"]
    assert report["verify"]["identical"], report["verify"]
    assert b"identical" in out


def test_killed_at_every_step_boundary_in_turn_each_resume_redoes_only_what_the_kill_cut(
        local_stack, source_ddb, target_ddb, bucket, unique_name, tmp_path: Path) -> None:
    # GIVEN a source with a stream, written to until replication has run once
    migration = _Migration.of(local_stack, source_ddb, bucket, unique_name, tmp_path, items=300)
    src, folder, argv, env = migration.src, migration.folder, migration.argv, migration.env
    writer = ChangeWriter(source_ddb, src, slots=100, pause=0.03)
    writer.start()
    changes: int | None = None
    cut: dict[str, int] = {}  # step → how many kills landed while it ran (it runs again once per kill)
    try:
        # WHEN each run is SIGKILLed as soon as the state says the next step ended (plan, preflight, … verify)
        for number, step in enumerate(STEPS[:-1]):
            if _ended(step)(_state(folder)):  # the last kill landed after this boundary too
                continue
            run = _run_until([*argv, "--resume"] if number else argv, env, folder, _ended(step))
            if run.returncode == 0:  # the kill came after the last steps had ended too: nothing was cut
                break
            assert run.returncode == -signal.SIGKILL, run.stderr.read()  # type: ignore[union-attr]
            steps = _state(folder)["steps"]
            assert all(steps[s]["ended"] for s in STEPS[:number + 1])
            for name, record in steps.items():  # the kill lands a moment after the boundary: a step may have begun
                if record.get("started") and not record.get("ended"):
                    cut[name] = cut.get(name, 0) + 1
            if changes is None and steps.get("replicate", {}).get("ended"):
                changes = writer.finish()  # changes after the last catch-up are replayed by verify's own catch-up
        changes = writer.finish() if changes is None else changes
        # THEN a last --resume ends identical
        last = subprocess.run([*argv, "--resume"], env=env, capture_output=True, timeout=300)
    finally:
        writer.stopped.set()
    assert last.returncode == 0, last.stderr.decode()
    assert changes > 50
    state = _state(folder)
    # no finished step ran again; each step cut by a kill ran once more
    assert {name: record["runs"] for name, record in state["steps"].items()} == {name: 1 + cut.get(name, 0) for name in STEPS}
    report = json.loads((folder / "report.json").read_text())
    load = report["counts"]["load"]
    assert load["ProcessedItemCount"] == load["ImportedItemCount"] == report["counts"]["exported"] and load["ErrorCount"] == 0
    for counts in state["counts"]["replicate_runs"]:
        assert counts["seen"] == counts["applied"] + counts["skipped"] + counts["superseded"] + counts["dead_lettered"]
    assert report["verify"]["identical"], report["verify"]
