output "state_machine_arn" {
  description = "Sync state machine ARN (start it by hand with a time-range input, see docs/deploy.md)."
  value       = aws_sfn_state_machine.sync.arn
}

output "state_machine_name" {
  # From the name, not the resource: the reconciler's policy names it, and the state machine invokes
  # the reconciler.
  description = "Sync state machine name."
  value       = local.state_machine_name
}

output "definition" {
  description = "The rendered ASL definition."
  value       = module.render.definition
}

output "worst_case_seconds" {
  description = "Longest an hourly run can take within the definition's timeouts and retries (execution_timeout_seconds covers it)."
  value       = module.render.worst_case_seconds
}

output "schedule_group_name" {
  description = "Schedule group of the hourly schedules (dimension ScheduleGroup of their AWS/Scheduler metrics)."
  value       = aws_scheduler_schedule_group.pipeline.name
}

output "undelivered_queue_name" {
  description = "SQS queue of schedule invocations and status-change events that could not be delivered."
  value       = aws_sqs_queue.undelivered.name
}

output "status_change_rule_name" {
  description = "EventBridge rule sending the state machine's status changes to the reconciler."
  value       = aws_cloudwatch_event_rule.sync_status.name
}

output "sync_schedule_name" {
  description = "The hourly sync schedule (in schedule_group_name): what `aurora-sync pause`/`resume` disable and enable."
  value       = aws_scheduler_schedule.sync.name
}
