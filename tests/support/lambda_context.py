"""A fake Lambda context, Powertools-style, whose remaining time tests can steer.

Handlers read the context for logging fields (Powertools Logger) and to stop work before the Lambda
timeout; the fake makes both testable without AWS: the deadline is set by the test, and the clock can be
injected so "time running out" needs no sleeping.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_TIMEOUT_MS = 900_000
"""The Lambda maximum (15 min): handlers under test have the whole budget unless a test says otherwise."""


@dataclass
class LambdaContext:
    """Attributes Powertools and our handlers read, plus `get_remaining_time_in_millis()`.

    `timeout_ms` is the remaining time at construction; `set_remaining_time(ms)` moves the deadline, e.g.
    to make a handler see that only a few seconds are left.
    """

    function_name: str = "aurora-sync-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:aurora-sync-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/aurora-sync-test"
    log_stream_name: str = "2024/01/01/[$LATEST]00000000000000000000000000000000"
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    clock: Callable[[], float] = time.monotonic
    _deadline: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._deadline = self.clock() + self.timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the deadline, never negative (Lambda's own contract)."""
        return max(0, int((self._deadline - self.clock()) * 1000))

    def set_remaining_time(self, millis: int) -> None:
        """Move the deadline so that `millis` remain from now."""
        self._deadline = self.clock() + millis / 1000
