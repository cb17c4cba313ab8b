output "state_machine_arn" {
  description = "Sync state machine ARN (start it by hand with a time-range input, see docs/deploy.md)."
  value       = aws_sfn_state_machine.sync.arn
}

output "state_machine_name" {
  description = "Sync state machine name."
  value       = aws_sfn_state_machine.sync.name
}

output "definition" {
  description = "The rendered ASL definition."
  value       = local.definition
}
