"""``ddbmigrate local up|down|status``: start, describe and stop the two-account local stack.

``up`` starts three processes, each in its own process group, on free loopback ports:

* ``source-dynamodb`` — DynamoDB Local, the **source account**;
* ``target-dynamodb`` — DynamoDB Local, the **target account**;
* ``s3`` — moto's server (S3, STS, Glue control plane), shared by both accounts.

It then writes into the state folder:

* ``stack.json`` — what was started (pid, port, command) so that ``down`` stops exactly those
  processes and nothing else (a pid is only signalled if its command line still matches);
* ``aws_config`` — an AWS config file with profiles ``source`` and ``target`` (region, dummy
  credentials, per-service ``endpoint_url`` for dynamodb, dynamodb_streams, s3, sts, glue, iam, cloudwatch);
* ``env`` — ``source DIR/env`` sets ``AWS_CONFIG_FILE`` so the AWS CLI and boto3 see the profiles.

Two stacks in two state folders run side by side: ports are picked free each time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ddbmigrate.errors import LocalStackError
from ddbmigrate.local.dynamodb_local import check_java, dynamodb_local_command, ensure_dynamodb_local

__all__ = ["DEFAULT_STATE_DIR", "PROFILES", "Stack", "StackService", "extra_profile", "patched_environ", "stack_down",
           "stack_status", "stack_up"]

DEFAULT_STATE_DIR = Path(".stack")


@contextlib.contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` for the block, then the previous values (or their absence) again.

    In-process callers (tests, a notebook running the demo) keep their own stack's environment.
    """
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
PROFILES: dict[str, str] = {"source": "eu-west-1", "target": "us-east-1"}
"""Profile name → region. Two regions on purpose: nothing may assume source and target share one."""

_CREDENTIALS = {"source": ("AKIDSOURCELOCAL00001", "source-secret"), "target": ("AKIDTARGETLOCAL00002", "target-secret")}
_STARTUP_SECONDS = 60.0


