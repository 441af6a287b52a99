"""Start a deployed Glue job with overrides, follow the run, and link to it in Glue Studio.

Glue's precedence, which :func:`effective_arguments` reproduces: a run's ``Arguments`` override the
job's ``DefaultArguments`` of the same key, and the job's ``NonOverridableArguments`` override
both (so we refuse to pass one of those instead of letting Glue silently ignore it).
``WorkerType``/``NumberOfWorkers`` given to ``StartJobRun`` replace the job's for that run only;
when one of them is overridden we send both, taking the other from the job definition.

:func:`start_request` is pure; :func:`start_run` and :func:`follow_run` do the I/O. Following
polls ``GetJobRun`` every ``poll_seconds`` (the clock and the sleep are injected), reports each
state change, and returns the final run; ``GetJobRun`` is read-only, so botocore's retries
(adaptive, 10 attempts) cover transient errors during a run of many hours.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ddbmigrate.capacity import validate_worker_type
from ddbmigrate.errors import ConfigError, GlueError
from ddbmigrate.jobargs import JobSpec, check_glue_argument, job_for_script

__all__ = [
    "RUNNING_STATES",
    "TERMINAL_STATES",
    "RunOverrides",
    "console_domain",
    "effective_arguments",
    "effective_workers",
    "follow_run",
    "get_job",
    "job_console_url",
    "parse_run_arguments",
    "run_console_url",
    "script_spec",
    "start_request",
    "start_run",
]

TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR", "EXPIRED"})
RUNNING_STATES = frozenset({"STARTING", "RUNNING", "STOPPING", "WAITING"})


@dataclass(frozen=True)
class RunOverrides:
    """What one run changes relative to the job definition."""

    arguments: dict[str, str] = field(default_factory=dict)
    worker_type: str | None = None
    workers: int | None = None
    timeout_minutes: int | None = None


def parse_run_arguments(pairs: Iterable[str], *, job: JobSpec | None = None, option: str = "--arg") -> dict[str, str]:
    """``["write_percent=0.7", "--mapping=s3://…"]`` → ``{"--write_percent": "0.7", "--mapping": "s3://…"}``.

    Keys may be written with or without Glue's leading ``--``; each is checked by the job's
    declaration (:func:`ddbmigrate.jobargs.check_glue_argument`) as the script will parse it. An
    empty value is refused: a run cannot unset a default, and Glue would pass ``""`` where deploy
    leaves the argument out.
    """
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip("-"):
            raise ConfigError(f"{option}: {pair!r} is not KEY=VALUE (e.g. {option} write_percent=0.7)")
        key = "--" + key.lstrip("-")
        if value == "":
            raise ConfigError(f"{option} {pair}: empty value; give a value, or leave the argument out to use the "
                              "job's default (a run cannot unset an argument)")
        check_glue_argument(key, value, job=job, where=f"{option} {key}", deployed=True)
        result[key] = value
    return result


def effective_arguments(job: Mapping[str, Any], run_arguments: Mapping[str, str]) -> dict[str, str]:
    """The arguments the run's script sees: defaults, overridden by the run's, then non-overridable ones."""
    merged = dict(job.get("DefaultArguments") or {})
    merged.update(run_arguments)
    merged.update(job.get("NonOverridableArguments") or {})
    return merged


def effective_workers(job: Mapping[str, Any], overrides: RunOverrides) -> tuple[str, int]:
    """(worker type, number of workers) the run gets."""
    worker_type = overrides.worker_type or job.get("WorkerType")
    workers = overrides.workers or job.get("NumberOfWorkers")
    if not worker_type or not workers:
        raise GlueError(f"job {job.get('Name')!r} has no WorkerType/NumberOfWorkers; deploy it from glue_jobs.yaml "
                        "or pass --worker-type and --workers")
    return str(worker_type), int(workers)


def script_spec(job: Mapping[str, Any]) -> JobSpec | None:
    """The argument declaration of a deployed job's script (None for a script not of ``jobs/``)."""
    return job_for_script(str((job.get("Command") or {}).get("ScriptLocation", "")))


