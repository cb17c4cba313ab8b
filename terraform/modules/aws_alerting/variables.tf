variable "name" {
  description = "Name prefix of every resource (e.g. aurora-snowflake-sync-dev)."
  type        = string
}

variable "pager_subscription" {
  description = "Where P1/P2 alerts and P1/P2 CloudWatch alarms page (e.g. PagerDuty's https endpoint); null for none. P3/P4 never reach it."
  type = object({
    protocol = string
    endpoint = string
  })
  default = null
}

variable "chat_subscription" {
  description = "Where every alert (P1..P4) and every alarm is posted (e.g. a chat webhook via https, or email); null for none."
  type = object({
    protocol = string
    endpoint = string
  })
  default = null
}

variable "runbook_url" {
  description = "URL of docs/runbook.md as on-call opens it; alarm descriptions link its sections."
  type        = string
}

variable "exporter_function_name" {
  description = "Exporter Lambda name (alarms, dashboard)."
  type        = string
}

variable "exporter_timeout_seconds" {
  description = "Exporter Lambda timeout; the duration alarm fires near it."
  type        = number
}

variable "reconciler_function_name" {
  description = "Reconciler Lambda name (alarms, dashboard)."
  type        = string
}

variable "state_machine_arn" {
  description = "Sync state machine ARN (failure alarm, dashboard)."
  type        = string
}

variable "schedule_group_name" {
  description = "Schedule group of the hourly schedules (dimension of the AWS/Scheduler alarms)."
  type        = string
}

variable "undelivered_queue_name" {
  description = "SQS queue of undelivered schedule invocations and status-change events (depth alarm)."
  type        = string
}

variable "freshness_sla_minutes" {
  description = "Freshness SLA per table (schema.table => minutes), from tables.json."
  type        = map(number)
}

variable "metrics_namespace" {
  description = "CloudWatch namespace the Lambdas emit into (POWERTOOLS_METRICS_NAMESPACE)."
  type        = string
}

variable "service_name" {
  description = "Powertools service name: also the `service` dimension of every custom metric."
  type        = string
}

variable "reconciler_scheduled" {
  description = "Whether the reconciler's hourly schedule is enabled: the reconciler-silent alarm (P1) acts only then."
  type        = bool
  default     = true
}

variable "duration_alarm_ratio" {
  description = "Fraction of the exporter timeout at which the duration alarm fires."
  type        = number
  default     = 0.8

  validation {
    condition     = var.duration_alarm_ratio > 0 && var.duration_alarm_ratio < 1
    error_message = "duration_alarm_ratio must be between 0 and 1."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "snowflake_error_notifications" {
  description = "Create the IAM role a Snowflake notification integration assumes to publish failed task/pipe runs to the alerts topic."
  type = object({
    enabled      = bool
    role_name    = optional(string)
    iam_user_arn = optional(string)
    external_id  = optional(string)
  })
  default = { enabled = false }
}
