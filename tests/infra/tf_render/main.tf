# A provider-free root that evaluates, offline, what the real roots compute from tables.json and
# from the state machine template. tests/infra runs `terraform apply` on it with local state in a
# temp dir and compares the outputs with what the Python code renders and accepts.
terraform {
  required_version = ">= 1.5.0"
}

variable "tables_file" {
  description = "Path of the tables.json to evaluate (an environment's)."
  type        = string
}

variable "database" {
  description = "Snowflake database of the environment (snowflake_connection.database of its system call)."
  type        = string
}

variable "bucket" {
  description = "Export bucket name used in stage URLs."
  type        = string
}

variable "orchestration" {
  description = "Inputs of modules/aws_orchestration/render (the state machine, its worst case, its event pattern)."
  type = object({
    exporter_function_arn          = string
    reconciler_function_arn        = string
    state_machine_arn              = string
    execution_timeout_seconds      = number
    table_count                    = number
    max_concurrency                = number
    split_parts                    = number
    split_concurrency              = number
    retry                          = object({ interval_seconds = number, max_attempts = number, backoff_rate = number })
    export_task_timeout_seconds    = number
    reconcile_task_timeout_seconds = number
    ingestion_wait_seconds         = number
  })
}

variable "tables_parameter" {
  description = "SSM name of the table index (the environment's module.names.tables_parameter)."
  type        = string
}

variable "render_sql" {
  description = "Render every table's SQL too (false: only the SSM parameters, for large generated lists)."
  type        = bool
  default     = true
}

module "tables" {
  source         = "../../../terraform/modules/tables"
  tables_json    = file(var.tables_file)
  parameter_name = var.tables_parameter
}

module "render" {
  source    = "../../../terraform/modules/snowflake_table/render"
  for_each  = { for name, table in module.tables.by_name : name => table if var.render_sql }
  table     = each.value
  database  = var.database
  stage_url = "s3://${var.bucket}/${module.tables.s3_prefixes[each.key]}"
}

output "ssm_parameters" {
  description = "The table list's SSM parameters but the index: name => value."
  value       = module.tables.ssm_parameters
}

output "ssm_index" {
  description = "The index parameter's value."
  value       = module.tables.ssm_index
}

output "s3_prefixes" {
  value = module.tables.s3_prefixes
}

output "render" {
  value = module.render
}

module "orchestration" {
  source = "../../../terraform/modules/aws_orchestration/render"

  exporter_function_arn          = var.orchestration.exporter_function_arn
  reconciler_function_arn        = var.orchestration.reconciler_function_arn
  state_machine_arn              = var.orchestration.state_machine_arn
  execution_timeout_seconds      = var.orchestration.execution_timeout_seconds
  table_count                    = var.orchestration.table_count
  max_concurrency                = var.orchestration.max_concurrency
  split_parts                    = var.orchestration.split_parts
  split_concurrency              = var.orchestration.split_concurrency
  retry                          = var.orchestration.retry
  export_task_timeout_seconds    = var.orchestration.export_task_timeout_seconds
  reconcile_task_timeout_seconds = var.orchestration.reconcile_task_timeout_seconds
  ingestion_wait_seconds         = var.orchestration.ingestion_wait_seconds
}

output "state_machine" {
  value = module.orchestration.definition
}

output "state_machine_worst_case_seconds" {
  value = module.orchestration.worst_case_seconds
}

output "status_change_pattern" {
  value = module.orchestration.status_change_pattern
}
