variable "name" {
  description = "Name prefix of every resource (e.g. aurora-snowflake-sync-dev)."
  type        = string
}

variable "bucket_name" {
  description = "Globally unique name of the export bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (lower case, 3-63 characters)."
  }
}

variable "table_prefixes" {
  description = "Export prefix per table (schema.table => \"schema.table/\"), from the tables module."
  type        = map(string)
}

variable "pipe_notification_channels" {
  description = "SQS ARN of each table's Snowpipe (schema.table => notification_channel); empty until the pipes exist."
  type        = map(string)
  default     = {}
}

variable "export_retention_days" {
  description = "Days after which exported data files expire (Snowflake has loaded them long before)."
  type        = number
  default     = 14

  validation {
    condition     = var.export_retention_days >= 2
    error_message = "export_retention_days must be at least 2 (the reconciler looks back up to a day)."
  }
}

variable "manifest_retention_days" {
  description = "Days after which manifests expire; must cover the reconciler's look-back."
  type        = number
  default     = 30

  validation {
    condition     = var.manifest_retention_days >= 2
    error_message = "manifest_retention_days must be at least 2."
  }
}

variable "refresh_retention_days" {
  description = "Days after which an object under refresh_prefix (a full refresh's plan, checkpoints, end marker) expires; a refresh untouched that long cannot be resumed and is planned anew."
  type        = number
  default     = 30

  validation {
    condition     = var.refresh_retention_days == floor(var.refresh_retention_days) && var.refresh_retention_days >= 7 && var.refresh_retention_days <= 365
    error_message = "refresh_retention_days must be a whole number of days, 7..365 (a refresh stopped on a Friday must still resume after a long weekend; its plan is re-written on every resume)."
  }
}

variable "noncurrent_version_days" {
  description = "Days a replaced or deleted object version is kept (versioning protects against overwrites)."
  type        = number
  default     = 7
}

variable "incoming_prefix" {
  description = "Prefix where aurora_s3 exports land before they are published (EXPORT_TEMP_PREFIX)."
  type        = string
  default     = "_incoming/"
}

variable "manifest_prefix" {
  description = "Prefix of the manifests (fixed by the exporter's layout)."
  type        = string
  default     = "_manifests/"
}

variable "refresh_prefix" {
  description = "Prefix of the full refreshes' plans and checkpoints (fixed by the exporter's layout: aurora_sync.layout.REFRESH_ROOT)."
  type        = string
  default     = "_refresh/"
}

variable "pending_prefix" {
  description = "Prefix of the exporter's publish pins (fixed by its layout); never expired, only their old versions."
  type        = string
  default     = "_pending/"
}

variable "snowflake_role_name" {
  description = "Name of the IAM role the Snowflake storage integration assumes (its ARN is given to the integration before the role exists)."
  type        = string
}

variable "snowflake_iam_user_arn" {
  description = "The storage integration's IAM user (describe_output[0].iam_user_arn)."
  type        = string
}

variable "snowflake_external_id" {
  description = "The storage integration's external id (describe_output[0].external_id)."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
