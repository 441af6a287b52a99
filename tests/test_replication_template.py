"""replication/template.yaml: cfn-lint clean, and what AWS SAM makes of it.

The template is transformed with ``aws-sam-translator`` (the library the SAM CLI and
CloudFormation's ``AWS::Serverless`` transform use); the event source mapping, its destination,
the function and the role's policy are asserted on the result. The role's policy is compared,
after resolving the template's parameters, with ``ddbmigrate policies replication-role``: one
least-privilege document, printed by the CLI and deployed by the template. The managed-policy
loader is a stand-in (the template names no managed policy, so SAM never asks it for one).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_all
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from ddbmigrate import policies as p
from ddbmigrate.replicate.lambda_handler import ENVIRONMENT

TEMPLATE = Path(__file__).resolve().parents[1] / "replication" / "template.yaml"
ACCOUNT, REGION = "111122223333", "eu-west-1"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Orders"
TARGET_ROLE = "arn:aws:iam::444455556666:role/ddbmigrate-target-writer"
PARAMETERS = {
    "SourceTableArn": TABLE_ARN, "SourceStreamArn": f"{TABLE_ARN}/stream/2025-03-01T11:00:00.000",
    "TargetTable": "Orders", "TargetRoleArn": TARGET_ROLE, "TargetExternalId": "ext-123",
    "ExportTime": "2025-03-01T12:05:00.000Z", "DeadLetterBucket": "repl-dl", "DeadLetterPrefix": "orders/",
    "FailureBucketArn": "arn:aws:s3:::repl-failed", "MappingUri": "s3://repl-art/mappings/Orders.json",
    "MappingObjectArn": "arn:aws:s3:::repl-art/mappings/Orders.json",
}
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}


class _NoManagedPolicies:
    """Stand-in for SAM's ManagedPolicyLoader (which calls IAM): the template uses no managed policy."""

    def load(self) -> dict[str, str]:
        return {}


PACKAGED_CODE = "s3://sam-artifacts/ddbmigrate-replication.zip"


def _transformed(parameters: dict[str, str]) -> dict[str, Any]:
    """The template as CloudFormation transforms it after ``sam deploy`` uploaded the local CodeUri."""
    template = yaml_parse(TEMPLATE.read_text())
    assert template["Resources"]["ReplicationFunction"]["Properties"]["CodeUri"] == "build/"
    template["Resources"]["ReplicationFunction"]["Properties"]["CodeUri"] = PACKAGED_CODE
    return transform(template, parameters, _NoManagedPolicies())  # type: ignore[arg-type]


def _resolve(node: Any, values: dict[str, Any], conditions: dict[str, bool]) -> Any:
    """Ref, Fn::Sub (string form) and Fn::If against ``values``; AWS::NoValue entries dropped."""
    if isinstance(node, list):
        resolved = [_resolve(v, values, conditions) for v in node]
        return [v for v in resolved if v is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        return _NO_VALUE if node["Ref"] == "AWS::NoValue" else values.get(node["Ref"], node)  # resources stay Refs
    if set(node) == {"Fn::Sub"}:
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(values[m.group(1)]), node["Fn::Sub"])
    if set(node) == {"Fn::If"}:
        name, yes, no = node["Fn::If"]
        return _resolve(yes if conditions[name] else no, values, conditions)
    return {k: _resolve(v, values, conditions) for k, v in node.items()}


_NO_VALUE = object()


def _values(template: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    defaults = {name: spec.get("Default") for name, spec in template["Parameters"].items()}
    return {**defaults, **given, **PSEUDO}


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    """SAM builds ARNs in the deploying session's region."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def test_cfn_lint_passes() -> None:
    problems = [str(m) for m in lint_all(TEMPLATE.read_text()) if m.rule.id[0] in "EW"]
    assert problems == []


def test_event_source_mapping_starts_disabled_at_trim_horizon_and_keeps_failed_batches() -> None:
    out = _transformed(PARAMETERS)
    mappings = [r for r in out["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert len(mappings) == 1
    props = _resolve(mappings[0]["Properties"], _values(out, PARAMETERS), {})
    assert props["EventSourceArn"] == PARAMETERS["SourceStreamArn"]
    assert props["FunctionName"] == {"Ref": "ReplicationFunction"}
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert props["Enabled"] is False
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumRetryAttempts"] == 10  # finite: -1 would retry until the record expires
    assert props["MaximumRecordAgeInSeconds"] == 21600
    assert (props["BatchSize"], props["MaximumBatchingWindowInSeconds"], props["ParallelizationFactor"]) == (100, 1, 1)
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": "arn:aws:s3:::repl-failed"}}


def test_the_function_runs_our_handler_with_every_setting_and_nothing_else() -> None:
    out = _transformed(PARAMETERS)
    function = out["Resources"]["ReplicationFunction"]["Properties"]
    assert (function["Runtime"], function["Handler"]) == ("python3.12", "ddbmigrate.replicate.lambda_handler.handler")
    module, _, name = function["Handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))
    assert function["Role"] == {"Fn::GetAtt": ["ReplicationRole", "Arn"]}
    variables = function["Environment"]["Variables"]
    assert set(variables) == set(ENVIRONMENT.values())
    resolved = _resolve(variables, _values(out, PARAMETERS), {})
    assert resolved["DDBMIGRATE_DEAD_LETTER"] == "s3://repl-dl/orders/"
    assert resolved["DDBMIGRATE_TARGET_EXTERNAL_ID"] == "ext-123"


@pytest.mark.parametrize("with_mapping", [True, False])
def test_the_role_grants_exactly_what_policies_replication_role_prints(with_mapping: bool) -> None:
    given = dict(PARAMETERS) if with_mapping else {k: v for k, v in PARAMETERS.items() if not k.startswith("Mapping")}
    out = _transformed(given)
    role = out["Resources"]["ReplicationRole"]["Properties"]
    values = _values(out, given)
    policy = _resolve(role["Policies"][0]["PolicyDocument"], values, {"HasMapping": bool(values["MappingObjectArn"])})
    assert policy == p.replication_role_policy(
        TABLE_ARN, "ddbmigrate-replication", TARGET_ROLE, failure_destination_arn="arn:aws:s3:::repl-failed",
        dead_letter="s3://repl-dl/orders/", mapping=given.get("MappingUri"))
    assert role["AssumeRolePolicyDocument"] == p.replication_role_trust_policy()
    assert "ManagedPolicyArns" not in role  # SAM added nothing broader (AWSLambdaDynamoDBExecutionRole is "*")
