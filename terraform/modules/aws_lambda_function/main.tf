# One Lambda function with its own role, key and log group. Shared by the exporter and the
# reconciler modules, which add their permissions and environment.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
  region      = data.aws_region.current.name
  log_group   = "/aws/lambda/${var.name}"
  environment = { for k, v in var.environment : k => v if v != null && v != "" }
}

# Encrypts the environment and the fallback credentials (DB_PASSWORD_ENCRYPTED, ...): ciphertexts are
# made with this key and the encryption context LambdaFunctionName=<name> (docs/deploy.md).
resource "aws_kms_key" "function" {
  description         = "${var.name}: environment and fallback credentials"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.key.json
  tags                = var.tags
}

resource "aws_kms_alias" "function" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.function.key_id
}

resource "aws_cloudwatch_log_group" "function" {
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

resource "aws_iam_role" "function" {
  name               = var.name
  description        = "Execution role of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "function" {
  name   = "${var.name}-permissions"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.base.json
}

# ENI management for the VPC and X-Ray segments need "*" resources; AWS's managed policies hold
# exactly those actions.
resource "aws_iam_role_policy_attachment" "vpc" {
  role       = aws_iam_role.function.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_iam_role_policy_attachment" "xray" {
  role       = aws_iam_role.function.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

resource "aws_lambda_function" "function" {
  # checkov:skip=CKV_AWS_116:The exporter is invoked synchronously (Step Functions Retry/Catch); the reconciler's async invocations have an on-failure destination (aws_reconciler: aws_lambda_function_event_invoke_config), which records the event and the error, more than a DLQ.
  # checkov:skip=CKV_AWS_272:Zips are built and deployed by CI from the reviewed repository; a code-signing profile is not provisioned in this stack.
  function_name                  = var.name
  description                    = var.description
  role                           = aws_iam_role.function.arn
  runtime                        = var.runtime
  architectures                  = [var.architecture]
  handler                        = var.handler
  filename                       = var.zip_path
  source_code_hash               = filebase64sha256(var.zip_path)
  layers                         = var.layer_arns
  timeout                        = var.timeout_seconds
  memory_size                    = var.memory_mb
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = aws_kms_key.function.arn

  environment {
    variables = local.environment
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function.name
  }

  tags = var.tags

  depends_on = [
    aws_iam_role_policy.function,
    aws_iam_role_policy_attachment.vpc,
    aws_cloudwatch_log_group.function,
  ]
}
