"""The export → import pipeline behind ``jobs/export_import.py`` (and ``ddbmigrate run export-import``).

Locate the data files through the manifests, verify each file (md5, count) before any of its items
goes on, validate every line, map (item by item when no rule casts, carrying schema drift —
:mod:`ddbmigrate.drift`; else ApplyMapping on Spark rows, which refuses items that do not fit the
saved schema, :func:`mapping_route`), then write through the rate-limited, retrying
sink. Whatever is refused is dead-lettered whole with ``<file> line <n>`` and its reason — or, with
no dead-letter location, stops the job before anything is written. Counts reconcile:
``read = written + dead-lettered``, and re-running is safe (every write is a full-item put); with
``--run_id`` a rerun skips the data files already done (:mod:`ddbmigrate.runstate`, docs/resume.md).
Stage by stage: docs/architecture.md, "Export → import"; the routes: docs/mapping.md, "4. In the
import job".
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ddbmigrate.accounts import Account
from ddbmigrate.capacity import DEFAULT_WRITE_PERCENT, job_budget
from ddbmigrate.drift import DriftCounts
from ddbmigrate.errors import ConfigError, DdbMigrateError, ExportError
from ddbmigrate.jobargs import APPLY_MAPPING_CHOICES, EXPORT_IMPORT, account_of
from ddbmigrate.sink.options import DEFAULT_REQUESTS_IN_FLIGHT, GLUE_DEFAULT_RETRIES
from ddbmigrate.values import Item

if TYPE_CHECKING:
    from ddbmigrate.dynamodb import TableDescription
    from ddbmigrate.export import DataFile
    from ddbmigrate.mapping.file import MappingFile
    from ddbmigrate.mapping.items import ItemMapping
    from ddbmigrate.runstate import ResumeTotals, RunState
    from ddbmigrate.sink.options import SinkOptions
    from ddbmigrate.sink.writer import Prepared, Rejected
    from ddbmigrate.values import JsonItem

__all__ = ["APPLY_MAPPING_CHOICES", "ORIGIN_COLUMN", "ExportImportOptions", "PipelineResult", "mapping_route",
           "run_export_import"]

_T = TypeVar("_T")

log = logging.getLogger(__name__)


ORIGIN_COLUMN = "__ddbmigrate_origin"
"""Carried through Spark beside ``Item`` so a dead letter can name its file and line."""


@dataclass(frozen=True)
class ExportImportOptions:
    """Everything the export-import job needs; built from Glue arguments (:meth:`from_job_args`) or
    in code. Each field named like a job argument is checked by that argument's one declaration
    (:data:`ddbmigrate.jobargs.EXPORT_IMPORT`), whichever way the options were built."""

    export_uri: str
    mapping: str
    """A mapping file: a local path or ``s3://BUCKET/KEY.json`` (read with ``bucket_account``)."""
    target_table: str
    target: Account
    bucket_account: Account
    write_percent: float = DEFAULT_WRITE_PERCENT
    write_capacity: int | None = None
    parallel_tasks: int | None = None
    dead_letter: str | None = None
    max_retries: int = GLUE_DEFAULT_RETRIES
    requests_in_flight: int = DEFAULT_REQUESTS_IN_FLIGHT
    cloudwatch_metrics: str = "auto"
    verify_checksums: bool = True
    apply_mapping: str = "auto"
    """``auto``: rules that only rename, drop or nest are applied item by item (same result, see
    :func:`mapping_route`); ``always``: every mapping goes through ApplyMapping on a DynamicFrame."""
    run_id: str | None = None
    """Resume key (:mod:`ddbmigrate.runstate`): data files an earlier run with this id finished are skipped."""
    run_state: str | None = None

    def __post_init__(self) -> None:
        EXPORT_IMPORT.check(self)

    @classmethod
    def from_job_args(cls, args: dict[str, Any]) -> ExportImportOptions:
        """Build from ``getResolvedOptions`` output (Glue argument names, all strings)."""
        parsed = EXPORT_IMPORT.parse(args)
        return cls(
            target=account_of(parsed, "target"),
            bucket_account=account_of(parsed, "target", label="export bucket", with_role=False),
            **{name: parsed[name] for name in _OPTION_ARGUMENTS},
        )


