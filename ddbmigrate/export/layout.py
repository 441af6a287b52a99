"""The native DynamoDB export, byte for byte: folder layout, names, manifests, checksums, lines.

Pure functions only (no boto3): the reader, the emulator and the tests all build on these, so
what we write and what we accept are defined in one place. The layout and each file's format:
docs/export.md, "The export's layout".
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypedDict

from ddbmigrate.errors import DdbMigrateError, ExportError, ExportIntegrityError, InvalidItemError
from ddbmigrate.values import Item, item_from_json, item_to_json

__all__ = [
    "DATA_FOLDER",
    "EXPORT_ROOT",
    "FILES_CHECKSUM_NAME",
    "FILES_NAME",
    "FILE_ENTRY_FIELD_TYPES",
    "FULL_EXPORT",
    "MANIFEST_VERSION",
    "OUTPUT_FORMAT",
    "STARTED_NAME",
    "SUMMARY_CHECKSUM_NAME",
    "SUMMARY_FIELD_TYPES",
    "SUMMARY_NAME",
    "ExportArn",
    "ExportLocation",
    "ManifestFileEntry",
    "ManifestSummary",
    "checksum_matches",
    "checksum_text",
    "decode_files_manifest",
    "decode_summary",
    "encode_files_manifest",
    "encode_item_line",
    "encode_summary",
    "export_arn",
    "export_folder_key",
    "find_export_location",
    "format_time",
    "md5_base64",
    "new_data_file_name",
    "new_export_id",
    "parse_export_arn",
    "parse_item_line",
    "parse_time",
    "require_supported",
]

MANIFEST_VERSION = "2020-06-30"
EXPORT_ROOT = "AWSDynamoDB"
DATA_FOLDER = "data"
STARTED_NAME = "_started"
SUMMARY_NAME = "manifest-summary.json"
SUMMARY_CHECKSUM_NAME = "manifest-summary.checksum"
FILES_NAME = "manifest-files.json"
FILES_CHECKSUM_NAME = "manifest-files.checksum"
OUTPUT_FORMAT = "DYNAMODB_JSON"
FULL_EXPORT = "FULL_EXPORT"

_EXPORT_ID = r"\d{14}-[0-9a-f]{8}"
_EXPORT_ID_RE = re.compile(rf"^{_EXPORT_ID}$")
_LOCATION_RE = re.compile(rf"(?:^|/){EXPORT_ROOT}/({_EXPORT_ID})/")
_ARN_RE = re.compile(
    rf"^(?P<table>arn:(?P<partition>aws[a-z-]*):dynamodb:(?P<region>[a-z0-9-]+):(?P<account>\d{{12}}):table/"
    rf"(?P<name>[A-Za-z0-9_.-]{{3,255}}))/export/(?P<id>{_EXPORT_ID})$"
)


class ManifestSummary(TypedDict):
    """``manifest-summary.json`` of a full export, field for field as AWS documents it."""

    version: str
    exportArn: str
    startTime: str
    endTime: str
    tableArn: str
    tableId: str
    exportTime: str
    s3Bucket: str
    s3Prefix: str | None
    s3SseAlgorithm: str
    s3SseKmsKeyId: str | None
    manifestFilesS3Key: str
    billedSizeBytes: int
    itemCount: int
    outputFormat: str


class ManifestFileEntry(TypedDict):
    """One line of ``manifest-files.json``."""

    itemCount: int
    md5Checksum: str
    etag: str
    dataFileS3Key: str


SUMMARY_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "version": (str,),
    "exportArn": (str,),
    "startTime": (str,),
    "endTime": (str,),
    "tableArn": (str,),
    "tableId": (str,),
    "exportTime": (str,),
    "s3Bucket": (str,),
    "s3Prefix": (str, type(None)),
    "s3SseAlgorithm": (str,),
    "s3SseKmsKeyId": (str, type(None)),
    "manifestFilesS3Key": (str,),
    "billedSizeBytes": (int,),
    "itemCount": (int,),
    "outputFormat": (str,),
}
"""Every documented summary field, in AWS's order, with its JSON type(s) (``None`` = ``null``)."""

FILE_ENTRY_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "itemCount": (int,),
    "md5Checksum": (str,),
    "etag": (str,),
    "dataFileS3Key": (str,),
}

_REQUIRED_SUMMARY = ("version", "exportTime", "manifestFilesS3Key", "itemCount", "outputFormat")


# --------------------------------------------------------------------------- names and ids


def new_export_id(now: datetime, rng: random.Random | None = None) -> str:
    """``<epoch ms, 14 digits>-<8 hex>``: the shape DynamoDB gives its ExportIds."""
    millis = int(_utc(now).timestamp() * 1000)
    return f"{millis:014d}-{(rng or random.SystemRandom()).getrandbits(32):08x}"