@dataclass
class StackService:
    name: str
    pid: int
    port: int
    command: list[str]
    log: str

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Stack:
    """A running local stack as recorded in ``DIR/stack.json``."""

    state_dir: Path
    services: dict[str, StackService] = field(default_factory=dict)

    @property
    def aws_config(self) -> Path:
        return self.state_dir / "aws_config"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "env"

    def endpoint(self, service: str) -> str:
        return self.services[service].endpoint

    @property
    def source_dynamodb(self) -> str:
        return self.endpoint("source-dynamodb")

    @property
    def target_dynamodb(self) -> str:
        return self.endpoint("target-dynamodb")

    @property
    def s3(self) -> str:
        return self.endpoint("s3")

    def environ(self) -> dict[str, str]:
        """Environment variables that point boto3 and the AWS CLI at this stack."""
        return {"AWS_CONFIG_FILE": str(self.aws_config.resolve()), "AWS_SHARED_CREDENTIALS_FILE": os.devnull}

    def save(self) -> None:
        data = {"services": {k: asdict(v) for k, v in self.services.items()}}
        (self.state_dir / "stack.json").write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, state_dir: Path) -> Stack | None:
        path = state_dir / "stack.json"
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            services = {k: StackService(**v) for k, v in data["services"].items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise LocalStackError(f"{path} is not a stack state file ({exc}); remove it and run 'ddbmigrate local up'") from None
        return cls(state_dir=state_dir, services=services)


# --------------------------------------------------------------------------- up


def stack_up(state_dir: Path = DEFAULT_STATE_DIR) -> Stack:
    """Start the stack (or return the one already running in ``state_dir``)."""
    state_dir = Path(state_dir)
    existing = Stack.load(state_dir)
    if existing is not None:
        alive = [s for s in existing.services.values() if _is_ours(s)]
        if len(alive) == len(existing.services) and all(_answers(s) for s in alive):
            return existing
        stack_down(state_dir)
    java = check_java()
    jar_dir = ensure_dynamodb_local()
    state_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(state_dir=state_dir)
    try:
        for account in PROFILES:
            port = _free_port()
            stack.services[f"{account}-dynamodb"] = _spawn(
                f"{account}-dynamodb", dynamodb_local_command(jar_dir, port, java=java), port, state_dir, cwd=jar_dir
            )
        port = _free_port()
        moto_cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        stack.services["s3"] = _spawn("s3", moto_cmd, port, state_dir)
        stack.save()
        for service in stack.services.values():
            _wait_until_ready(service)
    except BaseException:
        stack.save()
        stack_down(state_dir)
        raise
    write_aws_config(stack)
    return stack


def write_aws_config(stack: Stack, extra: Mapping[str, tuple[str, Mapping[str, str]]] | None = None) -> None:
    """Write ``aws_config`` (profiles ``source``/``target``, and ``extra``) and ``env`` for this stack.

    ``extra`` maps a profile name to ``(account it acts as, endpoint overrides by service)``.
    """
    lines: list[str] = []
    for account in PROFILES:
        lines += _profile_lines(stack, account, account, {})
    for name, (account, endpoints) in (extra or {}).items():
        lines += _profile_lines(stack, name, account, endpoints)
    stack.aws_config.write_text("\n".join(lines))
    stack.env_file.write_text(
        f"export AWS_CONFIG_FILE={stack.aws_config.resolve()}\n"
        f"export AWS_SHARED_CREDENTIALS_FILE={os.devnull}\n"
    )


def _profile_lines(stack: Stack, name: str, account: str, endpoints: Mapping[str, str]) -> list[str]:
    key, secret = _CREDENTIALS[account]
    ddb = stack.endpoint(f"{account}-dynamodb")
    urls = {"dynamodb": ddb, "dynamodb_streams": ddb, **{s: stack.s3 for s in ("s3", "sts", "glue", "iam", "cloudwatch")}, **endpoints}
    lines = [
        f"[profile {name}]",
        f"region = {PROFILES[account]}",
        f"aws_access_key_id = {key}",
        f"aws_secret_access_key = {secret}",
        f"services = {name}-local",
        "s3 =",
        "    addressing_style = path",
        "",
        f"[services {name}-local]",
    ]
    for service, url in urls.items():
        lines += [f"{service} =", f"    endpoint_url = {url}"]
    return [*lines, ""]


@contextlib.contextmanager
def extra_profile(stack: Stack, name: str, *, like: str, endpoints: Mapping[str, str]) -> Iterator[str]:
    """A profile ``name`` that is account ``like`` (same keys, region) with some endpoints replaced.

    Written into the stack's config file, which every new boto3 session reads — Spark's Python
    workers included, whatever environment they started with — and removed again on exit.
    Tests use it to put a :class:`~ddbmigrate.local.recorder.RequestRecorder` in front of S3.
    """
    if like not in PROFILES or name in PROFILES:
        raise LocalStackError(f"extra profile {name!r}: 'like' must be one of {', '.join(PROFILES)} and the name new")
    write_aws_config(stack, {name: (like, endpoints)})
    try:
        yield name
    finally:
        write_aws_config(stack)


def _spawn(name: str, command: list[str], port: int, state_dir: Path, cwd: Path | None = None) -> StackService:
    log = state_dir / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=cwd, start_new_session=True,
        )
    return StackService(name=name, pid=proc.pid, port=port, command=command, log=str(log))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(service: StackService) -> bool:
    request = urllib.request.Request(service.endpoint + "/", method="GET")
    try:
        with urllib.request.urlopen(request, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, with an error status: it is up
    except (urllib.error.URLError, OSError):
        return False


def _wait_until_ready(service: StackService) -> None:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if not _pid_alive(service.pid):
            tail = _tail(service.log)
            raise LocalStackError(f"{service.name} exited during start-up (log {service.log}): {tail}")
        if _answers(service):
            return
        time.sleep(0.2)
    raise LocalStackError(f"{service.name} did not answer on port {service.port} within {_STARTUP_SECONDS:.0f}s (log {service.log})")


def _tail(path: str) -> str:
    with contextlib.suppress(OSError):
        lines = Path(path).read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else "(empty log)"
    return "(no log)"


# --------------------------------------------------------------------------- down / status


def stack_down(state_dir: Path = DEFAULT_STATE_DIR) -> list[str]:
    """Stop exactly the processes recorded by ``up`` in ``state_dir``; return their names."""
    state_dir = Path(state_dir)
    stack = Stack.load(state_dir)
    if stack is None:
        return []
    stopped = []
    for service in stack.services.values():
        if _is_ours(service):
            _terminate(service.pid)
            stopped.append(service.name)
    for name in ("stack.json", "aws_config", "env"):
        with contextlib.suppress(FileNotFoundError):
            (state_dir / name).unlink()
    return stopped


def stack_status(state_dir: Path = DEFAULT_STATE_DIR) -> Stack | None:
    """The recorded stack, or None when nothing was started in ``state_dir``."""
    return Stack.load(Path(state_dir))


def service_running(service: StackService) -> bool:
    return _is_ours(service) and _answers(service)


def _terminate(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _pid_alive(pid):
        _reap(pid)
        time.sleep(0.1)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        for _ in range(50):
            _reap(pid)
            if not _pid_alive(pid):
                break
            time.sleep(0.1)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False


def _is_ours(service: StackService) -> bool:
    """True when ``service.pid`` still runs the command ``up`` started (pids get reused)."""
    try:
        cmdline = Path(f"/proc/{service.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return _pid_alive(service.pid) and [c.decode(errors="replace") for c in cmdline if c] == service.command


def iter_services(stack: Stack) -> Iterator[tuple[StackService, bool]]:
    for service in stack.services.values():
        yield service, service_running(service)
