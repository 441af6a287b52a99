"""``awsglue.utils``: ``getResolvedOptions``, parsed exactly as Glue 5.0 parses job arguments.

Glue starts a job as ``script.py --JOB_ID j_… --JOB_RUN_ID jr_… --job-bookmark-option
job-bookmark-disable --TempDir s3://… --JOB_NAME name --your_arg value …`` and the script asks
for the arguments it needs by name. The rules, checked against Glue 5.0's Python source:

* Arguments are ``--name value`` or ``--name=value``; every requested name is **required**
  (a missing one raises :class:`GlueArgumentError`: ``the following arguments are required:
  --name``); arguments nobody asked for are ignored. Unambiguous abbreviations are accepted
  (``--tab`` for ``--table``) as in Glue 5.0 — Glue 6.0 refuses them unless
  ``allow_abbrev=True``; pass ``allow_abbrev=False`` to get 6.0's behaviour.
* Always returned, ``None`` when absent: ``JOB_ID``, ``JOB_RUN_ID``, ``SECURITY_CONFIGURATION``,
  ``encryption_type``, ``enable_data_lineage``, ``job_bookmark_from``, ``job_bookmark_to``,
  ``TempDir`` and ``RedshiftTempDir`` (each copied into the other when only one is given; asking
  for ``TempDir`` does not make it required). ``job_bookmark_option`` is always set: the given
  value, else the value of the legacy ``--continuation-option`` translated
  (``continuation-enabled`` → ``job-bookmark-enable`` …), else ``job-bookmark-disable``.
* Reserved: asking for ``job-bookmark-option``, ``continuation-option``, ``job-bookmark-from``
  or ``job-bookmark-to`` raises :class:`ReservedArgumentError` (a ``RuntimeError`` as in Glue);
  asking for ``JOB_ID``, ``JOB_RUN_ID``, ``SECURITY_CONFIGURATION``, ``encryption-type`` or
  ``enable-data-lineage`` fails in argparse with "conflicting option string", as in Glue.
* ``--job-bookmark-option job-bookmark-pause`` needs both ``--job-bookmark-from`` and
  ``--job-bookmark-to`` or neither; any other bookmark option with both given is an error.

Keys of the result are argparse destinations: dashes become underscores
(``--job-bookmark-option`` → ``job_bookmark_option``). Every value is a string (or ``None``).
"""

from __future__ import annotations

import argparse
import traceback
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NoReturn

from ddbmigrate.errors import ConfigError
from ddbmigrate.gluelocal.job import Job

__all__ = [
    "GlueArgumentError",
    "GlueArgumentParser",
    "ReservedArgumentError",
    "callsite",
    "getResolvedOptions",
    "iteritems",
    "iterkeys",
    "itervalues",
]

_global_args: dict[str, Any] = {}
"""Every argument resolved so far in this process (Glue keeps the same module-level dict)."""


class GlueArgumentError(ConfigError):
    """A job argument is missing or invalid (Glue's class of the same name; exit code 2 in our CLI)."""


class ReservedArgumentError(ConfigError, RuntimeError):
    """A script asked for an argument name Glue reserves, or bookmark range arguments are inconsistent.

    A ``RuntimeError`` too, because that is what Glue raises in these cases.
    """


class GlueArgumentParser(argparse.ArgumentParser):
    """argparse that raises :class:`GlueArgumentError` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise GlueArgumentError(message)


def _bookmark_name(option: str) -> str:
    return option[2:]


def getResolvedOptions(
    args: Sequence[str], options: Sequence[str], allow_abbrev: bool = True
) -> dict[str, Any]:
    """Resolve the job arguments ``options`` (names without ``--``) from ``args`` (``sys.argv``).

    ``args[0]`` is the script and is skipped. See the module docstring for the rules.
    """
    parser = GlueArgumentParser(allow_abbrev=allow_abbrev)
    bookmark, continuation = Job.job_bookmark_options(), Job.continuation_options()
    for reserved in (continuation[0], bookmark[0]):
        if _bookmark_name(reserved) in options:
            raise ReservedArgumentError(f"Using reserved arguments {_bookmark_name(reserved)}")
    parser.add_argument(bookmark[0], choices=bookmark[1:], required=False)
    parser.add_argument(continuation[0], choices=continuation[1:], required=False)
    for option in Job.job_bookmark_range_options():
        if _bookmark_name(option) in options:
            raise ReservedArgumentError(f"Using reserved arguments {option}")
        parser.add_argument(option, required=False)
    # Glue compares these with their leading dashes, so a script's plain name never matches here;
    # asking for one of them then collides in argparse below, exactly as on Glue.
    for option in Job.id_params()[1:]:
        if option in options:
            raise ReservedArgumentError(f"Using reserved arguments {option}")
        parser.add_argument(option, required=False)
    encryption = Job.encryption_type_options()
    if encryption[0] in options:
        raise ReservedArgumentError(f"Using reserved arguments {encryption[0]}")
    parser.add_argument(encryption[0], choices=encryption[1:])
    lineage = Job.data_lineage_options()[0]
    if lineage in options:
        raise ReservedArgumentError(f"Using reserved arguments {lineage}")
    parser.add_argument(lineage, required=False)

    temp_dirs = ("RedshiftTempDir", "TempDir")
    for name in temp_dirs:
        parser.add_argument(f"--{name}", required=False)
    for option in options:
        if option not in temp_dirs:
            parser.add_argument(f"--{option}", required=True)

    parsed, _unknown = parser.parse_known_args(list(args[1:]))
    resolved = vars(parsed)
    if resolved.get("TempDir") is not None:
        resolved["RedshiftTempDir"] = resolved["TempDir"]
    elif resolved.get("RedshiftTempDir") is not None:
        resolved["TempDir"] = resolved["RedshiftTempDir"]

    legacy = resolved.pop("continuation_option", None)
    if resolved.get("job_bookmark_option") is None:
        if legacy is None:
            resolved["job_bookmark_option"] = bookmark[3]
        else:
            resolved["job_bookmark_option"] = bookmark[continuation.index(legacy)]

    absent = [o for o in Job.job_bookmark_range_options() if resolved.get(o[2:].replace("-", "_")) is None]
    if resolved["job_bookmark_option"] == "job-bookmark-pause":
        if len(absent) == 1:
            raise ReservedArgumentError(f"Missing option or value for {absent[0]}")
    elif not absent:
        raise ReservedArgumentError("Invalid option(s)" + " ".join(Job.job_bookmark_range_options()))

    _global_args.update(resolved)
    return resolved


def callsite() -> str:
    """The caller's stack as text (Glue attaches it to errors)."""
    return "".join(traceback.format_list(traceback.extract_stack()[:-2]))


def iteritems(d: Mapping[Any, Any], **kwargs: Any) -> Iterator[tuple[Any, Any]]:
    return iter(d.items(**kwargs))


def iterkeys(d: Mapping[Any, Any], **kwargs: Any) -> Iterator[Any]:
    # Glue's Python 3 version iterates the values here; kept for scripts that rely on it.
    return iter(d.values(**kwargs))


def itervalues(d: Mapping[Any, Any], **kwargs: Any) -> Iterator[Any]:
    return iter(d.values(**kwargs))
