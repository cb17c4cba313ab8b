output "prefix" {
  description = "Prefix of every AWS resource name (functions, roles, tables, topics, alarms, state machine): aurora-snowflake-sync-<env>."
  value       = "${local.project}-${var.environment}"
}

output "tables_parameter" {
  description = "SSM parameter of the table index (TABLES_PARAMETER); one parameter per table under `<it>/`."
  value       = "${local.ssm_root}/tables"
}

output "overrides_path" {
  description = "SSM path of on-call's per-table overrides (OVERRIDES_PATH), ending in a slash."
  value       = "${local.ssm_root}/overrides/"
}

output "db_ca_bundle_parameter" {
  description = "SSM parameter of the Aurora CA bundle (DB_SSL_CA_BUNDLE_PARAMETER)."
  value       = "${local.ssm_root}/db-ca-bundle"
}

output "service_name" {
  description = "Powertools service of both Lambdas (POWERTOOLS_SERVICE_NAME): the `service` dimension of every custom metric and the `service` field of every log line."
  value       = "${local.project}-${var.environment}"
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the custom metrics (POWERTOOLS_METRICS_NAMESPACE)."
  value       = "AuroraSnowflakeSync/${var.environment}"
}

output "snowflake" {
  description = "Account-level Snowflake objects: task warehouse, storage integration (its error notification integration appends _ERRORS), the Lambdas' role."
  value = {
    warehouse           = "SYNC_WH_${local.snowflake_env}"
    storage_integration = "AURORA_EXPORTS_${local.snowflake_env}"
    service_role        = "AURORA_SYNC_SERVICE_${local.snowflake_env}"
  }
}
