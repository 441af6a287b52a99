"""``ddbmigrate run``: the job scripts on the local runtime, driven from the command line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from tables import put_all

from ddbmigrate.cli.main import main
from ddbmigrate.cli.run import job_script
from ddbmigrate.errors import ConfigError
from ddbmigrate.export import emulate_export, open_export
from ddbmigrate.mapping import build_mapping, save_mapping
from ddbmigrate.sample import create_sample_table, sample_items
from ddbmigrate.schema import crawl

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def _count(client: Any, table: str) -> int:
    return int(client.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"])


@pytest.fixture
def source_table(source_ddb, unique_name) -> str:
    name = unique_name("run-src")
    create_sample_table(source_ddb, name)
    put_all(source_ddb, name, sample_items(40))
    return name


def test_table_copy_runs_the_glue_script_and_exits_zero_when_everything_arrived(
    spark, source_table, target_ddb, unique_name, tmp_path: Path, capsys,
) -> None:
    target_table = unique_name("run-dst")
    create_sample_table(target_ddb, target_table)

    code = main(["run", "table-copy", "--source-profile", "source", "--source-table", source_table,
                 "--target-profile", "target", "--target-table", target_table, "--splits", "2",
                 "--read-percent", "1.0", "--write-percent", "1.0", "--dead-letter", str(tmp_path / "dl")])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "read=40 written=40 dead_lettered=0" in out and "reconciles: read 40 = written 40 + dead-lettered 0: yes" in out
    assert _count(target_ddb, target_table) == 40
    assert spark.range(3).count() == 3  # the caller's session is still running


def test_export_import_runs_the_glue_script_and_a_bad_option_is_one_line_naming_it(
    spark, source, source_table, target_ddb, s3, bucket, unique_name, tmp_path: Path, capsys,
) -> None:
    uri = emulate_export(source, source_table, s3, bucket, "run")
    save_mapping(build_mapping(crawl(open_export(uri, s3))), tmp_path / "m.json")
    target_table = unique_name("run-imp")
    create_sample_table(target_ddb, target_table)
    common = ["run", "export-import", "--export", uri, "--mapping", str(tmp_path / "m.json"),
              "--target-profile", "target", "--target-table", target_table, "--dead-letter", str(tmp_path / "dl")]

    assert main([*common, "--write-percent", "1.0", "--requests-in-flight", "3", "--apply-mapping", "always"]) == 0
    out = capsys.readouterr().out
    assert "read=40 written=40 dead_lettered=0" in out and "mapping applied: applymapping" in out
    assert _count(target_ddb, target_table) == 40

    assert main([*common, "--write-percent", "2.0"]) == ConfigError.exit_code
    err = capsys.readouterr().err
    assert err.startswith("ddbmigrate: error: --write-percent: 2.0 is outside") and "Traceback" not in err


def test_estimate_prints_time_and_cost_without_running(source_table, target_ddb, unique_name, capsys) -> None:
    target_table = unique_name("run-est")
    create_sample_table(target_ddb, target_table, provisioned_wcu=100)

    code = main(["run", "table-copy", "--source-profile", "source", "--source-table", source_table,
                 "--target-profile", "target", "--target-table", target_table, "--estimate", "--workers", "3"])

    out = capsys.readouterr().out
    assert code == 0
    assert "table-copy estimate" in out and "write budget" in out and "50 WCU/s = floor(100 × 0.5)" in out
    assert "3 × G.1X" in out and "Glue cost" in out
    assert _count(target_ddb, target_table) == 0  # nothing was written


def test_a_missing_job_script_names_the_folder(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DDBMIGRATE_JOBS_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=rf"{tmp_path}/table_copy.py does not exist.*DDBMIGRATE_JOBS_DIR"):
        job_script("table-copy")


def test_the_progress_bar_follows_the_spark_tasks(spark) -> None:
    import io
    import time

    from rich.console import Console

    from ddbmigrate.cli.run import spark_progress

    screen = io.StringIO()
    with spark_progress(spark.sparkContext, Console(file=screen, force_terminal=True, color_system=None, width=120), interval=0.05):
        spark.sparkContext.parallelize(range(4), 4).map(lambda x: time.sleep(0.4) or x).count()
    shown = screen.getvalue()
    assert re.search(r"stage \d+ \(count\)", shown) and "4/4 tasks" in shown, shown[-500:]


def test_spark_submit_runs_the_export_import_script_as_it_is(
    source, source_table, target_ddb, s3, bucket, unique_name, tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys

    uri = emulate_export(source, source_table, s3, bucket, "submit")
    save_mapping(build_mapping(crawl(open_export(uri, s3))), tmp_path / "m.json")
    target_table = unique_name("submit")
    create_sample_table(target_ddb, target_table)
    spark_submit = Path(sys.executable).parent / "spark-submit"

    done = subprocess.run(
        [str(spark_submit), "--master", "local[2]", "--conf", "spark.ui.enabled=false", str(job_script("export-import")),
         "--JOB_NAME", "submitted", "--export_uri", uri, "--mapping", str(tmp_path / "m.json"),
         "--target_table", target_table, "--target_profile", "target", "--dead_letter", str(tmp_path / "dl")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYSPARK_PYTHON": sys.executable}, cwd=tmp_path,
    )

    problems = [line for line in done.stderr.splitlines() if " INFO " not in line]
    assert done.returncode == 0, (done.stdout[-1000:], problems[-40:])
    assert "read=40 written=40 dead_lettered=0" in done.stdout
    assert _count(target_ddb, target_table) == 40
