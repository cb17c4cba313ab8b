"""Suite-wide wiring: tier markers by directory, safety rails, and the lazily started local stack.

- Every test is marked by its directory (tests/unit -> unit, ...), so `pytest -m unit` selects a tier
  without anyone remembering to decorate tests.
- Unit tests cannot open network connections: a test that needs a server belongs in integration.
- Every test runs with dummy AWS credentials and no profile or endpoint from the caller's shell, so
  nothing can ever reach a real AWS account.
- Every test starts with no Powertools metrics, dimensions or cold start left by another.
- The servers are session fixtures: started on first use (unit runs start none), stopped at session end
  even when tests fail, and by atexit if the run is interrupted. The AWS side is moto, or the LocalStack
  named by LOCALSTACK_HOST (tests.support.stack.aws_side); a test that needs moto itself is then
  reported as skipped, saying why.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import pytest
from aws_lambda_powertools.metrics.provider import cold_start

from aurora_sync.observability import METRICS_NAMESPACE, SERVICE, metrics
from tests.support import AWS_ACCOUNT_ENV, NetworkBlockedError
from tests.support.lambda_context import LambdaContext
from tests.support.stack import (
    AwsApi,
    FakeSnowServer,
    NeedsMotoError,
    OpenBaoServer,
    PostgresServer,
    aws_side,
)

TESTS_DIR = Path(__file__).resolve().parent
TIERS = ("unit", "integration", "e2e", "infra")

# Anything that could route boto3 to a real account (and, for tests, to another endpoint).
_AWS_ENV_REMOVED = (*AWS_ACCOUNT_ENV, "AWS_ENDPOINT_URL")


# --------------------------------------------------------------------------------------------------
# Markers and interruption
# --------------------------------------------------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with the tier named by its first directory under tests/."""
    for item in items:
        try:
            tier = item.path.resolve().relative_to(TESTS_DIR).parts[0]
        except ValueError:
            continue
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


def _interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    return (yield from _skip_what_needs_moto())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _skip_what_needs_moto())


def _skip_what_needs_moto() -> Generator[None, None, None]:
    """With LOCALSTACK_HOST set, a test (or fixture) that needs moto's own API is skipped with the
    reason, not failed and never passed: the external LocalStack simply lacks that feature."""
    try:
        return (yield)
    except NeedsMotoError as exc:
        pytest.skip(str(exc))


def pytest_configure(config: pytest.Config) -> None:
    """Turn SIGTERM (CI timeouts, `kill`) into KeyboardInterrupt so fixtures and atexit stop servers."""
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, _interrupt)


# --------------------------------------------------------------------------------------------------
# Safety rails for every test
# --------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _dummy_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Dummy credentials and region; no profile, config file or endpoint from the developer's shell."""
    for name in _AWS_ENV_REMOVED:
        monkeypatch.delenv(name, raising=False)
    missing = tmp_path_factory.getbasetemp() / "no-aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(missing))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(missing))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    # No EC2 instance-metadata probing if something still looks for credentials.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(autouse=True)
def _reset_metrics() -> Iterator[None]:
    """Powertools keeps metrics, dimensions and the cold-start flag in module/class state shared by
    every Metrics instance: without a reset, one test's metrics are flushed (or asserted) by the next.
    """
    metrics.clear_metrics()
    metrics.clear_default_dimensions()
    metrics.namespace = METRICS_NAMESPACE
    metrics.service = SERVICE
    cold_start.reset_cold_start_flag()
    yield
    metrics.clear_metrics()
    metrics.clear_default_dimensions()


def _is_local(sock: socket.socket) -> bool:
    return sock.family == socket.AF_UNIX


def _blocked(what: str, target: object) -> NetworkBlockedError:
    return NetworkBlockedError(
        f"unit tests must not use the network ({what} {target!r}); "
        "use an in-memory fake, or move the test to tests/integration"
    )


@pytest.fixture(autouse=True)
def _block_network_in_unit_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests run without sockets so they stay fast and cannot depend on a server by accident."""
    if request.node.get_closest_marker("unit") is None:
        return
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if not _is_local(self):
            raise _blocked("connect to", address)
        real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        if not _is_local(self):
            raise _blocked("connect to", address)
        return real_connect_ex(self, address)

    def guarded_create_connection(address: Any, *args: Any, **kwargs: Any) -> NoReturn:
        raise _blocked("create_connection to", address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> NoReturn:
        raise _blocked("getaddrinfo for", host)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "create_connection", guarded_create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


# --------------------------------------------------------------------------------------------------
# The local stack (session-wide, started on first use)
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster with password auth on 127.0.0.1; isolate tests with `create_database()`."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def moto() -> Iterator[AwsApi]:
    """The AWS side: a moto server, or the LocalStack at LOCALSTACK_HOST; `moto.client("s3")`, `moto.env`,
    `moto.endpoint_url` (`moto.reset()` only on moto)."""
    with aws_side() as server:
        yield server


@pytest.fixture(scope="session")
def bao() -> Iterator[OpenBaoServer]:
    """An OpenBao dev server (KV v2 at secret/); `bao.client()` is an authenticated hvac.Client."""
    with OpenBaoServer() as server:
        yield server


@pytest.fixture(scope="session")
def fakesnow_server() -> Iterator[FakeSnowServer]:
    """A fakesnow server; `fakesnow_server.connect("DB", "SCHEMA")` is a real snowflake connection."""
    with FakeSnowServer() as server:
        yield server


@pytest.fixture
def lambda_context() -> LambdaContext:
    """A fresh fake Lambda context with the full 15-minute budget."""
    return LambdaContext()
