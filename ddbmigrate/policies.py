"""IAM policy documents for every principal of a migration — least privilege, AWS's exact grammar.

Who needs what (``ddbmigrate policies …`` prints each):

=======================  =================  ==============================================================
document                 lives in           grants
=======================  =================  ==============================================================
export identity policy   source account     ``ExportTableToPointInTime``/``DescribeExport``/PITR reads on
                                            the table; ``s3:PutObject``/``PutObjectAcl``/
                                            ``AbortMultipartUpload`` under ``<prefix>/AWSDynamoDB/``
export bucket policy     target account     the same S3 actions to the source account's principal
Glue job role            account of Glue    reads the export, the scripts/wheel/mappings; writes dead
                                            letters and the temp dir; assumes the target (and, for a
                                            table copy, the source) role; Glue's logs and metrics
target write role        target account     ``BatchWriteItem``/``PutItem``/``DeleteItem``/``DescribeTable``
                                            on the target table only (and replication's checkpoint
                                            table when named); trusted principals must pass the
                                            external id
source read role         source account     ``Scan``/``DescribeTable`` on the source table (table copy)
replication role         source account     stream reads on the table's streams; its own log group;
                                            assumes the target write role
=======================  =================  ==============================================================

Every statement names its resources by ARN. The one exception is ``dynamodb:ListStreams``, which
IAM does not scope to a resource (the Lambda event source mapping calls it): it gets ``"*"`` in a
statement of its own. ``cloudwatch:PutMetricData`` is the same, narrowed by the
``cloudwatch:namespace`` condition to Glue's namespace.

The export's S3 statements are scoped to ``<prefix>/AWSDynamoDB/*`` because DynamoDB writes every
file of an export below that folder (see :mod:`ddbmigrate.export.layout`).

Everything here is pure (no AWS calls); the CLI prints the documents as JSON or as a CloudFormation
template (:func:`role_template`, :func:`bucket_policy_template`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from ddbmigrate.errors import ConfigError
from ddbmigrate.export.layout import EXPORT_ROOT
from ddbmigrate.progress.metrics import NAMESPACE as METRICS_NAMESPACE
from ddbmigrate.s3uri import S3Uri, parse_s3_uri

__all__ = [
    "POLICY_VERSION",
    "Arns",
    "PolicyDocument",
    "bucket_policy_template",
    "export_bucket_policy",
    "export_folder",
    "export_identity_policy",
    "glue_role_policy",
    "glue_role_trust_policy",
    "managed_policy_template",
    "replication_role_policy",
    "replication_role_trust_policy",
    "role_template",
    "source_role_policy",
    "target_role_policy",
    "trust_policy_with_external_id",
]

PolicyDocument: TypeAlias = dict[str, Any]
"""``{"Version": "2012-10-17", "Statement": [...]}``."""

POLICY_VERSION = "2012-10-17"

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_TABLE_ARN = re.compile(r"^arn:(aws[a-z-]*):dynamodb:([a-z0-9-]+):(\d{12}):table/([A-Za-z0-9_.-]{3,255})$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:(iam::\d{12}:(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)|sts::\d{12}:assumed-role/.+)$")
_QUEUE_OR_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:(sqs|sns):[a-z0-9-]+:\d{12}:[\w.-]+$")
_BUCKET_ARN = re.compile(r"^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[\w-]+$")
_FUNCTION = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")

_EXPORT_WRITE_ACTIONS = ["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"]
_TARGET_WRITE_ACTIONS = ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:PutItem"]
_CHECKPOINT_TABLE_ACTIONS = ["dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query",
                             "dynamodb:UpdateItem"]
"""What :class:`ddbmigrate.replicate.checkpoints.TableCheckpoints` calls (created on first use; conditional
updates; consistent reads); tests/test_policies.py records its calls on the local stack and compares."""
_SOURCE_READ_ACTIONS = ["dynamodb:DescribeTable", "dynamodb:Scan"]
_CRAWLER_CATALOG_ACTIONS = [f"glue:{a}" for a in (
    "BatchCreatePartition", "BatchGetPartition", "BatchUpdatePartition", "CreatePartition", "CreateTable",
    "GetDatabase", "GetPartition", "GetPartitions", "GetTable", "GetTables", "UpdatePartition", "UpdateTable")]
_CATALOG_NAME = re.compile(r"^[a-z0-9_-]{1,255}$")
_STREAM_READ_ACTIONS = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]


@dataclass(frozen=True)
class Arns:
    """Partition, region and account that ARNs are built in (validated)."""

    account: str
    region: str
    partition: str = "aws"

    def __post_init__(self) -> None:
        _check(_ACCOUNT, self.account, "account id", "12 digits, e.g. 111122223333")
        _check(_REGION, self.region, "region", "an AWS region such as eu-west-1")
        if self.partition not in ("aws", "aws-cn", "aws-us-gov"):
            raise ConfigError(f"partition: {self.partition!r} is not one of aws, aws-cn, aws-us-gov")

    @classmethod
    def from_table_arn(cls, arn: str) -> tuple[Arns, str]:
        """``arn:aws:dynamodb:R:A:table/T`` → (Arns, table name)."""
        match = _TABLE_ARN.match(arn)
        if not match:
            raise ConfigError(f"table ARN: {arn!r} is not arn:aws:dynamodb:REGION:ACCOUNT:table/NAME")
        partition, region, account, table = match.groups()
        return cls(account=account, region=region, partition=partition), table

    def table(self, name: str) -> str:
        _check(_TABLE, name, "table name", "3–255 letters, digits, '_', '-' or '.'")
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{name}"

    def role(self, name: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{name}"

    def root(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:root"

    def log_group(self, name: str) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:{name}"


def _check(pattern: re.Pattern[str], value: Any, what: str, allowed: str) -> None:
    if not isinstance(value, str) or not pattern.match(value):
        raise ConfigError(f"{what}: {value!r} is not valid; expected {allowed}")


def _document(statements: Iterable[dict[str, Any]]) -> PolicyDocument:
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def _statement(sid: str, actions: Sequence[str], resources: Sequence[str] | str, **extra: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": sorted(actions)}
    if resources == "*":
        statement["Resource"] = "*"
    else:
        statement["Resource"] = [resources] if isinstance(resources, str) else list(resources)
    statement.update(extra)
    return statement


def _objects(uri: S3Uri, partition: str = "aws") -> str:
    """ARN of every object below a folder URI (``s3://b/p/`` → ``arn:aws:s3:::b/p/*``)."""
    return f"arn:{partition}:s3:::{uri.bucket}/{uri.folder().key}*"


def _bucket(uri: S3Uri, partition: str = "aws") -> str:
    return f"arn:{partition}:s3:::{uri.bucket}"


def _list_statement(sid: str, uri: S3Uri, partition: str) -> dict[str, Any]:
    """``s3:ListBucket`` narrowed to keys below the folder (the ``s3:prefix`` condition)."""
    return _statement(sid, ["s3:ListBucket"], _bucket(uri, partition),
                      Condition={"StringLike": {"s3:prefix": [f"{uri.folder().key}*"]}})


def export_folder(bucket: str, prefix: str | None) -> S3Uri:
    """Where DynamoDB writes an export's files: ``s3://B/<prefix>/AWSDynamoDB/``.

    A prefix that already reaches into an export (``p/AWSDynamoDB/<ExportId>/``) is cut back to
    the ``AWSDynamoDB/`` folder, so every export under the prefix is covered.
    """
    parse_s3_uri(f"s3://{bucket}/", what="--bucket")
    base = (prefix or "").strip("/")
    segments = base.split("/") if base else []
    if EXPORT_ROOT in segments:
        segments = segments[: segments.index(EXPORT_ROOT)]
    return S3Uri(bucket, "".join(f"{s}/" for s in segments) + f"{EXPORT_ROOT}/")


def _principal(value: str, what: str, partition: str = "aws") -> str:
    if _ACCOUNT.match(value):
        return f"arn:{partition}:iam::{value}:root"
    _check(_PRINCIPAL_ARN, value, what, "a 12-digit account id or an IAM role/user ARN")
    return value


# --------------------------------------------------------------------------- export


def export_identity_policy(
    table_arn: str,
    bucket: str,
    prefix: str | None = None,
    *,
    bucket_owner: str | None = None,
    enable_pitr: bool = False,
    fix_ownership: bool = False,
    kms_key_arn: str | None = None,
) -> PolicyDocument:
    """What the principal that runs ``ddbmigrate export`` needs in the source account.

    ``bucket_owner`` (the target account id) adds an ``s3:ResourceAccount`` condition: the
    writes are allowed only while the bucket belongs to that account, so a bucket of the same
    name re-created elsewhere receives nothing. ``enable_pitr`` adds ``UpdateContinuousBackups``
    (for ``--enable-pitr``), ``fix_ownership`` the listing that ``ddbmigrate export
    fix-ownership`` does, ``kms_key_arn`` the key use an SSE-KMS bucket requires.
    """
    arns, _ = Arns.from_table_arn(table_arn)
    folder = export_folder(bucket, prefix)
    owner: dict[str, Any] = {}
    if bucket_owner is not None:
        _check(_ACCOUNT, bucket_owner, "bucket owner", "the 12-digit id of the account owning the bucket")
        owner = {"Condition": {"StringEquals": {"s3:ResourceAccount": bucket_owner}}}
    pitr = ["dynamodb:DescribeContinuousBackups"] + (["dynamodb:UpdateContinuousBackups"] if enable_pitr else [])
    statements = [
        _statement("StartExport", ["dynamodb:DescribeTable", "dynamodb:ExportTableToPointInTime", *pitr], table_arn),
        _statement("FollowExport", ["dynamodb:DescribeExport"], f"{table_arn}/export/*"),
        _statement("WriteExportFiles", _EXPORT_WRITE_ACTIONS, _objects(folder, arns.partition), **owner),
    ]
    if fix_ownership:
        listing = _list_statement("ListExportFiles", folder, arns.partition)
        if owner:
            listing["Condition"] = {**listing["Condition"], **owner["Condition"]}
        statements.append(listing)
    if kms_key_arn:
        _check(_KMS_KEY_ARN, kms_key_arn, "KMS key ARN", "arn:aws:kms:REGION:ACCOUNT:key/ID")
        statements.append(_statement("EncryptExportFiles", ["kms:Decrypt", "kms:GenerateDataKey"], kms_key_arn))
    return _document(statements)


def export_bucket_policy(
    bucket: str, prefix: str | None, source_principal: str, *, fix_ownership: bool = False, partition: str = "aws"
) -> PolicyDocument:
    """The target account's bucket policy letting the source account write the export.

    ``source_principal`` is the source account id (its IAM policies then decide who may export)
    or, tighter, the ARN of the role or user that runs the export.
    """
    folder = export_folder(bucket, prefix)
    principal = {"AWS": _principal(source_principal, "source principal", partition)}
    statements = [_statement("DynamoDBExportFromSourceAccount", _EXPORT_WRITE_ACTIONS, _objects(folder, partition),
                             Principal=principal)]
    if fix_ownership:
        statements.append({**_list_statement("ListExportFromSourceAccount", folder, partition), "Principal": principal})
    return _document(statements)


# --------------------------------------------------------------------------- Glue job role


def glue_role_trust_policy() -> PolicyDocument:
    """Lets the Glue service assume the job role."""
    return _document([{"Sid": "GlueService", "Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"},
                       "Action": "sts:AssumeRole"}])


