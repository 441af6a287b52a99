"""Open a native export (or an emulated one) and read it as trustworthy input.

:func:`open_export` reads both manifests, verifies their checksums and counts, and refuses ION and
incremental exports. Data files come from ``manifest-files.json``, never from listing the prefix,
and are looked up relative to the folder opened (so moved exports work). Each file's md5 and count
are checked before anything is yielded (:meth:`ExportHandle.check`, :func:`read_lines` with
``verify=True``), raising :class:`~ddbmigrate.errors.ExportIntegrityError`. A :class:`DataFile`
is picklable, so the driver opens the export once and tasks never read a manifest.
See docs/export.md, "Check an export" and "For developers: the reader".
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import tempfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from botocore.exceptions import ClientError

from ddbmigrate.errors import ConfigError, DdbMigrateError, ExportError, ExportIntegrityError
from ddbmigrate.export.layout import (
    DATA_FOLDER,
    EXPORT_ROOT,
    FILES_CHECKSUM_NAME,
    STARTED_NAME,
    SUMMARY_CHECKSUM_NAME,
    SUMMARY_NAME,
    ManifestSummary,
    checksum_matches,
    decode_files_manifest,
    decode_summary,
    find_export_location,
    parse_export_arn,
    parse_item_line,
    parse_time,
    require_supported,
)
from ddbmigrate.export.trigger import export_folder_uri
from ddbmigrate.s3uri import S3Uri, parse_s3_uri
from ddbmigrate.values import Item

__all__ = ["CheckReport", "DataFile", "ExportHandle", "open_export", "read_lines", "verify_data_file"]

_SPOOL_BYTES = 32 * 1024 * 1024
_CHUNK = 1024 * 1024
_MAX_LISTED_PROBLEMS = 10


@dataclass(frozen=True)
class DataFile:
    """One data file as ``manifest-files.json`` lists it (``key`` resolved under the opened folder)."""

    key: str
    item_count: int
    md5_checksum: str
    etag: str
    bucket: str = ""

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass
class CheckReport:
    """What :meth:`ExportHandle.check` verified (it raises instead of returning on any problem)."""

    folder_uri: str
    data_files: int = 0
    empty_files: int = 0
    items: int = 0
    stored_bytes: int = 0
    checksums_verified: bool = False
    notes: list[str] = field(default_factory=list)


class _Problem(Exception):
    """One file's integrity problem inside :meth:`ExportHandle.check` (collected, then raised)."""


