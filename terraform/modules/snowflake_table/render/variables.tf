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

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_$]*[.][A-Za-z_][A-Za-z0-9_$]*$", var.table.table_name))
    error_message = "table_name must be schema.table, each part matching ^[A-Za-z_][A-Za-z0-9_$]*$."
  }
  validation {
    condition = alltrue([
      for name in concat([var.table.watermark_col], var.table.primary_keys, [for c in var.table.columns : c.name]) :
      can(regex("^[A-Za-z_][A-Za-z0-9_$]*$", name))
    ])
    error_message = "Every column, key and watermark name must match ^[A-Za-z_][A-Za-z0-9_$]*$."
  }
}

variable "database" {
  description = "Database of the STAGING and FINAL schemas: the first part of every object name in the SQL (SNOWFLAKE_DATABASE on the Python side)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_$]*$", var.database)) && length(var.database) <= 63
    error_message = "database must match ^[A-Za-z_][A-Za-z0-9_$]*$ (at most 63 characters), as aurora_sync.identifiers requires."
  }
}

variable "stage_url" {
  description = "s3://bucket/<schema.table>/ URL of the table's external stage."
  type        = string
}

variable "storage_integration" {
  description = "Name of the Snowflake storage integration the stage uses."
  type        = string
  default     = "AURORA_EXPORTS"
}

variable "warehouse" {
  description = "Warehouse that runs the MERGE task."
  type        = string
  default     = "SYNC_WH"
}

variable "schedule" {
  description = "Task schedule: 'N MINUTE' or 'USING CRON <expr> <tz>'."
  type        = string
  default     = "5 MINUTE"

  validation {
    condition     = can(regex("^([0-9]+ (MINUTE|MINUTES)|USING CRON [0-9*/,\\- ]+ [A-Za-z_/]+)$", var.schedule))
    error_message = "schedule must be 'N MINUTE' or 'USING CRON ...'."
  }
}

variable "staging_retention_days" {
  description = "Days the task keeps staged rows after loading them (FINAL never needs them); at least the reconciler's 7-day look-back."
  type        = number
  default     = 14

  validation {
    condition     = var.staging_retention_days >= 7 && var.staging_retention_days <= 365 && floor(var.staging_retention_days) == var.staging_retention_days
    error_message = "staging_retention_days must be a whole number of days, 7..365."
  }
}

variable "staging_schema" {
  description = "Schema of the STAGING table, stage, pipe, stream and task."
  type        = string
  default     = "STAGING"
}

variable "final_schema" {
  description = "Schema of the FINAL table."
  type        = string
  default     = "FINAL"
}
