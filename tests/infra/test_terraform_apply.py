"""The AWS side of an environment root, applied for real: `terraform apply` against a local moto
server, then the state rewritten to the addresses of the layout before terraform/system (its moved
blocks must move every resource, changing nothing), then `plan` (must show no change), then `destroy`.

`validate` and checkov read the configuration; only an apply shows what the provider and the APIs
make of it (a value the API normalises, an argument it ignores, a dependency missing from the graph,
a policy rendered wrong). What runs:
- terraform/envs/dev (prod calls the same terraform/system: test_environment_roots_only_call_the_system)
  with its own values; only what must point at this machine is overridden (an override file merged
  into its `module "system"` call): the REPLACE-ME bucket name, the network (a VPC, subnets, security
  group and route table made in moto first), small placeholder Lambda zips; and a generated CA bundle;
- the Snowflake modules stubbed as for validate (tests/support/terraform.py stub_snowflake), their
  outputs given the values the handshake would return (an IAM user ARN, an external id, one SQS ARN
  per pipe);
- the aws provider from the plugin mirror, its endpoints pointed at the moto server by an override
  file, state in a local backend (override file too): the configuration under test is unchanged;
- moto with the few gaps the provider hits filled in (tests/support/moto_for_terraform.py).

It takes about two minutes on a 2-core machine, most of it the provider's own waits (the bucket's
lifecycle configuration is re-read until it has been stable three times, >= 10 s apart), so it
carries the `apply` marker: `pytest -m "not apply"` leaves it out, `make test` runs it.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aurora_sync.layout import data_key, manifest_key, pending_key, temp_key
from aurora_sync.settings import ExporterSettings
from tests.infra.test_runbook_commands import runbook_setup
from tests.support.local_ca import LocalCA
from tests.support.stack import TerraformMotoServer, moto_only
from tests.support.terraform import (
    ENVS_DIR,
    PLUGIN_DIR,
    REPO,
    TERRAFORM_DIR,
    Terraform,
    env_values,
    hcl_load,
    mirrored_providers,
    one,
    stub_snowflake,
    terraform_bin,
)

pytestmark = [
    pytest.mark.apply,
    pytest.mark.skipif(terraform_bin() is None, reason="terraform is not installed here"),
    pytest.mark.skipif(
        "hashicorp/aws" not in mirrored_providers(),
        reason=f"hashicorp/aws is not in the plugin mirror {PLUGIN_DIR}: the apply needs the provider",
    ),
]

ENV = ENVS_DIR / "dev"
NAME = "aurora-snowflake-sync-dev"
BUCKET = "aurora-sync-apply-test-dev"
ACCOUNT = "123456789012"  # moto's
SNOWFLAKE_USER = f"arn:aws:iam::{ACCOUNT}:user/snowflake-stub"
# What the Snowflake side hands the AWS side after its half of the handshake (docs/deploy.md).
STUB_VALUES = {
    "storage_aws_iam_user_arn": f'"{SNOWFLAKE_USER}"',
    "error_sns_iam_user_arn": f'"{SNOWFLAKE_USER}"',
    "storage_aws_external_id": '"STUB_EXTERNAL_ID"',
    "error_sns_external_id": '"STUB_EXTERNAL_ID"',
    "notification_channel": f'"arn:aws:sqs:us-east-1:{ACCOUNT}:sf-snowpipe-${{md5(var.table.table_name)}}"',
    **{
        name: f'"STUB_{name.upper()}"'
        for name in ("database", "staging_schema", "final_schema", "warehouse", "file_format",
                     "storage_integration", "error_integration", "service_role")
    },
}  # fmt: skip
# Ephemeral and required: which Snowflake identity the provider blocks are (stubbed here).
MODE = "-var=terraform_mode=apply"
# Every service the AWS modules create something in; anything else would go to real AWS (and fail).
SERVICES = ("cloudwatch", "dynamodb", "ec2", "events", "iam", "kms", "lambda", "logs", "s3",
            "scheduler", "sfn", "sns", "sqs", "ssm", "sts")  # fmt: skip
TIMEOUT_S = 600
# With LOCALSTACK_HOST set the test is skipped, saying this: unverified there, and ACCOUNT is moto's.
MOTO_FEATURE = "terraform apply on moto completed by moto_for_terraform.py"


@dataclass
class Applied:
    tf: Terraform
    moto: TerraformMotoServer
    network: dict[str, Any]
    apply_output: str
    seconds: dict[str, float] = field(default_factory=dict)
    destinations: dict[str, str] = field(default_factory=dict)  # "pager"/"chat" -> SQS queue ARN


def _override_files(root: Path, endpoint: str, state: Path, values: dict[str, Any]) -> None:
    """The aws provider on moto, a local backend, and `values` merged into the system call (JSON values
    are HCL expressions as they stand)."""
    endpoints = "".join(f'    {service} = "{endpoint}"\n' for service in SERVICES)
    arguments = "".join(f"  {name} = {json.dumps(value)}\n" for name, value in values.items())
    (root / "zz_moto_override.tf").write_text(
        'provider "aws" {\n'
        '  access_key                  = "testing"\n'
        '  secret_key                  = "testing"\n'
        "  skip_credentials_validation = true\n"
        "  skip_metadata_api_check     = true\n"
        "  s3_use_path_style           = true\n"
        f"  endpoints {{\n{endpoints}  }}\n"
        "}\n\n"
        f'terraform {{\n  backend "local" {{\n    path = "{state}"\n  }}\n}}\n\n'
        f'module "system" {{\n{arguments}}}\n'
    )


def _network(moto: TerraformMotoServer) -> dict[str, Any]:
    """The VPC the stack expects to exist (docs/deploy.md, first deployment, step 1)."""
    ec2 = moto.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
        ec2.modify_vpc_attribute(VpcId=vpc, **{attribute: {"Value": True}})
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"us-east-1{az}")[
            "Subnet"
        ]["SubnetId"]
        for i, az in enumerate("ab", start=1)
    ]
    group = ec2.create_security_group(GroupName="lambdas", Description="Lambdas", VpcId=vpc)["GroupId"]
    route_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    return {"vpc": vpc, "subnets": subnets, "security_group": group, "route_table": route_table}


def _destinations(moto: TerraformMotoServer) -> dict[str, str]:
    """Two SQS queues standing in for the pager and the chat endpoints (sqs is a protocol SNS
    subscriptions take, and moto delivers to it applying filter policies)."""
    sqs = moto.client("sqs")
    arns = {}
    for who in ("pager", "chat"):
        url = sqs.create_queue(QueueName=f"stand-in-{who}")["QueueUrl"]
        arns[who] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    return arns


def _placeholder_zips(directory: Path) -> dict[str, str]:
    """Tiny zips in place of `make package` (the apply needs files, not working code)."""
    directory.mkdir()
    contents = {"layer": "python/placeholder.py", "exporter": "handler.py", "reconciler": "handler.py"}
    for name, member in contents.items():
        with zipfile.ZipFile(directory / f"{name}.zip", "w") as archive:
            archive.writestr(member, "def handler(event, context):\n    return None\n")
    return {f"{name}_zip_path": str(directory / f"{name}.zip") for name in contents}


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Applied]:
    base = tmp_path_factory.mktemp("tf-apply")
    tree = base / "terraform"
    shutil.copytree(TERRAFORM_DIR, tree, ignore=shutil.ignore_patterns(".terraform*"))
    shutil.copytree(REPO / "layers", base / "layers", ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    root = stub_snowflake(tree, ENV, STUB_VALUES)
    (root / "rds-ca-bundle.pem").write_text(LocalCA("apply-test RDS CA").pem)

    with moto_only(MOTO_FEATURE, TerraformMotoServer) as moto:
        network = _network(moto)
        destinations = _destinations(moto)
        values = {
            "export_bucket_name": BUCKET,
            "lambda_subnet_ids": network["subnets"],
            "lambda_security_group_ids": [network["security_group"]],
            "network_endpoints": {"vpc_id": network["vpc"], "route_table_ids": [network["route_table"]]},
            **_placeholder_zips(base / "artifacts"),
            **{
                f"{who}_subscription": {"protocol": "sqs", "endpoint": arn}
                for who, arn in destinations.items()
            },
        }
        _override_files(root, moto.endpoint_url, base / "terraform.tfstate", values)
        tf = Terraform(root, base / "work")
        seconds = {}
        started = time.monotonic()
        tf.run("init", "-input=false", f"-plugin-dir={PLUGIN_DIR}")
        seconds["init"] = time.monotonic() - started
        started = time.monotonic()
        output = tf.run("apply", "-auto-approve", "-input=false", MODE, timeout=TIMEOUT_S)
        seconds["apply"] = time.monotonic() - started
        yield Applied(tf, moto, network, output, seconds, destinations)


# --------------------------------------------------------------------------------------------------
# apply
# --------------------------------------------------------------------------------------------------


def test_the_aws_side_applies_without_warnings(applied: Applied) -> None:
    """GIVEN the dev root with Snowflake stubbed and the network made
    WHEN `terraform apply` runs against moto
    THEN it completes without a warning, and the functions run the target runtime in the VPC."""
    assert "Apply complete!" in applied.apply_output
    assert "Warning:" not in applied.apply_output, applied.apply_output
    target = json.loads((REPO / "layers" / "target.json").read_text())
    lambda_ = applied.moto.client("lambda")
    for function in ("exporter", "reconciler"):
        config = lambda_.get_function_configuration(FunctionName=f"{NAME}-{function}")
        assert config["Runtime"] == target["runtime"]
        assert config["Architectures"] == [target["architecture"]]
        assert sorted(config["VpcConfig"]["SubnetIds"]) == sorted(applied.network["subnets"])
        assert config["TracingConfig"] == {"Mode": "Active"}


def test_the_runbooks_setup_block_names_what_was_applied(applied: Applied) -> None:
    """GIVEN the applied dev root and docs/runbook.md's setup block (every name on-call's commands use,
    from `terraform output`) WHEN the block runs as written, from the checkout's root with ENV=dev
    (its `init` left out: this state is initialised already) THEN every variable is set, and each
    names a resource the apply created; both Lambdas link alerts to the root's runbook_url."""
    setup = runbook_setup()
    names = re.findall(r"^([A-Z][A-Z0-9_]*)=", setup, re.MULTILINE)
    lines = setup.replace("ENV=prod", "ENV=dev").splitlines()
    script = "\n".join(line for line in lines if " init " not in line)
    report = "".join(f'printf "%s=%s\\n" {n} "${n}"\n' for n in names)
    result = subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{script}\n{report}"],
        cwd=applied.tf.root.parents[2],
        env=applied.tf.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "USE DATABASE STUB_DATABASE;\n" in result.stdout  # the Snowflake modules' stub value
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert set(names) <= set(values) and all(values[n] for n in names), values

    moto = applied.moto
    for function, logs in (("EXPORTER", "EXPORTER_LOGS"), ("RECONCILER", "RECONCILER_LOGS")):
        config = moto.client("lambda").get_function_configuration(FunctionName=values[function])
        assert config["LoggingConfig"]["LogGroup"] == values[logs]
        assert config["Environment"]["Variables"]["RUNBOOK_URL"] == env_values(ENV)["runbook_url"]
    groups = moto.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    assert {values["EXPORTER_LOGS"], values["RECONCILER_LOGS"]} <= {g["logGroupName"] for g in groups}
    moto.client("s3").head_bucket(Bucket=values["BUCKET"])
    moto.client("stepfunctions").describe_state_machine(stateMachineArn=values["STATE_MACHINE"])
    for topic in ("ALERT_TOPIC", "ALARM_TOPIC"):
        moto.client("sns").get_topic_attributes(TopicArn=values[topic])
    for table in ("ALERT_STATE", "LEASES"):
        moto.client("dynamodb").describe_table(TableName=values[table])
    moto.client("sqs").get_queue_url(QueueName=values["UNDELIVERED"])
    for parameter in ("TABLES", "CA_BUNDLE"):
        moto.client("ssm").get_parameter(Name=values[parameter])
    assert values["OVERRIDES"] == "/aurora-snowflake-sync/dev/overrides/"