def glue_role_policy(
    arns: Arns,
    artifacts: str,
    *,
    export: str | None = None,
    dead_letter: str | None = None,
    temp_dir: str | None = None,
    target_role_arn: str | None = None,
    target_table_arn: str | None = None,
    source_role_arn: str | None = None,
    source_table_arn: str | None = None,
    crawler_database: str | None = None,
) -> PolicyDocument:
    """The Glue job role: what the export-import and table-copy jobs touch, and nothing else.

    ``artifacts`` is the S3 folder ``deploy`` uploads scripts, the wheel and mappings to;
    ``export`` the export prefix (``s3://B/P/`` — the jobs read ``P/AWSDynamoDB/…``);
    ``dead_letter`` and ``temp_dir`` folders the job writes. The target is written through
    ``target_role_arn`` (cross-account) or directly (``target_table_arn``, same account); a table
    copy reads through ``source_role_arn`` or directly (``source_table_arn``).
    ``crawler_database`` lets the same role run the export crawler: it may read and write the
    tables and partitions of that one Data Catalog database (the crawler reads ``export``).
    """
    partition = arns.partition
    statements = [
        _statement("ReadJobArtifacts", ["s3:GetObject"], _objects(parse_s3_uri(artifacts, what="artifacts"), partition)),
    ]
    if export:
        uri = parse_s3_uri(export, what="export")
        folder = export_folder(uri.bucket, uri.key)
        statements += [_statement("ReadExport", ["s3:GetObject"], _objects(folder, partition)),
                       _list_statement("ListExport", folder, partition)]
    if dead_letter:
        uri = parse_s3_uri(dead_letter, what="dead letter")
        statements.append(_statement("WriteDeadLetters", ["s3:AbortMultipartUpload", "s3:PutObject"],
                                     _objects(uri, partition)))
    if temp_dir:
        uri = parse_s3_uri(temp_dir, what="temp dir")
        statements += [_statement("UseTempDir", ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                                  _objects(uri, partition)),
                       _list_statement("ListTempDir", uri, partition)]
    assumed = [arn for arn in (target_role_arn, source_role_arn) if arn]
    for arn in assumed:
        _check(_ROLE_ARN, arn, "role ARN", "arn:aws:iam::ACCOUNT:role/NAME")
    if assumed:
        statements.append(_statement("AssumeMigrationRoles", ["sts:AssumeRole"], assumed))
    if target_table_arn:
        Arns.from_table_arn(target_table_arn)
        statements.append(_statement("WriteTargetTable", _TARGET_WRITE_ACTIONS, target_table_arn))
    if source_table_arn:
        Arns.from_table_arn(source_table_arn)
        statements.append(_statement("ReadSourceTable", _SOURCE_READ_ACTIONS, source_table_arn))
    if crawler_database:
        _check(_CATALOG_NAME, crawler_database, "crawler database", "1–255 lowercase letters, digits, '_' or '-'")
        prefix = f"arn:{partition}:glue:{arns.region}:{arns.account}"
        statements.append(_statement("CrawlerCatalog", _CRAWLER_CATALOG_ACTIONS, [
            f"{prefix}:catalog", f"{prefix}:database/{crawler_database}", f"{prefix}:table/{crawler_database}/*"]))
    if not (target_role_arn or target_table_arn):
        raise ConfigError("Glue role: give the target role ARN (cross-account) or the target table ARN (same account)")
    statements += [
        _statement("GlueLogGroups", ["logs:CreateLogGroup"], arns.log_group("/aws-glue/*")),
        _statement("GlueLogStreams", ["logs:CreateLogStream", "logs:PutLogEvents"],
                   arns.log_group("/aws-glue/*:log-stream:*")),
        _statement("GlueMetrics", ["cloudwatch:PutMetricData"], "*",
                   Condition={"StringEquals": {"cloudwatch:namespace": "Glue"}}),
        _statement("RunMetrics", ["cloudwatch:PutMetricData"], "*",  # the run's own progress (ddbmigrate.progress)
                   Condition={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}}),
    ]
    return _document(statements)


