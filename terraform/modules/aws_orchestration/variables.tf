variable "name" {
  description = "Name prefix of every resource (e.g. aurora-snowflake-sync-dev)."
  type        = string
}

variable "exporter_function_arn" {
  description = "Exporter Lambda ARN (plan, export, split)."
  type        = string
}

variable "exporter_timeout_seconds" {
  description = "Exporter Lambda timeout; each export task times out a little after it."
  type        = number
}

variable "reconciler_function_arn" {
  description = "Reconciler Lambda ARN."
  type        = string
}

variable "reconciler_timeout_seconds" {
  description = "Reconciler Lambda timeout."
  type        = number
}

variable "ops_kms_key_arn" {
  description = "Key of the log group and of the undelivered queue (the alerting module's key)."
  type        = string
}

variable "table_count" {
  description = "Tables in tables.json: the hourly run exports one item per table (sizes the worst case the execution timeout must cover)."
  type        = number
}

variable "sync_schedule" {
  description = "EventBridge Scheduler expression of the sync run."
  type        = string
  default     = "cron(5 * * * ? *)"
}

variable "reconcile_schedule" {
  description = "EventBridge Scheduler expression of the reconciler's own run (independent of the state machine)."
  type        = string
  default     = "cron(40 * * * ? *)"
}

variable "schedule_timezone" {
  description = "Time zone of the schedule expressions."
  type        = string
  default     = "UTC"
}

variable "schedules_enabled" {
  description = "Whether the hourly schedules run (turn off to pause the pipeline)."
  type        = bool
  default     = true
}

variable "max_concurrency" {
  description = "Chunks exported at once (Map MaxConcurrency); bounded by the exporter's reserved concurrency."
  type        = number
  default     = 4

  validation {
    condition     = var.max_concurrency >= 1 && var.max_concurrency <= 40
    error_message = "max_concurrency must be between 1 and 40."
  }
}

variable "split_parts" {
  description = "Windows a timed-out chunk is cut into (2..16)."
  type        = number
  default     = 4

  validation {
    condition     = var.split_parts >= 2 && var.split_parts <= 16
    error_message = "split_parts must be between 2 and 16 (the exporter's limit)."
  }
}

variable "split_concurrency" {
  description = "Parts of one split chunk exported at once."
  type        = number
  default     = 2
}

variable "retry" {
  description = "Backoff of transient errors (ExportRunRetryable, Lambda service errors)."
  type = object({
    interval_seconds = number
    max_attempts     = number
    backoff_rate     = number
  })
  default = {
    interval_seconds = 30
    max_attempts     = 3
    backoff_rate     = 2
  }

  validation {
    condition     = var.retry.interval_seconds >= 1 && var.retry.max_attempts >= 0 && var.retry.backoff_rate >= 1
    error_message = "retry needs interval_seconds >= 1, max_attempts >= 0 and backoff_rate >= 1."
  }
}

variable "ingestion_wait_seconds" {
  description = "Wait between the last export and the reconciler (Snowpipe load + merge task)."
  type        = number
  default     = 300
}

variable "execution_timeout_seconds" {
  description = "Hard limit of one execution (manual backfills included); refused below the worst case of an hourly run (retries, split, parts, wait, reconcile), about 5.2 h with the defaults."
  type        = number
  default     = 21600
}

variable "log_retention_days" {
  description = "Log retention in days (at least a year: audits and incident timelines)."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
