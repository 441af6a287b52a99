"""Each Glue job's arguments, declared once: name, kind, default, range, help, required.

Everything else is derived from these declarations: the list a script hands ``getResolvedOptions``
(:meth:`JobSpec.resolved_names`), the typed parse of Glue's strings (:meth:`JobSpec.parse`), the
``ddbmigrate run`` options (``ddbmigrate.cli.jobopts``), and the checks of ``glue_jobs.yaml`` and
``ddbmigrate start --arg`` (:func:`check_glue_argument`). A value is validated here and nowhere
else, so the CLI refuses ``--write-percent 2`` before Spark starts, with the same words as Glue.
Pure Python: it runs on Glue workers, which have neither click nor pydantic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ddbmigrate.accounts import Account
from ddbmigrate.capacity import DEFAULT_READ_PERCENT, DEFAULT_WRITE_PERCENT, validate_percent
from ddbmigrate.errors import ConfigError
from ddbmigrate.progress.monitor import METRICS_CHOICES
from ddbmigrate.sink.options import DEFAULT_REQUESTS_IN_FLIGHT, GLUE_DEFAULT_RETRIES

__all__ = [
    "ACCOUNT_FIELDS",
    "APPLY_MAPPING_CHOICES",
    "EXPORT_IMPORT",
    "JOBS",
    "MAX_SPLITS",
    "TABLE_COPY",
    "Argument",
    "JobSpec",
    "ParsedArgs",
    "account_of",
    "check_glue_argument",
    "job_for_script",
    "side_arguments",
]

Kind = Literal["text", "int", "percent", "flag", "choice"]

MAX_SPLITS = 1_000_000
"""DynamoDB's limit on a Scan's ``TotalSegments``."""
APPLY_MAPPING_CHOICES = ("auto", "always")
ACCOUNT_FIELDS = ("profile", "region", "endpoint_url", "role_arn", "external_id")
"""The per-side arguments that make an :class:`~ddbmigrate.accounts.Account` (``--target_role_arn`` …)."""

_ABSENT = (None, "", "None")
"""What ``getResolvedOptions`` hands over for an argument given without a value (Glue passes "")."""


@dataclass(frozen=True)
class Argument:
    """One job argument. ``name`` is Glue's (``write_percent`` → ``--write_percent``); the CLI
    spells it with dashes (``--write-percent``) unless ``cli`` names another option."""

    name: str
    kind: Kind
    help: str
    default: Any = None
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    local_only: bool = False
    """Only meaningful on the local runtime (a profile, an endpoint); refused in ``glue_jobs.yaml``."""
    cli: str | None = None

    @property
    def glue_flag(self) -> str:
        return f"--{self.name}"

    @property
    def cli_flag(self) -> str:
        return self.cli or "--" + self.name.replace("_", "-")

    def parse(self, raw: Any, *, option: str | None = None) -> Any:
        """Glue's string (or None) → the typed value, the default when absent; errors name ``option``."""
        option = option or self.glue_flag
        if raw in _ABSENT:
            if self.required:
                raise ConfigError(f"{option} is required: {self.help[0].lower()}{self.help[1:]}")
            return self.default
        text = str(raw).strip()
        if self.kind == "percent":
            return validate_percent(text, option=option)
        if self.kind == "flag":
            if text.lower() not in ("true", "false"):
                raise ConfigError(f"{option}: expected true or false, got {text!r}")
            return text.lower() == "true"
        if self.kind == "choice":
            if text not in self.choices:
                raise ConfigError(f"{option}: expected one of {', '.join(self.choices)}, got {text!r}")
            return text
        if self.kind == "int":
            return self._integer(text, option)
        return text

    def _integer(self, text: str, option: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"{option}: expected a whole number, got {text!r}") from None
        low, high = self.minimum, self.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"between {low:,} and {high:,}" if low is not None and high is not None else f"≥ {low}"
            raise ConfigError(f"{option}: expected a whole number {bounds}, got {value}")
        return value

    def to_glue(self, value: Any) -> str | None:
        """A typed value as Glue passes it (``True`` → ``"true"``); None when it is to be left out."""
        if value is None or (self.kind == "flag" and value is False):
            return None
        if self.kind == "flag":
            return "true"
        return str(value)


ParsedArgs = Mapping[str, Any]
"""Argument name → typed value (defaults filled in), as :meth:`JobSpec.parse` returns it."""


