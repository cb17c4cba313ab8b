output "function_name" {
  description = "Function name."
  value       = module.function.function_name
}

output "log_group_name" {
  description = "The function's log group."
  value       = module.function.log_group_name
}

output "function_arn" {
  description = "Function ARN."
  value       = module.function.function_arn
}

output "role_arn" {
  description = "Execution role ARN (e.g. for the Vault AWS auth role's bound_iam_principal_arn)."
  value       = module.function.role_arn
}

output "kms_key_arn" {
  description = "Key for the fallback credential ciphertexts (encryption context LambdaFunctionName=<function name>)."
  value       = module.function.kms_key_arn
}

output "timeout_seconds" {
  description = "Function timeout."
  value       = var.timeout_seconds
}

output "lease_table_name" {
  description = "DynamoDB table of the per-table export leases (EXPORT_LEASE_TABLE); runbook: export-lease-held."
  value       = aws_dynamodb_table.export_lease.name
}
