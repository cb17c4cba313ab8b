"""The commands of docs/runbook.md and README.md name what Terraform deploys, and every runbook link lands.

On-call copies these commands at 3 a.m.; a name that differs from the deployed one (a function without
its environment, an undefined `$BUCKET`, a Snowflake query without its database) fails on the first
step of the procedure. So every name in their shell and SQL code is checked against what Terraform
creates for an environment:
- shell: a resource is named by a variable of the runbook's setup block, which reads it from
  `terraform output` of the environment's root; each output read exists in both env roots (and `-raw`
  only of a string output); each variable used is defined; no literal project name stands in a command;
- every literal project name in the code (the names table, prose) is one Terraform creates:
  modules/names evaluated by Terraform for each environment's `environment`, and the names the system
  and its modules build on that prefix (read from the HCL);
- Snowflake SQL: each block selects the environment's database (`USE DATABASE`), and every qualified
  name is `<database>.<STAGING|FINAL>.<object>` of an object the environment's tables.json renders
  (tests/infra/tf_render, the same templates the snowflake_table module applies);
- every runbook link (in the docs, the Lambdas' alerts, the alarms) is a section of the runbook, and
  every alarm's section names the alarm.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.terraform import (
    ENVS_DIR,
    MODULES_DIR,
    REPO,
    SYSTEM_DIR,
    env_snowflake_database,
    env_values,
    hcl_load,
    module_calls,
    names_module_outputs,
    one,
    terraform_bin,
    terraform_view,
)
from tests.unit.test_runbook_anchors import PACKAGE, code_anchors, heading_anchors, terraform_anchors

RUNBOOK = REPO / "docs" / "runbook.md"
README = REPO / "README.md"
DOCS = {"runbook": RUNBOOK, "README": README}
ENVS = sorted(p for p in ENVS_DIR.iterdir() if (p / "main.tf").exists())
PROJECT = "aurora-snowflake-sync"

needs_terraform = pytest.mark.skipif(terraform_bin() is None, reason="terraform is not installed here")

# --- the code of a Markdown document ----------------------------------------------------------------

FENCE = re.compile(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
SHELL_START = re.compile(r"^(?:(?:aws|terraform|jq)\s|[A-Z][A-Z0-9_]*=)")
SQL_START = re.compile(r"^(SELECT|ALTER|EXECUTE|SHOW|COPY|USE|TRUNCATE|CREATE|DESC|DESCRIBE)\b")
# Where a query is Snowflake's, not Aurora's (PostgreSQL) or Logs Insights'.
SNOWFLAKE_MARKERS = re.compile(r"\b(STAGING|FINAL|INFORMATION_SCHEMA|SYSTEM\$\w+|TASK|PIPE|STREAMS)\b")


@dataclass(frozen=True)
class Code:
    kind: str  # "shell", "sql" (Snowflake), "aurora-sql", "text" (a name in prose, a diagram, Logs Insights)
    text: str
    fenced: bool
    line: int

    def where(self, doc: str, command: str | None = None) -> str:
        return f"{doc}:{self.line}: {(command or self.text).strip().splitlines()[0][:100]}"


def code_of(markdown: str) -> list[Code]:
    """Fenced blocks by their language, and inline spans by how they start."""
    found: list[Code] = []

    def line_at(offset: int) -> int:
        return markdown.count("\n", 0, offset) + 1

    for match in FENCE.finditer(markdown):
        lang, text = match[1].lower(), match[2]
        if lang in {"bash", "sh", "shell"}:
            kind = "shell"
        elif lang == "sql":
            kind = "sql" if SNOWFLAKE_MARKERS.search(text) else "aurora-sql"
        else:
            kind = "text"
        found.append(Code(kind, text, True, line_at(match.start())))
    prose = FENCE.sub(lambda m: "\n" * m[0].count("\n"), markdown)
    for match in re.finditer(r"`([^`]+)`", prose):
        text = " ".join(match[1].split())
        if SHELL_START.match(text):
            kind = "shell"
        elif SQL_START.match(text):
            kind = "sql" if SNOWFLAKE_MARKERS.search(text) else "aurora-sql"
        else:
            kind = "text"
        found.append(Code(kind, text, False, line_at(match.start())))
    return found


@functools.cache
def doc_code(doc: str) -> tuple[Code, ...]:
    return tuple(code_of(DOCS[doc].read_text()))


def shell_code(doc: str) -> list[Code]:
    return [c for c in doc_code(doc) if c.kind == "shell"]


def without_comments(shell: str) -> str:
    return re.sub(r"(^|\s)#[^\n]*", r"\1", shell)


def commands(doc: str) -> list[tuple[Code, str]]:
    """Every shell command (continuation lines joined, comments dropped) with its code."""
    found = []
    for code in shell_code(doc):
        text = without_comments(code.text).replace("\\\n", " ")
        found += [(code, " ".join(line.split())) for line in text.splitlines() if line.strip()]
    return found


# --- what Terraform creates ----------------------------------------------------------------------


def outputs_of(tf: Path) -> dict[str, str]:
    """name => value expression of every output in a file."""
    return {
        name: one(body["value"]) for entry in hcl_load(tf).get("output", []) for name, body in entry.items()
    }


@functools.cache
def env_outputs() -> dict[str, set[str]]:
    return {env.name: set(outputs_of(env / "outputs.tf")) for env in ENVS}


@functools.cache
def system_outputs() -> dict[str, object]:
    return dict(outputs_of(SYSTEM_DIR / "outputs.tf"))


def _module_names(module: Path, name: str) -> set[str]:
    """The names a module builds on its `name` variable (`"${var.name}-alerts"`, `"/aws/lambda/${var.name}"`),
    and those of the modules it passes its name on to."""
    text = "\n".join(tf.read_text() for tf in sorted(module.glob("*.tf")))
    found = {name + suffix for suffix in re.findall(r'"\$\{var\.name\}(-[a-z0-9-]+)"', text)}
    found |= {prefix + name for prefix in re.findall(r'"(/[a-z0-9/]+/)\$\{var\.name\}"', text)}
    # for_each over a map of entries that each give the suffix: `"${var.name}-${each.value.alarm_name}"`
    for key in re.findall(r'"\$\{var\.name\}-\$\{each\.value\.(\w+)\}"', text):
        found |= {f"{name}-{suffix}" for suffix in re.findall(rf'\b{key}\s*=\s*"([a-z0-9-]+)"', text)}
    for call in module_calls(hcl_load(module / "main.tf")).values():
        if one(call.get("name")) == "${var.name}":
            found |= {name} | _module_names((module / one(call["source"])).resolve(), name)
    return found


@functools.cache
def aws_names(environment: str) -> frozenset[str]:
    """Every AWS name the system creates for `environment` on the names module's prefix: its own
    (`"${local.name}-…"`) and, for each module it calls with a `name`, that name and the module's."""
    names = names_module_outputs(environment)
    prefix = names["prefix"]
    system_text = (SYSTEM_DIR / "main.tf").read_text()
    found = {prefix, names["service_name"]}
    found |= {prefix + suffix for suffix in re.findall(r'"\$\{local\.name\}(-[a-z0-9-]+)"', system_text)}
    for call in module_calls(hcl_load(SYSTEM_DIR / "main.tf")).values():
        name = one(call.get("name"))
        if isinstance(name, str) and name.startswith("${local.name}"):
            resolved = name.replace("${local.name}", prefix)
            found |= {resolved} | _module_names((SYSTEM_DIR / one(call["source"])).resolve(), resolved)
    return frozenset(found)


