"""Give the bucket owner full control of an export another account wrote.

Objects an export writes into another account's bucket belong to the writer unless the bucket
enforces ownership, so :func:`fix_ownership`, run with the writer's credentials, sets
``bucket-owner-full-control`` on every object of one export folder (never a whole prefix). It is
idempotent: re-running after a partial failure finishes the job. See docs/export.md,
"Cross-account ownership".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ddbmigrate.errors import ConfigError, ExportError
from ddbmigrate.export.layout import find_export_location
from ddbmigrate.s3uri import S3Uri, parse_s3_uri

__all__ = ["CANNED_ACL", "OwnershipResult", "fix_ownership"]

CANNED_ACL = "bucket-owner-full-control"


@dataclass(frozen=True)
class OwnershipResult:
    folder_uri: str
    objects: int
    updated: int
    acl_disabled: bool = False


def fix_ownership(
    s3_client: Any,
    folder_uri: str,
    *,
    workers: int = 8,
    on_object: Callable[[str], None] | None = None,
) -> OwnershipResult:
    """Set ``bucket-owner-full-control`` on every object of the export at ``folder_uri``.

    >>> fix_ownership(Account(profile="source").client("s3"), "s3://b/p/AWSDynamoDB/01700000000000-0a1b2c3d/")  # doctest: +SKIP
    OwnershipResult(folder_uri='s3://b/p/AWSDynamoDB/01700000000000-0a1b2c3d/', objects=9, updated=9)
    """
    folder = _export_folder(folder_uri)
    keys = list(_list_keys(s3_client, folder))
    if not keys:
        raise ExportError(f"{folder}: no objects found (check the URI, and that this profile may list the bucket)")
    first, rest = keys[0], keys[1:]
    try:
        _put_acl(s3_client, folder.bucket, first)
    except _AclsDisabled:
        return OwnershipResult(folder_uri=str(folder), objects=len(keys), updated=0, acl_disabled=True)
    if on_object is not None:
        on_object(first)

    def one(key: str) -> str:
        _put_acl(s3_client, folder.bucket, key)
        return key

    updated = 1
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for key in pool.map(one, rest):
            updated += 1
            if on_object is not None:
                on_object(key)
    return OwnershipResult(folder_uri=str(folder), objects=len(keys), updated=updated)


class _AclsDisabled(Exception):
    """Internal: the bucket has ACLs disabled (bucket owner enforced)."""


def _export_folder(folder_uri: str) -> S3Uri:
    uri = parse_s3_uri(folder_uri, what="URI")
    location = find_export_location(uri.key)
    if location is None or location.relative not in ("",):
        raise ConfigError(
            f"URI: {folder_uri} is not an export folder; fix-ownership only works on "
            "s3://BUCKET/PREFIX/AWSDynamoDB/<ExportId>/ so that nothing else in the bucket is touched"
        )
    return S3Uri(uri.bucket, location.folder_key)


def _list_keys(s3_client: Any, folder: S3Uri) -> Iterator[str]:
    paginator = s3_client.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=folder.bucket, Prefix=folder.key):
            for obj in page.get("Contents", []):
                yield obj["Key"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ExportError(
            f"{folder}: cannot list the export ({code}); the writer account needs s3:ListBucket on the bucket "
            "for this prefix (see 'ddbmigrate policies export')"
        ) from None


def _put_acl(s3_client: Any, bucket: str, key: str) -> None:
    try:
        s3_client.put_object_acl(Bucket=bucket, Key=key, ACL=CANNED_ACL)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "AccessControlListNotSupported":
            raise _AclsDisabled from None
        if code in ("AccessDenied", "403"):
            raise ExportError(
                f"s3://{bucket}/{key}: access denied setting its ACL. Run fix-ownership with the profile of the "
                "account that wrote the export (it owns the objects), which needs s3:PutObjectAcl"
            ) from None
        raise ExportError(f"s3://{bucket}/{key}: PutObjectAcl failed ({code})") from None
