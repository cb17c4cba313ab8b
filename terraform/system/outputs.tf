output "export_bucket" {
  description = "Export bucket (EXPORT_BUCKET)."
  value       = module.storage.bucket_name
}

output "state_machine_arn" {
  description = "Sync state machine: start it by hand with a time-range input to re-export a window."
  value       = module.orchestration.state_machine_arn
}

output "exporter_function_name" {
  description = "Exporter Lambda."
  value       = module.exporter.function_name
}

output "exporter_log_group" {
  description = "The exporter's log group (every line of one invocation shares correlation_id, the run id)."
  value       = module.exporter.log_group_name
}

output "export_lease_table" {
  description = "DynamoDB table of the per-table export leases: who is exporting a table now (runbook: export-lease-held)."
  value       = module.exporter.lease_table_name
}

output "reconciler_function_name" {
  description = "Reconciler Lambda."
  value       = module.reconciler.function_name
}

output "reconciler_log_group" {
  description = "The reconciler's log group."
  value       = module.reconciler.log_group_name
}

output "lambda_role_arns" {
  description = "Execution roles: bind them in Vault's AWS auth role (bound_iam_principal_arn)."
  value       = { exporter = module.exporter.role_arn, reconciler = module.reconciler.role_arn }
}

output "fallback_kms_key_arns" {
  description = "Keys for the fallback credential ciphertexts (encryption context LambdaFunctionName=<function>)."
  value       = { exporter = module.exporter.kms_key_arn, reconciler = module.reconciler.kms_key_arn }
}

output "alert_topic_arn" {
  description = "Alerts topic (severity-routed)."
  value       = module.alerting.alert_topic_arn
}

output "alarm_topic_arn" {
  description = "Alarms topic (pager and chat): paging CloudWatch alarms and the reconciler's failed invocation records."
  value       = module.alerting.alarm_topic_arn
}

output "alert_state_table" {
  description = "DynamoDB table of open alerts (ALERT_STATE_TABLE): one item per problem, status open or resolved."
  value       = module.alerting.alert_state_table_name
}

output "undelivered_queue_name" {
  description = "SQS queue of schedule invocations and sync status changes that could not be delivered (runbook: undelivered)."
  value       = module.orchestration.undelivered_queue_name
}

output "snowflake_database" {
  description = "Snowflake database of this environment (SNOWFLAKE_DATABASE): its STAGING and FINAL schemas hold every table's objects."
  value       = module.snowflake_account.database
}

output "sync_schedule" {
  description = "The hourly sync schedule and its group (EventBridge Scheduler): `aurora-sync pause`/`resume` without a table."
  value       = { name = module.orchestration.sync_schedule_name, group = module.orchestration.schedule_group_name }
}

output "aurora_export_policy_json" {
  description = "Attach to the Aurora cluster's S3 export role (EXPORT_MODE=aurora_s3)."
  value       = module.storage.aurora_export_policy_json
}

output "snowflake_storage_integration" {
  description = "Storage integration and the IAM identity it uses (the handshake's two halves)."
  value = {
    name         = module.snowflake_account.storage_integration
    iam_user_arn = module.snowflake_account.storage_aws_iam_user_arn
    aws_role_arn = module.storage.snowflake_role_arn
  }
}

output "ci_plan_role_policy_json" {
  description = "Inline policy of the <env>-plan GitHub environment's AWS role, beside AWS-managed ReadOnlyAccess: no object reads in the export bucket, no decryption with its key (docs/deploy.md, \"Plan identities\")."
  value       = module.ci_plan_policy.json
}

output "names" {
  description = "Every account-scoped name of this environment (modules/names): SSM parameters, metric namespace and service, Snowflake warehouse, integration and role."
  value = {
    prefix                 = module.names.prefix
    tables_parameter       = module.names.tables_parameter
    overrides_path         = module.names.overrides_path
    db_ca_bundle_parameter = module.names.db_ca_bundle_parameter
    service_name           = module.names.service_name
    metrics_namespace      = module.names.metrics_namespace
    snowflake              = module.names.snowflake
  }
}

# For the env root's provider blocks (a root configures providers; these values are the system's).

output "tags" {
  description = "Tags of every AWS resource (var.tags with project, environment and managed_by): the aws provider's default_tags."
  value       = local.tags
}

output "snowflake_preview_features" {
  description = "The preview Snowflake resources the system uses: preview_features_enabled of both Snowflake provider blocks."
  value       = local.snowflake_preview_features
}
