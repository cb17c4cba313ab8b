# The trust policy of a role that GitHub Actions assumes with its OIDC token (docs/deploy.md,
# "One-time setup"). Only a job of this repository running in one of the named GitHub environments
# gets credentials: `aud` must be sts.amazonaws.com (what aws-actions/configure-aws-credentials asks
# for) and `sub` must be exactly repo:<owner>/<repo>:environment:<environment>. StringEquals, never
# StringLike: no wildcard can widen the subject to other repositories, branches or pull requests.

locals {
  issuer   = "token.actions.githubusercontent.com"
  subjects = [for environment in var.environments : "repo:${var.repository}:environment:${environment}"]

  assume_role_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "GitHubActionsEnvironments"
        Effect    = "Allow"
        Action    = "sts:AssumeRoleWithWebIdentity"
        Principal = { Federated = var.oidc_provider_arn }
        Condition = {
          StringEquals = {
            "${local.issuer}:aud" = "sts.amazonaws.com"
            "${local.issuer}:sub" = local.subjects
          }
        }
      },
    ]
  }
}
