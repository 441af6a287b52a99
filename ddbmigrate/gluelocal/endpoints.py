"""Which account (and so which endpoint) a Glue DynamoDB option set reaches in a local run.

On AWS a request goes to the region's endpoint and the credentials decide the account. Locally
each account is a profile whose config file names its endpoints (the local stack: ``source`` and
``target``, two DynamoDB Local processes), so a script's options must pick a *profile*:

1. ``DDBMIGRATE_GLUELOCAL_ACCOUNTS`` (local only), e.g. ``111122223333=source,eu-west-1=source,
   us-east-1=target``: the account id of ``dynamodb.sts.roleArn`` (or of a table ARN) is looked up
   first, then ``dynamodb.region``; the entry found names the profile whose endpoints are used;
2. otherwise the run's own account: the ``GlueContext(account=…)`` option, else ``AWS_PROFILE``.

On top of that profile the options apply as on Glue: the region, the role (assumed through that
profile's STS endpoint) and explicit credentials.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace

from ddbmigrate.accounts import Account
from ddbmigrate.errors import ConfigError

__all__ = ["ACCOUNTS_VARIABLE", "account_profiles", "read_account", "resolve_account"]

ACCOUNTS_VARIABLE = "DDBMIGRATE_GLUELOCAL_ACCOUNTS"


def account_profiles(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``DDBMIGRATE_GLUELOCAL_ACCOUNTS`` parsed: account id or region → profile."""
    text = (os.environ if environ is None else environ).get(ACCOUNTS_VARIABLE, "")
    found: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        key, eq, profile = entry.partition("=")
        if not eq or not key.strip() or not profile.strip():
            raise ConfigError(f"{ACCOUNTS_VARIABLE}: {entry!r} is not ACCOUNT_ID=PROFILE or REGION=PROFILE")
        found[key.strip()] = profile.strip()
    return found


def _account_id(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" and parts[4] else None


def resolve_account(
    base: Account, *, region: str | None = None, role_arn: str | None = None, table_arn: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Account:
    """The profile the options name (module docstring), or ``base``; options are applied by the caller."""
    profiles = account_profiles(environ)
    for key in (_account_id(role_arn), _account_id(table_arn), region):
        if key and key in profiles:
            return replace(base, profile=profiles[key], endpoint_url=None)
    return base


def read_account(
    base: Account, *, region: str | None, role_arn: str | None, session_name: str, table_arn: str, label: str,
) -> Account:
    """The account a DynamoDB source reads with: the profile its options name, then their region and role."""
    account = resolve_account(base, region=region, role_arn=role_arn, table_arn=table_arn)
    return replace(account, region=region or account.region, role_arn=role_arn or account.role_arn,
                   session_name=session_name if role_arn else account.session_name, label=label)
