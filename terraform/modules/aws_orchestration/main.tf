data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  state_machine_name = "${var.name}-sync"
  # Known before the state machine exists: its status-change pattern is rendered with it.
  state_machine_arn = "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:stateMachine:${local.state_machine_name}"
  lambda_targets = [
    var.exporter_function_arn,
    "${var.exporter_function_arn}:*",
    var.reconciler_function_arn,
    "${var.reconciler_function_arn}:*",
  ]
}

# The definition lives in state_machine.asl.json (validated by asl-validator and executed on moto in
# tests/infra); render/ fills in its placeholders and refuses an execution timeout shorter than the
# worst case of an hourly run.
module "render" {
  source = "./render"

  exporter_function_arn          = var.exporter_function_arn
  reconciler_function_arn        = var.reconciler_function_arn
  state_machine_arn              = local.state_machine_arn
  execution_timeout_seconds      = var.execution_timeout_seconds
  table_count                    = var.table_count
  max_concurrency                = var.max_concurrency
  split_parts                    = var.split_parts
  split_concurrency              = var.split_concurrency
  retry                          = var.retry
  export_task_timeout_seconds    = var.exporter_timeout_seconds + 60
  reconcile_task_timeout_seconds = var.reconciler_timeout_seconds + 60
  ingestion_wait_seconds         = var.ingestion_wait_seconds
}

resource "aws_cloudwatch_log_group" "state_machine" {
  name              = "/aws/vendedlogs/states/${var.name}-sync"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.ops_kms_key_arn
  tags              = var.tags
}

resource "aws_iam_role" "state_machine" {
  name               = "${var.name}-sync-sfn"
  description        = "Execution role of the sync state machine"
  assume_role_policy = data.aws_iam_policy_document.sfn_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "state_machine" {
  # checkov:skip=CKV_AWS_290:The wildcard statement holds only CloudWatch Logs delivery and X-Ray actions, which have no resource-level permissions (AWS documents "*" for them).
  # checkov:skip=CKV_AWS_355:Same statement: Logs delivery and X-Ray actions require Resource "*".
  name   = "${var.name}-sync-sfn"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}

resource "aws_sfn_state_machine" "sync" {
  name       = local.state_machine_name
  role_arn   = aws_iam_role.state_machine.arn
  type       = "STANDARD"
  definition = module.render.definition

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    include_execution_data = true
    level                  = "ERROR"
  }

  tracing_configuration {
    enabled = true
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.state_machine]
}
