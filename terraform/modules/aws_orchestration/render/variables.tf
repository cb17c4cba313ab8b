variable "exporter_function_arn" {
  description = "Exporter Lambda ARN (plan, export, split)."
  type        = string
}

variable "reconciler_function_arn" {
  description = "Reconciler Lambda ARN."
  type        = string
}

variable "state_machine_arn" {
  description = "ARN of the sync state machine, for the pattern of its status-change events."
  type        = string
}

variable "execution_timeout_seconds" {
  description = "TimeoutSeconds of one execution; must cover the worst case of an hourly run (checked)."
  type        = number
}

variable "table_count" {
  description = "Tables in tables.json: the hourly run's Map items (one incremental item per table)."
  type        = number
}

variable "max_concurrency" {
  description = "Chunks exported at once (Map MaxConcurrency)."
  type        = number
}

variable "split_parts" {
  description = "Windows a timed-out chunk is cut into."
  type        = number
}

variable "split_concurrency" {
  description = "Parts of one split chunk exported at once."
  type        = number
}

variable "retry" {
  description = "Backoff of transient errors: first interval, retries after the first attempt, multiplier."
  type = object({
    interval_seconds = number
    max_attempts     = number
    backoff_rate     = number
  })
}

variable "export_task_timeout_seconds" {
  description = "TimeoutSeconds of each exporter task (export, split, part): a little over the Lambda timeout."
  type        = number
}

variable "reconcile_task_timeout_seconds" {
  description = "TimeoutSeconds of the reconciler task: a little over the Lambda timeout."
  type        = number
}

variable "ingestion_wait_seconds" {
  description = "Wait between the last export and the reconciler."
  type        = number
}