_OPTION_ARGUMENTS = ("export_uri", "mapping", "target_table", "apply_mapping", "write_percent", "write_capacity",
                     "parallel_tasks", "dead_letter", "max_retries", "requests_in_flight", "cloudwatch_metrics",
                     "run_id", "run_state")
"""The job arguments that are fields of :class:`ExportImportOptions` as they are (the rest make accounts)."""


@dataclass
class PipelineResult:
    """What the job prints at the end; ``ok`` decides its exit code."""

    read: int = 0
    written: int = 0
    dead_lettered: int = 0
    consumed_wcu: float = 0.0
    elapsed_seconds: float = 0.0
    retries: int = 0
    throttles: int = 0
    dead_letter_location: str | None = None
    stages: dict[str, int] = field(default_factory=dict)
    mapping_route: str = ""
    """How the mapping was applied (:func:`mapping_route`); empty where no mapping file is involved."""
    drift: DriftCounts = field(default_factory=DriftCounts)
    """Schema drift carried item by item (new attributes, new types), by name."""
    resume: ResumeTotals | None = None
    """With ``--run_id``: the counts are over every run of the id, unit by unit (data files, segments)."""
    cpu_seconds: float = 0.0
    """CPU time of the writing tasks' processes (:attr:`~ddbmigrate.sink.SinkStats.cpu_seconds`)."""

    @property
    def reconciles(self) -> bool:
        return self.read == self.written + self.dead_lettered and (self.resume is None or self.resume.complete)

    @property
    def ok(self) -> bool:
        return self.reconciles and self.dead_lettered == 0

    def summary_lines(self) -> list[str]:
        lines = [
            f"read={self.read} written={self.written} dead_lettered={self.dead_lettered} "
            f"consumed_wcu={self.consumed_wcu:.1f} elapsed={self.elapsed_seconds:.1f}s",
            f"reconciles: read {self.read} = written {self.written} + dead-lettered {self.dead_lettered}: "
            + ("yes" if self.reconciles else "NO"),
        ]
        if self.mapping_route:
            lines.append(f"mapping applied: {self.mapping_route} (see docs/mapping.md, 'In the import job')")
        if self.resume is not None:
            lines.append(self.resume.summary())
        drift = self.drift.summary()
        if drift:
            lines.append(drift)
        if self.dead_lettered:
            lines.append(f"dead letters: {self.dead_letter_location} (fix the items and replay them; see docs/sink.md)")
        return lines


@dataclass(frozen=True)
class DataFileTask:
    """One Spark task's input, built on the driver from the export opened once there (picklable).

    The file's manifest entry carries its md5 and item count, so the executor checks the file
    without reading a manifest; it builds its own S3 client from ``account`` (clients do not pickle).
    """

    data_file: DataFile
    account: Account
    """Who reads the export bucket: the job's own account (on Glue, the job's role)."""
    schema: dict[str, Any]
    """The mapping's saved schema: drift is found (item by item) or refused (ApplyMapping) against it."""

    def lines(self, s3_client: Any = None) -> Iterator[tuple[int, str]]:
        """The file's numbered lines, verified (md5, count) before the first: one GET (with
        ``s3_client``, the partition's client of :func:`_one_client_per_partition`)."""
        from ddbmigrate.export import read_lines

        return read_lines(s3_client or self.account.client("s3"), self.data_file, verify=True)


