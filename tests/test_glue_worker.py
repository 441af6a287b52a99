"""A Glue 5.0 worker holds Glue's own packages and our wheel, nothing else: the jobs must run there.

A venv under ``.cache/glue5-worker/<hash of the pins and Python>/`` holds exactly
``tests/data/glue5-packages.txt``; it is built once and reused while that file and the Python
version stay the same. Our wheel, built as ``deploy`` builds it, is installed into it without its
extras, with dependency resolution and ``--no-index``: pip fails if the wheel needs anything the
pins do not satisfy — on Glue that is a download at every job start, or a job that cannot start in
a VPC without internet. Then ``tests/glue_worker_probe.py`` imports every worker module and runs
both job scripts' argument parsing in that venv. Cold (pins downloaded, pyspark from pip's cache):
about 25 s; warm: about 6 s (the wheel is rebuilt and reinstalled only when its contents change).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ddbmigrate.deploy.apply import build_wheel, wheel_digest

pytestmark = pytest.mark.glue_worker

REPO = Path(__file__).resolve().parents[1]
PINS = REPO / "tests" / "data" / "glue5-packages.txt"
PROBE = REPO / "tests" / "glue_worker_probe.py"
CACHE = REPO / ".cache" / "glue5-worker"
GLUE_PYTHON = (3, 11)

NOT_ON_WORKERS = {
    "ddbmigrate.cli": "the command line (click, rich): runs on the user's machine",
    "ddbmigrate.deploy": "glue_jobs.yaml to AWS (pydantic, PyYAML): runs where 'ddbmigrate deploy' runs",
    "ddbmigrate.local": "the local stack (DynamoDB Local, moto): developers and tests only",
    "ddbmigrate.__main__": "the console script, i.e. the command line",
    "ddbmigrate.replicate.lambda_handler": "the replication Lambda (aws-lambda-powertools): runs in Lambda",
}
"""The parts of the wheel that never run on a Glue driver or executor; every other module must
import with Glue 5.0's packages alone."""

JOB_OPTIONS = {
    "export_import.py": "from ddbmigrate.bulk import ExportImportOptions\n"
                        "options = ExportImportOptions.from_job_args(args)",
    "table_copy.py": "from ddbmigrate.copy import TableCopyOptions\n"
                     "options = TableCopyOptions.from_job_args(args)",
}
"""How each script turns ``getResolvedOptions``' strings into its options (the script's own call),
run only when the script's statements before Spark starts did not already set ``options``."""

JOB_ARGV = {
    "export_import.py": ["--JOB_NAME", "ddbmigrate-export-import",
                         "--export_uri", "s3://acme-exports/orders/AWSDynamoDB/01700000000000-0a1b2c3d/",
                         "--mapping", "s3://acme-migration/ddbmigrate/mappings/orders.json",
                         "--target_table", "Orders", "--target_region", "us-east-1", "--write_percent", "0.8"],
    "table_copy.py": ["--JOB_NAME", "ddbmigrate-table-copy", "--source_table", "Orders",
                      "--source_region", "eu-west-1", "--target_table", "OrdersCopy", "--read_percent", "0.25",
                      "--splits", "8"],
}


def pinned() -> dict[str, str]:
    """Distribution name (normalised) → version, from the pins file."""
    pins = {}
    for line in PINS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[_normalise(name)] = version.strip()
    return pins


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    """``PyYAML>=6`` → ``pyyaml``."""
    return _normalise(re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0])


def cli_extra() -> list[str]:
    """The ``cli`` extra's requirements, from pyproject.toml (their one home)."""
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11")
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["cli"]


def worker_modules(wheel: Path) -> list[str]:
    """Every module the wheel ships, except the parts that never run on Glue (NOT_ON_WORKERS)."""
    with zipfile.ZipFile(wheel) as archive:
        names = [n[:-3].replace("/", ".").removesuffix(".__init__") for n in archive.namelist()
                 if n.startswith("ddbmigrate/") and n.endswith(".py")]
    return sorted(n for n in names if not any(n == x or n.startswith(x + ".") for x in NOT_ON_WORKERS))


def cli_extra_modules() -> set[str]:
    """Top-level import names of the ``cli`` extra's packages (``pyyaml`` → ``yaml``), as installed here."""
    wanted = {_requirement_name(requirement) for requirement in cli_extra()}
    found = {module for module, dists in importlib.metadata.packages_distributions().items()
             if any(_normalise(d) in wanted for d in dists)}
    assert len(found) >= len(wanted), f"the dev venv should have the cli extra installed: {wanted}"
    return found


def run(*command: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=600, **kwargs)


def _tail(result: subprocess.CompletedProcess[str]) -> str:
    return "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])


