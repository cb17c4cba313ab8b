output "function_name" {
  description = "Function name."
  value       = aws_lambda_function.function.function_name
}

output "function_arn" {
  description = "Function ARN."
  value       = aws_lambda_function.function.arn
}

output "role_arn" {
  description = "Execution role ARN."
  value       = aws_iam_role.function.arn
}

output "kms_key_arn" {
  description = "Key for the fallback credential ciphertexts (context LambdaFunctionName=<function name>)."
  value       = aws_kms_key.function.arn
}

output "log_group_name" {
  description = "Log group of the function."
  value       = aws_cloudwatch_log_group.function.name
}
