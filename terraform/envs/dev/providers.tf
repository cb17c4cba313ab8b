provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

# Snowflake authenticates with a key pair: SNOWFLAKE_PRIVATE_KEY (and SNOWFLAKE_PRIVATE_KEY_PASSPHRASE)
# come from the environment of whoever runs terraform (CI: its secret store), never from .tf files.
# In plan mode both blocks are the read-only plan user and role, so the key a pull request's plan
# holds can change nothing; only an apply (terraform_mode = "apply") is the deploy user.
provider "snowflake" {
  organization_name        = var.snowflake_organization
  account_name             = var.snowflake_account_name
  user                     = var.terraform_mode == "plan" ? var.snowflake_plan_user : var.snowflake_terraform_user
  role                     = var.terraform_mode == "plan" ? var.snowflake_plan_role : var.snowflake_owner_role
  authenticator            = "SNOWFLAKE_JWT"
  preview_features_enabled = local.snowflake_preview_features
}

provider "snowflake" {
  alias                    = "accountadmin"
  organization_name        = var.snowflake_organization
  account_name             = var.snowflake_account_name
  user                     = var.terraform_mode == "plan" ? var.snowflake_plan_user : var.snowflake_terraform_user
  role                     = var.terraform_mode == "plan" ? var.snowflake_plan_role : "ACCOUNTADMIN"
  authenticator            = "SNOWFLAKE_JWT"
  preview_features_enabled = local.snowflake_preview_features
}
