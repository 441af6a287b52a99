"""Glue job arguments → options: typed, defaulted as Glue does, errors naming the argument."""

from __future__ import annotations

import pytest

from ddbmigrate.bulk import ExportImportOptions
from ddbmigrate.errors import ConfigError
from ddbmigrate.jobargs import JobArgs

EXPORT_ARGS = {"JOB_NAME": "j", "export_uri": "s3://b/p/AWSDynamoDB/01234567890123-abcdef12/", "mapping": "m.json",
               "target_table": "Orders"}


def test_empty_values_are_absent_as_glue_passes_unset_defaults() -> None:
    args = JobArgs({"a": "", "b": "None", "c": "7", "d": "x"})
    assert (args.text("a"), args.text("b"), args.text("missing"), args.integer("c")) == (None, None, None, 7)
    with pytest.raises(ConfigError, match=r"--d: expected a whole number, got 'x'"):
        args.integer("d")
    with pytest.raises(ConfigError, match=r"--a is required"):
        args.required("a")
    with pytest.raises(ConfigError, match=r"--d: expected true or false, got 'x'"):
        args.flag("d")


def test_account_of_a_side_takes_every_credential_argument() -> None:
    account = JobArgs({"source_region": "eu-west-1", "source_role_arn": "arn:aws:iam::1:role/r",
                       "source_external_id": "e", "source_endpoint_url": "http://127.0.0.1:1"}).account("source")
    assert (account.region, account.role_arn, account.external_id, account.endpoint_url, account.label) == (
        "eu-west-1", "arn:aws:iam::1:role/r", "e", "http://127.0.0.1:1", "source")


def test_export_import_arguments_default_as_glue_and_name_what_is_wrong() -> None:
    options = ExportImportOptions.from_job_args({**EXPORT_ARGS, "target_role_arn": "arn:aws:iam::1:role/w"})
    assert (options.write_percent, options.write_capacity, options.max_retries) == (0.5, None, 10)
    assert (options.requests_in_flight, options.apply_mapping) == (2, "auto")
    assert ExportImportOptions.from_job_args({**EXPORT_ARGS, "requests_in_flight": "4"}).requests_in_flight == 4
    assert ExportImportOptions.from_job_args({**EXPORT_ARGS, "max_retries": "0"}).max_retries == 0  # not the default 10
    with pytest.raises(ConfigError, match=r"--apply_mapping must be one of auto, always; got 'sometimes'"):
        ExportImportOptions.from_job_args({**EXPORT_ARGS, "apply_mapping": "sometimes"})
    with pytest.raises(ConfigError, match=r"--requests_in_flight: expected a whole number"):
        ExportImportOptions.from_job_args({**EXPORT_ARGS, "requests_in_flight": "many"})
    with pytest.raises(ConfigError, match=r"--requests_in_flight must be at least 1, got 0"):  # not the default in its place
        ExportImportOptions.from_job_args({**EXPORT_ARGS, "requests_in_flight": "0"})
    assert options.target.role_arn == "arn:aws:iam::1:role/w" and options.target.label == "target"
    with pytest.raises(ConfigError, match=r"--write_capacity: expected a whole number"):
        ExportImportOptions.from_job_args({**EXPORT_ARGS, "write_capacity": "lots"})
    with pytest.raises(ConfigError, match=r"--export_uri is required"):
        ExportImportOptions.from_job_args({**EXPORT_ARGS, "export_uri": ""})
    with pytest.raises(ConfigError, match=r"--write_percent"):
        ExportImportOptions.from_job_args({**EXPORT_ARGS, "write_percent": "1.6"})
