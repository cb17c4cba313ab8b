"""A pipe is bound to the stage it was created with.

Snowflake's "Managing Snowpipe" page ("Changing the cloud parameters of the referenced stage": URL,
STORAGE_INTEGRATION, ENCRYPTION) and the provider's snowflake_pipe documentation (v2.x: its example
replaces the pipe with `replace_triggered_by = [snowflake_stage.inbound]`, since the provider does
not detect such changes) both say that a changed stage is not picked up by an existing pipe. So every
pipe is replaced together with the stage its COPY reads from.
"""

from __future__ import annotations

import re

from tests.support.terraform import MODULES_DIR, blocks, hcl_load, one


def test_every_pipe_is_replaced_with_its_stage() -> None:
    """GIVEN the per-table Snowflake module
    WHEN its pipes are read
    THEN each pipe's lifecycle replaces it whenever the stage its copy statement reads from changes
    (and that stage is the module's own external stage)."""
    doc = hcl_load(MODULES_DIR / "snowflake_table" / "main.tf")
    pipes = blocks(doc, "resource", "snowflake_pipe")
    stages = blocks(doc, "resource", "snowflake_stage_external_s3")
    assert pipes and stages

    for name, pipe in pipes.items():
        lifecycle = one(pipe.get("lifecycle", [{}]))
        triggers = [t for group in lifecycle.get("replace_triggered_by", []) for t in group]
        stage_refs = {m for t in triggers for m in re.findall(r"snowflake_stage_external_s3\.(\w+)", t)}
        assert stage_refs, f"snowflake_pipe.{name} is not replaced with its stage"
        assert stage_refs <= set(stages), f"snowflake_pipe.{name} names an unknown stage: {stage_refs}"
