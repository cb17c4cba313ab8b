"""One mapping of AWS errors to transient/terminal (adapters/aws_errors.py), pinned for every code the
adapters' former lists (shared, KMS, SNS) named, and for HTTP status alone."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ReadTimeoutError

from aurora_sync.adapters.aws_errors import TRANSIENT_CODES, classify, is_transient
from aurora_sync.adapters.sns import AlertPublisher
from aurora_sync.alerts import Alert, Severity
from aurora_sync.errors import TerminalError, TransientError

SHARED = {
    "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "SlowDown", "InternalError", "InternalFailure", "ServiceUnavailable",
    "RequestTimeout", "RequestTimeoutException",
}  # fmt: skip
KMS = {
    "DependencyTimeoutException", "KMSInternalException", "KeyUnavailableException",
    "ThrottlingException", "Throttling", "RequestLimitExceeded", "ServiceUnavailable", "InternalFailure",
}  # fmt: skip
SNS = {"Throttling", "ThrottledException", "InternalError", "ServiceUnavailable"}
# Codes the adapters treat as terminal (or handle themselves before classifying).
TERMINAL = [
    "AccessDeniedException", "InvalidCiphertextException", "IncorrectKeyException", "DisabledException",
    "KMSInvalidStateException", "NotFoundException", "AuthorizationError", "InvalidParameter",
    "NotFound", "ParameterNotFound", "NoSuchKey", "NoSuchBucket", "AccessDenied",
    "ConditionalCheckFailedException", "ValidationException", "ResourceNotFoundException", "",
]  # fmt: skip


def client_error(code: str, status: int = 400) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "nope"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "Call")


def test_the_one_list_is_the_union_of_the_old_ones() -> None:
    assert TRANSIENT_CODES == SHARED | KMS | SNS


@pytest.mark.parametrize("code", sorted(SHARED | KMS | SNS))
def test_every_formerly_transient_code_is_transient(code: str) -> None:
    error = client_error(code, 400)
    assert is_transient(error)
    assert isinstance(classify(error, "x:Call"), TransientError)


@pytest.mark.parametrize("code", TERMINAL)
def test_other_codes_are_terminal_below_500(code: str) -> None:
    error = client_error(code, 400)
    assert not is_transient(error)
    assert isinstance(classify(error, "x:Call"), TerminalError)


@pytest.mark.parametrize(
    ("status", "transient"),
    [(500, True), (502, True), (503, True), (400, False), (403, False), (404, False), (0, False)],
)
def test_a_5xx_status_is_transient_whatever_the_code(status: int, transient: bool) -> None:
    error = client_error("SomethingNew", status)
    assert is_transient(error) is transient
    assert isinstance(classify(error, "x:Call"), TransientError if transient else TerminalError)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (EndpointConnectionError(endpoint_url="https://sns.us-east-1.amazonaws.com"), True),
        (ReadTimeoutError(endpoint_url="https://kms.us-east-1.amazonaws.com"), True),
        (NoCredentialsError(), True),
        (ValueError("not an AWS error"), False),
    ],
)
def test_no_answer_is_transient_and_foreign_errors_terminal(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient
    assert isinstance(classify(error, "x:Call"), TransientError if transient else TerminalError)


def test_classify_names_the_action_code_and_message() -> None:
    assert str(classify(client_error("AccessDenied", 403), "s3:GetObject s3://b/k")) == (
        "s3:GetObject s3://b/k failed: AccessDenied: nope"
    )
    assert (
        str(classify(client_error("", 503), "ssm:GetParameter /p")) == "ssm:GetParameter /p failed: 503: nope"
    )


class FailingSns:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def publish(self, **kwargs: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(
    ("error", "expected", "message"),
    [
        (
            client_error("ThrottledException"),
            TransientError,
            "SNS publish throttled/unavailable: ThrottledException",
        ),
        (
            client_error("InternalError", 500),
            TransientError,
            "SNS publish throttled/unavailable: InternalError",
        ),
        (
            client_error("AuthorizationError", 403),
            TerminalError,
            "SNS publish to arn:topic failed: AuthorizationError",
        ),
        (EndpointConnectionError(endpoint_url="https://sns"), TransientError, "SNS publish failed: "),
    ],
)
def test_sns_publish_errors_use_the_one_mapping(
    error: Exception, expected: type[Exception], message: str
) -> None:
    publisher = AlertPublisher(FailingSns(error), "arn:topic", "https://runbook.example")
    with pytest.raises(expected) as caught:
        publisher.publish(Alert(Severity.P2, "loads", "public.orders", "1 file"))
    assert type(caught.value) is expected and str(caught.value).startswith(message)
