"""``awsglue.context.GlueContext`` for plain PySpark: S3/local sources and the DynamoDB sink.

Supported, with Glue's signatures and defaults:

* ``GlueContext(sparkContext=None, **options)`` — a SparkContext, a SparkSession or nothing (the
  active session). ``spark_session``/``sparkSession``, ``get_logger()``, and everything
  ``SQLContext`` offers, as Glue's class is one too. ``minPartitions``/``targetPartitions`` are
  accepted and ignored. Local-only options, harmless on Glue (whose GlueContext ignores unknown
  options): ``account`` — a :class:`ddbmigrate.accounts.Account` for S3 reads and DynamoDB
  writes, or a ``boto3.Session`` for S3 reads only (default: the driver's credential chain,
  ``AWS_PROFILE``/``AWS_REGION``, made explicit for the executors); ``staging_dir``, where S3
  objects are downloaded; ``dead_letter``, a folder or ``s3://`` prefix for items DynamoDB can
  never accept (default: such an item fails the write, as on Glue).
* ``create_dynamic_frame.from_options`` / ``create_dynamic_frame_from_options`` and
  ``create_data_frame.from_options``: ``connection_type="s3"`` with ``format`` ``json`` (options
  ``multiline``/``multiLine``) or ``parquet``; see :mod:`ddbmigrate.gluelocal.staging` for paths.
  JSON is read strictly: a malformed line fails the read naming ``<uri> line <n>`` (Glue would
  turn it into an error record; Spark's default would hide it in a ``_corrupt_record`` column).
* ``write_dynamic_frame.from_options`` / ``write_dynamic_frame_from_options`` /
  ``write_from_options`` / ``getSink(...).writeFrame``: ``connection_type="dynamodb"``, see
  :mod:`ddbmigrate.gluelocal.dynamodb`. Returns an empty DynamicFrame named ``<name>_errors``
  (Glue returns the write's error records there) with the sink's stats as ``.sink_stats``.
* ``create_dynamic_frame.from_catalog`` / ``create_dynamic_frame_from_catalog`` /
  ``create_data_frame.from_catalog``: the table from the account's Data Catalog, read with the
  catalog's schema (:mod:`ddbmigrate.gluelocal.catalog`); the frame is named after the table.
* ``from_options(connection_type="dynamodb")``: Glue's scan connector
  (:mod:`ddbmigrate.gluelocal.dynamodb_source`), or with ``dynamodb.export`` its export connector
  (:mod:`ddbmigrate.gluelocal.dynamodb_export`).
* ``create_dynamic_frame_from_rdd`` / ``create_dynamic_frame.from_rdd``.

Everything else that needs AWS Glue itself (catalog writes, JDBC connections, purge/transition,
streaming, transactions) raises :class:`~ddbmigrate.errors.ConfigError` naming the method.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pyspark.sql import SparkSession, SQLContext

from ddbmigrate.errors import ConfigError
from ddbmigrate.gluelocal.dynamicframe import (
    DynamicFrame,
    DynamicFrameCollection,
    DynamicFrameReader,
    DynamicFrameWriter,
    unsupported,
)
from ddbmigrate.gluelocal.staging import S3ReadOptions, find_malformed_json, stage_files

__all__ = ["GlueContext"]

log = logging.getLogger("ddbmigrate.gluelocal")

_UNSUPPORTED_METHODS = frozenset(
    {
        "getSource", "getStreamingSource", "get_catalog_schema_as_spark_schema",
        "create_sample_dynamic_frame_from_catalog",
        "create_sample_dynamic_frame_from_options", "write_dynamic_frame_from_catalog",
        "write_data_frame_from_catalog", "write_dynamic_frame_from_jdbc_conf", "write_from_jdbc_conf",
        "extract_jdbc_conf", "purge_table", "purge_s3_path", "transition_table", "transition_s3_path",
        "getSampleStreamingDynamicFrame", "forEachBatch", "add_ingestion_time_columns", "start_transaction",
        "commit_transaction", "cancel_transaction", "convert_resolve_option",
    }
)
_JSON_FORMAT_OPTIONS = frozenset({"multiline", "multiLine", "optimizePerformance"})


class _GlueLogger:
    """What ``get_logger()`` returns on Glue (``info``/``warn``/``error``), backed by :mod:`logging`."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def info(self, message: str) -> None:
        self._logger.info(message)

    def warn(self, message: str) -> None:
        self._logger.warning(message)

    warning = warn

    def error(self, message: str) -> None:
        self._logger.error(message)

    def debug(self, message: str) -> None:
        self._logger.debug(message)


