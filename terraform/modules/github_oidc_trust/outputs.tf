output "assume_role_policy_json" {
  description = "Trust policy (JSON) for the role's assume_role_policy: GitHub's OIDC token, aud sts.amazonaws.com, sub exactly the repository's named environments."
  value       = jsonencode(local.assume_role_policy)
}

output "subjects" {
  description = "The `sub` claims the trust accepts (repo:<owner>/<name>:environment:<environment>)."
  value       = local.subjects
}
