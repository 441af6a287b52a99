"""IAM documents: valid JSON, parliament-clean, least privilege, and covering what the code does.

* parliament (duo-labs) lints every document: no finding of MEDIUM severity or above. Trust
  policies have no ``Resource`` by IAM's grammar, which parliament (made for identity policies)
  reports as MALFORMED — that one finding is expected for them and nothing else is.
* Least privilege is checked mechanically: no wildcard actions, and ``"*"`` as a resource only for
  actions that IAM cannot scope (per parliament's copy of the IAM service reference).
* The export's S3 resources are matched against the keys our export layout really writes.
* The CloudFormation templates pass cfn-lint; the roles are created in moto's IAM, which checks
  policy grammar as IAM does.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import parliament
import pytest
from cfnlint.api import lint as cfn_lint

from ddbmigrate import policies as p
from ddbmigrate.cli.main import main
from ddbmigrate.errors import ConfigError, ReplicationError
from ddbmigrate.export.layout import (
    FILES_NAME,
    STARTED_NAME,
    SUMMARY_NAME,
    export_folder_key,
    new_data_file_name,
)

SOURCE, TARGET = "111122223333", "444455556666"
TABLE_ARN = f"arn:aws:dynamodb:eu-west-1:{SOURCE}:table/Orders"
TARGET_TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{TARGET}:table/Orders"
GLUE_ROLE = f"arn:aws:iam::{TARGET}:role/ddbmigrate-glue"
TARGET_ROLE = f"arn:aws:iam::{TARGET}:role/ddbmigrate-target-writer"
SOURCE_ROLE = f"arn:aws:iam::{SOURCE}:role/ddbmigrate-source-reader"
SEVERITIES = ["MUTE", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
_NO_RESOURCE_TYPE: set[str] = {
    f"{service['prefix']}:{priv['privilege']}".lower()
    for service in parliament.iam_definition
    for priv in service["privileges"]
    if all(not r["resource_type"] for r in priv["resource_types"])
}


def findings(document: dict[str, Any], *, trust: bool = False) -> list[tuple[str, str, Any]]:
    """parliament findings of MEDIUM severity or above (trust policies: minus 'no Resource')."""
    policy = parliament.analyze_policy_string(json.dumps(document))
    result = []
    for finding in policy.findings:
        parliament.enhance_finding(finding)
        if trust and finding.issue == "MALFORMED" and "neither Resource nor NotResource" in str(finding.detail):
            continue
        if SEVERITIES.index(finding.severity) >= SEVERITIES.index("MEDIUM"):
            result.append((finding.issue, finding.severity, finding.detail))
    return result


def assert_least_privilege(document: dict[str, Any]) -> None:
    json.loads(json.dumps(document))  # plain JSON types only
    assert document["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in document["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            assert "*" not in action, f"wildcard action {action} in {statement['Sid']}"
        resources = statement.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        if "*" in resources:
            unscoped = [a for a in actions if a.lower() not in _NO_RESOURCE_TYPE]
            assert not unscoped, f"{statement['Sid']}: {unscoped} can be scoped but have Resource '*'"
        for resource in resources:
            assert resource == "*" or resource.startswith("arn:aws:"), resource
    assert findings(document) == []


def actions_of(document: dict[str, Any]) -> set[str]:
    return {a for s in document["Statement"] for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}


def statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in document["Statement"] if s["Sid"] == sid)


# --------------------------------------------------------------------------- export


def test_export_identity_policy_grants_the_documented_actions_on_the_table_and_prefix_only() -> None:
    doc = p.export_identity_policy(TABLE_ARN, "exports", "orders", bucket_owner=TARGET)
    assert_least_privilege(doc)
    start = statement(doc, "StartExport")
    assert set(start["Action"]) == {"dynamodb:ExportTableToPointInTime", "dynamodb:DescribeTable",
                                    "dynamodb:DescribeContinuousBackups"}
    assert start["Resource"] == [TABLE_ARN]
    assert statement(doc, "FollowExport")["Resource"] == [f"{TABLE_ARN}/export/*"]
    write = statement(doc, "WriteExportFiles")
    # the three S3 actions AWS documents for an export, and no more
    assert set(write["Action"]) == {"s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"}
    assert write["Resource"] == ["arn:aws:s3:::exports/orders/AWSDynamoDB/*"]
    assert write["Condition"] == {"StringEquals": {"s3:ResourceAccount": TARGET}}
    assert "dynamodb:UpdateContinuousBackups" not in actions_of(doc)
    assert "s3:ListBucket" not in actions_of(doc)


def test_export_identity_policy_options_add_exactly_their_permissions() -> None:
    key = f"arn:aws:kms:eu-west-1:{TARGET}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    doc = p.export_identity_policy(TABLE_ARN, "exports", None, bucket_owner=TARGET, enable_pitr=True,
                                   fix_ownership=True, kms_key_arn=key)
    assert_least_privilege(doc)
    assert "dynamodb:UpdateContinuousBackups" in statement(doc, "StartExport")["Action"]
    listing = statement(doc, "ListExportFiles")
    assert listing["Action"] == ["s3:ListBucket"] and listing["Resource"] == ["arn:aws:s3:::exports"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["AWSDynamoDB/*"]},
                                    "StringEquals": {"s3:ResourceAccount": TARGET}}
    assert statement(doc, "EncryptExportFiles")["Resource"] == [key]


def test_export_bucket_policy_lets_only_the_source_principal_write_under_the_prefix() -> None:
    doc = p.export_bucket_policy("exports", "orders/", SOURCE)
    assert_least_privilege(doc)
    (only,) = doc["Statement"]
    assert only["Principal"] == {"AWS": f"arn:aws:iam::{SOURCE}:root"}
    assert set(only["Action"]) == {"s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"}
    assert only["Resource"] == ["arn:aws:s3:::exports/orders/AWSDynamoDB/*"]
    exporter = f"arn:aws:iam::{SOURCE}:role/exporter"
    tighter = p.export_bucket_policy("exports", "orders", exporter, fix_ownership=True)
    assert_least_privilege(tighter)
    assert all(s["Principal"] == {"AWS": exporter} for s in tighter["Statement"])


@pytest.mark.parametrize("prefix", [None, "", "/", "orders", "/orders/", "a/b", "orders/AWSDynamoDB/01692350182719-6de2c037/"])
def test_export_resources_cover_every_file_the_export_writes_and_nothing_beside_it(prefix: str | None) -> None:
    doc = p.export_identity_policy(TABLE_ARN, "exports", prefix)
    (pattern,) = statement(doc, "WriteExportFiles")["Resource"]
    base = (prefix or "").strip("/").split("/AWSDynamoDB")[0] or None
    folder = export_folder_key(base, "01692350182719-6de2c037")
    keys = [folder + name for name in (STARTED_NAME, SUMMARY_NAME, FILES_NAME, "manifest-files.checksum")]
    keys.append(folder + "data/" + new_data_file_name())
    for key in keys:
        assert fnmatch.fnmatchcase(f"arn:aws:s3:::exports/{key}", pattern), (key, pattern)
    outside = ("other/AWSDynamoDB/x" if base else "not-an-export.txt")
    assert not fnmatch.fnmatchcase(f"arn:aws:s3:::exports/{outside}", pattern)
    assert not fnmatch.fnmatchcase(f"arn:aws:s3:::exports-other/{keys[0]}", pattern)


# --------------------------------------------------------------------------- roles


def test_glue_role_reads_artifacts_and_export_writes_dead_letters_and_assumes_the_two_roles() -> None:
    arns = p.Arns(account=TARGET, region="us-east-1")
    doc = p.glue_role_policy(arns, "s3://artifacts/ddbmigrate/", export="s3://exports/orders/",
                             dead_letter="s3://artifacts/dead-letters/orders", temp_dir="s3://artifacts/tmp/",
                             target_role_arn=TARGET_ROLE, source_role_arn=SOURCE_ROLE)
    assert_least_privilege(doc)
    assert statement(doc, "ReadJobArtifacts")["Resource"] == ["arn:aws:s3:::artifacts/ddbmigrate/*"]
    assert statement(doc, "ReadExport")["Resource"] == ["arn:aws:s3:::exports/orders/AWSDynamoDB/*"]
    assert statement(doc, "ListExport")["Condition"] == {"StringLike": {"s3:prefix": ["orders/AWSDynamoDB/*"]}}
    assert statement(doc, "WriteDeadLetters")["Resource"] == ["arn:aws:s3:::artifacts/dead-letters/orders/*"]
    assert statement(doc, "WriteDeadLetters")["Action"] == ["s3:AbortMultipartUpload", "s3:PutObject"]
    assert statement(doc, "AssumeMigrationRoles")["Resource"] == [TARGET_ROLE, SOURCE_ROLE]
    assert statement(doc, "GlueMetrics")["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Glue"}}
    assert "CrawlerCatalog" not in {s["Sid"] for s in doc["Statement"]}
    # the job role itself touches no table: all DynamoDB access goes through the assumed roles
    assert not any(a.startswith("dynamodb:") for a in actions_of(doc))
    assert findings(p.glue_role_trust_policy(), trust=True) == []


def test_glue_role_may_also_run_the_export_crawler_on_one_database() -> None:
    arns = p.Arns(account=TARGET, region="us-east-1")
    doc = p.glue_role_policy(arns, "s3://artifacts/", export="s3://exports/orders/", target_role_arn=TARGET_ROLE,
                             crawler_database="ddbmigrate")
    assert_least_privilege(doc)
    catalog = statement(doc, "CrawlerCatalog")
    assert catalog["Resource"] == [f"arn:aws:glue:us-east-1:{TARGET}:catalog",
                                   f"arn:aws:glue:us-east-1:{TARGET}:database/ddbmigrate",
                                   f"arn:aws:glue:us-east-1:{TARGET}:table/ddbmigrate/*"]
    assert {"glue:CreateTable", "glue:UpdateTable", "glue:BatchCreatePartition"} <= set(catalog["Action"])
    assert not any(a.startswith("glue:Delete") for a in catalog["Action"])
    with pytest.raises(ConfigError, match="crawler database: 'Bad DB'"):
        p.glue_role_policy(arns, "s3://artifacts/", target_role_arn=TARGET_ROLE, crawler_database="Bad DB")


def test_glue_role_same_account_writes_the_table_directly_and_needs_a_target() -> None:
    arns = p.Arns(account=TARGET, region="us-east-1")
    doc = p.glue_role_policy(arns, "s3://artifacts/", target_table_arn=TARGET_TABLE_ARN)
    assert_least_privilege(doc)
    assert statement(doc, "WriteTargetTable")["Resource"] == [TARGET_TABLE_ARN]
    with pytest.raises(ConfigError, match=r"target role ARN .* or the target table ARN"):
        p.glue_role_policy(arns, "s3://artifacts/")


def test_target_role_writes_one_table_and_trusts_only_with_the_external_id() -> None:
    doc = p.target_role_policy(TARGET_TABLE_ARN)
    assert_least_privilege(doc)
    assert actions_of(doc) == {"dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:DeleteItem",
                               "dynamodb:DescribeTable"}
    assert all(s["Resource"] == [TARGET_TABLE_ARN] for s in doc["Statement"])
    trust = p.trust_policy_with_external_id([GLUE_ROLE, f"arn:aws:iam::{SOURCE}:role/ddbmigrate-replication"],
                                            "orders-2024")
    assert findings(trust, trust=True) == []
    (only,) = trust["Statement"]
    assert only["Condition"] == {"StringEquals": {"sts:ExternalId": "orders-2024"}}
    assert only["Principal"]["AWS"] == sorted([GLUE_ROLE, f"arn:aws:iam::{SOURCE}:role/ddbmigrate-replication"])
    assert only["Action"] == "sts:AssumeRole"


def test_target_role_with_a_checkpoint_table_grants_what_the_checkpoints_call(target: Any, unique_name: Any) -> None:
    from ddbmigrate.dynamodb import dynamodb_client
    from ddbmigrate.replicate.checkpoints import Checkpoint, Lease, TableCheckpoints, release_leases

    # GIVEN every use replication makes of its checkpoint table, on the local stack, its calls recorded
    called: set[str] = set()
    client = dynamodb_client(target)
    client.meta.events.register("before-call.dynamodb", lambda model, **_: called.add(f"dynamodb:{model.name}"))
    store = TableCheckpoints(target, unique_name("ckpt"), client=client)  # created on first use
    arn = "arn:aws:dynamodb:ddblocal:000000000000:table/t/stream/2025-01-01T00:00:00.000"
    lease = store.acquire(arn, "shard-1", owner="a", now=1000.0)
    store.save(Checkpoint(arn, "shard-1", "100000000000000000002"), owner="a")
    for refused in (lambda: store.acquire(arn, "*", owner="lambda@f", now=1001.0),  # the Lambda's stream-wide lease
                    lambda: store.acquire(arn, "shard-1", owner="b", now=1001.0),
                    lambda: store.save(Checkpoint(arn, "shard-1", "100000000000000000001"), owner="a")):
        with pytest.raises(ReplicationError):
            refused()
    store.checkpoints(arn)
    store.release(lease)
    store.release(Lease(arn, "shard-1", "gone", 0.0))
    release_leases(store, arn, now=1002.0)
    # WHEN the target role names that table
    doc = p.target_role_policy(TARGET_TABLE_ARN, checkpoint_table="ddbmigrate-replication")
    # THEN it grants exactly those calls, on that table only, beside the target table's writes
    assert_least_privilege(doc)
    assert set(statement(doc, "ReplicationCheckpoints")["Action"]) == called
    assert statement(doc, "ReplicationCheckpoints")["Resource"] == [
        f"arn:aws:dynamodb:us-east-1:{TARGET}:table/ddbmigrate-replication"]
    assert statement(doc, "WriteTargetTable") == p.target_role_policy(TARGET_TABLE_ARN)["Statement"][0]
    with pytest.raises(ConfigError, match="checkpoint table: 'x' is not"):
        p.target_role_policy(TARGET_TABLE_ARN, checkpoint_table="x")


def test_source_role_reads_one_table() -> None:
    doc = p.source_role_policy(TABLE_ARN)
    assert_least_privilege(doc)
    assert actions_of(doc) == {"dynamodb:Scan", "dynamodb:DescribeTable"}


def test_replication_role_reads_the_tables_streams_logs_and_assumes_the_target_role() -> None:
    queue = f"arn:aws:sqs:eu-west-1:{SOURCE}:ddbmigrate-failed"
    doc = p.replication_role_policy(TABLE_ARN, "orders-replication", TARGET_ROLE, failure_destination_arn=queue)
    assert_least_privilege(doc)
    assert statement(doc, "ReadSourceStream")["Resource"] == [f"{TABLE_ARN}/stream/*"]
    assert set(statement(doc, "ReadSourceStream")["Action"]) == {
        "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"}
    assert statement(doc, "ListStreamsHasNoResourceLevelPermissions")["Action"] == ["dynamodb:ListStreams"]
    assert statement(doc, "FunctionLogStreams")["Resource"] == [
        f"arn:aws:logs:eu-west-1:{SOURCE}:log-group:/aws/lambda/orders-replication:log-stream:*"]
    assert statement(doc, "AssumeTargetRole")["Resource"] == [TARGET_ROLE]
    assert statement(doc, "SendFailedRecords") == {"Sid": "SendFailedRecords", "Effect": "Allow",
                                                   "Action": ["sqs:SendMessage"], "Resource": [queue]}
    assert findings(p.replication_role_trust_policy(), trust=True) == []


def test_replication_role_with_an_s3_failure_destination_dead_letters_and_a_mapping() -> None:
    doc = p.replication_role_policy(TABLE_ARN, "orders-replication", TARGET_ROLE,
                                    failure_destination_arn="arn:aws:s3:::failed-batches",
                                    dead_letter="s3://repl-dl/orders/", mapping="s3://repl-art/mappings/Orders.json")
    assert_least_privilege(doc)
    assert statement(doc, "SendFailedRecords")["Action"] == ["s3:PutObject"]
    assert statement(doc, "SendFailedRecords")["Resource"] == ["arn:aws:s3:::failed-batches/*"]
    assert statement(doc, "ListFailedRecordsBucket")["Resource"] == ["arn:aws:s3:::failed-batches"]
    assert statement(doc, "WriteDeadLetters")["Resource"] == ["arn:aws:s3:::repl-dl/orders/*"]
    assert statement(doc, "ReadMapping") == {"Sid": "ReadMapping", "Effect": "Allow", "Action": ["s3:GetObject"],
                                             "Resource": ["arn:aws:s3:::repl-art/mappings/Orders.json"]}


@pytest.mark.parametrize(("call", "message"), [
    (lambda: p.Arns(account="12345", region="eu-west-1"), "account id: '12345' is not valid; expected 12 digits"),
    (lambda: p.Arns(account=SOURCE, region="europe"), "region: 'europe' is not valid"),
    (lambda: p.target_role_policy("arn:aws:dynamodb:eu-west-1:1:table/T"), "table ARN: .* is not arn:aws:dynamodb"),
    (lambda: p.trust_policy_with_external_id([], "x1"), "trusted principals: name at least one"),
    (lambda: p.trust_policy_with_external_id(["someone"], "x1"), "trusted principal: 'someone' is not valid"),
    (lambda: p.trust_policy_with_external_id([GLUE_ROLE], "has space"), "external id: 'has space' is not valid"),
    (lambda: p.replication_role_policy(TABLE_ARN, "f", "not-a-role"), "target role ARN: 'not-a-role'"),
])
def test_bad_inputs_name_what_is_wrong(call: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call()


# --------------------------------------------------------------------------- CloudFormation, moto IAM


def _templates() -> dict[str, dict[str, Any]]:
    arns = p.Arns(account=TARGET, region="us-east-1")
    glue = p.glue_role_policy(arns, "s3://artifacts/ddbmigrate/", export="s3://exports/orders/",
                              target_role_arn=TARGET_ROLE, crawler_database="ddbmigrate")
    return {
        "glue": p.role_template("ddbmigrate-glue", "Glue job role", p.glue_role_trust_policy(), glue),
        "target": p.role_template("ddbmigrate-target-writer", "target writer",
                                  p.trust_policy_with_external_id([GLUE_ROLE], "ext-1"),
                                  p.target_role_policy(TARGET_TABLE_ARN)),
        "replication": p.role_template("ddbmigrate-replication", "replication", p.replication_role_trust_policy(),
                                       p.replication_role_policy(TABLE_ARN, "repl", TARGET_ROLE)),
        "bucket": p.bucket_policy_template("exports", "export bucket policy",
                                           p.export_bucket_policy("exports", "orders", SOURCE)),
        "identity": p.managed_policy_template("ddbmigrate-export", "exporter",
                                              p.export_identity_policy(TABLE_ARN, "exports", "orders")),
    }


@pytest.mark.parametrize("name", ["glue", "target", "replication", "bucket", "identity"])
def test_cloudformation_templates_pass_cfn_lint(name: str) -> None:
    template = _templates()[name]
    matches = cfn_lint(json.dumps(template), regions=["us-east-1"])
    problems = [(m.rule.id, m.message) for m in matches if m.rule.id[0] in "EW"]
    assert problems == []
    # and a broken one does not, so the check above can fail
    broken = json.loads(json.dumps(template))
    next(iter(broken["Resources"].values()))["Properties"]["Bogus"] = 1
    assert any(m.rule.id.startswith("E") for m in cfn_lint(json.dumps(broken), regions=["us-east-1"]))


@pytest.mark.integration
def test_roles_are_accepted_by_iam(target: Any, unique_name: Any) -> None:
    """moto's IAM validates policy documents as IAM does (grammar, ARNs, versions)."""
    iam = target.client("iam")
    for kind, template in _templates().items():
        if kind in ("bucket", "identity"):
            continue
        props = template["Resources"]["Role"]["Properties"]
        name = unique_name(kind)[:60]
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]))
        (inline,) = props["Policies"]
        iam.put_role_policy(RoleName=name, PolicyName=inline["PolicyName"],
                            PolicyDocument=json.dumps(inline["PolicyDocument"]))
        stored = iam.get_role_policy(RoleName=name, PolicyName=inline["PolicyName"])["PolicyDocument"]
        assert stored == inline["PolicyDocument"]
    created = iam.create_policy(PolicyName=unique_name("exporter")[:60],
                                PolicyDocument=json.dumps(p.export_identity_policy(TABLE_ARN, "exports", "o")))
    assert created["Policy"]["Arn"].startswith("arn:aws:iam::")


