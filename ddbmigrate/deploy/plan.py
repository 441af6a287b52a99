"""Desired state → the API calls that make AWS match it. Pure: no boto3, no files, no clock.

:func:`desired_state` turns the resolved ``glue_jobs.yaml`` plus the artifacts to upload into
exact request bodies (``CreateJob``, ``CreateCrawler``, ``PutObject``…); :func:`plan` compares them
with what AWS reported (``GetJob``, ``GetCrawler``, ``GetTags``, ``HeadObject``, ``GetDatabase``)
and returns only the calls that change something, in a safe order (artifacts before the jobs that
point at them, the database before its crawler). **A second deploy of the same state plans
nothing**: comparisons normalise what Glue adds or reports differently (a role name vs. its ARN,
``JobMode`` defaulting to SCRIPT, empty lists reported as absent, the crawler's JSON configuration
re-serialised, S3 objects by content digest rather than by upload time).

``UpdateJob`` and ``UpdateCrawler`` replace the whole definition, so they always carry every field
we manage. A job update resets fields this file does not manage (e.g. a ``NotificationProperty``
set in the console) — the repository is the source of truth. A crawler's ``Schedule``,
``Configuration`` and ``Classifiers`` are managed only when the file sets them (``UpdateCrawler``
leaves omitted fields as they are).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ddbmigrate.deploy.config import CrawlerConfig, DeployConfig, JobConfig
from ddbmigrate.errors import ConfigError
from ddbmigrate.s3uri import S3Uri

__all__ = [
    "DIGEST_METADATA_KEY",
    "ApiCall",
    "Artifact",
    "CurrentState",
    "DesiredState",
    "crawler_definition",
    "desired_state",
    "diff_classifier",
    "diff_crawler",
    "diff_job",
    "job_definition",
    "plan",
    "resource_arn",
]

DIGEST_METADATA_KEY = "ddbmigrate-sha256"
"""S3 user metadata holding an artifact's content digest, so unchanged files are not re-uploaded."""

_AWS_TAG_PREFIX = "aws:"


@dataclass(frozen=True)
class Artifact:
    """A local file to upload: where it goes, and its content digest (see ``apply.file_digest``)."""

    kind: str
    local: Path
    uri: S3Uri
    digest: str


@dataclass(frozen=True)
class ApiCall:
    """One request deploy makes. ``body`` is the local file for a ``put_object``."""

    service: str
    operation: str
    params: dict[str, Any]
    reason: str
    body: Path | None = None

    def describe(self) -> str:
        """``glue UpdateJob ddbmigrate-export-import (changed: WorkerType, DefaultArguments[--write_percent])``."""
        name = "".join(part.title() for part in self.operation.split("_"))
        target = (self.params.get("Name") or self.params.get("JobName") or self.params.get("ResourceArn")
                  or (self.params.get("DatabaseInput") or {}).get("Name"))
        if target is None and len(self.params) == 1:  # a classifier: {"JsonClassifier": {"Name": …}}
            target = (next(iter(self.params.values())) or {}).get("Name")
        if self.service == "s3":
            target = f"s3://{self.params['Bucket']}/{self.params['Key']}"
        return f"{self.service} {name} {target} ({self.reason})"


@dataclass(frozen=True)
class DesiredState:
    """What AWS should hold after deploy."""

    artifacts: tuple[Artifact, ...]
    jobs: dict[str, dict[str, Any]]
    job_tags: dict[str, dict[str, str]]
    crawlers: dict[str, dict[str, Any]]
    crawler_tags: dict[str, dict[str, str]]
    databases: tuple[str, ...]
    arn_prefix: str
    classifiers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Classifier name → ``CreateClassifier`` body (``{"JsonClassifier": {...}}``)."""
    """``arn:<partition>:glue:<region>:<account>``, for tag calls."""


@dataclass
class CurrentState:
    """What AWS holds now; None/absent means "does not exist"."""

    objects: dict[str, str | None] = field(default_factory=dict)
    """Artifact URI → its stored digest (None: missing, or uploaded by something else)."""
    jobs: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    job_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    crawlers: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    crawler_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    databases: dict[str, bool] = field(default_factory=dict)
    classifiers: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    """Classifier name → GetClassifier's ``Classifier`` (None: missing)."""


