"""Dead letters: what could never be written, with its reason, in files a user can fix and replay.

One JSON-lines file per writer, local or under ``s3://``, stored with the job's own account (never
a role assumed for the target). Lines are buffered and flushed on close (S3: one ``PutObject``, or
a multipart upload past ``buffer_bytes``); :meth:`DeadLetterWriter.sync` stores what is held now,
for a caller about to record progress (flush, then record). A writer that received nothing writes
nothing, and a failure to store raises :class:`SinkError` — never silent. Item contents go to the file alone,
never to logs. :func:`replay_dead_letters` feeds fixed lines to a writer; puts are full-item
overwrites, so replaying twice is harmless. The line format: docs/sink.md, "Dead letters".
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from ddbmigrate.errors import ConfigError, InvalidItemError, SinkError
from ddbmigrate.s3uri import S3Uri, parse_s3_uri
from ddbmigrate.values import Item, item_from_json, item_to_json

__all__ = [
    "DEAD_LETTER_SUFFIX",
    "DeadLetterLine",
    "DeadLetterWriter",
    "ItemWriter",
    "dead_letter_record",
    "list_dead_letter_files",
    "read_dead_letters",
    "replay_dead_letters",
]

log = logging.getLogger(__name__)

DEAD_LETTER_SUFFIX = ".jsonl"
_MIN_PART_BYTES = 5 * 1024 * 1024
_DEFAULT_BUFFER_BYTES = 8 * 1024 * 1024
_OPERATIONS = ("put", "delete")


# --------------------------------------------------------------------------- records (pure)


def dead_letter_record(
    reason: str,
    *,
    origin: str,
    key: Mapping[str, Any] | None,
    item: Mapping[str, Any] | None,
    operation: str = "put",
) -> dict[str, Any]:
    """One dead letter as a JSON-ready dict (wire items become DynamoDB JSON).

    An item DynamoDB JSON cannot express (a float, a value of an unknown type — exactly the
    things that get items dead-lettered) is still kept: such values are written as close to
    DynamoDB JSON as possible (bytes as base64, Decimals as text, floats as JSON numbers, others
    as their ``repr``) and
    ``"lossy": true`` marks the record so that nobody replays it unread.
    """
    if operation not in _OPERATIONS:
        raise ValueError(f"operation must be one of {_OPERATIONS}, got {operation!r}")
    record: dict[str, Any] = {"reason": reason, "origin": origin, "operation": operation}
    lossy = False
    for field_name, value in (("key", key), ("item", item)):
        if value is None:
            record[field_name] = None
            continue
        converted, exact = _to_json(value)
        record[field_name] = converted
        lossy = lossy or not exact
    if lossy:
        record["lossy"] = True
    return record


def _to_json(item: Mapping[str, Any]) -> tuple[Any, bool]:
    try:
        converted = item_to_json(item)
        if isinstance(converted, dict) and all(_is_typed_json(v) for v in converted.values()):
            json.dumps(converted)
            return converted, True
    except (TypeError, ValueError, AttributeError):
        pass
    return json.loads(json.dumps(item, default=_lenient)), False


_STRING_TAGS = frozenset({"S", "N", "B"})
_SET_TAGS = frozenset({"SS", "NS", "BS"})


def _is_typed_json(value: Any) -> bool:
    """True when ``value`` has DynamoDB JSON's shape (one tag, a payload of that tag's JSON type)."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (tag, payload), = value.items()
    if tag in _STRING_TAGS:
        return isinstance(payload, str)
    if tag in _SET_TAGS:
        return isinstance(payload, list) and all(isinstance(x, str) for x in payload)
    if tag in ("BOOL", "NULL"):
        return isinstance(payload, bool)
    if tag == "M":
        return isinstance(payload, dict) and all(isinstance(k, str) and _is_typed_json(v) for k, v in payload.items())
    if tag == "L":
        return isinstance(payload, list) and all(_is_typed_json(v) for v in payload)
    return False


