"""``glue_jobs.yaml``: every Glue job and crawler of a migration, validated before anything is deployed.

The file (reference: ``docs/deploy.md``)::

    version: 1
    artifacts:   {location: s3://BUCKET/PREFIX/, mappings: mappings}
    defaults:    {glue_version: "5.0", role: …, worker_type: G.1X, number_of_workers: 10, arguments: {…}}
    jobs:        {<Glue job name>: {script: jobs/x.py, …job keys, overriding defaults…}}
    crawlers:    {<Glue crawler name>: {role: …, database: …, s3_targets: [{path: s3://…}], …}}

Placeholders: ``${NAME}`` is replaced by ``--var NAME=VALUE`` (which wins) or the environment
variable ``NAME``; ``${NAME:-default}`` falls back to ``default``; ``$$`` is a literal ``$`` (the
syntax of Python's ``string.Template``, which ``crawlers/*.yaml`` definitions also use). An
unset placeholder without a default is an error naming the key and the variable. An argument
that resolves to an empty string is left out of the job (so ``${X:-}`` makes it optional).

Every error names the key path (``jobs.ddbmigrate-export-import.worker_type``) and what is
allowed. Paths in the file (scripts, mappings, crawler definitions) are relative to the file's
folder and must exist.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ddbmigrate.capacity import SLOTS_PER_EXECUTOR
from ddbmigrate.errors import ConfigError
from ddbmigrate.jobargs import JobSpec, check_glue_argument, job_for_script
from ddbmigrate.s3uri import S3Uri, parse_s3_uri

__all__ = [
    "DEFAULT_CONFIG",
    "GLUE_VERSIONS",
    "MANAGED_ARGUMENTS",
    "MAX_TIMEOUT_MINUTES",
    "WORKER_TYPES",
    "CrawlerConfig",
    "DeployConfig",
    "JobConfig",
    "S3Target",
    "load_config",
    "normalize_argument_value",
    "parse_vars",
    "read_required_arguments",
    "resolve_placeholders",
]

DEFAULT_CONFIG = Path("glue_jobs.yaml")
GLUE_VERSIONS = ("5.0",)
"""Glue 5.0 = Spark 3.5.4, Python 3.11 — the runtime the jobs and the library are tested against."""
WORKER_TYPES = tuple(SLOTS_PER_EXECUTOR)
MAX_TIMEOUT_MINUTES = 10080
"""Glue refuses job timeouts above 7 days."""

MANAGED_ARGUMENTS = {
    "--additional-python-modules": "deploy sets it to the uploaded wheel; list more under extra_python_modules",
    "--TempDir": "deploy sets it from temp_dir",
    "--job-language": "deploy sets it to python",
}
"""Default arguments deploy owns; setting them under ``arguments`` is an error that says where instead."""

_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")
_ARGUMENT_KEY = re.compile(r"^--[A-Za-z0-9_.-]+$")
_TOP_LEVEL = ("version", "artifacts", "defaults", "jobs", "crawlers")


# --------------------------------------------------------------------------- placeholders


def parse_vars(pairs: Iterable[str], *, option: str = "--var") -> dict[str, str]:
    """``["A=1", "B=x=y"]`` → ``{"A": "1", "B": "x=y"}``; errors name the option."""
    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ConfigError(f"{option}: {pair!r} is not NAME=VALUE (NAME: letters, digits, '_')")
        result[name] = value
    return result


def resolve_placeholders(tree: Any, variables: Mapping[str, str], *, path: str = "") -> Any:
    """Replace ``${NAME}``/``${NAME:-default}`` (and ``$$`` by ``$``) in every string value of a YAML tree.

    Keys are left as they are. ``path`` prefixes the key path named in errors.
    """
    if isinstance(tree, Mapping):
        return {key: resolve_placeholders(value, variables, path=_join(path, key)) for key, value in tree.items()}
    if isinstance(tree, list):
        return [resolve_placeholders(value, variables, path=f"{path}[{i}]") for i, value in enumerate(tree)]
    if not isinstance(tree, str):
        return tree

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in variables:
            return variables[name]
        if default is not None:
            return default
        raise ConfigError(f"{path or 'value'}: ${{{name}}} is not set; pass --var {name}=VALUE or set the "
                          f"environment variable {name} (or write ${{{name}:-default}})")

    return _VARIABLE.sub(replace, tree)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _check_s3(value: str) -> str:
    """An S3 URI, or a ValueError pydantic reports at the key's path."""
    try:
        parse_s3_uri(value, what="value")
    except ConfigError as exc:
        raise ValueError(str(exc).removeprefix("value: ")) from None
    return value