def resource_arn(arn_prefix: str, kind: str, name: str) -> str:
    """``arn:aws:glue:R:A`` + ``job`` + name → the job's ARN (tags are set by ARN)."""
    return f"{arn_prefix}:{kind}/{name}"


# --------------------------------------------------------------------------- desired state


def job_definition(job: JobConfig, *, script_uri: str, wheel_uri: str, mapping_uri: str | None) -> dict[str, Any]:
    """The ``JobUpdate`` body (``CreateJob`` without ``Name``/``Tags``) for one job.

    Default arguments: the job's own, plus ``--job-language python``, ``--TempDir``,
    ``--additional-python-modules`` (our wheel — Glue 5.0 installs wheels from S3 with pip;
    ``--extra-py-files`` would only put files on the path, without the wheel's dependencies) and
    ``--mapping`` when the job names a mapping file.
    """
    arguments = dict(job.arguments)
    arguments["--job-language"] = "python"
    arguments["--additional-python-modules"] = ",".join([wheel_uri, *job.extra_python_modules])
    if job.temp_dir:
        arguments["--TempDir"] = job.temp_dir
    if mapping_uri:
        arguments["--mapping"] = mapping_uri
    definition: dict[str, Any] = {
        "JobMode": "SCRIPT",
        "Description": job.description,
        "Role": job.role,
        "ExecutionProperty": {"MaxConcurrentRuns": job.max_concurrent_runs},
        "Command": {"Name": "glueetl", "ScriptLocation": script_uri, "PythonVersion": "3"},
        "DefaultArguments": dict(sorted(arguments.items())),
        "MaxRetries": job.max_retries,
        "Timeout": job.timeout_minutes,
        "GlueVersion": job.glue_version,
        "WorkerType": job.worker_type,
        "NumberOfWorkers": job.number_of_workers,
    }
    if job.connections:
        definition["Connections"] = {"Connections": list(job.connections)}
    if job.security_configuration:
        definition["SecurityConfiguration"] = job.security_configuration
    return definition


def crawler_definition(crawler: CrawlerConfig) -> dict[str, Any]:
    """The ``UpdateCrawler`` body (``CreateCrawler`` without ``Tags``) for one crawler."""
    targets = []
    for target in crawler.s3_targets:
        entry: dict[str, Any] = {"Path": target.path, "Exclusions": list(target.exclusions)}
        if target.sample_size is not None:
            entry["SampleSize"] = target.sample_size
        targets.append(entry)
    definition: dict[str, Any] = {
        "Name": crawler.name,
        "Role": crawler.role,
        "DatabaseName": crawler.database,
        "Description": crawler.description,
        "Targets": {"S3Targets": targets},
        "TablePrefix": crawler.table_prefix,
        "SchemaChangePolicy": {"UpdateBehavior": crawler.update_behavior, "DeleteBehavior": crawler.delete_behavior},
    }
    definition["RecrawlPolicy"] = {"RecrawlBehavior": crawler.recrawl_behavior or "CRAWL_EVERYTHING"}
    if crawler.configuration is not None:
        definition["Configuration"] = crawler.configuration
    if crawler.classifiers:
        definition["Classifiers"] = list(crawler.classifiers)
    if crawler.schedule:
        definition["Schedule"] = crawler.schedule
    return definition