class _DataSink:
    """What ``getSink`` returns: ``setFormat``/``setCatalogInfo`` then ``writeFrame``/``write``."""

    def __init__(self, context: GlueContext, connection_type: str, transformation_ctx: str, options: dict[str, Any]):
        self._context, self._type, self._ctx, self._options = context, connection_type, transformation_ctx, options
        self._format: str | None = None
        self._format_options: dict[str, Any] = {}

    def setFormat(self, format: str, **options: Any) -> None:
        self._format, self._format_options = format, options

    def setCatalogInfo(self, catalogDatabase: str, catalogTableName: str, catalogId: str = "") -> None:
        raise unsupported("DataSink.setCatalogInfo (the Glue Data Catalog)")

    def setAccumulableSize(self, size: int) -> None:
        return None

    def writeFrame(self, dynamic_frame: DynamicFrame, info: str = "") -> DynamicFrame:
        return self._context.write_from_options(
            dynamic_frame, self._type, self._options, self._format, self._format_options, self._ctx
        )

    def write(self, dynamic_frame_or_dfc: Any, info: str = "") -> Any:
        return self._context.write_from_options(
            dynamic_frame_or_dfc, self._type, self._options, self._format, self._format_options, self._ctx
        )


def _source_name(paths: list[str]) -> str:
    """Glue's name for a frame read from ``paths``: their common prefix without ``:``, ``/`` and ``.``."""
    import os

    prefix = os.path.commonprefix(paths).split(":")[-1]  # noqa: RUF071 - character-wise, as Glue does
    return "".join(c for c in prefix if c not in ":/.")