# --------------------------------------------------------------------------- target / source roles


def trust_policy_with_external_id(principals: Sequence[str], external_id: str) -> PolicyDocument:
    """Trust for a cross-account role: only ``principals``, and only with the external id.

    The external id guards against the confused deputy: a principal that may assume roles for
    several customers must also name which customer's role it means.
    """
    if not principals:
        raise ConfigError("trusted principals: name at least one role ARN or account id allowed to assume the role")
    _check(_EXTERNAL_ID, external_id, "external id", "2–1224 characters of letters, digits and +=,.@:/-_")
    resolved = sorted({_principal(p, "trusted principal") for p in principals})
    return _document([{
        "Sid": "TrustedMigrationPrincipals",
        "Effect": "Allow",
        "Principal": {"AWS": resolved[0] if len(resolved) == 1 else resolved},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
    }])


def target_role_policy(table_arn: str, *, checkpoint_table: str | None = None) -> PolicyDocument:
    """Writes to the target table only — nothing the jobs and the replication Lambda do not call.

    ``checkpoint_table`` (a name, in the target table's account and region) is replication's
    ``--checkpoint table:NAME`` / the Lambda's checkpoint table, which the same role creates and updates.
    """
    arns, _ = Arns.from_table_arn(table_arn)
    statements = [_statement("WriteTargetTable", _TARGET_WRITE_ACTIONS, table_arn)]
    if checkpoint_table is not None:
        _check(_TABLE, checkpoint_table, "checkpoint table", "3–255 letters, digits, '_', '-' or '.'")
        statements.append(_statement("ReplicationCheckpoints", _CHECKPOINT_TABLE_ACTIONS, arns.table(checkpoint_table)))
    return _document(statements)