def env_tables(env: Path) -> list[str]:
    return sorted(terraform_view(env / "tables.json")["s3_prefixes"])


@functools.cache
def ssm_names(env_name: str) -> frozenset[str]:
    env = ENVS_DIR / env_name
    names = names_module_outputs(env_values(env)["environment"])
    tables = [*env_tables(env), "<schema.table>"]
    return frozenset(
        {names["tables_parameter"], names["db_ca_bundle_parameter"], names["overrides_path"]}
        | {f"{names['tables_parameter']}/{t}" for t in tables}
        | {f"{names['overrides_path']}{t}" for t in tables}
    )


@functools.cache
def snowflake_objects(env_name: str) -> dict[str, frozenset[str]]:
    """schema => object names the environment's tables.json renders (and the account module's)."""
    env = ENVS_DIR / env_name
    render = terraform_view(env / "tables.json")["render"]
    objects: dict[str, set[str]] = {}
    for table in render.values():
        schemas, names = table["schemas"], table["names"]
        objects.setdefault(schemas["final"], set()).add(names["final"])
        staging = objects.setdefault(schemas["staging"], set())
        staging |= {names[k] for k in ("staging", "stream", "pipe", "stage", "task", "file_format")}
    account = (MODULES_DIR / "snowflake_account" / "main.tf").read_text()
    [audit] = re.findall(r'audit_table = "(\w+)"', account)
    objects.setdefault("STAGING", set()).add(audit)
    return {schema: frozenset(names) for schema, names in objects.items()}