def test_the_whole_bucket_rule_filters_on_the_empty_prefix(applied: Applied) -> None:
    """GIVEN the bucket's catch-all lifecycle rule WHEN S3 returns the configuration
    THEN its filter is the empty prefix (every object), not an empty filter block."""
    rules = applied.moto.client("s3").get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    [catch_all] = [r for r in rules if r["ID"] == "abort-multipart-everywhere"]
    assert catch_all["Filter"] == {"Prefix": ""}
    # AND the full refreshes' folder has its own rule, as applied: 30 days after each object's write
    [refresh] = [r for r in rules if r["ID"] == "expire-refresh"]
    assert (refresh["Filter"], refresh["Expiration"]["Days"]) == ({"Prefix": "_refresh/"}, 30)


def test_the_lambdas_reach_the_aws_apis_through_endpoints(applied: Applied) -> None:
    """GIVEN network_endpoints set WHEN the VPC's endpoints are listed THEN S3 and DynamoDB have
    gateway routes in the given route table, and each interface service has private DNS on, in the
    Lambdas' subnets, behind a group that lets in 443 from the Lambdas' security group only."""
    ec2 = applied.moto.client("ec2")
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [applied.network["vpc"]]}])[
        "VpcEndpoints"
    ]
    by_service = {e["ServiceName"].removeprefix("com.amazonaws.us-east-1."): e for e in endpoints}
    assert set(by_service) == {"s3", "dynamodb", "ssm", "kms", "sns", "sts", "logs", "xray"}
    for service in ("s3", "dynamodb"):
        assert by_service[service]["VpcEndpointType"] == "Gateway"
        assert by_service[service]["RouteTableIds"] == [applied.network["route_table"]]
    groups: set[str] = set()
    for service in ("ssm", "kms", "sns", "sts", "logs", "xray"):
        endpoint = by_service[service]
        assert endpoint["VpcEndpointType"] == "Interface"
        assert endpoint["PrivateDnsEnabled"] is True
        assert sorted(endpoint["SubnetIds"]) == sorted(applied.network["subnets"])
        groups.update(g["GroupId"] for g in endpoint["Groups"])
    [group] = groups
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])[
        "SecurityGroupRules"
    ]
    ingress = [r for r in rules if not r["IsEgress"]]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in ingress] == [("tcp", 443, 443)]
    assert ingress[0]["ReferencedGroupInfo"]["GroupId"] == applied.network["security_group"]
    assert not [r for r in rules if r["IsEgress"]], "the endpoints' group needs no egress"


