# --- Environment --------------------------------------------------------------------------------

variable "environment" {
  description = "Environment name (dev, prod): part of every resource name and tag."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be 2-16 lower-case letters, digits or dashes."
  }
}

variable "tags" {
  description = "Extra tags merged into every AWS resource's tags (project, environment and managed_by are always set)."
  type        = map(string)
  default     = {}
}

# --- Table list and bucket ----------------------------------------------------------------------

variable "db_ca_bundle_file" {
  description = "PEM file, relative to the environment root (beside its tables.json), with the RDS CA bundle of the cluster's region: curl -fsSo rds-ca-bundle.pem https://truststore.pki.rds.amazonaws.com/<region>/<region>-bundle.pem (docs/deploy.md). The Lambdas verify Aurora's certificate and host name against it."
  type        = string
  default     = "rds-ca-bundle.pem"
}

variable "export_bucket_name" {
  description = "Globally unique name of the export bucket (EXPORT_BUCKET)."
  type        = string
}

variable "export_retention_days" {
  description = "Days before exported CSV files expire."
  type        = number
  default     = 14
}

variable "manifest_retention_days" {
  description = "Days before manifests expire (longer than the reconciler's look-back)."
  type        = number
  default     = 30
}

variable "refresh_retention_days" {
  description = "Days before a full refresh's objects under _refresh/ expire (a refresh untouched that long is planned anew)."
  type        = number
  default     = 30
}

# --- Lambdas ------------------------------------------------------------------------------------

variable "exporter_zip_path" {
  description = "Built exporter zip; null = the path in layers/target.json (build/exporter.zip, from `python -m layers.build`)."
  type        = string
  default     = null
}

variable "reconciler_zip_path" {
  description = "Built reconciler zip; null = the path in layers/target.json."
  type        = string
  default     = null
}

variable "layer_zip_path" {
  description = "Built dependency layer zip; null = the path in layers/target.json (build/layer.zip)."
  type        = string
  default     = null
}

variable "lambda_subnet_ids" {
  description = "Private subnets of the Lambdas: routes to Aurora, Vault, Snowflake and the AWS APIs."
  type        = list(string)
}

variable "lambda_security_group_ids" {
  description = "Security groups of the Lambdas (egress to Aurora 5432, Vault, HTTPS)."
  type        = list(string)
}

variable "network_endpoints" {
  description = "Create VPC endpoints for the AWS APIs: S3 and DynamoDB gateway routes in route_table_ids (the Lambdas' and, for aurora_s3, Aurora's route tables), interface endpoints with private DNS in lambda_subnet_ids open on 443 to lambda_security_group_ids. null = the VPC already reaches them (a NAT gateway or existing endpoints). gateway_services / interface_services: null = the module's defaults (docs/deploy.md, Network)."
  type = object({
    vpc_id             = string
    route_table_ids    = list(string)
    gateway_services   = optional(list(string))
    interface_services = optional(list(string))
  })
  default = null
}

variable "exporter" {
  description = "Exporter sizing: timeout (max 900 s; chunks must fit in it), memory, reserved concurrency, export mode, widest manual range, minutes a table's export lease may be held before it pages, a full refresh's rows per key range and statement bound."
  type = object({
    timeout_seconds           = optional(number, 900)
    memory_mb                 = optional(number, 1024)
    reserved_concurrency      = optional(number, 10)
    export_mode               = optional(string, "aurora_s3")
    max_range_hours           = optional(number, 168)
    lease_alert_after_minutes = optional(number, 20)
    refresh_rows_per_range    = optional(number, 500000)
    refresh_statement_seconds = optional(number, 600)
  })
  default = {}
}

variable "reconciler" {
  description = "Reconciler sizing and look-back: timeout, memory, reserved concurrency, hours of manifests checked, grace before a missing load alerts."
  type = object({
    timeout_seconds      = optional(number, 300)
    memory_mb            = optional(number, 512)
    reserved_concurrency = optional(number, 2)
    lookback_hours       = optional(number, 24)
    load_grace_minutes   = optional(number, 30)
  })
  default = {}
}

variable "database" {
  description = "Aurora: writer endpoint (DB_HOST), port, database (DB_NAME), and the user of the fallback credentials (DB_USER) used only when Vault is unreachable."
  type = object({
    host          = string
    port          = optional(number, 5432)
    name          = string
    fallback_user = optional(string)
  })
}