@functools.cache
def snowflake_databases() -> dict[str, str]:
    return {env_snowflake_database(env): env.name for env in ENVS}


# --- shell: names come from terraform output ---------------------------------------------------------


def runbook_setup() -> str:
    """The runbook's setup block: the shell variables every later command takes its names from
    (tests/infra/test_terraform_apply.py runs it against an applied environment)."""
    [setup] = [
        c.text for c in shell_code("runbook") if c.fenced and re.search(r"^ENV=", c.text, re.MULTILINE)
    ]
    return setup


ASSIGNMENT = re.compile(r"(?:^|[;&|(]\s*|\s)(?:export\s+)?([A-Z][A-Z0-9_]*)=", re.MULTILINE)
USE = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)")
OUTPUT = re.compile(r"terraform (-chdir=(\S+) )?output (?:(-raw|-json) )?([a-z_]+)(?: \| jq -r \.([a-z_]+))?")
# Options whose value names a deployed resource.
NAME_OPTIONS = ("--function-name", "--table-name", "--topic-arn", "--queue-url", "--queue-name",
                "--state-machine-arn", "--log-group-name", "--log-group-names", "--bucket")  # fmt: skip
SSM_OPTIONS = ("--name", "--path")


@pytest.mark.parametrize("doc", DOCS)
def test_every_shell_variable_is_defined(doc: str) -> None:
    """GIVEN the document's shell code WHEN each `$VAR` is looked up THEN the document assigns it
    (the runbook's setup block, or the command before it in the same block)."""
    code = shell_code(doc)
    defined = {name for c in code for name in ASSIGNMENT.findall(without_comments(c.text))}
    undefined = {
        c.where(doc): sorted(set(USE.findall(without_comments(c.text))) - defined)
        for c in code
        if set(USE.findall(without_comments(c.text))) - defined
    }
    assert not undefined, f"variables used but never defined: {undefined}"


@pytest.mark.parametrize("doc", DOCS)
def test_terraform_outputs_read_exist_in_every_env_root(doc: str) -> None:
    """GIVEN every `terraform output` in the document's shell code WHEN looked up THEN it reads the
    env root (`-chdir=terraform/envs/$ENV`, commands run from the checkout), an output both roots
    have, and `-raw` only of a string (an object needs `-json … | jq -r .<key>`, with that key)."""
    problems = []
    for code, command in commands(doc):
        for chdir, root, mode, name, key in (m.groups() for m in OUTPUT.finditer(command)):
            where = code.where(doc, command)
            if not chdir or root.strip("\"'") not in {"terraform/envs/$ENV", "terraform/envs/<env>"}:
                problems.append(f"{where}: `terraform output` without -chdir=terraform/envs/$ENV")
            missing = [env for env, outputs in env_outputs().items() if name not in outputs]
            if missing:
                problems.append(f"{where}: output {name} missing in {missing}")
                continue
            value = system_outputs().get(name)
            is_object = isinstance(value, dict) or (isinstance(value, str) and value.lstrip().startswith("{"))
            if mode == "-raw" and is_object:
                problems.append(f"{where}: output {name} is an object: -raw fails on it")
            if key is not None and not (isinstance(value, dict) and key in value):
                problems.append(f"{where}: output {name} has no key {key}")
    assert not problems, "\n".join(problems)


def _option_values(command: str, options: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in re.finditer(rf"({'|'.join(options)})[ =](\S+)", command)]


