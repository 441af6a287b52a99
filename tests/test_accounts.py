"""Accounts against the local stack: profiles, assumed roles through moto's STS, refresh, pickling."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ddbmigrate.accounts import Account
from ddbmigrate.errors import ConfigError

pytestmark = pytest.mark.integration

TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "migration-4711"}},
            }
        ],
    }
)


@pytest.fixture
def role_arn(source: Account, unique_name: Callable[[str], str]) -> str:
    name = unique_name("migrator")[:60]
    role = source.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_POLICY)
    return str(role["Role"]["Arn"])


def test_profiles_reach_their_own_dynamodb(local_stack: Any, source: Account, target: Account,
                                           unique_name: Callable[[str], str]) -> None:
    name = unique_name("acct")
    source.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert source.client("dynamodb").meta.endpoint_url == local_stack.source_dynamodb
    assert target.client("dynamodb").meta.endpoint_url == local_stack.target_dynamodb
    assert name in source.client("dynamodb").list_tables()["TableNames"]
    assert name not in target.client("dynamodb").list_tables()["TableNames"]
    assert source.session().region_name == "eu-west-1" and target.session().region_name == "us-east-1"


def test_endpoint_url_overrides_dynamodb_only(local_stack: Any) -> None:
    account = Account(profile="target", endpoint_url=local_stack.source_dynamodb)
    assert account.client("dynamodb").meta.endpoint_url == local_stack.source_dynamodb
    assert account.client("s3").meta.endpoint_url == local_stack.s3


def test_role_credentials_come_from_assume_role(source: Account, role_arn: str) -> None:
    account = source.with_(role_arn=role_arn, external_id="migration-4711", session_name="ddbmigrate-verify")
    identity = account.client("sts").get_caller_identity()
    role_name = role_arn.rsplit("/", 1)[1]
    assert identity["Arn"] == f"arn:aws:sts::123456789012:assumed-role/{role_name}/ddbmigrate-verify"
    # the profile's own identity is a different principal
    assert "assumed-role" not in source.client("sts").get_caller_identity()["Arn"]
    # and the assumed role reaches the account's DynamoDB with those credentials
    assert "TableNames" in account.client("dynamodb").list_tables()


def test_assumed_role_credentials_refresh_when_expired(source: Account, role_arn: str) -> None:
    account = source.with_(role_arn=role_arn, external_id="migration-4711")
    session = account.session()
    credentials = session.get_credentials()

    # GIVEN an observable refresh function (the one Account installed, wrapped)
    calls: list[dict[str, str]] = []
    refresh = credentials._refresh_using

    def counting_refresh() -> dict[str, str]:
        result = refresh()
        calls.append(result)
        return result

    credentials._refresh_using = counting_refresh
    sts = session.client("sts")
    first_key = credentials.get_frozen_credentials().access_key
    assert sts.get_caller_identity()["Arn"].startswith("arn:aws:sts::123456789012:assumed-role/")
    assert len(calls) == 1
    expiry = datetime.fromisoformat(calls[0]["expiry_time"])
    assert expiry > datetime.now(timezone.utc) + timedelta(minutes=5)  # real STS expiry, not a stub

    # WHEN the credentials expire (as after an hour of a long copy)
    credentials._expiry_time = datetime.now(timezone.utc) - timedelta(seconds=1)

    # THEN the next call assumes the role again, with new keys, and still works
    identity = sts.get_caller_identity()
    assert len(calls) == 2
    assert credentials.get_frozen_credentials().access_key != first_key
    assert identity["Arn"].startswith("arn:aws:sts::123456789012:assumed-role/")
    # and fresh credentials are not refreshed again
    sts.get_caller_identity()
    assert len(calls) == 2


def test_account_is_picklable_and_equal_after(source: Account) -> None:
    account = source.with_(role_arn="arn:aws:iam::123456789012:role/r", external_id="migration-4711", region="eu-west-1")
    copy = pickle.loads(pickle.dumps(account))
    assert copy == account and copy.label == account.label
    assert hash(copy) == hash(account)
    # a clone built in another process works the same (no session state travels)
    assert copy.client("dynamodb", region_name="eu-west-1").meta.region_name == "eu-west-1"


def test_missing_profile_is_a_config_error_naming_it(local_stack: Any) -> None:
    account = Account(profile="no-such-profile", label="source")
    with pytest.raises(ConfigError, match="source: cannot use AWS profile 'no-such-profile'") as info:
        account.client("dynamodb")
    assert "AWS_CONFIG_FILE" in str(info.value)


def test_describe_never_shows_credentials(source: Account) -> None:
    text = source.with_(role_arn="arn:aws:iam::1:role/r", external_id="secret-ext").describe()
    assert "profile=source" in text and "role=arn:aws:iam::1:role/r" in text
    assert "secret-ext" not in text and "AKID" not in text


def test_sessions_share_one_service_model_loader(source: Account, target: Account, role_arn: str) -> None:
    """Every session of the process reads service models through one loader (creating a client cost
    50–240 ms of CPU with a loader of its own); each session still has its own profile and credentials,
    and the loader's search path does not grow with every session."""
    sessions = [source.session(), target.session(), source.with_(role_arn=role_arn).session()]
    loaders = {id(session._session.get_component("data_loader")) for session in sessions}
    assert len(loaders) == 1
    assert [s.profile_name for s in sessions] == ["source", "target", "source"]
    assert len({s.get_credentials().get_frozen_credentials().access_key for s in sessions}) == 3
    paths = sessions[0]._session.get_component("data_loader").search_paths
    before = len(paths)
    for _ in range(5):
        target.client("dynamodb")
    assert len(paths) <= before + 1
    assert len(paths) - len(set(paths)) <= 1
