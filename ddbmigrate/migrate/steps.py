"""Run a migration step by step, each recorded in the state file before and after it runs.

A step already ended in the state is skipped on ``--resume``; one that started but did not end runs
again, and each is idempotent: the target is created only when absent, the export is reused once
its folder is recorded, the load writes full items (puts), ImportTable reuses its ClientToken (the
emulation starts over on the table it made), replication continues after its checkpoints under the
same lease owner, verify and report only read. The rules of order (stream before the export time,
load finished before replay, verify once caught up): docs/migrate.md.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ddbmigrate.dynamodb import dynamodb_client, error_code
from ddbmigrate.errors import ConfigError, SinkError, VerifyMismatch
from ddbmigrate.migrate import preflight
from ddbmigrate.migrate.options import EXPORT_IMPORT, IMPORT_TABLE, TABLE_COPY, MigrateOptions
from ddbmigrate.migrate.plan import Plan, make_plan
from ddbmigrate.migrate.recheck import VerifyOutcome, verify_with_rechecks
from ddbmigrate.migrate.report import build_report, render_markdown
from ddbmigrate.migrate.schema import create_target, finish_target, table_creation_parameters
from ddbmigrate.migrate.state import STEPS, MigrationState, StateLocation
from ddbmigrate.replicate.checkpoints import new_owner_id

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ddbmigrate.progress.counters import Goal, LagPoint, Series

__all__ = ["Migration", "Notify", "StepEvent"]

Notify = Callable[[str], None]
StepEvent = Callable[[str, str], None]
"""``(step, "start" | "done" | "skipped")``: the CLI's progress lines, the demo's writer stop."""


class Migration:
    """One ``migrate`` command: :meth:`plan` alone for ``--dry-run``, else :meth:`run`."""

    def __init__(self, options: MigrateOptions, location: StateLocation, *, notify: Notify = lambda _: None,
                 on_step: StepEvent = lambda _s, _e: None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.options, self.location, self.notify, self.on_step, self.sleep = options, location, notify, on_step, sleep
        self.state: MigrationState | None = None
        self._plan: Plan | None = None

    # ------------------------------------------------------------------ state

    def _open_state(self) -> MigrationState:
        found = self.location.load()
        o = self.options
        if found is None:
            if o.resume:
                raise ConfigError(f"--resume: no migration state at {self.location.describe()}; drop --resume to start")
            return MigrationState(o.source_table, o.target_table, owner=new_owner_id("migrate"))
        if not o.resume and not any(step in found.steps for step in STEPS[2:]):
            return MigrationState(o.source_table, o.target_table, owner=new_owner_id("migrate"))  # refused: nothing done
        if not o.resume:
            raise ConfigError(f"--state {self.location.uri} holds a migration already ({self.location.describe()}); "
                              "pass --resume to continue it, or give another --state")
        if (found.source_table, found.target_table) != (o.source_table, o.target_table):
            raise ConfigError(f"--resume: the state at {self.location.describe()} migrates {found.source_table!r} → "
                              f"{found.target_table!r}, not {o.source_table!r} → {o.target_table!r}")
        return found

    def _save(self) -> None:
        if self.state is not None:
            self.location.save(self.state)

    @contextmanager
    def _step(self, name: str) -> Iterator[dict[str, Any] | None]:
        """Yields the step's detail dict to fill, or None when it already ended (skip it)."""
        record = self.state.step(name)  # type: ignore[union-attr]
        if record.done:
            self.on_step(name, "skipped")
            yield None
            return
        record.started, record.ended = _now(), None
        record.runs += 1
        self._save()
        self.on_step(name, "start")
        yield record.detail
        record.ended = _now()
        self._save()
        self.on_step(name, "done")

    # ------------------------------------------------------------------ steps

    def plan(self) -> Plan:
        """Step 1 without recording it (``--dry-run``); on a resumed run the recorded path is kept."""
        recorded = self.state.path if self.state is not None and self.state.path else None
        self._plan = make_plan(self.options, path=recorded)
        return self._plan

    def run(self) -> dict[str, Any]:
        """Every step up to ``--until``; returns the report (also written as report.json/report.md)."""
        self.state = self._open_state()
        state = self.state
        with self._step("plan") as detail:
            if detail is not None:
                plan = self.plan()
                state.path = plan.path
                detail["rows"] = plan.rows()
        plan = self._plan or self.plan()
        with self._step("preflight") as detail:
            if detail is not None:
                s3 = self._bucket_client()
                preflight.check(self.options, plan, s3_client=s3, resumed_target=bool(state.created.get("target_created")))
                detail["changes"] = preflight.enable_what_was_allowed(
                    self.options, plan, dynamodb_client(self.options.source),
                    streams=self.options.source.client("dynamodbstreams"), sleep=self.sleep)
        with self._step("target") as detail:
            if detail is not None:
                detail.update(self._target(plan))
        with self._step("load") as detail:
            if detail is not None:
                detail.update(self._load(plan))
        just_caught_up = False
        with self._step("replicate") as detail:
            if detail is not None:
                detail.update(self._replicate(plan))
                just_caught_up = not self.options.on_glue
        if self.options.until == "caught-up":
            self.notify("stopped once replication caught up (--until caught-up); continue with "
                        "--resume --until verified, or let 'replicate run' or the Lambda carry on")
            return self._report(plan, final=False)
        with self._step("verify") as detail:
            if detail is not None:
                # with --on-glue the Lambda replicates (it holds the stream's lease): wait for its batches instead
                catch_up = (lambda: self.sleep(30.0)) if self.options.on_glue else (lambda: self._catch_up(plan))
                outcome = verify_with_rechecks(self.options, catch_up, transform=self._transform(),
                                               sleep=self.sleep, caught_up=just_caught_up)
                detail.update(outcome.to_dict())
        report = None
        with self._step("report") as detail:
            report = self._report(plan, final=True)
            if detail is not None:
                detail["files"] = [self.location.describe("report.json"), self.location.describe("report.md")]
        verified = VerifyOutcome.from_dict(state.step("verify").detail)
        if not verified.identical:
            raise VerifyMismatch(f"{verified.summary()}; see {self.location.describe('report.md')}")
        return report

    def _bucket_client(self) -> Any:
        return self.options.target.without_role(label="bucket owner (target account)").client("s3")

    def _target(self, plan: Plan) -> dict[str, Any]:
        if plan.path == IMPORT_TABLE:
            return {"action": "ImportTable creates the target during the load"}
        if plan.target.status != "absent" and not self.state.created.get("target_created"):  # type: ignore[union-attr]
            return {"action": f"target exists ({plan.target.status}); kept"}
        self.state.created["target_created"] = True  # type: ignore[union-attr]  # before the call: a resumed run owns it
        self._save()
        request = create_target(dynamodb_client(self.options.target), plan.schema, self.options.target_table,
                                sleep=self.sleep)
        return {"action": "created from the source's description",
                "indexes": [i["IndexName"] for i in request.get("GlobalSecondaryIndexes", []) +
                            request.get("LocalSecondaryIndexes", [])]}

    # ------------------------------------------------------------------ load

    def _load(self, plan: Plan) -> dict[str, Any]:
        created = self.state.created  # type: ignore[union-attr]
        if plan.path == TABLE_COPY:
            if "cutoff" not in created:  # the copy's start: the stream is on (preflight), replay from here − margin
                created["cutoff"] = _now()
                self._save()
            counts = self._table_copy()
        else:
            self._export()
            counts = self._import_table() if plan.path == IMPORT_TABLE else self._export_import()
        if plan.path != IMPORT_TABLE and not self.options.on_glue:  # the job ran here, watched: its series
            self._load_charts()
        self.state.counts["load"] = counts  # type: ignore[union-attr]
        return {"counts": counts, "target_finished": finish_target(dynamodb_client(self.options.target), plan.schema,
                                                                  self.options.target_table)}

    def _load_charts(self) -> None:
        from ddbmigrate.progress import last_monitor

        monitor = last_monitor()
        if monitor is not None and monitor.series.samples:
            self._charts("load", monitor.series, monitor.goal, title=monitor.info.label)

    def _charts(self, name: str, series: Series, goal: Goal, *, title: str, lag: Sequence[LagPoint] = ()) -> None:
        """Draw a step's charts and their series into ``charts/<name>/`` beside the report, and record
        the PNGs for it; charts that cannot be drawn (no matplotlib) are said, never fatal."""
        import tempfile
        from pathlib import Path

        from ddbmigrate.progress.charts import write_charts

        with tempfile.TemporaryDirectory(prefix="ddbmigrate-charts-") as folder:
            try:
                files = write_charts(series, goal, folder, title=title, lag=lag)
            except ConfigError as exc:
                self.notify(f"no charts for {name}: {exc}")
                return
            for path in sorted(Path(folder).iterdir()):
                self.location.write_bytes(f"charts/{name}/{path.name}", path.read_bytes())
        charts = self.state.created.setdefault("charts", {})  # type: ignore[union-attr]
        charts[name] = [f"charts/{name}/{p.name}" for p in files.charts()]
        self._save()

    def _export(self) -> None:
        from ddbmigrate.export import ExportRequest, fix_ownership, open_export, run_export

        created, o = self.state.created, self.options  # type: ignore[union-attr]
        s3 = self._bucket_client()
        if "export_uri" not in created:
            outcome = run_export(o.source, ExportRequest(table=o.source_table, bucket=o.bucket, prefix=o.prefix,  # type: ignore[arg-type]
                                                         enable_pitr=o.enable_pitr), wait=True, s3_client=s3,
                                 notify=self.notify, sleep=self.sleep)
            export = open_export(outcome.folder_uri, s3)
            created.update(export_uri=outcome.folder_uri, export_arn=outcome.export_arn, emulated=outcome.emulated,
                           cutoff=export.export_time.isoformat(), exported=export.item_count)
            self._save()
        export = open_export(created["export_uri"], s3)
        export.check(verify_checksums=True)
        if not created.get("emulated"):  # the objects' writer (the source account) grants the bucket owner control
            fix_ownership(o.source.client("s3"), created["export_uri"])

    def _mapping(self) -> str:
        """``--mapping``, else one generated from the export (saved beside the state, reviewed by the user)."""
        if self.options.mapping:
            return self.options.mapping
        from ddbmigrate.export import open_export
        from ddbmigrate.mapping import build_mapping
        from ddbmigrate.mapping.file import dumps_mapping
        from ddbmigrate.schema import crawl

        created = self.state.created  # type: ignore[union-attr]
        if "mapping" not in created:
            uri = created["export_uri"]
            mapping = build_mapping(crawl(open_export(uri, self._bucket_client())), source={"export": uri})
            self.location.write("mapping.json", dumps_mapping(mapping))
            created["mapping"] = self.location.describe("mapping.json")
            self._save()
        return str(created["mapping"])

    def _export_import(self) -> dict[str, Any]:
        from ddbmigrate.bulk import ExportImportOptions, mapping_route, run_export_import
        from ddbmigrate.mapping.file import load_mapping

        o, created = self.options, self.state.created  # type: ignore[union-attr]
        mapping = self._mapping()
        bucket_account = o.target.without_role(label="export bucket")
        mapping_file = load_mapping(mapping, s3_client=bucket_account.client("s3") if mapping.startswith("s3://") else None)
        resumable = mapping_route(mapping_file) != "applymapping"  # ApplyMapping does not follow data files
        options = ExportImportOptions(
            export_uri=created["export_uri"], mapping=mapping, target_table=o.target_table, target=o.target,
            bucket_account=bucket_account, write_percent=o.write_percent,
            dead_letter=self.location.describe("dead-letters/load"), **self._load_run(resumable))
        if o.on_glue:
            return self._on_glue(options)
        result = _with_spark(lambda spark: run_export_import(spark, options))
        return _checked(result, "import")

    def _table_copy(self) -> dict[str, Any]:
        from ddbmigrate.copy import TableCopyOptions, run_table_copy

        o = self.options
        options = TableCopyOptions(source_table=o.source_table, source=o.source, target_table=o.target_table,
                                   target=o.target, read_percent=o.read_percent, mapping=o.mapping,
                                   write_percent=o.write_percent, dead_letter=self.location.describe("dead-letters/load"),
                                   **self._load_run(True))
        if o.on_glue:
            return self._on_glue(options)
        return _checked(_with_spark(lambda spark: run_table_copy(spark, options)), "copy")

    def _load_run(self, resumable: bool) -> dict[str, Any]:
        """The load's resume key (:mod:`ddbmigrate.runstate`): a resumed load skips the data files and
        Scan pages an earlier run finished, and its counts are over every run of the key."""
        if not resumable:
            return {}
        created = self.state.created  # type: ignore[union-attr]
        if "load_run_id" not in created:
            created["load_run_id"] = "migrate-" + self.state.owner.rsplit("/", 1)[-1]  # type: ignore[union-attr]
            self._save()
        return {"run_id": created["load_run_id"], "run_state": self.location.describe("load-run-state")}

    def _on_glue(self, options: Any) -> dict[str, Any]:
        """Start the deployed job with this run's arguments and follow it (a resumed run follows the recorded one)."""
        from ddbmigrate.deploy.start import RunOverrides, follow_run, get_job, start_request, start_run
        from ddbmigrate.jobargs import EXPORT_IMPORT as EXPORT_IMPORT_JOB
        from ddbmigrate.jobargs import TABLE_COPY as TABLE_COPY_JOB

        o, created = self.options, self.state.created  # type: ignore[union-attr]
        spec = EXPORT_IMPORT_JOB if self.state.path == EXPORT_IMPORT else TABLE_COPY_JOB  # type: ignore[union-attr]
        glue = o.target.without_role(label="Glue job account").client("glue")
        if "glue_run_id" not in created:
            values = {a.name: getattr(options, a.name) for a in spec.arguments if hasattr(options, a.name)}
            argv = spec.glue_arguments(values)
            arguments = dict(zip(argv[::2], argv[1::2], strict=True))
            request = start_request(get_job(glue, o.on_glue), RunOverrides(arguments, o.worker_type, o.workers))
            created["glue_run_id"] = start_run(glue, request)
            self._save()
        run = follow_run(glue, o.on_glue, created["glue_run_id"], sleep=self.sleep,
                         on_state=lambda r: self.notify(f"Glue run {r.get('Id')}: {r.get('JobRunState')}"))
        return {"glue_run_id": created["glue_run_id"], "state": run.get("JobRunState"),
                "execution_seconds": run.get("ExecutionTime")}

    def _import_table(self) -> dict[str, Any]:
        """ImportTable from the export's data files (emulated where the API is missing), then DescribeImport."""
        from ddbmigrate.local.importtable import describe_emulated_import, emulate_import_table
        from ddbmigrate.s3uri import parse_s3_uri

        o, created = self.options, self.state.created  # type: ignore[union-attr]
        client = dynamodb_client(o.target)
        folder = parse_s3_uri(created["export_uri"], what="export")
        request = {
            "ClientToken": created.setdefault("import_token", str(uuid.uuid4())),
            "S3BucketSource": {"S3Bucket": folder.bucket, "S3KeyPrefix": folder.join("data").folder().key},
            "InputFormat": "DYNAMODB_JSON", "InputCompressionType": "GZIP",
            "TableCreationParameters": {"TableName": o.target_table, **table_creation_parameters(
                self._plan.schema, with_lsis=False)},  # type: ignore[union-attr]
        }
        log_dir = self._import_log_dir()
        if created.get("import_arn") and created.get("import_emulated"):
            description = describe_emulated_import(log_dir, created["import_arn"])
        else:
            created["target_created"] = True
            self._save()
            try:
                description = client.import_table(**request)["ImportTableDescription"]
                created["import_arn"] = description["ImportArn"]
                self._save()
                description = self._wait_import(client, description["ImportArn"])
            except ClientError as exc:
                if error_code(exc) != "UnknownOperationException":
                    raise
                self.notify("the target's DynamoDB has no ImportTable (DynamoDB Local): emulating it")
                self._drop_partial_import(client)
                created["import_emulated"] = True
                self._save()
                description = emulate_import_table(client, self._bucket_client(), request, created["export_uri"], log_dir)
                created["import_arn"] = description["ImportArn"]
                self._save()
        counts = {k: description.get(k) for k in ("ImportArn", "ImportStatus", "ProcessedItemCount",
                                                  "ImportedItemCount", "ErrorCount", "CloudWatchLogGroupArn")}
        if description.get("ImportStatus") != "COMPLETED" or description.get("ErrorCount"):
            raise SinkError(f"ImportTable {description.get('ImportArn')}: {description.get('ImportStatus')}, "
                            f"{description.get('ErrorCount')} error(s); see {description.get('CloudWatchLogGroupArn')}")
        return counts

    def _import_log_dir(self) -> str:
        if self.location.uri.startswith("s3://"):
            import tempfile

            return tempfile.mkdtemp(prefix="ddbmigrate-imports-")
        return self.location.describe("imports")

    def _drop_partial_import(self, client: Any) -> None:
        """A killed emulation left a half-filled table it made (recorded in the state): start over."""
        if not self.state.created.get("import_emulated"):  # type: ignore[union-attr]
            return
        try:
            client.update_table(TableName=self.options.target_table, DeletionProtectionEnabled=False)
            client.delete_table(TableName=self.options.target_table)
            client.get_waiter("table_not_exists").wait(TableName=self.options.target_table)
            self.notify(f"deleted the half-imported {self.options.target_table!r} a killed run left; importing again")
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise

    def _wait_import(self, client: Any, arn: str) -> dict[str, Any]:
        while True:
            description = client.describe_import(ImportArn=arn)["ImportTableDescription"]
            if description.get("ImportStatus") not in ("IN_PROGRESS", "CANCELLING"):
                return dict(description)
            self.sleep(10.0)

    # ------------------------------------------------------------------ replicate

    def _transform(self) -> Any:
        mapping = self.options.mapping or self.state.created.get("mapping")  # type: ignore[union-attr]
        if not mapping or self.state.path == IMPORT_TABLE:  # type: ignore[union-attr]
            return None
        from ddbmigrate.mapping.file import load_mapping
        from ddbmigrate.mapping.items import ItemMapping

        s3 = self._bucket_client() if str(mapping).startswith("s3://") else None
        return ItemMapping(load_mapping(mapping, s3_client=s3))

    def _replication_options(self, plan: Plan) -> Any:
        from ddbmigrate.replicate.checkpoints import FileCheckpoints, open_checkpoints
        from ddbmigrate.replicate.runner import ReplicationOptions

        o, state = self.options, self.state
        store = (open_checkpoints("table:ddbmigrate-replication", o.target) if self.location.uri.startswith("s3://")
                 else FileCheckpoints(self.location.describe("checkpoints.json")))
        return ReplicationOptions(
            source=o.source, source_table=o.source_table, target=o.target, target_table=o.target_table,
            cutoff=datetime.fromisoformat(state.created["cutoff"]), store=store, margin=o.margin,  # type: ignore[union-attr]
            transform=self._transform(), write_percent=o.write_percent,
            dead_letter=self.location.describe("dead-letters/replicate"), until="caught-up", idle_wait=0.2,
            owner=state.owner)  # type: ignore[union-attr]

    def _catch_up(self, plan: Plan) -> dict[str, Any]:
        """Replay from the checkpoints until every shard is at its tip; the run's counts (they reconcile)."""
        from ddbmigrate.progress.counters import Goal, Series
        from ddbmigrate.progress.replication import ReplicationWatch
        from ddbmigrate.replicate.runner import run_replication

        watch = ReplicationWatch(self.options.target_table, interval=5.0)
        stats = run_replication(self._replication_options(plan), on_status=watch.observe).stats
        watch.tick()
        counts = {"seen": stats.seen, "applied": stats.applied, "skipped": stats.skipped,
                  "superseded": stats.superseded, "dead_lettered": stats.dead_lettered,
                  "consumed_wcu": round(stats.consumed_wcu, 1),
                  "lag_seconds": round(max(0.0, time.time() - stats.newest_applied), 1) if stats.newest_applied else None}
        runs = self.state.counts.setdefault("replicate_runs", [])  # type: ignore[union-attr]
        runs.append(counts)
        self._save()
        if watch.lag:
            self._charts(f"replicate-{len(runs)}", Series(), Goal(), title=self.options.target_table, lag=watch.lag)
        if not stats.reconciles:
            raise SinkError(f"replication counts do not reconcile ({stats.summary()}); this is a bug: please report it")
        if stats.dead_lettered:
            raise SinkError(f"{stats.dead_lettered} change(s) were dead-lettered under "
                            f"{self.location.describe('dead-letters/replicate')}; fix and replay them (docs/replication.md)")
        return counts

    def _replicate(self, plan: Plan) -> dict[str, Any]:
        if self.options.on_glue:
            return self._enable_lambda(plan)
        return {"counts": self._catch_up(plan)}

    def _enable_lambda(self, plan: Plan) -> dict[str, Any]:
        from ddbmigrate.dynamodb import describe_table
        from ddbmigrate.replicate.enable import EnableRequest, enable_replication_lambda

        o, created = self.options, self.state.created  # type: ignore[union-attr]
        target = describe_table(o.target, o.target_table, option="--target-table")
        result = enable_replication_lambda(EnableRequest(
            function_name=o.function_name, stream_arn=plan.source.stream_arn or "",
            replay_from=datetime.fromisoformat(created["cutoff"]) - o.margin, expected_items=created.get("exported"),
            target_items=target.item_count, target_table=o.target_table), lambda_client=o.source.client("lambda"),
            now=datetime.now(timezone.utc))
        return {"lambda": o.function_name, "event_source_mapping": result.uuid, "state": result.state}

    # ------------------------------------------------------------------ report

    def _report(self, plan: Plan, *, final: bool) -> dict[str, Any]:
        report = build_report(self.options, self.state, plan, final=final)  # type: ignore[arg-type]
        self.location.write("report.json", _json(report))
        self.location.write("report.md", render_markdown(report))
        return report


def _json(report: dict[str, Any]) -> str:
    import json

    return json.dumps(report, indent=2, default=str) + "\n"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _with_spark(run: Callable[[Any], Any]) -> Any:
    """The caller's SparkSession (a test, a notebook) when one is active, else a local one stopped afterwards."""
    from pyspark.sql import SparkSession

    from ddbmigrate.gluelocal.runner import local_spark_session

    running = SparkSession.getActiveSession()
    spark = running or local_spark_session("ddbmigrate-migrate")
    try:
        return run(spark)
    finally:
        if running is None:
            spark.stop()


def _checked(result: Any, what: str) -> dict[str, Any]:
    counts = {"read": result.read, "written": result.written, "dead_lettered": result.dead_lettered,
              "consumed_wcu": round(result.consumed_wcu, 1), "seconds": round(result.elapsed_seconds, 1)}
    if not result.ok:
        raise SinkError(f"the {what} did not reconcile or dead-lettered items (read {result.read}, written "
                        f"{result.written}, dead-lettered {result.dead_lettered}); see the dead letters, fix, and "
                        "run again with --resume")
    return counts