# --------------------------------------------------------------------------- CLI


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _json_documents(text: str) -> list[Any]:
    decoder, documents, index = json.JSONDecoder(), [], 0
    while index < len(text.rstrip()):
        while text[index].isspace():
            index += 1
        document, index = decoder.raw_decode(text, index)
        documents.append(document)
    return documents


def test_cli_policies_export_prints_both_documents_as_the_issue_writes_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "policies", "export", "--source-account", SOURCE, "--target-account", TARGET,
                         "--bucket", "exports", "--table", "Orders", "--region", "eu-west-1", "--prefix", "orders")
    assert code == 0, err
    identity, bucket = _json_documents(out)
    assert identity == p.export_identity_policy(TABLE_ARN, "exports", "orders", bucket_owner=TARGET)
    assert bucket == p.export_bucket_policy("exports", "orders", SOURCE)
    assert f"source account {SOURCE}" in err and f"target account {TARGET}" in err

    code, out, _ = run(capsys, "policies", "export", "--table", TABLE_ARN, "--target-account", TARGET,
                       "--bucket", "exports", "--only", "bucket")
    assert code == 0 and json.loads(out) == p.export_bucket_policy("exports", None, SOURCE)

    code, _, err = run(capsys, "policies", "export", "--table", TABLE_ARN, "--target-account", TARGET,
                       "--bucket", "exports", "--format", "cloudformation")
    assert code == 2 and "--only identity" in err
    code, _, err = run(capsys, "policies", "export", "--table", "Orders", "--target-account", TARGET,
                       "--bucket", "exports")
    assert code == 2 and "--table: give the table ARN" in err


