"""scripts/glue-docker.sh and the Makefile targets build the docker command AWS documents for the
Glue 5.0 image. CI has no Docker engine, so the commands are checked with ``--print``."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "glue-docker.sh"
IMAGE = "public.ecr.aws/glue/aws-glue-libs:5"
INSTALL = ["grep", "-vE", "^(-e |pyspark)", "requirements-dev.txt", ">", "/tmp/ddbmigrate-requirements.txt", "&&",
           "python3", "-m", "pip", "install", "--user", "--quiet", "-r", "/tmp/ddbmigrate-requirements.txt", "&&"]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "repo with space"
    (root / "jobs").mkdir(parents=True)
    for name in ("export_import.py", "table_copy.py", "custom.py"):
        (root / "jobs" / name).write_text("print('job')\n")
    return root


def env(tmp_path: Path, workspace: Path, **extra: str) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    values.update(HOME=str(tmp_path), WORKSPACE=str(workspace), AWS_PROFILE="target")
    values.update(extra)
    return values


def script(*args: str, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=environ, timeout=60)


def printed(*args: str, environ: dict[str, str]) -> list[str]:
    result = script("--print", *args, environ=environ)
    assert result.returncode == 0, result.stderr
    return shlex.split(result.stdout)


def test_the_script_is_valid_bash_and_executable() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0
    assert os.access(SCRIPT, os.X_OK)


def test_pytest_inside_the_image_as_documented(tmp_path: Path, workspace: Path) -> None:
    argv = printed("test", environ=env(tmp_path, workspace))
    assert argv[:-1] == [
        "docker", "run", "-i", "--rm",
        "-v", f"{tmp_path}/.aws:/home/hadoop/.aws:ro",
        "-v", f"{workspace}:/home/hadoop/workspace/",
        "--workdir", "/home/hadoop/workspace",
        "-e", "AWS_PROFILE=target",
        "--name", "glue5_pytest",
        IMAGE, "-c",
    ]
    assert shlex.split(argv[-1]) == [*INSTALL, "python3", "-m", "pytest", "-p", "no:cacheprovider",
                                     "--disable-warnings", "-m", "not integration"]
    custom = printed("test", "-k", "it's deploy", "tests/test_deploy.py", environ=env(tmp_path, workspace))
    assert shlex.split(custom[-1])[-4:] == ["--disable-warnings", "-k", "it's deploy", "tests/test_deploy.py"]


def test_spark_submit_of_a_job_as_documented(tmp_path: Path, workspace: Path) -> None:
    environ = env(tmp_path, workspace, AWS_DIR=str(tmp_path / "creds"), GLUE_IMAGE="my.registry/glue:5")
    argv = printed("run", "export-import", "--export_uri", "s3://b/p q/", "--write_percent", "0.7", environ=environ)
    assert argv[:-1] == [
        "docker", "run", "-i", "--rm",
        "-v", f"{tmp_path}/creds:/home/hadoop/.aws:ro",
        "-v", f"{workspace}:/home/hadoop/workspace/",
        "--workdir", "/home/hadoop/workspace",
        "-e", "AWS_PROFILE=target",
        "-p", "4040:4040",
        "--name", "glue5_spark_submit",
        "my.registry/glue:5", "-c",
    ]
    inner = shlex.split(argv[-1])
    assert inner[: len(INSTALL)] == INSTALL
    assert inner[len(INSTALL):] == [
        "PYTHONPATH=/home/hadoop/workspace${PYTHONPATH:+:$PYTHONPATH}", "spark-submit",
        "/home/hadoop/workspace/jobs/export_import.py", "--JOB_NAME", "export-import",
        "--export_uri", "s3://b/p q/", "--write_percent", "0.7",
    ]
    copy = shlex.split(printed("run", "ddbmigrate-table-copy", environ=environ)[-1])
    assert copy[-3:] == ["/home/hadoop/workspace/jobs/table_copy.py", "--JOB_NAME", "ddbmigrate-table-copy"]
    custom = shlex.split(printed("run", "jobs/custom.py", environ=environ)[-1])
    assert custom[-3:] == ["/home/hadoop/workspace/jobs/custom.py", "--JOB_NAME", "custom"]


def test_bad_usage_is_refused(tmp_path: Path, workspace: Path) -> None:
    environ = env(tmp_path, workspace)
    result = script("--print", "run", "nope", environ=environ)
    assert result.returncode == 2 and "no job script jobs/nope.py" in result.stderr
    result = script(environ=environ)
    assert result.returncode == 2 and "scripts/glue-docker.sh [--print] test" in result.stderr
    result = script("--print", "build", environ=environ)
    assert result.returncode == 2


def test_without_docker_it_says_so(tmp_path: Path, workspace: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "basename", "tr", "sed", "grep"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    result = subprocess.run([str(bin_dir / "bash"), str(SCRIPT), "test"], capture_output=True, text=True,
                            env=env(tmp_path, workspace, PATH=str(bin_dir)), timeout=60)
    assert result.returncode == 127
    assert "docker is not installed or not on PATH (use --print to see the command)" in result.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_targets_run_the_script(tmp_path: Path, workspace: Path) -> None:
    environ = env(tmp_path, workspace)
    result = subprocess.run(["make", "-s", "-C", str(REPO), "glue-docker-run", "JOB=export-import",
                             "ARGS=--export_uri s3://b/p/", "GLUE_DOCKER_FLAGS=--print"],
                            capture_output=True, text=True, env=environ, timeout=60)
    assert result.returncode == 0, result.stderr
    assert shlex.split(result.stdout) == printed("run", "export-import", "--export_uri", "s3://b/p/", environ=environ)
    result = subprocess.run(["make", "-s", "-C", str(REPO), "glue-docker-test", "GLUE_DOCKER_FLAGS=--print",
                             "PYTEST_ARGS=-x tests/test_values.py"], capture_output=True, text=True, env=environ,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert shlex.split(shlex.split(result.stdout)[-1])[-2:] == ["-x", "tests/test_values.py"]
    result = subprocess.run(["make", "-s", "-C", str(REPO), "glue-docker-run"], capture_output=True, text=True,
                            env=environ, timeout=60)
    assert result.returncode != 0 and "usage: make glue-docker-run JOB=" in result.stderr