# --------------------------------------------------------------------------------------------------
# The exporter's S3 permissions, as rendered and stored in IAM
# --------------------------------------------------------------------------------------------------


def _allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an Allow statement without conditions names this action and resource (IAM's
    wildcards); object-level S3 statements carry no conditions here."""
    for statement in policy["Statement"]:
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if (
            statement["Effect"] == "Allow"
            and "Condition" not in statement
            and any(fnmatch.fnmatchcase(action, a) for a in actions)
            and any(fnmatch.fnmatchcase(resource, r) for r in resources)
        ):
            return True
    return False


def test_the_exporter_may_touch_only_the_prefixes_its_code_uses(applied: Applied) -> None:
    """GIVEN the exporter's policy as IAM stores it after the apply
    WHEN every object operation the exporter performs (layout.py keys; adapters/s3.py calls) is
    checked THEN each is allowed, and nothing else is: no reading data files, no writing outside the
    tables' prefixes, _incoming/, _manifests/ and _pending/, no touching a table not in tables.json."""
    role = f"{NAME}-exporter"
    policy = applied.moto.client("iam").get_role_policy(RoleName=role, PolicyName=f"{role}-permissions")[
        "PolicyDocument"
    ]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    hour, run = datetime(2026, 11, 20, 10, tzinfo=UTC), "0f8c"
    incoming = ExporterSettings.model_fields["temp_prefix"].default
    arn = f"arn:aws:s3:::{BUCKET}/"
    needed = [
        # copy_stream: multipart upload into the table prefix; a failed split publish deletes parts.
        *[(a, data_key("public.orders", hour, run)) for a in ("PutObject", "AbortMultipartUpload")],
        ("DeleteObject", data_key("public.orders", hour, run, part=2)),
        ("PutObject", data_key("public.customers", hour, run)),
        # aurora_s3: header check and copy source in _incoming/, then deleted.
        ("GetObject", temp_key(incoming, "public.orders", run)),
        ("DeleteObject", temp_key(incoming, "public.orders", run) + "_part2"),
        # manifests written, read back as evidence for pins; pins written, read, deleted.
        ("PutObject", manifest_key("public.orders", hour, run)),
        ("GetObject", manifest_key("public.orders", hour, run)),
        *[(a, pending_key("public.orders", run)) for a in ("PutObject", "GetObject", "DeleteObject")],
    ]
    refused = [
        ("GetObject", data_key("public.orders", hour, run)),  # never reads data back
        ("PutObject", data_key("public.invoices", hour, run)),  # not in tables.json
        ("PutObject", "public.orders_archive/x.csv"),
        ("PutObject", f"{incoming}public.orders/run-{run}.csv"),  # Aurora writes there, not the Lambda
        ("DeleteObject", manifest_key("public.orders", hour, run)),
        ("PutObject", "anything-else.csv"),
    ]
    assert [(a, k) for a, k in needed if not _allows(policy, f"s3:{a}", arn + k)] == []
    assert [(a, k) for a, k in refused if _allows(policy, f"s3:{a}", arn + k)] == []