class ExportHandle:
    """An opened export: its summary, its data files, and readers for them.

    Use :func:`open_export` to build one. Instances hold an S3 client and are not picklable; Spark
    tasks get the :class:`DataFile` entries instead and read them with :func:`read_lines`.
    """

    def __init__(self, folder: S3Uri, summary: ManifestSummary, data_files: list[DataFile], s3_client: Any) -> None:
        self._folder = folder
        self.summary: ManifestSummary = summary
        self.data_files: list[DataFile] = data_files
        self._s3 = s3_client

    @property
    def bucket(self) -> str:
        return self._folder.bucket

    @property
    def folder_key(self) -> str:
        return self._folder.key

    @property
    def folder_uri(self) -> str:
        return str(self._folder)

    @property
    def export_id(self) -> str:
        location = find_export_location(self._folder.key)
        return location.export_id if location else ""

    @property
    def export_arn(self) -> str | None:
        return self.summary.get("exportArn")

    @property
    def table_arn(self) -> str | None:
        return self.summary.get("tableArn")

    @property
    def export_time(self) -> datetime:
        """The point in time the export reflects (UTC): where stream replication starts."""
        return parse_time(self.summary["exportTime"], where=f"{self.folder_uri}{SUMMARY_NAME} exportTime")

    @property
    def item_count(self) -> int:
        return self.summary["itemCount"]

    def __repr__(self) -> str:
        return f"ExportHandle({self.folder_uri!r}, files={len(self.data_files)}, items={self.item_count})"

    # ------------------------------------------------------------------ reading

    def iter_lines(self, data_file: DataFile, *, verify: bool = False) -> Iterator[tuple[int, str]]:
        """:func:`read_lines` with this export's client."""
        return read_lines(self._s3, data_file, verify=verify)

    def verify_file(self, data_file: DataFile) -> None:
        """:func:`verify_data_file` with this export's client."""
        verify_data_file(self._s3, data_file)

    def iter_items(self, data_file: DataFile, *, verify: bool = False) -> Iterator[tuple[int, Item]]:
        """``(line number, wire item)``; a malformed line raises :class:`InvalidItemError` naming
        ``<file uri> line <n>`` and the attribute at fault (never its value)."""
        for number, line in self.iter_lines(data_file, verify=verify):
            yield number, parse_item_line(line, where=f"{data_file.uri} line {number}")

    def read_file(self, data_file: DataFile) -> bytes:
        """The stored (gzip) bytes of a data file."""
        body = _get(self._s3, data_file)
        try:
            return body.read()
        finally:
            body.close()

    # ------------------------------------------------------------------ checking

    def check(
        self,
        verify_checksums: bool = True,
        *,
        workers: int = 8,
        on_file: Callable[[DataFile], None] | None = None,
    ) -> CheckReport:
        """Verify every data file against the manifests; raise listing every file at fault.

        ``verify_checksums=True`` downloads each file: md5, item count, gzip integrity and every
        line's DynamoDB JSON are checked. ``False`` only checks that each file exists (HEAD) and
        notes ETag differences. Files are checked ``workers`` at a time; ``on_file`` is called as
        each finishes (progress display).
        """
        report = CheckReport(folder_uri=self.folder_uri, checksums_verified=verify_checksums)
        problems: list[str] = []

        def one(data_file: DataFile) -> tuple[DataFile, int, int, str | None, str | None]:
            try:
                size, etag = self._head(data_file)
                counted = self._verify_file(data_file) if verify_checksums else data_file.item_count
                return data_file, size, counted, etag, None
            except _Problem as problem:
                return data_file, 0, 0, None, str(problem)

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for data_file, size, counted, etag, problem in pool.map(one, self.data_files):
                if on_file is not None:
                    on_file(data_file)
                if problem:
                    problems.append(problem)
                    continue
                report.data_files += 1
                report.stored_bytes += size
                report.items += counted
                report.empty_files += counted == 0
                if etag is not None and etag.strip('"') != data_file.etag.strip('"'):
                    report.notes.append(f"{data_file.uri}: ETag differs from the manifest (normal for a copied file)")
        if not problems and report.items != self.item_count:
            problems.append(
                f"{self.folder_uri}{SUMMARY_NAME}: itemCount is {self.item_count} but the data files hold {report.items}"
            )
        if problems:
            shown = problems[:_MAX_LISTED_PROBLEMS]
            more = len(problems) - len(shown)
            raise ExportIntegrityError(
                f"export {self.folder_uri} failed its check ({len(problems)} problem(s)):\n  "
                + "\n  ".join(shown) + (f"\n  … and {more} more" if more else "")
            )
        return report

    def _verify_file(self, data_file: DataFile) -> int:
        try:
            spool = _download_verified(self._s3, data_file)
        except ExportIntegrityError as exc:
            raise _Problem(str(exc)) from None
        with spool:
            try:
                for number, line in _lines(spool, data_file.uri):
                    parse_item_line(line, where=f"{data_file.uri} line {number}")
            except DdbMigrateError as exc:
                raise _Problem(str(exc)) from None
        return data_file.item_count

    # ------------------------------------------------------------------ S3

    def _head(self, data_file: DataFile) -> tuple[int, str]:
        try:
            head = self._s3.head_object(Bucket=data_file.bucket, Key=data_file.key)
        except ClientError as exc:
            error = _s3_error(exc, data_file.uri, "data file listed in manifest-files.json")
            if isinstance(error, ExportIntegrityError):
                raise _Problem(str(error)) from None
            raise error from None
        return int(head.get("ContentLength", 0)), str(head.get("ETag", ""))


# --------------------------------------------------------------------------- one data file


def read_lines(s3_client: Any, data_file: DataFile, *, verify: bool = False) -> Iterator[tuple[int, str]]:
    """``(line number from 1, raw JSON line without its newline)`` for every line of ``data_file``.

    One GET of the object. Streams and decompresses as it goes. With ``verify=True`` the whole file
    is first spooled (memory up to 32 MB, then a temporary file), its md5 and line count checked
    against the manifest entry, and only then are lines yielded — so a consumer never acts on part
    of a bad file. Corrupt gzip raises :class:`ExportIntegrityError` naming the file.
    """
    if verify:
        with _download_verified(s3_client, data_file) as spool:
            yield from _lines(spool, data_file.uri)
        return
    body = _get(s3_client, data_file)
    try:
        yield from _lines(body, data_file.uri)
    finally:
        body.close()


def verify_data_file(s3_client: Any, data_file: DataFile) -> None:
    """Check one file's md5, line count and gzip integrity against its manifest entry; parse no line.

    One GET. Raises :class:`ExportIntegrityError` naming the file. The import runs this over every
    file before it writes anything, then streams each file again: a corrupt file anywhere stops the
    job before its first write, and no file is held in memory or on disk for the whole run.
    """
    with _download_verified(s3_client, data_file):
        pass


