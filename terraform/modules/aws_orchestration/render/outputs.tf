output "definition" {
  description = "The rendered ASL definition (JSON)."
  value       = local.definition

  precondition {
    condition     = var.execution_timeout_seconds >= local.worst_case_seconds
    error_message = "execution_timeout_seconds (${var.execution_timeout_seconds}) is below the worst case of an hourly run (${local.worst_case_seconds} s: retries, split, parts, wait, reconcile); raise it or lower sync.retry / split_parts."
  }
}

output "worst_case_seconds" {
  description = "Longest an hourly run can take within the definition's timeouts and retries."
  value       = local.worst_case_seconds
}

output "status_change_pattern" {
  description = "EventBridge pattern of this state machine's FAILED, TIMED_OUT, ABORTED and SUCCEEDED executions."
  value       = local.status_change_pattern
}