# --------------------------------------------------------------------------------------------------
# An environment applied before terraform/system (issue 13): its state moves, nothing changes
# --------------------------------------------------------------------------------------------------


def _moved_from(root: Path) -> set[str]:
    """The addresses the env root's moved blocks take into module.system (its root before issue 13)."""
    moves = {one(m["from"]): one(m["to"]) for m in hcl_load(root / "moved.tf")["moved"]}
    assert all(to == f"${{module.system.{old[2:-1]}}}" for old, to in moves.items()), moves
    return {old[2:-1] for old in moves}


def _before_the_system_module(state: dict[str, Any], moved: set[str]) -> dict[str, Any]:
    """`state` with the objects the moved blocks name back at their addresses before issue 13 (the env
    root held them, without `module.system.`): the state such an environment has before its first plan."""

    def address(value: str) -> str:
        rest = value.removeprefix("module.system.")
        return rest if any(rest == a or rest.startswith((f"{a}.", f"{a}[")) for a in moved) else value

    resources = []
    for entry in state["resources"]:
        resource = {**entry}
        module = resource.get("module")
        if module == "module.system" and f"{resource['type']}.{resource['name']}" in moved:
            del resource["module"]
        elif module is not None:
            resource["module"] = address(module)
        resource["instances"] = [
            {**i, "dependencies": [address(d) for d in i.get("dependencies", [])]}
            for i in resource["instances"]
        ]
        resources.append(resource)
    return {**state, "resources": resources, "serial": state["serial"] + 1}