def _download_verified(s3_client: Any, data_file: DataFile) -> IO[bytes]:
    """Spool the object, check md5 and line count; the returned file is rewound."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
    try:
        digest = hashlib.md5()
        body = _get(s3_client, data_file)
        try:
            for chunk in iter(lambda: body.read(_CHUNK), b""):
                digest.update(chunk)
                spool.write(chunk)
        finally:
            body.close()
        actual = base64.b64encode(digest.digest()).decode("ascii")
        if actual != data_file.md5_checksum:
            raise ExportIntegrityError(
                f"{data_file.uri}: md5 is {actual}, manifest-files.json says {data_file.md5_checksum} "
                "(the file is corrupt, truncated or was replaced)"
            )
        spool.seek(0)
        lines = sum(1 for _ in _lines(spool, data_file.uri))
        if lines != data_file.item_count:
            raise ExportIntegrityError(
                f"{data_file.uri}: holds {lines} item line(s), manifest-files.json says {data_file.item_count}"
            )
        spool.seek(0)
        return spool
    except BaseException:
        spool.close()
        raise


def _get(s3_client: Any, data_file: DataFile) -> Any:
    try:
        return s3_client.get_object(Bucket=data_file.bucket, Key=data_file.key)["Body"]
    except ClientError as exc:
        raise _s3_error(exc, data_file.uri, "data file listed in manifest-files.json") from None


def _lines(raw: IO[bytes], uri: str) -> Iterator[tuple[int, str]]:
    """Decompress ``raw`` (gzip; a 0-byte object counts as empty) and yield numbered lines."""
    try:
        with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            reader = io.TextIOWrapper(unzipped, encoding="utf-8", newline="\n")
            for number, line in enumerate(reader, start=1):
                yield number, line[:-1] if line.endswith("\n") else line
    except (OSError, EOFError, zlib.error) as exc:
        raise ExportIntegrityError(f"{uri}: not a valid gzip file ({exc.__class__.__name__}: {exc})") from None
    except UnicodeDecodeError:
        raise ExportIntegrityError(f"{uri}: decompressed content is not UTF-8 text") from None


def _s3_error(exc: ClientError, uri: str, what: str) -> DdbMigrateError:
    code = exc.response.get("Error", {}).get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "NoSuchBucket":  # a 404 too: tested first, or a missing bucket reads as a missing file
        return ExportError(f"{uri}: the bucket does not exist (check the bucket name)")
    if code in ("NoSuchKey", "404", "NotFound") or status == 404:
        return ExportIntegrityError(f"{uri}: {what} is missing")
    if code in ("AccessDenied", "403", "Forbidden") or status == 403:
        return ExportError(
            f"{uri}: access denied reading the {what}. If another account wrote the export, its objects still "
            "belong to that account: run 'ddbmigrate export fix-ownership URI --profile <writer>' or set the "
            "bucket's Object Ownership to 'Bucket owner enforced' (see docs/export.md)"
        )
    return ExportError(f"{uri}: cannot read the {what} ({code or status})")


# --------------------------------------------------------------------------- open


def open_export(
    source: str,
    s3_client: Any,
    *,
    dynamodb_client: Any = None,
    verify_manifests: bool = True,
) -> ExportHandle:
    """Open an export by folder URI, ``manifest-summary.json`` URI, or export ARN.

    >>> export = open_export("s3://bucket/p/AWSDynamoDB/01700000000000-0a1b2c3d/", s3)  # doctest: +SKIP
    >>> export.item_count, [f.uri for f in export.data_files]                        # doctest: +SKIP

    An ARN needs ``dynamodb_client`` (the account and region that ran the export) to call
    ``DescribeExport``; the export must be ``COMPLETED``. ``verify_manifests`` checks both
    manifests against their ``.checksum`` files.
    """
    folder = _resolve_folder(source, s3_client, dynamodb_client)
    summary_uri = folder.join(SUMMARY_NAME)
    summary_bytes = _read_manifest(s3_client, folder, SUMMARY_NAME)
    if verify_manifests:
        _verify_checksum(s3_client, folder, summary_bytes, SUMMARY_NAME, SUMMARY_CHECKSUM_NAME)
    summary = decode_summary(summary_bytes, where=str(summary_uri))
    require_supported(summary, where=str(summary_uri))
    parse_time(summary["exportTime"], where=f"{summary_uri} exportTime")

    files_location = find_export_location(summary["manifestFilesS3Key"])
    files_name = files_location.relative if files_location else summary["manifestFilesS3Key"].rsplit("/", 1)[-1]
    files_uri = folder.join(files_name)
    files_bytes = _read_manifest(s3_client, folder, files_name)
    if verify_manifests:
        _verify_checksum(s3_client, folder, files_bytes, files_name, FILES_CHECKSUM_NAME)
    entries = decode_files_manifest(files_bytes, where=str(files_uri))

    data_files = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        location = find_export_location(entry["dataFileS3Key"])
        if location is None or not location.relative.startswith(DATA_FOLDER + "/"):
            raise ExportIntegrityError(
                f"{files_uri} line {number}: dataFileS3Key is not a data file of an export "
                f"(expected …/{EXPORT_ROOT}/<ExportId>/{DATA_FOLDER}/<name>.json.gz)"
            )
        key = folder.key + location.relative
        if key in seen:
            raise ExportIntegrityError(f"{files_uri} line {number}: data file {location.relative} is listed twice")
        seen.add(key)
        data_files.append(DataFile(key=key, item_count=entry["itemCount"], md5_checksum=entry["md5Checksum"],
                                   etag=entry["etag"], bucket=folder.bucket))
    listed = sum(f.item_count for f in data_files)
    if listed != summary["itemCount"]:
        raise ExportIntegrityError(
            f"{summary_uri}: itemCount is {summary['itemCount']} but {files_uri} lists {listed} items"
        )
    return ExportHandle(folder, summary, data_files, s3_client)


def _resolve_folder(source: str, s3_client: Any, dynamodb_client: Any) -> S3Uri:
    if source.startswith("arn:"):
        return _folder_from_arn(source, dynamodb_client)
    uri = parse_s3_uri(source, what="export URI")
    location = find_export_location(uri.key)
    if location is None:
        raise ConfigError(_not_an_export_folder(uri, s3_client))
    if location.relative not in ("", SUMMARY_NAME):
        raise ConfigError(
            f"export URI: {uri} is inside an export; pass its folder s3://{uri.bucket}/{location.folder_key}"
        )
    return S3Uri(uri.bucket, location.folder_key)


def _folder_from_arn(arn: str, dynamodb_client: Any) -> S3Uri:
    parsed = parse_export_arn(arn)
    if parsed is None:
        raise ConfigError(f"export ARN: {arn!r} is not an export ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/T/export/ID)")
    if dynamodb_client is None:
        raise ConfigError(f"export ARN {arn}: resolving an ARN needs a DynamoDB client of the exporting account")
    try:
        description = dynamodb_client.describe_export(ExportArn=arn)["ExportDescription"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ExportError(f"DescribeExport {arn} failed ({code}); pass the export folder URI instead") from None
    status = description.get("ExportStatus")
    if status != "COMPLETED":
        reason = f": {description.get('FailureCode')} {description.get('FailureMessage')}" if status == "FAILED" else ""
        raise ExportError(f"export {arn} is {status}{reason}; only a COMPLETED export can be read")
    return parse_s3_uri(export_folder_uri(description), what="export folder")


def _read_manifest(s3_client: Any, folder: S3Uri, name: str) -> bytes:
    uri = folder.join(name)
    try:
        return bytes(s3_client.get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read())
    except ClientError as exc:
        error = _s3_error(exc, str(uri), name)
        if isinstance(error, ExportIntegrityError) and name == SUMMARY_NAME:
            if _exists(s3_client, folder.join(STARTED_NAME)):
                raise ExportError(
                    f"{folder}: the export has started but not finished ({STARTED_NAME} exists, {SUMMARY_NAME} "
                    "does not yet); wait for it (ddbmigrate export … --wait) and try again"
                ) from None
            raise ExportError(f"{folder}: no export here ({SUMMARY_NAME} not found)") from None
        raise error from None


def _verify_checksum(s3_client: Any, folder: S3Uri, data: bytes, name: str, checksum_name: str) -> None:
    checksum = _read_manifest(s3_client, folder, checksum_name).decode("ascii", errors="replace")
    if not checksum_matches(data, checksum):
        raise ExportIntegrityError(
            f"{folder.join(name)}: does not match {checksum_name} (the manifest was changed or truncated)"
        )


def _exists(s3_client: Any, uri: S3Uri) -> bool:
    try:
        s3_client.head_object(Bucket=uri.bucket, Key=uri.key)
        return True
    except ClientError:
        return False


def _not_an_export_folder(uri: S3Uri, s3_client: Any) -> str:
    """Message for a URI without ``AWSDynamoDB/<id>``: lists the exports found under it, if any."""
    root = uri.join(EXPORT_ROOT).folder() if not uri.key.rstrip("/").endswith(EXPORT_ROOT) else uri.folder()
    found: list[str] = []
    try:
        page = s3_client.list_objects_v2(Bucket=uri.bucket, Prefix=root.key, Delimiter="/", MaxKeys=20)
        found = [f"s3://{uri.bucket}/{p['Prefix']}" for p in page.get("CommonPrefixes", [])]
    except ClientError:
        pass
    hint = ("; exports found under it: " + ", ".join(found[:5])) if found else ""
    return (
        f"export URI: {uri} is not an export folder (expected s3://BUCKET/PREFIX/{EXPORT_ROOT}/<ExportId>/){hint}"
    )
