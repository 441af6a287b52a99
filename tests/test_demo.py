"""The README's first command: the demo runs on its own stack and leaves nothing running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ddbmigrate.cli.main import main
from ddbmigrate.local.stack import Stack

pytestmark = pytest.mark.integration


def test_demo_exports_crawls_and_maps_then_stops_its_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state, out = tmp_path / "stack", tmp_path / "out"
    assert main(["demo", "--items", "40", "--state-dir", str(state), "--out", str(out)]) == 0
    mapping = json.loads((out / "ddbmigrate-demo-orders.json").read_text())
    targets = {rule[2] for rule in mapping["mappings"]}
    assert {"pk", "sk", "`dotted.name`", "Case", "case"} <= targets
    assert "40 items" in capsys.readouterr().out
    assert Stack.load(state) is None  # down removed the state: nothing left running