def _lenient(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return repr(value)


def _encode(record: Mapping[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- writing


class DeadLetterWriter:
    """Writes one dead-letter file ``<location>/<name>.jsonl``; use as a context manager.

    ``location`` is a local folder (created when needed) or ``s3://bucket/prefix/``; ``s3_client``
    (the job's own account's) is required for S3. ``count`` is the number of dead letters written.
    """

    def __init__(
        self,
        location: str,
        name: str,
        *,
        s3_client: Any = None,
        buffer_bytes: int = _DEFAULT_BUFFER_BYTES,
    ) -> None:
        if not name or "/" in name:
            raise ConfigError(f"dead-letter file name must be a plain file name, got {name!r}")
        self.location = location
        self.count = 0
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._closed = False
        filename = name if name.endswith(DEAD_LETTER_SUFFIX) else name + DEAD_LETTER_SUFFIX
        if location.startswith("s3://"):
            if s3_client is None:
                raise ConfigError(f"dead-letter location {location}: an S3 client (the job's own account) is needed")
            self._s3: S3Uri | None = parse_s3_uri(location, what="dead-letter location").join(filename)
            self._path: Path | None = None
            self._buffer_bytes = max(buffer_bytes, _MIN_PART_BYTES)
        else:
            self._s3 = None
            self._path = Path(location) / filename
            self._buffer_bytes = max(buffer_bytes, 1)
        self._client = s3_client
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._objects = 0
        """S3 objects completed so far: the next one's number (see :meth:`_object_key`)."""

    @property
    def uri(self) -> str:
        """Where this writer's file is (or will be); on S3, the first of its objects."""
        return str(self._s3) if self._s3 is not None else str(self._path)

    def sync(self) -> None:
        """Make every dead letter written so far durable, before the caller records progress.

        A local file is appended to and fsynced. S3 objects cannot be appended to, so what is held
        goes up now as an object of its own: ``<name>.jsonl`` first, then ``<name>_00000001.jsonl``
        and on (``_`` sorts after ``.``): one writer's objects never overwrite each other and list in
        the order written, which is the order :func:`read_dead_letters` reads. Nothing held, nothing
        written. Raises :class:`SinkError` if it cannot be stored.
        """
        if self._closed:
            raise SinkError(f"dead-letter file {self.uri} is already closed")
        if self._path is not None:
            self._flush(final=False)
        elif self._buffer or self._upload_id:
            self._flush(final=True)

    def write(
        self,
        reason: str,
        *,
        origin: str,
        key: Mapping[str, Any] | None,
        item: Mapping[str, Any] | None,
        operation: str = "put",
    ) -> None:
        """Record one dead letter (see :func:`dead_letter_record`)."""
        if self._closed:
            raise SinkError(f"dead-letter file {self.uri} is already closed")
        line = _encode(dead_letter_record(reason, origin=origin, key=key, item=item, operation=operation))
        self._buffer.append(line)
        self._buffered += len(line)
        self.count += 1
        if self._buffered >= self._buffer_bytes:
            self._flush(final=False)

    def close(self) -> None:
        """Flush everything; idempotent. Raises :class:`SinkError` if it cannot be stored."""
        if self._closed:
            return
        self._closed = True
        self._flush(final=True)
        if self.count:
            log.info("%d dead letter(s) written to %s", self.count, self.uri)

    def __enter__(self) -> DeadLetterWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _flush(self, *, final: bool) -> None:
        if not self._buffer and not (final and self._upload_id):
            return
        data = b"".join(self._buffer)
        try:
            if self._path is not None:
                self._append_local(self._path, data)
            else:
                self._flush_s3(data, final=final)
        except SinkError:
            raise
        except Exception as exc:
            self._abort()
            raise SinkError(
                f"cannot store {self.count} dead letter(s) at {self.uri}: {type(exc).__name__}: {exc}. "
                "Check the location and that the job's own account may write it (s3:PutObject; "
                "'ddbmigrate policies glue-role --dead-letter …')."
            ) from exc
        self._buffer.clear()
        self._buffered = 0

    @staticmethod
    def _append_local(path: Path, data: bytes) -> None:
        """Append and fsync; a new file's folder is fsynced too (its entry is what a crash loses)."""
        created = not path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if created:
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)

    def _object_key(self, target: S3Uri) -> str:
        """The key of the writer's current S3 object: ``<name>.jsonl``, then ``<name>_<n:08d>.jsonl``."""
        if not self._objects:
            return target.key
        return f"{target.key.removesuffix(DEAD_LETTER_SUFFIX)}_{self._objects:08d}{DEAD_LETTER_SUFFIX}"

    def _flush_s3(self, data: bytes, *, final: bool) -> None:
        target = self._s3
        if target is None:  # unreachable: only called for S3 locations
            raise SinkError("not an S3 dead-letter location")
        bucket, key = target.bucket, self._object_key(target)
        if final and self._upload_id is None:
            self._client.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/x-ndjson")
            self._objects += 1
            return
        if self._upload_id is None:
            created = self._client.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/x-ndjson")
            self._upload_id, self._parts = created["UploadId"], []
        if data:
            number = len(self._parts) + 1
            part = self._client.upload_part(Bucket=bucket, Key=key, UploadId=self._upload_id, PartNumber=number, Body=data)
            self._parts.append({"ETag": part["ETag"], "PartNumber": number})
        if final:
            self._client.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
            )
            self._upload_id = None
            self._objects += 1

    def _abort(self) -> None:
        if self._upload_id is None or self._s3 is None:
            return
        try:
            self._client.abort_multipart_upload(Bucket=self._s3.bucket, Key=self._object_key(self._s3),
                                                UploadId=self._upload_id)
        except Exception:  # best effort: the original error is what the user needs to see
            log.warning("could not abort the multipart upload of %s", self.uri)
        self._upload_id = None


# --------------------------------------------------------------------------- reading and replay


@dataclass(frozen=True)
class DeadLetterLine:
    """One parsed dead letter and where it was read (``<file> line <n>``)."""

    where: str
    record: dict[str, Any]


def list_dead_letter_files(location: str, *, s3_client: Any = None) -> list[str]:
    """The dead-letter files under ``location`` (sorted; local paths or ``s3://`` URIs)."""
    if location.startswith("s3://"):
        if s3_client is None:
            raise ConfigError(f"dead-letter location {location}: an S3 client is needed to list it")
        folder = parse_s3_uri(location, what="dead-letter location").folder()
        keys: list[str] = []
        for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=folder.bucket, Prefix=folder.key):
            keys += [obj["Key"] for obj in page.get("Contents", []) if obj["Key"].endswith(DEAD_LETTER_SUFFIX)]
        return [str(S3Uri(folder.bucket, k)) for k in sorted(keys)]
    path = Path(location)
    if path.is_file():
        return [str(path)]
    if not path.is_dir():
        raise ConfigError(f"dead-letter location {location} does not exist")
    return [str(p) for p in sorted(path.glob(f"*{DEAD_LETTER_SUFFIX}"))]