def _build_venv(target: Path) -> None:
    """Exactly the pins (``--no-deps``: nothing Glue does not list), pip first so Glue's pip installs the rest."""
    work = target.with_name(f"{target.name}.building-{uuid.uuid4().hex[:8]}")
    try:
        result = run(sys.executable, "-m", "venv", work)
        assert result.returncode == 0, _tail(result)
        python = work / "bin" / "python"
        pins = [f"{name}=={version}" for name, version in pinned().items()]
        quiet = ("-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps")
        for batch in ([p for p in pins if p.startswith("pip==")], [p for p in pins if not p.startswith("pip==")]):
            result = run(python, *quiet, *batch)
            assert result.returncode == 0, f"installing Glue 5.0's pins failed:\n{_tail(result)}"
        for stale in CACHE.iterdir():
            if stale.is_dir() and stale.name != target.name and not stale.name.startswith(f"{target.name}."):
                shutil.rmtree(stale, ignore_errors=True)
        work.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def glue5_python() -> Path:
    """The worker venv's python, with Glue 5.0's pins and nothing else (cached across runs)."""
    if sys.version_info[:2] != GLUE_PYTHON:
        pytest.skip(f"Glue 5.0 runs Python {'.'.join(map(str, GLUE_PYTHON))}; this is {sys.version.split()[0]}")
    key = hashlib.sha256(PINS.read_bytes() + sys.version.encode()).hexdigest()[:16]
    venv = CACHE / key
    if not (venv / "bin" / "python").is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        _build_venv(venv)
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def worker_wheel(glue5_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our wheel built as deploy builds it, installed into the worker venv the way Glue does — but
    with ``--no-index`` (and ``--isolated``: no find-links from the user's pip config), so that
    needing any package outside the pins fails here."""
    wheel = build_wheel(REPO, tmp_path_factory.mktemp("wheel"))
    marker = glue5_python.parent.parent / "ddbmigrate-wheel.sha256"
    digest = wheel_digest(wheel)
    if not marker.is_file() or marker.read_text() != digest:
        marker.unlink(missing_ok=True)
        run(glue5_python, "-m", "pip", "uninstall", "--quiet", "--yes", "ddbmigrate")
        result = run(glue5_python, "-m", "pip", "install", "--isolated", "--no-index", "--disable-pip-version-check",
                     wheel)
        assert result.returncode == 0, (
            f"the wheel needs packages that Glue 5.0 does not ship ({PINS.name}); pip said:\n{_tail(result)}")
        marker.write_text(digest)
    return wheel


def probe(python: Path, wheel: Path) -> dict[str, Any]:
    request = {
        "modules": worker_modules(wheel),
        "jobs": [{"script": str(REPO / "jobs" / script), "argv": JOB_ARGV[script], "options_code": code}
                 for script, code in JOB_OPTIONS.items()],
        "mapping_file": str(REPO / "mappings" / "example.json"),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYSPARK", "DDBMIGRATE_GLUELOCAL"))}
    result = run(python, "-I", PROBE, json.dumps(request), env=env, cwd=python.parent)
    assert result.returncode == 0, f"a worker module or job script failed on Glue 5.0's packages:\n{_tail(result)}"
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def report(glue5_python: Path, worker_wheel: Path) -> dict[str, Any]:
    return probe(glue5_python, worker_wheel)


def test_the_venv_holds_exactly_glue5_packages_and_our_wheel(report: dict[str, Any]) -> None:
    installed = {_normalise(name) for name in report["distributions"]} - {"setuptools"}  # the venv's own
    assert installed == set(pinned()) | {"ddbmigrate"}
    assert report["botocore"] == pinned()["botocore"]
    assert tuple(report["python"]) == GLUE_PYTHON


def test_worker_modules_import_without_the_cli_packages(report: dict[str, Any], worker_wheel: Path) -> None:
    modules = worker_modules(worker_wheel)
    assert {"ddbmigrate.gluelocal", "ddbmigrate.bulk", "ddbmigrate.copy", "ddbmigrate.mapping.file",
            "ddbmigrate.sink.writer", "ddbmigrate.jobargs"} <= set(modules)
    assert not [m for m in modules if m.startswith(("ddbmigrate.cli", "ddbmigrate.deploy"))]
    assert not cli_extra_modules() & set(report["top_level_modules"])
    assert report["mapping_rules"] > 0  # a mapping file loads on the driver without pydantic
    assert report["client"] == "DynamoDB"  # our botocore config works with Glue's botocore


def test_both_jobs_parse_their_arguments_on_glue5(report: dict[str, Any]) -> None:
    export_import = report["jobs"][str(REPO / "jobs" / "export_import.py")]
    assert export_import["options_type"] == "ExportImportOptions"
    assert export_import["args"]["target_table"] == "Orders"
    assert export_import["options"]["write_percent"] == "0.8"
    assert export_import["options"]["mapping"] == repr("s3://acme-migration/ddbmigrate/mappings/orders.json")
    table_copy = report["jobs"][str(REPO / "jobs" / "table_copy.py")]
    assert table_copy["options_type"] == "TableCopyOptions"
    assert table_copy["options"]["read_percent"] == "0.25"
    assert table_copy["options"]["splits"] == "8"
    assert table_copy["options"]["target_table"] == repr("OrdersCopy")


def test_the_console_script_without_the_cli_extra_says_what_to_install(glue5_python: Path,
                                                                       worker_wheel: Path) -> None:
    result = run(glue5_python.parent / "ddbmigrate", "--help")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "pip install 'ddbmigrate[cli]'" in result.stderr and "Traceback" not in result.stderr


def test_requirements_dev_lists_the_cli_extra_for_the_glue_image() -> None:
    """scripts/glue-docker.sh installs requirements-dev.txt without our package, so the CLI's
    packages must be listed there too, not only reached through ``-e .[cli]``."""
    lines = (REPO / "requirements-dev.txt").read_text().splitlines()
    assert "-e .[cli]" in lines
    listed = {_requirement_name(line) for line in lines if line[:1].isalpha()}
    assert {_requirement_name(requirement) for requirement in cli_extra()} <= listed