def _one_client_per_partition(
    fn: Callable[[DataFileTask, Any], Iterable[_T]],
) -> Callable[[Iterable[DataFileTask]], Iterator[_T]]:
    """``fn(task, s3_client)`` over a partition's files, with one S3 client per account for the
    whole partition: creating a client costs CPU (a process's first about 0.1 s, later ones ~15 ms;
    bench/README.md), which a client per file paid again for every file."""

    def over_partition(tasks: Iterable[DataFileTask]) -> Iterator[_T]:
        clients: dict[Account, Any] = {}
        for task in tasks:
            if task.account not in clients:
                clients[task.account] = task.account.client("s3")
            yield from fn(task, clients[task.account])

    return over_partition


_MISFIT = ("the ApplyMapping route (a cast in the mapping, or --apply_mapping always) needs every item to fit the "
           "mapping's schema: ")


_ITEM_PREFIX = '{"Item":'
"""How every line of a DynamoDB export starts (compact JSON): the item's text follows it."""
_DECODER = json.JSONDecoder()


def _parse_line(line: str, origin: str, schema: dict[str, Any] | None) -> tuple[JsonItem, str | None] | str:
    """One export line → ``(validated item with its size, its JSON text)``, or the reason it is
    refused (names, never values). With ``schema`` (the ApplyMapping route) an item that does not
    fit it is refused too; the item-by-item routes pass None and carry drift instead.

    The text is the line's ``Item`` value exactly as the export spelled it, when the line is
    ``{"Item":<item>}`` and the item's JSON is what ``item_to_json`` gives (canonical base64): the
    sink then sends it without encoding it again. Any other spelling (spaces, other or repeated
    keys) takes the full parse, and its text is None. A name repeated *inside* the item is not looked
    for: the file's md5 has matched the export's manifest, and DynamoDB writes none.
    """
    from ddbmigrate.schema import conformance_error
    from ddbmigrate.values import read_json_item

    text = None
    try:
        try:
            value, end = _DECODER.raw_decode(line, len(_ITEM_PREFIX)) if line.startswith(_ITEM_PREFIX) else (None, 0)
        except ValueError:
            value = None
        if value is not None and line[end:].strip() == "}":
            text = line[len(_ITEM_PREFIX):end]
        else:
            obj = json.loads(line)
            if not isinstance(obj, dict) or set(obj) != {"Item"}:
                raise ValueError('a line must be one JSON object {"Item": {...}}')
            value = obj["Item"]
        read = read_json_item(value, where=origin)
    except ValueError as exc:  # InvalidItemError is a ValueError; so is json's decode error
        return str(exc) if str(exc).startswith(origin) else f"malformed line: {exc.__class__.__name__}"
    misfit = conformance_error(read.item, schema) if schema is not None else None
    return _MISFIT + misfit if misfit else (read, text if read.json_exact else None)


def _verify_data_file(task: DataFileTask, s3_client: Any) -> Iterator[tuple[str, str]]:
    """Executor side of the per-item route's first pass: ``(error class name, message)`` for a file
    that cannot be trusted (md5, line count, gzip, missing), nothing for a sound one — as data, see below."""
    from ddbmigrate.export import verify_data_file

    try:
        verify_data_file(s3_client, task.data_file)
    except DdbMigrateError as exc:
        yield type(exc).__name__, str(exc)


def _read_data_file(task: DataFileTask) -> Iterator[tuple[str, str | None, str | None, tuple[str, str] | None]]:
    """Executor side of stage 2: yield ``(origin, json_line | None, dead_letter_reason | None, fatal | None)``.

    ``fatal`` is ``(error class name, message)`` when the file itself cannot be trusted (corrupt
    gzip, md5 or count mismatch, missing object). It travels back as data rather than as an
    exception, because Spark would wrap our exception in a Java stack trace and the driver could
    not raise the error the user needs — one naming the file.
    """
    data_file = task.data_file
    try:
        for line_no, line in task.lines():
            origin = f"{data_file.uri} line {line_no}"
            parsed = _parse_line(line, origin, task.schema)
            if isinstance(parsed, str):
                yield origin, None, parsed, None
            else:
                yield origin, '{"' + ORIGIN_COLUMN + '":' + json.dumps(origin) + "," + line.strip()[1:], None, None
    except DdbMigrateError as exc:  # the whole file is refused before any of its lines is yielded
        yield data_file.uri, None, None, (type(exc).__name__, str(exc))


