"""On the local stack: a table with every type → export → crawl → generate → apply → items equal the source's.

Also the crawler definition in crawlers/ against Glue's API shapes (moto's Glue control plane).
"""

from __future__ import annotations

import json
import string
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import botocore.validate
import pytest
import yaml

from ddbmigrate.cli.main import main
from ddbmigrate.digest import describe_differences, item_digest
from ddbmigrate.export import emulate_export, open_export
from ddbmigrate.export.layout import parse_item_line
from ddbmigrate.mapping import load_mapping, row_to_item
from ddbmigrate.sample import create_sample_table, sample_items
from ddbmigrate.schema import attribute_fields, conformance_error, crawl, infer_schema, load_schema
from ddbmigrate.values import Item

pytestmark = pytest.mark.integration

ITEMS = 48
REPO = Path(__file__).resolve().parents[1]


def put_items(client: Any, table: str, items: list[Item]) -> None:
    for start in range(0, len(items), 25):
        pending: dict[str, Any] = {table: [{"PutRequest": {"Item": i}} for i in items[start:start + 25]]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def scan_all(client: Any, table: str) -> list[Item]:
    found: list[Item] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        found += page["Items"]
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def key(item: Item) -> tuple[str, str]:
    return item["pk"]["S"], item["sk"]["N"]


@pytest.fixture(scope="module")
def exported(source: Any, source_ddb: Any, s3: Any) -> Iterator[tuple[str, list[Item]]]:
    """A sample table (every DynamoDB type, odd names, 10-deep maps) exported in 4 data files."""
    table = f"crawl-{uuid.uuid4().hex[:8]}"
    bucket = f"crawl-{uuid.uuid4().hex[:8]}"
    create_sample_table(source_ddb, table)
    put_items(source_ddb, table, list(sample_items(ITEMS)))
    s3.create_bucket(Bucket=bucket)
    uri = emulate_export(source, table, s3, bucket, "exports", data_files=4)
    yield uri, scan_all(source_ddb, table)
    source_ddb.delete_table(TableName=table)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- crawl


def test_crawling_every_file_gives_the_exact_schema(exported: tuple[str, list[Item]], s3: Any) -> None:
    uri, source_items = exported
    export = open_export(uri, s3)
    seen: list[tuple[str, int]] = []
    schema = crawl(export, on_file=lambda f, n: seen.append((f.key, n)))
    assert sum(n for _, n in seen) == ITEMS
    assert {k for k, _ in seen} == {f.key for f in export.data_files if f.item_count}
    assert schema == infer_schema(source_items)


def test_a_sampled_crawl_reads_fewer_files_and_misfits_are_caught(exported: tuple[str, list[Item]], s3: Any) -> None:
    uri, _ = exported
    export = open_export(uri, s3)
    seen: list[str] = []
    schema = crawl(export, sample_files=1, on_file=lambda f, _n: seen.append(f.key))
    assert len(seen) == 1
    full = crawl(export)
    assert {f["name"] for f in attribute_fields(schema)} <= {f["name"] for f in attribute_fields(full)}
    for data_file in export.data_files:
        for _number, item in export.iter_items(data_file):
            problem = conformance_error(item, schema)
            if data_file.key in seen:
                assert problem is None  # what the sample saw, it describes
            elif problem is not None:
                assert "re-run 'ddbmigrate crawl'" in problem  # the rest: fits, or is dead-lettered with a reason


def test_crawl_command_saves_the_schema(exported: tuple[str, list[Item]], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    uri, source_items = exported
    out = tmp_path / "orders.schema.json"
    code, stdout, err = run(capsys, "crawl", uri, "--out", str(out), "--profile", "target")
    assert code == 0, err
    assert stdout.strip() == str(out)
    assert "typed pass-through: Item.history (L)" in err
    assert load_schema(out) == infer_schema(source_items)
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["source"]["export"] == uri and document["source"]["items_crawled"] == ITEMS


def test_crawl_command_names_a_bad_export(tmp_path: Path, capsys: pytest.CaptureFixture[str], s3: Any) -> None:
    bucket = f"crawl-empty-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket)
    code, _, err = run(capsys, "crawl", f"s3://{bucket}/x/AWSDynamoDB/01700000000000-0a1b2c3d/",
                       "--out", str(tmp_path / "s.json"), "--profile", "target")
    assert code == 13  # AwsNotFound: S3 answered NoSuchKey
    assert "no export here (manifest-summary.json not found)" in err
    assert not (tmp_path / "s.json").exists()


# --------------------------------------------------------------------------- the whole way


def test_export_crawl_generate_apply_back_to_the_source_items(
    exported: tuple[str, list[Item]], s3: Any, spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The job's path, step by step: every item arrives type-exact, compared one by one."""
    from ddbmigrate.mapping.spark import apply_mapping, read_items

    uri, source_items = exported
    schema_file, mapping_file = tmp_path / "orders.schema.json", tmp_path / "mappings" / "orders.json"
    assert run(capsys, "crawl", uri, "--out", str(schema_file), "--profile", "target")[0] == 0
    assert run(capsys, "mapping", "generate", "--schema", str(schema_file), "--out", str(mapping_file))[0] == 0
    mapping = load_mapping(mapping_file)

    export = open_export(uri, s3)
    lines: list[str] = []
    for data_file in export.data_files:
        for number, line in export.iter_lines(data_file, verify=True):
            item = parse_item_line(line, where=f"{data_file.uri} line {number}")
            assert conformance_error(item, mapping.schema) is None
            lines.append(line)
    assert len(lines) == ITEMS

    rows = apply_mapping(read_items(spark, spark.sparkContext.parallelize(lines, 4), mapping.schema), mapping,
                         check_casts=True).collect()
    arrived = {key(item): item for item in (row_to_item(row, mapping) for row in rows)}
    expected = {key(item): item for item in source_items}
    assert arrived.keys() == expected.keys()
    for k, source_item in expected.items():
        assert describe_differences(source_item, arrived[k]) == [], k
        assert item_digest(arrived[k]) == item_digest(source_item)


def test_generate_straight_from_the_export(exported: tuple[str, list[Item]], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    uri, source_items = exported
    out = tmp_path / "orders.json"
    code, _, err = run(capsys, "mapping", "generate", "--export", uri, "--out", str(out), "--profile", "target")
    assert code == 0, err
    mapping = load_mapping(out)
    assert mapping.source["export"] == uri
    assert mapping.schema == infer_schema(source_items)
    assert ("Item.`dotted.name`.S", "string", "`dotted.name`", "string") in mapping.glue_tuples()


# --------------------------------------------------------------------------- the Glue crawler definition


def crawler_definition(**values: str) -> dict[str, Any]:
    text = (REPO / "crawlers" / "export_crawler.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(string.Template(text).substitute(values))


def test_crawler_definition_fits_glues_api_shapes() -> None:
    definition = crawler_definition(table="orders", export_folder_uri="s3://b/p/AWSDynamoDB/01700000000000-0a1b2c3d/",
                                    glue_database="migration", crawler_role_arn="arn:aws:iam::123456789012:role/crawler")
    model = botocore.session.get_session().get_service_model("glue")
    validator = botocore.validate.ParamValidator()
    for operation, request in (("CreateClassifier", definition["Classifier"]), ("CreateCrawler", definition["Crawler"])):
        report = validator.validate(request, model.operation_model(operation).input_shape)
        assert not report.has_errors(), report.generate_report()
    crawler = definition["Crawler"]
    assert crawler["Targets"]["S3Targets"] == [{"Path": "s3://b/p/AWSDynamoDB/01700000000000-0a1b2c3d/data/"}]
    assert crawler["Classifiers"] == [definition["Classifier"]["JsonClassifier"]["Name"]]
    assert definition["Classifier"]["JsonClassifier"]["JsonPath"] == "$"
    assert crawler["SchemaChangePolicy"] == {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"}
    assert json.loads(crawler["Configuration"])["Version"] == 1.0


def test_crawler_definition_creates_a_crawler(target: Any) -> None:
    glue = target.client("glue")
    name = f"orders{uuid.uuid4().hex[:6]}"
    definition = crawler_definition(table=name, export_folder_uri="s3://b/p/AWSDynamoDB/01700000000000-0a1b2c3d/",
                                    glue_database="migration", crawler_role_arn="arn:aws:iam::123456789012:role/crawler")
    glue.create_crawler(**definition["Crawler"])
    stored = glue.get_crawler(Name=f"{name}-export-crawler")["Crawler"]
    assert stored["DatabaseName"] == "migration"
    assert stored["TablePrefix"] == f"{name}_export_"
    assert stored["Targets"]["S3Targets"][0]["Path"].endswith("/AWSDynamoDB/01700000000000-0a1b2c3d/data/")
