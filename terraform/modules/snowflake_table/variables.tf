variable "table" {
  description = "One tables.json entry (DESIGN.md §3), as jsondecode() returns it."
  type = object({
    table_name            = string
    watermark_col         = string
    primary_keys          = list(string)
    columns               = list(object({ name = string, type = string, retired = optional(bool, false) }))
    soft_delete_col       = optional(string)
    lookback_seconds      = optional(number, 0)
    freshness_sla_minutes = optional(number, 120)
    target_table          = optional(string)
    delete_detection      = optional(string, "off")
  })
}

variable "database" {
  description = "Database of the STAGING and FINAL schemas."
  type        = string
}

variable "staging_schema" {
  description = "STAGING schema name."
  type        = string
}

variable "final_schema" {
  description = "FINAL schema name."
  type        = string
}

variable "stage_url" {
  description = "s3://<bucket>/<schema.table>/: the table's export prefix."
  type        = string
}

variable "storage_integration" {
  description = "Storage integration the stage reads through."
  type        = string
}

variable "file_format" {
  description = "Fully qualified CSV file format."
  type        = string
}

variable "warehouse" {
  description = "Warehouse of the MERGE task."
  type        = string
}

variable "task_schedule" {
  description = "How often the task checks its stream: 'N MINUTE' or 'USING CRON <expr> <tz>'."
  type        = string
  default     = "5 MINUTE"
}

variable "staging_retention_days" {
  description = "Days the MERGE task keeps staged rows (7..365)."
  type        = number
  default     = 14
}

variable "error_integration" {
  description = "Notification integration for failed task runs and pipe loads, or null."
  type        = string
  default     = null
}

variable "suspend_task_after_failures" {
  description = "Consecutive failed runs after which Snowflake suspends the task (the reconciler alerts long before)."
  type        = number
  default     = 10
}
