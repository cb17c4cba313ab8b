"""The operator CLI finds names in `terraform output -json` (aurora_sync_cli.config.OUTPUT_VARIABLES):
every output it reads must be one each environment root has, with the keys it reads, or
`aurora-sync --env <env>` would fall back to the shell and fail on the first real environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aurora_sync_cli.config import OUTPUT_VARIABLES, REGION_ARNS

ROOT = Path(__file__).resolve().parents[2]
ENVS = sorted(p.parent.name for p in (ROOT / "terraform/envs").glob("*/outputs.tf"))


def _root_outputs(env: str) -> set[str]:
    text = (ROOT / "terraform/envs" / env / "outputs.tf").read_text()
    return set(re.findall(r'^output "(\w+)"', text, flags=re.MULTILINE))


def _object_keys(output: str) -> set[str]:
    """Keys of an object-valued output of terraform/system (`value = { a = ..., b = ... }`)."""
    text = (ROOT / "terraform/system/outputs.tf").read_text()
    block = re.search(rf'^output "{output}" \{{(.*?)^\}}', text, flags=re.MULTILINE | re.DOTALL)
    assert block is not None, f"terraform/system has no output {output!r}"
    value = re.search(r"value\s*=\s*\{(.*)\}", block.group(1), flags=re.DOTALL)
    assert value is not None, f"output {output!r} is not an object"
    return set(re.findall(r"^\s*\{?\s*(\w+)\s*=", value.group(1).replace(",", "\n"), flags=re.MULTILINE))


@pytest.mark.parametrize("env", ENVS)
def test_every_output_the_cli_reads_exists_in_the_environment_root(env: str) -> None:
    # GIVEN the outputs the CLI maps to settings, and those it reads the region from
    wanted = [name.split(".") for name in [*OUTPUT_VARIABLES, *REGION_ARNS]]
    # WHEN compared with what the env root outputs THEN each exists, with the keys read from it
    outputs = _root_outputs(env)
    missing = [".".join(parts) for parts in wanted if parts[0] not in outputs]
    assert not missing, f"terraform/envs/{env}/outputs.tf lacks {missing}"
    for parts in (p for p in wanted if len(p) == 2):
        assert parts[1] in _object_keys(parts[0]), f"output {parts[0]} has no key {parts[1]!r}"


def test_the_check_sees_a_missing_key() -> None:
    # GIVEN an object output WHEN asked for a key it lacks THEN the parser does not invent it
    assert "tables_parameter" in _object_keys("names")
    assert "no_such_key" not in _object_keys("names")
    assert {"name", "group"} <= _object_keys("sync_schedule")
