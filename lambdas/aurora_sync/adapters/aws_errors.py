"""One mapping of AWS client errors to transient/terminal, shared by every AWS adapter."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from aurora_sync.errors import SyncError, TerminalError, TransientError

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def classify(exc: Exception, action: str) -> SyncError:
    """Wrap a boto error; callers `raise classify(exc, "what we tried") from exc`."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        message = f"{action} failed: {code or status}: {exc.response.get('Error', {}).get('Message', '')}"
        if code in TRANSIENT_CODES or status >= 500:
            return TransientError(message)
        return TerminalError(message)
    if isinstance(exc, ConnectionError | ReadTimeoutError | BotoCoreError):
        return TransientError(f"{action} failed: {exc}")
    return TerminalError(f"{action} failed: {exc}")
