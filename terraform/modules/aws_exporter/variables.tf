variable "name" {
  description = "Function name, e.g. aurora-snowflake-sync-dev-exporter."
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

variable "tables_parameter_name" {
  description = "SSM parameter of the table index (TABLES_PARAMETER); each table's parameter is <it>/<schema.table>."
  type        = string
}

variable "export_bucket" {
  description = "Export bucket name (EXPORT_BUCKET)."
  type        = string
}

variable "table_prefixes" {
  description = "Export prefix per table (schema.table => \"schema.table/\"), from the tables module: the only data prefixes the exporter may write."
  type        = map(string)

  validation {
    condition     = length(var.table_prefixes) > 0 && alltrue([for p in values(var.table_prefixes) : length(p) > 1 && endswith(p, "/") && !startswith(p, "_")])
    error_message = "table_prefixes must be non-empty \"<schema.table>/\" prefixes (never the bucket root or a _-prefixed internal prefix)."
  }
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
  description = "Key of the alerts topic, alert-state table and log groups."
  type        = string
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

variable "overrides_path" {
  description = "SSM path of the per-table overrides (OVERRIDES_PATH)."
  type        = string
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