def test_cli_role_commands_print_trust_and_permissions(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "policies", "target-role", "--table", TARGET_TABLE_ARN, "--trusted", GLUE_ROLE,
                         "--external-id", "ext-1")
    assert code == 0, err
    trust, permissions = _json_documents(out)
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"sts:ExternalId": "ext-1"}}
    assert permissions == p.target_role_policy(TARGET_TABLE_ARN)
    code, out, err = run(capsys, "policies", "target-role", "--table", TARGET_TABLE_ARN, "--trusted", GLUE_ROLE,
                         "--external-id", "ext-1", "--checkpoint-table", "ddbmigrate-replication", "--only", "permissions")
    assert code == 0 and json.loads(out) == p.target_role_policy(TARGET_TABLE_ARN, checkpoint_table="ddbmigrate-replication")

    code, out, err = run(capsys, "policies", "glue-role", "--account", TARGET, "--region", "us-east-1",
                         "--artifacts", "s3://artifacts/ddbmigrate/", "--target-role-arn", TARGET_ROLE,
                         "--format", "cloudformation")
    assert code == 0, err
    template = json.loads(out)
    assert template["Resources"]["Role"]["Type"] == "AWS::IAM::Role"
    assert [m for m in cfn_lint(out, regions=["us-east-1"]) if m.rule.id[0] in "EW"] == []

    code, out, _ = run(capsys, "policies", "replication-role", "--table", TABLE_ARN, "--target-role-arn",
                       TARGET_ROLE, "--only", "permissions")
    assert code == 0 and json.loads(out) == p.replication_role_policy(TABLE_ARN, "ddbmigrate-replication", TARGET_ROLE)
    code, out, _ = run(capsys, "policies", "source-role", "--table", "Orders", "--account", SOURCE, "--region",
                       "eu-west-1", "--trusted", GLUE_ROLE, "--external-id", "ext-2", "--only", "permissions")
    assert code == 0 and json.loads(out) == p.source_role_policy(TABLE_ARN)
