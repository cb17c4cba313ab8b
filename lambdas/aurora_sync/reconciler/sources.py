"""Where the reconciler's evidence comes from, and the one rule for a read that fails.

Aurora and Snowflake are each opened on first use, once per run; a failure to open is remembered
and reported for every later read without retrying. Any read that fails becomes (None, its cause):
the check that needed it is UNKNOWN, never OK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from aurora_sync.observability import logger
from aurora_sync.reconciler.ports import AuroraReader, Connection, HistoryReader, SnowflakeReader

T = TypeVar("T")
C = TypeVar("C", bound=Connection)
S = TypeVar("S", bound=SnowflakeReader)


class _Unavailable(Exception):
    """A service failed earlier in this invocation; the same error is reported without retrying."""


class _Opened(Generic[C]):
    def __init__(self, name: str, open_connection: Callable[[], C]) -> None:
        self._name = name
        self._open = open_connection
        self._connection: C | None = None
        self._failed: str | None = None

    def get(self) -> C:
        if self._failed is not None:
            raise _Unavailable(self._failed)
        if self._connection is None:
            try:
                connection = self._open()
                connection.connect()
            except Exception as exc:
                self._failed = f"{self._name} unavailable: {exc}"
                raise _Unavailable(self._failed) from exc
            self._connection = connection
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


class Sources:
    """`read_history` wraps the opened Snowflake session (adapters/snowflake_history.SnowflakeHistory
    in production), so the history is read over the same connection, and fails with it."""

    def __init__(
        self,
        open_aurora: Callable[[], AuroraReader],
        open_snowflake: Callable[[], S],
        read_history: Callable[[S], HistoryReader],
    ) -> None:
        aurora = _Opened("aurora", open_aurora)
        snowflake = _Opened("snowflake", open_snowflake)
        self.aurora: Callable[[], AuroraReader] = aurora.get
        self.snowflake: Callable[[], SnowflakeReader] = snowflake.get
        self.history: Callable[[], HistoryReader] = lambda: read_history(snowflake.get())
        self._opened: tuple[Callable[[], None], ...] = (aurora.close, snowflake.close)

    def close(self) -> None:
        for close in self._opened:
            close()

    def gather(self, what: str, read: Callable[[], T]) -> tuple[T | None, str | None]:
        """(the evidence, None), or (None, what failed and why)."""
        try:
            return read(), None
        except _Unavailable as exc:
            return None, str(exc)
        except Exception as exc:  # any failure to read evidence is UNKNOWN, reported with its cause
            logger.warning("could not gather evidence", extra={"what": what, "error": str(exc)})
            return None, f"{what}: {type(exc).__name__}: {exc}"