@dataclass(frozen=True)
class JobSpec:
    """One Glue job script and the arguments it takes (``JOB_NAME`` is Glue's own, always required)."""

    name: str
    """The ``ddbmigrate run`` sub-command (``export-import``)."""
    script: str
    """The file under ``jobs/`` (``export_import.py``)."""
    arguments: tuple[Argument, ...]
    by_name: Mapping[str, Argument] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {a.name: a for a in self.arguments})
        if len(self.by_name) != len(self.arguments):
            raise ValueError(f"{self.script}: an argument is declared twice")

    @property
    def required(self) -> tuple[str, ...]:
        """Glue flags a run must have (``--export_uri``…), for ``start`` and ``glue_jobs.yaml``."""
        return tuple(a.glue_flag for a in self.arguments if a.required)

    def resolved_names(self, argv: Sequence[str]) -> list[str]:
        """What the script asks ``getResolvedOptions`` for: ``JOB_NAME``, every required argument, and
        the optional ones present in ``argv`` (Glue's parser refuses a listed name that is absent)."""
        present = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
        return ["JOB_NAME"] + [a.name for a in self.arguments if a.required or a.glue_flag in present]

    def parse(self, values: Mapping[str, Any], *, option: Callable[[Argument], str] | None = None) -> dict[str, Any]:
        """Every argument typed and checked, absent ones defaulted. ``option`` names an argument in
        errors (default: its Glue flag; the CLI passes its own spelling)."""
        name_of = option or (lambda a: a.glue_flag)
        return {a.name: a.parse(values.get(a.name), option=name_of(a)) for a in self.arguments}

    def check(self, options: object) -> None:
        """Hold an options object built in code (the demo, the bench, a test) to the same rules:
        each of its attributes named like an argument is checked as the script would parse it."""
        for argument in self.arguments:
            if hasattr(options, argument.name):
                argument.parse(argument.to_glue(getattr(options, argument.name)))

    def glue_arguments(self, values: Mapping[str, Any]) -> list[str]:
        """Typed values → ``["--name", "value", …]`` for the script; unset ones are left out."""
        argv: list[str] = []
        for argument in self.arguments:
            text = argument.to_glue(values.get(argument.name))
            if text is not None:
                argv += [argument.glue_flag, text]
        return argv


def account_of(parsed: ParsedArgs, side: str, *, label: str | None = None, with_role: bool = True) -> Account:
    """The :class:`Account` of ``--<side>_profile/_region/…``; ``with_role=False`` is the same
    profile and region without the assumed role (:meth:`Account.without_role`, the job's own identity)."""
    account = Account.from_options(side, parsed, label=label or side)
    return account if with_role else account.without_role(label=label or side)


_TABLE_HELP = "The {side} table's name or ARN (an ARN's region is used when none is given)."


def side_arguments(side: str, *, table_help: str | None = None) -> tuple[Argument, ...]:
    """``--<side>_table`` and the arguments of its :class:`Account` (profile, region, endpoint, role)."""
    table_help = table_help or _TABLE_HELP.format(side=side)
    return (
        Argument(f"{side}_table", "text", table_help, required=True),
        Argument(f"{side}_profile", "text", f"AWS profile of the {side} account (local runs).", local_only=True),
        Argument(f"{side}_region", "text", "AWS region (default: the profile's, or a table ARN's)."),
        Argument(f"{side}_endpoint_url", "text", "DynamoDB endpoint override (e.g. DynamoDB Local).", local_only=True),
        Argument(f"{side}_role_arn", "text", f"Role to assume in the {side} account (credentials refresh)."),
        Argument(f"{side}_external_id", "text", "External id for that role."),
    )



_WRITE = (
    Argument("write_percent", "percent", "Share of the target's WCU for the whole job (0.1–1.5, Glue's rule).",
             default=DEFAULT_WRITE_PERCENT),
    Argument("write_capacity", "int", "WCU to take the percentage of instead of the table's (on-demand counts as 40,000).",
             minimum=1),
    Argument("parallel_tasks", "int", "Writing tasks (default: min(partitions, Spark task slots)).", minimum=1),
    Argument("dead_letter", "text", "Folder or s3://bucket/prefix/ for items that can never be written."),
    Argument("max_retries", "int", "Attempts without progress before a batch gives up (Glue's dynamodb.output.retry).",
             default=GLUE_DEFAULT_RETRIES, minimum=0),
    Argument("requests_in_flight", "int", "Writers per task, each with one request in flight (they share the task's budget).",
             default=DEFAULT_REQUESTS_IN_FLIGHT, minimum=1),
)

_RESUME = (
    Argument("run_id", "text", "Resume key: a run started again with the same id skips the data files (scan segments) "
             "an earlier run finished and goes on from where it stood (docs/resume.md)."),
    Argument("run_state", "text", "Folder or s3://bucket/prefix/ for the run state of --run_id "
             "(default: run-state/ beside --dead_letter)."),
)
"""Resuming a killed run (``ddbmigrate.runstate``): shared by both jobs."""

