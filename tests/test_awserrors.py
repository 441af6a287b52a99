"""AWS failures a user can cause end as one line and their own exit code.

The first half is the pure translation (botocore exceptions built by hand: they are data). The
second runs the real ``ddbmigrate`` command against the local stack, or against a stack set up to
provoke the failure: an empty AWS config (no credentials, no region), a closed loopback port, and a
loopback server that answers every request with AWS's own error body for the two failures no local
component produces (access denied, an expired token).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
    SSOTokenLoadError,
    TokenRetrievalError,
)
from botocore.stub import Stubber

from ddbmigrate import accounts
from ddbmigrate.accounts import Account
from ddbmigrate.awserrors import CALL_ATTRIBUTE, AwsCall, aws_error, edge_error, translate
from ddbmigrate.cli.main import main
from ddbmigrate.errors import (
    AwsAccessDenied,
    AwsConnectionError,
    AwsCredentialsError,
    AwsNotFound,
    AwsRegionError,
    AwsValidationError,
    ConfigError,
    DdbMigrateError,
    ExportIntegrityError,
)

SOURCE = Account(profile="prod-src", label="source", option_prefix="--source-")
NOBODY = Account(label="bucket owner (target account)", option_prefix="--")
EXIT_CODES = {AwsCredentialsError: 10, AwsRegionError: 11, AwsAccessDenied: 12, AwsNotFound: 13,
              AwsValidationError: 14, AwsConnectionError: 15}


def client_error(code: str, message: str = "", operation: str = "DescribeTable") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def describe(account: Account = SOURCE, operation: str = "DescribeTable", resource: str = "table 'orders'") -> AwsCall:
    return AwsCall(account, "dynamodb", operation, resource, "eu-west-1", "https://dynamodb.eu-west-1.amazonaws.com")


# ------------------------------------------------------------------------------------ pure


def test_exit_codes_are_distinct_and_new() -> None:
    from ddbmigrate import errors

    others = {cls.exit_code for cls in vars(errors).values()
              if isinstance(cls, type) and issubclass(cls, DdbMigrateError) and cls not in EXIT_CODES}
    assert {cls.exit_code for cls in EXIT_CODES} == set(EXIT_CODES.values())
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES) and not others & set(EXIT_CODES.values())


@pytest.mark.parametrize(("exc", "cls", "words"), [
    (NoCredentialsError(), AwsCredentialsError, ["profile 'prod-src' has no credentials", "aws sso login --profile prod-src"]),
    (PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"), AwsCredentialsError,
     ["add AWS_SECRET_ACCESS_KEY"]),
    (TokenRetrievalError(provider="sso", error_msg="expired"), AwsCredentialsError, ["aws sso login --profile prod-src"]),
    (SSOTokenLoadError(error_msg="no token"), AwsCredentialsError, ["aws sso login --profile prod-src"]),
    (client_error("ExpiredTokenException", "The security token included in the request is expired"),
     AwsCredentialsError, ["credentials have expired", "dynamodb:DescribeTable on table 'orders'", "aws sso login"]),
    (client_error("ExpiredToken", "The provided token has expired."), AwsCredentialsError, ["expired"]),
    (client_error("RequestExpired"), AwsCredentialsError, ["expired"]),
    (client_error("UnrecognizedClientException", "The security token included in the request is invalid."),
     AwsCredentialsError, ["does not accept these credentials", "aws configure --profile prod-src"]),
    (client_error("InvalidClientTokenId"), AwsCredentialsError, ["does not accept"]),
    (client_error("InvalidAccessKeyId"), AwsCredentialsError, ["does not accept"]),
    (client_error("SignatureDoesNotMatch"), AwsCredentialsError, ["does not accept"]),
    (client_error("AccessDeniedException", "User: arn:aws:iam::1:user/u is not authorized"), AwsAccessDenied,
     ["access denied to dynamodb:DescribeTable on table 'orders'", "ddbmigrate policies"]),
    (client_error("AccessDenied", "Access Denied"), AwsAccessDenied, ["access denied"]),
    (client_error("ResourceNotFoundException", "Requested resource not found"), AwsNotFound,
     ["table 'orders' not found", "region eu-west-1", "profile prod-src"]),
    (client_error("NoSuchBucket"), AwsNotFound, ["not found"]),
    (client_error("NoSuchKey"), AwsNotFound, ["not found"]),
    (client_error("ValidationException", "1 validation error detected"), AwsValidationError,
     ["AWS refused dynamodb:DescribeTable", "1 validation error detected"]),
    (client_error("AuthorizationHeaderMalformed", "the region 'us-east-1' is wrong; expecting 'eu-west-1'"),
     AwsRegionError, ["--source-region"]),
    (NoRegionError(), AwsRegionError, ["profile 'prod-src' has no region", "--source-region", "AWS_DEFAULT_REGION"]),
    (EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com/"), AwsConnectionError,
     ["cannot reach https://dynamodb.eu-west-1.amazonaws.com/", "network"]),
    (EndpointConnectionError(endpoint_url="http://127.0.0.1:8000/"), AwsConnectionError,
     ["ddbmigrate local up", "source .stack/env"]),
    (ReadTimeoutError(endpoint_url="https://x/"), AwsConnectionError, ["cannot reach https://x/"]),
])
def test_translation_names_account_region_resource_and_fix(exc: Exception, cls: type, words: list[str]) -> None:
    error = translate(exc, describe())
    assert type(error) is cls and error.exit_code == EXIT_CODES[cls]
    message = str(error)
    assert message.startswith("source [profile prod-src, region eu-west-1]") or cls is AwsRegionError
    assert "\n" not in message
    for word in words:
        assert word in message


def test_no_profile_names_the_option_and_the_account_that_owns_the_bucket() -> None:
    call = AwsCall(NOBODY, "s3", "GetObject", "s3://exports/p/manifest-summary.json", "us-east-1", None)
    message = str(translate(NoCredentialsError(), call))
    assert message.startswith("bucket owner (target account) [no profile, region us-east-1]: no AWS credentials")
    assert message.endswith("Pass --profile with a profile of the bucket owner (target account)")


def test_param_validation_never_quotes_values() -> None:
    report = ("Invalid type for parameter Item.card.S, value: 4111-1111-1111-1111, type: <class 'int'>, "
              "valid types: <class 'str'>\nInvalid length for parameter TableName, value: 1, valid min length: 3")
    message = str(translate(ParamValidationError(report=report), describe(operation="PutItem")))
    assert "4111" not in message and "value:" not in message
    assert "Item.card.S" in message and "TableName" in message and "valid min length: 3" in message


def test_unknown_failures_and_bugs_keep_their_traceback() -> None:
    assert translate(client_error("ProvisionedThroughputExceededException"), describe()) is None
    assert translate(client_error("InternalServerError"), describe()) is None
    assert aws_error(KeyError("Table")) is None and edge_error(KeyError("Table")) is None


def test_without_context_the_message_still_says_what_to_do() -> None:
    message = str(translate(NoCredentialsError()))
    assert message.startswith("AWS [no profile]: no AWS credentials") and "profile" in message


def test_library_errors_raised_from_aws_failures() -> None:
    def raised(error: DdbMigrateError, cause: BaseException) -> DdbMigrateError:
        try:
            try:
                raise cause
            except Exception:
                raise error from None
        except DdbMigrateError as exc:
            return exc

    # a generic library error keeps its message (it names the option) and takes the AWS exit code
    missing = client_error("ResourceNotFoundException")
    setattr(missing, CALL_ATTRIBUTE, describe())
    edge = edge_error(raised(ConfigError("--source-table: table 'orders' not found"), missing))
    assert type(edge) is AwsNotFound and str(edge) == "--source-table: table 'orders' not found"
    # a specific library class stays itself
    integrity = ExportIntegrityError("s3://b/k: data file listed in manifest-files.json is missing")
    assert edge_error(raised(integrity, client_error("NoSuchKey"))) is integrity
    # an account failure is replaced: the library could only say "failed (ExpiredToken)"
    edge = edge_error(raised(ConfigError("DescribeTable failed (ExpiredTokenException)"),
                             client_error("ExpiredTokenException")))
    assert type(edge) is AwsCredentialsError and "expired" in str(edge)
    # a library message that only relays AWS's code is replaced by the AWS one
    denied = client_error("AccessDeniedException", "User: u is not authorized")
    setattr(denied, CALL_ATTRIBUTE, describe())
    edge = edge_error(raised(ConfigError("--table: DescribeTable 'orders' failed (AccessDeniedException)"), denied))
    assert type(edge) is AwsAccessDenied and str(edge).startswith("source [profile prod-src, region eu-west-1]")
    # not raised from AWS: unchanged
    plain = ConfigError("--segments: 0")
    assert edge_error(plain) is plain


def test_annotation_keeps_the_exception_object_and_type() -> None:
    """Botocore's Stubber: the point is the wrapper around a call, not any service behaviour."""
    client = Account(region="eu-west-1", label="source").client("dynamodb", endpoint_url="http://127.0.0.1:9")
    stubber = Stubber(client)
    stubber.add_client_error("describe_table", "ResourceNotFoundException", "Requested resource not found")
    with stubber, pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        client.describe_table(TableName="orders")
    call = getattr(caught.value, CALL_ATTRIBUTE)
    assert (call.service, call.operation, call.resource, call.region) == ("dynamodb", "DescribeTable",
                                                                          "table 'orders'", "eu-west-1")
    assert call.account.label == "source"


