"""How ``migrate`` chooses its path (pure: descriptions in, path and reasons out) and what the
state file keeps across a kill (a step that started but did not end runs again)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ddbmigrate.accounts import Account
from ddbmigrate.dynamodb import TableDescription
from ddbmigrate.errors import ConfigError
from ddbmigrate.migrate import MigrateOptions, open_state_location
from ddbmigrate.migrate.plan import TargetState, choose_path
from ddbmigrate.migrate.schema import SourceSchema
from ddbmigrate.migrate.state import MigrationState

SOURCE = TableDescription(name="orders", key_schema=({"AttributeName": "pk", "KeyType": "HASH"},),
                          attribute_types={"pk": "S"}, write_capacity=100, size_bytes=1024)
LSI = {"IndexName": "by-x", "KeySchema": [], "Projection": {"ProjectionType": "ALL"}}


def _options(**changes: Any) -> MigrateOptions:
    return MigrateOptions(**{"source": Account(), "source_table": "orders", "target": Account(), "target_table": "orders",
                             "state": "s", **changes})


@pytest.mark.parametrize(("options", "schema", "target", "expected"), [
    ({}, {}, "absent", "table-copy"),
    ({"bucket": "b"}, {}, "absent", "import-table"),
    ({"bucket": "b"}, {"LocalSecondaryIndexes": [LSI]}, "absent", "export-import"),
    ({"bucket": "b", "mapping": "m.json"}, {}, "absent", "export-import"),
    ({"bucket": "b"}, {}, "compatible", "export-import"),
    ({"bucket": "b", "path": "table-copy"}, {}, "absent", "table-copy"),
])
def test_auto_chooses_the_path_and_says_why(options, schema, target, expected) -> None:
    path, reasons = choose_path(_options(**options), SOURCE, SourceSchema(schema), TargetState(target))
    assert path == expected and reasons and all(reasons)


@pytest.mark.parametrize(("schema", "target", "message"), [
    ({}, "compatible", "ImportTable only creates new tables"),
    ({"LocalSecondaryIndexes": [LSI]}, "absent", "has LSIs, which ImportTable cannot create"),
])
def test_import_table_is_refused_where_it_cannot_work(schema, target, message) -> None:
    with pytest.raises(ConfigError, match=message):
        choose_path(_options(bucket="b", path="import-table"), SOURCE, SourceSchema(schema), TargetState(target))


@pytest.mark.parametrize(("options", "message"), [
    ({"path": "export-import"}, "give --bucket"),
    ({"path": "import-table", "bucket": "b", "mapping": "m.json"}, "ImportTable applies no mapping"),
    ({"workers": 4}, "give --on-glue JOB too"),
    ({"on_glue": "import-job"}, "--on-glue import-job: give --state s3://BUCKET/PREFIX"),
    ({"on_glue": "import-job", "state": "s3://b/m", "mapping": "m.json"}, "give --mapping s3://BUCKET/KEY.json"),
    ({"until": "forever"}, "--until: expected one of caught-up, verified"),
])
def test_options_that_cannot_work_together_are_refused_naming_the_option(options, message) -> None:
    with pytest.raises(ConfigError, match=message):
        _options(**options)


def test_the_state_file_round_trips_and_a_started_step_is_not_done(tmp_path: Path) -> None:
    location = open_state_location(str(tmp_path / "state"))
    state = MigrationState("a", "b", path="table-copy", owner="migrate@h:1/x")
    state.step("plan").started, state.step("plan").ended = "2024-05-01T12:00:00+00:00", "2024-05-01T12:00:02+00:00"
    state.step("load").started = "2024-05-01T12:00:03+00:00"
    state.created["cutoff"] = "2024-05-01T12:00:03+00:00"
    location.save(state)
    loaded = location.load()
    assert loaded is not None and loaded.to_json() == state.to_json()
    assert loaded.step("plan").done and loaded.step("plan").seconds() == 2.0 and not loaded.step("load").done
    (tmp_path / "state" / "state.json").write_text('{"version": 1}')
    with pytest.raises(ConfigError, match="not a ddbmigrate migration state file"):
        location.load()
