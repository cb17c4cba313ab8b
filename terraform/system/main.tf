# Everything one environment of aurora-snowflake-sync deploys, once: terraform/envs/<env> calls this
# module with its values and providers. Everything below derives the table list from the
# environment's tables.json (beside its root, path.root) through module.tables, so the SSM parameter,
# the S3 notifications and the Snowflake objects cannot disagree.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# Every account-scoped name carries the environment (dev and prod may share an AWS or Snowflake account).
module "names" {
  source      = "../modules/names"
  environment = var.environment
}

locals {
  name = module.names.prefix
  tags = merge(var.tags, {
    project     = "aurora-snowflake-sync"
    environment = var.environment
    managed_by  = "terraform"
  })

  # Role ARNs handed to Snowflake integrations before the roles exist (docs/deploy.md, first deployment).
  iam_arn_prefix          = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role"
  snowflake_s3_role_name  = "${local.name}-snowflake-s3"
  snowflake_sns_role_name = "${local.name}-snowflake-sns"

  # The Lambda build target (layers/target.json): the same file layers/build.py builds against, so
  # runtime, architecture, handler and artifact paths cannot disagree with the zips. From the env
  # root (terraform/envs/<env>), as the artifacts' paths are stored in state (the layer's and
  # functions' filename).
  repo_root      = "${path.root}/../../.."
  lambda_target  = jsondecode(file("${local.repo_root}/layers/target.json"))
  layer_zip      = coalesce(var.layer_zip_path, "${local.repo_root}/${local.lambda_target.layer_zip}")
  exporter_zip   = coalesce(var.exporter_zip_path, "${local.repo_root}/${replace(local.lambda_target.function_zip, "{function}", "exporter")}")
  reconciler_zip = coalesce(var.reconciler_zip_path, "${local.repo_root}/${replace(local.lambda_target.function_zip, "{function}", "reconciler")}")

  # The preview resources used below: the env roots' Snowflake provider blocks enable exactly these.
  snowflake_preview_features = [
    "snowflake_file_format_csv_resource",
    "snowflake_notification_integration_resource",
    "snowflake_pipe_resource",
    "snowflake_table_resource",
  ]
}

module "tables" {
  source         = "../modules/tables"
  tables_json    = file("${path.root}/tables.json")
  parameter_name = module.names.tables_parameter
}

# One parameter per table (8 KB at most each, and the index's parts beyond its first), then the
# index at TABLES_PARAMETER; the Lambdas check one against the other (docs/architecture.md, "Table list").
resource "aws_ssm_parameter" "table" {
  # checkov:skip=CKV2_AWS_34:Not a secret: table names, columns and types; the Lambdas read it as a String.
  for_each    = module.tables.ssm_parameters
  name        = each.key
  description = "aurora-snowflake-sync table list (index ${module.names.tables_parameter}), written from terraform/envs/${var.environment}/tables.json"
  type        = "String"
  tier        = "Intelligent-Tiering"
  value       = each.value

  # After every table's Snowflake DDL (columns, the pipe's COPY, the task's MERGE): an exporter that
  # reads a new column list finds the tables, the pipe and the MERGE already taking it. Nothing else
  # orders them (the parameters reference no Snowflake object). docs/runbook.md, schema-add-column.
  depends_on = [module.snowflake_table]
}

resource "aws_ssm_parameter" "tables" {
  # checkov:skip=CKV2_AWS_34:Not a secret: table names and a digest; the Lambdas read it as a String.
  name        = module.names.tables_parameter
  description = "aurora-snowflake-sync table index: the tables of terraform/envs/${var.environment}/tables.json, one parameter each under this name"
  type        = "String"
  tier        = "Intelligent-Tiering"
  value       = module.tables.ssm_index

  # Last: an index whose sha256 does not match the entries means an apply stopped in between.
  depends_on = [aws_ssm_parameter.table]
}

# Lambda's trust store has no RDS CA, and a regional bundle (about 6 KB) does not fit beside the
# other variables in the 4 KB of Lambda environment: the Lambdas read it from here.
locals {
  db_ca_bundle = file("${path.root}/${var.db_ca_bundle_file}")
}

resource "aws_ssm_parameter" "db_ca_bundle" {
  # checkov:skip=CKV2_AWS_34:Not a secret: public CA certificates.
  name        = module.names.db_ca_bundle_parameter
  description = "CA bundle that verifies Aurora's TLS certificate (terraform/envs/${var.environment}/${var.db_ca_bundle_file})"
  type        = "String"
  tier        = length(local.db_ca_bundle) > 4096 ? "Advanced" : "Standard"
  value       = local.db_ca_bundle

  lifecycle {
    precondition {
      condition     = strcontains(local.db_ca_bundle, "-----BEGIN CERTIFICATE-----") && length(local.db_ca_bundle) <= 8192
      error_message = "db_ca_bundle_file must be a PEM CA bundle of at most 8 KB (the region's RDS bundle, not the ~160 KB global one): see docs/deploy.md."
    }
  }
}