def _instances_outside_the_system(state: dict[str, Any]) -> int:
    """How many managed resource instances `state` holds outside module.system."""
    return sum(
        len(r["instances"])
        for r in state["resources"]
        if r["mode"] == "managed" and not r.get("module", "").startswith("module.system")
    )


def test_a_state_of_the_layout_before_the_system_module_moves_without_changes(applied: Applied) -> None:
    """GIVEN the applied state with the addresses an environment applied before issue 13 has (the env
    root held what terraform/system holds now: module.storage, aws_ssm_parameter.tables, ...)
    WHEN the env root is planned
    THEN its moved blocks move every such resource to module.system, and nothing is added, changed or
    destroyed; applying that plan leaves the state as the apply made it. (That the old code renders
    the same values was shown once by applying it: docs/deploy.md, "Terraform layout".)"""
    state_file = applied.tf.workdir.parent / "terraform.tfstate"
    before = _before_the_system_module(json.loads(state_file.read_text()), _moved_from(applied.tf.root))
    moving = _instances_outside_the_system(before)
    assert moving > 50
    state_file.write_text(json.dumps(before))

    saved = applied.tf.workdir / "moves.tfplan"
    started = time.monotonic()
    code, output = applied.tf.run_status(
        "plan", "-detailed-exitcode", "-input=false", MODE, f"-out={saved}", ok=(0, 2), timeout=TIMEOUT_S
    )
    applied.seconds["plan moves"] = time.monotonic() - started
    assert code == 2 and "Plan: 0 to add, 0 to change, 0 to destroy." in output, output[-6000:]
    changes = json.loads(applied.tf.run("show", "-json", str(saved)))["resource_changes"]
    assert [c["address"] for c in changes if c["change"]["actions"] != ["no-op"]] == []
    moves = {c["previous_address"]: c["address"] for c in changes if "previous_address" in c}
    assert len(moves) == moving
    assert {a: b for a, b in moves.items() if b != f"module.system.{a}"} == {}
    applied.tf.run("apply", "-input=false", MODE, str(saved), timeout=TIMEOUT_S)


