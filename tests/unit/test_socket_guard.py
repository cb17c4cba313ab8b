"""Unit tests cannot reach the network, so they cannot depend on a server (or an AWS account) by accident."""

from __future__ import annotations

import os
import socket
import urllib.request

import pytest

from tests.support import NetworkBlockedError
from tests.support.lambda_context import LambdaContext


def test_tcp_connect_is_blocked() -> None:
    # GIVEN a plain TCP socket
    # WHEN it connects, even to loopback THEN the guard refuses
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(NetworkBlockedError, match="tests/integration"),
    ):
        sock.connect(("127.0.0.1", 9))


def test_create_connection_and_name_lookup_are_blocked() -> None:
    # GIVEN the helpers libraries use to open connections
    # WHEN they are called THEN both are refused
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("example.com", 443)


def test_http_clients_are_blocked_too() -> None:
    # GIVEN an HTTP client built on sockets
    # WHEN it tries a request THEN the guard's error surfaces (wrapped or not)
    with pytest.raises((NetworkBlockedError, OSError)) as info:
        urllib.request.urlopen("http://127.0.0.1:9/", timeout=1)
    assert "must not use the network" in str(info.value)


def test_unix_sockets_stay_allowed() -> None:
    # GIVEN a connected pair of AF_UNIX sockets (local IPC, not network)
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        # WHEN data crosses THEN it arrives
        left.sendall(b"ping")
        assert right.recv(4) == b"ping"


def test_aws_environment_is_dummy() -> None:
    # GIVEN any test WHEN it looks at the AWS environment THEN only dummies are there
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_REGION"] == os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert "AWS_PROFILE" not in os.environ
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_fake_lambda_context_counts_down_to_its_deadline() -> None:
    # GIVEN a context on a controllable clock with 5 s left
    now = [100.0]
    context = LambdaContext(timeout_ms=5_000, clock=lambda: now[0])
    assert context.get_remaining_time_in_millis() == 5_000

    # WHEN 2 s pass, and then the deadline is moved and overrun
    now[0] += 2
    remaining_after_two_seconds = context.get_remaining_time_in_millis()
    context.set_remaining_time(1_000)
    now[0] += 3

    # THEN the remaining time follows, and never goes negative
    assert remaining_after_two_seconds == 3_000
    assert context.get_remaining_time_in_millis() == 0