# --------------------------------------------------------------------------- models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _JobFields(_Model):
    """Keys of a job (and of ``defaults``, where all are optional)."""

    script: str | None = None
    description: str | None = None
    glue_version: str | None = None
    worker_type: str | None = None
    number_of_workers: int | None = Field(default=None, ge=2)
    timeout_minutes: int | None = Field(default=None, ge=1, le=MAX_TIMEOUT_MINUTES)
    max_concurrent_runs: int | None = Field(default=None, ge=1)
    max_retries: int | None = Field(default=None, ge=0, le=10)
    role: str | None = Field(default=None, min_length=1)
    temp_dir: str | None = None
    mapping: str | None = None
    tags: dict[str, str] | None = None
    arguments: dict[str, Any] | None = None
    required_arguments: list[str] | None = None
    extra_python_modules: list[str] | None = None
    connections: list[str] | None = None
    security_configuration: str | None = None

    @field_validator("glue_version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = f"{float(value):.1f}"
        if value is not None and value not in GLUE_VERSIONS:
            raise ValueError(f"{value!r} is not supported; expected one of {', '.join(GLUE_VERSIONS)}")
        return value

    @field_validator("worker_type")
    @classmethod
    def _worker_type(cls, value: str | None) -> str | None:
        if value is not None and value not in WORKER_TYPES:
            raise ValueError(f"{value!r} is not a Glue worker type; expected one of {', '.join(WORKER_TYPES)}")
        return value

    @field_validator("temp_dir")
    @classmethod
    def _s3(cls, value: str | None) -> str | None:
        return None if value is None else _check_s3(value)


class S3Target(_Model):
    """One ``Targets.S3Targets`` entry of a crawler."""

    path: str
    exclusions: list[str] = Field(default_factory=list)
    sample_size: int | None = Field(default=None, ge=1, le=249)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _check_s3(value)


class _SchemaChangePolicy(_Model):
    update_behavior: str = "UPDATE_IN_DATABASE"
    delete_behavior: str = "LOG"

    @field_validator("update_behavior")
    @classmethod
    def _update(cls, value: str) -> str:
        return _one_of(value, ("LOG", "UPDATE_IN_DATABASE"))

    @field_validator("delete_behavior")
    @classmethod
    def _delete(cls, value: str) -> str:
        return _one_of(value, ("LOG", "DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE"))


def _one_of(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{value!r} is not allowed; expected one of {', '.join(allowed)}")
    return value


class _CrawlerFields(_Model):
    name: str | None = None
    enabled: Any = True
    definition: str | None = None
    variables: dict[str, Any] | None = None
    description: str | None = None
    role: str | None = Field(default=None, min_length=1)
    database: str | None = Field(default=None, min_length=1)
    s3_targets: list[S3Target] | None = None
    table_prefix: str | None = None
    schedule: str | None = None
    schema_change_policy: _SchemaChangePolicy | None = None
    recrawl_behavior: str | None = None
    configuration: dict[str, Any] | None = None
    classifiers: list[str] | None = None
    classifier: dict[str, Any] | None = None
    tags: dict[str, str] | None = None

    @field_validator("recrawl_behavior")
    @classmethod
    def _recrawl(cls, value: str | None) -> str | None:
        return None if value is None else _one_of(value, ("CRAWL_EVERYTHING", "CRAWL_NEW_FOLDERS_ONLY",
                                                         "CRAWL_EVENT_MODE"))

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"cron\(.+\)", value):
            raise ValueError(f"{value!r} is not a Glue schedule; expected cron(…), e.g. cron(15 12 * * ? *)")
        return value

    @field_validator("classifier")
    @classmethod
    def _classifier(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        kinds = ("JsonClassifier", "CsvClassifier", "GrokClassifier", "XMLClassifier")
        if len(value) != 1 or next(iter(value)) not in kinds or not isinstance(next(iter(value.values())), dict):
            raise ValueError(f"expected a CreateClassifier request with one of {', '.join(kinds)}")
        if not next(iter(value.values())).get("Name"):
            raise ValueError("the classifier needs a Name")
        return value


class _Artifacts(_Model):
    location: str
    mappings: str = "mappings"

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        return _check_s3(value)


class _File(_Model):
    version: int = 1
    artifacts: _Artifacts
    defaults: _JobFields = Field(default_factory=_JobFields)
    jobs: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    crawlers: dict[str, dict[str, Any] | None] = Field(default_factory=dict)

    @field_validator("version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != 1:
            raise ValueError(f"{value} is not supported; expected 1")
        return value


# --------------------------------------------------------------------------- resolved config


@dataclass(frozen=True)
class JobConfig:
    """One job after defaults, placeholders and validation: what deploy makes Glue hold."""

    name: str
    script: Path
    glue_version: str
    worker_type: str
    number_of_workers: int
    timeout_minutes: int
    max_concurrent_runs: int
    max_retries: int
    role: str
    temp_dir: str | None
    description: str = ""
    mapping: Path | None = None
    tags: dict[str, str] = field(default_factory=dict)
    arguments: dict[str, str] = field(default_factory=dict)
    required_arguments: tuple[str, ...] = ()
    extra_python_modules: tuple[str, ...] = ()
    connections: tuple[str, ...] = ()
    security_configuration: str | None = None


@dataclass(frozen=True)
class CrawlerConfig:
    """One crawler after its definition file, placeholders and validation."""

    name: str
    role: str
    database: str
    s3_targets: tuple[S3Target, ...]
    description: str = ""
    table_prefix: str = ""
    schedule: str | None = None
    update_behavior: str = "UPDATE_IN_DATABASE"
    delete_behavior: str = "LOG"
    recrawl_behavior: str | None = None
    configuration: str | None = None
    classifiers: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    classifier: dict[str, Any] | None = None
    """A ``CreateClassifier`` request the crawler uses (deployed before the crawler)."""
    key: str = ""
    """The crawler's key in glue_jobs.yaml (its name may come from the definition file)."""


@dataclass(frozen=True)
class DeployConfig:
    """The whole file, resolved. Paths are absolute."""

    path: Path
    root: Path
    artifacts: S3Uri
    mappings_dir: Path
    jobs: dict[str, JobConfig]
    crawlers: dict[str, CrawlerConfig]


def load_config(
    path: str | Path = DEFAULT_CONFIG,
    variables: Mapping[str, str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    check_files: bool = True,
) -> DeployConfig:
    """Read, resolve and validate ``glue_jobs.yaml``; :class:`ConfigError` names the key at fault.

    ``variables`` (from ``--var``) win over ``environ`` (default: ``os.environ``).
    ``check_files=False`` skips the existence checks of scripts and mappings (``--dry-run`` on a
    machine without the repository still needs them, so deploy keeps the default).
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--config: {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with the keys {', '.join(_TOP_LEVEL)}")
    values = {**(environ if environ is not None else os.environ), **(variables or {})}
    try:
        tree = resolve_placeholders(raw, values)
        file = _validate(_File, tree, "")
        root = path.resolve().parent
        artifacts = parse_s3_uri(file.artifacts.location, what="artifacts.location").folder()
        jobs = {name: _job(name, file.defaults, spec, root, check_files) for name, spec in file.jobs.items()}
        crawlers = {}
        for key, spec in file.crawlers.items():
            crawler = _crawler(key, spec, root, values)
            if crawler is not None:
                if crawler.name in crawlers:
                    raise ConfigError(f"crawlers.{key}: another crawler is also named {crawler.name!r}")
                crawlers[crawler.name] = crawler
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not jobs and not crawlers:
        raise ConfigError(f"{path}: no jobs and no crawlers; nothing to deploy")
    mappings_dir = root / file.artifacts.mappings
    return DeployConfig(path=path.resolve(), root=root, artifacts=artifacts, mappings_dir=mappings_dir,
                        jobs=jobs, crawlers=crawlers)


def _validate(model: type[_Model], data: Any, path: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("; ".join(_describe(model, error, path) for error in exc.errors())) from None


def _describe(model: type[_Model], error: Any, path: str) -> str:
    where = path
    for part in error["loc"]:
        where = _join(where, part)
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _model_at(model, error["loc"][:-1])
        allowed = f"; allowed: {', '.join(parent.model_fields)}" if parent else ""
        return f"{where}: unknown key{allowed}"
    if kind == "missing":
        return f"{where}: required, but missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    shown = "" if isinstance(value, (dict, list)) or "expected" in message else f" (got {value!r})"
    return f"{where}: {message}{shown}"


def _model_at(model: type[_Model], loc: tuple[Any, ...]) -> type[_Model] | None:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = current.model_fields.get(part).annotation if current.model_fields.get(part) else None
        current = next((a for a in getattr(annotation, "__args__", (annotation,))
                        if isinstance(a, type) and issubclass(a, _Model)), None)
        if current is None:
            return None
    return current


def _job(name: str, defaults: _JobFields, spec: Any, root: Path, check_files: bool) -> JobConfig:
    where = f"jobs.{name}"
    if not _NAME.match(name):
        raise ConfigError(f"{where}: job names are 1–255 letters, digits, '_', '-' or '.'")
    own = _validate(_JobFields, spec if spec is not None else {}, where)
    merged = {**defaults.model_dump(exclude_none=True), **own.model_dump(exclude_none=True)}
    merged["tags"] = {**(defaults.tags or {}), **(own.tags or {})}
    merged["arguments"] = {**(defaults.arguments or {}), **(own.arguments or {})}
    for key in ("script", "glue_version", "worker_type", "number_of_workers", "role"):
        if key not in merged:
            raise ConfigError(f"{where}.{key}: required (in the job or under defaults), but missing")
    job_spec = job_for_script(merged["script"])
    arguments = {}
    for key, value in merged["arguments"].items():
        text = normalize_argument_value(value)
        if key in MANAGED_ARGUMENTS:
            raise ConfigError(f"{where}.arguments.{key}: {MANAGED_ARGUMENTS[key]}")
        check_glue_argument(key, text, job=job_spec, where=f"{where}.arguments.{key}", deployed=True)
        if text != "":
            arguments[key] = text
    if merged.get("mapping") and "--mapping" in arguments:
        raise ConfigError(f"{where}.mapping: set either mapping (a local file deploy uploads) or "
                          "arguments.--mapping (an S3 URI), not both")
    required = _required_arguments(job_spec, merged.get("required_arguments") or (), where)
    script = _local_file(root, merged["script"], f"{where}.script", check_files)
    mapping = _local_file(root, merged["mapping"], f"{where}.mapping", check_files) if merged.get("mapping") else None
    return JobConfig(
        name=name, script=script, glue_version=merged["glue_version"], worker_type=merged["worker_type"],
        number_of_workers=merged["number_of_workers"], timeout_minutes=merged.get("timeout_minutes", 2880),
        max_concurrent_runs=merged.get("max_concurrent_runs", 1), max_retries=merged.get("max_retries", 0),
        role=merged["role"], temp_dir=merged.get("temp_dir"), description=merged.get("description", ""),
        mapping=mapping, tags=merged["tags"], arguments=arguments, required_arguments=required,
        extra_python_modules=tuple(merged.get("extra_python_modules") or ()),
        connections=tuple(merged.get("connections") or ()),
        security_configuration=merged.get("security_configuration"),
    )


def _required_arguments(job: JobSpec | None, listed: Iterable[str], where: str) -> tuple[str, ...]:
    """What a run must have: our script's declared required arguments, plus any ``required_arguments``
    the file lists (for other scripts, or to make an optional one required for this job)."""
    for key in listed:
        if not _ARGUMENT_KEY.match(key):
            raise ConfigError(f"{where}.required_arguments: {key!r} must be a Glue argument name like '--export_uri'")
        check_glue_argument(key, "", job=job, where=f"{where}.required_arguments")
    declared = job.required if job is not None else ()
    return tuple(dict.fromkeys([*declared, *listed]))


def _local_file(root: Path, relative: str, where: str, check: bool) -> Path:
    path = (root / relative).resolve()
    if check and not path.is_file():
        raise ConfigError(f"{where}: {relative} does not exist (paths are relative to {root})")
    if root not in path.parents:
        raise ConfigError(f"{where}: {relative} is outside {root}; keep scripts and mappings in the repository")
    return path


def normalize_argument_value(value: Any) -> str:
    """YAML scalars as Glue receives them: strings; ``true``/``false``; numbers as written."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise ConfigError(f"expected a string, number or boolean, got {type(value).__name__}")


# --------------------------------------------------------------------------- crawlers

_DEFINITION_KEYS = {
    "Name": "name", "Role": "role", "DatabaseName": "database", "Description": "description",
    "Targets": "s3_targets", "TablePrefix": "table_prefix", "Schedule": "schedule",
    "SchemaChangePolicy": "schema_change_policy", "RecrawlPolicy": "recrawl_behavior",
    "Configuration": "configuration", "Classifiers": "classifiers", "Tags": "tags",
}
_DISABLED = ("", "false", "no", "off", "0")


def _crawler(key: str, spec: Any, root: Path, values: Mapping[str, str]) -> CrawlerConfig | None:
    """One crawler entry, or None when its ``enabled`` resolves to empty/false (it is then left alone)."""
    where = f"crawlers.{key}"
    if not _NAME.match(key):
        raise ConfigError(f"{where}: crawler keys are 1–255 letters, digits, '_', '-' or '.'")
    own = _validate(_CrawlerFields, spec if spec is not None else {}, where)
    if normalize_argument_value(own.enabled).strip().lower() in _DISABLED:
        return None
    base: dict[str, Any] = {}
    if own.definition:
        variables = {k: normalize_argument_value(v) for k, v in (own.variables or {}).items()}
        empty = sorted(k for k, v in variables.items() if v == "")
        if empty:
            raise ConfigError(f"{where}.variables.{empty[0]}: empty; the definition needs a value "
                              "(pass the --var it comes from)")
        base = _definition(root, own.definition, f"{where}.definition", {**values, **variables})
    elif own.variables:
        raise ConfigError(f"{where}.variables: only used to fill a definition file; add definition: or remove them")
    overrides = own.model_dump(exclude_none=True, exclude={"definition", "variables", "enabled"})
    merged = {**base, **overrides}
    merged["tags"] = {**(base.get("tags") or {}), **(own.tags or {})}
    fields = _validate(_CrawlerFields, merged, where)
    for field_name in ("role", "database", "s3_targets"):
        if getattr(fields, field_name) in (None, []):
            raise ConfigError(f"{where}.{field_name}: required (here or in the definition file), but missing")
    name = fields.name or key
    if not _NAME.match(name):
        raise ConfigError(f"{where}.name: {name!r} is not a crawler name (1–255 letters, digits, '_', '-' or '.')")
    classifiers = list(fields.classifiers or ())
    if fields.classifier:
        own_name = next(iter(fields.classifier.values()))["Name"]
        if own_name not in classifiers:
            raise ConfigError(f"{where}.classifiers: the crawler's classifier {own_name!r} is defined but not used")
    policy = fields.schema_change_policy or _SchemaChangePolicy()
    return CrawlerConfig(
        name=name, role=fields.role, database=fields.database, s3_targets=tuple(fields.s3_targets),
        description=fields.description or "", table_prefix=fields.table_prefix or "", schedule=fields.schedule,
        update_behavior=policy.update_behavior, delete_behavior=policy.delete_behavior,
        recrawl_behavior=fields.recrawl_behavior,
        configuration=json.dumps(fields.configuration, sort_keys=True, separators=(",", ":"))
        if fields.configuration is not None else None,
        classifiers=tuple(classifiers), tags=dict(fields.tags or {}), classifier=fields.classifier, key=key,
    )


def _definition(root: Path, relative: str, where: str, values: Mapping[str, str]) -> dict[str, Any]:
    """A crawler file written as Glue's requests, as our snake_case keys.

    Two shapes: a file of ``CreateCrawler`` fields, or (as ``crawlers/export_crawler.yaml``) a
    ``Crawler`` request plus an optional ``Classifier`` (a ``CreateClassifier`` request).
    Placeholders (``${name}``, ``$$``) are filled from the crawler's ``variables`` and ``--var``.
    """
    path = _local_file(root, relative, where, True)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: {relative} is not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {relative} should hold a Crawler request (Role, DatabaseName, Targets, …)")
    raw = resolve_placeholders(raw, values, path=relative)
    crawler, classifier, prefix = raw, None, relative
    if "Crawler" in raw:
        unknown = sorted(set(raw) - {"Crawler", "Classifier"})
        if unknown:
            raise ConfigError(f"{relative}.{unknown[0]}: unknown key; allowed: Crawler, Classifier")
        crawler, classifier, prefix = raw["Crawler"], raw.get("Classifier"), f"{relative}.Crawler"
    if not isinstance(crawler, dict):
        raise ConfigError(f"{prefix}: expected CreateCrawler fields (Role, DatabaseName, Targets, …)")
    result: dict[str, Any] = {}
    for key, value in crawler.items():
        if key not in _DEFINITION_KEYS:
            raise ConfigError(f"{prefix}.{key}: not a CreateCrawler field we deploy; "
                              f"allowed: {', '.join(_DEFINITION_KEYS)}")
        result[_DEFINITION_KEYS[key]] = _from_api(key, value, f"{prefix}.{key}")
    if classifier is not None:
        result["classifier"] = classifier
    return result


def _from_api(key: str, value: Any, where: str) -> Any:
    if key == "Targets":
        if not isinstance(value, dict) or set(value) - {"S3Targets"}:
            raise ConfigError(f"{where}: only S3Targets are deployed")
        return [{"path": t.get("Path"), "exclusions": t.get("Exclusions", []),
                 **({"sample_size": t["SampleSize"]} if "SampleSize" in t else {})} for t in value["S3Targets"]]
    if key == "SchemaChangePolicy":
        return {"update_behavior": value.get("UpdateBehavior", "UPDATE_IN_DATABASE"),
                "delete_behavior": value.get("DeleteBehavior", "LOG")}
    if key == "RecrawlPolicy":
        return value.get("RecrawlBehavior")
    if key == "Configuration" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ConfigError(f"{where}: not valid JSON") from None
    if key == "Schedule" and isinstance(value, dict):
        return value.get("ScheduleExpression")
    return value


# --------------------------------------------------------------------------- start-time look-up


def read_required_arguments(path: str | Path, job_name: str) -> tuple[str, ...] | None:
    """The ``required_arguments`` of a job (merged with defaults), without resolving placeholders.

    ``ddbmigrate start`` uses this to refuse a run that lacks, e.g., ``--export_uri`` before Glue
    bills for it. None when the file or the job is not there.
    """
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(raw, dict) or job_name not in (raw.get("jobs") or {}):
        return None
    job = raw["jobs"][job_name] or {}
    defaults = raw.get("defaults") or {}
    required = job.get("required_arguments", defaults.get("required_arguments")) or []
    return tuple(str(r) for r in required)