def source_role_policy(table_arn: str) -> PolicyDocument:
    """Reads the source table for a table copy (parallel Scan) — no writes, no other table."""
    Arns.from_table_arn(table_arn)
    return _document([_statement("ReadSourceTable", _SOURCE_READ_ACTIONS, table_arn)])


# --------------------------------------------------------------------------- replication


def replication_role_trust_policy() -> PolicyDocument:
    """Lets the Lambda service assume the replication function's role."""
    return _document([{"Sid": "LambdaService", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                       "Action": "sts:AssumeRole"}])


def replication_role_policy(
    table_arn: str,
    function_name: str,
    target_role_arn: str,
    *,
    failure_destination_arn: str | None = None,
    dead_letter: str | None = None,
    mapping: str | None = None,
) -> PolicyDocument:
    """The stream-replication Lambda: read the source table's streams, log, assume the target role.

    Streams are matched as ``<table ARN>/stream/*`` so that re-enabling the stream (a new stream
    label) does not need a policy change. ``failure_destination_arn`` (SQS queue, SNS topic or S3
    bucket) is where the event source mapping sends batches it gave up on; an S3 destination keeps
    the whole payload and needs ``s3:PutObject`` and ``s3:ListBucket``, as Lambda documents.
    ``dead_letter`` (``s3://B/P/``) is where the function stores changes it can never write, and
    ``mapping`` the ``s3://`` mapping file it reads — both with its own role, never the target's.
    replication/template.yaml grants exactly this (tests/test_replication_template.py compares).
    """
    arns, _ = Arns.from_table_arn(table_arn)
    _check(_FUNCTION, function_name, "function name", "1–64 letters, digits, '-' or '_'")
    _check(_ROLE_ARN, target_role_arn, "target role ARN", "arn:aws:iam::ACCOUNT:role/NAME")
    group = f"/aws/lambda/{function_name}"
    statements = [
        _statement("ReadSourceStream", _STREAM_READ_ACTIONS, f"{table_arn}/stream/*"),
        _statement("ListStreamsHasNoResourceLevelPermissions", ["dynamodb:ListStreams"], "*"),
        _statement("FunctionLogGroup", ["logs:CreateLogGroup"], arns.log_group(group)),
        _statement("FunctionLogStreams", ["logs:CreateLogStream", "logs:PutLogEvents"],
                   arns.log_group(f"{group}:log-stream:*")),
        _statement("AssumeTargetRole", ["sts:AssumeRole"], target_role_arn),
    ]
    if failure_destination_arn and _BUCKET_ARN.match(failure_destination_arn):
        statements += [_statement("SendFailedRecords", ["s3:PutObject"], f"{failure_destination_arn}/*"),
                       _statement("ListFailedRecordsBucket", ["s3:ListBucket"], failure_destination_arn)]
    elif failure_destination_arn:
        _check(_QUEUE_OR_TOPIC_ARN, failure_destination_arn, "failure destination",
               "an SQS queue, SNS topic or S3 bucket ARN (arn:aws:s3:::BUCKET)")
        action = "sqs:SendMessage" if ":sqs:" in failure_destination_arn else "sns:Publish"
        statements.append(_statement("SendFailedRecords", [action], failure_destination_arn))
    if dead_letter:
        uri = parse_s3_uri(dead_letter, what="dead letter")
        statements.append(_statement("WriteDeadLetters", ["s3:AbortMultipartUpload", "s3:PutObject"],
                                     _objects(uri, arns.partition)))
    if mapping:
        uri = parse_s3_uri(mapping, what="mapping")
        statements.append(_statement("ReadMapping", ["s3:GetObject"], f"arn:{arns.partition}:s3:::{uri.bucket}/{uri.key}"))
    return _document(statements)


