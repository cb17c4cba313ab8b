variable "database" {
  description = "Database holding the STAGING and FINAL schemas (SNOWFLAKE_DATABASE); every pipe, task and Lambda query names it."
  type        = string

  validation {
    # The provider creates the database under this exact (quoted) name, while the SQL of the pipes,
    # tasks and Lambdas quotes the upper-cased name: only an upper-case name is the same object in both.
    condition     = can(regex("^[A-Z_][A-Z0-9_$]*$", var.database)) && length(var.database) <= 63
    error_message = "database must be an upper-case identifier matching ^[A-Z_][A-Z0-9_$]*$ (at most 63 characters)."
  }
}

variable "staging_schema" {
  description = "Schema of the staging tables, stages, pipes, streams and tasks."
  type        = string
  default     = "STAGING"
}

variable "final_schema" {
  description = "Schema of the FINAL tables analysts query."
  type        = string
  default     = "FINAL"
}

variable "warehouse_name" {
  description = "Warehouse running the MERGE tasks (and the Lambdas' small queries)."
  type        = string

  validation {
    # Upper case: the provider quotes the name it creates, the Lambdas' connection does not.
    condition     = can(regex("^[A-Z_][A-Z0-9_$]*$", var.warehouse_name))
    error_message = "warehouse_name must be an upper-case identifier (modules/names derives it from the environment)."
  }
}

variable "resource_monitor" {
  description = "The warehouse's monthly credit quota (Snowflake e-mails at 80 % and 100 %, never suspends) and extra Snowflake users to notify besides the account administrators."
  type = object({
    credit_quota = number
    notify_users = optional(list(string), [])
  })

  validation {
    condition     = var.resource_monitor.credit_quota > 0
    error_message = "resource_monitor.credit_quota must be a positive number of credits per month."
  }
}

variable "warehouse_size" {
  description = "Size of the task warehouse."
  type        = string
  default     = "XSMALL"
}

variable "storage_integration_name" {
  description = "Name of the storage integration for the export bucket."
  type        = string

  validation {
    # Upper case: the provider quotes the name it creates, the Lambdas' connection does not.
    condition     = can(regex("^[A-Z_][A-Z0-9_$]*$", var.storage_integration_name))
    error_message = "storage_integration_name must be an upper-case identifier (modules/names derives it from the environment)."
  }
}

variable "bucket_name" {
  description = "Export bucket; the integration may read only s3://<bucket>/."
  type        = string
}

variable "aws_role_arn" {
  description = "ARN of the IAM role the integration assumes (computed before the role exists; see docs/deploy.md)."
  type        = string
}

variable "task_error_notifications" {
  description = "Send failed task/pipe notifications to SNS through a notification integration (AWS-hosted accounts)."
  type = object({
    enabled      = bool
    topic_arn    = optional(string)
    aws_role_arn = optional(string)
  })
  default = { enabled = false }

  validation {
    condition     = !var.task_error_notifications.enabled || (var.task_error_notifications.topic_arn != null && var.task_error_notifications.aws_role_arn != null)
    error_message = "task_error_notifications needs topic_arn and aws_role_arn when enabled."
  }
}

variable "service_role_name" {
  description = "Role the Lambdas use (SNOWFLAKE_ROLE): reads FINAL watermarks, load and task history."
  type        = string

  validation {
    # Upper case: the provider quotes the name it creates, the Lambdas' connection does not.
    condition     = can(regex("^[A-Z_][A-Z0-9_$]*$", var.service_role_name))
    error_message = "service_role_name must be an upper-case identifier (modules/names derives it from the environment)."
  }
}

variable "service_user_name" {
  description = "Existing Snowflake user of the Lambdas (key-pair auth; its key lives in Vault) granted the service role; null to grant it by hand."
  type        = string
  default     = null
}

variable "owner_role_name" {
  description = "Role Terraform runs as for schema objects (the default provider's role); it owns the tasks and needs EXECUTE TASK."
  type        = string
  default     = "SYSADMIN"
}

variable "plan_role_name" {
  description = "Existing role of the read-only user CI plans connect as (created with that user before the first plan, docs/deploy.md); plan_role.tf lets it see every object of this module and of the per-table modules, and read no rows."
  type        = string
}