def test_item_values_never_become_the_resource() -> None:
    from ddbmigrate.awserrors import resource_of

    assert resource_of("dynamodb", {"TableName": "t", "Key": {"pk": {"S": "secret"}}}) == "table 't'"
    assert resource_of("dynamodb", {"RequestItems": {"b": [], "a": []}}) == "table 'a', 'b'"
    assert resource_of("s3", {"Bucket": "bk", "Key": "p/manifest-summary.json"}) == "s3://bk/p/manifest-summary.json"
    assert resource_of("dynamodb", {"Item": {"pk": {"S": "secret"}}}) is None


# ------------------------------------------------------------------------------------ CLI


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("ddbmigrate: error: ")
    return lines[0]


@pytest.fixture
def bare_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No profiles, no keys, no region: what a new user's shell has."""
    config = tmp_path / "aws-config"
    config.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    return config


EXPORT = "AWSDynamoDB/01700000000000-0a1b2c3d/"


def test_cli_no_credentials_says_which_accounts_profile(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                        bare_environment: Path) -> None:
    code, err = run(capsys, "mapping", "generate", "--export", f"s3://exports-bkt/p/{EXPORT}",
                    "--out", str(tmp_path / "f.json"), "--region", "us-east-1")
    line = one_line(err)
    assert code == 10
    assert "bucket owner (target account) [no profile, region us-east-1]: no AWS credentials found" in line
    assert line.endswith("Pass --profile with a profile of the bucket owner (target account)")


