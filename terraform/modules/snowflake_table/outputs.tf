output "notification_channel" {
  description = "SQS queue of the pipe: the S3 bucket notification for this table's prefix targets it."
  value       = snowflake_pipe.load.notification_channel
}

output "names" {
  description = "Object names (unquoted): staging, final, stream, pipe, stage, task."
  value       = local.names
}
