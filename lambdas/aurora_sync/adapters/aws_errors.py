"""One mapping of AWS client errors to transient/terminal, shared by every AWS adapter (SSM, S3,
DynamoDB, KMS, SNS). Adapters shape their own messages; whether a retry can help is decided here.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from aurora_sync.errors import SyncError, TerminalError, TransientError

# Throttling, service-side failures and timeouts, across the services we call. Any other code is a
# request that will fail again unchanged (denied, not found, invalid), unless its status is 5xx.
TRANSIENT_CODES = frozenset(
    {
        # throttling
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        # the service failed or timed out
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        # KMS: the key's backing store or KMS itself did not answer
        "DependencyTimeoutException",
        "KMSInternalException",
        "KeyUnavailableException",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_transient(exc: Exception) -> bool:
    """Whether a retry can succeed: a code above, any 5xx, or no answer at all (BotoCoreError:
    connection, read timeout, ...)."""
    if isinstance(exc, ClientError):
        return error_code(exc) in TRANSIENT_CODES or http_status(exc) >= 500
    return isinstance(exc, BotoCoreError)


def classify(exc: Exception, action: str) -> SyncError:
    """Wrap a boto error; callers `raise classify(exc, "what we tried") from exc`."""
    if isinstance(exc, ClientError):
        detail = exc.response.get("Error", {}).get("Message", "")
        message = f"{action} failed: {error_code(exc) or http_status(exc)}: {detail}"
    else:
        message = f"{action} failed: {exc}"
    return TransientError(message) if is_transient(exc) else TerminalError(message)
