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
  description = "Snowflake database of the environment (snowflake_connection.database in its terraform.tfvars)."
  type        = string
}

variable "bucket" {
  description = "Export bucket name used in stage URLs."
  type        = string
}

variable "asl_vars" {
  description = "Values for the state machine template (see modules/aws_orchestration)."
  type        = map(string)
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

output "state_machine" {
  value = jsonencode(jsondecode(templatefile("${path.module}/../../../terraform/modules/aws_orchestration/state_machine.asl.json", var.asl_vars)))
}