resource "aws_lambda_layer_version" "dependencies" {
  layer_name               = "${local.name}-dependencies"
  description              = "Python dependencies of the exporter and reconciler (layers/)"
  filename                 = local.layer_zip
  source_code_hash         = filebase64sha256(local.layer_zip)
  compatible_runtimes      = [local.lambda_target.runtime]
  compatible_architectures = [local.lambda_target.architecture]
}

# --- AWS -----------------------------------------------------------------------------------------

# Private routes to the AWS APIs for a VPC without a NAT gateway; null when the VPC already has them
# (docs/deploy.md, "Network"). Vault and Snowflake need their own route either way.
module "network_endpoints" {
  source = "../modules/aws_network_endpoints"
  count  = var.network_endpoints == null ? 0 : 1

  name                      = local.name
  vpc_id                    = var.network_endpoints.vpc_id
  subnet_ids                = var.lambda_subnet_ids
  route_table_ids           = var.network_endpoints.route_table_ids
  client_security_group_ids = var.lambda_security_group_ids
  gateway_services          = var.network_endpoints.gateway_services
  interface_services        = var.network_endpoints.interface_services
  tags                      = local.tags
}

module "storage" {
  source = "../modules/aws_storage"

  name                       = local.name
  bucket_name                = var.export_bucket_name
  table_prefixes             = module.tables.s3_prefixes
  pipe_notification_channels = { for t, m in module.snowflake_table : t => m.notification_channel }
  export_retention_days      = var.export_retention_days
  manifest_retention_days    = var.manifest_retention_days
  refresh_retention_days     = var.refresh_retention_days
  snowflake_role_name        = local.snowflake_s3_role_name
  snowflake_iam_user_arn     = module.snowflake_account.storage_aws_iam_user_arn
  snowflake_external_id      = module.snowflake_account.storage_aws_external_id
  tags                       = local.tags
}

module "alerting" {
  source = "../modules/aws_alerting"

  name                     = local.name
  runbook_url              = var.runbook_url
  pager_subscription       = var.pager_subscription
  chat_subscription        = var.chat_subscription
  exporter_function_name   = module.exporter.function_name
  exporter_timeout_seconds = module.exporter.timeout_seconds
  reconciler_function_name = module.reconciler.function_name
  state_machine_arn        = module.orchestration.state_machine_arn
  schedule_group_name      = module.orchestration.schedule_group_name
  undelivered_queue_name   = module.orchestration.undelivered_queue_name
  reconciler_scheduled     = var.schedules_enabled
  freshness_sla_minutes    = { for t, entry in module.tables.by_name : t => lookup(entry, "freshness_sla_minutes", 120) }
  metrics_namespace        = module.names.metrics_namespace
  service_name             = module.names.service_name
  snowflake_error_notifications = {
    enabled      = var.snowflake_task_error_notifications
    role_name    = local.snowflake_sns_role_name
    iam_user_arn = module.snowflake_account.error_sns_iam_user_arn
    external_id  = module.snowflake_account.error_sns_external_id
  }
  tags = local.tags
}

# What the exporter and the reconciler share (their modules' var.common): built once, here.
locals {
  lambda_common = {
    layer_arn                 = aws_lambda_layer_version.dependencies.arn
    runtime                   = local.lambda_target.runtime
    handler                   = local.lambda_target.handler
    architecture              = local.lambda_target.architecture
    tables_parameter_name     = aws_ssm_parameter.tables.name
    overrides_path            = module.names.overrides_path
    export_bucket             = module.storage.bucket_name
    export_bucket_kms_key_arn = module.storage.kms_key_arn
    alert_topic_arn           = module.alerting.alert_topic_arn
    alert_state_table_name    = module.alerting.alert_state_table_name
    runbook_url               = var.runbook_url
    environment_name          = var.environment
    ops_kms_key_arn           = module.alerting.kms_key_arn
    database                  = merge(var.database, { ca_bundle_parameter = aws_ssm_parameter.db_ca_bundle.name })
    vault                     = var.vault
    snowflake = {
      account       = var.snowflake_connection.account
      warehouse     = module.snowflake_account.warehouse
      database      = module.snowflake_account.database
      role          = module.snowflake_account.service_role
      fallback_user = var.snowflake_connection.fallback_user
    }
    service_name       = module.names.service_name
    metrics_namespace  = module.names.metrics_namespace
    subnet_ids         = var.lambda_subnet_ids
    security_group_ids = var.lambda_security_group_ids
    log_retention_days = 365
    tags               = local.tags
  }
}

# Fallback ciphertexts are per function (its own key and encryption context LambdaFunctionName).
module "exporter" {
  source = "../modules/aws_exporter"

