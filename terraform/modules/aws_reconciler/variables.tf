variable "common" {
  description = "What the exporter and the reconciler share, built once by terraform/system (local.lambda_common): the layer and build target, the names, bucket and alerting they use, Aurora, Vault and Snowflake connections, network, logs, tags. aws_exporter and aws_reconciler declare it alike (tests/infra)."
  type = object({
    layer_arn                 = string # the dependency layer version
    runtime                   = string # layers/target.json, like the layer's build
    handler                   = string # handler.py at the zip root
    architecture              = string
    tables_parameter_name     = string # TABLES_PARAMETER, the table index; each table's parameter is <it>/<schema.table>
    overrides_path            = string # OVERRIDES_PATH, on-call's per-table overrides
    export_bucket             = string # EXPORT_BUCKET
    export_bucket_kms_key_arn = string
    alert_topic_arn           = string # ALERT_TOPIC_ARN
    alert_state_table_name    = string # ALERT_STATE_TABLE
    runbook_url               = string # RUNBOOK_URL, docs/runbook.md as on-call opens it: every alert links its section
    environment_name          = string # SYNC_ENVIRONMENT, the --env of the aurora-sync command beside each alert's rerun
    ops_kms_key_arn           = string # key of the alerts and alarms topics, alert state, export leases, log groups
    # Aurora: writer endpoint (the name on the server certificate), SSM parameter of the CA bundle that
    # verifies TLS, and the user of the fallback credentials for when Vault is unreachable.
    database = object({
      host                = string
      port                = number
      name                = string
      ca_bundle_parameter = string
      fallback_user       = optional(string)
    })
    # Vault: address, auth method (aws in AWS) and role, KV v2 paths of the Aurora and Snowflake
    # secrets, optional database-engine role and namespace.
    vault = object({
      addr                  = string
      auth_method           = string
      role                  = string
      aws_header_value      = optional(string)
      kv_mount              = string
      secret_path           = string
      snowflake_secret_path = string
      db_role               = optional(string)
      namespace             = optional(string)
    })
    # Snowflake: account, warehouse, database, role; the user of the fallback credentials.
    snowflake = object({
      account       = string
      warehouse     = string
      database      = string
      role          = string
      fallback_user = optional(string)
    })
    service_name       = string       # POWERTOOLS_SERVICE_NAME, the `service` dimension of custom metrics
    metrics_namespace  = string       # POWERTOOLS_METRICS_NAMESPACE
    subnet_ids         = list(string) # private subnets with routes to Aurora, Vault, Snowflake and the AWS APIs
    security_group_ids = list(string)
    log_retention_days = number # at least a year: audits and incident timelines
    tags               = map(string)
  })

  validation {
    condition     = contains(["aws", "approle", "token"], var.common.vault.auth_method)
    error_message = "common.vault.auth_method must be aws, approle or token."
  }
}

variable "name" {
  description = "Function name, e.g. aurora-snowflake-sync-dev-reconciler."
  type        = string
}

variable "zip_path" {
  description = "Path of the built function zip."
  type        = string
}

variable "fallback_ciphertexts" {
  description = "KMS ciphertexts (base64, encryption context LambdaFunctionName=<name>, made with this function's key) of the fallback credentials: the Aurora password (DB_PASSWORD_ENCRYPTED) and the Snowflake private key (SNOWFLAKE_PRIVATE_KEY_ENCRYPTED); null until made."
  type = object({
    db_password           = optional(string)
    snowflake_private_key = optional(string)
  })
  default = {}
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