def _items_of_file(
    task: DataFileTask, transform: ItemMapping | None, table: TableDescription | None, drift: DriftCounts | None = None,
    s3_client: Any = None,
) -> Iterator[tuple[str, Item | Prepared | Rejected]]:
    """Executor side of the per-item route: ``(origin, mapped item | Rejected)`` for each line of a file.

    The file is verified (md5, count) before its first line, as in the Spark route. With ``table``
    the target's key and size checks run here too (the pass that looks for refusals before a run
    without a dead-letter location writes anything); otherwise the sink runs them as it writes.
    Schema drift is carried (the identity writes the item as it is) and counted into ``drift``.
    """
    from ddbmigrate.drift import find_drift
    from ddbmigrate.sink.writer import Prepared, Rejected

    data_file = task.data_file
    for line_no, line in task.lines(s3_client):
        origin = f"{data_file.uri} line {line_no}"
        parsed = _parse_line(line, origin, None)
        if isinstance(parsed, str):
            yield origin, Rejected(parsed)
            continue
        read, text = parsed
        mapped = read.item
        if transform is not None:
            try:
                mapped, unknown, retyped = transform.map(read.item)
            except DdbMigrateError as exc:
                yield origin, Rejected(f"cannot apply the mapping: {exc}", item=read.item)
                continue
            if drift is not None and (unknown or retyped):
                drift.add(unknown, retyped)
        elif drift is not None:
            found = find_drift(read.item, task.schema)
            if found is not None:
                drift.add(found.unknown, found.retyped)
        refusal = _target_refusal(mapped, table) if table is not None else None
        if refusal is not None:
            yield origin, refusal
        elif transform is None:  # the identity: the item's size and (when exact) its JSON text travel with it
            yield origin, Prepared(mapped, read.size, text)
        else:
            yield origin, mapped


def _first_refusals(rows: Iterator[tuple[str, Any]]) -> Iterator[tuple[int, tuple[str, str] | None]]:
    """One partition's ``(refusals, first (origin, reason))``: a count, not the refusals themselves."""
    from ddbmigrate.sink.writer import Rejected

    count, first = 0, None
    for origin, value in rows:
        if isinstance(value, Rejected):
            count += 1
            first = first or (origin, value.reason)
    yield count, first


def _raise_unreadable(fatal: list[tuple[str, str]]) -> None:
    """Raise the executors' file-level errors on the driver, as our own class, every file named."""
    from ddbmigrate import errors

    names = {name for name, _ in fatal}
    cls = getattr(errors, names.pop(), ExportError) if len(names) == 1 else ExportError
    if not (isinstance(cls, type) and issubclass(cls, DdbMigrateError)):
        cls = ExportError
    messages = sorted({message for _, message in fatal})
    if len(messages) == 1:
        raise cls(messages[0])
    shown = messages[:10]
    more = f"\n  … and {len(messages) - len(shown)} more" if len(messages) > len(shown) else ""
    raise cls(f"{len(messages)} data files cannot be read; nothing was written:\n  " + "\n  ".join(shown) + more)


def _to_item(row: Any, mapping: Any, table: TableDescription) -> tuple[str, Item | Rejected]:
    """Stage 4's conversion: ``(origin, item)``, or ``(origin, Rejected)`` for what can never be written."""
    from ddbmigrate.mapping import row_to_item
    from ddbmigrate.sink.writer import Rejected

    values = row.asDict(recursive=True)
    origin = values.pop(ORIGIN_COLUMN, None) or "unknown origin"
    try:
        item = row_to_item(values, mapping)
    except DdbMigrateError as exc:
        return origin, Rejected(f"cannot convert the mapped row: {exc}")
    return origin, _target_refusal(item, table) or item