@pytest.mark.parametrize("doc", DOCS)
def test_commands_name_resources_by_the_setup_variables(doc: str) -> None:
    """GIVEN every shell command WHEN the values of the options that name a resource (function,
    table, topic, queue, state machine, log group, bucket, SSM parameter) and its s3:// URLs are read
    THEN each is a variable (set from `terraform output`), never a literal or a placeholder; and no
    literal project name stands anywhere in a command."""
    problems = []
    for code, command in commands(doc):
        where = code.where(doc, command)
        named = _option_values(command, NAME_OPTIONS)
        if command.startswith("aws ssm"):
            named += _option_values(command, SSM_OPTIONS)
        named += [("s3://", m) for m in re.findall(r"s3://([^/\s]*)", command)]
        problems += [
            f"{where}: {option} {value}" for option, value in named if not value.strip("\"'").startswith("$")
        ]
        problems += [f"{where}: literal {m}" for m in re.findall(rf"[\w/-]*{PROJECT}[\w/<>.…-]*", command)]
    assert not problems, "names not taken from the setup variables:\n" + "\n".join(problems)


@pytest.mark.parametrize("doc", DOCS)
def test_lambda_invocations_survive_a_long_export(doc: str) -> None:
    """GIVEN every `aws lambda invoke` WHEN read THEN it sets `--cli-read-timeout 0` (the CLI's read
    timeout is 60 s, after which it retries the call: a second export, and out.json lost; AWS CLI
    User Guide, "Command line options": 0 makes the socket read blocking) and, with a JSON `--payload`,
    `--cli-binary-format raw-in-base64-out` (AWS CLI v2 takes blobs as base64 otherwise; Lambda
    Developer Guide, "Invoke a Lambda function synchronously")."""
    invokes = [
        (c, cmd) for c, cmd in commands(doc) if "aws lambda invoke" in cmd and "--function-name" in cmd
    ]
    assert invokes or doc != "runbook", "the scan found no invoke"
    problems = []
    for code, command in invokes:
        if not re.search(r"--cli-read-timeout[ =]0\b", command):
            problems.append(f"{code.where(doc, command)}: no --cli-read-timeout 0")
        if "--payload" in command and "--cli-binary-format raw-in-base64-out" not in command:
            problems.append(
                f"{code.where(doc, command)}: --payload without --cli-binary-format raw-in-base64-out"
            )
    assert not problems, "\n".join(problems)


# --- names written out: each is one Terraform creates ----------------------------------------------

AWS_NAME = re.compile(rf"(?<![/\w-]){PROJECT}-[a-z0-9<>…-]*[a-z0-9>…]")
LOG_GROUP = re.compile(rf"/aws/lambda/{PROJECT}-[a-z0-9<>…-]*[a-z0-9>…]")
SSM_NAME = re.compile(rf"/{PROJECT}/[\w<>./-]*[\w>]/?")
# A link (the runbook's own URL in an alert, a repository) holds the project's name in its path: no
# resource name.
URL = re.compile(r"https?://\S+")


def _expand(name: str) -> set[str]:
    """A written name for each environment (`<env>`, or a name written for one env)."""
    return {name.replace("<env>", env) for env in (e.name for e in ENVS)} if "<env>" in name else {name}


def _is_created(name: str, created: set[str]) -> bool:
    if name.endswith("…"):  # `aurora-snowflake-sync-prod-…`: any name with that start
        return any(c.startswith(name[:-1]) for c in created)
    return name in created


@needs_terraform
@pytest.mark.parametrize("doc", DOCS)
def test_every_name_written_out_is_one_terraform_creates(doc: str) -> None:
    """GIVEN every AWS and SSM name written out in the document's code (commands, the names table,
    names in prose) WHEN compared with what the system creates for each environment THEN each is one
    of them (`<env>` stands for any environment)."""
    created_aws = set().union(*(aws_names(env_values(env)["environment"]) for env in ENVS))
    created_aws |= {"/aws/lambda/" + n for n in created_aws}
    created_ssm = set().union(*(ssm_names(env.name) for env in ENVS))
    problems = []
    for code in doc_code(doc):
        unlinked = URL.sub(" ", code.text)
        text = SSM_NAME.sub(" ", unlinked)
        for name in {*LOG_GROUP.findall(text), *AWS_NAME.findall(LOG_GROUP.sub(" ", text))}:
            if not all(_is_created(n, created_aws) for n in _expand(name)):
                problems.append(f"{code.where(doc)}: {name}")
        for name in SSM_NAME.findall(unlinked):
            if not all(_is_created(n, created_ssm) for n in _expand(name)):
                problems.append(f"{code.where(doc)}: {name}")
    assert not problems, "names Terraform does not create:\n" + "\n".join(problems)


