"""The trust policy of the roles GitHub Actions assumes (terraform/modules/github_oidc_trust).

The module is provider-free, so it is applied here for real on local state and its JSON read back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.terraform import MODULES_DIR, Terraform, TerraformError, terraform_bin

pytestmark = pytest.mark.skipif(terraform_bin() is None, reason="terraform is not installed here")

MODULE = MODULES_DIR / "github_oidc_trust"
PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
REPOSITORY = "acme/aurora-snowflake-sync"


def trust(workdir: Path, **overrides: Any) -> dict[str, Any]:
    tf = Terraform(MODULE, workdir)
    tf.init()
    variables = {"oidc_provider_arn": PROVIDER, "repository": REPOSITORY, "environments": ["dev"]}
    return tf.apply_outputs({**variables, **overrides})


def test_only_the_named_environments_of_the_repository_may_assume_the_role(tmp_path: Path) -> None:
    """GIVEN the deploy role of dev and prod WHEN its trust policy is rendered
    THEN GitHub's OIDC provider may assume it only with aud = sts.amazonaws.com and sub exactly
    repo:<owner>/<repo>:environment:<env> for those two environments: StringEquals, no wildcard."""
    outputs = trust(tmp_path, environments=["dev", "prod"])
    policy = json.loads(outputs["assume_role_policy_json"])

    [statement] = policy["Statement"]
    assert statement["Sid"] == "GitHubActionsEnvironments"
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": PROVIDER}
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": [
                "repo:acme/aurora-snowflake-sync:environment:dev",
                "repo:acme/aurora-snowflake-sync:environment:prod",
            ],
        }
    }
    assert "*" not in json.dumps(policy)
    assert (
        outputs["subjects"]
        == statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("repository", "acme/*", "repository must be owner/name, without wildcards"),
        ("repository", "aurora-snowflake-sync", "repository must be owner/name, without wildcards"),
        ("environments", ["*"], "environments must name at least one GitHub environment"),
        ("environments", [], "environments must name at least one GitHub environment"),
        (
            "oidc_provider_arn",
            "arn:aws:iam::123456789012:oidc-provider/gitlab.example.com",
            "oidc_provider_arn must be the IAM OIDC provider of token.actions.githubusercontent.com",
        ),
    ],
)
def test_a_wider_trust_is_refused(tmp_path: Path, variable: str, value: Any, message: str) -> None:
    """GIVEN a wildcard or missing scope (any repository of the owner, any environment, another
    issuer) WHEN the module is applied THEN Terraform refuses it, naming the variable."""
    with pytest.raises(TerraformError) as refused:
        trust(tmp_path, **{variable: value})
    assert message in " ".join(str(refused.value).split())