  common                    = local.lambda_common
  name                      = "${local.name}-exporter"
  zip_path                  = local.exporter_zip
  fallback_ciphertexts      = try(var.fallback_ciphertexts["exporter"], {})
  timeout_seconds           = var.exporter.timeout_seconds
  memory_mb                 = var.exporter.memory_mb
  reserved_concurrency      = var.exporter.reserved_concurrency
  table_prefixes            = module.tables.s3_prefixes
  export_mode               = var.exporter.export_mode
  max_range_hours           = var.exporter.max_range_hours
  lease_alert_after_minutes = var.exporter.lease_alert_after_minutes
  refresh_rows_per_range    = var.exporter.refresh_rows_per_range
  refresh_statement_seconds = var.exporter.refresh_statement_seconds
}

module "reconciler" {
  source = "../modules/aws_reconciler"

  common                  = local.lambda_common
  name                    = "${local.name}-reconciler"
  zip_path                = local.reconciler_zip
  fallback_ciphertexts    = try(var.fallback_ciphertexts["reconciler"], {})
  timeout_seconds         = var.reconciler.timeout_seconds
  memory_mb               = var.reconciler.memory_mb
  reserved_concurrency    = var.reconciler.reserved_concurrency
  sync_state_machine_name = module.orchestration.state_machine_name
  # Scheduled runs and status-change events that fail every retry: the pager.
  invocation_failure_topic_arn = module.alerting.alarm_topic_arn
  lookback_hours               = var.reconciler.lookback_hours
  load_grace_minutes           = var.reconciler.load_grace_minutes
}

# What the <env>-plan GitHub environment's AWS role must not do, beside AWS-managed ReadOnlyAccess
# (the role itself is created outside this stack: every plan, the first included, runs as it).
module "ci_plan_policy" {
  source = "../modules/aws_ci_plan_policy"

  export_bucket_arn         = module.storage.bucket_arn
  export_bucket_kms_key_arn = module.storage.kms_key_arn
}

module "orchestration" {
  source = "../modules/aws_orchestration"

  name                       = local.name
  exporter_function_arn      = module.exporter.function_arn
  exporter_timeout_seconds   = module.exporter.timeout_seconds
  reconciler_function_arn    = module.reconciler.function_arn
  reconciler_timeout_seconds = module.reconciler.timeout_seconds
  ops_kms_key_arn            = module.alerting.kms_key_arn
  table_count                = length(module.tables.by_name)
  schedules_enabled          = var.schedules_enabled
  max_concurrency            = var.sync.max_concurrency
  split_parts                = var.sync.split_parts
  ingestion_wait_seconds     = var.sync.ingestion_wait_seconds
  retry                      = var.sync.retry
  tags                       = local.tags
}

# --- Snowflake -----------------------------------------------------------------------------------

module "snowflake_account" {
  source = "../modules/snowflake_account"
  providers = {
    snowflake              = snowflake
    snowflake.accountadmin = snowflake.accountadmin
  }

  database       = var.snowflake_connection.database
  warehouse_name = module.names.snowflake.warehouse
  warehouse_size = var.snowflake_warehouse.size
  resource_monitor = {
    credit_quota = var.snowflake_warehouse.credit_quota
    notify_users = var.snowflake_warehouse.notify_users
  }
  storage_integration_name = module.names.snowflake.storage_integration
  service_role_name        = module.names.snowflake.service_role
  bucket_name              = var.export_bucket_name
  aws_role_arn             = "${local.iam_arn_prefix}/${local.snowflake_s3_role_name}"
  owner_role_name          = var.snowflake_owner_role
  service_user_name        = var.snowflake_connection.service_user
  plan_role_name           = var.snowflake_plan_role
  task_error_notifications = {
    enabled      = var.snowflake_task_error_notifications
    topic_arn    = module.alerting.alert_topic_arn
    aws_role_arn = "${local.iam_arn_prefix}/${local.snowflake_sns_role_name}"
  }
}

module "snowflake_table" {
  source   = "../modules/snowflake_table"
  for_each = module.tables.by_name

  table                  = each.value
  database               = module.snowflake_account.database
  staging_schema         = module.snowflake_account.staging_schema
  final_schema           = module.snowflake_account.final_schema
  stage_url              = "s3://${var.export_bucket_name}/${module.tables.s3_prefixes[each.key]}"
  storage_integration    = module.snowflake_account.storage_integration
  file_format            = module.snowflake_account.file_format
  warehouse              = module.snowflake_account.warehouse
  task_schedule          = var.snowflake_warehouse.task_schedule
  error_integration      = module.snowflake_account.error_integration
  staging_retention_days = var.staging_retention_days

  # After the account module's future grants (SELECT, MONITOR), so they cover these objects.
  depends_on = [module.snowflake_account]
}
