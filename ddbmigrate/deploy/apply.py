"""Deploy's I/O: build the wheel, read what AWS holds, and make the planned calls.

``deploy`` is idempotent and safe to re-run after a failure:

* artifacts are uploaded with their content digest in S3 metadata (``ddbmigrate-sha256``) and
  skipped when the stored digest matches — the wheel's digest covers its members' contents, not
  the zip's timestamps, so rebuilding unchanged sources uploads nothing;
* jobs and crawlers are created when missing and updated only when a managed field differs
  (:mod:`ddbmigrate.deploy.plan`), so a second deploy makes no write call at all;
* calls run in order (artifacts, database, jobs, crawlers, tags) and stop at the first failure,
  which names the call; re-running continues from what is already in place.

No retries beyond botocore's (adaptive mode, 10 attempts): every call is a small control-plane
request, and a failure that survives those is a permission or validation problem to report.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ddbmigrate.accounts import Account
from ddbmigrate.deploy.config import DeployConfig
from ddbmigrate.deploy.plan import (
    DIGEST_METADATA_KEY,
    ApiCall,
    Artifact,
    CurrentState,
    DesiredState,
    desired_state,
    plan,
    resource_arn,
)
from ddbmigrate.errors import GlueError

__all__ = [
    "DeployResult",
    "arn_prefix",
    "build_wheel",
    "collect_artifacts",
    "deploy",
    "execute",
    "file_digest",
    "prepared_wheel",
    "read_current",
    "wheel_digest",
]

_NOT_FOUND = ("EntityNotFoundException", "404", "NoSuchKey", "NotFound")
_WHEEL_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "ddbmigrate")


@dataclass(frozen=True)
class DeployResult:
    """The calls deploy planned, and whether it made them (not with ``dry_run``)."""

    calls: tuple[ApiCall, ...]
    executed: bool
    wheel: str
    artifacts: tuple[Artifact, ...]


# --------------------------------------------------------------------------- artifacts


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (hex)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wheel_digest(path: Path) -> str:
    """sha256 over a wheel's member names and contents — the same for a rebuild of the same sources."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as wheel:
        for name in sorted(wheel.namelist()):
            digest.update(name.encode() + b"\0" + hashlib.sha256(wheel.read(name)).digest())
    return digest.hexdigest()


def build_wheel(root: Path, out_dir: Path, *, python: str = sys.executable,
                run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run) -> Path:
    """Build the library's wheel from a clean copy of ``root`` (no stale ``build/`` contents).

    Uses ``python -m build --wheel`` (an isolated build with the pinned backend), or
    ``pip wheel --no-deps`` when the ``build`` package is absent.
    """
    if not (root / "pyproject.toml").is_file():
        raise GlueError(f"no pyproject.toml in {root} to build the ddbmigrate wheel from; pass --wheel FILE")
    source = out_dir / "source"
    for name in _WHEEL_SOURCES:
        path = root / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif path.is_file():
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / name)
    dist = out_dir / "dist"
    has_build = run([python, "-c", "import build"], capture_output=True, text=True).returncode == 0
    command = ([python, "-m", "build", "--wheel", "--outdir", str(dist), str(source)] if has_build
               else [python, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(source)])
    result = run(command, capture_output=True, text=True)
    wheels = sorted(dist.glob("ddbmigrate-*.whl")) if dist.is_dir() else []
    if result.returncode != 0 or len(wheels) != 1:
        tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-5:])
        raise GlueError(f"building the wheel failed ({' '.join(command[1:4])}): {tail}")
    return wheels[0]


def collect_artifacts(config: DeployConfig, wheel: Path) -> list[Artifact]:
    """Scripts, the wheel and every mapping file, with their S3 URIs and digests.

    Mapping files (``*.json``) are loaded and checked first (:func:`ddbmigrate.mapping.load_mapping`):
    a broken mapping fails the deploy, naming the file, instead of the job an hour later.
    """
    from ddbmigrate.mapping.file import load_mapping

    location = config.artifacts
    artifacts: dict[str, Artifact] = {}

    def add(kind: str, local: Path, key: str) -> None:
        uri = location.join(key)
        digest = wheel_digest(local) if kind == "wheel" else file_digest(local)
        existing = artifacts.get(str(uri))
        if existing is not None and existing.local != local:
            raise GlueError(f"{existing.local} and {local} would both be uploaded to {uri}; rename one")
        artifacts[str(uri)] = Artifact(kind=kind, local=local, uri=uri, digest=digest)

    add("wheel", wheel, f"wheels/{wheel.name}")
    for job in config.jobs.values():
        add("script", job.script, job.script.relative_to(config.root).as_posix())
    mapping_files = sorted(p for p in config.mappings_dir.rglob("*") if p.is_file() and not p.name.startswith(".")) \
        if config.mappings_dir.is_dir() else []
    for job in config.jobs.values():
        if job.mapping and job.mapping not in mapping_files:
            mapping_files.append(job.mapping)
    for path in mapping_files:
        if path.suffix == ".json":
            load_mapping(path)
        inside = config.mappings_dir in path.parents
        add("mapping", path, "mappings/" + (path.relative_to(config.mappings_dir).as_posix() if inside else path.name))
    return list(artifacts.values())