variable "fallback_ciphertexts" {
  description = "KMS ciphertexts (base64) of the fallback credentials, per function (exporter, reconciler): each made with that function's key (output fallback_kms_key_arns) and encryption context LambdaFunctionName=<function name>. Empty until the first apply has created the keys."
  type = map(object({
    db_password           = optional(string)
    snowflake_private_key = optional(string)
  }))
  default = {}

  validation {
    condition     = length(setsubtract(keys(var.fallback_ciphertexts), ["exporter", "reconciler"])) == 0
    error_message = "fallback_ciphertexts keys must be exporter and/or reconciler."
  }
}

variable "vault" {
  description = "Vault: address (VAULT_ADDR), auth method (aws) and role (VAULT_ROLE), KV v2 paths of the Aurora and Snowflake secrets."
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
}

# --- Orchestration and alerting -----------------------------------------------------------------

variable "sync" {
  description = "State machine tuning: chunks at once, parts a timed-out chunk is split into, wait for Snowpipe before reconciling, transient-error backoff."
  type = object({
    max_concurrency        = optional(number, 4)
    split_parts            = optional(number, 4)
    ingestion_wait_seconds = optional(number, 300)
    retry = optional(object({
      interval_seconds = number
      max_attempts     = number
      backoff_rate     = number
    }), { interval_seconds = 30, max_attempts = 3, backoff_rate = 2 })
  })
  default = {}
}

variable "schedules_enabled" {
  description = "Run the hourly sync and reconcile schedules (false pauses the pipeline)."
  type        = bool
  default     = true
}

variable "runbook_url" {
  description = "docs/runbook.md as on-call opens it (https, no fragment): every alarm and every alert (RUNBOOK_URL of both Lambdas) links `<it>#<section>`."
  type        = string

  validation {
    condition     = can(regex("^https://[^/?#\\s]+(/[^?#\\s]*)?$", var.runbook_url))
    error_message = "runbook_url must be an https URL without query or fragment: each link appends #<section>."
  }
}

variable "pager_subscription" {
  description = "Pager endpoint (P1/P2 alerts and alarms), e.g. { protocol = \"https\", endpoint = \"<PagerDuty URL>\" }; null for none."
  type = object({
    protocol = string
    endpoint = string
  })
  default = null
}

variable "chat_subscription" {
  description = "Chat endpoint (every alert and alarm); null for none."
  type = object({
    protocol = string
    endpoint = string
  })
  default = null
}

# --- Snowflake ----------------------------------------------------------------------------------

variable "snowflake_plan_role" {
  description = "Role of the read-only user every CI plan connects as (the env root's provider blocks in plan mode): may SHOW and DESCRIBE every object Terraform manages and read no rows (grants: modules/snowflake_account/plan_role.tf)."
  type        = string
}

variable "snowflake_owner_role" {
  description = "Role that creates and owns the schema objects (runs the tasks): the env root's default Snowflake provider in apply mode."
  type        = string
}

variable "snowflake_connection" {
  description = "What the Lambdas connect to: account identifier (SNOWFLAKE_ACCOUNT, orgname-account), database, their user (granted the service role; its key lives in Vault), and the user of the fallback credentials (SNOWFLAKE_USER)."
  type = object({
    account       = string
    database      = string
    service_user  = optional(string)
    fallback_user = optional(string)
  })
}

variable "snowflake_warehouse" {
  description = "Task warehouse size (its name, SYNC_WH_<ENV>, comes from modules/names), how often each MERGE task checks its stream, and its monthly credit quota: Snowflake e-mails (P4, never the pager) at 80 % and 100 %, to account administrators with notifications on and to notify_users."
  type = object({
    size          = optional(string, "XSMALL")
    task_schedule = optional(string, "5 MINUTE")
    credit_quota  = optional(number, 200)
    notify_users  = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = var.snowflake_warehouse.credit_quota > 0
    error_message = "snowflake_warehouse.credit_quota must be a positive number of credits per month."
  }
}

variable "staging_retention_days" {
  description = "Days each MERGE task keeps staged rows before deleting them (7..365; FINAL never needs them, on-call uses them to diagnose a row-count mismatch)."
  type        = number
  default     = 14
}

variable "snowflake_task_error_notifications" {
  description = "Publish failed task runs and pipe loads to the alerts topic via a Snowflake notification integration (AWS-hosted accounts only)."
  type        = bool
  default     = true
}
