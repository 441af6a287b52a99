"""Every exception the library raises on purpose.

Messages say what was received, what is allowed and what to do. The CLI turns any
:class:`DdbMigrateError` into a one-line error and the exit code of its class; anything else is
a bug and keeps its traceback. Messages never contain item contents (customer data) — only
attribute names, key *names*, file names, line numbers and option names.
"""

from __future__ import annotations

__all__ = [
    "AwsAccessDenied",
    "AwsConnectionError",
    "AwsCredentialsError",
    "AwsError",
    "AwsNotFound",
    "AwsRegionError",
    "AwsValidationError",
    "ConfigError",
    "DdbMigrateError",
    "ExportError",
    "ExportIntegrityError",
    "GlueError",
    "InvalidItemError",
    "InvalidKeyError",
    "LocalStackError",
    "MappingError",
    "ReplicationError",
    "SinkError",
    "SourceError",
    "VerifyMismatch",
]


class DdbMigrateError(Exception):
    """Base class: an error the user can act on. ``exit_code`` is what the CLI returns."""

    exit_code: int = 1


class ConfigError(DdbMigrateError):
    """A bad option, argument or configuration file (names the option or key at fault)."""

    exit_code = 2


class LocalStackError(DdbMigrateError):
    """The local stack (DynamoDB Local, moto) cannot be started, found or stopped."""

    exit_code = 3


class InvalidItemError(DdbMigrateError, ValueError):
    """A value that DynamoDB would reject (names the attribute path, never the value)."""


class InvalidKeyError(InvalidItemError):
    """An item's key attribute is missing or of the wrong type for the table's key schema."""


class ExportError(DdbMigrateError):
    """An export cannot be started, found, or read (names the export, file or field)."""

    exit_code = 4


class ExportIntegrityError(ExportError):
    """An export's files do not match its manifests (count, checksum, missing file)."""

    exit_code = 5


class MappingError(DdbMigrateError):
    """A mapping file or rule is invalid (names the file and rule)."""

    exit_code = 2


class SinkError(DdbMigrateError):
    """Writing to the target failed in a way retries cannot fix."""

    exit_code = 6


class SourceError(DdbMigrateError):
    """Reading the source table failed in a way retries cannot fix."""

    exit_code = 6


class GlueError(DdbMigrateError):
    """A Glue job or crawler cannot be deployed or started, or a run ended other than SUCCEEDED."""

    exit_code = 9


class VerifyMismatch(DdbMigrateError):
    """Source and target differ (the report says how)."""

    exit_code = 8


class AwsError(DdbMigrateError):
    """An AWS call failed for a reason the user can fix (see :mod:`ddbmigrate.awserrors`).

    Raised only at the edges (the CLI, the local job runner) from botocore's own exception, which
    library code keeps seeing unchanged; each message names the account, profile, region and
    resource, and the fix.
    """


class AwsCredentialsError(AwsError):
    """No, partial, expired or unrecognised credentials."""

    exit_code = 10


class AwsRegionError(AwsError):
    """No region configured, or a resource that lives in another region."""

    exit_code = 11


class AwsAccessDenied(AwsError):
    """The account's principal may not perform an action on a resource."""

    exit_code = 12


class AwsNotFound(AwsError):
    """A table, bucket, object, stream, export or role does not exist where it was looked for."""

    exit_code = 13


class AwsValidationError(AwsError):
    """AWS (or botocore, before sending) refused a request's parameters."""

    exit_code = 14


class AwsConnectionError(AwsError):
    """An endpoint could not be reached (network, proxy, or a local stack that is not running)."""

    exit_code = 15


class ReplicationError(DdbMigrateError):
    """Stream replication cannot go on without losing changes, or its input is not a stream record
    (names the stream, shard and sequence number, never a record's contents)."""

    exit_code = 16
