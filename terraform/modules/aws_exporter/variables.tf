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
  description = "Function name, e.g. aurora-snowflake-sync-dev-exporter."
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
  default     = 900
}

variable "memory_mb" {
  description = "Function memory in MB."
  type        = number
  default     = 1024
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions."
  type        = number
  default     = 10
}

variable "table_prefixes" {
  description = "Export prefix per table (schema.table => \"schema.table/\"), from the tables module: the only data prefixes the exporter may write."
  type        = map(string)

  validation {
    condition     = length(var.table_prefixes) > 0 && alltrue([for p in values(var.table_prefixes) : length(p) > 1 && endswith(p, "/") && !startswith(p, "_")])
    error_message = "table_prefixes must be non-empty \"<schema.table>/\" prefixes (never the bucket root or a _-prefixed internal prefix)."
  }
}

variable "export_mode" {
  description = "aurora_s3 (Aurora writes to S3 itself) or copy_stream (through the Lambda)."
  type        = string
  default     = "aurora_s3"

  validation {
    condition     = contains(["aurora_s3", "copy_stream"], var.export_mode)
    error_message = "export_mode must be aurora_s3 or copy_stream."
  }
}

variable "export_part_mib" {
  description = "Multipart part size for copy_stream (EXPORT_PART_MIB); memory holds two parts."
  type        = number
  default     = 8
}

variable "max_range_hours" {
  description = "Widest manual range one invocation accepts (MAX_RANGE_HOURS)."
  type        = number
  default     = 168
}

variable "manifest_prefix" {
  description = "Prefix of the manifests (fixed by the exporter's layout: aurora_sync.layout.MANIFEST_ROOT)."
  type        = string
  default     = "_manifests/"
}

variable "pending_prefix" {
  description = "Prefix of the publish pins (fixed by the exporter's layout: aurora_sync.layout.PENDING_ROOT)."
  type        = string
  default     = "_pending/"
}

variable "refresh_prefix" {
  description = "Prefix of the full refreshes' plans and checkpoints (fixed by the exporter's layout: aurora_sync.layout.REFRESH_ROOT)."
  type        = string
  default     = "_refresh/"
}

variable "incoming_prefix" {
  description = "Where aurora_s3 exports land before publishing (EXPORT_TEMP_PREFIX)."
  type        = string
  default     = "_incoming/"
}

variable "lease_alert_after_minutes" {
  description = "A run that finds a table's export lease held longer than this pages P2 `export_lease` (LEASE_ALERT_AFTER_MINUTES). Must exceed the function timeout plus the lease's one-minute margin, or a working run pages."
  type        = number
  default     = 20

  validation {
    condition     = var.lease_alert_after_minutes >= 17 && var.lease_alert_after_minutes <= 1440
    error_message = "lease_alert_after_minutes must be 17..1440: no healthy run holds a lease longer than Lambda's 15-minute maximum plus the 1-minute margin."
  }
}

variable "refresh_rows_per_range" {
  description = "A full refresh is planned in key ranges of about this many rows, at most 1,000 ranges (REFRESH_ROWS_PER_RANGE; `aurora-sync resync --rows-per-range` overrides it per refresh). Size it so one range exports well inside refresh_statement_seconds."
  type        = number
  default     = 500000

  validation {
    condition     = var.refresh_rows_per_range >= 10 && floor(var.refresh_rows_per_range) == var.refresh_rows_per_range
    error_message = "refresh_rows_per_range must be a whole number of rows, at least 10."
  }
}

variable "refresh_statement_seconds" {
  description = "No Aurora statement of a full refresh (the key sample, each range's export) runs longer than this (REFRESH_STATEMENT_SECONDS); the Lambda's remaining time less 15 s bounds it too."
  type        = number
  default     = 600

  validation {
    condition     = var.refresh_statement_seconds >= 1 && var.refresh_statement_seconds <= 900
    error_message = "refresh_statement_seconds must be 1..900 (Lambda's maximum timeout)."
  }
}
