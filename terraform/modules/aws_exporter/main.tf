data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  ssm_arn_prefix = "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:parameter"
  bucket_arn     = "arn:${data.aws_partition.current.partition}:s3:::${var.common.export_bucket}"

  # The deploy contract (DESIGN.md §4, aurora_sync.settings.ExporterSettings); empty values are left out.
  environment = {
    TABLES_PARAMETER                = var.common.tables_parameter_name
    OVERRIDES_PATH                  = var.common.overrides_path
    EXPORT_BUCKET                   = var.common.export_bucket
    EXPORT_MODE                     = var.export_mode
    EXPORT_TEMP_PREFIX              = var.incoming_prefix
    EXPORT_PART_MIB                 = tostring(var.export_part_mib)
    MAX_RANGE_HOURS                 = tostring(var.max_range_hours)
    ALERT_TOPIC_ARN                 = var.common.alert_topic_arn
    ALERT_STATE_TABLE               = var.common.alert_state_table_name
    RUNBOOK_URL                     = var.common.runbook_url
    SYNC_ENVIRONMENT                = var.common.environment_name
    EXPORT_LEASE_TABLE              = aws_dynamodb_table.export_lease.name
    LEASE_ALERT_AFTER_MINUTES       = tostring(var.lease_alert_after_minutes)
    REFRESH_ROWS_PER_RANGE          = tostring(var.refresh_rows_per_range)
    REFRESH_STATEMENT_SECONDS       = tostring(var.refresh_statement_seconds)
    DB_HOST                         = var.common.database.host
    DB_PORT                         = tostring(var.common.database.port)
    DB_NAME                         = var.common.database.name
    DB_SSL_CA_BUNDLE_PARAMETER      = var.common.database.ca_bundle_parameter
    DB_USER                         = var.common.database.fallback_user
    DB_PASSWORD_ENCRYPTED           = var.fallback_ciphertexts.db_password
    VAULT_ADDR                      = var.common.vault.addr
    VAULT_AUTH_METHOD               = var.common.vault.auth_method
    VAULT_ROLE                      = var.common.vault.role
    VAULT_AWS_HEADER_VALUE          = var.common.vault.aws_header_value
    VAULT_KV_MOUNT                  = var.common.vault.kv_mount
    VAULT_SECRET_PATH               = var.common.vault.secret_path
    VAULT_SNOWFLAKE_SECRET_PATH     = var.common.vault.snowflake_secret_path
    VAULT_DB_ROLE                   = var.common.vault.db_role
    VAULT_NAMESPACE                 = var.common.vault.namespace
    SNOWFLAKE_ACCOUNT               = var.common.snowflake.account
    SNOWFLAKE_WAREHOUSE             = var.common.snowflake.warehouse
    SNOWFLAKE_DATABASE              = var.common.snowflake.database
    SNOWFLAKE_ROLE                  = var.common.snowflake.role
    SNOWFLAKE_USER                  = var.common.snowflake.fallback_user
    SNOWFLAKE_PRIVATE_KEY_ENCRYPTED = var.fallback_ciphertexts.snowflake_private_key
    POWERTOOLS_SERVICE_NAME         = var.common.service_name
    POWERTOOLS_METRICS_NAMESPACE    = var.common.metrics_namespace
  }
}

module "function" {
  source = "../aws_lambda_function"

  name                   = var.name
  description            = "aurora-snowflake-sync exporter: Aurora window -> S3 CSV + manifest"
  handler                = var.common.handler
  runtime                = var.common.runtime
  zip_path               = var.zip_path
  layer_arns             = [var.common.layer_arn]
  architecture           = var.common.architecture
  timeout_seconds        = var.timeout_seconds
  memory_mb              = var.memory_mb
  reserved_concurrency   = var.reserved_concurrency
  environment            = local.environment
  policy_statements_json = data.aws_iam_policy_document.exporter.json
  subnet_ids             = var.common.subnet_ids
  security_group_ids     = var.common.security_group_ids
  log_retention_days     = var.common.log_retention_days
  logs_kms_key_arn       = var.common.ops_kms_key_arn
  tags                   = var.common.tags
}
