provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

# Snowflake authenticates with a key pair: SNOWFLAKE_PRIVATE_KEY (and SNOWFLAKE_PRIVATE_KEY_PASSPHRASE)
# come from the environment of whoever runs terraform (CI: its secret store), never from .tf files.
provider "snowflake" {
  organization_name        = var.snowflake_organization
  account_name             = var.snowflake_account_name
  user                     = var.snowflake_terraform_user
  role                     = var.snowflake_owner_role
  authenticator            = "SNOWFLAKE_JWT"
  preview_features_enabled = local.snowflake_preview_features
}

provider "snowflake" {
  alias                    = "accountadmin"
  organization_name        = var.snowflake_organization
  account_name             = var.snowflake_account_name
  user                     = var.snowflake_terraform_user
  role                     = "ACCOUNTADMIN"
  authenticator            = "SNOWFLAKE_JWT"
  preview_features_enabled = local.snowflake_preview_features
}
