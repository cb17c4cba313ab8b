variable "name" {
  description = "Function name, e.g. aurora-snowflake-sync-dev-reconciler."
  type        = string
}

variable "zip_path" {
  description = "Path of the built function zip."
  type        = string
}

variable "layer_arn" {
  description = "ARN of the dependency layer version."
  type        = string
}

variable "runtime" {
  description = "Lambda runtime (layers/target.json)."
  type        = string
  default     = "python3.12"
}

variable "handler" {
  description = "Handler inside the function zip (layers/target.json: handler.py at the zip root)."
  type        = string
  default     = "handler.handler"
}

variable "architecture" {
  description = "Instruction set; must match the layer's build."
  type        = string
  default     = "x86_64"
}

variable "timeout_seconds" {
  description = "Function timeout in seconds."
  type        = number
  default     = 300
}

variable "memory_mb" {
  description = "Function memory in MB."
  type        = number
  default     = 512
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions."
  type        = number
  default     = 2
}

variable "tables_parameter_name" {
  description = "SSM parameter of the table index (TABLES_PARAMETER); each table's parameter is <it>/<schema.table>."
  type        = string
}

variable "overrides_path" {
  description = "SSM path of the per-table overrides (OVERRIDES_PATH): the reconciler names the override to set in an alert whose re-run is a full refresh; it never reads or writes one."
  type        = string
}

variable "export_bucket" {
  description = "Export bucket name (EXPORT_BUCKET)."
  type        = string
}

variable "export_bucket_kms_key_arn" {
  description = "KMS key of the export bucket."
  type        = string
}

variable "alert_topic_arn" {
  description = "Alerts topic (ALERT_TOPIC_ARN)."
  type        = string
}

variable "alert_state_table_name" {
  description = "DynamoDB alert-state table (ALERT_STATE_TABLE)."
  type        = string
}

variable "ops_kms_key_arn" {
  description = "Key of the alerts and alarms topics, alert-state table and log groups."
  type        = string
}

variable "sync_state_machine_name" {
  description = "Name of the sync state machine: the reconciler reads its failed executions' causes (DescribeExecution)."
  type        = string
}

variable "invocation_failure_topic_arn" {
  description = "Topic (the alarms topic: pager) that receives the record of an asynchronous invocation that failed every attempt."
  type        = string
}

variable "async_retry_attempts" {
  description = "Retries of a failed asynchronous invocation (scheduled run, status-change event) before its record goes to invocation_failure_topic_arn (0..2)."
  type        = number
  default     = 2

  validation {
    condition     = var.async_retry_attempts >= 0 && var.async_retry_attempts <= 2
    error_message = "async_retry_attempts must be 0, 1 or 2 (Lambda's limit)."
  }
}

variable "database" {
  description = "Aurora connection: writer endpoint (the name on the server certificate), port, database name, SSM parameter of the CA bundle that verifies TLS; fallback user and its KMS ciphertext (base64, context LambdaFunctionName) for when Vault is unreachable."
  type = object({
    host                        = string
    port                        = optional(number, 5432)
    name                        = string
    ca_bundle_parameter         = string
    fallback_user               = optional(string)
    fallback_password_encrypted = optional(string)
  })
}

variable "vault" {
  description = "Vault: address, auth method (aws in AWS) and role, KV v2 paths of the Aurora and Snowflake secrets, optional database-engine role and namespace."
  type = object({
    addr                  = string
    auth_method           = optional(string, "aws")
    role                  = string
    aws_header_value      = optional(string)
    kv_mount              = optional(string, "secret")
    secret_path           = string
    snowflake_secret_path = string
    db_role               = optional(string)
    namespace             = optional(string)
  })

  validation {
    condition     = contains(["aws", "approle", "token"], var.vault.auth_method)
    error_message = "vault.auth_method must be aws, approle or token."
  }
}

variable "snowflake" {
  description = "Snowflake connection: account, warehouse, database, role; fallback user and KMS ciphertext of its private key."
  type = object({
    account                        = string
    warehouse                      = string
    database                       = string
    role                           = string
    fallback_user                  = optional(string)
    fallback_private_key_encrypted = optional(string)
  })
}

variable "service_name" {
  description = "POWERTOOLS_SERVICE_NAME (also the `service` dimension of custom metrics)."
  type        = string
}

variable "metrics_namespace" {
  description = "POWERTOOLS_METRICS_NAMESPACE."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets with routes to Aurora, Vault, Snowflake and the AWS APIs."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups for the function."
  type        = list(string)
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

variable "lookback_hours" {
  description = "How far back manifests are checked (RECONCILE_LOOKBACK_HOURS, <= 168)."
  type        = number
  default     = 24
}

variable "load_grace_minutes" {
  description = "How long a manifest's files may be missing from COPY_HISTORY before alerting (LOAD_GRACE_MINUTES)."
  type        = number
  default     = 30
}

variable "renotify_minutes" {
  description = "How often an open problem is re-sent (RENOTIFY_MINUTES)."
  type        = number
  default     = 240
}

variable "sample_size" {
  description = "Recent primary keys sampled per table (SAMPLE_SIZE)."
  type        = number
  default     = 20
}

variable "self_alert_p1_after" {
  description = "Runs in a row a check cannot run before it pages P1 (SELF_ALERT_P1_AFTER)."
  type        = number
  default     = 3
}

variable "manifest_prefix" {
  description = "Prefix of the manifests (fixed by the exporter's layout: aurora_sync.layout.MANIFEST_ROOT)."
  type        = string
  default     = "_manifests/"
}

variable "pending_prefix" {
  description = "Prefix of the exporter's publish pins (fixed by its layout: aurora_sync.layout.PENDING_ROOT)."
  type        = string
  default     = "_pending/"
}
