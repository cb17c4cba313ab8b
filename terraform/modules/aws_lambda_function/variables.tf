variable "name" {
  description = "Function name (also its role, key alias and log group)."
  type        = string
}

variable "description" {
  description = "Function description."
  type        = string
}

variable "handler" {
  description = "Handler path inside the zip, e.g. exporter.handler.handler."
  type        = string
}

variable "zip_path" {
  description = "Path of the function's built zip (code only; dependencies come from the layer)."
  type        = string
}

variable "layer_arns" {
  description = "Layer version ARNs (the dependency layer)."
  type        = list(string)
}

variable "runtime" {
  description = "Lambda runtime."
  type        = string
  default     = "python3.12"
}

variable "architecture" {
  description = "Instruction set; must match how the layer was built."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "timeout_seconds" {
  description = "Function timeout (max 900)."
  type        = number

  validation {
    condition     = var.timeout_seconds >= 30 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be between 30 and 900."
  }
}

variable "memory_mb" {
  description = "Function memory in MB."
  type        = number

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "memory_mb must be between 128 and 10240."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions (caps load on Aurora and Snowflake)."
  type        = number
}

variable "environment" {
  description = "Environment variables; null or empty values are left out."
  type        = map(string)
}

variable "policy_statements_json" {
  description = "The function's own permissions: an IAM policy document (JSON) with scoped, Sid-named statements."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets with a route to Aurora, Vault, Snowflake and the AWS APIs."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the function's network interfaces."
  type        = list(string)
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
}

variable "logs_kms_key_arn" {
  description = "KMS key encrypting the log group."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