def _target_refusal(item: Item, table: TableDescription) -> Rejected | None:
    """Why the target would refuse ``item`` whatever we retried — key attributes missing or mistyped
    for ``table``, over 400 KB — with the sink's own validators and messages; else None.

    Run before any write, so a run without a dead-letter location can stop before it writes anything.
    """
    from ddbmigrate.errors import InvalidItemError
    from ddbmigrate.sink.writer import Rejected
    from ddbmigrate.values import validate_item_size, validate_key

    try:
        validate_key(item, table.key_schema, table.attribute_types, where="item")
        validate_item_size(item, where="item")
    except InvalidItemError as exc:
        key = {name: item[name] for name in table.key_names if name in item}
        return Rejected(str(exc).removeprefix("item: "), key=key, item=item)
    return None


def _apply_rules(frame: Any, mapping: Any, glue_context: Any) -> Any:
    """Stage 3's ApplyMapping, case-sensitive, with cast failures marked: Glue's own transform when a GlueContext is given.

    With a ``glue_context`` (the Glue script) the rules go through ``awsglue.transforms.ApplyMapping``
    on a DynamicFrame — real Glue's implementation on AWS Glue and in the Glue Docker image, the
    :mod:`ddbmigrate.gluelocal` stand-in elsewhere — so the job maps exactly as a Glue Studio
    script with the same rules would. Without one (the library, the CLI) the library's
    :func:`ddbmigrate.mapping.spark.apply_mapping`, which the stand-in also uses, does it directly.

    Either way a user-edited cast that turns a value into null (38 digits into ``long``) must not
    drop the attribute silently: the target paths concerned land in ``CAST_FAILURES_COLUMN`` and
    :func:`ddbmigrate.mapping.row_to_item` refuses the row (a dead letter naming the target).
    Glue's ApplyMapping has no such check, so on that path each cast rule's source value is carried
    through as an extra plain column and compared with the cast result.
    """
    from pyspark.sql import functions as F

    from ddbmigrate.mapping import CAST_FAILURES_COLUMN
    from ddbmigrate.schema import join_path

    origin_rule = (ORIGIN_COLUMN, "string", ORIGIN_COLUMN, "string")
    rules = [*mapping.glue_tuples(), origin_rule]
    if glue_context is None:
        from ddbmigrate.mapping.spark import apply_mapping

        return apply_mapping(frame, rules, case_sensitive=True, check_casts=True)
    try:
        from awsglue.dynamicframe import DynamicFrame
        from awsglue.transforms import ApplyMapping
    except ImportError as exc:
        raise ConfigError(
            f"a glue_context was given but awsglue cannot be imported ({exc}); call "
            "ddbmigrate.gluelocal.install_awsglue_shim() first, or pass glue_context=None"
        ) from None
    casts = [rule for rule in mapping.rules
             if rule.casts and rule.target_type.name not in ("array", "struct", "map")]
    carried = {rule.index: f"{ORIGIN_COLUMN}_source_{rule.index}" for rule in casts}
    extra = [(mapping.mappings[i][0], mapping.mappings[i][1], name, mapping.mappings[i][1]) for i, name in carried.items()]
    dynamic = DynamicFrame.fromDF(frame, glue_context, "mapped")
    mapped = ApplyMapping.apply(frame=dynamic, mappings=[*rules, *extra], case_sensitive=True,
                                transformation_ctx="mapped").toDF()
    if not casts:
        return mapped
    marks = [F.when(F.col(carried[rule.index]).isNotNull() & F.col(_column_path(rule.target)).isNull(),
                    F.lit(join_path(rule.target))) for rule in casts]
    failures = F.filter(F.array(*marks), lambda x: x.isNotNull())
    return mapped.withColumn(CAST_FAILURES_COLUMN, failures).drop(*carried.values())