def test_the_name_scan_finds_names_and_rejects_a_wrong_one() -> None:
    """GIVEN names as the docs write them WHEN scanned THEN each is found and judged."""
    assert AWS_NAME.findall("`aws logs tail aurora-snowflake-sync-exporter`") == [
        "aurora-snowflake-sync-exporter"
    ]
    assert LOG_GROUP.findall("/aws/lambda/aurora-snowflake-sync-<env>-exporter.") == [
        "/aws/lambda/aurora-snowflake-sync-<env>-exporter"
    ]
    created = {"aurora-snowflake-sync-dev-exporter", "aurora-snowflake-sync-prod-exporter"}
    assert all(_is_created(n, created) for n in _expand("aurora-snowflake-sync-<env>-exporter"))
    assert not _is_created("aurora-snowflake-sync-exporter", created)
    assert _is_created("aurora-snowflake-sync-prod-…", created)


# --- Snowflake SQL ---------------------------------------------------------------------------------

QUALIFIED = re.compile(
    r'(?<![\w."])("?[A-Z_][A-Z0-9_]*"?)\.("?[A-Z_][A-Z0-9_]*"?)(?:\.("?[A-Z_][A-Z0-9_]*"?))?(?![\w"(])'
)
USE_DATABASE = re.compile(r"^\s*USE DATABASE (\w+);", re.IGNORECASE)
NAME_STRINGS = re.compile(r"(?:TASK_NAME\s*=>|LIKE)\s*'([A-Z0-9_]+)'")


def _qualified_name_problem(parts: list[str], databases: dict[str, str]) -> str | None:
    """Why `<database>.<schema>[.<object>]` (or a shorter name) is not one the environment has."""
    if parts[0] not in databases:
        if parts[0] in {"STAGING", "FINAL", "INFORMATION_SCHEMA"} or re.fullmatch(
            r"AURORA_SYNC\w*", parts[0]
        ):
            return "not qualified by an environment's database"
        return None  # a function call, a column of an alias (t.ID), a metadata column
    env = databases[parts[0]]
    objects = snowflake_objects(env)
    if parts[1] == "INFORMATION_SCHEMA":
        return None
    if parts[1] not in objects:
        return f"no schema {parts[1]} in {env}"
    if len(parts) == 3 and parts[2] not in objects[parts[1]]:
        return f"{env} has no {parts[1]}.{parts[2]}"
    return None


def sql_problems(code: Code, doc: str) -> list[str]:
    """What is wrong with one piece of Snowflake SQL: a fenced block without `USE DATABASE <env's>`,
    a name not qualified by an environment's database, a schema or object that environment lacks."""
    databases = snowflake_databases()
    text = re.sub(r"--[^\n]*", "", code.text)
    problems = []
    use = USE_DATABASE.match(text)
    if code.fenced and (use is None or use[1] not in databases):
        problems.append(f"{code.where(doc)}: the block does not start with USE DATABASE <an environment's>")
    envs_used = set()
    for match in QUALIFIED.finditer(text):
        parts = [p.strip('"') for p in match.groups() if p]
        if parts[0] in databases:
            envs_used.add(databases[parts[0]])
        if (problem := _qualified_name_problem(parts, databases)) is not None:
            problems.append(f"{code.where(doc)}: {match[0]}: {problem}")
    envs = envs_used or set(databases.values())
    for name in NAME_STRINGS.findall(text):
        if not any(name in set().union(*snowflake_objects(e).values()) for e in envs):
            problems.append(f"{code.where(doc)}: '{name}' is no object of {sorted(envs)}")
    if len(envs_used) > 1:
        problems.append(f"{code.where(doc)}: mixes environments {sorted(envs_used)}")
    return problems


@needs_terraform
@pytest.mark.parametrize("doc", DOCS)
def test_snowflake_sql_names_the_environments_objects(doc: str) -> None:
    """GIVEN every Snowflake statement in the document (fenced SQL blocks and inline queries)
    WHEN its names are read THEN a block starts with `USE DATABASE` of an environment, every name is
    `<database>.<schema>[.<object>]` of that environment's database, schemas and rendered objects
    (warehouses: modules/names), and one piece of SQL stays in one environment."""
    problems = [p for code in doc_code(doc) if code.kind == "sql" for p in sql_problems(code, doc)]
    warehouses = {names_module_outputs(env_values(e)["environment"])["snowflake"]["warehouse"] for e in ENVS}
    for code in doc_code(doc):
        problems += [
            f"{code.where(doc)}: {w}" for w in re.findall(r"\bSYNC_WH_\w+", code.text) if w not in warehouses
        ]
    assert not problems, "\n".join(problems)


