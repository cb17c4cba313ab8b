output "database" {
  description = "Database name."
  value       = snowflake_database.sync.name
}

output "staging_schema" {
  description = "STAGING schema name."
  value       = snowflake_schema.staging.name
}

output "final_schema" {
  description = "FINAL schema name."
  value       = snowflake_schema.final.name
}

output "warehouse" {
  description = "Task warehouse name."
  value       = snowflake_warehouse.tasks.name
}

output "file_format" {
  description = "Fully qualified name of the CSV file format."
  value       = snowflake_file_format_csv.aurora_csv.fully_qualified_name
}

output "storage_integration" {
  description = "Storage integration name."
  value       = snowflake_storage_integration_aws.exports.name
}

output "storage_aws_iam_user_arn" {
  description = "The integration's IAM user: principal of the AWS role's trust policy."
  value       = snowflake_storage_integration_aws.exports.describe_output[0].iam_user_arn
}

output "storage_aws_external_id" {
  description = "The integration's external id: condition of the AWS role's trust policy."
  value       = snowflake_storage_integration_aws.exports.describe_output[0].external_id
}

output "error_integration" {
  description = "Notification integration for task/pipe errors, or null."
  value       = var.task_error_notifications.enabled ? snowflake_notification_integration.errors[0].name : null
}

output "error_sns_iam_user_arn" {
  description = "The notification integration's IAM user (trust of the SNS publishing role), or null."
  value       = var.task_error_notifications.enabled ? snowflake_notification_integration.errors[0].aws_sns_iam_user_arn : null
}

output "error_sns_external_id" {
  description = "The notification integration's external id, or null."
  value       = var.task_error_notifications.enabled ? snowflake_notification_integration.errors[0].aws_sns_external_id : null
}

output "service_role" {
  description = "Role of the Lambdas (SNOWFLAKE_ROLE)."
  value       = snowflake_account_role.service.name
}
