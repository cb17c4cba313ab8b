"""Fixtures shared by tests/integration/test_cli_*.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import CliStack
from tests.support.pipeline import Pipeline


@pytest.fixture
def synced(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any, tmp_path: Path) -> CliStack:
    """GIVEN both tables exported, loaded and merged once (rows stamped in the last minutes), and the
    CLI's names in a `terraform output -json` file."""
    return make_synced(pg_server, moto, bao, fakesnow_server, tmp_path)


@pytest.fixture(scope="module")
def _synced_for_module(
    pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> CliStack:
    return make_synced(pg_server, moto, bao, fakesnow_server, tmp_path_factory.mktemp("synced"))


@pytest.fixture
def synced_read_only(_synced_for_module: CliStack) -> CliStack:
    """GIVEN the same as `synced`, made once per module for tests that change nothing in the pipeline
    (a pipeline per test was most of their time); the outputs file, which such a test may edit, is
    written afresh for each. A test that changes Aurora, S3, Snowflake or AWS state uses `synced`."""
    _synced_for_module.write_outputs()
    return _synced_for_module


def make_synced(pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any, directory: Path) -> CliStack:
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    admin = p.admin()
    admin.run(
        "INSERT INTO public.orders (id, customer_id, status, amount, updated_at) "
        "SELECT g, g % 7, 'new', g * 1.5, now() - interval '10 minutes' + g * interval '1 second' "
        "FROM generate_series(1, 30) g"
    )
    admin.run(
        "INSERT INTO public.customers (id, email, name, updated_at) "
        "SELECT g, 'c' || g || '@example.com', 'C' || g, "
        "(now() AT TIME ZONE 'UTC') - interval '10 minutes' + g * interval '1 second' "
        "FROM generate_series(1, 10) g"
    )
    admin.close()
    p.run()
    p.loader().cycle()
    return CliStack(p, directory)