@needs_terraform
def test_the_sql_check_rejects_what_on_call_could_not_run() -> None:
    """GIVEN statements with a missing context, an unqualified name, a wrong object, a wrong task
    WHEN checked THEN each is reported; the right forms pass."""
    prod = env_snowflake_database(ENVS_DIR / "prod")
    good = Code("sql", f'USE DATABASE {prod};\nSELECT 1 FROM "{prod}"."STAGING"."ORDERS_PIPE";', True, 1)
    assert sql_problems(good, "t") == []
    no_context = Code("sql", f"SELECT * FROM {prod}.FINAL.ORDERS;", True, 1)
    unqualified = Code("sql", "SELECT * FROM STAGING.ORDERS", False, 1)
    wrong_object = Code("sql", f"SELECT * FROM {prod}.STAGING.ORDER_PIPE", False, 1)
    wrong_task = Code("sql", f"SHOW TASKS LIKE 'ORDERS_TASK' IN SCHEMA {prod}.STAGING;", False, 1)
    for bad in (no_context, unqualified, wrong_object, wrong_task):
        assert sql_problems(bad, "t"), bad.text


# --- links ----------------------------------------------------------------------------------------


def doc_links() -> dict[str, set[str]]:
    """Anchors of docs/runbook.md linked from the docs: `](#x)` in the runbook itself, `runbook.md#x`
    (any relative path) in README.md and docs/*.md."""
    links = {"docs/runbook.md": set(re.findall(r"\]\(#([\w-]+)\)", RUNBOOK.read_text()))}
    for path in [README, *sorted((REPO / "docs").glob("*.md"))]:
        links[str(path.relative_to(REPO))] = set(re.findall(r"runbook\.md#([\w-]+)", path.read_text()))
    return links


def test_every_runbook_link_lands_on_a_section() -> None:
    """GIVEN every link to a runbook section: from the docs, from the Lambdas' alerts
    (`runbook_anchor`), from the alarms' descriptions and the state machine's P1 WHEN looked up
    THEN each is a heading of docs/runbook.md."""
    sections = heading_anchors(RUNBOOK.read_text())
    linked = doc_links()
    linked["lambdas"] = {a for p in sorted(PACKAGE.rglob("*.py")) for a in code_anchors(p.read_text())}
    linked["terraform"] = terraform_anchors()
    assert "sync-execution-failed" in linked["lambdas"] and "names-in-each-environment" in linked["README.md"]
    missing = {where: sorted(anchors - sections) for where, anchors in linked.items() if anchors - sections}
    assert not missing, f"links to runbook sections that do not exist: {missing}"


def runbook_sections() -> dict[str, str]:
    text = RUNBOOK.read_text()
    parts = re.split(r"^(#{2,6} .+)$", text, flags=re.MULTILINE)
    return {next(iter(heading_anchors(h))): body for h, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_every_alarm_has_its_entry_in_the_section_it_links() -> None:
    """GIVEN every CloudWatch alarm (its name after the environment prefix, and the section its
    description links) WHEN that runbook section is read THEN it names the alarm: on-call arriving from
    the alarm finds what it means and what to run."""
    text = (MODULES_DIR / "aws_alerting" / "alarms.tf").read_text()
    pairs = re.findall(
        r'alarm_name\s*=\s*"([^"]+)"\n\s*alarm_description\s*=\s*"[^"]*runbook_url\}#([\w-]+)"', text
    )
    alarms = {
        name.replace("${var.name}-", "").replace("${each.key}", "<table>"): anchor for name, anchor in pairs
    }
    assert {"exporter-errors", "sync-executions-failed", "freshness-<table>", "undelivered"} <= set(alarms)
    sections = runbook_sections()
    missing = {name: anchor for name, anchor in alarms.items() if name not in sections.get(anchor, "")}
    assert not missing, f"alarms their linked runbook section does not name: {missing}"