def new_data_file_name(rng: random.Random | None = None) -> str:
    """``<26 lowercase base32 characters>.json.gz``, like ``fpgzwz7ome3s7a5gqn2mu3ogtq.json.gz``."""
    raw = (rng or random.SystemRandom()).getrandbits(128).to_bytes(16, "big")
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower() + ".json.gz"


def export_folder_key(prefix: str | None, export_id: str) -> str:
    """``<prefix>/AWSDynamoDB/<ExportId>/`` (no leading part when there is no prefix)."""
    if not _EXPORT_ID_RE.match(export_id):
        raise ExportError(f"{export_id!r} is not an ExportId (expected 14 digits, '-', 8 hex digits)")
    head = (prefix or "").strip("/")
    return f"{head}/{EXPORT_ROOT}/{export_id}/" if head else f"{EXPORT_ROOT}/{export_id}/"


@dataclass(frozen=True)
class ExportLocation:
    """Where an export's folder is inside a key: ``folder_key`` ends with ``AWSDynamoDB/<id>/``."""

    folder_key: str
    export_id: str
    relative: str
    """What follows the folder in the key (``data/x.json.gz``, ``manifest-files.json``…)."""


def find_export_location(key: str) -> ExportLocation | None:
    """Split a key at its ``AWSDynamoDB/<ExportId>/`` part; None when it has none.

    The *last* such part wins, so a prefix that itself contains ``AWSDynamoDB/…`` (an export
    copied into another export's folder) still resolves to the innermost export.
    """
    matches = list(_LOCATION_RE.finditer(key if key.endswith("/") else key + "/"))
    if not matches:
        return None
    match = matches[-1]
    end = match.end()
    return ExportLocation(folder_key=key[:end] if end <= len(key) else key + "/", export_id=match.group(1),
                          relative=key[end:])


@dataclass(frozen=True)
class ExportArn:
    """The parts of ``arn:aws:dynamodb:<region>:<account>:table/<name>/export/<ExportId>``."""

    arn: str
    table_arn: str
    table_name: str
    region: str
    account: str
    export_id: str


def export_arn(table_arn: str, export_id: str) -> str:
    return f"{table_arn}/export/{export_id}"


def parse_export_arn(arn: str) -> ExportArn | None:
    """The ARN's parts, or None when ``arn`` is not an export ARN."""
    match = _ARN_RE.match(arn)
    if not match:
        return None
    return ExportArn(arn=arn, table_arn=match["table"], table_name=match["name"], region=match["region"],
                     account=match["account"], export_id=match["id"])


# --------------------------------------------------------------------------- times and digests


def format_time(moment: datetime) -> str:
    """``2020-11-04T07:28:34.028Z``: UTC, milliseconds, as the manifests write times."""
    moment = _utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: Any, *, where: str, error: type[DdbMigrateError] = ExportError) -> datetime:
    """An ISO 8601 time (a manifest's, or an option's: ``2024-05-01T12:00:00Z``) → aware UTC datetime,
    a time without zone taken as UTC; ``error`` (a manifest's: :class:`ExportError`) naming ``where`` otherwise."""
    if not isinstance(text, str):
        raise error(f"{where}: expected an ISO 8601 time string, got {type(text).__name__}")
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise error(f"{where}: {text!r} is not an ISO 8601 time (e.g. 2024-05-01T12:00:00Z)") from None
    return _utc(parsed)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def md5_base64(data: bytes) -> str:
    """Base64 of the md5 digest: the form of ``md5Checksum`` (and of S3's Content-MD5)."""
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def checksum_text(data: bytes) -> str:
    """What we write into a ``.checksum`` file: the lowercase hex md5 of ``data``."""
    return hashlib.md5(data).hexdigest()


def checksum_matches(data: bytes, text: str) -> bool:
    """True when ``text`` (hex or base64, surrounding whitespace ignored) is the md5 of ``data``."""
    digest = hashlib.md5(data).digest()
    text = text.strip()
    candidates = []
    if re.fullmatch(r"[0-9a-fA-F]{32}", text):
        candidates.append(bytes.fromhex(text))
    with contextlib.suppress(binascii.Error, ValueError):
        candidates.append(base64.b64decode(text, validate=True))
    return digest in candidates


# --------------------------------------------------------------------------- manifests


