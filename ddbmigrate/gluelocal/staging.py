"""Find and fetch the files an S3 source names, so that plain Spark can read them locally.

Locally Spark has no S3 file system (no ``hadoop-aws`` jar), so ``s3://`` paths are listed and
downloaded with boto3 into a staging folder on the driver, and Spark reads the local copies. This
is for the small data sets a local run handles; each run downloads again (nothing is cached), and
the staging folder is removed when the Python process exits.

Which objects a path selects, following Glue's S3 connection options:

* ``paths``: a list of ``s3://bucket/key``, ``file:///dir`` or plain local paths. A path naming
  an existing object (or file) selects it; otherwise it is a folder (``key/``) and selects the
  objects directly inside it, or everything below it with ``recurse`` true.
* Below a folder, names starting with ``_`` or ``.`` (``_SUCCESS``, ``_started``, ``.tmp``) are
  skipped at any level, as Spark and Hadoop skip them; so are folder-marker objects (``key/``).
* ``exclusions``: a JSON list of Unix-style globs (``"[\\"**.pdf\\"]"``); ``*`` stays within one
  folder level, ``**`` crosses levels. A glob excludes an object when it matches the full URI or
  the key relative to the path given.
* ``excludeStorageClasses``: objects in these S3 storage classes are skipped.
* ``compressionType`` ``gzip``/``bzip2``: staged copies get ``.gz``/``.bz2`` so that Spark
  decompresses them; without it Spark goes by the file extension, as Glue does.

Throughput-only options (``groupFiles``, ``groupSize``, ``maxBand``, ``maxFilesInBand``,
``useS3ListImplementation``, ``isFailFast``) are accepted and have no effect; any other option
raises :class:`~ddbmigrate.errors.ConfigError` rather than being silently ignored.
"""

from __future__ import annotations

import atexit
import bz2
import gzip
import json
import logging
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddbmigrate.errors import ConfigError
from ddbmigrate.s3uri import S3Uri, parse_s3_uri

__all__ = ["S3ReadOptions", "StagedFiles", "find_malformed_json", "glob_to_regex", "is_hidden", "stage_files"]

log = logging.getLogger("ddbmigrate.gluelocal")

_IGNORED_OPTIONS = frozenset(
    {"groupFiles", "groupSize", "maxBand", "maxFilesInBand", "useS3ListImplementation", "isFailFast"}
)
_OPTIONS = frozenset({"paths", "recurse", "exclusions", "excludeStorageClasses", "compressionType"}) | _IGNORED_OPTIONS
_SUFFIXES = {"gzip": ".gz", "bzip2": ".bz2", "none": ""}


