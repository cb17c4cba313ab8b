output "alert_topic_arn" {
  description = "The alerts topic (ALERT_TOPIC_ARN): attributes severity, check, table."
  value       = aws_sns_topic.alerts.arn
}

output "alarm_topic_arn" {
  description = "Topic of the CloudWatch alarms."
  value       = aws_sns_topic.alarms.arn
}

output "alert_state_table_name" {
  description = "DynamoDB table of open alerts (ALERT_STATE_TABLE)."
  value       = aws_dynamodb_table.alert_state.name
}

output "alert_state_table_arn" {
  description = "ARN of the alert-state table."
  value       = aws_dynamodb_table.alert_state.arn
}

output "kms_key_arn" {
  description = "Key of the topics, the alert-state table and the log groups."
  value       = aws_kms_key.ops.arn
}

output "pager_filter_policy" {
  description = "Filter policy of the pager subscription on the alerts topic."
  value       = local.pager_filter
}
