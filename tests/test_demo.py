"""The README's first command: the demo migrates a table written meanwhile, verifies, and leaves nothing running.

Run as its own process, as a user runs it: Spark's executors take their environment (the demo
stack's AWS_CONFIG_FILE) from the process that starts Spark.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ddbmigrate.local.stack import Stack

pytestmark = pytest.mark.integration


def test_demo_migrates_verifies_and_stops_its_stack(tmp_path: Path) -> None:
    state, out = tmp_path / "stack", tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "ddbmigrate", "demo", "--items", "40", "--state-dir", str(state), "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    mapping = json.loads((out / "migration" / "mapping.json").read_text())
    assert {"pk", "sk", "`dotted.name`", "Case", "case"} <= {rule[2] for rule in mapping["mappings"]}
    report = json.loads((out / "migration" / "report.json").read_text())
    load = report["counts"]["load"]
    # everything the export holds, whatever the demo's writer had deleted or added before it was taken
    assert load["read"] == load["written"] == report["counts"]["exported"] > 0 and load["dead_lettered"] == 0
    assert report["verify"]["identical"] and "identical" in run.stdout
    assert report["counts"]["replicated"]["applied"] > 0  # the writer's changes came through the stream
    assert Stack.load(state) is None  # down removed the state: nothing left running