class GlueContext(SQLContext):
    """A SQLContext with Glue's readers and writers (module docstring)."""

    def __init__(self, sparkContext: Any = None, **options: Any) -> None:
        if sparkContext is None:
            session = SparkSession.builder.getOrCreate()
        elif isinstance(sparkContext, SparkSession):
            session = sparkContext
        else:
            session = SparkSession.builder.getOrCreate()
        super().__init__(session.sparkContext, session)
        self._account = options.pop("account", None)
        self._staging_dir = options.pop("staging_dir", None)
        self._dead_letter = options.pop("dead_letter", None)
        self._options = options
        self.create_dynamic_frame = DynamicFrameReader(self)
        self.create_data_frame = _DataFrameReader(self)
        self.write_dynamic_frame = DynamicFrameWriter(self)
        self.spark_session = self.sparkSession
        self._glue_logger = _GlueLogger(log)

    def __getattr__(self, item: str) -> Any:
        if item in _UNSUPPORTED_METHODS:
            raise unsupported(f"GlueContext.{item}")
        raise AttributeError(f"'GlueContext' object has no attribute {item!r}")

    def get_logger(self) -> _GlueLogger:
        return self._glue_logger

    def _s3_client(self) -> Any:
        if self._account is not None:
            return self._account.client("s3")
        from ddbmigrate.gluelocal.dynamodb import default_account

        return default_account().client("s3")

    # -- reading -----------------------------------------------------------------------------

    def _read_dataframe(
        self, connection_type: str, connection_options: Mapping[str, Any], format: str | None,
        format_options: Mapping[str, Any],
    ) -> tuple[Any, str]:
        if connection_type == "dynamodb":
            if format:
                raise ConfigError(f"format {format!r} does not apply to connection_type 'dynamodb'; leave it out")
            return self._read_dynamodb(connection_options)
        if connection_type != "s3":
            raise ConfigError(
                f"connection_type {connection_type!r} is not supported by the local Glue runtime; "
                "supported: 's3' (also for local and file:// paths)"
            )
        options = S3ReadOptions.from_connection_options(connection_options)
        fmt = (format or "").lower()
        if fmt == "json":
            unknown = sorted(set(format_options) - _JSON_FORMAT_OPTIONS)
            if unknown:
                raise ConfigError(
                    f"format option(s) {', '.join(map(repr, unknown))} for json are not supported locally; "
                    f"supported: {', '.join(sorted(_JSON_FORMAT_OPTIONS))}"
                )
            multiline = format_options.get("multiline", format_options.get("multiLine", False))
            multiline = str(multiline).lower() == "true"
        elif fmt == "parquet":
            if format_options:
                raise ConfigError(f"format options {sorted(format_options)} for parquet are not supported locally")
        else:
            raise ConfigError(f"format {format!r} is not supported by the local Glue runtime; supported: json, parquet")
        staged = stage_files(options, self._s3_client, staging_dir=self._staging_dir)
        name = _source_name(list(options.paths))
        if not staged.files:
            return self.sparkSession.createDataFrame([], "struct<>"), name
        reader = self.sparkSession.read
        if fmt == "parquet":
            return reader.parquet(*staged.files), name
        # FAILFAST: Spark's default would turn a malformed line into a row of nulls plus a
        # _corrupt_record column holding the raw text — silently, and with the data in a column.
        try:
            return reader.json(staged.files, multiLine=multiline, mode="FAILFAST"), name
        except Exception:
            problem = find_malformed_json(staged, multiline=multiline)
            if problem is None:
                raise
            raise ConfigError(f"{problem}; fix or remove the file (the local runtime reads JSON strictly)") from None

    def _read_dynamodb(self, connection_options: Mapping[str, Any]) -> tuple[Any, str]:
        from ddbmigrate.gluelocal.endpoints import read_account

        if any(str(name).lower() == "dynamodb.export" for name in connection_options):
            from ddbmigrate.gluelocal.dynamodb_export import ExportSourceOptions, read_export

            export = ExportSourceOptions.from_glue_options(connection_options)
            account = read_account(self._glue_account(), region=export.region, role_arn=export.role_arn,
                                   session_name=export.session_name, table_arn=export.table_arn,
                                   label="DynamoDB export source")
            return read_export(self.sparkSession, export, account, staging_dir=self._staging_dir)
        from ddbmigrate.gluelocal.dynamodb_source import ScanSourceOptions, read_table

        options = ScanSourceOptions.from_glue_options(connection_options)
        account = read_account(self._glue_account(), region=options.region, role_arn=options.role_arn,
                               session_name=options.session_name, table_arn=options.table, label="DynamoDB source")
        return read_table(self.sparkSession, options, account)

    def create_dynamic_frame_from_options(
        self, connection_type: str, connection_options: Mapping[str, Any] | None = None,
        format: str | None = None, format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "", push_down_predicate: str = "", **kwargs: Any,
    ) -> DynamicFrame:
        """Read ``connection_options["paths"]`` in ``format`` into a DynamicFrame named as Glue names it."""
        if push_down_predicate:
            raise unsupported("push_down_predicate (it filters Data Catalog partitions)")
        df, name = self._read_dataframe(connection_type, connection_options or {}, format, format_options or {})
        return DynamicFrame(df, self, name)

    def create_data_frame_from_options(
        self, connection_type: str, connection_options: Mapping[str, Any] | None = None,
        format: str | None = None, format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "", push_down_predicate: str = "", **kwargs: Any,
    ) -> Any:
        df, _name = self._read_dataframe(connection_type, connection_options or {}, format, format_options or {})
        return df

    def _glue_account(self) -> Any:
        from ddbmigrate.accounts import Account
        from ddbmigrate.gluelocal.dynamodb import default_account

        return self._account if isinstance(self._account, Account) else default_account()

    def _read_catalog(
        self, database: str | None, table_name: str | None, push_down_predicate: str,
        additional_options: Mapping[str, Any] | None, catalog_id: str | None, kwargs: Mapping[str, Any],
    ) -> Any:
        from ddbmigrate.gluelocal.catalog import read_catalog_table

        database = database or kwargs.get("name_space")
        if not database or not table_name:
            raise ConfigError("from_catalog: database and table_name are required")
        if self._account is not None and not hasattr(self._account, "describe"):
            glue, where = self._account.client("glue"), "the given boto3 session"
        else:
            account = self._glue_account()
            glue, where = account.client("glue"), account.describe()
        return read_catalog_table(
            self.sparkSession, glue, self._s3_client, database, table_name, account=where,
            additional_options=additional_options, push_down_predicate=push_down_predicate,
            catalog_id=catalog_id, staging_dir=self._staging_dir,
        )

    def create_dynamic_frame_from_catalog(
        self, database: str | None = None, table_name: str | None = None, redshift_tmp_dir: str = "",
        transformation_ctx: str = "", push_down_predicate: str = "",
        additional_options: Mapping[str, Any] | None = None, catalog_id: str | None = None, **kwargs: Any,
    ) -> DynamicFrame:
        """The catalog table ``database.table_name`` read with its catalog schema (module docstring)."""
        df = self._read_catalog(database, table_name, push_down_predicate, additional_options, catalog_id, kwargs)
        return DynamicFrame(df, self, str(table_name))

    def create_data_frame_from_catalog(
        self, database: str | None = None, table_name: str | None = None, transformation_ctx: str = "",
        additional_options: Mapping[str, Any] | None = None, catalog_id: str | None = None, **kwargs: Any,
    ) -> Any:
        push_down_predicate = kwargs.pop("push_down_predicate", "")
        return self._read_catalog(database, table_name, push_down_predicate, additional_options, catalog_id, kwargs)

    def create_dynamic_frame_from_rdd(
        self, data: Any, name: str, schema: Any = None, sample_ratio: float | None = None, transformation_ctx: str = ""
    ) -> DynamicFrame:
        return DynamicFrame(self.sparkSession.createDataFrame(data, schema, sample_ratio), self, name)

    # -- writing -----------------------------------------------------------------------------

    def getSink(
        self, connection_type: str, format: str | None = None, transformation_ctx: str = "", **options: Any
    ) -> _DataSink:
        sink = _DataSink(self, connection_type, transformation_ctx, options)
        if format:
            sink.setFormat(format)
        return sink

    def write_dynamic_frame_from_options(
        self, frame: DynamicFrame, connection_type: str, connection_options: Mapping[str, Any] | None = None,
        format: str | None = None, format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
    ) -> DynamicFrame:
        """Write ``frame``; ``connection_type="dynamodb"`` only (module docstring)."""
        return self.write_from_options(frame, connection_type, connection_options or {}, format, format_options or {},
                                       transformation_ctx)

    def write_from_options(
        self, frame_or_dfc: Any, connection_type: str, connection_options: Mapping[str, Any] | None = None,
        format: Any = None, format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "", **kwargs: Any,
    ) -> Any:
        if isinstance(frame_or_dfc, DynamicFrameCollection):
            return DynamicFrameCollection(
                [self.write_from_options(f, connection_type, connection_options, format, format_options,
                                         transformation_ctx) for f in frame_or_dfc.values()],
                self,
            )
        if not isinstance(frame_or_dfc, DynamicFrame):
            raise ConfigError(f"frame_or_dfc must be DynamicFrame or DynamicFrameCollection. Got {type(frame_or_dfc).__name__}")
        if connection_type != "dynamodb":
            raise ConfigError(
                f"writing to connection_type {connection_type!r} is not supported by the local Glue runtime; "
                "supported: 'dynamodb'"
            )
        if format:
            raise ConfigError(f"format {format!r} does not apply to connection_type 'dynamodb'; leave it out")
        from ddbmigrate.accounts import Account
        from ddbmigrate.gluelocal.dynamodb import write_frame

        target = self._account if isinstance(self._account, Account) else None
        stats = write_frame(frame_or_dfc.toDF(), connection_options or {}, name=frame_or_dfc.name, target=target,
                            dead_letter=self._dead_letter)
        errors = DynamicFrame(self.sparkSession.createDataFrame([], "struct<>"), self, frame_or_dfc.name + "_errors")
        errors.sink_stats = stats
        return errors


class _DataFrameReader:
    """``glue_context.create_data_frame``: like ``create_dynamic_frame`` but returns a DataFrame."""

    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context

    def from_options(
        self, connection_type: str, connection_options: Mapping[str, Any] | None = None,
        format: str | None = None, format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "", push_down_predicate: str = "", **kwargs: Any,
    ) -> Any:
        return self._glue_context.create_data_frame_from_options(
            connection_type, connection_options, format, format_options, transformation_ctx, push_down_predicate, **kwargs
        )

    def from_catalog(
        self, database: str | None = None, table_name: str | None = None, transformation_ctx: str = "",
        additional_options: Mapping[str, Any] | None = None, catalog_id: str | None = None, **kwargs: Any,
    ) -> Any:
        return self._glue_context.create_data_frame_from_catalog(
            database, table_name, transformation_ctx, additional_options, catalog_id, **kwargs
        )
