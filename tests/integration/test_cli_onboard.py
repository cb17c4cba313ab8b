"""`aurora-sync onboard` on the local stack: the entry for a live table, connecting as the Lambdas do
(TLS with the CA bundle from Parameter Store, the user from Vault), names from outputs."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from aurora_sync.tables import TableConfig
from tests.support.cli import CliStack
from tests.support.pipeline import Pipeline


@pytest.fixture(scope="module")
def _invoices(
    pg_server: Any, moto: Any, bao: Any, fakesnow_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> CliStack:
    p = Pipeline(pg_server, moto, bao, fakesnow_server)
    admin = p.admin()
    admin.run(
        "CREATE TABLE public.invoices (tenant int, id bigint, total numeric(12,2), due date, "
        "deleted boolean, modified_at timestamptz, PRIMARY KEY (tenant, id))"
    )
    admin.run(f"GRANT SELECT ON public.invoices TO {p.db_user}")
    admin.close()
    return CliStack(p, tmp_path_factory.mktemp("onboard"))


@pytest.fixture
def stack(_invoices: CliStack) -> CliStack:
    """GIVEN public.invoices, a live table not in tables.json, and the CLI's names in a `terraform
    output -json` file. onboard only reads, so one pipeline serves every test (one each was most of
    their time); the outputs file, which a test edits, is written afresh for each."""
    _invoices.write_outputs()
    return _invoices


def test_onboard_prints_a_valid_entry_and_its_notes(stack: CliStack) -> None:
    # WHEN on-call onboards a live table, with only the outputs file and their Vault token
    result = stack.invoke("onboard", "public.invoices", "--soft-delete", "deleted")
    # THEN stdout is exactly a valid tables.json entry (composite key in key order, modified_at found)
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)
    TableConfig.model_validate(entry)
    assert entry["primary_keys"] == ["tenant", "id"] and entry["watermark_col"] == "modified_at"
    assert entry["soft_delete_col"] == "deleted"
    # AND the notes go to stderr: the columns that may hold values Snowflake refuses
    assert "note: due:" in result.stderr and "note: total:" in result.stderr
    assert "note" not in result.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["public.nope"], "no such table"),
        (["invoices"], "must be schema.table"),
        (["public.invoices", "--watermark", "x;drop"], "--watermark"),
    ],
)
def test_bad_input_exits_2_naming_it(stack: CliStack, args: list[str], named: str) -> None:
    # WHEN the table or a column is wrong THEN exit 2 with a message naming it
    result = stack.invoke("onboard", *args)
    assert result.exit_code == 2, result.output
    assert named in result.output


def test_a_missing_name_is_reported_before_connecting(stack: CliStack) -> None:
    # GIVEN outputs without the CA bundle's name and no such variable in the shell
    outputs = stack.outputs()
    del outputs["names"]["value"]["db_ca_bundle_parameter"]
    stack.outputs_file.write_text(json.dumps(outputs))
    # WHEN onboarding THEN exit 2 naming the variable, nothing connected
    result = stack.invoke("onboard", "public.invoices")
    assert result.exit_code == 2, result.output
    assert "DB_SSL_CA_BUNDLE_PARAMETER" in result.output


def test_the_installed_console_script_runs_onboard(stack: CliStack) -> None:
    # WHEN the real entry point runs in its own process (production code paths, no seams)
    done = stack.run_script("onboard", "public.invoices", base_env=os.environ)
    # THEN it prints the entry and exits 0
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["table_name"] == "public.invoices"
    # AND the operator's Vault token is not in anything it printed
    assert stack.pipeline.bao.root_token not in done.stdout + done.stderr