# --------------------------------------------------------------------------- CloudFormation


def _template(description: str, resources: dict[str, Any], outputs: dict[str, Any] | None = None) -> dict[str, Any]:
    template: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09", "Description": description,
                                "Resources": resources}
    if outputs:
        template["Outputs"] = outputs
    return template


def role_template(role_name: str, description: str, trust: PolicyDocument, policy: PolicyDocument) -> dict[str, Any]:
    """A CloudFormation template creating one role with its trust and an inline policy."""
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": role_name,
            "Description": description,
            "AssumeRolePolicyDocument": trust,
            "Policies": [{"PolicyName": f"{role_name}-permissions", "PolicyDocument": policy}],
        },
    }
    return _template(description, {"Role": role}, {"RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}}})


def bucket_policy_template(bucket: str, description: str, policy: PolicyDocument) -> dict[str, Any]:
    """A CloudFormation template setting a bucket's policy (it replaces any existing one)."""
    resource = {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": bucket, "PolicyDocument": policy}}
    return _template(description, {"BucketPolicy": resource})


def managed_policy_template(name: str, description: str, policy: PolicyDocument) -> dict[str, Any]:
    """A CloudFormation template creating a customer-managed policy (attach it to the exporter)."""
    resource = {"Type": "AWS::IAM::ManagedPolicy",
                "Properties": {"ManagedPolicyName": name, "Description": description, "PolicyDocument": policy}}
    return _template(description, {"Policy": resource}, {"PolicyArn": {"Value": {"Ref": "Policy"}}})