def desired_state(config: DeployConfig, artifacts: Sequence[Artifact], *, arn_prefix: str) -> DesiredState:
    """Everything deploy should create, given the artifacts (with digests) it will upload."""
    by_local = {artifact.local: str(artifact.uri) for artifact in artifacts}
    wheels = [str(a.uri) for a in artifacts if a.kind == "wheel"]
    if config.jobs and len(wheels) != 1:
        raise ValueError(f"expected exactly one wheel artifact, got {len(wheels)}")
    jobs = {
        name: job_definition(job, script_uri=by_local[job.script], wheel_uri=wheels[0],
                             mapping_uri=by_local[job.mapping] if job.mapping else None)
        for name, job in config.jobs.items()
    }
    crawlers = {name: crawler_definition(crawler) for name, crawler in config.crawlers.items()}
    databases = tuple(sorted({crawler.database for crawler in config.crawlers.values()}))
    classifiers: dict[str, dict[str, Any]] = {}
    for crawler in config.crawlers.values():
        if crawler.classifier:
            name = next(iter(crawler.classifier.values()))["Name"]
            if classifiers.get(name, crawler.classifier) != crawler.classifier:
                raise ConfigError(f"crawlers.{crawler.key}.classifier: another crawler defines classifier {name!r} "
                                  "differently; give one of them another Name")
            classifiers[name] = crawler.classifier
    return DesiredState(
        artifacts=tuple(artifacts), jobs=jobs, job_tags={n: dict(j.tags) for n, j in config.jobs.items()},
        crawlers=crawlers, crawler_tags={n: dict(c.tags) for n, c in config.crawlers.items()},
        databases=databases, arn_prefix=arn_prefix, classifiers=classifiers,
    )


# --------------------------------------------------------------------------- diff


def _role_name(role: Any) -> Any:
    """``arn:aws:iam::1:role/path/name`` and ``name`` compare equal (Glue accepts both)."""
    return role.rsplit("/", 1)[-1] if isinstance(role, str) else role


