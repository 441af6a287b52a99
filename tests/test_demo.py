"""The README's first command: the demo runs on its own stack and leaves nothing running."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ddbmigrate.cli.main import main
from ddbmigrate.local.stack import Stack

pytestmark = pytest.mark.integration


def test_demo_migrates_verifies_and_stops_its_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state, out = tmp_path / "stack", tmp_path / "out"
    environ_before = os.environ.get("AWS_CONFIG_FILE")
    assert main(["demo", "--items", "40", "--state-dir", str(state), "--out", str(out)]) == 0
    mapping = json.loads((out / "ddbmigrate-demo-orders.json").read_text())
    targets = {rule[2] for rule in mapping["mappings"]}
    assert {"pk", "sk", "`dotted.name`", "Case", "case"} <= targets
    printed = capsys.readouterr().out
    assert "40 items" in printed
    assert "read 40, written 40, dead-lettered 0" in printed
    assert "identical" in printed
    assert Stack.load(state) is None  # down removed the state: nothing left running
    assert os.environ.get("AWS_CONFIG_FILE") == environ_before  # the caller's stack is untouched
