"""LOCALSTACK_HOST: an existing LocalStack as the local stack's AWS side (tests/support/stack.py, aws_side).

No LocalStack can run here (it needs Docker), so a moto server this module starts plays its part: it
speaks the same AWS wire protocol on one port, as LocalStack's edge port does. What these tests show
is the stack's side of the contract: the endpoint comes from LOCALSTACK_HOST through
localstack-client, nothing of moto's is started, moto-only features say so, and a LOCALSTACK_HOST
that cannot be used stops the run at once, naming it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aurora_sync import aws
from tests.support.stack import (
    LOCALSTACK_HOST,
    ExternalLocalStack,
    MotoServer,
    NeedsMotoError,
    ServiceStartError,
    aws_side,
    free_port,
    moto_only,
    pid_alive,
)
from tests.support.stepfunctions import StepFunctionsStack

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stand_in() -> Iterator[MotoServer]:
    """A server on one port that answers every AWS API, in the place of LocalStack's edge port."""
    with MotoServer() as server:
        yield server


@pytest.fixture
def localstack_host(stand_in: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    value = f"{stand_in.host}:{stand_in.port}"
    monkeypatch.setenv(LOCALSTACK_HOST, value)
    return value


def moto_servers_of_this_process() -> set[int]:
    """PIDs of the moto servers this test process has started (its children running moto_server)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and b"moto_server" in command:
            found.add(int(stat.parent.name))
    return found


def test_without_localstack_host_the_aws_side_is_a_moto_server_of_our_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN no LOCALSTACK_HOST (an empty one counts as none)
    monkeypatch.setenv(LOCALSTACK_HOST, " ")

    # WHEN the stack picks its AWS side THEN it is the embedded moto server, not yet started
    side = aws_side()
    assert isinstance(side, MotoServer)
    assert side.pid is None


def test_localstack_host_makes_the_stack_use_that_endpoint_and_start_no_moto(
    stand_in: MotoServer, localstack_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN LOCALSTACK_HOST names a running AWS endpoint, and the moto servers this process runs
    before = moto_servers_of_this_process()
    assert stand_in.pid in before

    # WHEN the stack's AWS side is started
    with aws_side() as side:
        # THEN it is that endpoint, as localstack-client resolves it, and no moto was started for it
        assert isinstance(side, ExternalLocalStack)
        assert side.endpoint_url == stand_in.endpoint_url
        assert side.account_id == "123456789012"  # answered by the stand-in: moto's account
        assert moto_servers_of_this_process() == before

        # AND the Lambdas under test reach it through AWS_ENDPOINT_URL alone (their own client factory)
        bucket = f"ls-{uuid.uuid4().hex[:8]}"
        side.client("s3").create_bucket(Bucket=bucket)
        for name, value in side.env.items():
            monkeypatch.setenv(name, value)
        aws.client.cache_clear()
        try:
            aws.client("s3", side.region).put_object(Bucket=bucket, Key="from-lambda.csv", Body=b"id\n1\n")
        finally:
            aws.client.cache_clear()
        assert side.env["AWS_ENDPOINT_URL"] == stand_in.endpoint_url

    # AND what was written is in the stand-in, which stopping the AWS side left running
    assert pid_alive(stand_in.pid or 0)
    got = stand_in.client("s3").get_object(Bucket=bucket, Key="from-lambda.csv")
    assert got["Body"].read() == b"id\n1\n"


def test_an_unreachable_localstack_host_fails_fast_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN LOCALSTACK_HOST names a port where nothing listens
    host = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv(LOCALSTACK_HOST, host)
    before = moto_servers_of_this_process()

    # WHEN the stack's AWS side is started
    started = time.monotonic()
    with pytest.raises(ServiceStartError) as caught:
        aws_side().start()

    # THEN it fails within seconds, naming LOCALSTACK_HOST and the endpoint it tried, and falls back
    # to no moto of its own
    assert time.monotonic() - started < 10
    assert f"LOCALSTACK_HOST={host}: no AWS endpoint answers at http://{host}" in str(caught.value)
    assert "unset LOCALSTACK_HOST" in str(caught.value)
    assert moto_servers_of_this_process() == before


def test_a_localstack_host_that_is_not_host_port_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a LOCALSTACK_HOST whose port is not a number
    monkeypatch.setenv(LOCALSTACK_HOST, "localhost:edge")

    # WHEN the AWS side is started THEN localstack-client's parse error comes back naming the variable
    with pytest.raises(ServiceStartError, match=r"LOCALSTACK_HOST=localhost:edge: not a host\[:port\]"):
        aws_side().start()


def test_localstack_host_with_aws_endpoint_url_is_refused(
    localstack_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN AWS_ENDPOINT_URL is set too (localstack-client would let it win over LOCALSTACK_HOST)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")

    # WHEN the AWS side is started THEN it refuses, naming both, instead of quietly using either one
    with pytest.raises(ServiceStartError, match=r"AWS_ENDPOINT_URL=http://127.0.0.1:1 is set too"):
        aws_side().start()


def test_moto_only_features_say_so_on_an_external_localstack(localstack_host: str) -> None:
    # GIVEN the AWS side is the LocalStack at LOCALSTACK_HOST
    before = moto_servers_of_this_process()
    with aws_side() as side:
        # WHEN a test asks for moto's reset, moto's config API, a moto of its own or Step Functions
        # executions THEN each raises NeedsMotoError naming the feature and LOCALSTACK_HOST
        for attempt, feature in [
            (side.reset, "resetting the AWS side"),
            (lambda: side.configure({"stepfunctions": {"execute_state_machine": True}}), "configuration API"),
            (lambda: moto_only("terraform apply", MotoServer), "terraform apply"),
            (StepFunctionsStack, "executing state machines"),
        ]:
            with pytest.raises(NeedsMotoError) as caught:
                attempt()
            assert feature in str(caught.value)
            assert f"LOCALSTACK_HOST={localstack_host}" in str(caught.value)
    # AND none of them started a moto server
    assert moto_servers_of_this_process() == before


def test_the_suite_runs_against_localstack_host_and_skips_what_needs_moto(
    stand_in: MotoServer, localstack_host: str
) -> None:
    # GIVEN a pytest run of two stack canaries with LOCALSTACK_HOST set: one uses S3 only, one resets
    env = {**os.environ, LOCALSTACK_HOST: localstack_host}
    tests = [
        "tests/integration/test_stack.py::test_moto_stores_and_returns_s3_objects",
        "tests/integration/test_stack.py::test_moto_reset_forgets_resources",
    ]

    # WHEN it runs
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # THEN the S3 test passes, the reset test is skipped with the reason naming LOCALSTACK_HOST
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "1 passed, 1 skipped" in output, output
    assert f"needs moto, and the AWS side is the LocalStack at LOCALSTACK_HOST={localstack_host}" in output
    # AND the session's AWS side was the stand-in: the bucket the reset test made first is there
    names = [b["Name"] for b in stand_in.client("s3").list_buckets()["Buckets"]]
    assert "stack-reset-me" in names
