"""The sync state machine on moto, calling the real exporter and reconciler in this process.

tests/infra/test_state_machine.py executes the definition Terraform renders on moto's Step Functions
interpreter, with Lambda Invoke answered by a script (tests/support/stepfunctions.py: moto runs no
Lambda code). Here the script is the real thing: each Invoke runs `run_exporter` / `run_reconciler`
with one Pipeline's environment against the local stack (PostgreSQL over TLS, OpenBao, fakesnow, the
same moto), and answers as Lambda does: the result, or the raised error's class name as the
function error (`ExportRunFailed`, ...), so the state machine's Retry/Catch see what they would see
in AWS. The pipeline's AWS side is that moto, so S3, SSM, DynamoDB and Step Functions are one.

Limits of this seam, each named in docs/architecture.md ("Local stack"):
- invocations run one at a time (each sets os.environ, which boto3 and the settings read), so the
  Map's MaxConcurrency is not exercised with real exports;
- a Lambda timeout cannot happen (no sandbox); the Task's TimeoutSeconds is raised to minutes here;
- `gate` holds every invocation until a test opens it (to act while an execution is running);
- nothing loads while the execution waits for ingestion unless `before_reconcile` is given (the
  demo runs the Snowpipe + task stand-in there).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aurora_sync import aws
from tests.support.pipeline import ROOT, Pipeline
from tests.support.stepfunctions import FunctionError, Outcome, Result, StepFunctionsStack
from tests.support.terraform import ORCHESTRATION, terraform_view

EXPORTER = ORCHESTRATION["exporter_function_arn"]
RECONCILER = ORCHESTRATION["reconciler_function_arn"]
# Real exports take seconds, not the scripted tests' milliseconds: generous task timeouts.
IN_PROCESS = copy.deepcopy(ORCHESTRATION) | {
    "export_task_timeout_seconds": 120,
    "reconcile_task_timeout_seconds": 120,
    "execution_timeout_seconds": 3600,  # Terraform's check: at least the worst case of an hourly run
}


def definition() -> str:
    """The state machine as Terraform renders it for these inputs (cached per process)."""
    view = terraform_view(ROOT / "terraform/envs/dev/tables.json", IN_PROCESS, render_sql=False)
    return str(view["state_machine"])


@dataclass
class InProcessLambdas:
    """Answers the state machine's Invoke calls with the pipeline's real exporter and reconciler."""

    pipeline: Pipeline
    gate: threading.Event = field(default_factory=threading.Event)
    exporter_payloads: list[Any] = field(default_factory=list)
    # What happens in the world while the execution waits for ingestion (WaitForIngestion, before the
    # Reconcile step): in AWS Snowpipe and the task load and merge on their own; here nothing does
    # unless a caller passes e.g. the local stand-in's `pipeline.loader().cycle`.
    before_reconcile: Callable[[], object] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.gate.set()

    def __call__(self, function: str, payload: Any) -> Outcome:
        if not self.gate.wait(timeout=120):
            return FunctionError("Lambda.ServiceException", "the test never opened the gate")
        with self._lock:
            try:
                if function == EXPORTER:
                    self.exporter_payloads.append(payload)
                    return Result(self.pipeline.run(payload))
                if function == RECONCILER:
                    if self.before_reconcile is not None:
                        self.before_reconcile()
                    return Result(self.pipeline.reconcile(payload))
                return FunctionError("Lambda.ResourceNotFoundException", f"no function {function}")
            except Exception as exc:  # what Lambda reports for an unhandled error: its class and message
                return FunctionError(type(exc).__name__, str(exc))


@dataclass
class DeployedSync:
    stack: StepFunctionsStack
    pipeline: Pipeline
    lambdas: InProcessLambdas
    arn: str


def deploy(
    stack: StepFunctionsStack, pipeline: Pipeline, before_reconcile: Callable[[], object] | None = None
) -> DeployedSync:
    """Create the pipeline's state machine (`<name>-sync`, the ARN tests/support/cli.py outputs) on the
    stack's moto and route its Lambda calls to the pipeline (InProcessLambdas.before_reconcile: what
    runs while the execution waits for ingestion)."""
    lambdas = InProcessLambdas(pipeline, before_reconcile=before_reconcile)
    stack.lambdas.script = lambdas
    arn = stack.client("stepfunctions").create_state_machine(
        name=f"{pipeline.name}-sync",
        definition=definition(),
        roleArn="arn:aws:iam::123456789012:role/sync-sfn",
    )["stateMachineArn"]
    return DeployedSync(stack, pipeline, lambdas, arn)


def fresh_clients() -> Iterator[None]:
    """aurora_sync.aws caches one client per service for the process (a Lambda's cold start); tests on
    this stack's moto need clients bound to it, and the tests after them their own again."""
    aws.client.cache_clear()
    try:
        yield
    finally:
        aws.client.cache_clear()


def executions(stack: StepFunctionsStack, machine: str) -> list[dict[str, Any]]:
    return list(stack.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"])


def wait_closed(stack: StepFunctionsStack, arn: str, seconds: float = 120) -> dict[str, Any]:
    import time

    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + seconds
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{arn} still running after {seconds} s"
        time.sleep(0.2)
    return dict(described)