def diff_job(desired: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Names of the fields (and default arguments) that differ; empty when the job is up to date."""
    changed = []
    for key, want in desired.items():
        have = current.get(key)
        if key == "Role":
            same = _role_name(want) == _role_name(have)
        elif key == "JobMode":
            same = want == (have or "SCRIPT")
        elif key == "Description":
            same = want == (have or "")
        elif key == "Command":
            have = have or {}
            same = all(have.get(k) == v for k, v in want.items())
        elif key == "DefaultArguments":
            have = have or {}
            keys = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
            changed += [f"DefaultArguments[{k}]" for k in keys]
            continue
        elif key == "Connections":
            same = list(want.get("Connections", [])) == list((have or {}).get("Connections") or [])
        else:
            same = want == have
        if not same:
            changed.append(key)
    if "Connections" not in desired and ((current.get("Connections") or {}).get("Connections") or []):
        changed.append("Connections")
    if "SecurityConfiguration" not in desired and current.get("SecurityConfiguration"):
        changed.append("SecurityConfiguration")
    return changed


def _targets(targets: Any) -> list[dict[str, Any]]:
    result = []
    for target in (targets or {}).get("S3Targets") or []:
        entry = {"Path": target.get("Path"), "Exclusions": list(target.get("Exclusions") or [])}
        if target.get("SampleSize") is not None:
            entry["SampleSize"] = target["SampleSize"]
        result.append(entry)
    return result


def _configuration(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) and text else None
    except ValueError:
        return text


def diff_crawler(desired: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Names of the crawler fields that differ (GetCrawler's shapes normalised to CreateCrawler's)."""
    changed = []
    for key, want in desired.items():
        have = current.get(key)
        if key == "Name":
            continue
        if key == "Role":
            same = _role_name(want) == _role_name(have)
        elif key in ("Description", "TablePrefix"):
            same = want == (have or "")
        elif key == "Targets":
            same = _targets(want) == _targets(have)
        elif key == "Configuration":
            same = _configuration(want) == _configuration(have)
        elif key == "Schedule":
            same = want == (have or {}).get("ScheduleExpression")
        elif key == "Classifiers":
            same = list(want) == list(have or [])
        elif key == "RecrawlPolicy":
            same = want == {"RecrawlBehavior": (have or {}).get("RecrawlBehavior") or "CRAWL_EVERYTHING"}
        elif key == "SchemaChangePolicy":
            have = have or {}
            same = all(have.get(k) == v for k, v in want.items())
        else:
            same = want == have
        if not same:
            changed.append(key)
    return changed


def diff_classifier(desired: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Fields of a classifier that differ (GetClassifier adds times and a version, ignored)."""
    ((kind, want),) = desired.items()
    have = current.get(kind)
    if have is None:
        return [kind]
    return [f"{kind}.{key}" for key, value in want.items() if have.get(key) != value]


def _tag_calls(arn: str, want: Mapping[str, str], have: Mapping[str, str]) -> list[ApiCall]:
    calls = []
    add = {k: v for k, v in sorted(want.items()) if have.get(k) != v}
    remove = sorted(k for k in have if k not in want and not k.startswith(_AWS_TAG_PREFIX))
    if add:
        calls.append(ApiCall("glue", "tag_resource", {"ResourceArn": arn, "TagsToAdd": add},
                             f"tags: {', '.join(add)}"))
    if remove:
        calls.append(ApiCall("glue", "untag_resource", {"ResourceArn": arn, "TagsToRemove": remove},
                             f"tags removed: {', '.join(remove)}"))
    return calls


# --------------------------------------------------------------------------- plan


def plan(desired: DesiredState, current: CurrentState) -> list[ApiCall]:
    """The calls that bring AWS from ``current`` to ``desired``, in execution order."""
    calls: list[ApiCall] = []
    for artifact in desired.artifacts:
        stored = current.objects.get(str(artifact.uri))
        if stored == artifact.digest:
            continue
        calls.append(ApiCall(
            "s3", "put_object",
            {"Bucket": artifact.uri.bucket, "Key": artifact.uri.key, "Metadata": {DIGEST_METADATA_KEY: artifact.digest}},
            f"{artifact.kind} {artifact.local.name}: {'new' if stored is None else 'changed'}", body=artifact.local,
        ))
    for database in desired.databases:
        if not current.databases.get(database):
            calls.append(ApiCall("glue", "create_database",
                                 {"DatabaseInput": {"Name": database, "Description": "ddbmigrate export crawler"}},
                                 "new"))
    for name, body in desired.classifiers.items():
        existing_classifier = current.classifiers.get(name)
        if existing_classifier is None:
            calls.append(ApiCall("glue", "create_classifier", dict(body), "new"))
        else:
            changed = diff_classifier(body, existing_classifier)
            if changed:
                calls.append(ApiCall("glue", "update_classifier", dict(body), f"changed: {', '.join(changed)}"))
    for name, definition in desired.jobs.items():
        existing = current.jobs.get(name)
        arn = resource_arn(desired.arn_prefix, "job", name)
        if existing is None:
            params = {"Name": name, **definition}
            if desired.job_tags[name]:
                params["Tags"] = desired.job_tags[name]
            calls.append(ApiCall("glue", "create_job", params, "new"))
            continue
        changed = diff_job(definition, existing)
        if changed:
            calls.append(ApiCall("glue", "update_job", {"JobName": name, "JobUpdate": definition},
                                 f"changed: {', '.join(changed)}"))
        calls += _tag_calls(arn, desired.job_tags[name], current.job_tags.get(name, {}))
    for name, definition in desired.crawlers.items():
        existing = current.crawlers.get(name)
        arn = resource_arn(desired.arn_prefix, "crawler", name)
        if existing is None:
            params = dict(definition)
            if desired.crawler_tags[name]:
                params["Tags"] = desired.crawler_tags[name]
            calls.append(ApiCall("glue", "create_crawler", params, "new"))
            continue
        changed = diff_crawler(definition, existing)
        if changed:
            calls.append(ApiCall("glue", "update_crawler", dict(definition), f"changed: {', '.join(changed)}"))
        calls += _tag_calls(arn, desired.crawler_tags[name], current.crawler_tags.get(name, {}))
    return calls
