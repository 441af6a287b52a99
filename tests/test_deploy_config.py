"""glue_jobs.yaml: the repository's file, placeholders, and broken files failing with the key named."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from ddbmigrate.deploy.config import (
    load_config,
    normalize_argument_value,
    parse_vars,
    read_required_arguments,
    resolve_placeholders,
)
from ddbmigrate.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
VARS = {"ARTIFACT_BUCKET": "artifacts", "GLUE_ROLE_ARN": "arn:aws:iam::444455556666:role/ddbmigrate-glue"}
EXPORT_URI = "s3://exports/orders/AWSDynamoDB/01692350182719-6de2c037/"

# The argument names the job scripts read (issue #7); glue_jobs.yaml must use exactly these.
EXPORT_IMPORT_ARGS = {"--export_uri", "--mapping", "--target_table", "--target_region", "--target_role_arn",
                      "--target_external_id", "--write_percent", "--write_capacity", "--parallel_tasks",
                      "--dead_letter"}
TABLE_COPY_ARGS = (EXPORT_IMPORT_ARGS - {"--export_uri"}) | {
    "--source_table", "--source_region", "--source_role_arn", "--source_external_id", "--read_percent",
    "--read_capacity", "--splits"}
GLUE_ARGS = {"--enable-metrics", "--enable-continuous-cloudwatch-log"}


def write_config(tmp_path: Path, body: str, *, scripts: tuple[str, ...] = ("jobs/a.py",)) -> Path:
    for script in scripts:
        (tmp_path / script).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / script).write_text("print('job')\n")
    path = tmp_path / "glue_jobs.yaml"
    path.write_text(textwrap.dedent(body))
    return path


MINIMAL = textwrap.dedent("""\
    artifacts: {location: s3://art/p/}
    defaults: {glue_version: "5.0", role: glue-role, worker_type: G.1X, number_of_workers: 4}
    jobs:
      export-import:
        script: jobs/a.py
        arguments: {--write_percent: 0.5}
""")


def broken(tmp_path: Path, old: str, new: str) -> str:
    path = write_config(tmp_path, MINIMAL.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    return str(info.value)


# --------------------------------------------------------------------------- the repository's file


def test_the_repository_file_declares_both_jobs_and_the_crawler_with_the_scripts_argument_names() -> None:
    config = load_config(REPO / "glue_jobs.yaml", {**VARS, "EXPORT_URI": EXPORT_URI, "TABLE": "orders",
                                                   "TARGET_TABLE": "Orders", "SOURCE_TABLE": "Orders",
                                                   "SOURCE_REGION": "eu-west-1", "TARGET_REGION": "us-east-1",
                                                   "TARGET_ROLE_ARN": "arn:aws:iam::1:role/t",
                                                   "TARGET_EXTERNAL_ID": "x", "SOURCE_ROLE_ARN": "arn:aws:iam::2:role/s",
                                                   "SOURCE_EXTERNAL_ID": "y", "WRITE_CAPACITY": "1000",
                                                   "PARALLEL_TASKS": "8", "READ_CAPACITY": "500", "SPLITS": "16"},
                         environ={}, check_files=False)
    export_import, table_copy = config.jobs["ddbmigrate-export-import"], config.jobs["ddbmigrate-table-copy"]
    assert export_import.script == REPO / "jobs" / "export_import.py"
    assert table_copy.script == REPO / "jobs" / "table_copy.py"
    # --mapping comes from the `mapping:` key (a file deploy uploads), so it is not among the arguments
    assert set(export_import.arguments) == (EXPORT_IMPORT_ARGS - {"--mapping"}) | GLUE_ARGS
    assert set(table_copy.arguments) == (TABLE_COPY_ARGS - {"--mapping"}) | GLUE_ARGS
    assert export_import.arguments["--write_percent"] == "0.5" and table_copy.arguments["--read_percent"] == "0.5"
    assert export_import.required_arguments == ("--export_uri", "--mapping", "--target_table")  # the script's declaration
    assert (export_import.glue_version, export_import.worker_type, export_import.number_of_workers) == ("5.0", "G.1X", 10)
    assert export_import.role == VARS["GLUE_ROLE_ARN"] and export_import.temp_dir == "s3://artifacts/ddbmigrate/temp/"
    assert export_import.tags == {"project": "ddbmigrate", "managed-by": "ddbmigrate-deploy"}
    # the crawler comes from crawlers/export_crawler.yaml, filled with the crawler's variables
    crawler = config.crawlers["orders-export-crawler"]
    assert crawler.key == "export" and crawler.role == VARS["GLUE_ROLE_ARN"] and crawler.database == "ddbmigrate"
    assert [t.path for t in crawler.s3_targets] == [f"{EXPORT_URI}data/"]
    assert crawler.table_prefix == "orders_export_"
    assert crawler.classifier == {"JsonClassifier": {"Name": "ddbmigrate-dynamodb-export-json", "JsonPath": "$"}}
    assert crawler.classifiers == ("ddbmigrate-dynamodb-export-json",)
    assert crawler.tags == {"app": "ddbmigrate", "project": "ddbmigrate", "managed-by": "ddbmigrate-deploy"}
    assert json.loads(crawler.configuration or "")["Version"] == 1.0
    assert str(config.artifacts) == "s3://artifacts/ddbmigrate/"


def test_the_repository_file_needs_two_variables_and_drops_unset_optional_arguments() -> None:
    config = load_config(REPO / "glue_jobs.yaml", VARS, environ={}, check_files=False)
    job = config.jobs["ddbmigrate-export-import"]
    assert "--export_uri" not in job.arguments and "--target_role_arn" not in job.arguments
    assert job.mapping is None
    assert config.crawlers == {}  # no EXPORT_URI: the crawler is not deployed (nor touched)
    with pytest.raises(ConfigError, match=r"defaults\.role: \$\{GLUE_ROLE_ARN\} is not set"):
        load_config(REPO / "glue_jobs.yaml", {"ARTIFACT_BUCKET": "a-b-c"}, environ={}, check_files=False)
    with pytest.raises(ConfigError, match=r"crawlers\.export\.variables\.table: empty"):
        load_config(REPO / "glue_jobs.yaml", {**VARS, "EXPORT_URI": EXPORT_URI}, environ={}, check_files=False)


def test_the_repository_file_points_at_scripts_that_exist() -> None:
    config = load_config(REPO / "glue_jobs.yaml", VARS, environ={})  # check_files: every script must exist
    assert {job.script.name for job in config.jobs.values()} == {"export_import.py", "table_copy.py"}


# --------------------------------------------------------------------------- placeholders


def test_placeholders_from_vars_then_environment_with_defaults_and_escapes() -> None:
    tree = {"a": "${X}", "b": ["${Y:-dflt}", "pre-${X}-post"], "c": 5, "d": "$${NOT}", "e": "$$", "${X}": "keys stay"}
    resolved = resolve_placeholders(tree, {"X": "1", "Y": ""})
    assert resolved == {"a": "1", "b": ["", "pre-1-post"], "c": 5, "d": "${NOT}", "e": "$", "${X}": "keys stay"}
    assert resolve_placeholders({"b": "${Y:-dflt}"}, {}) == {"b": "dflt"}
    with pytest.raises(ConfigError) as info:
        resolve_placeholders({"jobs": {"x": {"role": "${ROLE}"}}}, {})
    assert str(info.value).startswith("jobs.x.role: ${ROLE} is not set; pass --var ROLE=VALUE or set the environment")


def test_vars_win_over_the_environment(tmp_path: Path) -> None:
    path = write_config(tmp_path, MINIMAL.replace("glue-role", '"${ROLE}"'))
    assert load_config(path, {"ROLE": "from-var"}, environ={"ROLE": "from-env"}).jobs["export-import"].role == "from-var"
    assert load_config(path, environ={"ROLE": "from-env"}).jobs["export-import"].role == "from-env"


def test_parse_vars() -> None:
    assert parse_vars(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(ConfigError, match="--var: 'nope' is not NAME=VALUE"):
        parse_vars(["nope"])
    with pytest.raises(ConfigError, match="--var: '1X=2' is not NAME=VALUE"):
        parse_vars(["1X=2"])


# --------------------------------------------------------------------------- broken files


def test_unknown_worker_type_names_the_key_and_the_allowed_values(tmp_path: Path) -> None:
    message = broken(tmp_path, "  export-import:\n    script", "  export-import:\n    worker_type: G.3X\n    script")
    assert "jobs.export-import.worker_type: 'G.3X' is not a Glue worker type; expected one of G.1X, G.2X, G.4X, G.8X, G.12X, G.16X, R.1X, R.2X, R.4X, R.8X" in message


def test_write_percent_out_of_range_names_the_argument(tmp_path: Path) -> None:
    message = broken(tmp_path, "--write_percent: 0.5", "--write_percent: 2.0")
    assert "jobs.export-import.arguments.--write_percent: 2.0 is outside Glue's range 0.1–1.5" in message
    message = broken(tmp_path, "--write_percent: 0.5", "--write_percent: fast")
    assert "--write_percent: expected a number between 0.1 and 1.5, got 'fast'" in message


def test_missing_script_names_the_key_and_the_folder(tmp_path: Path) -> None:
    message = broken(tmp_path, "script: jobs/a.py", "script: jobs/missing.py")
    assert f"jobs.export-import.script: jobs/missing.py does not exist (paths are relative to {tmp_path})" in message
    message = broken(tmp_path, "    script: jobs/a.py\n", "")
    assert "jobs.export-import.script: required (in the job or under defaults), but missing" in message


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("worker_type: G.1X, number_of_workers: 4", "worker_type: G.1X, number_of_workers: 1",
     "defaults.number_of_workers: Input should be greater than or equal to 2"),
    ('glue_version: "5.0"', 'glue_version: "4.0"', "defaults.glue_version: '4.0' is not supported; expected one of 5.0"),
    ("script: jobs/a.py", "script: jobs/a.py\n    wroker_type: G.2X",
     "jobs.export-import.wroker_type: unknown key; allowed: script, description, glue_version, worker_type"),
    ("script: jobs/a.py", "script: jobs/a.py\n    timeout_minutes: 20000",
     "jobs.export-import.timeout_minutes: Input should be less than or equal to 10080"),
    ("--write_percent: 0.5", "write_percent: 0.5",
     "jobs.export-import.arguments.write_percent: argument names start with '--' as Glue passes them ('--write_percent')"),
    ("--write_percent: 0.5", "--TempDir: s3://x/",
     "jobs.export-import.arguments.--TempDir: deploy sets it from temp_dir"),
    ("--write_percent: 0.5", "--parallel_tasks: zero",
     "jobs.export-import.arguments.--parallel_tasks: expected a whole number, got 'zero'"),
    ("arguments: {--write_percent: 0.5}", "mapping: jobs/a.py\n    arguments: {--mapping: s3://map/x.json}",
     "jobs.export-import.mapping: set either mapping"),
    ("artifacts: {location: s3://art/p/}", "artifacts: {location: art/p}",
     "artifacts.location: 'art/p' is not an S3 URI; expected s3://BUCKET/KEY"),
    ("artifacts: {location: s3://art/p/}", "artifacts: {locaton: s3://art/p/}",
     "artifacts.locaton: unknown key; allowed: location, mappings"),
    ("jobs:", "jbos:", "jbos: unknown key; allowed: version, artifacts, defaults, jobs, crawlers"),
    ("  export-import:", "  'bad name':", "jobs.bad name: job names are 1–255 letters"),
    ("script: jobs/a.py", "script: ../outside.py", "does not exist"),
])
def test_broken_files_name_the_key(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert expected in broken(tmp_path, old, new)


def test_errors_start_with_the_file_name(tmp_path: Path) -> None:
    message = broken(tmp_path, "worker_type: G.1X,", "worker_type: G.9X,")
    assert message.startswith(f"{tmp_path / 'glue_jobs.yaml'}: defaults.worker_type: 'G.9X'")
    with pytest.raises(ConfigError, match=r"--config: .*nothere.yaml does not exist"):
        load_config(tmp_path / "nothere.yaml")
    (tmp_path / "bad.yaml").write_text("jobs: [unclosed")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_config(tmp_path / "bad.yaml")


def test_defaults_merge_and_values_become_glue_strings(tmp_path: Path) -> None:
    path = write_config(tmp_path, """\
        artifacts: {location: s3://art/p/}
        defaults:
          glue_version: 5.0
          role: r
          worker_type: G.1X
          number_of_workers: 4
          tags: {team: data, env: dev}
          arguments: {--flag: true, --ratio: 0.25, --count: 3, --gone: "", --null: ~}
        jobs:
          j:
            script: jobs/a.py
            worker_type: G.2X
            tags: {env: prod}
            arguments: {--count: 5}
    """)
    job = load_config(path, environ={}).jobs["j"]
    assert (job.glue_version, job.worker_type, job.number_of_workers) == ("5.0", "G.2X", 4)
    assert job.tags == {"team": "data", "env": "prod"}
    assert job.arguments == {"--flag": "true", "--ratio": "0.25", "--count": "5"}
    assert (job.timeout_minutes, job.max_concurrent_runs, job.max_retries) == (2880, 1, 0)
    assert [normalize_argument_value(v) for v in (False, 10, 1.5, "x", None)] == ["false", "10", "1.5", "x", ""]


# --------------------------------------------------------------------------- crawlers


def test_crawler_from_a_create_crawler_definition_file_with_overrides(tmp_path: Path) -> None:
    (tmp_path / "crawlers").mkdir()
    (tmp_path / "crawlers" / "export_crawler.yaml").write_text(textwrap.dedent("""\
        Name: ${DB:-exports}-crawler
        Role: file-role
        DatabaseName: ${DB:-exports}
        Targets:
          S3Targets:
            - Path: s3://exp/p/AWSDynamoDB/
              Exclusions: ["**/_started"]
        TablePrefix: ddb_
        SchemaChangePolicy: {UpdateBehavior: LOG, DeleteBehavior: LOG}
        RecrawlPolicy: {RecrawlBehavior: CRAWL_NEW_FOLDERS_ONLY}
        Configuration: '{"Version": 1.0}'
    """))
    path = write_config(tmp_path, MINIMAL + textwrap.dedent("""\
        crawlers:
          c:
            definition: crawlers/export_crawler.yaml
            role: override-role
            schedule: cron(0 3 * * ? *)
    """))
    crawler = load_config(path, environ={}).crawlers["exports-crawler"]  # named by the file's Name
    assert crawler.key == "c"
    assert (crawler.role, crawler.database, crawler.table_prefix) == ("override-role", "exports", "ddb_")
    assert crawler.s3_targets[0].path == "s3://exp/p/AWSDynamoDB/"
    assert crawler.s3_targets[0].exclusions == ["**/_started"]
    assert (crawler.update_behavior, crawler.recrawl_behavior) == ("LOG", "CRAWL_NEW_FOLDERS_ONLY")
    assert crawler.configuration == '{"Version":1.0}' and crawler.schedule == "cron(0 3 * * ? *)"


@pytest.mark.parametrize(("crawler", "expected"), [
    ("{database: d, s3_targets: [{path: 's3://bkt/p/'}]}", "crawlers.c.role: required"),
    ("{role: r, database: d, s3_targets: [{path: 'b/p'}]}", "crawlers.c.s3_targets.0.path: 'b/p' is not an S3 URI"),
    ("{role: r, database: d, s3_targets: [{path: 's3://bkt/'}], schedule: daily}",
     "crawlers.c.schedule: 'daily' is not a Glue schedule; expected cron(…)"),
    ("{role: r, database: d, s3_targets: [{path: 's3://bkt/'}], schema_change_policy: {delete_behavior: DROP}}",
     "crawlers.c.schema_change_policy.delete_behavior: 'DROP' is not allowed; expected one of LOG, DELETE_FROM_DATABASE"),
    ("{role: r, database: d, s3_targets: [{path: 's3://bkt/'}], definition: crawlers/none.yaml}",
     "crawlers.c.definition: crawlers/none.yaml does not exist"),
])
def test_broken_crawlers_name_the_key(tmp_path: Path, crawler: str, expected: str) -> None:
    path = write_config(tmp_path, MINIMAL + f"crawlers:\n  c: {crawler}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert expected in str(info.value)


def test_crawler_enabled_variables_and_classifier_rules(tmp_path: Path) -> None:
    base = "{role: r, database: d, s3_targets: [{path: 's3://bkt/p/'}]"
    for enabled in ("''", "false", "no", "0"):
        path = write_config(tmp_path, MINIMAL + f"crawlers:\n  c: {base}, enabled: {enabled}}}\n")
        assert load_config(path, environ={}).crawlers == {}
    path = write_config(tmp_path, MINIMAL + f"crawlers:\n  c: {base}, enabled: yes-please, name: other}}\n")
    assert list(load_config(path, environ={}).crawlers) == ["other"]
    path = write_config(tmp_path, MINIMAL + f"crawlers:\n  c: {base}, variables: {{a: b}}}}\n")
    with pytest.raises(ConfigError, match=r"crawlers\.c\.variables: only used to fill a definition file"):
        load_config(path, environ={})
    classifier = "classifier: {JsonClassifier: {Name: j, JsonPath: $}}"
    path = write_config(tmp_path, MINIMAL + f"crawlers:\n  c: {base}, {classifier}}}\n")
    with pytest.raises(ConfigError, match=r"crawlers\.c\.classifiers: the crawler's classifier 'j' is defined but not used"):
        load_config(path, environ={})
    path = write_config(tmp_path, MINIMAL + f"crawlers:\n  c: {base}, classifier: {{Json: {{Name: j}}}}}}\n")
    with pytest.raises(ConfigError, match=r"crawlers\.c\.classifier: expected a CreateClassifier request"):
        load_config(path, environ={})


def test_the_repository_crawler_definition_needs_its_variables(tmp_path: Path) -> None:
    (tmp_path / "crawlers").mkdir()
    (tmp_path / "crawlers" / "export_crawler.yaml").write_text((REPO / "crawlers" / "export_crawler.yaml").read_text())
    path = write_config(tmp_path, MINIMAL + textwrap.dedent("""\
        crawlers:
          export:
            definition: crawlers/export_crawler.yaml
            variables: {table: orders, export_folder_uri: "s3://exp/p/AWSDynamoDB/01692350182719-6de2c037/"}
    """))
    with pytest.raises(ConfigError, match=r"crawlers/export_crawler\.yaml\.Crawler\.Role: \$\{crawler_role_arn\} is not set"):
        load_config(path, environ={})
    crawler = load_config(path, {"crawler_role_arn": "r", "glue_database": "g"}, environ={}).crawlers
    assert list(crawler) == ["orders-export-crawler"]


def test_required_arguments_are_read_without_variables(tmp_path: Path) -> None:
    # our jobs list none: their scripts' declarations say what is required (start adds those)
    assert read_required_arguments(REPO / "glue_jobs.yaml", "ddbmigrate-export-import") == ()
    config = tmp_path / "glue_jobs.yaml"
    config.write_text("defaults: {required_arguments: [--a]}\njobs:\n  j: {required_arguments: [--b, '${X}']}\n  k: {}\n")
    assert read_required_arguments(config, "j") == ("--b", "${X}") and read_required_arguments(config, "k") == ("--a",)
    assert read_required_arguments(REPO / "glue_jobs.yaml", "someone-elses-job") is None
    assert read_required_arguments(tmp_path / "absent.yaml", "x") is None