def _as_bool(value: Any, option: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(f"connection option {option!r}: expected true or false, got {value!r}")


def _as_list(value: Any, option: str) -> tuple[str, ...]:
    """A list given as a Python list or as a JSON array in a string (Glue takes the latter)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigError(f"connection option {option!r}: expected a JSON list of strings, got {value!r}") from None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"connection option {option!r}: expected a list of strings, got {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class S3ReadOptions:
    """The S3 connection options that decide which objects are read (module docstring)."""

    paths: tuple[str, ...]
    recurse: bool = False
    exclusions: tuple[str, ...] = ()
    exclude_storage_classes: tuple[str, ...] = ()
    compression: str | None = None

    @classmethod
    def from_connection_options(cls, options: Mapping[str, Any]) -> S3ReadOptions:
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise ConfigError(
                f"connection option(s) {', '.join(map(repr, unknown))} are not supported by the local Glue runtime "
                f"for S3 sources; supported: {', '.join(sorted(_OPTIONS))}"
            )
        paths = options.get("paths")
        if not isinstance(paths, (list, tuple)) or not paths or not all(isinstance(p, str) and p for p in paths):
            raise ConfigError(f"connection option 'paths': expected a non-empty list of paths, got {paths!r}")
        compression = options.get("compressionType")
        if compression is not None and str(compression).lower() not in _SUFFIXES:
            raise ConfigError(f"connection option 'compressionType': expected gzip or bzip2, got {compression!r}")
        return cls(
            paths=tuple(paths),
            recurse=_as_bool(options.get("recurse", False), "recurse"),
            exclusions=_as_list(options.get("exclusions", []), "exclusions"),
            exclude_storage_classes=_as_list(options.get("excludeStorageClasses", []), "excludeStorageClasses"),
            compression=str(compression).lower() if compression else None,
        )


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """A Unix glob as a regex: ``**`` any characters, ``*`` and ``?`` within one level, ``[...]`` classes."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


def is_hidden(relative: str) -> bool:
    """Spark's rule for files it does not read below a folder: a level named ``_…`` (without ``=``) or ``.…``."""
    return any(
        (part.startswith("_") and "=" not in part) or part.startswith(".") or part.endswith("._COPYING_")
        for part in relative.split("/")
        if part
    )


@dataclass(frozen=True)
class _Selected:
    uri: str
    relative: str
    local: Path | None = None  # set for local files (read in place)


class StagedFiles:
    """Local files ready for Spark; ``files`` is empty when the paths selected nothing.

    ``origins`` maps each local file to the URI it came from, so errors name the user's file.
    """

    def __init__(self, files: list[str], staged_bytes: int, origins: dict[str, str] | None = None) -> None:
        self.files = files
        self.staged_bytes = staged_bytes
        self.origins = origins or {f: f for f in files}


def _open_text(path: str) -> Any:
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    if path.endswith(".bz2"):
        return bz2.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def find_malformed_json(staged: StagedFiles, *, multiline: bool) -> str | None:
    """The first file (and line) that is not valid JSON, as ``<uri> line <n>: <reason>``; None if all parse.

    Used to name the culprit when Spark refuses the input; the message never quotes the content.
    """
    for path in staged.files:
        uri = staged.origins.get(path, path)
        try:
            with _open_text(path) as handle:
                if multiline:
                    json.load(handle)
                    continue
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        try:
                            json.loads(line)
                        except ValueError as exc:
                            return f"{uri} line {number}: not valid JSON ({exc.__class__.__name__} at column {getattr(exc, 'colno', '?')})"
        except ValueError as exc:  # multi-line document or undecodable bytes
            return f"{uri}: not valid JSON ({exc.__class__.__name__})"
        except OSError as exc:
            return f"{uri}: cannot be read as {'gzip' if path.endswith('.gz') else 'text'} ({exc.__class__.__name__})"
    return None


def _excluded(selected: _Selected, patterns: list[re.Pattern[str]]) -> bool:
    return any(p.fullmatch(selected.uri) or p.fullmatch(selected.relative) for p in patterns)


def _list_s3(client: Any, path: S3Uri, options: S3ReadOptions) -> Iterator[_Selected]:
    from botocore.exceptions import ClientError

    if path.key and not path.key.endswith("/"):
        try:
            head = client.head_object(Bucket=path.bucket, Key=path.key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
        else:
            if head.get("StorageClass", "STANDARD") not in options.exclude_storage_classes:
                yield _Selected(str(path), path.name)
            return
    folder = path.folder()
    kwargs: dict[str, Any] = {"Bucket": folder.bucket, "Prefix": folder.key}
    if not options.recurse:
        kwargs["Delimiter"] = "/"
    for page in client.get_paginator("list_objects_v2").paginate(**kwargs):
        for obj in page.get("Contents", []):
            relative = obj["Key"][len(folder.key) :]
            if not relative or relative.endswith("/") or is_hidden(relative):
                continue
            if obj.get("StorageClass", "STANDARD") in options.exclude_storage_classes:
                continue
            yield _Selected(str(S3Uri(folder.bucket, obj["Key"])), relative)


def _list_local(path: str, options: S3ReadOptions) -> Iterator[_Selected]:
    root = Path(path[len("file://") :] if path.startswith("file://") else path).expanduser().resolve()
    if root.is_file():
        yield _Selected(root.as_uri(), root.name, root)
        return
    if not root.is_dir():
        raise ConfigError(f"connection option 'paths': {path!r} does not exist")
    candidates = root.rglob("*") if options.recurse else root.glob("*")
    for file in sorted(candidates):
        relative = file.relative_to(root).as_posix()
        if file.is_file() and not is_hidden(relative):
            yield _Selected(file.as_uri(), relative, file)


_staging_roots: list[Path] = []


@atexit.register
def _remove_staging() -> None:
    for root in _staging_roots:
        shutil.rmtree(root, ignore_errors=True)


def stage_files(options: S3ReadOptions, s3_client: Any, *, staging_dir: str | Path | None = None) -> StagedFiles:
    """List what ``options`` select and download the S3 objects; return local paths for Spark.

    ``s3_client`` is a callable returning a boto3 S3 client, called only when a path is on S3.
    Listing and downloading errors become :class:`ConfigError` naming the path.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    patterns = [glob_to_regex(p) for p in options.exclusions]
    selected: list[_Selected] = []
    client = None
    for path in options.paths:
        if path.startswith("s3://"):
            uri = parse_s3_uri(path, what="connection option 'paths'")
            client = client or s3_client()
            try:
                selected.extend(s for s in _list_s3(client, uri, options) if not _excluded(s, patterns))
            except (ClientError, BotoCoreError) as exc:
                raise ConfigError(f"cannot list {path}: {exc}") from None
        elif "://" in path and not path.startswith("file://"):
            raise ConfigError(f"connection option 'paths': {path!r} is neither s3://, file:// nor a local path")
        else:
            selected.extend(s for s in _list_local(path, options) if not _excluded(s, patterns))
    if not selected:
        log.warning("no files selected by %s (recurse=%s)", ", ".join(options.paths), options.recurse)
        return StagedFiles([], 0)

    suffix = _SUFFIXES.get(options.compression or "none", "")
    folder: Path | None = None
    files: list[str] = []
    origins: dict[str, str] = {}
    staged = 0
    for index, item in enumerate(selected):
        if item.local is not None and (not suffix or item.local.name.endswith(suffix)):
            files.append(str(item.local))
            origins[str(item.local)] = item.uri
            continue
        if folder is None:
            folder = Path(tempfile.mkdtemp(prefix="ddbmigrate-gluelocal-", dir=staging_dir))
            _staging_roots.append(folder)
        name = item.relative.rsplit("/", 1)[-1]
        target = folder / f"{index:06d}-{name}{'' if name.endswith(suffix) else suffix}"
        if item.local is not None:
            shutil.copyfile(item.local, target)
        else:
            uri = parse_s3_uri(item.uri)
            try:
                client.download_file(uri.bucket, uri.key, str(target))  # type: ignore[union-attr]
            except (ClientError, BotoCoreError) as exc:
                raise ConfigError(f"cannot download {item.uri}: {exc}") from None
        staged += target.stat().st_size
        files.append(str(target))
        origins[str(target)] = item.uri
    log.info("read %d file(s) from %s (%d bytes staged locally)", len(files), ", ".join(options.paths), staged)
    return StagedFiles(files, staged, origins)