_WATCH = (
    Argument("cloudwatch_metrics", "choice", "CloudWatch metrics of the run (namespace ddbmigrate): auto publishes "
             "on AWS Glue only; on or off everywhere.", default="auto", choices=METRICS_CHOICES),
)
"""Watching a run (:mod:`ddbmigrate.progress`): shared by both jobs."""

EXPORT_IMPORT = JobSpec("export-import", "export_import.py", (
    Argument("export_uri", "text", "Export folder: s3://B/P/AWSDynamoDB/<ExportId>/.", required=True, cli="--export"),
    Argument("mapping", "text", "Mapping file (path or s3://…) from `ddbmigrate mapping generate`.", required=True),
    Argument("apply_mapping", "choice", "auto: rules that only rename, drop or nest are applied item by item (same "
             "items); always: ApplyMapping on a DynamicFrame.", default="auto", choices=APPLY_MAPPING_CHOICES),
    *side_arguments("target"),
    *_WRITE,
    *_RESUME,
    *_WATCH,
))

TABLE_COPY = JobSpec("table-copy", "table_copy.py", (
    *side_arguments("source"),
    *side_arguments("target"),
    Argument("read_percent", "percent", "Share of the source's RCU for the whole job (0.1–1.5; on-demand counts as 40,000).",
             default=DEFAULT_READ_PERCENT),
    Argument("read_capacity", "int", "RCU to take the percentage of instead of the table's.", minimum=1),
    Argument("splits", "int", "Parallel Scan segments (default: Spark's task slots).", minimum=1, maximum=MAX_SPLITS),
    Argument("consistent_read", "flag", "Strongly consistent reads (twice the read units).", default=False,
             cli="--consistent"),
    Argument("mapping", "text", "Optional mapping file of renames (path or s3://…)."),
    *_WRITE,
    *_RESUME,
    *_WATCH,
))

JOBS: Mapping[str, JobSpec] = {spec.name: spec for spec in (EXPORT_IMPORT, TABLE_COPY)}
"""Every job of ``jobs/``, by its ``ddbmigrate run`` name."""

_GLUE_NAME = re.compile(r"^--[A-Za-z0-9_.-]+$")
_OURS = re.compile(r"^--[a-z0-9_]+$")
"""How our arguments are spelled; Glue's own special parameters use '-' or capitals (``--TempDir``)…"""
_GLUE_SINGLE_WORDS = ("--conf", "--class")
"""…except these two, which Glue documents and which look like ours."""


def job_for_script(script: str) -> JobSpec | None:
    """The declaration of ``jobs/<script>`` (a path or S3 location ending in it), None for other scripts."""
    name = script.rstrip("/").rsplit("/", 1)[-1]
    return next((spec for spec in JOBS.values() if spec.script == name), None)


def check_glue_argument(key: str, value: str, *, job: JobSpec | None = None, where: str | None = None,
                        deployed: bool = False) -> None:
    """One ``--name value`` pair of ``glue_jobs.yaml`` or ``ddbmigrate start --arg``.

    Every name must have Glue's ``--`` form. For one of our scripts (``job``), a name spelled like
    ours (lower case, ``_``, no ``-``) must be one of its arguments — a typo would otherwise be
    silently ignored — and the value is parsed exactly as the script will parse it; Glue's own
    parameters (``--enable-metrics``, ``--TempDir``, ``--conf`` …) pass through. ``deployed`` refuses local-only arguments.
    ``value`` "" means "left out" and is not parsed.
    """
    where = where or key
    if not _GLUE_NAME.match(key):
        hint = f" ('--{key.lstrip('-')}')" if re.fullmatch(r"-?[A-Za-z0-9_.-]+", key) else ""
        raise ConfigError(f"{where}: argument names start with '--' as Glue passes them{hint}")
    argument = _declared(key, job)
    if argument is None:
        if job is not None and _OURS.match(key) and key not in _GLUE_SINGLE_WORDS:
            raise ConfigError(f"{where}: jobs/{job.script} has no argument {key}; "
                              f"its arguments: {', '.join(a.glue_flag for a in job.arguments)}")
        return
    if deployed and argument.local_only:
        raise ConfigError(f"{where}: {key} is for local runs only (a profile or endpoint does not exist on Glue); "
                          "give the role to assume instead (--*_role_arn)")
    if value != "":
        argument.parse(value, option=where)


def _declared(key: str, job: JobSpec | None) -> Argument | None:
    name = key[2:]
    if job is not None:
        return job.by_name.get(name)
    return next((spec.by_name[name] for spec in JOBS.values() if name in spec.by_name), None)