def test_cli_no_region_names_the_side_and_three_fixes(capsys: pytest.CaptureFixture[str],
                                                      bare_environment: Path) -> None:
    code, err = run(capsys, "verify", "--source-table", "a", "--target-table", "b")
    assert code == 11
    assert one_line(err) == ("ddbmigrate: error: source: no AWS region for dynamodb (no profile given). Pass "
                             "--source-region, set 'region' in the profile, or set AWS_DEFAULT_REGION")


@pytest.mark.integration
def test_cli_missing_table(capsys: pytest.CaptureFixture[str], local_stack: Any) -> None:
    code, err = run(capsys, "verify", "--source-table", "no-such-table", "--target-table", "no-such-table",
                    "--source-profile", "source", "--target-profile", "target")
    assert code == 13
    assert "--source-table: table 'no-such-table' not found in source (profile=source" in one_line(err)


@pytest.mark.integration
def test_cli_missing_bucket(capsys: pytest.CaptureFixture[str], local_stack: Any, tmp_path: Path) -> None:
    code, err = run(capsys, "crawl", f"s3://no-such-bucket-4711/p/{EXPORT}", "--out", str(tmp_path / "s.json"),
                    "--profile", "target")
    assert code == 13
    assert one_line(err) == (f"ddbmigrate: error: s3://no-such-bucket-4711/p/{EXPORT}manifest-summary.json: "
                             "the bucket does not exist (check the bucket name)")


@pytest.mark.integration
def test_cli_value_dynamodb_local_refuses(capsys: pytest.CaptureFixture[str], local_stack: Any) -> None:
    """botocore checks only a name's length; DynamoDB Local refuses the characters (ValidationException)."""
    code, err = run(capsys, "estimate", "--table", "bad name!", "--profile", "source")
    line = one_line(err)
    assert code == 14
    assert line.startswith("ddbmigrate: error: source [profile source, region eu-west-1]: AWS refused "
                           "dynamodb:DescribeTable on table 'bad name!' (AWS: ValidationException: ")
    assert "may contain only the characters" in line and line.endswith("Check the option or file that gave it")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.integration