# --------------------------------------------------------------------------- AWS state


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _fail(what: str, exc: ClientError | BotoCoreError) -> GlueError:
    if isinstance(exc, ClientError):
        code, message = _code(exc), exc.response.get("Error", {}).get("Message", "")
        hint = " — check the deploying identity's permissions (see docs/policies.md)" if "AccessDenied" in code else ""
        return GlueError(f"{what} failed ({code}: {message}){hint}")
    return GlueError(f"{what} failed ({exc})")


def _get(what: str, call: Callable[[], Any]) -> Any:
    """The response, or None when the entity does not exist."""
    try:
        return call()
    except ClientError as exc:
        if _code(exc) in _NOT_FOUND:
            return None
        raise _fail(what, exc) from None
    except BotoCoreError as exc:
        raise _fail(what, exc) from None


def arn_prefix(account: Account, region: str | None = None) -> str:
    """``arn:<partition>:glue:<region>:<account id>`` of the deploying identity."""
    sts = account.client("sts")
    identity = _get("sts GetCallerIdentity", sts.get_caller_identity)
    region = region or account.client("glue").meta.region_name
    partition = boto3.Session().get_partition_for_region(region) if region else "aws"
    return f"arn:{partition}:glue:{region}:{identity['Account']}"


def read_current(desired: DesiredState, glue: Any, s3: Any) -> CurrentState:
    """Everything the plan compares against — read-only calls only (also run by ``--dry-run``)."""
    current = CurrentState()
    for artifact in desired.artifacts:
        head = _get(f"s3 HeadObject {artifact.uri}",
                    lambda a=artifact: s3.head_object(Bucket=a.uri.bucket, Key=a.uri.key))
        current.objects[str(artifact.uri)] = (head or {}).get("Metadata", {}).get(DIGEST_METADATA_KEY)
    for name in desired.classifiers:
        found = _get(f"glue GetClassifier {name}", lambda n=name: glue.get_classifier(Name=n))
        current.classifiers[name] = found["Classifier"] if found else None
    for name in desired.databases:
        current.databases[name] = _get(f"glue GetDatabase {name}", lambda n=name: glue.get_database(Name=n)) is not None
    for name in desired.jobs:
        job = _get(f"glue GetJob {name}", lambda n=name: glue.get_job(JobName=n))
        current.jobs[name] = job["Job"] if job else None
        if job:
            tags = _get(f"glue GetTags {name}",
                        lambda n=name: glue.get_tags(ResourceArn=resource_arn(desired.arn_prefix, "job", n)))
            current.job_tags[name] = dict((tags or {}).get("Tags") or {})
    for name in desired.crawlers:
        crawler = _get(f"glue GetCrawler {name}", lambda n=name: glue.get_crawler(Name=n))
        current.crawlers[name] = crawler["Crawler"] if crawler else None
        if crawler:
            tags = _get(f"glue GetTags {name}",
                        lambda n=name: glue.get_tags(ResourceArn=resource_arn(desired.arn_prefix, "crawler", n)))
            current.crawler_tags[name] = dict((tags or {}).get("Tags") or {})
    return current


def execute(calls: Sequence[ApiCall], glue: Any, s3: Any, *, on_call: Callable[[ApiCall], None] | None = None) -> None:
    """Make the calls in order; the first failure stops deploy with a message naming the call."""
    for call in calls:
        client = s3 if call.service == "s3" else glue
        try:
            if call.body is not None:
                with open(call.body, "rb") as body:
                    client.put_object(**call.params, Body=body)
            else:
                getattr(client, call.operation)(**call.params)
        except (ClientError, BotoCoreError) as exc:
            raise _fail(call.describe(), exc) from None
        if on_call:
            on_call(call)


# --------------------------------------------------------------------------- deploy


@contextmanager
def prepared_wheel(config: DeployConfig, wheel: Path | None = None) -> Iterator[Path]:
    """``wheel`` checked, or a wheel built from ``config.root`` into a temporary folder (removed after)."""
    if wheel is not None:
        if not wheel.is_file() or wheel.suffix != ".whl":
            raise GlueError(f"--wheel: {wheel} is not a wheel file")
        yield wheel
        return
    with tempfile.TemporaryDirectory(prefix="ddbmigrate-wheel-") as work:
        yield build_wheel(config.root, Path(work))


def deploy(
    config: DeployConfig,
    account: Account,
    *,
    wheel: Path | None = None,
    dry_run: bool = False,
    on_call: Callable[[ApiCall], None] | None = None,
    glue: Any = None,
    s3: Any = None,
) -> DeployResult:
    """Make Glue and S3 in ``account`` match ``config``; with ``dry_run``, only read and plan.

    ``wheel`` skips the build (e.g. a wheel built by CI). The plan is computed against the live
    state in both modes, so ``--dry-run`` prints exactly the calls a real deploy would make now.
    ``glue``/``s3`` replace ``account``'s clients (the account still names the caller for ARNs).
    """
    glue = glue if glue is not None else account.client("glue")
    s3 = s3 if s3 is not None else account.client("s3")
    with prepared_wheel(config, wheel) as wheel_path:
        artifacts = collect_artifacts(config, wheel_path)
        desired = desired_state(config, artifacts, arn_prefix=arn_prefix(account, glue.meta.region_name))
        calls = plan(desired, read_current(desired, glue, s3))
        if not dry_run:
            execute(calls, glue, s3, on_call=on_call)
    return DeployResult(calls=tuple(calls), executed=not dry_run, wheel=wheel_path.name, artifacts=tuple(artifacts))
