"""Test helpers shared by the test suite and the local demo: the loopback stack and small fakes."""


class NetworkBlockedError(RuntimeError):
    """Raised when a unit test tries to reach the network; such a test belongs in tests/integration."""


# Variables from a caller's shell that could send boto3 to a real account instead of moto.
AWS_ACCOUNT_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
