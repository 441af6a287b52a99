"""Run a Glue script file locally, the way the Glue runtime starts it.

:func:`run_script` is what ``python script.py`` would do on Glue, minus AWS:

* the stand-in is installed as ``awsglue`` unless the real one works (:mod:`.shim`);
* ``sys.argv`` is ``[script, --JOB_ID …, --JOB_RUN_ID …, --job-bookmark-option
  job-bookmark-disable, --JOB_NAME <script name>, *argv]`` — Glue always passes those four; any of
  them given in ``argv`` wins and is not added twice;
* the script runs as ``__main__`` with its folder first on ``sys.path``;
* Spark: the given SparkSession, or a new local one (``local[*]``, ``spark.sql.caseSensitive``
  true, UI and progress bars off, UTC). On Glue the script creates the SparkContext; here one already runs, so
  during the run ``SparkContext()`` in the script returns it (arguments such as ``conf=`` cannot
  apply to a running context and are logged as ignored), and ``stop()`` on it is skipped when the
  session belongs to the caller. A session created here is stopped when the script ends;
* the exit code is Python's: 0 when the script returns, ``SystemExit``'s code when it exits
  (``None`` → 0, a message → printed, 1), 1 with the traceback on stderr when it raises —
  except for ddbmigrate's own errors (bad arguments, a corrupt export, …), which are actionable
  as they are: one line ``<script>: error: <message>`` on stderr and the error's exit code, as the
  ``ddbmigrate`` command prints them — and for botocore failures the user can fix (credentials,
  region, access, …: :func:`ddbmigrate.awserrors.edge_error`). (On AWS Glue the same error fails
  the run with its message.)
"""

from __future__ import annotations

import logging
import runpy
import sys
import traceback
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ddbmigrate.awserrors import edge_error
from ddbmigrate.errors import ConfigError
from ddbmigrate.gluelocal.shim import install_awsglue_shim

__all__ = ["glue_argv", "local_spark_session", "run_script"]

log = logging.getLogger("ddbmigrate.gluelocal")


def local_spark_session(app_name: str = "ddbmigrate-gluelocal") -> Any:
    """A local SparkSession configured like the tests and Glue: case-sensitive names, UTC, no UI."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[*]")
        .appName(app_name)
        .config("spark.sql.caseSensitive", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


def _given(argv: Sequence[str], name: str) -> bool:
    return any(a == name or a.startswith(name + "=") for a in argv)


def glue_argv(script: str | Path, argv: Sequence[str]) -> list[str]:
    """``sys.argv`` as Glue builds it: the script, Glue's own arguments (unless given), then ``argv``."""
    added: list[str] = []
    defaults = {
        "--JOB_ID": f"j_local_{uuid.uuid4().hex[:16]}",
        "--JOB_RUN_ID": f"jr_local_{uuid.uuid4().hex}",
        "--job-bookmark-option": "job-bookmark-disable",
        "--JOB_NAME": Path(script).stem,
    }
    for name, value in defaults.items():
        if not _given(argv, name):
            added += [name, value]
    return [str(script), *added, *argv]


class _Run:
    """The SparkContext a script run shares, or None between runs."""

    active: Any = None
    protect: bool = False


_patched = False


def _patch_spark_context() -> None:
    """Let ``SparkContext()`` return the running context during a run (no effect between runs)."""
    global _patched
    if _patched:
        return
    from pyspark import SparkContext

    original_init, original_stop = SparkContext.__init__, SparkContext.stop

    def shared_new(cls: type, *args: Any, **kwargs: Any) -> Any:
        if cls is SparkContext and _Run.active is not None:
            return _Run.active
        return object.__new__(cls)

    def shared_init(self: Any, *args: Any, **kwargs: Any) -> None:
        if self is _Run.active and _Run.active is not None:
            conf = kwargs.get("conf") or next((a for a in args if hasattr(a, "getAll")), None)
            ignored = sorted(k for k, _ in conf.getAll()) if conf is not None else []
            if args or kwargs:
                log.info("SparkContext(...) returns the running local context; not applied: %s", ignored or "arguments")
            return
        original_init(self, *args, **kwargs)

    def guarded_stop(self: Any) -> None:
        if self is _Run.active and _Run.protect:
            log.info("the script's SparkContext.stop() is skipped: the session belongs to the caller")
            return
        original_stop(self)

    SparkContext.__new__ = shared_new  # type: ignore[assignment, method-assign]
    SparkContext.__init__ = shared_init  # type: ignore[method-assign]
    SparkContext.stop = guarded_stop  # type: ignore[method-assign]
    _patched = True


@contextmanager
def _script_environment(script: Path, argv: list[str], spark_context: Any, *, protect: bool) -> Iterator[None]:
    saved_argv, saved_path = sys.argv, list(sys.path)
    _patch_spark_context()
    _Run.active, _Run.protect = spark_context, protect
    sys.argv = argv
    sys.path.insert(0, str(script.parent))
    try:
        yield
    finally:
        _Run.active, _Run.protect = None, False
        sys.argv = saved_argv
        sys.path[:] = saved_path


def _exit_code(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def run_script(path: str | Path, argv: Sequence[str], *, spark: Any = None) -> int:
    """Run the Glue script at ``path`` with job arguments ``argv``; return its exit code (module docstring)."""
    script = Path(path)
    if not script.is_file():
        raise ConfigError(f"Glue script {script} does not exist")
    own = spark is None
    session = local_spark_session() if own else spark
    try:
        install_awsglue_shim()
        full_argv = glue_argv(script, argv)
        log.info("running %s locally (job %s)", script, full_argv[full_argv.index("--JOB_NAME") + 1] if "--JOB_NAME" in full_argv else "-")
        with _script_environment(script, full_argv, session.sparkContext, protect=not own):
            try:
                runpy.run_path(str(script), run_name="__main__")
            except SystemExit as exc:
                return _exit_code(exc.code)
            except Exception as exc:
                error = edge_error(exc)
                if error is None:
                    traceback.print_exc()
                    return 1
                print(f"{script.name}: error: {error}", file=sys.stderr)
                return error.exit_code
        return 0
    finally:
        if own:
            session.stop()
