"""``awsglue.job.Job``: job start and commit, locally without job bookmarks.

On Glue, ``Job.init`` registers the run with the service and loads the job-bookmark state, and
``Job.commit`` saves the new state so that the next run skips what this one read. Locally there
is no bookmark service: ``init`` and ``commit`` log the job's name and run id, every run reads
everything it is pointed at, and asking for ``--job-bookmark-option job-bookmark-enable`` logs a
warning saying so (the run is otherwise unaffected — bookmarks only ever *skip* input).
``commit`` before ``init`` is logged as a warning too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ddbmigrate.errors import ConfigError

__all__ = ["Job"]

log = logging.getLogger("ddbmigrate.gluelocal")


class Job:
    """Glue's ``Job(glue_context_or_spark_session)`` with ``init``/``commit``/``isInitialized``."""

    @classmethod
    def continuation_options(cls) -> list[str]:
        return ["--continuation-option", "continuation-enabled", "continuation-readonly", "continuation-ignore"]

    @classmethod
    def job_bookmark_options(cls) -> list[str]:
        return ["--job-bookmark-option", "job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable"]

    @classmethod
    def job_bookmark_range_options(cls) -> list[str]:
        return ["--job-bookmark-from", "--job-bookmark-to"]

    @classmethod
    def id_params(cls) -> list[str]:
        return ["--JOB_NAME", "--JOB_ID", "--JOB_RUN_ID", "--SECURITY_CONFIGURATION"]

    @classmethod
    def encryption_type_options(cls) -> list[str]:
        return ["--encryption-type", "sse-s3"]

    @classmethod
    def data_lineage_options(cls) -> list[str]:
        return ["--enable-data-lineage"]

    def __init__(self, glue_context_or_spark_session: Any) -> None:
        from pyspark.sql import SparkSession

        from ddbmigrate.gluelocal.context import GlueContext

        if isinstance(glue_context_or_spark_session, GlueContext):
            self._glue_context: GlueContext | None = glue_context_or_spark_session
            self._spark_session = glue_context_or_spark_session.spark_session
        elif isinstance(glue_context_or_spark_session, SparkSession):
            self._glue_context = None
            self._spark_session = glue_context_or_spark_session
        else:
            raise ConfigError(
                "cannot init Job instance given input parameter type: "
                f"{type(glue_context_or_spark_session).__name__} (pass a GlueContext or a SparkSession)"
            )
        self._name: str | None = None
        self._run_id: str | None = None
        self._initialized = False

    def init(self, job_name: str | None, args: Mapping[str, Any] | None = None) -> None:
        """Start the run: log it; warn that bookmarks are not kept locally when they were asked for."""
        args = dict(args or {})
        self._name, self._run_id = job_name, args.get("JOB_RUN_ID")
        self._initialized = True
        log.info("job %s started (run %s) on the local Glue runtime", job_name, self._run_id or "-")
        if args.get("job_bookmark_option") == "job-bookmark-enable":
            log.warning(
                "job %s: job bookmarks are not supported by ddbmigrate.gluelocal; this run reads all of its input",
                job_name,
            )

    def isInitialized(self) -> bool:
        return self._initialized

    def commit(self) -> None:
        """End the run (nothing to persist locally)."""
        if not self._initialized:
            log.warning("job commit() called before init(); nothing to commit")
            return
        log.info("job %s committed (run %s)", self._name, self._run_id or "-")