# --------------------------------------------------------------------------------------------------
# Who hears what: alarms and alerts through the applied topics and subscriptions
# --------------------------------------------------------------------------------------------------


def _drain(applied: Applied) -> dict[str, list[dict[str, Any]]]:
    """Every SNS envelope each stand-in endpoint received since the last drain."""
    sqs = applied.moto.client("sqs")
    received: dict[str, list[dict[str, Any]]] = {}
    for who in applied.destinations:
        url = sqs.get_queue_url(QueueName=f"stand-in-{who}")["QueueUrl"]
        messages: list[dict[str, Any]] = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            messages += [json.loads(m["Body"]) for m in batch]
            for m in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        received[who] = messages
    return received


def test_p3_alarms_reach_chat_only_and_p1_alarms_page(applied: Applied) -> None:
    """GIVEN the applied alarms, each tagged with its severity, and the pager and chat endpoints
    subscribed as the environment subscribes them
    WHEN a notification shaped like CloudWatch's (a JSON body, no message attributes) is published
    to each alarm's action topic
    THEN chat hears every alarm, the pager exactly the P1/P2 ones; the freshness and near-timeout
    alarms are P3, the sync-executions alarm P1; every alarm's OK goes where its ALARM went."""
    cloudwatch = applied.moto.client("cloudwatch")
    sns = applied.moto.client("sns")
    found = cloudwatch.describe_alarms(AlarmNamePrefix=NAME)["MetricAlarms"]
    assert len(found) >= 11
    severities = {}
    for alarm in found:
        tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
        [severity] = [t["Value"] for t in tags if t["Key"] == "severity"]
        severities[alarm["AlarmName"].removeprefix(f"{NAME}-")] = severity
        assert alarm["AlarmDescription"].startswith(severity), alarm["AlarmName"]
        assert alarm["OKActions"] == alarm["AlarmActions"] and len(alarm["AlarmActions"]) == 1
        _drain(applied)
        sns.publish(
            TopicArn=alarm["AlarmActions"][0],
            Subject=f'ALARM: "{alarm["AlarmName"]}"',
            Message=json.dumps({"AlarmName": alarm["AlarmName"], "NewStateValue": "ALARM"}),
        )
        heard = {who for who, messages in _drain(applied).items() if messages}
        expected = {"pager", "chat"} if severity in ("P1", "P2") else {"chat"}
        assert heard == expected, (alarm["AlarmName"], severity, heard)
    assert severities["sync-executions-failed"] == "P1"
    assert severities["exporter-duration-near-timeout"] == "P3"
    assert {v for k, v in severities.items() if k.startswith("freshness-")} == {"P3"}
    assert set(severities.values()) <= {"P1", "P2", "P3"}


