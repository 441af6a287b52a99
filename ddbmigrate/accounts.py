"""How to reach one AWS account: profile, region, endpoint, role to assume — with credentials
that refresh, so that a job may run for days.

An :class:`Account` is a small frozen, picklable value: Spark ships it to executors and each
executor builds its own boto3 session from it (boto3 sessions are neither picklable nor
thread-safe to share). With ``role_arn`` set, credentials come from ``sts:AssumeRole`` (with the
external id when given) through botocore's ``RefreshableCredentials``: botocore calls our refresh
function again shortly before the credentials expire — the fix for the one-hour limit of
once-fetched assumed-role credentials that caps naive cross-account copies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import botocore.config
import botocore.loaders
import botocore.session
from botocore.credentials import DeferredRefreshableCredentials
from botocore.exceptions import NoRegionError

from ddbmigrate.awserrors import annotate_client, no_region_error
from ddbmigrate.errors import ConfigError

__all__ = ["Account", "client_config"]

_DEFAULT_RETRIES = {"max_attempts": 10, "mode": "adaptive"}


def client_config(
    *, max_pool_connections: int = 32, retries: dict[str, Any] | None = None, parameter_validation: bool = True,
) -> botocore.config.Config:
    """The botocore client config we use everywhere: adaptive retries, enough pooled connections.

    ``parameter_validation=False`` is for callers that validate every request themselves (the
    sink checks each item before it is batched), where botocore's second pass only costs CPU.
    """
    return botocore.config.Config(
        parameter_validation=parameter_validation,
        retries=retries or dict(_DEFAULT_RETRIES),
        max_pool_connections=max_pool_connections,
        connect_timeout=10,
        read_timeout=60,
        tcp_keepalive=True,
    )


_SHARED_LOADER: list[botocore.loaders.Loader] = []
"""This process's one botocore data loader (created on first use): every session shares it."""


def _botocore_session(profile: str | None = None) -> botocore.session.Session:
    """A new botocore session that reads service models through this process's one loader.

    Each session otherwise gets a loader of its own and parses the service's model, endpoint rules
    and partitions from disk again: 50–240 ms of CPU per client against ~13 ms with a shared loader
    (bench/README.md), paid by every task for every client it makes. The models do not depend on
    the profile or credentials, and the loader's cache only ever adds parsed files.
    """
    core = botocore.session.Session(profile=profile)
    core.get_scoped_config()  # a missing profile fails here, as creating a loader of its own made it do
    if not _SHARED_LOADER:
        _SHARED_LOADER.append(core.get_component("data_loader"))
    loader = _SHARED_LOADER[0]
    core.register_component("data_loader", loader)
    # boto3.Session appends its own data folder to the loader's search path each time: keep it from growing
    paths = loader.search_paths
    paths[:] = list(dict.fromkeys(paths))
    return core


@dataclass(frozen=True)
class Account:
    """One side of a migration (``source`` or ``target``).

    Every field is optional: ``Account()`` is "whatever the default credential chain gives".
    ``endpoint_url`` overrides the DynamoDB endpoint only (the local stack sets per-service
    endpoints in its AWS config file instead, which covers S3 and STS too). ``option_prefix`` is how
    the CLI spells this account's options (``--source-``, ``--``), so that an AWS error can name
    the option to pass.
    """

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    session_name: str = "ddbmigrate"
    access_key_id: str | None = field(default=None, repr=False)
    """Explicit credentials (as Glue's ``dynamodb.awsAccessKeyId`` passes them); else the profile's chain."""
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    label: str = field(default="account", compare=False)
    option_prefix: str | None = field(default=None, compare=False)

    @classmethod
    def from_options(cls, prefix: str, options: dict[str, Any], *, label: str | None = None) -> Account:
        """Build from ``{prefix}_profile``, ``{prefix}_region``, ``{prefix}_role_arn`` … keys."""

        def get(name: str) -> str | None:
            value = options.get(f"{prefix}_{name}")
            return value or None

        return cls(
            profile=get("profile"),
            region=get("region"),
            endpoint_url=get("endpoint_url") or get("endpoint"),
            role_arn=get("role_arn"),
            external_id=get("external_id"),
            label=label or prefix,
            option_prefix=f"--{prefix.replace('_', '-')}-",
        )

    def with_(self, **changes: Any) -> Account:
        return replace(self, **changes)

    def without_role(self, *, label: str) -> Account:
        """The same profile and region with no role assumed: the job's own identity in that account.

        On Glue that is the job's role (the default credentials). Whatever the job itself stores — dead
        letters, reads of its own bucket — goes through it, never through a role the job assumed only
        to reach another account's table (``policies target-role`` grants that role DynamoDB alone).
        """
        return replace(self, role_arn=None, external_id=None, label=label)

    def session(self) -> boto3.Session:
        """A new boto3 session for this account (assumed-role credentials refresh themselves)."""
        try:
            base = boto3.Session(botocore_session=_botocore_session(self.profile), profile_name=self.profile, region_name=self.region,
                                 aws_access_key_id=self.access_key_id, aws_secret_access_key=self.secret_access_key,
                                 aws_session_token=self.session_token)
        except Exception as exc:  # botocore.exceptions.ProfileNotFound and friends
            raise ConfigError(
                f"{self.label}: cannot use AWS profile {self.profile!r} ({exc}). "
                f"Check AWS_CONFIG_FILE={os.environ.get('AWS_CONFIG_FILE', '~/.aws/config')}"
            ) from None
        if not self.role_arn:
            return base
        return self._assumed_role_session(base)

    def _assumed_role_session(self, base: boto3.Session) -> boto3.Session:
        sts = self._annotated(base, "sts", region_name=self.region or base.region_name)
        role_arn, external_id, session_name = self.role_arn, self.external_id, self.session_name

        def refresh() -> dict[str, str]:
            kwargs: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name}
            if external_id:
                kwargs["ExternalId"] = external_id
            creds = sts.assume_role(**kwargs)["Credentials"]
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": creds["Expiration"].isoformat(),
            }

        core = _botocore_session(self.profile)
        core._credentials = DeferredRefreshableCredentials(refresh_using=refresh, method="sts-assume-role")
        return boto3.Session(botocore_session=core, region_name=self.region or base.region_name)

    def client(self, service: str, **kwargs: Any) -> Any:
        """A client for ``service``; DynamoDB honours ``endpoint_url`` when set.

        A failing call's exception carries this account and the call (:mod:`ddbmigrate.awserrors`),
        so the CLI can name the profile, region and resource; its type is botocore's, unchanged.
        """
        if self.endpoint_url and service in ("dynamodb", "dynamodbstreams") and "endpoint_url" not in kwargs:
            kwargs["endpoint_url"] = self.endpoint_url
        kwargs.setdefault("config", client_config())
        return self._annotated(self.session(), service, **kwargs)

    def _annotated(self, session: boto3.Session, service: str, **kwargs: Any) -> Any:
        try:
            client = session.client(service, **kwargs)
        except NoRegionError:
            raise no_region_error(self, service) from None
        return annotate_client(client, self)

    def describe(self) -> str:
        """Human summary for logs (never credentials)."""
        parts = [f"profile={self.profile}" if self.profile else "default credentials"]
        if self.access_key_id:
            parts.append("explicit credentials")
        if self.region:
            parts.append(f"region={self.region}")
        if self.role_arn:
            parts.append(f"role={self.role_arn}")
        return f"{self.label} ({', '.join(parts)})"