def _column_path(path: tuple[str, ...]) -> str:
    """A nested target as a Spark column path, every name quoted (names may hold dots)."""
    return ".".join("`" + name.replace("`", "``") + "`" for name in path)


def _origin_and_reason(row: tuple[str, Rejected]) -> tuple[str, str]:
    return row[0], row[1].reason


def run_export_import(spark: Any, options: ExportImportOptions, *, glue_context: Any = None) -> PipelineResult:
    """Run the pipeline; return the reconciled counts (the caller decides the exit code).

    Attribute names are case-sensitive whatever the session's setting (restored afterwards).
    """
    from ddbmigrate.mapping.spark import case_sensitive_names

    with case_sensitive_names(spark):
        return _run_export_import(spark, options, glue_context)


def mapping_route(mapping: MappingFile, apply_mapping: str = "auto") -> str:
    """How the job applies ``mapping``: ``"identity"``, ``"per-item"`` or ``"applymapping"``.

    ApplyMapping's semantics are the contract; the route only decides where they are computed.
    A rule that casts needs Spark's cast semantics, so any cast (or ``apply_mapping="always"``) goes
    through ApplyMapping on Spark rows. Rules that only rename, drop or nest give, item by item, exactly
    the rows ApplyMapping would (:class:`~ddbmigrate.mapping.items.ItemMapping`, held to the Spark path
    by the tests), without moving every item into Spark rows and back — most of the job's CPU per item.
    The generated rules of the mapping's own schema are the identity on every item that fits that
    schema (each item is checked against it first), so they are not applied at all.
    """
    from ddbmigrate.mapping.rules import generate_mappings

    if apply_mapping == "always" or any(rule.casts for rule in mapping.rules):
        return "applymapping"
    if sorted(r.as_tuple() for r in mapping.rules) == sorted(generate_mappings(mapping.schema)):
        return "identity"
    return "per-item"


def _run_export_import(spark: Any, options: ExportImportOptions, glue_context: Any) -> PipelineResult:
    from ddbmigrate.dynamodb import describe_table
    from ddbmigrate.export import open_export
    from ddbmigrate.mapping import load_mapping
    from ddbmigrate.mapping.items import ItemMapping
    from ddbmigrate.progress import Goal, watch_job
    from ddbmigrate.sink import SinkOptions

    started = time.monotonic()
    s3 = options.bucket_account.client("s3")
    export = open_export(options.export_uri, s3)
    mapping = load_mapping(options.mapping, s3_client=s3)  # a path, or s3://… in the bucket's account
    table = describe_table(options.target, options.target_table, option="--target-table").with_capacity(
        write=options.write_capacity)
    # the export is opened here, once: each task gets its file's manifest entry, never the manifests
    tasks = [DataFileTask(f, options.bucket_account, dict(mapping.schema)) for f in export.data_files]
    sink = SinkOptions(
        table=options.target_table, target=options.target, write_percent=options.write_percent,
        capacity_override=options.write_capacity, parallel_tasks=options.parallel_tasks,
        max_retries=options.max_retries, dead_letter=options.dead_letter,
        requests_in_flight=options.requests_in_flight,
        dead_letter_account=options.bucket_account,  # the job's own account: both stages store their letters with it
    )
    route = mapping_route(mapping, options.apply_mapping)
    state = _resume(options, export, mapping, table, route)
    if state is not None:  # files an earlier run of the id finished are not read again
        done = state.files()
        tasks = [task for task in tasks if task.data_file.key not in done]
        log.info("--run_id %s: %d of %d data file(s) done by an earlier run, skipped", state.run_id,
                 len(export.data_files) - len(tasks), len(export.data_files))
    lines = sum(task.data_file.item_count for task in tasks)  # what each file's verification holds it to
    log.info("%s: %d data file(s), %d item(s); mapping applied %s", options.export_uri, len(tasks), lines,
             {"identity": "as the identity (the generated rules of its schema)", "per-item": "item by item (no casts)",
              "applymapping": "with ApplyMapping on Spark rows"}[route])
    goal = Goal(total_items=lines, budget_wcu=float(job_budget(table.write_capacity, options.write_percent)))
    with watch_job(spark, table=options.target_table, goal=goal, metrics=options.cloudwatch_metrics,
                   account=options.bucket_account):  # the tasks' running totals: bar, log line, metrics
        if route == "applymapping":
            result = _import_through_applymapping(spark, tasks, mapping, table, sink, glue_context)
        else:
            transform = ItemMapping(mapping) if route == "per-item" else None
            result = _import_item_by_item(spark, tasks, transform, table, sink, lines, state)
    if state is not None:  # the counts of every run of the id, file by file
        result.resume = state.totals(len(export.data_files), skipped=len(export.data_files) - len(tasks), this_run=lines)
        result.read, result.written = result.resume.read, result.resume.written
        result.dead_lettered, result.drift = result.resume.dead_lettered, result.resume.drift
    result.elapsed_seconds = time.monotonic() - started
    result.stages = {"data_files": len(tasks)}
    result.mapping_route = route
    return result


