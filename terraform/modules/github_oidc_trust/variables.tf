variable "oidc_provider_arn" {
  description = "ARN of the account's IAM OIDC provider for https://token.actions.githubusercontent.com (arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\\.actions\\.githubusercontent\\.com$", var.oidc_provider_arn))
    error_message = "oidc_provider_arn must be the IAM OIDC provider of token.actions.githubusercontent.com."
  }
}

variable "repository" {
  description = "The GitHub repository whose workflows may assume the role, as owner/name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", var.repository))
    error_message = "repository must be owner/name, without wildcards."
  }
}

variable "environments" {
  description = "GitHub environments whose jobs may assume the role: the deploy role of an environment names that environment (dev, prod), its read-only plan role the plan environment (dev-plan, prod-plan)."
  type        = list(string)

  validation {
    condition     = length(var.environments) > 0 && alltrue([for e in var.environments : can(regex("^[A-Za-z0-9._-]+$", e))])
    error_message = "environments must name at least one GitHub environment, without wildcards."
  }
}
