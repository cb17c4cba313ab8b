output "bucket_name" {
  description = "Export bucket name (EXPORT_BUCKET)."
  value       = aws_s3_bucket.exports.id
}

output "bucket_arn" {
  description = "Export bucket ARN."
  value       = aws_s3_bucket.exports.arn
}

output "kms_key_arn" {
  description = "KMS key encrypting the bucket."
  value       = aws_kms_key.bucket.arn
}

output "snowflake_role_arn" {
  description = "ARN of the role the storage integration assumes."
  value       = aws_iam_role.snowflake.arn
}

output "aurora_export_policy_json" {
  description = "Policy for the Aurora cluster's IAM role (aws_s3 export into _incoming/)."
  value       = data.aws_iam_policy_document.aurora_export.json
}