def _resume(options: ExportImportOptions, export: Any, mapping: MappingFile, table: TableDescription,
            route: str) -> RunState | None:
    """The run state of ``--run_id`` (None without one), opened: refused for another export, mapping or target."""
    from ddbmigrate.mapping.file import dumps_mapping
    from ddbmigrate.runstate import RunIdentity, mapping_digest, open_run_state, table_identity

    state = open_run_state(options.run_id, options.run_state, options.dead_letter, options.bucket_account)
    if state is None:
        return None
    if route == "applymapping":
        raise ConfigError("--run_id: only the item-by-item routes are resumable; this mapping goes through ApplyMapping "
                          "(a cast, or --apply_mapping always), which does not follow data files — drop --run_id or "
                          "the casts")
    state.open(RunIdentity("export-import", export.export_arn or export.folder_uri,
                           table_identity(table, options.target), mapping_digest(dumps_mapping(mapping))))
    return state


def _import_item_by_item(spark: Any, tasks: list[DataFileTask], transform: ItemMapping | None, table: TableDescription,
                         sink: SinkOptions, lines: int, state: RunState | None = None) -> PipelineResult:
    """The per-item route: verify every file, (look for refusals,) then stream each file into the sink.

    Every file is verified before the first write, so a corrupt file still stops the job with
    nothing written. Without a dead-letter location a first streaming pass counts the refusals
    (target key and size checks included) and stops the run before it writes, as in the Spark
    route; with one, a single pass reads, maps and writes, and refusals are dead-lettered as they come.
    With a run ``state``, each file ends with a :class:`~ddbmigrate.sink.spark.Checkpoint`: once the
    task's writers have synced, the file is recorded done with its counts.
    """
    from ddbmigrate.accumulators import MergeParam
    from ddbmigrate.capacity import default_parallel_tasks, spark_task_slots

    sc = spark.sparkContext
    # As many partitions as writing tasks (each takes a share of the files), so reading, mapping and
    # writing run in one Python pipeline per task; more partitions would make the sink coalesce,
    # which pickles every item to the JVM and back.
    writers = sink.parallel_tasks or default_parallel_tasks(len(tasks), spark_task_slots(sc))
    files = sc.parallelize(tasks, max(1, min(len(tasks), writers)))
    fatal = files.mapPartitions(_one_client_per_partition(_verify_data_file)).collect()
    if fatal:
        _raise_unreadable(fatal)
    if sink.dead_letter is None:
        refusals = _one_client_per_partition(lambda task, s3: _items_of_file(task, transform, table, s3_client=s3))
        summaries = files.mapPartitions(lambda tasks: _first_refusals(refusals(tasks))).collect()
        count = sum(n for n, _ in summaries)
        if count:
            first = next(f for _, f in summaries if f)
            raise _refused_before_writing(count, first)
    drift = sc.accumulator(DriftCounts(), MergeParam())

    def items_counted(task: DataFileTask, s3_client: Any) -> Iterator[tuple[str, Any]]:
        counts = DriftCounts()  # this file's drift, added once the sink has taken all its items
        try:
            yield from _items_of_file(task, transform, None, counts, s3_client)
            if state is not None:
                yield task.data_file.uri, state.file_checkpoint(task.data_file.key, counts)
        finally:
            drift.add(counts)

    stats = _write(files.mapPartitions(_one_client_per_partition(items_counted)), sink, state)
    return PipelineResult(read=lines, written=stats.written, dead_lettered=stats.dead_lettered,
                          consumed_wcu=stats.consumed_wcu, retries=stats.retries, throttles=stats.throttles,
                          dead_letter_location=sink.dead_letter, drift=drift.value, cpu_seconds=stats.cpu_seconds)


