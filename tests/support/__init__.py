"""Test helpers shared by the test suite and the local demo: the loopback stack and small fakes."""


class NetworkBlockedError(RuntimeError):
    """Raised when a unit test tries to reach the network; such a test belongs in tests/integration."""