def encode_summary(summary: ManifestSummary) -> bytes:
    """One compact JSON object, fields in the documented order."""
    ordered = {name: summary[name] for name in SUMMARY_FIELD_TYPES}  # type: ignore[literal-required]
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_summary(data: bytes, *, where: str) -> ManifestSummary:
    """Parse and type-check ``manifest-summary.json``; errors name ``where`` and the field."""
    obj = _load_json(data, where)
    if not isinstance(obj, dict):
        raise ExportIntegrityError(f"{where}: expected one JSON object")
    for name in _REQUIRED_SUMMARY:
        if name not in obj:
            raise ExportIntegrityError(f"{where}: field {name!r} is missing")
    _check_types(obj, SUMMARY_FIELD_TYPES, where)
    if obj["version"] != MANIFEST_VERSION:
        raise ExportError(
            f"{where}: manifest version {obj['version']!r} is not supported; this ddbmigrate reads {MANIFEST_VERSION}"
        )
    if obj["itemCount"] < 0:
        raise ExportIntegrityError(f"{where}: itemCount is negative")
    return obj  # type: ignore[return-value]


def require_supported(summary: Mapping[str, Any], *, where: str) -> None:
    """Refuse what the reader cannot read yet: ION output and incremental exports.

    Both would otherwise fail item by item (or, worse, be misread), so we stop at the manifest
    with a message that says what to do instead.
    """
    output_format = summary.get("outputFormat")
    if output_format != OUTPUT_FORMAT:
        raise ExportError(
            f"{where}: outputFormat is {output_format!r}; ddbmigrate reads {OUTPUT_FORMAT} exports only "
            "(ION is not supported yet). Export again with --export-format DYNAMODB_JSON "
            "(ddbmigrate export always does)."
        )
    export_type = summary.get("exportType", FULL_EXPORT)
    if export_type != FULL_EXPORT or "exportFromTime" in summary:
        raise ExportError(
            f"{where}: this is an incremental export ({export_type}); ddbmigrate bulk-loads full exports only. "
            "Use a full export for the bulk load and stream replication for changes after it."
        )


def encode_files_manifest(entries: Iterable[ManifestFileEntry]) -> bytes:
    """JSON lines, one compact object per data file, each line ending with ``\\n``."""
    lines = []
    for entry in entries:
        ordered = {name: entry[name] for name in FILE_ENTRY_FIELD_TYPES}  # type: ignore[literal-required]
        lines.append(json.dumps(ordered, separators=(",", ":"), ensure_ascii=False) + "\n")
    return "".join(lines).encode("utf-8")


def decode_files_manifest(data: bytes, *, where: str) -> list[ManifestFileEntry]:
    """Parse ``manifest-files.json``; errors name ``where`` and the line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ExportIntegrityError(f"{where}: not UTF-8 text") from None
    entries: list[ManifestFileEntry] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        at = f"{where} line {number}"
        obj = _load_json(line.encode("utf-8"), at)
        if not isinstance(obj, dict):
            raise ExportIntegrityError(f"{at}: expected a JSON object")
        for name in FILE_ENTRY_FIELD_TYPES:
            if name not in obj:
                raise ExportIntegrityError(f"{at}: field {name!r} is missing")
        _check_types(obj, FILE_ENTRY_FIELD_TYPES, at)
        if obj["itemCount"] < 0:
            raise ExportIntegrityError(f"{at}: itemCount is negative")
        entries.append(obj)  # type: ignore[arg-type]
    return entries


def _load_json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ExportIntegrityError(f"{where}: not valid JSON ({exc.__class__.__name__} at {_position(exc)})") from None


def _position(exc: Exception) -> str:
    pos = getattr(exc, "pos", None)
    return f"character {pos}" if pos is not None else "start"


def _check_types(obj: Mapping[str, Any], types: Mapping[str, tuple[type, ...]], where: str) -> None:
    for name, allowed in types.items():
        if name not in obj:
            continue
        value = obj[name]
        ok = isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
        if not ok:
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            raise ExportIntegrityError(f"{where}: field {name!r} should be {expected}, got {type(value).__name__}")


# --------------------------------------------------------------------------- data lines


def encode_item_line(item: Mapping[str, Any]) -> bytes:
    """``{"Item":{…}}\\n`` for a wire-form item (binaries base64, UTF-8, compact)."""
    return (json.dumps({"Item": item_to_json(item)}, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


def parse_item_line(line: str, *, where: str) -> Item:
    """One data line → validated wire item; :class:`InvalidItemError` names ``where`` (file line).

    Messages name the attribute path and never include values.
    """
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise InvalidItemError(f"{where}: not valid JSON (at {_position(exc)})") from None
    if not isinstance(obj, dict) or set(obj) != {"Item"}:
        keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise InvalidItemError(f"{where}: expected {{\"Item\": {{…}}}}, found {keys}")
    return item_from_json(obj["Item"], where=where)
