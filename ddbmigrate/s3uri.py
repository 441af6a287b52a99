"""``s3://bucket/key`` URIs: parse with errors that name the text at fault, join, print.

S3 keys are opaque strings: ``a//b`` and ``a/b`` are different keys, so nothing here collapses
slashes or resolves ``..``. The only normalisation is :meth:`S3Uri.folder`, which makes sure a
folder key ends with exactly one ``/`` so that listing ``prefix/`` never matches ``prefix-other``.

>>> uri = parse_s3_uri("s3://exports/2024/AWSDynamoDB/01700000000000-0a1b2c3d/")
>>> uri.bucket, uri.key
('exports', '2024/AWSDynamoDB/01700000000000-0a1b2c3d/')
>>> str(uri.join("manifest-summary.json"))
's3://exports/2024/AWSDynamoDB/01700000000000-0a1b2c3d/manifest-summary.json'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ddbmigrate.errors import ConfigError

__all__ = ["S3Uri", "parse_s3_uri"]

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class S3Uri:
    """A bucket and a key (the key may be empty: the bucket's root)."""

    bucket: str
    key: str = ""

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def folder(self) -> S3Uri:
        """The same location as a folder: the key ends with one ``/`` (root stays empty)."""
        if not self.key or self.key.endswith("/"):
            return self
        return S3Uri(self.bucket, self.key + "/")

    def join(self, *parts: str) -> S3Uri:
        """``folder/part1/part2``: parts are appended under this location treated as a folder."""
        key = self.folder().key + "/".join(p.strip("/") for p in parts if p)
        return S3Uri(self.bucket, key)

    @property
    def name(self) -> str:
        """The last path segment of the key (``data/x.json.gz`` → ``x.json.gz``)."""
        return self.key.rstrip("/").rsplit("/", 1)[-1]


def parse_s3_uri(text: str, *, what: str = "S3 URI") -> S3Uri:
    """Parse ``s3://bucket[/key]``; :class:`ConfigError` names ``what`` and says what is allowed.

    ``what`` is the option or argument the text came from (``"--bucket"``, ``"URI"``), so the
    message points the user at the right place.
    """
    if not isinstance(text, str) or not text.startswith("s3://"):
        raise ConfigError(f"{what}: {text!r} is not an S3 URI; expected s3://BUCKET/KEY")
    rest = text[len("s3://"):]
    bucket, _, key = rest.partition("/")
    if not _BUCKET.match(bucket):
        raise ConfigError(
            f"{what}: {bucket!r} is not a valid bucket name (3-63 characters: lowercase letters, digits, '.', '-')"
        )
    return S3Uri(bucket, key)