def test_cli_unreachable_endpoint(capsys: pytest.CaptureFixture[str], local_stack: Any,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # one attempt: botocore's backoff over ten attempts is not what this test is about
    monkeypatch.setitem(accounts._DEFAULT_RETRIES, "max_attempts", 1)
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    code, err = run(capsys, "verify", "--source-table", "orders", "--target-table", "orders",
                    "--source-profile", "source", "--source-endpoint-url", endpoint, "--target-profile", "target")
    line = one_line(err)
    assert code == 15
    assert line.startswith("ddbmigrate: error: source [profile source, region eu-west-1]: cannot reach "
                           f"{endpoint}/ for dynamodb:DescribeTable on table 'orders' (EndpointConnectionError)")
    assert "ddbmigrate local up" in line


class _AwsErrorServer:
    """A loopback endpoint that answers every request with one DynamoDB error, byte for byte AWS's shape."""

    def __init__(self, code: str, message_key: str, message: str) -> None:
        body = json.dumps({"__type": f"com.amazon.coral.service#{code}", message_key: message}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(400)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("x-amzn-RequestId", "LOCALTESTREQUEST0000000000000000000000000000000000")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _AwsErrorServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def denied() -> Iterator[_AwsErrorServer]:
    message = ("User: arn:aws:sts::123456789012:assumed-role/migrator/ddbmigrate is not authorized to perform: "
               "dynamodb:DescribeTable on resource: arn:aws:dynamodb:eu-west-1:123456789012:table/orders because no "
               "identity-based policy allows the dynamodb:DescribeTable action")
    with _AwsErrorServer("AccessDeniedException", "Message", message) as server:
        yield server


@pytest.fixture
def expired() -> Iterator[_AwsErrorServer]:
    with _AwsErrorServer("ExpiredTokenException", "message",
                         "The security token included in the request is expired") as server:
        yield server


@pytest.mark.integration
def test_cli_access_denied(capsys: pytest.CaptureFixture[str], local_stack: Any, denied: _AwsErrorServer) -> None:
    code, err = run(capsys, "verify", "--source-table", "orders", "--target-table", "orders",
                    "--source-profile", "source", "--source-endpoint-url", denied.endpoint, "--target-profile", "target")
    line = one_line(err)
    assert code == 12
    assert line.startswith("ddbmigrate: error: source [profile source, region eu-west-1]: access denied to "
                           "dynamodb:DescribeTable on table 'orders' (AWS: AccessDeniedException: User: arn:aws:sts::")
    assert line.endswith("Fix: grant it to the principal of the source account ('ddbmigrate policies --help' "
                         "prints the policies each principal needs)")


@pytest.mark.integration
def test_cli_expired_token(capsys: pytest.CaptureFixture[str], local_stack: Any, expired: _AwsErrorServer) -> None:
    code, err = run(capsys, "verify", "--source-table", "orders", "--target-table", "orders",
                    "--source-profile", "source", "--source-endpoint-url", expired.endpoint, "--target-profile", "target")
    line = one_line(err)
    assert code == 10
    assert line.startswith("ddbmigrate: error: source [profile source, region eu-west-1]: the credentials have "
                           "expired, calling dynamodb:DescribeTable on table 'orders' (AWS: ExpiredTokenException")
    assert line.endswith("Fix: log in again (aws sso login --profile source) or renew the profile's session token")


@pytest.mark.integration
def test_job_script_run_locally_ends_in_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                 spark: Any) -> None:
    from ddbmigrate.gluelocal.runner import run_script

    script = tmp_path / "describe_job.py"
    script.write_text("from ddbmigrate.accounts import Account\n"
                      "Account(profile='source', label='source').client('dynamodb')"
                      ".describe_table(TableName='no-such-table')\n")
    code = run_script(script, [], spark=spark)
    err = capsys.readouterr().err
    assert code == 13 and "Traceback" not in err
    assert err.strip().splitlines() == [
        "describe_job.py: error: source [profile source, region eu-west-1]: table 'no-such-table' not found, calling "
        "dynamodb:DescribeTable (AWS: ResourceNotFoundException: Cannot do operations on a non-existent table). "
        "Check the name, and that this profile and region are the account and region that hold it"]


def test_readme_exit_codes_match_the_classes() -> None:
    """The README's table is the one place users read the codes: it must say what the classes do."""
    import re

    from ddbmigrate import errors

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    listed = {name: int(code) for code, names in re.findall(r"^\| (\d+) \| ([^|]+) \|", table, re.MULTILINE)
              for name in re.findall(r"`(\w+)`", names)}
    classes = {name: cls.exit_code for name, cls in vars(errors).items()
               if isinstance(cls, type) and issubclass(cls, errors.DdbMigrateError) and name != "AwsError"}
    assert listed == classes