def read_dead_letters(location: str, *, s3_client: Any = None) -> Iterator[DeadLetterLine]:
    """Every dead letter under ``location``, in file then line order.

    The file list is taken first, so dead letters written while reading are not picked up.
    A line that is not a dead-letter record raises :class:`InvalidItemError` naming file and line.
    """
    for file in list_dead_letter_files(location, s3_client=s3_client):
        for number, line in enumerate(_read_text(file, s3_client).splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{file} line {number}"
            yield DeadLetterLine(where, _parse_record(line, where))


def _read_text(file: str, s3_client: Any) -> str:
    if file.startswith("s3://"):
        uri = parse_s3_uri(file)
        body: bytes = s3_client.get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read()
        return body.decode("utf-8")
    return Path(file).read_text(encoding="utf-8")


def _parse_record(line: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise InvalidItemError(f"{where}: not JSON ({exc.__class__.__name__} at column {getattr(exc, 'colno', '?')})") from None
    if not isinstance(record, dict) or not {"reason", "origin", "key", "item"} <= set(record):
        raise InvalidItemError(f"{where}: a dead letter is an object with reason, origin, key and item")
    operation = record.get("operation", "put")
    if operation not in _OPERATIONS:
        raise InvalidItemError(f"{where}: operation must be one of {', '.join(_OPERATIONS)}, got {operation!r}")
    if operation == "put" and record["item"] is not None and not isinstance(record["item"], dict):
        raise InvalidItemError(f"{where}: a put's item must be DynamoDB JSON (an object) or null")
    if operation == "delete" and not isinstance(record["key"], dict):
        raise InvalidItemError(f"{where}: a delete needs its key (DynamoDB JSON); 'key' is missing or null")
    return record


class ItemWriter(Protocol):
    """What replay writes to: :class:`ddbmigrate.sink.TableWriter` satisfies it."""

    def put(self, item: Item, *, origin: str = ...) -> None: ...

    def delete(self, key: Item, *, origin: str = ...) -> None: ...


def replay_dead_letters(location: str, writer: ItemWriter, *, s3_client: Any = None, include_lossy: bool = False) -> int:
    """Feed the dead letters under ``location`` to ``writer``; return how many were handed over.

    Each line is parsed and validated again (:func:`ddbmigrate.values.item_from_json`), so a fix
    that is still wrong stops the replay with the file, line and attribute at fault; lines before
    it have been written (re-running is safe: puts overwrite whole items). Items the writer still
    cannot write go to *its* dead-letter location with a reason — give the writer a different
    location from the one being replayed. Records marked ``lossy`` (values DynamoDB JSON could not
    express) are refused unless ``include_lossy``: fix them first.
    """
    handed = 0
    for entry in read_dead_letters(location, s3_client=s3_client):
        record = entry.record
        if record.get("lossy") and not include_lossy:
            raise InvalidItemError(
                f"{entry.where}: the record is marked lossy (values DynamoDB JSON cannot express); "
                "fix the item and remove \"lossy\", or pass include_lossy=True"
            )
        if record.get("operation", "put") == "delete":
            writer.delete(item_from_json(record["key"], where=entry.where), origin=entry.where)
        elif record["item"] is None:
            raise InvalidItemError(
                f"{entry.where}: nothing to replay — the input never became an item ({record['reason']}); "
                f"fix it at its origin, {record['origin']}, and import it again, then delete this line"
            )
        else:
            writer.put(item_from_json(record["item"], where=entry.where), origin=entry.where)
        handed += 1
    return handed
