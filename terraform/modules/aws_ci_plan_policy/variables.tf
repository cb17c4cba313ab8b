variable "export_bucket_arn" {
  description = "ARN of the export bucket, whose objects (customer rows) the plan role may not read."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.export_bucket_arn))
    error_message = "export_bucket_arn must be an S3 bucket ARN (arn:<partition>:s3:::<bucket>), without a key."
  }
}

variable "export_bucket_kms_key_arn" {
  description = "ARN of the KMS key encrypting the export bucket (SSE-KMS); the plan role may not decrypt with it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.export_bucket_kms_key_arn))
    error_message = "export_bucket_kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>), not an alias."
  }
}