def _import_through_applymapping(spark: Any, tasks: list[DataFileTask], mapping: MappingFile, table: TableDescription,
                                 sink: SinkOptions, glue_context: Any) -> PipelineResult:
    """The Spark route: validated lines → DataFrame with the saved schema → ApplyMapping → items → sink."""
    from pyspark.sql import types as T

    from ddbmigrate.mapping.spark import spark_schema
    from ddbmigrate.sink.writer import Rejected

    parsed = spark.sparkContext.parallelize(tasks, max(1, len(tasks))).flatMap(_read_data_file).cache()
    try:
        fatal = parsed.filter(lambda r: r[3] is not None).map(lambda r: r[3]).collect()
        if fatal:
            _raise_unreadable(fatal)
        read = parsed.count()
        rejected = parsed.filter(lambda r: r[1] is None).map(lambda r: (r[0], r[2])).collect()

        read_schema = T.StructType([T.StructField(ORIGIN_COLUMN, T.StringType()), *spark_schema(mapping.schema).fields])
        frame = spark.read.schema(read_schema).option("mode", "FAILFAST").json(parsed.filter(lambda r: r[1] is not None).map(lambda r: r[1]))
        mapped = _apply_rules(frame, mapping, glue_context)
        converted = mapped.rdd.map(lambda row: _to_item(row, mapping, table))
        try:
            location = sink.dead_letter
            if location is None:  # two passes: look for refusals first, write only if there are none
                converted.cache()  # (with a dead-letter location one streaming pass suffices: no cache)
                refused = converted.filter(lambda r: isinstance(r[1], Rejected))
                count = len(rejected) + refused.count()
                if count:
                    raise _refused_before_writing(count, rejected[0] if rejected else _origin_and_reason(refused.first()))
            elif rejected:
                with sink.dead_letter_writer("read-stage") as letters:
                    for origin, reason in rejected:
                        letters.write(reason, origin=origin, key=None, item=None)
            stats = _write(converted, sink)
        finally:
            converted.unpersist()
    finally:
        parsed.unpersist()
    return PipelineResult(
        read=read, written=stats.written, dead_lettered=stats.dead_lettered + len(rejected),
        consumed_wcu=stats.consumed_wcu, retries=stats.retries, throttles=stats.throttles,
        dead_letter_location=sink.dead_letter, cpu_seconds=stats.cpu_seconds,
    )


def _write(rows: Any, sink: SinkOptions, state: RunState | None = None) -> Any:
    from ddbmigrate.sink import write_partitions

    return write_partitions(rows, sink, on_checkpoint=state.checkpoint_reached if state is not None else None)


def _refused_before_writing(count: int, first: tuple[str, str]) -> ConfigError:
    return ConfigError(f"{count} item(s) cannot be imported (first: {first[0]}: {first[1]}); nothing was written. "
                       "Pass --dead_letter LOCATION to record them and import the rest")
