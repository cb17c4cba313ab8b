output "json" {
  description = "The policy document (JSON) to attach inline to each <env>-plan AWS role, beside AWS-managed ReadOnlyAccess."
  value       = data.aws_iam_policy_document.plan_role.json
}
