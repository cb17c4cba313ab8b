data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  ssm_arn_prefix = "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:parameter"
  bucket_arn     = "arn:${data.aws_partition.current.partition}:s3:::${var.common.export_bucket}"

  # The deploy contract (aurora_sync.settings.ReconcilerSettings); empty values are left out.
  environment = {
    TABLES_PARAMETER                = var.common.tables_parameter_name
    OVERRIDES_PATH                  = var.common.overrides_path # named in a full-refresh rerun; never read
    EXPORT_BUCKET                   = var.common.export_bucket
    ALERT_TOPIC_ARN                 = var.common.alert_topic_arn
    ALERT_STATE_TABLE               = var.common.alert_state_table_name
    RUNBOOK_URL                     = var.common.runbook_url
    SYNC_ENVIRONMENT                = var.common.environment_name
    RECONCILE_LOOKBACK_HOURS        = tostring(var.lookback_hours)
    LOAD_GRACE_MINUTES              = tostring(var.load_grace_minutes)
    RENOTIFY_MINUTES                = tostring(var.renotify_minutes)
    SAMPLE_SIZE                     = tostring(var.sample_size)
    SELF_ALERT_P1_AFTER             = tostring(var.self_alert_p1_after)
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
  description            = "aurora-snowflake-sync reconciler: manifests vs Snowflake history, freshness, samples"
  handler                = var.common.handler
  runtime                = var.common.runtime
  zip_path               = var.zip_path
  layer_arns             = [var.common.layer_arn]
  architecture           = var.common.architecture
  timeout_seconds        = var.timeout_seconds
  memory_mb              = var.memory_mb
  reserved_concurrency   = var.reserved_concurrency
  environment            = local.environment
  policy_statements_json = data.aws_iam_policy_document.reconciler.json
  subnet_ids             = var.common.subnet_ids
  security_group_ids     = var.common.security_group_ids
  log_retention_days     = var.common.log_retention_days
  logs_kms_key_arn       = var.common.ops_kms_key_arn
  tags                   = var.common.tags
}

# EventBridge Scheduler (hourly run) and the status-change rule invoke the reconciler
# asynchronously. Lambda retries a failed invocation and then discards it; the retries are stated
# here, and what still fails goes to the alarms topic (pager) as an invocation record: the event,
# the error, and how many attempts were made.
resource "aws_lambda_function_event_invoke_config" "reconciler" {
  function_name                = module.function.function_name
  maximum_retry_attempts       = var.async_retry_attempts
  maximum_event_age_in_seconds = 3600

  destination_config {
    on_failure {
      destination = var.invocation_failure_topic_arn
    }
  }
}