def test_alerts_page_p1_p2_and_post_every_severity_to_chat(applied: Applied) -> None:
    """GIVEN the alerts topic (ALERT_TOPIC_ARN) as applied
    WHEN the Lambdas' own publisher sends one alert of each severity
    THEN the pager receives P1 and P2 only, chat all four (the pager subscription's filter policy on
    the `severity` message attribute)."""
    from aurora_sync.adapters.sns import AlertPublisher
    from aurora_sync.alerts import Alert, Severity

    sns = applied.moto.client("sns")
    [topic] = [
        t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(f":{NAME}-alerts")
    ]
    _drain(applied)
    publisher = AlertPublisher(sns, topic, "https://runbook.example/docs/runbook.md")
    for severity in Severity:
        publisher.publish(Alert(severity, "routing_probe", "public.orders", f"probe {severity}"))
    heard = {
        who: sorted(json.loads(m["Message"])["severity"] for m in messages)
        for who, messages in _drain(applied).items()
    }
    assert heard == {"pager": ["P1", "P2"], "chat": ["P1", "P2", "P3", "P4"]}


# --------------------------------------------------------------------------------------------------
# plan, then destroy
# --------------------------------------------------------------------------------------------------


def test_a_second_plan_shows_no_changes(applied: Applied) -> None:
    """GIVEN the applied stack WHEN `terraform plan -detailed-exitcode` runs with the same inputs
    THEN it exits 0: everything the API returns matches the configuration (no perpetual diff)."""
    started = time.monotonic()
    code, output = applied.tf.run_status(
        "plan", "-detailed-exitcode", "-input=false", MODE, ok=(0, 2), timeout=TIMEOUT_S
    )
    applied.seconds["plan"] = time.monotonic() - started
    assert code == 0, output[-6000:]


def test_destroy_removes_everything_once_the_alert_state_may_go(applied: Applied) -> None:
    """GIVEN the applied stack, whose alert-state table has deletion protection
    WHEN that protection is lifted by hand (the only manual step) and `terraform destroy` runs
    THEN it completes and moto holds nothing of the stack any more."""
    dynamodb = applied.moto.client("dynamodb")
    table = f"{NAME}-alert-state"
    assert dynamodb.describe_table(TableName=table)["Table"]["DeletionProtectionEnabled"] is True
    dynamodb.update_table(TableName=table, DeletionProtectionEnabled=False)

    started = time.monotonic()
    output = applied.tf.run("destroy", "-auto-approve", "-input=false", MODE, timeout=TIMEOUT_S)
    applied.seconds["destroy"] = time.monotonic() - started
    assert "Destroy complete!" in output

    moto = applied.moto
    assert moto.client("s3").list_buckets()["Buckets"] == []
    assert moto.client("lambda").list_functions()["Functions"] == []
    assert moto.client("dynamodb").list_tables()["TableNames"] == []
    assert moto.client("stepfunctions").list_state_machines()["stateMachines"] == []
    assert moto.client("sns").list_topics()["Topics"] == []
    assert moto.client("ssm").describe_parameters()["Parameters"] == []
    assert moto.client("scheduler").list_schedules()["Schedules"] == []
    assert [r["RoleName"] for r in moto.client("iam").list_roles()["Roles"]] == []
    endpoints = moto.client("ec2").describe_vpc_endpoints()["VpcEndpoints"]
    assert {e["State"].lower() for e in endpoints} <= {"deleted"}  # listed for a while, as in AWS
    kms = moto.client("kms")
    keys = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
    # moto also makes a "Default key" for an AWS managed alias (alias/aws/...) when one is looked up.
    ours = [k for k in keys if k["Description"].startswith(NAME)]
    assert len(ours) >= 4  # exports, ops, one per function
    left = [(k["Description"], k["KeyState"]) for k in ours if k["KeyState"] != "PendingDeletion"]
    assert left == []  # KMS never deletes a key at once: it is scheduled for deletion
    print(f"terraform timings (s): { {k: round(v) for k, v in applied.seconds.items()} }")