def start_request(job: Mapping[str, Any], overrides: RunOverrides, *,
                  required_arguments: Iterable[str] = ()) -> dict[str, Any]:
    """The ``StartJobRun`` body for ``job`` (a ``GetJob`` ``Job``) with ``overrides``.

    Refuses, before Glue bills anything: an override of a non-overridable argument, an unknown
    worker type, fewer than two workers, and a required argument that neither the job nor the run
    provides — those its script declares, plus ``required_arguments`` (``glue_jobs.yaml``'s own).
    """
    name = job["Name"]
    locked = sorted(set(overrides.arguments) & set(job.get("NonOverridableArguments") or {}))
    if locked:
        raise ConfigError(f"--arg {', '.join(locked)}: job {name!r} declares it non-overridable; change the job "
                          "definition instead")
    request: dict[str, Any] = {"JobName": name}
    arguments = {k: v for k, v in overrides.arguments.items()}
    if arguments:
        request["Arguments"] = arguments
    effective = effective_arguments(job, arguments)
    spec = script_spec(job)
    required = dict.fromkeys([*(spec.required if spec else ()), *required_arguments])
    missing = [key for key in required if not effective.get(key)]
    if missing:
        examples = " ".join(f"--arg {key.lstrip('-')}=…" for key in missing)
        raise ConfigError(f"job {name!r} needs {', '.join(missing)} for this run; pass {examples}")
    if overrides.worker_type is not None:
        validate_worker_type(overrides.worker_type, option="--worker-type")
    if overrides.workers is not None and overrides.workers < 2:
        raise ConfigError(f"--workers: at least 2 (one is the driver), got {overrides.workers}")
    if overrides.worker_type is not None or overrides.workers is not None:
        request["WorkerType"], request["NumberOfWorkers"] = effective_workers(job, overrides)
    if overrides.timeout_minutes is not None:
        if not 1 <= overrides.timeout_minutes <= 10080:
            raise ConfigError(f"--timeout: 1 to 10080 minutes, got {overrides.timeout_minutes}")
        request["Timeout"] = overrides.timeout_minutes
    return request


# --------------------------------------------------------------------------- console links


def console_domain(partition: str = "aws") -> str:
    """The AWS console's domain for a partition."""
    return {"aws-cn": "console.amazonaws.cn", "aws-us-gov": "console.amazonaws-us-gov.com"}.get(
        partition, "console.aws.amazon.com")


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def run_console_url(region: str, job_name: str, run_id: str, *, partition: str = "aws") -> str:
    """Glue Studio's page of one job run."""
    return (f"https://{console_domain(partition)}/gluestudio/home?region={region}"
            f"#/job/{_quote(job_name)}/run/{_quote(run_id)}")


def job_console_url(region: str, job_name: str, *, partition: str = "aws") -> str:
    """Glue Studio's script editor for a job."""
    return f"https://{console_domain(partition)}/gluestudio/home?region={region}#/editor/job/{_quote(job_name)}/script"


# --------------------------------------------------------------------------- I/O


def _fail(what: str, exc: ClientError | BotoCoreError) -> GlueError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return GlueError(f"{what} failed ({error.get('Code')}: {error.get('Message', '')})")
    return GlueError(f"{what} failed ({exc})")


def get_job(glue: Any, name: str) -> dict[str, Any]:
    """``GetJob``; a missing job is an error that says how to create it."""
    try:
        return dict(glue.get_job(JobName=name)["Job"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
            raise GlueError(f"job {name!r} does not exist in this account and region; run 'ddbmigrate deploy' "
                            "(or check --profile/--region)") from None
        raise _fail(f"GetJob {name}", exc) from None
    except BotoCoreError as exc:
        raise _fail(f"GetJob {name}", exc) from None


def start_run(glue: Any, request: Mapping[str, Any]) -> str:
    """``StartJobRun``; the run id."""
    try:
        return str(glue.start_job_run(**request)["JobRunId"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConcurrentRunsExceededException":
            raise GlueError(f"job {request['JobName']!r} is already running as often as its max_concurrent_runs "
                            "allows; wait for the run to finish or raise max_concurrent_runs") from None
        raise _fail(f"StartJobRun {request['JobName']}", exc) from None
    except BotoCoreError as exc:
        raise _fail(f"StartJobRun {request['JobName']}", exc) from None


def follow_run(
    glue: Any,
    job_name: str,
    run_id: str,
    *,
    poll_seconds: float = 30.0,
    timeout_seconds: float | None = None,
    on_state: Callable[[dict[str, Any]], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll ``GetJobRun`` until the run ends; the final ``JobRun``.

    ``on_state`` is called with the run at the first poll and on every state change. Raises
    :class:`GlueError` when the run ends other than ``SUCCEEDED`` (with Glue's error message) or
    when ``timeout_seconds`` pass first (the run keeps going; follow it again or stop it).
    """
    started = clock()
    last_state = None
    while True:
        try:
            run = dict(glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"])
        except (ClientError, BotoCoreError) as exc:
            raise _fail(f"GetJobRun {job_name} {run_id}", exc) from None
        state = run.get("JobRunState")
        if state != last_state:
            last_state = state
            if on_state:
                on_state(run)
        if state in TERMINAL_STATES:
            if state != "SUCCEEDED":
                message = run.get("ErrorMessage") or "no error message"
                raise GlueError(f"run {run_id} of {job_name} ended {state}: {message}")
            return run
        if timeout_seconds is not None and clock() - started >= timeout_seconds:
            raise GlueError(f"run {run_id} of {job_name} is still {state} after {timeout_seconds:.0f}s; "
                            "it keeps running")
        sleep(poll_seconds)
