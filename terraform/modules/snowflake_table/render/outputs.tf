output "names" {
  description = "Unquoted object names: staging, final, stream, pipe, stage, task, file_format."
  value       = local.names
}

output "schemas" {
  description = "Upper-cased STAGING and FINAL schema names."
  value       = { staging = local.staging_schema, final = local.final_schema }
}

output "values" {
  description = "Every placeholder value of ../sql/*.sql (SnowflakeTable.values())."
  value       = local.values
}

output "statements" {
  description = "Every object's SQL in creation order (SnowflakeTable.statements())."
  value       = local.statements
}

output "staging_columns" {
  description = "STAGING table columns (config columns, then load metadata): name, type, nullable."
  value       = local.staging_columns
}

output "final_columns" {
  description = "FINAL table columns: name, type, nullable (primary-key columns are not)."
  value       = local.final_columns
}

output "primary_keys" {
  description = "Upper-cased primary-key column names."
  value       = [for k in var.table.primary_keys : upper(k)]
}

output "task" {
  description = "The MERGE task's body, WHEN condition and QUERY_TAG, cut from the rendered task.sql."
  value       = { body = local.task_body, when = local.task_when, query_tag = local.task_query_tag }
}
